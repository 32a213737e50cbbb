#!/usr/bin/env python3
"""The gateway in PostgreSQL. The audit trail: with a directory in
PostgreSQL, every decision cryptod records in audit.log is a row of
crypt_audit as well, written by authd (which holds the database password,
cryptod none); osmsctl audit reads it from there; the rows cannot be
changed; with the database down the trail goes on in audit.log. The
policy: a user's entry in crypt_policy, and a rule on a table the
database lists. The certificate store: crypt_store's rows become files
of the store, and files made here (by osmsctl, by cryptod) become rows,
both ways, removals too."""
import os
import re
import smtplib
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from osmstest import *  # noqa: E402,F401,F403
from mailtest import *  # noqa: E402,F401,F403

t = Tests(__file__)


def plain(port, sender, mid):
    """A message that is not signed: the policy refuses it at DATA."""
    c = smtplib.SMTP("127.0.0.1", port, timeout=30)
    try:
        c.ehlo("remote.test")
        c.mail(sender)
        c.rcpt("alice@example.test")
        return c.data(make_message(sender, "alice@example.test", mid))
    finally:
        c.close()


def psql_error(pg, sql):
    try:
        pg.psql(sql)
    except Exception as e:  # noqa: BLE001
        return str(e) + getattr(e, "stderr", "")
    return ""


def audit_lines(path):
    try:
        with open(path) as f:
            return f.read().splitlines()
    except OSError:
        return []


