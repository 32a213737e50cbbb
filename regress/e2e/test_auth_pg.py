#!/usr/bin/env python3
"""The directory in PostgreSQL: osms's own schema managed with osmsctl,
an existing PostfixAdmin database, the database going away and coming
back, hostile input and hostile rows, and where the database password
lives."""
import base64
import collections
import os
import re
import smtplib
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from osmstest import *  # noqa: E402,F401,F403
from mailtest import *  # noqa: E402,F401,F403

t = Tests(__file__)
HERE = os.path.dirname(os.path.abspath(__file__))
DB_PASSWORD = "pg-Secret-4711"      # trust auth: libpq sends it unasked


def b64(s):
    return base64.b64encode(s.encode("utf-8")).decode("ascii")


def submission(port):
    c = smtplib.SMTP("127.0.0.1", port, timeout=20)
    c.ehlo("client.test")
    c.starttls(context=insecure_ctx())
    c.ehlo("client.test")
    return c


def auth_plain(port, user, password):
    c = submission(port)
    try:
        return c.docmd("AUTH", "PLAIN " + b64("\0%s\0%s" % (user, password)))
    finally:
        c.close()


def rcpt_code(port, rcpt):
    c = smtplib.SMTP("127.0.0.1", port, timeout=20)
    try:
        c.ehlo("client.test")
        c.mail("someone@remote.test")
        return c.rcpt(rcpt)
    finally:
        c.close()


def psql_file(pg, path, db="osms"):
    run([os.path.join(pg.bin, "psql"), "-X", "-h", pg.sockdir, "-U",
         "osms", "-d", db, "-v", "ON_ERROR_STOP=1", "-q", "-f", path])


def wait_until(fn, timeout=15):
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > end:
            return v
        time.sleep(0.2)


