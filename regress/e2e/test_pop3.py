#!/usr/bin/env python3
"""POP3 with real clients: python3 poplib over STLS and implicit TLS, a
raw client for exact bytes, curl and fetchmail; hostile input. Every
expectation comes from the RFCs (1939, 2449, 2595, 3206, 5034, 5802,
7677).

    python3 regress/e2e/test_pop3.py                   against osms
    OSMS_IMAP_REFERENCE=dovecot python3 regress/e2e/test_pop3.py
                                                       against Dovecot

Debian packages: dovecot-imapd dovecot-pop3d (reference runs), curl,
fetchmail.
"""
import base64
import os
import poplib
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from osmstest import Tests  # noqa: E402
from imaptest import *  # noqa: E402,F401,F403
from mailtest import Scram  # noqa: E402

t = Tests(__file__)

AREAS = ["capa", "login", "auth", "stat", "retr", "top", "dele", "inuse",
         "misc", "bad", "curl", "fetchm"]


def b64(b):
    if isinstance(b, str):
        b = b.encode("utf-8")
    return base64.b64encode(b).decode("ascii")


def raw_pop3(s, tls="implicit", source=CLIENT_ADDR):
    """A RawPop3 past the greeting (kept as .greeting)."""
    ctx = client_ctx(s)
    if tls == "implicit":
        r = RawPop3(s.ports["pop3s"], ctx, source)
    else:
        r = RawPop3(s.ports["pop3"], None, source)
    try:
        r.greeting = r.line()
        if tls == "starttls":
            line = r.cmd("STLS")
            if not line.startswith(b"+OK"):
                raise RuntimeError("STLS: %r" % line)
            r.starttls(ctx)
    except BaseException:
        r.close()
        raise
    return r


def raw_login(s, user, tls="implicit"):
    r = raw_pop3(s, tls)
    addr, pw = s.user(user)
    a = r.cmd("USER " + addr)
    b = r.cmd("PASS " + pw)
    if not (a.startswith(b"+OK") and b.startswith(b"+OK")):
        r.close()
        raise RuntimeError("USER/PASS: %r %r" % (a, b))
    return r


def capa(r):
    """CAPA on a RawPop3: {NAME: [args]}."""
    line = r.cmd("CAPA")
    if not line.startswith(b"+OK"):
        raise RuntimeError("CAPA: %r" % line)
    out = {}
    for cl in r.multi():
        w = cl.decode("utf-8", "replace").split()
        if w:
            out[w[0].upper()] = [x.upper() for x in w[1:]]
    return out


def is_ok(line):
    return line.startswith(b"+OK")


def is_err(line):
    return line.startswith(b"-ERR")


