-- 003: the gateway's certificate store and its per-user and per-domain
-- policy in the directory.
--
-- crypt_store holds the files of cryptod's certificate store by name
-- (alice@example.test.pem, example.test.key, trust.pem, crl.pem,
-- harvested/bob@partner.example.pem ...); each cryptod keeps a copy in
-- its store directory and asks authd for the rows changed since the
-- last version it has. A removed file stays as a row without data, so
-- that every copy learns of it. Private keys are as cryptod writes them:
-- encrypted with its master key when it has one.
--
-- crypt_policy holds a user's or a domain's own gateway actions (the
-- words of a rule's actions: "encrypt mandatory sign always"), read by
-- cryptod's policy-table.

BEGIN;

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

INSERT INTO schema_version (version, description)
    VALUES (3, 'crypt_store, crypt_policy: the gateway''s certificate store'
    ' and per-user policy');

COMMIT;
