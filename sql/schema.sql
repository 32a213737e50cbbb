-- osms directory schema for PostgreSQL 13 or later.
--
-- This file is the result of applying sql/migrations/ in order. Load it
-- into an empty database:
--
--	psql -v ON_ERROR_STOP=1 -d osms -f sql/schema.sql
--
-- Addresses and domain names are stored in lower case (the checks below
-- refuse anything else), so lookups compare with "=" and use the keys.
-- authd reads these tables with the default queries of table_pg.c; a
-- row with active = false is invisible to mail and logins.

BEGIN;

CREATE TABLE schema_version (
	version		integer PRIMARY KEY,
	description	text NOT NULL,
	applied		timestamptz NOT NULL DEFAULT now()
);

-- A local domain, or (alias_target set) another name for one: mail to
-- user@alias goes to user@target.
CREATE TABLE domains (
	name		text PRIMARY KEY,
	alias_target	text NULL REFERENCES domains (name),
	active		boolean NOT NULL DEFAULT true,
	created		timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT domains_name_lower CHECK (name = lower(name)),
	CONSTRAINT domains_name_valid CHECK (name <> ''
	    AND position('@' IN name) = 0),
	CONSTRAINT domains_alias_not_self CHECK (alias_target <> name)
);

-- A mailbox: maildir is relative to the mail store, so it may neither
-- start with '/' nor hold "..". quota_bytes and quota_messages: 0 is no
-- limit. smtp, imap, pop3: the services the user may log in to.
CREATE TABLE mailboxes (
	address		text PRIMARY KEY,
	domain		text NOT NULL REFERENCES domains (name)
			    ON DELETE CASCADE,
	password	text NOT NULL,
	scram		text,
	maildir		text NOT NULL,
	quota_bytes	bigint NOT NULL DEFAULT 0,
	quota_messages	bigint NOT NULL DEFAULT 0,
	smtp		boolean NOT NULL DEFAULT true,
	imap		boolean NOT NULL DEFAULT true,
	pop3		boolean NOT NULL DEFAULT true,
	active		boolean NOT NULL DEFAULT true,
	created		timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT mailboxes_address_lower CHECK (address = lower(address)),
	CONSTRAINT mailboxes_address_in_domain
	    CHECK (right(address, length(domain) + 1) = '@' || domain
	    AND length(address) > length(domain) + 1),
	CONSTRAINT mailboxes_maildir_relative CHECK (maildir <> ''
	    AND left(maildir, 1) <> '/' AND strpos(maildir, '..') = 0),
	CONSTRAINT mailboxes_quota_positive CHECK (quota_bytes >= 0
	    AND quota_messages >= 0)
);
CREATE INDEX mailboxes_domain ON mailboxes (domain);

-- Aliases: one row per target; address '@domain' is the domain's
-- catch-all. domain is derived from the address, so deleting a domain
-- deletes its aliases.
CREATE TABLE aliases (
	address		text NOT NULL,
	target		text NOT NULL,
	domain		text GENERATED ALWAYS AS
			    (substring(address FROM '@([^@]*)$')) STORED
			    REFERENCES domains (name) ON DELETE CASCADE,
	active		boolean NOT NULL DEFAULT true,
	created		timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (address, target),
	CONSTRAINT aliases_address_lower CHECK (address = lower(address)),
	CONSTRAINT aliases_address_valid CHECK (strpos(address, '@') > 0),
	CONSTRAINT aliases_target_valid CHECK (target <> '')
);
CREATE INDEX aliases_domain ON aliases (domain);

