#!/usr/bin/env python3
"""The gateway's audit trail in PostgreSQL: with a directory in
PostgreSQL, every decision cryptod records in audit.log is a row of
crypt_audit as well, written by authd (which holds the database password,
cryptod none); osmsctl audit reads it from there; the rows cannot be
changed; with the database down the trail goes on in audit.log."""
import os
import re
import smtplib
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
            t.expect(code == 550 and b"must carry a valid S/MIME signature"
                     in text, "%d %r" % (code, text))
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
t.done()