with Pg() as pg:
    psql_file(pg, os.path.join(ROOT, "sql", "schema.sql"))
    conninfo = "%s password=%s" % (pg.conninfo, DB_PASSWORD)
    conf = ('table dir postgres "%s"\n'
            'domains <dir>\n' % conninfo)
    with Osms(extra_conf=conf) as o:
        sub, mx = o.ports["submission"], o.ports["smtp"]
        box = Mailboxes(o, "pg.test")

        with t.case("osmsctl: domain, user and alias go into PostgreSQL and"
                    " work at once"):
            r = o.ctl("domain", "add", "pg.test")
            t.require(r.returncode == 0, "domain add: %s%s"
                      % (r.stdout, r.stderr))
            r = o.ctl("user", "add", "dora@pg.test", "50M",
                      input="dora-pw\n")
            t.require(r.returncode == 0, "user add: %s%s"
                      % (r.stdout, r.stderr))
            r = o.ctl("alias", "add", "info@pg.test", "dora@pg.test")
            t.require(r.returncode == 0, "alias add: %s%s"
                      % (r.stdout, r.stderr))
            row = pg.psql("SELECT password, scram IS NOT NULL, maildir,"
                          " quota_bytes FROM mailboxes WHERE address ="
                          " 'dora@pg.test'").split("|")
            t.expect(row[0].startswith("{ARGON2ID}$argon2id$"),
                     "argon2id hash stored: %r" % row[0][:20])
            t.expect(row[1] == "t", "a SCRAM secret is stored")
            t.expect(row[2] == "pg.test/dora", "maildir %r" % row[2])
            t.expect(row[3] == str(50 * 1024 * 1024), "quota %r" % row[3])
            for what, want in (("domain", "pg.test"), ("user", "dora@pg.test"),
                               ("alias", "info@pg.test")):
                r = o.ctl(what, "list")
                t.expect(r.returncode == 0 and want in r.stdout,
                         "%s list: %s%s" % (what, r.stdout, r.stderr))
            code, text = auth_plain(sub, "dora@pg.test", "dora-pw")
            t.expect(code == 235, "PLAIN at once: %d %r" % (code, text))
            c = submission(sub)
            code, text, ok = smtp_scram(c, "dora@pg.test", "dora-pw")
            c.close()
            t.expect(code == 235 and ok, "SCRAM at once: %d %r" % (code,
                                                                  text))
            mid = send(mx, "x@remote.test", ["info@pg.test"])
            t.expect(box.wait_for("dora", mid) is not None,
                     "mail to the alias lands in dora's Maildir")
            code, text = rcpt_code(mx, "nobody@pg.test")
            t.expect(code == 550 and text.startswith(b"5.1.1"),
                     "unknown user: %d %r" % (code, text))
            code, _ = rcpt_code(mx, "alice@example.test")
            t.expect(code == 250, "the file domain still works: %d" % code)

        with t.case("osmsctl: passwd, quota, del; a wrong password fails"):
            r = o.ctl("user", "passwd", "dora@pg.test", input="dora-pw2\n")
            t.require(r.returncode == 0, r.stdout + r.stderr)
            code, _ = auth_plain(sub, "dora@pg.test", "dora-pw")
            t.expect(code == 535, "old password: %d" % code)
            code, _ = auth_plain(sub, "dora@pg.test", "dora-pw2")
            t.expect(code == 235, "new password: %d" % code)
            r = o.ctl("user", "quota", "dora@pg.test", "1G")
            t.expect(r.returncode == 0 and pg.psql(
                "SELECT quota_bytes FROM mailboxes WHERE address ="
                " 'dora@pg.test'") == str(1 << 30), "quota set")
            o.ctl("user", "add", "temp@pg.test", input="temp-pw\n")
            code, _ = auth_plain(sub, "temp@pg.test", "temp-pw")
            t.expect(code == 235, "temp logs in: %d" % code)
            r = o.ctl("user", "del", "temp@pg.test")
            t.expect(r.returncode == 0, r.stdout + r.stderr)
            code, _ = auth_plain(sub, "temp@pg.test", "temp-pw")
            t.expect(code == 535, "deleted at once: %d" % code)
            r = o.ctl("user", "add", "x@nowhere.test", input="pw\n")
            t.expect(r.returncode != 0, "a user of an unknown domain: %s%s"
                     % (r.stdout, r.stderr))

        with t.case("an alias domain and an inactive user"):
            pg.psql("INSERT INTO domains (name, alias_target) VALUES"
                    " ('alias.test', 'pg.test')")
            mid = send(mx, "x@remote.test", ["dora@alias.test"])
            t.expect(box.wait_for("dora", mid) is not None,
                     "dora@alias.test is dora@pg.test")
            pg.psql("UPDATE mailboxes SET active = false WHERE address ="
                    " 'dora@pg.test'")
            code, _ = auth_plain(sub, "dora@pg.test", "dora-pw2")
            t.expect(code == 535, "inactive: no login (%d)" % code)
            code, _ = rcpt_code(mx, "dora@pg.test")
            t.expect(code == 550, "inactive: no mail (%d)" % code)
            pg.psql("UPDATE mailboxes SET active = true WHERE address ="
                    " 'dora@pg.test'")

        with t.case("SQL in addresses and user names is only data"):
            for user in ("x' OR '1'='1", "dora@pg.test' --",
                         "'; DROP TABLE mailboxes; --"):
                code, _ = auth_plain(sub, user, "dora-pw2")
                t.expect(code == 535, "AUTH as %r: %d" % (user, code))
            code, _ = rcpt_code(mx, "\"x' OR '1'='1\"@pg.test")
            t.expect(code == 550, "RCPT with a quote: %d" % code)
            for rcpt in ("\"';DROP TABLE aliases;--\"@pg.test",
                         "\"x\\\\'; DELETE FROM mailboxes; --\"@pg.test",
                         "\"\\\\\"@pg.test", "dora@pg.test';--"):
                code, _ = rcpt_code(mx, rcpt)
                t.expect(code in (501, 550, 553), "RCPT %s: %d"
                         % (rcpt, code))
            r = o.ctl("alias", "add", "evil@pg.test",
                      "x'); DROP TABLE aliases; --")
            t.expect(r.returncode != 0, "a target that is no address")
            t.expect(pg.psql("SELECT count(*) FROM mailboxes") == "1",
                     "the mailboxes are all there")
            t.expect(pg.psql("SELECT count(*) FROM aliases") == "1",
                     "the aliases are all there")

        with t.case("PostgreSQL stopped and started under load: 451"
                    " while down, nothing lost, back without a restart"):
            results, stop = [], threading.Event()

            def sender():
                while not stop.is_set():
                    mid = message_id()
                    try:
                        c = smtplib.SMTP("127.0.0.1", mx, timeout=20)
                        c.ehlo("load.test")
                        c.sendmail("x@remote.test", ["dora@pg.test"],
                                   make_message("x@remote.test",
                                                "dora@pg.test", mid))
                        c.quit()
                        results.append((250, mid))
                    except smtplib.SMTPRecipientsRefused as e:
                        results.append((e.recipients["dora@pg.test"][0],
                                        mid))
                    except Exception as e:  # noqa: BLE001
                        results.append((repr(e), mid))
                    time.sleep(0.02)
            threads = [threading.Thread(target=sender) for _ in range(3)]
            for th in threads:
                th.start()
            time.sleep(1)
            pg.stop()
            time.sleep(2)
            pg.start()
            time.sleep(3)
            stop.set()
            for th in threads:
                th.join(30)
            codes = [r[0] for r in results]
            t.diag("%d messages: %d accepted, %d deferred"
                   % (len(codes), codes.count(250), codes.count(451)))
            t.expect(set(codes) <= {250, 451}, "only 250 or 451: %r"
                     % sorted(set(map(str, codes))))
            t.expect(codes.count(451) > 0, "some deferred while down")
            t.expect(codes[-4:].count(250) == 4 or
                     codes.count(250) > codes.index(451),
                     "accepted again after the restart")
            accepted = [mid for code, mid in results if code == 250]
            missing = set(accepted)
            end = time.monotonic() + 60
            while missing and time.monotonic() < end:
                missing -= set(box.message_ids("dora"))
                if missing:
                    time.sleep(1)
            t.expect(not missing, "every accepted message delivered;"
                     " missing %d of %d" % (len(missing), len(accepted)))
            seen = collections.Counter(box.message_ids("dora"))
            t.expect(all(seen[m] == 1 for m in accepted),
                     "each exactly once")
            t.expect(len(o.pids("authd")) == 1, "authd was not restarted")

        with t.case("PostgreSQL down: 451 4.3.0 and 454 4.7.0, then back"):
            pg.stop()
            try:
                code, text = rcpt_code(mx, "dora@pg.test")
                t.expect(code == 451 and text.startswith(b"4.3.0"),
                         "RCPT while down: %d %r" % (code, text))
                code, text = auth_plain(sub, "dora@pg.test", "dora-pw2")
                t.expect(code == 454 and text.startswith(b"4.7.0"),
                         "AUTH while down: %d %r" % (code, text))
                code, _ = rcpt_code(mx, "alice@example.test")
                t.expect(code == 250, "file domains go on: %d" % code)
                code, _ = auth_plain(sub, "alice@example.test", "alice-pw")
                t.expect(code == 235, "file users log in: %d" % code)
            finally:
                pg.start()
            t.expect(wait_until(lambda: rcpt_code(mx, "dora@pg.test")[0] ==
                                250), "RCPT works again")
            # Each of authd's connections finds the database back on its
            # next use: normal within seconds (SECURITY.md, db-down).
            codes = []
            t.expect(wait_until(lambda: codes.append(auth_plain(
                sub, "dora@pg.test", "dora-pw2")[0]) or codes[-1] == 235,
                5), "AUTH works again: %s" % codes)
            t.expect("authd" in o.log() and o.pid("authd"),
                     "authd did not restart")

        with t.case("the database password is in authd only"):
            needle = DB_PASSWORD.encode()
            t.expect(memory_has(o.pid("authd"), needle),
                     "authd has it (the scan works)")
            for role in ("smtpd", "imapd", "queue", "delivery", "control",
                         "cryptod", "scand"):
                pid = o.pid(role)
                t.expect(pid and not memory_has(pid, needle),
                         "%s does not" % role)
            t.expect(DB_PASSWORD not in o.log(), "nor the log")

    # An existing PostfixAdmin database, with etc/postfixadmin.conf.
    pg.psql("CREATE DATABASE postfixadmin")
    psql_file(pg, os.path.join(HERE, "postfixadmin-schema.sql"),
              "postfixadmin")
    md5 = run(["openssl", "passwd", "-1", "-stdin"],
              input="erin-pw\n", stdin=None).stdout.strip()
    sha = password_hash("finn-pw")
    pg.psql("INSERT INTO domain (domain, description) VALUES ('ALL', ''),"
            " ('pfa.test', ''), ('pfa-alias.test', '');"
            "INSERT INTO alias_domain (alias_domain, target_domain) VALUES"
            " ('pfa-alias.test', 'pfa.test');"
            "INSERT INTO mailbox (username, password, name, maildir, quota,"
            " local_part, domain) VALUES"
            " ('erin@pfa.test', '%s', 'Erin', 'pfa.test/erin/', 0,"
            " 'erin', 'pfa.test'),"
            " ('finn@pfa.test', '%s', 'Finn', 'pfa.test/finn/', 0,"
            " 'finn', 'pfa.test'),"
            " ('mallory@pfa.test', '%s', 'M', '../../../tmp/evil/', 0,"
            " 'mallory', 'pfa.test');"
            "INSERT INTO alias (address, goto, domain) VALUES"
            " ('erin@pfa.test', 'erin@pfa.test', 'pfa.test'),"
            " ('finn@pfa.test', 'finn@pfa.test', 'pfa.test'),"
            " ('team@pfa.test', 'erin@pfa.test,finn@pfa.test', 'pfa.test')"
            % (md5, sha, sha), db="postfixadmin")
    with open(os.path.join(ROOT, "etc", "postfixadmin.conf")) as f:
        pfa = f.read().replace(
            '"host=/run/postgresql dbname=postfixadmin user=osms"',
            '"host=%s dbname=postfixadmin user=osms"' % pg.sockdir)
    with Osms(extra_conf=pfa) as o:
        sub, mx = o.ports["submission"], o.ports["smtp"]
        box = Mailboxes(o, "pfa.test")

        with t.case("PostfixAdmin: its hashes log in, its aliases deliver"):
            for user, pw in (("erin@pfa.test", "erin-pw"),
                             ("finn@pfa.test", "finn-pw")):
                code, text = auth_plain(sub, user, pw)
                t.expect(code == 235, "%s: %d %r" % (user, code, text))
            code, _ = auth_plain(sub, "erin@pfa.test", "finn-pw")
            t.expect(code == 535, "wrong password: %d" % code)
            mid = send(mx, "x@remote.test", ["team@pfa.test"])
            t.expect(box.wait_for("erin", mid) is not None, "erin's copy")
            t.expect(box.wait_for("finn", mid) is not None, "finn's copy")
            mid = send(mx, "x@remote.test", ["finn@pfa-alias.test"])
            t.expect(box.wait_for("finn", mid) is not None,
                     "an alias domain")

        with t.case("PostfixAdmin: osmsctl writes rows PostfixAdmin reads"):
            r = o.ctl("user", "add", "gwen@pfa.test", input="gwen-pw\n")
            t.require(r.returncode == 0, r.stdout + r.stderr)
            row = pg.psql("SELECT maildir, local_part, (SELECT goto FROM"
                          " alias WHERE address = 'gwen@pfa.test') FROM"
                          " mailbox WHERE username = 'gwen@pfa.test'",
                          db="postfixadmin")
            t.expect(row == "pfa.test/gwen/|gwen|gwen@pfa.test",
                     "PostfixAdmin's shape: %r" % row)
            code, _ = auth_plain(sub, "gwen@pfa.test", "gwen-pw")
            t.expect(code == 235, "gwen logs in: %d" % code)
            r = o.ctl("alias", "add", "team@pfa.test", "gwen@pfa.test")
            t.expect(r.returncode == 0, r.stdout + r.stderr)
            t.expect(pg.psql("SELECT goto FROM alias WHERE address ="
                             " 'team@pfa.test'", db="postfixadmin") ==
                     "erin@pfa.test,finn@pfa.test,gwen@pfa.test",
                     "appended to the goto list")

        with t.case("a hostile row: a Maildir outside the store is refused"):
            code, text = rcpt_code(mx, "mallory@pfa.test")
            t.expect(code == 451, "tempfail, not delivery: %d %r"
                     % (code, text))
            t.expect(not os.path.exists("/tmp/evil"), "nothing written")
            t.expect(re.search(r"user query returned a bad value for "
                               r"mallory@pfa\.test: maildir", o.log()),
                     "logged")

t.done()
