-- A minimal PostfixAdmin-compatible schema for tests: the four tables
-- osms reads and writes (domain, mailbox, alias, alias_domain), with
-- PostfixAdmin's column names and types close to its PostgreSQL ones.
-- Written for osms's tests from the column list; a real PostfixAdmin
-- database has more tables and columns, which etc/postfixadmin.conf
-- leaves alone. Unlike sql/schema.sql there are no checks on the
-- values, so tests can store what a hostile database would.

BEGIN;

CREATE TABLE domain (
	domain		varchar(255) PRIMARY KEY,
	description	varchar(255) NOT NULL,
	active		boolean NOT NULL DEFAULT true,
	created		timestamptz NOT NULL DEFAULT now(),
	modified	timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE mailbox (
	username	varchar(255) PRIMARY KEY,
	password	varchar(255) NOT NULL,
	name		varchar(255) NOT NULL,
	maildir		varchar(255) NOT NULL,
	quota		bigint NOT NULL DEFAULT 0,
	local_part	varchar(255) NOT NULL,
	domain		varchar(255) NOT NULL REFERENCES domain (domain),
	created		timestamptz NOT NULL DEFAULT now(),
	modified	timestamptz NOT NULL DEFAULT now(),
	active		boolean NOT NULL DEFAULT true
);
CREATE INDEX mailbox_domain_idx ON mailbox (domain);

-- goto: a comma list; address '@domain' is a catch-all.
CREATE TABLE alias (
	address		varchar(255) PRIMARY KEY,
	goto		text NOT NULL,
	domain		varchar(255) NOT NULL REFERENCES domain (domain),
	created		timestamptz NOT NULL DEFAULT now(),
	modified	timestamptz NOT NULL DEFAULT now(),
	active		boolean NOT NULL DEFAULT true
);
CREATE INDEX alias_domain_idx ON alias (domain);

CREATE TABLE alias_domain (
	alias_domain	varchar(255) PRIMARY KEY REFERENCES domain (domain),
	target_domain	varchar(255) NOT NULL REFERENCES domain (domain),
	created		timestamptz NOT NULL DEFAULT now(),
	modified	timestamptz NOT NULL DEFAULT now(),
	active		boolean NOT NULL DEFAULT true
);
CREATE INDEX alias_domain_target_idx ON alias_domain (target_domain);

COMMIT;
