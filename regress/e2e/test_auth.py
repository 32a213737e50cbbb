#!/usr/bin/env python3
"""SMTP AUTH with the file directory: mechanisms, real clients, the
sender check, relaying, hostile exchanges, throttling and the hourly
message limit. PostgreSQL is in test_auth_pg.py."""
import base64
import os
import re
import signal
import smtplib
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from osmstest import *  # noqa: E402,F401,F403
from mailtest import *  # noqa: E402,F401,F403

t = Tests(__file__)


def b64(s):
    return base64.b64encode(s.encode("utf-8")).decode("ascii")


def submission(port, tls=True, source="127.0.0.1"):
    """An SMTP client, from source (any 127/8 address works on Linux:
    failures are counted per client address)."""
    c = smtplib.SMTP("127.0.0.1", port, timeout=20,
                     source_address=(source, 0))
    c.ehlo("client.test")
    if tls:
        c.starttls(context=insecure_ctx())
        c.ehlo("client.test")
    return c


def auth_plain(port, user, password, source="127.0.0.1"):
    c = submission(port, source=source)
    try:
        return c.docmd("AUTH", "PLAIN " + b64("\0%s\0%s" % (user,
                                                             password)))
    finally:
        c.close()


def fail_lines(o, user, client="127.0.0.1"):
    return re.findall(r"authd: auth failed client=%s user=<%s> "
                      r"mech=[A-Z0-9-]+ failures=\d+"
                      % (re.escape(client), re.escape(user)), o.log())


# Enough failures allowed for the cases below; throttling has its own.
ROLES = "smtpd {\n\tauth-max-failures 100\n}\n"