with Pg() as pg:
    run([os.path.join(pg.bin, "psql"), "-X", "-h", pg.sockdir, "-U", "osms",
         "-d", "osms", "-v", "ON_ERROR_STOP=1", "-q", "-f",
         os.path.join(ROOT, "sql", "schema.sql")])
    with Osms(extra_conf='table dir postgres "%s"\ndomains <dir>\n'
              % pg.conninfo) as o:
        mx = o.ports["smtp"]
        store = o.path("certs")
        o.write_conf(o.conf_text() + 'cryptod {\n\tcertificates "%s"\n'
                     '\trule inbound from remote.test require-signed\n}\n'
                     % store)
        t.require(o.ctl("reload").returncode == 0, "reload")
        time.sleep(0.5)
        log = os.path.join(store, "audit.log")

        with t.case("a decision is a row of crypt_audit, as in audit.log"):
            code, text = plain(mx, "x@remote.test", message_id())
            t.expect(code == 550 and b"must carry a valid S/MIME or "
                     b"OpenPGP signature" in text, "%d %r" % (code, text))
            line = wait_until(lambda: [l for l in audit_lines(log)
                                       if "from=<x@remote.test>" in l])
            t.require(line, "not in audit.log")
            rows = wait_until(lambda: pg.psql(
                "SELECT to_char(at AT TIME ZONE 'UTC', "
                "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') || ' ' || message || ' ' "
                "|| decision FROM crypt_audit WHERE decision LIKE "
                "'%x@remote.test%'"))
            t.expect(rows.splitlines() == line, "database %r, file %r"
                     % (rows, line))
            t.expect(re.match(r"^\S+Z [0-9a-f]{16} from=<x@remote\.test> "
                              r"refused: require-signed rule=\d+: not "
                              r"signed$", line[0]), line[0])

        with t.case("osmsctl audit reads the trail from the database"):
            p = o.ctl("audit", "X@REMOTE.test")
            t.expect(p.returncode == 0 and p.stdout.splitlines() == line,
                     p.stdout + p.stderr)
            # Proof that it came from the database: a row only it has.
            pg.psql("INSERT INTO crypt_audit (at, message, decision) VALUES"
                    " ('2026-01-02 03:04:05+00', '-', 'only in the "
                    "database')")
            p = o.ctl("audit", "only in the")
            t.expect(p.stdout == "2026-01-02T03:04:05Z - only in the "
                     "database\n", p.stdout + p.stderr)
            p = o.ctl("audit")
            t.expect(len(p.stdout.splitlines()) == 2, p.stdout)

        with t.case("the rows cannot be changed or removed"):
            for sql in ("UPDATE crypt_audit SET decision = 'nothing'",
                        "DELETE FROM crypt_audit",
                        "TRUNCATE crypt_audit"):
                err = psql_error(pg, sql)
                t.expect("append-only" in err, "%s: %r" % (sql, err))
            t.expect(pg.psql("SELECT count(*) FROM crypt_audit") == "2",
                     "the rows are all there")

        with t.case("the database down: the trail goes on in audit.log, "
                    "authd says what is missing; rows again once it is "
                    "back"):
            pg.stop()
            mid = message_id()
            code, _ = plain(mx, "y@remote.test", mid)
            t.expect(code == 550, "refused while the database is down: %d"
                     % code)
            t.expect(wait_until(lambda: [l for l in audit_lines(log)
                                         if "from=<y@remote.test>" in l]),
                     "in audit.log")
            t.expect(wait_until(lambda: re.search(
                r"authd\[\d+\]: authd: audit: \S+ [0-9a-f]{16}: not in "
                r"table dir", o.log())), "logged")
            # More rows lost within seconds: counted, not a line each.
            for who in ("y2", "y3"):
                plain(mx, "%s@remote.test" % who, message_id())
            t.expect(wait_until(lambda: [l for l in audit_lines(log)
                                         if "from=<y3@remote.test>" in l]),
                     "in audit.log")
            time.sleep(0.5)
            t.expect(len(re.findall(r"authd: audit: .* not in table dir",
                                    o.log())) == 1, "one line, not three")
            pg.start()
            # authd leaves a failed database alone for a second: rows of
            # that second stay in audit.log only; the next ones go in.
            row = None
            for i in range(20):
                plain(mx, "z%d@remote.test" % i, message_id())
                row = wait_until(lambda: pg.psql(
                    "SELECT count(*) FROM crypt_audit WHERE decision LIKE "
                    "'%<z%@remote.test>%'") != "0", 1)
                if row:
                    break
            t.expect(row, "a row again")

    # -- the policy and the certificate store in the database
    pg.psql("CREATE TABLE partners (name text PRIMARY KEY);"
            "INSERT INTO partners VALUES ('listed.test');"
            "INSERT INTO crypt_policy VALUES ('alice@example.test', "
            "'require-signed')")
    with Osms(extra_conf='table dir postgres "%s"\ndomains <dir>\n'
              'table partners postgres "%s" {\n\tquery domain "SELECT 1 '
              'FROM partners WHERE name = $1"\n}\n'
              % (pg.conninfo, pg.conninfo)) as o:
        store = o.path("certs")
        o.write_conf(o.conf_text() + 'cryptod {\n\tcertificates "%s"\n'
                     '\tpolicy-table <dir>\n'
                     '\trule outbound to <partners> encrypt mandatory\n}\n'
                     % store)
        t.require(o.ctl("reload").returncode == 0, "reload")
        time.sleep(0.5)

        with t.case("a user's entry in crypt_policy: alice takes signed "
                    "mail only"):
            code, text = plain(o.ports["smtp"], "x@elsewhere.test",
                               message_id())
            t.expect(code == 550 and b"must carry a valid S/MIME or "
                     b"OpenPGP signature (policy: the defaults, the "
                     b"directory's entry for alice@example.test)" in text,
                     "%d %r" % (code, text))

        with t.case("a rule on a table in the database"):
            try:
                submit(o.ports["submission"], ["x@listed.test"])
                e = None
            except smtplib.SMTPDataError as err:
                e = err
            t.expect(e is not None and e.smtp_code == 550 and
                     b"<x@listed.test>: no usable certificate" in
                     e.smtp_error, repr(e))
            p = o.ctl("policy", "test", "alice@example.test",
                      "x@listed.test")
            t.expect("table:       <partners> lists listed.test" in
                     p.stdout, p.stdout + p.stderr)

        def row(name):
            return pg.psql("SELECT coalesce(encode(data, 'hex'), 'NULL') "
                           "FROM crypt_store WHERE name = '%s'" % name)

        def content(name):
            try:
                with open(os.path.join(store, name), "rb") as f:
                    return f.read().hex()
            except OSError:
                return None

        with t.case("files made here become rows: the internal CA"):
            t.require(o.ctl("cert", "ca").returncode == 0, "cert ca")
            for name in ("ca.pem", "ca.key"):
                t.expect(wait_until(lambda: row(name) == content(name),
                                    20), "%s: row %r" % (name, row(name)))

        with t.case("rows become files, and a removed row removes the "
                    "file"):
            wd = o.path("pki")
            os.mkdir(wd)
            with open(os.path.join(wd, "ext"), "w") as f:
                f.write("basicConstraints=critical,CA:FALSE\n"
                        "keyUsage=critical,digitalSignature,"
                        "keyEncipherment\n"
                        "extendedKeyUsage=emailProtection\n"
                        "subjectAltName=email:carol@partner.test\n")
            run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes",
                 "-keyout", os.path.join(wd, "carol.key"), "-out",
                 os.path.join(wd, "carol.csr"), "-subj", "/CN=carol"])
            run(["openssl", "x509", "-req", "-in",
                 os.path.join(wd, "carol.csr"), "-CA",
                 os.path.join(store, "ca.pem"), "-CAkey",
                 os.path.join(store, "ca.key"), "-CAcreateserial", "-days",
                 "30", "-extfile", os.path.join(wd, "ext"), "-out",
                 os.path.join(wd, "carol.pem")])
            with open(os.path.join(wd, "carol.pem"), "rb") as f:
                pem = f.read()
            pg.psql("INSERT INTO crypt_store (name, data) VALUES "
                    "('carol@partner.test.pem', decode('%s', 'hex'))"
                    % pem.hex())
            t.expect(wait_until(lambda: content("carol@partner.test.pem")
                                == pem.hex(), 20), "the file")
            p = o.ctl("policy", "test", "alice@example.test",
                      "carol@partner.test")
            t.expect("outcome:     encrypted" in p.stdout, p.stdout)
            pg.psql("UPDATE crypt_store SET data = NULL WHERE name = "
                    "'carol@partner.test.pem'")
            t.expect(wait_until(lambda: content("carol@partner.test.pem")
                                is None, 20), "removed")
            t.expect(wait_log(o, r"cryptod: store: carol@partner\.test\.pem"
                              r" removed \(database\)"), "logged")

        with t.case("a file removed here is removed from the database; the "
                    "manifest is cryptod's alone"):
            # As osmsctl writes: owned like the store.
            f = o.write_file("certs/dave@partner.test.pem", pem.decode(),
                             0o600)
            st = os.stat(store)
            os.chown(f, st.st_uid, st.st_gid)
            t.expect(wait_until(lambda: row("dave@partner.test.pem") ==
                                pem.hex(), 20), "sent")
            os.unlink(os.path.join(store, "dave@partner.test.pem"))
            t.expect(wait_until(lambda: row("dave@partner.test.pem") ==
                                "NULL", 20), "removed")
            st = os.stat(os.path.join(store, ".sync"))
            t.expect(st.st_mode & 0o777 == 0o600, oct(st.st_mode))
            t.expect(row("audit.log") == "", "audit.log is not a row")

        with t.case("a file over 30000 bytes stays here, said once"):
            f = o.write_file("certs/big.pem", "x" * 40000, 0o600)
            os.chown(f, st.st_uid, st.st_gid)
            t.expect(wait_log(o, r"cryptod: store: big\.pem is over 30000 "
                              r"bytes"), "logged")
            time.sleep(11)  # two more rounds
            t.expect(len(re.findall(r"store: big\.pem is over", o.log()))
                     == 1, "said once")
            t.expect(row("big.pem") == "", "not a row")
t.done()