def stuffed(raw):
    """What RETR must send for a message: CRLF lines, dot-stuffed."""
    lines = crlf(raw).split(b"\r\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [b"." + x if x.startswith(b".") else x for x in lines]


def uidls(p):
    """poplib UIDL -> {msg number: uid}."""
    resp, lines, _ = p.uidl()
    out = {}
    for x in lines:
        n, u = x.split(None, 1)
        out[int(n)] = u
    return out


def mids(p):
    """Message-IDs by message number, from TOP n 0."""
    out = {}
    resp, lines, _ = p.list()
    for x in lines:
        n = int(x.split()[0])
        _, hdr, _ = p.top(n, 0)
        for h in hdr:
            if h.lower().startswith(b"message-id:"):
                out[n] = h.split(b":", 1)[1].strip().decode()
    return out


def session(s, user, tls="implicit"):
    return pop3(s, user, tls)


def _try_login(s, user):
    try:
        return pop3(s, user)
    except (poplib.error_proto, OSError):
        return None


with Server(dict((a, 0) for a in AREAS)) as S:
    t.diag("server under test: %s" % S.name)

    # ---------------------------------------------------------------
    # Connecting and logging in

    with case(t, "pop3 110: CAPA before STLS has STLS, no USER, no SASL "
              "PLAIN; USER/PASS and AUTH refused in clear"):
        p = pop3(S, tls=None)
        try:
            t.expect(p.welcome.startswith(b"+OK"), "greeting %r" % p.welcome)
            caps = p.caps()
            t.expect("STLS" in caps, "STLS: %r" % caps)
            t.expect("USER" not in caps, "no USER before TLS: %r" % caps)
            t.expect(not caps.get("SASL"), "no SASL mechanism before TLS: %r"
                     % caps.get("SASL"))
            addr, pw = S.user("capa")
            line = p._shortcmd_raw("USER " + addr)
            if is_ok(line):     # a server may take USER and refuse PASS
                line = p._shortcmd_raw("PASS " + pw)
            t.expect(is_err(line), "USER/PASS in clear: %r" % line)
            line = p._shortcmd_raw("AUTH PLAIN " + b64("\0%s\0%s"
                                                       % (addr, pw)))
            t.expect(is_err(line), "AUTH PLAIN in clear: %r" % line)
            line = p._shortcmd_raw("STAT")
            t.expect(is_err(line), "not logged in: %r" % line)
            p.stls(client_ctx(S))
            caps = p.caps()
            t.expect("STLS" not in caps, "no STLS after TLS: %r" % caps)
            t.expect("USER" in caps, "USER after TLS: %r" % caps)
            t.expect({"PLAIN", "SCRAM-SHA-256"} <= set(caps.get("SASL", ())),
                     "SASL PLAIN SCRAM-SHA-256 after TLS: %r"
                     % caps.get("SASL"))
            p.user(addr)
            p.pass_(pw)
            t.expect(p.stat()[0] == 0, "logged in, STAT")
            t.expect(p.quit().startswith(b"+OK"), "QUIT")
        finally:
            p.close_quietly()

    with case(t, "pop3s 995: CAPA, USER/PASS, STAT, QUIT"):
        p = pop3(S)
        try:
            t.expect(p.welcome.startswith(b"+OK"), "greeting %r" % p.welcome)
            caps = p.caps()
            t.expect("USER" in caps and "STLS" not in caps,
                     "USER, no STLS inside TLS: %r" % caps)
            for c in ("TOP", "UIDL", "RESP-CODES"):
                t.expect(c in caps, "%s in CAPA" % c)
            addr, pw = S.user("login")
            t.expect(p.user(addr).startswith(b"+OK"), "USER")
            t.expect(p.pass_(pw).startswith(b"+OK"), "PASS")
            t.expect(p.stat() == (0, 0), "an empty maildrop")
            t.expect(p.quit().startswith(b"+OK"), "QUIT")
        finally:
            p.close_quietly()

    with case(t, "AUTH PLAIN with and without an initial response, '*' "
              "cancels"):
        addr, pw = S.user("auth")
        cred = "\0%s\0%s" % (addr, pw)
        with raw_pop3(S) as r:
            line = r.cmd("AUTH PLAIN " + b64(cred))
            t.expect(is_ok(line), "AUTH PLAIN initial response: %r" % line)
            t.expect(is_ok(r.cmd("STAT")), "logged in")
        with raw_pop3(S) as r:
            line = r.cmd("AUTH PLAIN")
            t.expect(line.startswith(b"+ ") or line == b"+",
                     "continuation: %r" % line)
            line = r.cmd(b64(cred))
            t.expect(is_ok(line), "AUTH PLAIN in two steps: %r" % line)
        with raw_pop3(S) as r:
            line = r.cmd("AUTH PLAIN")
            line = r.cmd("*")
            t.expect(is_err(line), "cancelled: %r" % line)
            t.expect(is_ok(r.cmd("USER " + addr)) and
                     is_ok(r.cmd("PASS " + pw)), "USER/PASS after it")

    with case(t, "AUTH SCRAM-SHA-256: the server proves it knows the "
              "secret"):
        addr, pw = S.user("auth")
        with raw_pop3(S) as r:
            sc = Scram(addr, pw)
            line = r.cmd("AUTH SCRAM-SHA-256 " + b64(sc.first()))
            t.require(line.startswith(b"+ "), "server-first: %r" % line)
            line = r.cmd(b64(sc.final(base64.b64decode(line[2:]))))
            t.require(line.startswith(b"+ "), "server-final: %r" % line)
            t.expect(sc.verify(base64.b64decode(line[2:])),
                     "server signature verified")
            line = r.cmd("")
            t.expect(is_ok(line), "logged in: %r" % line)
            t.expect(is_ok(r.cmd("STAT")), "STAT")
        with raw_pop3(S, source="127.0.0.4") as r:
            sc = Scram(addr, "wrong")
            line = r.cmd("AUTH SCRAM-SHA-256 " + b64(sc.first()))
            if line.startswith(b"+ "):
                line = r.cmd(b64(sc.final(base64.b64decode(line[2:]))))
            if line.startswith(b"+ "):
                line = r.cmd("")
            t.expect(is_err(line), "a wrong password: %r" % line)

    with case(t, "a wrong password: -ERR, the session goes on"):
        addr, pw = S.user("login")
        with raw_pop3(S, source="127.0.0.3") as r:
            r.cmd("USER " + addr)
            line = r.cmd("PASS wrong-pw")
            t.expect(is_err(line), "-ERR: %r" % line)
            if b"[" in line:
                t.expect(re.match(rb"-ERR \[AUTH\]", line) is not None,
                         "the response code is [AUTH] (RFC 3206): %r" % line)
            line = r.cmd("AUTH PLAIN " + b64("\0nobody@example.test\0x"))
            t.expect(is_err(line), "unknown user: %r" % line)
            t.expect(is_ok(r.cmd("USER " + addr)) and
                     is_ok(r.cmd("PASS " + pw)), "then the right password")

    with case(t, "PIPELINING: commands behind PASS and AUTH wait for its "
              "answer (fuzz_pop3_session)"):
        addr, pw = S.user("login")
        with raw_pop3(S, source="127.0.0.6") as r:
            # imapd used to take the line behind AUTH as the client's
            # response to a challenge never sent; STAT was lost.
            r.send("AUTH PLAIN %s\r\nSTAT\r\n" % b64("\0%s\0%s"
                                                      % (addr, pw)))
            line = r.line()
            t.expect(is_ok(line), "AUTH PLAIN: %r" % line)
            line = r.line()
            t.expect(is_ok(line), "STAT behind it: %r" % line)
        with raw_pop3(S, source="127.0.0.6") as r:
            r.send("USER %s\r\nPASS wrong-pw\r\nUSER %s\r\nPASS %s\r\n"
                   "STAT\r\n" % (addr, addr, pw))
            got = [r.line() for _ in range(5)]
            t.expect([is_ok(x) for x in got] ==
                     [True, False, True, True, True],
                     "USER, a wrong PASS, USER, PASS, STAT: %r" % got)

    # ---------------------------------------------------------------
    # The maildrop

    STAT_MSGS = [msg(subject="stat %d" % i, mid="<stat%d@test.osms>" % i,
                     body="line\r\n" * (i * 10)) for i in (1, 2, 3)]
    for m in STAT_MSGS:
        S.deliver("stat", m)

    with case(t, "STAT LIST UIDL; UIDs the same across sessions and a "
              "restart", limit=150):
        p = session(S, "stat")
        try:
            n, size = p.stat()
            t.expect(n == 3, "three messages: %d" % n)
            t.expect(size == sum(len(m) for m in STAT_MSGS),
                     "STAT size %d = the CRLF sizes %d"
                     % (size, sum(len(m) for m in STAT_MSGS)))
            resp, lines, _ = p.list()
            sizes = dict((int(a), int(b)) for a, b in
                         (x.split() for x in lines))
            byid = mids(p)
            want = dict((re.search(rb"Message-ID: (<[^>]+>)", m).group(1)
                         .decode(), len(m)) for m in STAT_MSGS)
            t.expect(all(sizes[k] == want[v] for k, v in byid.items()),
                     "LIST sizes are the CRLF sizes: %r %r" % (sizes, byid))
            resp = p._shortcmd("LIST 2")
            t.expect(resp.split()[1:] == [b"2", str(sizes[2]).encode()],
                     "LIST 2: %r" % resp)
            u1 = uidls(p)
            t.expect(len(set(u1.values())) == 3, "unique UIDs: %r" % u1)
            t.expect(all(re.match(rb"^[\x21-\x7e]{1,70}$", u)
                         for u in u1.values()),
                     "UIDs of 1-70 printable characters: %r" % u1)
            resp = p._shortcmd("UIDL 3")
            t.expect(resp.split()[1:] == [b"3", u1[3]], "UIDL 3: %r" % resp)
            uid_by_mid = dict((byid[k], u1[k]) for k in u1)
            p.quit()
        finally:
            p.close_quietly()
        p = session(S, "stat")
        try:
            got = dict((v, uidls(p)[k]) for k, v in mids(p).items())
            t.expect(got == uid_by_mid, "the same UIDs next session: %r %r"
                     % (got, uid_by_mid))
            p.quit()
        finally:
            p.close_quietly()
        S.restart()
        p = session(S, "stat")
        try:
            got = dict((v, uidls(p)[k]) for k, v in mids(p).items())
            t.expect(got == uid_by_mid, "the same UIDs after a restart: "
                     "%r %r" % (got, uid_by_mid))
            p.quit()
        finally:
            p.close_quietly()

    RETR_MSG = msg(subject="dots", mid="<retr1@test.osms>",
                   body=".starts with a dot\r\n..two dots\r\n.\r\nplain line"
                        "\r\n. dot space\r\nlast line\r\n")
    S.deliver("retr", RETR_MSG)
    S.deliver("retr", msg(subject="crlf stored", mid="<retr2@test.osms>",
                          body="kept with CRLF on disk\r\n.\r\n"),
              keep_crlf=True, sizes=False)

    with case(t, "RETR: the message with CRLF line ends, dot-stuffed, the "
              "size LIST gave"):
        with raw_login(S, "retr") as r:
            line = r.cmd("LIST 1")
            size = int(line.split()[2]) if is_ok(line) else -1
            line = r.cmd("RETR 1")
            t.require(is_ok(line), "RETR 1: %r" % line)
            body = r.multi()
            t.expect(body == stuffed(RETR_MSG),
                     "dot-stuffed lines: %r" % body)
            plain = b"".join((x[1:] if x.startswith(b".") else x) + b"\r\n"
                             for x in body)
            t.expect(plain == RETR_MSG, "unstuffed: the message")
            t.expect(size == len(RETR_MSG), "LIST size %d = %d"
                     % (size, len(RETR_MSG)))
            line = r.cmd("RETR 2")
            body = r.multi() if is_ok(line) else []
            t.expect(b"".join((x[1:] if x.startswith(b".") else x) +
                              b"\r\n" for x in body) ==
                     msg(subject="crlf stored", mid="<retr2@test.osms>",
                         body="kept with CRLF on disk\r\n.\r\n"),
                     "a file stored with CRLF: %r" % body)
            t.expect(is_ok(r.cmd("QUIT")), "QUIT")

    TOP_MSG = msg(subject="top", mid="<top1@test.osms>",
                  body="one\r\ntwo\r\n.three\r\nfour\r\nfive\r\n")
    S.deliver("top", TOP_MSG)

    with case(t, "TOP n 0 and TOP n 3"):
        hdr, _, body = TOP_MSG.partition(b"\r\n\r\n")
        with raw_login(S, "top") as r:
            line = r.cmd("TOP 1 0")
            t.require(is_ok(line), "TOP 1 0: %r" % line)
            got = r.multi()
            t.expect(got == stuffed(hdr + b"\r\n\r\n"),
                     "the header and the blank line: %r" % got)
            line = r.cmd("TOP 1 3")
            t.require(is_ok(line), "TOP 1 3: %r" % line)
            got = r.multi()
            t.expect(got == stuffed(hdr + b"\r\n\r\none\r\ntwo\r\n.three"
                                    b"\r\n"),
                     "three body lines, dot-stuffed: %r" % got[-4:])
            line = r.cmd("TOP 1 100")
            got = r.multi() if is_ok(line) else None
            t.expect(got == stuffed(TOP_MSG), "TOP past the end: all")
            t.expect(is_err(r.cmd("TOP 2 0")), "TOP of a missing message")

    DELE_MSGS = [msg(subject="dele %d" % i, mid="<dele%d@test.osms>" % i)
                 for i in (1, 2, 3)]
    for m in DELE_MSGS:
        S.deliver("dele", m)

    with case(t, "DELE and RSET; DELE and QUIT removes the message, from "
              "IMAP too"):
        p = session(S, "dele")
        try:
            byid = mids(p)
            n1 = [k for k, v in byid.items() if v == "<dele1@test.osms>"][0]
            n2 = [k for k, v in byid.items() if v == "<dele2@test.osms>"][0]
            total = p.stat()
            t.expect(p.dele(n1).startswith(b"+OK"), "DELE")
            t.expect(p.stat()[0] == 2, "STAT leaves out the deleted one")
            for cmd in ("RETR %d" % n1, "LIST %d" % n1, "DELE %d" % n1,
                        "TOP %d 0" % n1, "UIDL %d" % n1):
                line = p._shortcmd_raw(cmd)
                t.expect(is_err(line), "%s of a deleted message: %r"
                         % (cmd, line))
            resp, lines, _ = p.list()
            t.expect(len(lines) == 2, "LIST leaves it out: %r" % lines)
            t.expect(p.rset().startswith(b"+OK"), "RSET")
            t.expect(p.stat() == total, "RSET undeletes")
            p.dele(n2)
            t.expect(p.quit().startswith(b"+OK"), "QUIT")
        finally:
            p.close_quietly()
        p = session(S, "dele")
        try:
            left = set(mids(p).values())
            t.expect(left == {"<dele1@test.osms>", "<dele3@test.osms>"},
                     "dele2 is gone: %r" % left)
            p.quit()
        finally:
            p.close_quietly()
        c = imap(S, "dele")
        try:
            c.select("INBOX", readonly=True)
            m = uid_map(c)
            t.expect(set(m) == {"<dele1@test.osms>", "<dele3@test.osms>"},
                     "IMAP does not see it either: %r" % m)
            c.logout()
        finally:
            c.close_quietly()
        files = []
        for sub in ("new", "cur"):
            d = os.path.join(S.maildir("dele"), sub)
            for n in os.listdir(d):
                with open(os.path.join(d, n), "rb") as f:
                    files.append(f.read())
        t.expect(not [x for x in files if b"<dele2@test.osms>" in x],
                 "and the file is gone")

    with case(t, "a second POP3 session of the same user: -ERR [IN-USE]"):
        S.deliver("inuse", msg(subject="in use"))
        a = session(S, "inuse")
        try:
            t.expect(a.stat()[0] == 1, "A logged in")
            with raw_pop3(S) as r:
                addr, pw = S.user("inuse")
                r.cmd("USER " + addr)
                # Dovecot waits ~10 s for the lock before it says so
                line = r.cmd("PASS " + pw, timeout_s=max(30, timeout()))
                t.expect(re.match(rb"-ERR \[IN-USE\]", line) is not None,
                         "B: -ERR [IN-USE]: %r" % line)
            a.quit()
        finally:
            a.close_quietly()
        b = wait_until(lambda: _try_login(S, "inuse"), 10)
        t.expect(b, "B logs in once A quit")
        if b:
            b.quit()

    with case(t, "NOOP; -ERR for bad commands and arguments, the session "
              "goes on"):
        S.deliver("misc", msg(subject="misc"))
        with raw_login(S, "misc") as r:
            t.expect(is_ok(r.cmd("NOOP")), "NOOP")
            for cmd in ("XYZZY", "RETR", "RETR 9", "RETR x", "RETR 0",
                        "RETR -1", "LIST 0", "LIST 99999999999999999999",
                        "TOP 1", "TOP 1 x", "DELE 9", "UIDL 9", "USER again",
                        "STLS", "AUTH PLAIN " + b64("\0a\0b")):
                line = r.cmd(cmd)
                t.expect(is_err(line), "%s: %r" % (cmd, line))
            t.expect(r.cmd("STAT").startswith(b"+OK 1 "), "still usable")

    # ---------------------------------------------------------------
    # Hostile input

    with case(t, "hostile: commands before login, a NUL byte, a 100 KB "
              "line"):
        # one connection each: a server may hang up after a few errors
        for cmd in ("STAT", "LIST", "RETR 1", "DELE 1", "PASS x", "UIDL",
                    "TOP 1 0"):
            with raw_pop3(S) as r:
                line = r.cmd(cmd)
                t.expect(is_err(line), "%s before login: %r" % (cmd, line))
        S.deliver("bad", msg(subject="bad"))
        with raw_login(S, "bad") as r:
            line = r.cmd("STAT\0 1")
            # RFC 1939 arguments are printable; Dovecot ignores from NUL
            t.expect(is_err(line) or (REFERENCE and is_ok(line)),
                     "a NUL in a command: %r" % line)
            line = r.cmd("RETR 1\0")
            t.expect(is_err(line) or (REFERENCE and is_ok(line)),
                     "a NUL after an argument: %r" % line)
            if is_ok(line):
                r.multi()
            t.expect(r.cmd("STAT").startswith(b"+OK"), "still usable")
            try:
                line = r.cmd("LIST " + "9" * 100000)
            except (EOFError, ConnectionError, ssl.SSLError):
                line = b"(closed)"
            # osms answers -ERR and reads on; Dovecot answers -ERR and
            # hangs up on the unread rest, and its reset can overtake
            # the -ERR
            t.expect(is_err(line) or (REFERENCE and line == b"(closed)"),
                     "a 100 KB line: %r" % line[:100])
            try:
                after = r.cmd("STAT", timeout_s=5)
            except (EOFError, ConnectionError, ssl.SSLError):  # closed
                after = b"(closed)"
            t.expect(after.startswith(b"+OK") or after == b"(closed)",
                     "then usable or closed: %r" % after[:100])

    # ---------------------------------------------------------------
    # Other clients

    CURL_MSGS = [msg(subject="curl %d" % i, mid="<curl%d@test.osms>" % i,
                     body="for curl\r\n" * i) for i in (1, 2)]
    for m in CURL_MSGS:
        S.deliver("curl", m)

    with case(t, "curl: pop3s:// lists (LIST) and retrieves"):
        t.require(shutil.which("curl"), "curl installed")
        addr, pw = S.user("curl")
        base = "pop3s://127.0.0.1:%d" % S.ports["pop3s"]
        p = run_tool(["curl", "-sS", "--max-time", "30", "--cacert",
                      S.tls["ca"], "--user", "%s:%s" % (addr, pw),
                      base + "/"])
        t.expect(p.returncode == 0, "curl LIST exit %d: %r"
                 % (p.returncode, p.stderr))
        listing = sorted(int(x.split()[1]) for x in
                         p.stdout.decode().splitlines() if x.strip())
        t.expect(listing == sorted(len(m) for m in CURL_MSGS),
                 "curl's LIST: %r" % p.stdout)
        got = set()
        for n in (1, 2):
            p = run_tool(["curl", "-sS", "--max-time", "30", "--insecure",
                          "--user", "%s:%s" % (addr, pw),
                          "%s/%d" % (base, n)])
            t.expect(p.returncode == 0, "curl RETR %d exit %d: %r"
                     % (n, p.returncode, p.stderr))
            got.add(crlf(p.stdout))
        t.expect(got == set(CURL_MSGS), "curl got both messages")

    FM_MSGS = [msg(subject="fetchmail %d" % i, mid="<fm%d@test.osms>" % i,
                   body=".dotted line\r\nbody %d\r\n" % i) for i in (1, 2, 3)]
    for m in FM_MSGS:
        S.deliver("fetchm", m)

    with case(t, "fetchmail pulls over pop3s into an MDA and deletes"):
        t.require(shutil.which("fetchmail"), "fetchmail installed")
        addr, pw = S.user("fetchm")
        wd = tempfile.mkdtemp(prefix="osms-fetchmail-")
        try:
            out = os.path.join(wd, "out")
            os.mkdir(out)
            rc = os.path.join(wd, "fetchmailrc")
            with open(rc, "w") as f:
                f.write('set no syslog\n'
                        'poll localhost with proto POP3 port %d timeout %d\n'
                        '  user "%s" there with password "%s" is root here\n'
                        '  options ssl sslcertck sslcertfile "%s" fetchall\n'
                        '  mda "/bin/sh -c \'cat > %s/msg.$$\'"\n'
                        % (S.ports["pop3s"], tool_limit(30) - 5, addr, pw,
                           S.tls["ca"], out))
            os.chmod(rc, 0o600)
            env = dict(os.environ, FETCHMAILHOME=wd, HOME=wd)
            p = run_tool(["fetchmail", "-f", rc, "--nodetach", "-v"],
                         limit=60, env=env)
            t.expect(p.returncode == 0, "fetchmail exit %d: %s" % (
                p.returncode, p.stderr.decode("utf-8", "replace")[-1500:]))
            got = {}
            for n in os.listdir(out):
                with open(os.path.join(out, n), "rb") as fh:
                    b = crlf(fh.read())
                # fetchmail puts its own Received: field first
                b = re.sub(rb"^Received: [^\r]*\r\n(?:[ \t][^\r]*\r\n)*",
                           b"", b)
                mm = re.search(rb"Message-ID: (<[^>]+>)", b)
                got[mm.group(1) if mm else n] = b
            want = dict((re.search(rb"Message-ID: (<[^>]+>)", m).group(1),
                         m) for m in FM_MSGS)
            t.expect(set(got) == set(want), "fetchmail got: %r"
                     % sorted(got))
            t.expect(all(got.get(k) == v for k, v in want.items()),
                     "the same messages: %r" % list(got.values())[:1])
            q = session(S, "fetchm")
            try:
                t.expect(q.stat()[0] == 0, "fetchmail deleted them")
                q.quit()
            finally:
                q.close_quietly()
        finally:
            shutil.rmtree(wd, ignore_errors=True)

    with case(t, "no process crashed or restarted"):
        time.sleep(0.5)
        rs = S.restarts()
        t.expect(all(v == 0 for v in rs.values()), "restarts: %r" % rs)
        rep = S.crash_report()
        t.expect(not rep, "a crash in the log:\n%s" % rep)

t.done()