with Osms(roles_conf=ROLES, start=False) as o:
    users = dict(USERS)
    o.write_users(users)
    with open(o.users_file, "a") as f:
        f.write("imaponly@example.test %s services=imap\n"
                "plain@example.test {PLAIN}plain-pw\n"
                % password_hash("imap-pw"))
    o.start()
    sub, subs, mx = (o.ports["submission"], o.ports["submissions"],
                     o.ports["smtp"])
    box = Mailboxes(o)

    with t.case("AUTH is offered inside TLS on submission, not before"):
        c = submission(sub, tls=False)
        t.expect(not c.has_extn("auth"), "no AUTH before STARTTLS")
        code, text = c.docmd("AUTH", "PLAIN " + b64("\0alice@example.test"
                                                    "\0alice-pw"))
        t.expect(code == 538 and text.startswith(b"5.7.11"),
                 "AUTH in clear: %d %r" % (code, text))
        c.starttls(context=insecure_ctx())
        c.ehlo("client.test")
        mechs = (c.esmtp_features.get("auth") or "").split()
        t.expect(mechs == ["SCRAM-SHA-256", "PLAIN", "LOGIN"],
                 "AUTH line: %r" % mechs)
        c.quit()
        c = submission(mx)
        t.expect(not c.has_extn("auth"), "no AUTH on the MX port")
        code, _ = c.docmd("AUTH", "PLAIN " + b64("\0alice@example.test"
                                                 "\0alice-pw"))
        t.expect(code == 502, "AUTH on port 25: %d" % code)
        c.quit()

    with t.case("smtplib: PLAIN and LOGIN log in, and the log says who"):
        for mech in ("PLAIN", "LOGIN"):
            c = submission(sub)
            c.user, c.password = "alice@example.test", "alice-pw"
            auth = c.auth_plain if mech == "PLAIN" else c.auth_login
            code, text = c.auth(mech, auth, initial_response_ok=True)
            t.expect(code == 235 and text.startswith(b"2.7.0"),
                     "%s: %d %r" % (mech, code, text))
            c.quit()
            t.expect(re.search(r"smtpd auth ok from=127\.0\.0\.1 "
                               r"user=<alice@example\.test> mech=%s" % mech,
                               o.log()), "log line for %s" % mech)
        # LOGIN without an initial response: two 334 prompts
        c = submission(sub)
        code, text = c.docmd("AUTH", "LOGIN")
        t.expect(code == 334 and base64.b64decode(text) == b"Username:",
                 "first prompt %d %r" % (code, text))
        code, text = c.docmd(b64("bob@example.test"))
        t.expect(code == 334 and base64.b64decode(text) == b"Password:",
                 "second prompt %d %r" % (code, text))
        code, text = c.docmd(b64("bob-pw"))
        t.expect(code == 235, "LOGIN in steps: %d %r" % (code, text))
        c.quit()

    with t.case("a wrong password or an unknown user: 535 5.7.8, logged"):
        # each from its own address: failures slow down per address
        for user, pw, src in (("alice@example.test", "wrong", "127.0.0.2"),
                              ("nobody@example.test", "alice-pw",
                               "127.0.0.3"),
                              ("imaponly@example.test", "imap-pw",
                               "127.0.0.4"),
                              ("plain@example.test", "plain-pw",
                               "127.0.0.9")):
            c = submission(sub, source=src)
            code, text = c.docmd("AUTH", "PLAIN " + b64("\0%s\0%s"
                                                        % (user, pw)))
            t.expect(code == 535 and text.startswith(b"5.7.8"),
                     "%s: %d %r" % (user, code, text))
            code, _ = c.docmd("NOOP")
            t.expect(code == 250, "the session goes on")
            c.quit()
        t.expect(fail_lines(o, "alice@example.test", "127.0.0.2"),
                 "fail2ban line: wrong password")
        t.expect(fail_lines(o, "nobody@example.test", "127.0.0.3"),
                 "fail2ban line: unknown user")
        t.expect(re.search(r"user=<imaponly@example\.test> mech=PLAIN "
                           r"failures=\d+ \(service disabled\)", o.log()),
                 "a user without smtp is refused, and the log says why")
        t.expect(re.search(r"the password of plain@example\.test is stored"
                           r" in a scheme osms refuses", o.log()),
                 "a plaintext password never logs in, and the log says so")

    with t.case("PLAIN with another user's authorization identity: 535"):
        c = submission(sub, source="127.0.0.5")
        code, _ = c.docmd("AUTH", "PLAIN " + b64("bob@example.test\0"
                                                 "alice@example.test\0"
                                                 "alice-pw"))
        t.expect(code == 535, "proxy login refused: %d" % code)
        code, _ = c.docmd("AUTH", "PLAIN " + b64("alice@example.test\0"
                                                 "alice@example.test\0"
                                                 "alice-pw"))
        t.expect(code == 235, "authzid = authcid is fine: %d" % code)
        c.quit()

    with t.case("osmsctl user add: PLAIN and SCRAM-SHA-256 work at once"):
        r = o.ctl("user", "add", "carol@example.test", input="carol-pw\n")
        t.require(r.returncode == 0, "user add: %s%s" % (r.stdout,
                                                         r.stderr))
        with open(o.users_file) as f:
            line = [x for x in f if x.startswith("carol@")]
        t.expect(line and line[0].split()[1].startswith("{ARGON2ID}$"),
                 "argon2id hash in the users file: %r" % line)
        t.expect(line and "carol-pw" not in line[0], "no plaintext")
        c = submission(sub)
        code, text, verified = smtp_scram(c, "carol@example.test",
                                          "carol-pw")
        t.expect(code == 235, "SCRAM: %d %r" % (code, text))
        t.expect(verified, "the server proved it knows the secret")
        c.quit()
        c = submission(sub, source="127.0.0.6")
        code, _, _ = smtp_scram(c, "carol@example.test", "wrong")
        t.expect(code == 535, "SCRAM, wrong password: %d" % code)
        c.quit()
        c = submission(sub, source="127.0.0.7")
        code, _, _ = smtp_scram(c, "ghost@example.test", "x")
        t.expect(code == 535, "SCRAM, unknown user: %d" % code)
        c.quit()
        c = submission(sub)
        c.login("carol@example.test", "carol-pw")
        mid = message_id()
        c.sendmail("carol@example.test", ["alice@example.test"],
                   make_message("carol@example.test", "alice@example.test",
                                mid))
        c.quit()
        t.expect(box.wait_for("alice", mid) is not None, "carol's mail")
        r = o.ctl("user", "add", "carol@example.test", input="x\n")
        t.expect(r.returncode != 0 and "exists" in r.stdout + r.stderr,
                 "adding twice fails: %s%s" % (r.stdout, r.stderr))

    with t.case("a users file edited by hand is read again by itself"):
        with open(o.users_file, "a") as f:
            f.write("hand@example.test %s\n" % password_hash("hand-pw"))
        end = time.monotonic() + 10
        code = None
        while time.monotonic() < end:
            code, _ = auth_plain(sub, "hand@example.test", "hand-pw")
            if code == 235:
                break
            time.sleep(0.5)
        t.expect(code == 235, "the new user logs in: %r" % code)
        t.expect("file tables changed on disk" in o.log(), "logged")
        with open(o.users_file) as f:
            lines = [x for x in f if not x.startswith("hand@")]
        o.write_file("users.new", "".join(lines), 0o600)
        os.rename(o.path("users.new"), o.users_file)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            code, _ = auth_plain(sub, "hand@example.test", "hand-pw",
                                 source="127.0.0.10")
            if code == 535:
                break
            time.sleep(0.5)
        t.expect(code == 535, "a removed user is gone: %r" % code)

    with t.case("osmsctl on a file table: passwd, alias add, list, del"):
        r = o.ctl("user", "passwd", "bob@example.test", input="bob-new\n")
        t.expect(r.returncode == 0, r.stdout + r.stderr)
        code, _ = auth_plain(sub, "bob@example.test", "bob-new")
        t.expect(code == 235, "the new password works at once: %d" % code)
        r = o.ctl("alias", "add", "sales@example.test", "bob@example.test")
        t.expect(r.returncode == 0, r.stdout + r.stderr)
        r = o.ctl("alias", "list")
        t.expect("sales@example.test" in r.stdout, "alias list: %r"
                 % r.stdout)
        mid = send(mx, "x@remote.test", ["sales@example.test"])
        t.expect(box.wait_for("bob", mid) is not None, "the alias works")
        r = o.ctl("user", "list")
        t.expect("bob@example.test" in r.stdout and "alice@example.test"
                 in r.stdout and "$6$" not in r.stdout,
                 "user list, without hashes: %r" % r.stdout)
        r = o.ctl("alias", "del", "sales@example.test")
        t.expect(r.returncode == 0, r.stdout + r.stderr)
        c = smtplib.SMTP("127.0.0.1", mx, timeout=20)
        c.ehlo("client.test")
        c.mail("x@remote.test")
        code, _ = c.rcpt("sales@example.test")
        c.quit()
        t.expect(code == 550, "the alias is gone: %d" % code)
        r = o.ctl("user", "passwd", "bob@example.test", input="bob-pw\n")
        t.expect(r.returncode == 0, r.stdout + r.stderr)
        r = o.ctl("user", "passwd", "nobody@example.test", input="x\n")
        t.expect(r.returncode != 0, "no such user: %s" % r.stdout)

    with t.case("submission: MAIL before AUTH is 530 5.7.0"):
        c = submission(sub)
        code, text = c.mail("alice@example.test")
        t.expect(code == 530 and text.startswith(b"5.7.0"),
                 "%d %r" % (code, text))
        c.quit()

    with t.case("the sender must be the user's own address or alias"):
        c = submission(sub)
        c.login("alice@example.test", "alice-pw")
        for sender, want in (("bob@example.test", 553),
                             ("alice@elsewhere.test", 553),
                             ("postmaster@example.test", 250),
                             ("ALICE@example.test", 250),
                             ("", 250)):
            code, text = c.mail(sender)
            t.expect(code == want, "MAIL FROM:<%s>: %d %r"
                     % (sender, code, text))
            if code == 553:
                t.expect(text.startswith(b"5.7.1"), "5.7.1: %r" % text)
            c.rset()
        c.quit()

    with t.case("authenticated clients relay; strangers may not"):
        c = submission(sub)
        c.login("bob@example.test", "bob-pw")
        mid = message_id()
        refused = c.sendmail("bob@example.test",
                             ["friend@far.test", "alice@example.test"],
                             make_message("bob@example.test",
                                          "friend@far.test", mid))
        c.quit()
        t.expect(refused == {}, "refused: %r" % refused)
        t.expect(box.wait_for("alice", mid) is not None, "local copy")
        t.expect(re.search(r"queued from=<bob@example\.test> rcpts=2",
                           o.log()), "queued for both")
        c = submission(mx)
        c.mail("someone@remote.test")
        code, text = c.rcpt("friend@far.test")
        t.expect(code in (550, 554) and text.startswith(b"5.7.1"),
                 "relay without AUTH: %d %r" % (code, text))
        c.quit()

    with t.case("swaks: AUTH LOGIN and PLAIN over STARTTLS"):
        for mech in ("LOGIN", "PLAIN"):
            mid = message_id()
            p = run(["swaks", "--server", "127.0.0.1", "--port", str(sub),
                     "--tls", "--auth", mech, "--auth-user",
                     "alice@example.test", "--auth-password", "alice-pw",
                     "--from", "alice@example.test", "--to",
                     "bob@example.test", "--header", "Message-Id: " + mid,
                     "--timeout", "20"], check=False, timeout=60)
            t.expect(p.returncode == 0, "swaks %s: rc %d\n%s" % (
                mech, p.returncode, p.stdout[-2000:]))
            t.expect(box.wait_for("bob", mid) is not None,
                     "delivered via swaks %s" % mech)

    with t.case("curl: implicit TLS on 465 with AUTH"):
        mid = message_id()
        msg = make_message("bob@example.test", "alice@example.test", mid)
        p = subprocess.run(
            ["curl", "-sS", "--insecure", "--url",
             "smtps://127.0.0.1:%d" % subs, "--user",
             "bob@example.test:bob-pw", "--mail-from", "bob@example.test",
             "--mail-rcpt", "alice@example.test", "--upload-file", "-"],
            input=msg, capture_output=True, timeout=60)
        t.expect(p.returncode == 0, "curl rc %d: %s" % (p.returncode,
                                                        p.stderr))
        t.expect(box.wait_for("alice", mid) is not None, "via curl")
        p = subprocess.run(
            ["curl", "-sS", "--insecure", "--url",
             "smtps://127.0.0.1:%d" % subs, "--user",
             "bob@example.test:nope", "--mail-from", "bob@example.test",
             "--mail-rcpt", "alice@example.test", "--upload-file", "-"],
            input=msg, capture_output=True, timeout=60)
        t.expect(p.returncode == 67, "curl, wrong password: rc %d (67 is"
                 " login denied)" % p.returncode)

    with t.case("hostile AUTH input gets a protocol error, never a crash"):
        c = submission(sub, source="127.0.0.8")
        for args, want in (("PLAIN !!!!", 501), ("PLAIN AAA", 501),
                           ("FOO", 504), ("SCRAM", 504), ("PLAI", 504),
                           ("", 501), ("PLAIN " + "A" * 900, 500),
                           ("PLAIN " + b64("\0\0"), 535),
                           ("PLAIN " + b64("no-nuls-at-all"), 535)):
            code, text = c.docmd("AUTH", args)
            t.expect(code == want, "AUTH %s: %d %r" % (args[:30], code,
                                                         text))
            code, _ = c.docmd("NOOP")
            t.expect(code == 250, "still usable after AUTH %s"
                     % args[:30])
        # Longer than any text line: the session ends (SECURITY.md A9).
        long = submission(sub, source="127.0.0.8")
        code, text = long.docmd("AUTH", "PLAIN " + "A" * 20000)
        t.expect((code, text) == (500, b"5.5.2 Line too long; closing"),
                 "AUTH PLAIN of 20000 octets: %d %r" % (code, text))
        try:
            code = long.docmd("NOOP")[0]
        except (smtplib.SMTPServerDisconnected, OSError):
            code = -1
        t.expect(code == -1, "the session went on: NOOP %d" % code)
        long.close()
        code, text = c.docmd("AUTH", "LOGIN")
        code, text = c.docmd("*")
        t.expect(code == 501 and text.startswith(b"5.7.0"),
                 "cancel: %d %r" % (code, text))
        code, text = c.docmd("AUTH", "LOGIN")
        code, text = c.docmd("not base64 at all")
        t.expect(code == 501, "a bad line in the exchange: %d" % code)
        code, _ = c.docmd("AUTH", "PLAIN =")
        t.expect(code == 535, "an empty initial response: %d" % code)
        c.login("alice@example.test", "alice-pw")
        code, text = c.docmd("AUTH", "PLAIN " + b64("\0a\0b"))
        t.expect(code == 503, "AUTH twice: %d %r" % (code, text))
        c.mail("alice@example.test")
        code, _ = c.docmd("AUTH", "PLAIN " + b64("\0a\0b"))
        t.expect(code == 503, "AUTH inside a transaction: %d" % code)
        c.quit()
        t.expect(len(o.alive()) > 0 and o.status(), "osmsd still up")

    with t.case("no password or hash in the log"):
        log = o.log()
        for secret in ("alice-pw", "bob-pw", "carol-pw", "$6$", "ARGON2",
                       b64("\0alice@example.test\0alice-pw")):
            t.expect(secret not in log, "%r not in the log" % secret)


