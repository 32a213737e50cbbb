-- 002: cryptod's audit trail. Every decision of the gateway (what left
-- encrypted and with which certificate, what was refused and by which
-- rule, what came in decrypted or signed) is a row, and rows are only
-- ever added: updates, deletes and truncation are refused here, so an
-- auditor can rely on what the table says. authd adds the rows; grant
-- it INSERT only (and SELECT for osmsctl audit).

BEGIN;

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

INSERT INTO schema_version (version, description)
    VALUES (2, 'crypt_audit: the gateway''s append-only audit trail');

COMMIT;