-- cryptod's audit trail (002): every decision of the gateway is a row,
-- and rows are only ever added; updates, deletes and truncation are
-- refused.
CREATE TABLE crypt_audit (
	id		bigserial PRIMARY KEY,
	at		timestamptz NOT NULL,	-- cryptod's clock
	message		text NOT NULL,		-- the queue id, or '-'
	decision	text NOT NULL,
	recorded	timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX crypt_audit_at ON crypt_audit (at);

CREATE FUNCTION crypt_audit_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'crypt_audit is append-only';
END;
$$;
CREATE TRIGGER crypt_audit_no_change BEFORE UPDATE OR DELETE
    ON crypt_audit FOR EACH ROW
    EXECUTE FUNCTION crypt_audit_append_only();
CREATE TRIGGER crypt_audit_no_truncate BEFORE TRUNCATE
    ON crypt_audit FOR EACH STATEMENT
    EXECUTE FUNCTION crypt_audit_append_only();

CREATE SEQUENCE crypt_store_version;
CREATE TABLE crypt_store (
	name		text PRIMARY KEY CHECK (name <> '' AND name !~ '\.\.'
			    AND name !~ '^/'),
	data		bytea,			-- NULL: removed
	version		bigint NOT NULL DEFAULT nextval('crypt_store_version'),
	changed		timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX crypt_store_by_version ON crypt_store (version);

-- Every change is a new version, whoever makes it.
CREATE FUNCTION crypt_store_versioned() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
	NEW.version := nextval('crypt_store_version');
	NEW.changed := now();
	RETURN NEW;
END;
$$;
CREATE TRIGGER crypt_store_version_bump BEFORE UPDATE ON crypt_store
    FOR EACH ROW EXECUTE FUNCTION crypt_store_versioned();

CREATE TABLE crypt_policy (
	name		text PRIMARY KEY CHECK (name = lower(name) AND name <> ''),
	policy		text NOT NULL,
	created		timestamptz NOT NULL DEFAULT now()
);

-- checkd's greylist (RFC 6647): a row per triplet (client network,
-- sender, recipient) and per client network, keyed by checkd's hash of
-- it (no addresses); greylist_check() decides in one statement.
CREATE TABLE greylist (
	key		text PRIMARY KEY CHECK (key ~ '^[CT][0-9a-f]{32}$'),
	first_seen	timestamptz NOT NULL,
	last_seen	timestamptz NOT NULL,
	passes		integer NOT NULL DEFAULT 0 CHECK (passes >= 0)
);
CREATE INDEX greylist_by_last_seen ON greylist (last_seen);

-- tkey: the triplet's key, ckey: its client network's; delay: seconds a
-- first attempt waits; retry: seconds a first attempt stays valid;
-- lifetime: seconds a passed triplet stays; awl: passes that whitelist
-- a network.
CREATE FUNCTION greylist_check(tkey text, ckey text, delay integer,
    retry integer, lifetime integer, awl integer) RETURNS integer
    LANGUAGE plpgsql AS $$
DECLARE
	t	greylist%ROWTYPE;
	now_	timestamptz := now();
	life	interval := make_interval(secs => lifetime);
BEGIN
	IF random() < 0.001 THEN
		DELETE FROM greylist WHERE last_seen < now_ - life OR
		    (passes = 0 AND first_seen < now_ -
		    make_interval(secs => retry));
	END IF;
	-- A whitelisted network passes at once, and stays while it comes.
	UPDATE greylist SET last_seen = now_ WHERE key = ckey AND
	    passes >= awl AND last_seen >= now_ - life;
	IF FOUND THEN
		RETURN 0;
	END IF;
	INSERT INTO greylist VALUES (tkey, now_, now_, 0)
	    ON CONFLICT (key) DO NOTHING;
	IF FOUND THEN
		RETURN greatest(delay, 1);	-- a first attempt
	END IF;
	SELECT * INTO t FROM greylist WHERE key = tkey FOR UPDATE;
	IF (t.passes = 0 AND t.first_seen < now_ - make_interval(secs =>
	    retry)) OR (t.passes > 0 AND t.last_seen < now_ - life) THEN
		UPDATE greylist SET first_seen = now_, last_seen = now_,
		    passes = 0 WHERE key = tkey;
		RETURN greatest(delay, 1);	-- expired: a first attempt
	END IF;
	IF t.passes = 0 AND now_ - t.first_seen < make_interval(secs =>
	    delay) THEN
		RETURN greatest(1, delay - floor(extract(epoch FROM
		    now_ - t.first_seen))::integer);
	END IF;
	IF t.passes = 0 THEN
		-- A retry that waited: its network counts toward trust.
		INSERT INTO greylist VALUES (ckey, now_, now_, 1)
		    ON CONFLICT (key) DO UPDATE SET passes = CASE WHEN
		    greylist.last_seen < now_ - life THEN 1 ELSE
		    greylist.passes + 1 END, last_seen = now_;
	END IF;
	UPDATE greylist SET passes = passes + 1, last_seen = now_
	    WHERE key = tkey;
	RETURN 0;
END
$$;

INSERT INTO schema_version (version, description)
    VALUES (1, 'initial: domains, mailboxes, aliases');
INSERT INTO schema_version (version, description)
    VALUES (2, 'crypt_audit: the gateway''s append-only audit trail');
INSERT INTO schema_version (version, description)
    VALUES (3, 'crypt_store, crypt_policy: the gateway''s certificate store'
    ' and per-user policy');
INSERT INTO schema_version (version, description)
    VALUES (4, 'greylist: checkd''s greylist');

COMMIT;