LIMITS = ("smtpd {\n\tauth-max-failures 3\n\tmax-messages-per-hour 2\n}\n")

with Osms(roles_conf=LIMITS) as o:
    sub = o.ports["submission"]

    with t.case("a user's third message in an hour: 450 4.7.1"):
        c = submission(sub)
        c.login("bob@example.test", "bob-pw")
        codes = []
        for i in range(3):
            code, text = c.mail("bob@example.test")
            if code == 250:
                c.rcpt("alice@example.test")
                code, text = c.data(make_message(
                    "bob@example.test", "alice@example.test", message_id()))
            codes.append((code, text))
            c.rset()
        c.quit()
        t.expect([x[0] for x in codes] == [250, 250, 450],
                 "codes %r" % codes)
        t.expect(codes[2][1].startswith(b"4.7.1"), "4.7.1")
        c = submission(sub)
        c.login("alice@example.test", "alice-pw")
        code, _ = c.mail("alice@example.test")
        t.expect(code == 250, "other users are not limited: %d" % code)
        c.quit()

    with t.case("brute force: slower failures, then 454 4.7.0 for the "
                "client, even with the right password"):
        times, codes = [], []
        for i in range(3):
            c = submission(sub)
            t0 = time.monotonic()
            code, _ = c.docmd("AUTH", "PLAIN " + b64("\0alice@example.test"
                                                     "\0guess%d" % i))
            times.append(time.monotonic() - t0)
            codes.append(code)
            c.quit()
        t.expect(codes == [535, 535, 454], "the third failure reaches the"
                 " limit: %r" % codes)
        t.diag("failure replies took %s s"
               % ", ".join("%.2f" % x for x in times))
        t.expect(times[2] > times[0] and times[2] >= 0.9,
                 "each failure waits longer: %r" % times)
        c = submission(sub)
        code, text = c.docmd("AUTH", "PLAIN " + b64("\0alice@example.test"
                                                    "\0alice-pw"))
        t.expect(code == 454 and text.startswith(b"4.7.0"),
                 "throttled: %d %r" % (code, text))
        c.quit()
        t.expect(re.search(r"authd: auth throttled client=127\.0\.0\.1",
                           o.log()), "logged")

    with t.case("authd dies between a challenge and the client's response:"
                " 454 4.7.0 at once, and the session goes on"
                " (fuzz_smtp_session)"):
        # smtpd used to keep the exchange: the response went to the new
        # authd, which drops steps it does not know, and the client
        # waited for the timeout.
        c = submission(sub, source="127.0.0.7")
        try:
            code, text = c.docmd("AUTH", "PLAIN")
            t.require(code == 334, "the challenge: %d %r" % (code, text))
            pid = o.pid("authd")
            os.kill(pid, signal.SIGKILL)
            code, text = c.getreply()
            t.expect(code == 454 and text.startswith(b"4.7.0"),
                     "at once: %d %r" % (code, text))
            t.expect(wait_until(lambda: o.pid("authd") not in (0, pid,
                                                                None)),
                     "authd is back")
            o.wait_ready()
            code, text = c.docmd("AUTH", "PLAIN " + b64(
                "\0alice@example.test\0alice-pw"))
            t.expect(code == 235, "then AUTH: %d %r" % (code, text))
        finally:
            c.close()

t.done()
