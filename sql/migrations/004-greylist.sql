-- 004: checkd's greylist (RFC 6647) in the directory's database.
--
-- A row per triplet (client network, sender, recipient) and per client
-- network, keyed by checkd's hash of it: the table holds no address.
-- greylist_check() makes a triplet's decision in one statement, so that
-- concurrent attempts cannot both pass too early; it returns the
-- seconds still to wait, 0 when the attempt passes. Rows that expired
-- go now and then, with the calls.

BEGIN;

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
    VALUES (4, 'greylist: checkd''s greylist');

COMMIT;
