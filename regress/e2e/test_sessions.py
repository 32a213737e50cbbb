#!/usr/bin/env python3
"""Mail sessions after an IMAP or POP3 login: each is a process of its
own, as the mail store's user, locked into that user's Maildir, started
only for a login authd confirmed; the login role keeps TLS and reaches no
mail; limits per user and per server; nothing is left when it ends."""
import imaplib
import os
import poplib
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from osmstest import *  # noqa: E402,F401,F403
from mailtest import *  # noqa: E402,F401,F403

t = Tests(__file__)


def sessions(o):
    """The session processes: the parent's children named osms-session."""
    out = []
    for pid in proc_children(o.proc.pid):
        try:
            with open("/proc/%d/comm" % pid) as f:
                if f.read().strip() == "osms-session":
                    out.append(pid)
        except OSError:
            pass
    return out


def imap_login(o, user, pw):
    c = imaplib.IMAP4_SSL("127.0.0.1", o.ports["imaps"],
                          ssl_context=insecure_ctx(), timeout=20)
    c.login(user, pw)
    return c


def wait_for(fn, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    return fn()


ROLES = "imapd {\n\tmax-user-sessions 3\n\tlogin-timeout 5s\n}\n"

with Osms(roles_conf=ROLES) as o:
    before = set(sessions(o))

    with t.case("a login starts a session process locked into that Maildir"):
        c = imap_login(o, "alice@example.test", "alice-pw")
        new = wait_for(lambda: sorted(set(sessions(o)) - before))
        t.require(len(new) == 1, "one new session process: %r" % new)
        pid = new[0]
        vmail = proc_field(o.pid("delivery"), "Uid")[0]
        t.expect(proc_field(pid, "Uid") == [vmail] * 4,
                 "runs as the mail store's user (%s): %r"
                 % (vmail, proc_field(pid, "Uid")))
        t.expect(proc_field(pid, "NoNewPrivs") == ["1"], "NoNewPrivs")
        root = os.readlink("/proc/%d/root" % pid)
        t.expect(root == o.path("mail", "example.test", "alice"),
                 "chrooted into alice's Maildir: %s" % root)
        t.expect(sorted(x for x in os.listdir("/proc/%d/root" % pid)
                        if x in ("cur", "new", "tmp")) ==
                 ["cur", "new", "tmp"], "and it is a Maildir")
        # not dumpable: another session (same user id) cannot ptrace it
        with open("/proc/%d/status" % pid) as f:
            t.expect("TracerPid:\t0" in f.read(), "no tracer")
        t.expect(os.stat("/proc/%d/mem" % pid).st_uid == 0,
                 "its memory belongs to root (not dumpable)")
        c.logout()
        t.expect(wait_for(lambda: pid not in sessions(o)),
                 "the process ends with the session")

    with t.case("the login role holds no mail: its root is empty"):
        pid = o.pid("imapd")
        t.expect(os.listdir("/proc/%d/root" % pid) == [],
                 "imapd's root is the empty directory")
        t.expect(proc_field(pid, "Uid")[0] != proc_field(
            o.pid("delivery"), "Uid")[0], "and not the mail store's user")

    with t.case("each user's session sees only that user's mail"):
        mid = send(o.ports["smtp"], "x@remote.test", ["bob@example.test"])
        Mailboxes(o).wait_for("bob", mid)
        c = imap_login(o, "alice@example.test", "alice-pw")
        typ, data = c.select("INBOX")
        n_alice = int(data[0])
        typ, data = c.search(None, "HEADER", "Message-ID", mid)
        t.expect(typ == "OK" and data[0] == b"", "bob's message is not in"
                 " alice's INBOX: %r" % data)
        c.logout()
        c = imap_login(o, "bob@example.test", "bob-pw")
        typ, data = c.select("INBOX")
        t.expect(int(data[0]) >= 1, "bob sees his")
        c.logout()
        t.diag("alice has %d, bob has %s" % (n_alice, data[0]))

    with t.case("max-user-sessions: the fourth session of a user is NO"
                " [LIMIT]; others are not affected"):
        held = [imap_login(o, "alice@example.test", "alice-pw")
                for _ in range(3)]
        c = imaplib.IMAP4_SSL("127.0.0.1", o.ports["imaps"],
                              ssl_context=insecure_ctx(), timeout=20)
        try:
            c.login("alice@example.test", "alice-pw")
            t.expect(False, "a fourth login was accepted")
        except imaplib.IMAP4.error as e:
            t.expect("LIMIT" in str(e), "NO [LIMIT]: %s" % e)
        c.shutdown()
        p = poplib.POP3_SSL("127.0.0.1", o.ports["pop3s"],
                            context=insecure_ctx(), timeout=20)
        p.user("alice@example.test")
        try:
            p.pass_("alice-pw")
            t.expect(False, "a fourth session by POP3 was accepted")
        except poplib.error_proto as e:
            t.expect(b"-ERR" in e.args[0], "POP3 refused: %r" % e.args)
        p.close()
        c = imap_login(o, "bob@example.test", "bob-pw")
        t.expect(c.noop()[0] == "OK", "bob still logs in")
        c.logout()
        for h in held:
            h.logout()
        c = wait_for(lambda: (lambda x: x)(
            imap_login(o, "alice@example.test", "alice-pw")))
        t.expect(c.noop()[0] == "OK", "alice again, once the others end")
        c.logout()

    with t.case("login-timeout: a client silent before its login gets BYE"
                " (IMAP) or -ERR (POP3) and is closed"):
        def silent(port, tls):
            raw = socket.create_connection(("127.0.0.1", port), timeout=20)
            s = insecure_ctx().wrap_socket(raw) if tls else raw
            t0 = time.monotonic()
            data = b""
            try:
                while True:
                    got = s.recv(4096)
                    if not got:
                        break
                    data += got
            except (OSError, ssl.SSLError):
                pass
            s.close()
            return data, time.monotonic() - t0
        for name, port, tls, want in (
                ("imap", o.ports["imap"], False, b"* BYE"),
                ("imaps", o.ports["imaps"], True, b"* BYE"),
                ("pop3", o.ports["pop3"], False, b"-ERR")):
            data, secs = silent(port, tls)
            lines = data.split(b"\r\n")
            t.expect(len(lines) >= 2 and lines[1].startswith(want),
                     "%s: greeting, then %r: %r" % (name, want, data))
            t.expect(4.5 <= secs <= 12, "%s: closed after %.1fs (5s"
                     " configured)" % (name, secs))
        # A client that keeps talking but never logs in is cut off too.
        raw = socket.create_connection(("127.0.0.1", o.ports["imap"]),
                                       timeout=20)
        f = raw.makefile("rb")
        f.readline()
        t0 = time.monotonic()
        closed = False
        for i in range(40):
            try:
                raw.sendall(b"a%d NOOP\r\n" % i)
                if f.readline() == b"":
                    closed = True
                    break
                f.readline()
            except OSError:
                closed = True
                break
            time.sleep(0.5)
        raw.close()
        t.expect(closed and time.monotonic() - t0 < 12,
                 "NOOPs do not keep a client that never logs in: closed"
                 " after %.1fs" % (time.monotonic() - t0))

    with t.case("osmsctl status counts the sessions; stopping osmsd ends"
                " them"):
        held = [imap_login(o, "bob@example.test", "bob-pw")
                for _ in range(2)]
        rows = o.status()
        parent = [r for r in rows if r["role"] == "parent"][0]
        t.expect("2 mail sessions" in parent.get("info", ""),
                 "parent info: %r" % parent)
        pids = sessions(o)
        t.expect(len(pids) == 2, "two session processes: %r" % pids)
        o.stop()
        t.expect(not [p for p in pids if os.path.exists("/proc/%d" % p)
                      and proc_field(p, "State") and
                      proc_field(p, "State")[0] != "Z"],
                 "no session left after osmsd stopped")
        for h in held:
            try:
                h.noop()
                t.expect(False, "a session answered after the stop")
            except (imaplib.IMAP4.abort, OSError, EOFError):
                pass

t.done()
