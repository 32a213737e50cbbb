#!/usr/bin/env python3
"""Attacks on IMAP and POP3 (SECURITY.md sections 2 and 4): STARTTLS
injection and plaintext logins (C1-C4), NUL bytes, literals, nesting,
AUTHENTICATE abuse, mailbox names that try to leave the Maildir, POP3
numbers (D1-D6), 4 GB literals (I3), slow clients (I4) and long lines.

Each probe checks the server's exact answer and then that it still
serves: a new client, from another address, logs in on IMAP and POP3 at
once. One osmsd for the whole file; no role may restart.
"""
import hashlib
import os
import random
import re
import resource
import socket
import ssl
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from osmstest import Tests, proc_children, RSS_SLACK_KB  # noqa: E402
from imaptest import *  # noqa: E402,F401,F403

t = Tests(__file__)

# alice: IMAP probes; bob: the victim of D5; pop: POP3 probes; fresh:
# the logins that prove the server still serves.
USERS_CONF = {"pop": 0, "fresh": 0, "big": 0}

_addr = [0]


def fresh_addr():
    """A client address no probe used before (127.0.10.0/23 and up):
    failed logins count per address in authd."""
    _addr[0] += 1
    n = _addr[0]
    return "127.0.%d.%d" % (10 + n // 200, 2 + n % 200)


def b64(b):
    import base64
    if isinstance(b, str):
        b = b.encode("utf-8")
    return base64.b64encode(b).decode("ascii")


def lines_until_close(r, limit=5.0):
    """Every line the server sends until it closes (or limit passes):
    (lines, closed)."""
    out = []
    deadline = time.monotonic() + limit
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return out, False
        try:
            out.append(r.line(left))
        except (EOFError, ConnectionResetError, ssl.SSLError):
            return out, True
        except socket.timeout:
            return out, False


def quiet_lines(r, seconds):
    """The lines that arrive within seconds (nothing is fine)."""
    out, _ = lines_until_close(r, seconds)
    return out


def client_hello(ctx):
    """The bytes of a TLS ClientHello, made without a socket."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="127.0.0.1")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def recv_all(sock, limit=5.0):
    """Bytes until EOF, a reset or limit seconds: (data, ended)."""
    data = b""
    deadline = time.monotonic() + limit
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return data, False
        sock.settimeout(left)
        try:
            b = sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return data, True
        except socket.timeout:
            return data, False
        if not b:
            return data, True
        data += b


def send_in_thread(sock, data):
    """sendall from a thread: the server may close before it has read
    everything, and its answer must still be read meanwhile."""
    def run():
        try:
            sock.sendall(data)
        except OSError:
            pass
    th = threading.Thread(target=run, daemon=True)
    th.start()
    return th


def send_until_answer(r, data, chunk=4096):
    """Send data in pieces over TLS until the server answers or stops
    reading (one thread: an SSL object is not shared between threads)."""
    import select
    for i in range(0, len(data), chunk):
        try:
            r.sock.sendall(data[i:i + chunk])
        except OSError:
            return
        if r.sock.pending() or select.select([r.sock], [], [], 0.05)[0]:
            return


def sessions():
    """The session processes (osms-session) now running."""
    out = []
    for pid in proc_children(S.o.proc.pid):
        try:
            with open("/proc/%d/comm" % pid) as f:
                if f.read().strip() == "osms-session":
                    out.append(pid)
        except OSError:
            pass
    return out


def status_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def session_of(local):
    """The pid of the (one) session process locked into local's
    Maildir."""
    want = S.maildir(local)
    found = [p for p in sessions()
             if os.readlink("/proc/%d/root" % p) == want]
    return found[0] if len(found) == 1 else None


def tree(path):
    """Every file and directory below path: {relative path: (kind, size,
    mtime_ns, sha256)}."""
    out = {}
    for dirpath, dirs, files in os.walk(path):
        for d in dirs:
            p = os.path.join(dirpath, d)
            st = os.lstat(p)
            out[os.path.relpath(p, path)] = ("d", 0, st.st_mtime_ns, "")
        for f in files:
            p = os.path.join(dirpath, f)
            st = os.lstat(p)
            with open(p, "rb") as fh:
                h = hashlib.sha256(fh.read()).hexdigest()
            out[os.path.relpath(p, path)] = ("f", st.st_size,
                                             st.st_mtime_ns, h)
    return out


def served(what):
    """A new client from an address of its own logs in on IMAP (993) and
    POP3 (995), both within a few seconds."""
    t0 = time.monotonic()
    c = imap(S, "fresh", source=fresh_addr())
    try:
        t.expect(c.noop()[0] == "OK", "%s: IMAP NOOP" % what)
        c.logout()
    finally:
        c.close_quietly()
    p = pop3(S, "fresh", source=fresh_addr())
    try:
        t.expect(p.stat()[0] >= 0, "%s: POP3 STAT" % what)
        p.quit()
    finally:
        p.close_quietly()
    el = time.monotonic() - t0
    t.expect(el < 5, "%s: a new client served at once (%.2fs)" % (what, el))


def still_usable(r, what):
    st, line, _ = r.cmd("NOOP")
    t.expect(st == "OK", "%s: the session goes on: %r" % (what, line))


def expect_tagged(r, tag, want, what):
    """The next tagged reply of tag is exactly want (bytes after the
    tag); untagged lines before it are returned."""
    st, line, un = r.wait(tag)
    t.expect(line == tag.encode() + b" " + want,
             "%s: %r, want %r" % (what, line, want))
    return un


if hasattr(resource, "RLIMIT_NOFILE"):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096 <= hard or (hard == resource.RLIM_INFINITY and
                               soft < 4096):
        resource.setrlimit(resource.RLIMIT_NOFILE, (4096, hard))


with Server(USERS_CONF) as S:
    t.require(S.is_osms, "these probes check osms's own answers")
    CTX = client_ctx(S)
    for who in ("alice", "bob", "fresh"):
        S.deliver(who, msg(subject="for %s" % who,
                           mid="<%s-1@test.osms>" % who))
    S.deliver("pop", msg(subject="pop one", mid="<pop1@test.osms>"))
    S.deliver("pop", msg(subject="pop two", mid="<pop2@test.osms>",
                         body=".dot\r\nline\r\n"))

    # ---------------------------------------------------------------
    # C1, C2: plaintext pipelined behind STARTTLS / STLS

    def injection(port, starttls, inject, ok_line, bad_lines, answers):
        """The four ways of C2. answers: bytes that only an answer to
        the injected command would hold."""
        def never_answered(data, how):
            for a in answers:
                t.expect(a not in data, "%s: the injected command was "
                         "answered: %r" % (how, data[:300]))

        # 1. one segment: the server sees the rest at once and ends
        with Raw(port, None, fresh_addr()) as r:
            r.line()
            r.send(starttls + inject)
            got, closed = lines_until_close(r)
            t.expect(got == bad_lines and closed,
                     "same segment: %r closed=%s" % (got, closed))
            never_answered(b"\n".join(got), "same segment")
        # 2. its own segment, sent at once: the server either sees it
        # with the command, or takes it for the start of the handshake
        with Raw(port, None, fresh_addr()) as r:
            r.line()
            r.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            r.send(starttls)
            r.send(inject)
            data, ended = recv_all(r.sock)
            data = r.buf + data
            t.expect(ended, "own segment: the session ends")
            t.expect(data in (b"\r\n".join(bad_lines) + b"\r\n",
                              ok_line + b"\r\n") or
                     (data.startswith(ok_line + b"\r\n\x15")),
                     "own segment: %r" % data[:300])
            never_answered(data, "own segment")
        # 3. its own segment after the OK: taken as TLS, which fails
        with Raw(port, None, fresh_addr()) as r:
            r.line()
            r.send(starttls)
            t.expect(r.line() == ok_line, "the OK to start TLS")
            r.send(inject)
            data, ended = recv_all(r.sock)
            t.expect(ended and (data == b"" or data.startswith(b"\x15")),
                     "after the OK: a TLS alert or nothing, then the end:"
                     " %r" % data[:100])
            never_answered(data, "after the OK")
        # 4. glued to the ClientHello
        with Raw(port, None, fresh_addr()) as r:
            r.line()
            r.send(starttls)
            t.expect(r.line() == ok_line, "the OK to start TLS")
            r.send(inject + client_hello(CTX))
            data, ended = recv_all(r.sock)
            t.expect(ended and (data == b"" or data.startswith(b"\x15")),
                     "glued to the ClientHello: a TLS alert or nothing, "
                     "then the end: %r" % data[:100])
            never_answered(data, "glued")

    with case(t, "C1/C2 imap 143: a command pipelined after STARTTLS (same "
              "segment, own segment, after the OK, glued to the "
              "ClientHello) is never answered and ends the session"):
        injection(S.ports["imap"], b"a STARTTLS\r\n",
                  b"b CAPABILITY\r\nc LOGIN alice@example.test alice-pw"
                  b"\r\n",
                  b"a OK Begin TLS negotiation now",
                  [b"a BAD Command pipelined after STARTTLS",
                   b"* BYE Closing"],
                  (b"b OK", b"b BAD", b"b NO", b"* CAPABILITY", b"c OK",
                   b"c NO", b"c BAD"))
        t.expect(wait_until(lambda: re.search(
            r"imapd from=127\.0\.\d+\.\d+ sent data after STARTTLS; "
            r"closing", S.log())), "logged")
        served("C1 imap")

    with case(t, "C1/C2 pop3 110: a command pipelined after STLS (same "
              "segment, own segment, after the OK, glued to the "
              "ClientHello) is never answered and ends the session"):
        injection(S.ports["pop3"], b"STLS\r\n",
                  b"CAPA\r\nUSER pop@example.test\r\nPASS pop-pw\r\n",
                  b"+OK Begin TLS negotiation",
                  [b"-ERR Command pipelined after STLS; closing"],
                  (b"Capability", b"+OK\r\n", b"Logged in", b"[AUTH]"))
        t.expect(wait_until(lambda: re.search(
            r"imapd from=127\.0\.\d+\.\d+ sent data after STLS; closing",
            S.log())), "logged")
        served("C1 pop3")

    # ---------------------------------------------------------------
    # C3: STARTTLS twice, where it makes no sense, state across it

    with case(t, "C3 imap: STARTTLS twice or on 993 is BAD; the "
              "capabilities before and after the handshake"):
        r = Raw(S.ports["imap"], None, fresh_addr())
        try:
            greet = r.line()
            t.expect(greet == b"* OK [CAPABILITY IMAP4rev2 IMAP4rev1 "
                     b"SASL-IR LITERAL+ ID ENABLE IDLE STARTTLS "
                     b"LOGINDISABLED] osms IMAP ready", "greeting %r"
                     % greet)
            st, line, _ = r.cmd("STARTTLS")
            t.require(line == b"R1 OK Begin TLS negotiation now",
                      "STARTTLS: %r" % line)
            r.starttls(CTX)
            st, line, un = r.cmd("CAPABILITY")
            t.expect(un == [b"* CAPABILITY IMAP4rev2 IMAP4rev1 SASL-IR "
                            b"LITERAL+ ID ENABLE IDLE AUTH=SCRAM-SHA-256 "
                            b"AUTH=PLAIN AUTH=LOGIN"],
                     "after TLS: AUTH=, no STARTTLS, no LOGINDISABLED: "
                     "%r" % un)
            st, line, _ = r.cmd("STARTTLS")
            t.expect(line == b"R3 BAD STARTTLS not available",
                     "STARTTLS inside TLS: %r" % line)
            st, line, _ = r.cmd('LOGIN "alice@example.test" "alice-pw"')
            t.expect(st == "OK", "LOGIN after the handshake: %r" % line)
            st, line, _ = r.cmd("STARTTLS")
            t.expect(line == b"R5 BAD unknown command" or
                     line.startswith(b"R5 BAD "),
                     "STARTTLS after the login: %r" % line)
            still_usable(r, "STARTTLS after login")
        finally:
            r.close()
        with raw_imap(S, source=fresh_addr()) as r:
            st, line, _ = r.cmd("STARTTLS")
            t.expect(line == b"R1 BAD STARTTLS not available",
                     "STARTTLS on 993: %r" % line)
        served("C3 imap")

    with case(t, "C3 pop3: STLS twice or on 995 is -ERR; CAPA before and "
              "after the handshake"):
        r = RawPop3(S.ports["pop3"], None, fresh_addr())
        try:
            r.line()
            line = r.cmd("STLS")
            t.require(line == b"+OK Begin TLS negotiation", "STLS: %r"
                      % line)
            r.starttls(CTX)
            t.expect(r.cmd("CAPA") == b"+OK Capability list follows",
                     "CAPA")
            caps = r.multi()
            t.expect(caps == [b"TOP", b"UIDL", b"RESP-CODES",
                              b"AUTH-RESP-CODE", b"PIPELINING", b"USER",
                              b"SASL SCRAM-SHA-256 PLAIN LOGIN",
                              b"IMPLEMENTATION osms"],
                     "CAPA inside TLS: %r" % caps)
            line = r.cmd("STLS")
            t.expect(line == b"-ERR STLS not available",
                     "STLS inside TLS: %r" % line)
            t.expect(r.cmd("USER pop@example.test") == b"+OK", "USER")
            line = r.cmd("PASS pop-pw")
            t.expect(line == b"+OK Logged in.", "PASS: %r" % line)
            line = r.cmd("STLS")
            t.expect(line == b"-ERR Already logged in",
                     "STLS after the login: %r" % line)
            t.expect(r.cmd("QUIT").startswith(b"+OK"), "QUIT")
        finally:
            r.close()
        with RawPop3(S.ports["pop3s"], CTX, fresh_addr()) as r:
            r.line()
            line = r.cmd("STLS")
            t.expect(line == b"-ERR STLS not available", "STLS on 995: %r"
                     % line)
        served("C3 pop3")

    # ---------------------------------------------------------------
    # C4: no password in the clear

    with case(t, "C4 imap 143: LOGINDISABLED and no AUTH= before TLS; "
              "LOGIN and AUTHENTICATE are NO [PRIVACYREQUIRED], nothing "
              "reaches authd"):
        addr = fresh_addr()
        with Raw(S.ports["imap"], None, addr) as r:
            r.line()
            st, line, un = r.cmd("CAPABILITY")
            caps = un[0].split() if un else []
            t.expect(b"LOGINDISABLED" in caps and
                     not [c for c in caps if c.startswith(b"AUTH=")],
                     "capabilities in clear: %r" % un)
            st, line, _ = r.cmd('LOGIN "alice@example.test" "alice-pw"')
            t.expect(line == b"R2 NO [PRIVACYREQUIRED] LOGIN only after "
                     b"STARTTLS", "LOGIN: %r" % line)
            st, line, _ = r.cmd("AUTHENTICATE PLAIN " + b64(
                "\0alice@example.test\0alice-pw"))
            t.expect(line == b"R3 NO [PRIVACYREQUIRED] AUTHENTICATE only "
                     b"after STARTTLS", "AUTHENTICATE: %r" % line)
            st, line, _ = r.cmd("AUTHENTICATE PLAIN")
            t.expect(line == b"R4 NO [PRIVACYREQUIRED] AUTHENTICATE only "
                     b"after STARTTLS", "AUTHENTICATE, no IR: %r" % line)
            st, line, _ = r.cmd("SELECT INBOX")
            t.expect(line == b"R5 BAD Log in first", "SELECT: %r" % line)
        time.sleep(0.3)
        t.expect("client=%s " % addr not in S.log(),
                 "authd never saw a login from %s" % addr)
        served("C4 imap")

    with case(t, "C4 pop3 110: no USER and no SASL before STLS; USER, PASS "
              "and AUTH are -ERR [AUTH], nothing reaches authd"):
        addr = fresh_addr()
        with RawPop3(S.ports["pop3"], None, addr) as r:
            r.line()
            t.expect(r.cmd("CAPA") == b"+OK Capability list follows",
                     "CAPA")
            caps = r.multi()
            t.expect(b"STLS" in caps and b"USER" not in caps and
                     not [c for c in caps if c.startswith(b"SASL")],
                     "CAPA in clear: %r" % caps)
            want = b"-ERR [AUTH] Plaintext authentication disallowed; use STLS"
            for cmd in ("USER pop@example.test", "PASS pop-pw",
                        "AUTH PLAIN " + b64("\0pop@example.test\0pop-pw"),
                        "AUTH PLAIN"):
                line = r.cmd(cmd)
                t.expect(line == want, "%s: %r" % (cmd.split()[0], line))
            t.expect(r.cmd("STAT") == b"-ERR Not logged in", "STAT")
        time.sleep(0.3)
        t.expect("client=%s " % addr not in S.log(),
                 "authd never saw a login from %s" % addr)
        served("C4 pop3")

    # ---------------------------------------------------------------
    # D1: NUL bytes in every string position

    NUL_LINE = b"BAD NUL byte in command line"
    NUL_LIT = b"BAD NUL byte in literal"

    with case(t, "D1 before the login: a NUL in the tag, the command, "
              "LOGIN's user and password, a literal, ID and AUTHENTICATE "
              "is BAD"):
        probes = [
            (b"a\0 NOOP", b"* " + NUL_LINE),
            (b"a NO\0OP", b"a " + NUL_LINE),
            (b'a LOGIN "al\0ice@example.test" "alice-pw"', b"a " +
             NUL_LINE),
            (b'a LOGIN "alice@example.test" "alice\0-pw"', b"a " +
             NUL_LINE),
            (b"a LOGIN al\0ice alice-pw", b"a " + NUL_LINE),
            (b'a ID ("name" "x\0y")', b"a " + NUL_LINE),
            (b"a AUTHENTICATE PL\0AIN", b"a " + NUL_LINE),
            (b"a AUTHENTICATE PLAIN " + b64("\0alice@example.test\0x")
             .encode() + b"\0", b"a " + NUL_LINE),
        ]
        with raw_imap(S, source=fresh_addr()) as r:
            for line, want in probes[:5]:
                r.send(line + b"\r\n")
                got = r.line()
                t.expect(got == want, "%r: %r" % (line, got))
        with raw_imap(S, source=fresh_addr()) as r:
            for line, want in probes[5:]:
                r.send(line + b"\r\n")
                got = r.line()
                t.expect(got == want, "%r: %r" % (line, got))
            # a NUL in a literal user name: asked for, then refused
            r.send(b"b LOGIN {5}\r\n")
            t.expect(r.line() == b"+ OK", "continuation for {5}")
            r.send(b"al\0ce {8}\r\n")
            got = r.line()
            t.expect(got == b"b " + NUL_LIT, "NUL in a literal: %r" % got)
            # a NUL in a SASL response line
            r.send(b"c AUTHENTICATE PLAIN\r\n")
            t.expect(r.line() == b"+ ", "continuation")
            r.send(b64("\0alice@example.test\0x").encode() + b"\0\r\n")
            got = r.line()
            t.expect(got == b"c BAD Invalid base64 response",
                     "NUL in a SASL response: %r" % got)
            still_usable(r, "D1 before login")
        served("D1 before login")

    with case(t, "D1 after the login: a NUL in each mailbox, pattern, "
              "flag, header, search string, APPEND part and literal is "
              "BAD; the session goes on"):
        line_probes = [
            b'SELECT "IN\0BOX"', b"SELECT IN\0BOX", b'EXAMINE "INBOX\0"',
            b'CREATE "a\0b"', b'DELETE "a\0b"', b'RENAME "a\0b" "c"',
            b'RENAME "INBOX" "c\0d"', b'SUBSCRIBE "a\0b"',
            b'LIST "\0" "*"', b'LIST "" "*\0"', b'LSUB "" "\0*"',
            b'STATUS "IN\0BOX" (MESSAGES)', b"STATUS INBOX (MESS\0AGES)",
            b'APPEND "IN\0BOX" {3+}\r\nabc',
            b"APPEND INBOX (\\Se\0en) {3+}\r\nabc",
            b'APPEND INBOX "01-Jan-2026 00:00:\0 +0000" {3+}\r\nabc',
            b"ENABLE CONDSTORE\0", b'ID ("na\0me" "x")',
            b"GETQUOTAROOT \"IN\0BOX\"", b"NAMESPACE\0",
        ]
        selected = [
            b"FETCH 1 (FLAGS\0)", b"FETCH 1 BODY.PEEK[HEADER.FIELDS "
            b"(SUB\0JECT)]", b"SEARCH HEADER \"Subject\" \"a\0b\"",
            b"SEARCH CHARSET \"UTF\0-8\" ALL", b"SEARCH SUBJECT x\0y",
            b"STORE 1 +FLAGS (\\Se\0en)", b"STORE 1 +FLAGS (key\0word)",
            b'COPY 1 "Tr\0ash"', b'MOVE 1 "Tr\0ash"',
            b"UID FETCH 1\0 FLAGS", b"SORT (DATE) UTF-8 SUBJECT \"a\0\"",
            b"THREAD REFERENCES UTF-8 SUBJECT \"\0\"",
        ]
        literal_probes = [
            # the literal is taken (and not run), the command refused
            (b'SELECT {5+}\r\nIN\0BO\r\n', NUL_LIT),
            (b"SEARCH SUBJECT {3+}\r\na\0b\r\n", NUL_LIT),
            (b"APPEND INBOX {8+}\r\nab\0cd\r\nx\r\n", NUL_LIT),
            (b"LIST {1+}\r\n\0 *\r\n", NUL_LIT),
            (b'RENAME "x" {2+}\r\n\0x\r\n', NUL_LIT),
        ]
        with raw_imap(S, "alice", source=fresh_addr()) as r:
            n = 0
            for cmd in line_probes:
                n += 1
                tag = "N%d" % n
                r.send(tag.encode() + b" " + cmd + b"\r\n")
                expect_tagged(r, tag, NUL_LINE, repr(cmd))
            st, line, _ = r.cmd("SELECT INBOX")
            t.require(st == "OK", "SELECT: %r" % line)
            for cmd in selected:
                n += 1
                tag = "N%d" % n
                r.send(tag.encode() + b" " + cmd + b"\r\n")
                expect_tagged(r, tag, NUL_LINE, repr(cmd))
            for cmd, want in literal_probes:
                n += 1
                tag = "N%d" % n
                r.send(tag.encode() + b" " + cmd)
                un = expect_tagged(r, tag, want, repr(cmd))
                t.expect(not un, "%r: nothing else: %r" % (cmd, un))
            # a NUL in a synchronizing literal: asked for, then refused
            n += 1
            r.send(b"N%d APPEND INBOX {6}\r\n" % n)
            t.expect(r.line() == b"+ OK", "continuation")
            r.send(b"a\0b\r\nc\r\n")
            expect_tagged(r, "N%d" % n, NUL_LIT, "NUL in {6}")
            # literal8 may hold NUL: the one place it is data
            n += 1
            st, line, _ = r.cmd("APPEND INBOX ~{12+}\r\nSubject: \0x\r\n")
            t.expect(st == "OK" and b"APPENDUID" in line,
                     "a NUL in literal8 is stored: %r" % line)
            still_usable(r, "D1 after login")
            st, line, un = r.cmd("STATUS INBOX (MESSAGES)")
            t.expect(un == [b"* STATUS INBOX (MESSAGES 2)"],
                     "only the literal8 message was stored: %r" % un)
        served("D1 after login")

    # ---------------------------------------------------------------
    # D2, I3: literal sizes

    with case(t, "D2/I3 before the login: {4294967296} and {5000} are BAD "
              "[TOOBIG] at once; {5000+} is BYE and its bytes are never "
              "run"):
        with raw_imap(S, source=fresh_addr()) as r:
            # past the 16 MB of a whole command, the reader refuses; past
            # the 4 KB of a user name or password, the login does
            for size, want in (
                    (b"4294967296", b"a BAD [TOOBIG] command too long"),
                    (b"18446744073709551616",
                     b"a BAD [TOOBIG] command too long"),
                    (b"99999999999999999999999",
                     b"a BAD [TOOBIG] command too long"),
                    (b"5000", b"a BAD [TOOBIG] Literal too big before "
                     b"login"),
                    (b"4097", b"a BAD [TOOBIG] Literal too big before "
                     b"login")):
                r.send(b"a LOGIN {" + size + b"}\r\n")
                got = r.line()
                t.expect(got == want, "{%s}: %r" % (size.decode(), got))
            still_usable(r, "{5000}")
            # the literal is 4096 bytes at most: that one is asked for
            r.send(b"b LOGIN {4096}\r\n")
            t.expect(r.line() == b"+ OK", "{4096} is read")
            r.send(b"x" * 4096 + b" y\r\n")
            got = r.line()
            t.expect(got == b"b NO [AUTHENTICATIONFAILED] Authentication "
                     b"failed", "{4096}: %r" % got)
        inject = (b"X1 CAPABILITY\r\nX2 LOGIN fresh@example.test fresh-pw"
                  b"\r\nX3 ID NIL\r\n") * 200
        with raw_imap(S, source=fresh_addr()) as r:
            r.send(b"a LOGIN {5000+}\r\n" + inject[:5000] + b" x\r\n")
            got, closed = lines_until_close(r)
            t.expect(got == [b"* BYE Literal too big before login"] and
                     closed, "{5000+}: %r closed=%s" % (got[:5], closed))
        served("D2 before login")

    with case(t, "D2/I3 after the login: APPEND {4294967296} and larger are "
              "NO [TOOBIG] without a continuation; non-synchronizing ones "
              "end the session; other literals of 4 GB are BAD [TOOBIG]"):
        with raw_imap(S, "alice", source=fresh_addr()) as r:
            pid = session_of("alice")
            t.require(pid is not None, "alice's session process")
            for size in (b"4294967296", b"4294967297", b"67108865",
                         b"18446744073709551615", b"18446744073709551616",
                         b"99999999999999999999999"):
                r.send(b"a APPEND INBOX {" + size + b"}\r\n")
                got = r.line()
                t.expect(got == b"a NO [TOOBIG] message too big",
                         "APPEND {%s}: %r" % (size.decode(), got))
            for cmd in (b"SELECT {4294967296}", b"SELECT {16777217}",
                        b'STATUS {4294967296}', b"LIST {4294967296}"):
                r.send(b"b " + cmd + b"\r\n")
                got = r.line()
                t.expect(got == b"b BAD [TOOBIG] command too long",
                         "%r: %r" % (cmd, got))
            still_usable(r, "4 GB literals")
            t.expect(status_kb(pid, "VmHWM") < 32 * 1024 + RSS_SLACK_KB,
                     "nothing allocated: peak RSS %d kB"
                     % status_kb(pid, "VmHWM"))
        for size in (b"4294967297", b"4294967296", b"67108865"):
            with raw_imap(S, "alice", source=fresh_addr()) as r:
                r.send(b"c APPEND INBOX {" + size + b"+}\r\n" +
                       b"X1 CAPABILITY\r\n" * 10)
                got, closed = lines_until_close(r)
                t.expect(got == [b"c NO [TOOBIG] message too big",
                                 b"* BYE Cannot continue after that"] and
                         closed, "{%s+}: %r closed=%s"
                         % (size.decode(), got, closed))
        served("D2 after login")

    with case(t, "D2 after the login: a {5000+} literal is data, never "
              "commands, in SELECT, SEARCH and LOGIN"):
        inject = (b"X1 CAPABILITY\r\nX2 LOGOUT\r\nX3 DELETE INBOX\r\n"
                  * 200)[:5000]
        with raw_imap(S, "alice", source=fresh_addr()) as r:
            r.send(b"a SELECT {5000+}\r\n" + inject + b"\r\n")
            un = expect_tagged(r, "a", b"BAD mailbox name too long",
                               "SELECT {5000+}")
            t.expect(not un, "nothing else: %r" % un)
            st, line, _ = r.cmd("SELECT INBOX")
            t.require(st == "OK", "SELECT: %r" % line)
            r.send(b"b SEARCH SUBJECT {5000+}\r\n" + inject + b"\r\n")
            un = expect_tagged(r, "b", b"OK SEARCH completed",
                               "SEARCH {5000+}")
            t.expect(un == [b"* SEARCH"], "SEARCH: %r" % un)
            r.send(b"c LOGIN {5000+}\r\n" + inject + b" {1+}\r\nx\r\n")
            un = expect_tagged(r, "c", b"BAD Already logged in",
                               "LOGIN {5000+}")
            t.expect(not un, "nothing else: %r" % un)
            extra = quiet_lines(r, 0.5)
            t.expect(extra == [], "no answer to the literal's lines: %r"
                     % extra)
            still_usable(r, "{5000+}")
        served("D2 {5000+}")

    with case(t, "D2 a 20 MB APPEND is streamed to a file: the session's "
              "memory stays small"):
        with raw_imap(S, "big", source=fresh_addr()) as r:
            pid = session_of("big")
            t.require(pid is not None, "the session process")
            before = status_kb(pid, "VmHWM")
            body = (b"x" * 998 + b"\r\n") * (20 * 1024)
            m = msg(subject="twenty", mid="<twenty@test.osms>", body=body)
            r.send(b"a APPEND INBOX {%d+}\r\n" % len(m))
            r.sock.sendall(m + b"\r\n")
            st, line, _ = r.wait("a", timeout_s=60)
            t.expect(st == "OK", "APPEND: %r" % line)
            peak = status_kb(pid, "VmHWM")
            t.diag("session peak RSS %d kB before, %d kB after a %d MB "
                   "APPEND" % (before, peak, len(m) >> 20))
            t.expect(peak - before < 16 * 1024 + RSS_SLACK_KB,
                     "peak RSS grew by %d kB" % (peak - before))
        served("D2 20 MB")

    # ---------------------------------------------------------------
    # D3: nesting

    with case(t, "D3 100k '(' before the login: BYE line too long; 1000 "
              "'(' is BAD, imapd's memory bounded"):
        imapd = S.o.pid("imapd")
        before = status_kb(imapd, "VmRSS")
        with Raw(S.ports["imap"], None, fresh_addr()) as r:
            r.line()
            th = send_in_thread(r.sock, b"a ID " + b"(" * 100000 + b"\r\n")
            got, closed = lines_until_close(r)
            th.join(10)
            t.expect(got == [b"* BYE line too long"] and closed,
                     "100k '(': %r closed=%s" % (got, closed))
        with raw_imap(S, source=fresh_addr()) as r:
            for cmd in (b"a ID " + b"(" * 1000, b"a ID " + b"(" * 65 +
                        b'"x" "y"' + b")" * 65,
                        b"a LOGIN " + b"(" * 5000 + b" x"):
                r.send(cmd + b"\r\n")
                got = r.line()
                t.expect(got == b"a BAD lists nested too deeply",
                         "%r...: %r" % (cmd[:12], got))
            st, line, _ = r.cmd('ID ("name" ("nested" "list"))')
            t.expect(st == "BAD" or st == "OK", "ID: %r" % line)
            still_usable(r, "nesting before login")
        after = status_kb(imapd, "VmRSS")
        t.expect(after - before < 4096 + RSS_SLACK_KB, "imapd RSS %d -> %d kB"
                 % (before, after))
        served("D3 before login")

    with case(t, "D3 after the login: 100k '(' in SEARCH and FETCH is BAD "
              "[TOOBIG], 60k is BAD (too deep); the session's memory "
              "bounded"):
        with raw_imap(S, "alice", source=fresh_addr()) as r:
            pid = session_of("alice")
            t.require(pid is not None, "the session process")
            st, line, _ = r.cmd("SELECT INBOX")
            t.require(st == "OK", "SELECT: %r" % line)
            for verb in (b"SEARCH ", b"FETCH 1 ", b"UID SEARCH ",
                         b"SORT (DATE) UTF-8 "):
                r.send(b"a " + verb + b"(" * 100000 + b"\r\n")
                expect_tagged(r, "a", b"BAD [TOOBIG] Command line too long",
                              "%r 100k" % verb)
                r.send(b"b " + verb + b"(" * 60000 + b"ALL" + b")" * 3000 +
                       b"\r\n")
                expect_tagged(r, "b", b"BAD lists nested too deeply",
                              "%r 60k" % verb)
                r.send(b"c " + verb + b"(" * 65 + b"ALL" + b")" * 65 +
                       b"\r\n")
                expect_tagged(r, "c", b"BAD lists nested too deeply",
                              "%r 65" % verb)
            st, line, un = r.cmd("SEARCH " + "(" * 60 + "ALL" + ")" * 60)
            t.expect(st == "OK", "60 deep is fine: %r" % line)
            still_usable(r, "nesting after login")
            peak = status_kb(pid, "VmHWM")
            t.expect(peak < 32 * 1024 + RSS_SLACK_KB,
                     "session peak RSS %d kB" % peak)
        served("D3 after login")

    # ---------------------------------------------------------------
    # D4: AUTHENTICATE

    with case(t, "D4 AUTHENTICATE: '*', bad base64 (initial and in the "
              "exchange), a 64 KB line, an unknown mechanism, an empty "
              "response"):
        with raw_imap(S, source=fresh_addr()) as r:
            r.send(b"a AUTHENTICATE PLAIN\r\n")
            t.expect(r.line() == b"+ ", "continuation")
            r.send(b"*\r\n")
            t.expect(r.line() == b"a BAD AUTHENTICATE cancelled", "'*'")
            r.send(b"b AUTHENTICATE PLAIN\r\n")
            r.line()
            r.send(b"!!!!\r\n")
            t.expect(r.line() == b"b BAD Invalid base64 response",
                     "bad base64 in the exchange")
            r.send(b"c AUTHENTICATE PLAIN !!!!\r\n")
            t.expect(r.line() == b"c BAD invalid initial response",
                     "bad base64 as the initial response")
            r.send(b"d AUTHENTICATE X-UNKNOWN\r\n")
            t.expect(r.line() == b"d NO [CANNOT] Unsupported "
                     b"authentication mechanism", "unknown mechanism")
            r.send(b"e AUTHENTICATE " + b"P" * 100 + b"\r\n")
            got = r.line()
            t.expect(got == b"e BAD AUTHENTICATE needs a mechanism",
                     "a mechanism name over 20 bytes: %r" % got)
            r.send(b"f AUTHENTICATE SCRAM-SHA-256\r\n")
            t.expect(r.line() == b"+ ", "SCRAM continuation")
            r.send(b"\r\n")
            got = r.line()
            t.expect(got == b"f NO [AUTHENTICATIONFAILED] Authentication "
                     b"failed", "an empty SCRAM first message: %r" % got)
            still_usable(r, "AUTHENTICATE errors")
        with raw_imap(S, source=fresh_addr()) as r:
            r.send(b"a AUTHENTICATE PLAIN\r\n")
            t.expect(r.line() == b"+ ", "continuation")
            send_until_answer(r, b"A" * 65536 + b"\r\n")
            got, closed = lines_until_close(r)
            t.expect(got == [b"* BYE line too long"] and closed,
                     "a 64 KB response: %r closed=%s" % (got, closed))
        served("D4 errors")

    with case(t, "D4 clients that hang up in the middle of AUTHENTICATE do "
              "not stop other logins"):
        imapd, authd = S.o.pid("imapd"), S.o.pid("authd")
        errs = []

        def login_ok(i):
            try:
                c = imap(S, "fresh", source=fresh_addr())
                c.logout()
            except Exception as e:
                errs.append("login %d: %r" % (i, e))
        socks = []
        for i in range(30):
            r = raw_imap(S, source=fresh_addr())
            r.send(b"a AUTHENTICATE PLAIN\r\n")
            if r.line() != b"+ ":
                errs.append("no continuation %d" % i)
            if i % 3 == 1:
                # a wrong password in flight, then gone
                r.send(b64("\0nobody%d@example.test\0x" % i).encode() +
                       b"\r\n")
            if i % 3 != 2:
                r.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                  b"\1\0\0\0\0\0\0\0")
                r.close()
            else:
                socks.append(r)     # silent, mid-exchange
        ths = [threading.Thread(target=login_ok, args=(i,))
               for i in range(5)]
        for th in ths:
            th.start()
        for th in ths:
            th.join(30)
        t.expect(not errs, "; ".join(errs))
        for r in socks:
            r.close()
        time.sleep(0.5)
        t.expect(S.o.pid("imapd") == imapd and S.o.pid("authd") == authd,
                 "imapd and authd kept running")
        served("D4 hang-ups")

    # ---------------------------------------------------------------
    # D5: another user's mail

    with case(t, "D5 alice cannot reach bob's mail: ../bob, %2e%2e, ~bob, "
              "absolute paths and modified UTF-7 tricks are NO or BAD; "
              "bob's Maildir is untouched"):
        bob = S.maildir("bob")
        before = tree(bob)
        domain = os.path.dirname(bob)
        top_before = sorted(os.listdir(domain))
        root_before = sorted(os.listdir(S.mail_root))
        invalid = b"NO [CANNOT] invalid mailbox name"
        missing = b"NO [NONEXISTENT] no such mailbox"
        names = {
            "../bob": invalid, "../../example.test/bob": invalid,
            "..": invalid, ".bob": invalid, "..bob": invalid,
            "INBOX..bob": invalid, "/": invalid, bob: invalid,
            "/etc/passwd": invalid, "\\..\\bob": invalid,
            "%2e%2e/bob": b"BAD wildcard in mailbox name",
            "*": b"BAD wildcard in mailbox name",
            # "..", "../" and "/" written in modified UTF-7
            "&AC4ALg-": b"BAD modified UTF-7: ASCII encoded",
            "&AC4ALgAv-bob": b"BAD modified UTF-7: ASCII encoded",
            "&AC8-bob": b"BAD modified UTF-7: ASCII encoded",
            # U+2F2F, whose bytes spell "//": a name like any other
            "&Ly8-": missing,
            "~bob": missing,
        }
        with raw_imap(S, "alice", source=fresh_addr()) as r:
            st, line, un = r.cmd('LIST "" "*"')
            own = set(x.rsplit(b" ", 1)[1] for x in un)
            t.require(st == "OK" and b"INBOX" in own, "alice's folders: %r"
                      % un)
            for name, want in sorted(names.items()):
                q = '"' + name.replace("\\", "\\\\") + '"'
                for verb in ("SELECT", "EXAMINE", "DELETE"):
                    st, line, _ = r.cmd("%s %s" % (verb, q))
                    t.expect(line.split(b" ", 1)[1] == want,
                             "%s %s: %r" % (verb, name, line))
                st, line, _ = r.cmd("STATUS %s (MESSAGES)" % q)
                t.expect(line.split(b" ", 1)[1] == want,
                         "STATUS %s: %r" % (name, line))
                st, line, _ = r.cmd("APPEND %s {3+}\r\nabc" % q)
                t.expect(line.split(b" ", 1)[1] ==
                         (b"NO [TRYCREATE] No such folder"
                          if want == missing else want),
                         "APPEND %s: %r" % (name, line))
                if want != missing:
                    # a valid name would take alice's INBOX along
                    st, line, _ = r.cmd("RENAME INBOX %s" % q)
                    t.expect(st in ("NO", "BAD"), "RENAME INBOX %s: %r"
                             % (name, line))
                for args in ('%s "*"' % q, '"" %s' % q, '%s "%%"' % q):
                    st, line, un = r.cmd("LIST " + args)
                    got = set(x.rsplit(b" ", 1)[1] for x in un)
                    t.expect(st in ("OK", "BAD") and got <= own,
                             "LIST %s: only alice's folders: %r %r"
                             % (args, line, un))
            st, line, _ = r.cmd("SELECT INBOX")
            t.require(st == "OK", "SELECT INBOX: %r" % line)
            for name, want in sorted(names.items()):
                q = '"' + name.replace("\\", "\\\\") + '"'
                for verb in ("COPY 1", "MOVE 1", "UID COPY 1:*",
                             "UID MOVE 1:*"):
                    st, line, _ = r.cmd("%s %s" % (verb, q))
                    t.expect(line.split(b" ", 1)[1] ==
                             (b"NO [TRYCREATE] No such folder"
                              if want == missing else want),
                             "%s %s: %r" % (verb, name, line))
            # CREATE of an odd but valid name stays in alice's Maildir
            st, line, _ = r.cmd('CREATE "~bob"')
            t.expect(st == "OK", "CREATE ~bob: %r" % line)
            for name in ("../bob", "..", "/tmp/x", "a..b", ".x"):
                st, line, _ = r.cmd('CREATE "%s"' % name)
                t.expect(line.split(b" ", 1)[1] == invalid,
                         "CREATE %s: %r" % (name, line))
            st, line, _ = r.cmd('CREATE "&AC8-x"')
            t.expect(line.split(b" ", 1)[1] ==
                     b"BAD modified UTF-7: ASCII encoded", "CREATE &AC8-x:"
                     " %r" % line)
            st, line, un = r.cmd("FETCH 1 BODY.PEEK[HEADER.FIELDS "
                                 "(MESSAGE-ID)]")
            t.expect(st == "OK" and b"<alice-1@test.osms>" in b"".join(un),
                     "alice still reads her own: %r %r" % (line, un))
        t.expect(os.path.isdir(os.path.join(S.maildir("alice"), ".~bob")),
                 "~bob is a folder of alice's")
        t.expect(tree(bob) == before, "bob's Maildir is untouched")
        t.expect(sorted(os.listdir(domain)) == top_before,
                 "nothing new beside the Maildirs: %r"
                 % sorted(os.listdir(domain)))
        t.expect(sorted(os.listdir(S.mail_root)) == root_before,
                 "nothing new in the mail store")
        served("D5")

    # ---------------------------------------------------------------
    # D6: POP3

    with case(t, "D6 pop3 before the login: a 64 KB USER ends the session; "
              "USER too long, NUL, commands before auth, APOP, AUTH "
              "abuse are -ERR"):
        with RawPop3(S.ports["pop3"], None, fresh_addr()) as r:
            r.line()
            th = send_in_thread(r.sock, b"USER " + b"a" * 65536 + b"\r\n")
            got, closed = lines_until_close(r)
            th.join(10)
            t.expect(got == [b"-ERR line too long"] and closed,
                     "USER of 64 KB: %r closed=%s" % (got, closed))
        probes = [
            ("STAT", b"-ERR Not logged in"),
            ("LIST", b"-ERR Not logged in"),
            ("RETR 1", b"-ERR Not logged in"),
            ("DELE 1", b"-ERR Not logged in"),
            ("TOP 1 0", b"-ERR Not logged in"),
            ("UIDL", b"-ERR Not logged in"),
            ("PASS pop-pw", b"-ERR USER first"),
            ("APOP pop@example.test 0123456789abcdef",
             b"-ERR APOP is not supported; use AUTH or USER"),
            ("USER " + "u" * 300, b"-ERR Invalid user name"),
            ("USER", b"-ERR Invalid user name"),
            ("USER pop@example.test\0", b"-ERR Invalid command"),
            ("AUTH X-UNKNOWN", b"-ERR Unsupported authentication mechanism"),
            ("AUTH PLAIN !!!!",
             b"-ERR Invalid base64 in the initial response"),
        ]
        # ten errors end a session before the login: two sessions
        for part in (probes[:7], probes[7:]):
            with RawPop3(S.ports["pop3s"], CTX, fresh_addr()) as r:
                r.line()
                for cmd, want in part:
                    line = r.cmd(cmd)
                    t.expect(line == want, "%s: %r" % (cmd[:30], line))
        with RawPop3(S.ports["pop3s"], CTX, fresh_addr()) as r:
            r.line()
            for i in range(9):
                r.cmd("XYZZY")
            got, closed = lines_until_close(r, 0.5)
            t.expect(got == [] and not closed, "nine errors: still open")
            r.send("XYZZY\r\n")
            got, closed = lines_until_close(r)
            t.expect(got == [b"-ERR Not logged in", b"-ERR Too many errors"]
                     and closed, "the tenth: %r closed=%s" % (got, closed))
        with RawPop3(S.ports["pop3s"], CTX, fresh_addr()) as r:
            r.line()
            t.expect(r.cmd("AUTH PLAIN") == b"+ ", "continuation")
            t.expect(r.cmd("*") == b"-ERR Authentication cancelled", "'*'")
            r.cmd("AUTH PLAIN")
            t.expect(r.cmd("!!!!") == b"-ERR Invalid base64 response",
                     "bad base64 in the exchange")
            r.cmd("AUTH PLAIN")
            line = r.cmd(b64("\0pop@example.test\0pop-pw") + "\0")
            t.expect(line == b"-ERR Invalid base64 response",
                     "a NUL in the response: %r" % line)
            send_until_answer(r, b"AUTH PLAIN " + b"A" * 12000 + b"\r\n")
            got, closed = lines_until_close(r)
            t.expect(got == [b"-ERR line too long"] and closed,
                     "a 12 KB AUTH line: %r closed=%s" % (got, closed))
        served("D6 before login")

    with case(t, "D6 pop3 after the login: RETR 0, -1, 4294967296, TOP 1 "
              "-1 and friends are -ERR; the session goes on"):
        nomsg = b"-ERR No such message"
        probes = [
            ("RETR 0", nomsg), ("RETR -1", nomsg), ("RETR 3", nomsg),
            ("RETR 4294967296", nomsg), ("RETR 4294967297", nomsg),
            ("RETR 18446744073709551617", nomsg),
            ("RETR 99999999999999999999999999", nomsg),
            ("RETR 1x", nomsg), ("RETR +1", nomsg), ("RETR 0x1", nomsg),
            ("RETR", nomsg),
            ("TOP 1 -1", b"-ERR Invalid number of lines"),
            ("TOP 1 4294967296", b"-ERR Invalid number of lines"),
            ("TOP 1 x", b"-ERR Invalid number of lines"),
            ("TOP 0 0", nomsg), ("TOP -1 0", nomsg),
            ("TOP 4294967297 0", nomsg),
            ("TOP 1", b"-ERR Usage: TOP message lines"),
            ("LIST 0", nomsg), ("LIST -1", nomsg),
            ("LIST 4294967297", nomsg), ("UIDL 4294967297", nomsg),
            ("DELE 0", nomsg), ("DELE 4294967297", nomsg),
            ("USER again", b"-ERR Already logged in"),
            ("XYZZY", b"-ERR Unknown command"),
            ("STAT\0", b"-ERR Invalid command line"),
        ]
        # twenty errors end a session: a few sessions, one at a time
        for part in (probes[:12], probes[12:24], probes[24:]):
            with RawPop3(S.ports["pop3s"], CTX, fresh_addr()) as r:
                r.line()
                t.expect(r.cmd("USER pop@example.test") == b"+OK", "USER")
                t.require(r.cmd("PASS pop-pw") == b"+OK Logged in.",
                          "PASS")
                for cmd, want in part:
                    line = r.cmd(cmd)
                    t.expect(line == want, "%s: %r" % (cmd[:30], line))
                line = r.cmd("STAT")
                t.expect(line.startswith(b"+OK 2 "), "still usable: %r"
                         % line)
                line = r.cmd("TOP 2 1")
                body = r.multi() if line.startswith(b"+OK") else []
                t.expect(body[-1:] == [b"..dot"], "TOP 2 1 still right: "
                         "%r" % body[-2:])
                t.expect(r.cmd("QUIT").startswith(b"+OK"), "QUIT")
        served("D6 after login")

    # ---------------------------------------------------------------
    # long lines and garbage

    with case(t, "long lines: 10 MB without CRLF before the login is BYE / "
              "-ERR and the end; after the login BAD / -ERR, the session "
              "goes on, its memory bounded"):
        blob = b"X" * (10 * 1024 * 1024)
        for port, want in ((S.ports["imap"], [b"* BYE line too long"]),
                           (S.ports["pop3"], [b"-ERR line too long"])):
            with Raw(port, None, fresh_addr()) as r:
                r.line()
                th = send_in_thread(r.sock, b"a " + blob)
                got, closed = lines_until_close(r, 10)
                th.join(20)
                t.expect(got == want and closed, "port %d: %r closed=%s"
                         % (port, got, closed))
        with raw_imap(S, "alice", source=fresh_addr()) as r:
            pid = session_of("alice")
            r.sock.sendall(b"a NOOP " + blob + b"\r\n")
            expect_tagged(r, "a", b"BAD [TOOBIG] Command line too long",
                          "IMAP 10 MB")
            still_usable(r, "IMAP 10 MB")
            t.expect(pid and status_kb(pid, "VmHWM") < 32 * 1024 +
                     RSS_SLACK_KB,
                     "session peak RSS %d kB" % status_kb(pid, "VmHWM"))
        with RawPop3(S.ports["pop3s"], CTX, fresh_addr()) as r:
            r.line()
            r.cmd("USER pop@example.test")
            t.require(r.cmd("PASS pop-pw") == b"+OK Logged in.", "PASS")
            pid = session_of("pop")
            r.sock.sendall(b"STAT " + blob + b"\r\n")
            line = r.line(20)
            t.expect(line == b"-ERR Invalid command line", "POP3 10 MB: %r"
                     % line)
            t.expect(r.cmd("STAT").startswith(b"+OK 2 "), "still usable")
            t.expect(pid and status_kb(pid, "VmHWM") < 32 * 1024 +
                     RSS_SLACK_KB,
                     "session peak RSS %d kB" % status_kb(pid, "VmHWM"))
            r.cmd("QUIT")
        served("long lines")

    with case(t, "binary garbage before and after the login: BAD / -ERR, "
              "then BYE after too many errors; nothing else"):
        rnd = random.Random(11)
        garbage = bytes(rnd.randrange(256) for _ in range(20000))
        garbage = garbage.replace(b"{", b"[").replace(b"~", b"-")
        with raw_imap(S, source=fresh_addr()) as r:
            r.send(garbage + b"\r\n")
            got, closed = lines_until_close(r)
            t.expect(closed and got and got[-1] == b"* BYE Too many errors"
                     and all(re.match(rb"^\S+ BAD ", x) for x in got[:-1]),
                     "IMAP before login: %r closed=%s"
                     % (got[-3:], closed))
        with raw_imap(S, "alice", source=fresh_addr()) as r:
            # a BAD for each line, and BYE after 50 in a row
            r.send(garbage + b"\r\n")
            got, closed = lines_until_close(r)
            t.expect(closed and len(got) == 51 and
                     got[50] == b"* BYE Too many invalid commands" and
                     all(re.match(rb"^\S+ BAD ", x) for x in got[:50]),
                     "IMAP after login: %r closed=%s" % (got[-3:], closed))
        with raw_imap(S, "alice", source=fresh_addr()) as r:
            r.send(garbage[:garbage.index(b"\n", 4000)] + b"\r\n")
            got = quiet_lines(r, 1)
            t.expect(got and all(re.match(rb"^\S+ BAD ", x) for x in got),
                     "IMAP after login, fewer lines: %r" % got[:3])
            still_usable(r, "garbage after login")
        with RawPop3(S.ports["pop3s"], CTX, fresh_addr()) as r:
            r.line()
            r.send(garbage + b"\r\n")
            got, closed = lines_until_close(r)
            t.expect(closed and got[-1:] == [b"-ERR Too many errors"] and
                     all(x.startswith(b"-ERR ") for x in got),
                     "POP3 before login: %r closed=%s" % (got[-3:], closed))
        served("garbage")

    # ---------------------------------------------------------------
    # I4: slow clients

    with case(t, "I4 slowloris: 500 connections trickling bytes to 143 and "
              "110; new clients are served in under 1 s; login-timeout "
              "closes every one with BYE / -ERR", limit=120):
        S.o.write_conf(S.o.conf_text() + "\nimapd {\n\tlogin-timeout 5s\n}"
                       "\n")
        rc = S.o.ctl("reload")
        t.require(rc.returncode == 0, "reload: %s" % rc.stderr)
        time.sleep(0.5)
        imapd = S.o.pid("imapd")
        rss0 = status_kb(imapd, "VmRSS")
        slow = []
        t0 = time.monotonic()
        for i in range(500):
            port = S.ports["imap"] if i % 2 == 0 else S.ports["pop3"]
            s = socket.create_connection(
                ("127.0.0.1", port), 10,
                source_address=("127.0.9.%d" % (2 + i % 5), 0))
            slow.append((port, s))
        for _, s in slow:
            s.sendall(b"a")
        rss1 = status_kb(imapd, "VmRSS")
        t.diag("imapd RSS %d kB, with 500 slow clients %d kB (%.1f kB "
               "each)" % (rss0, rss1, (rss1 - rss0) / 500))
        t.expect((rss1 - rss0) / 500 < 2048, "under 2 MB per client")
        for k in range(2):
            t1 = time.monotonic()
            c = imap(S, "fresh", source=fresh_addr())
            c.logout()
            p = pop3(S, "fresh", source=fresh_addr())
            p.quit()
            el = time.monotonic() - t1
            t.expect(el < 1.0, "a new client served in %.2fs" % el)
            for _, s in slow:
                try:
                    s.send(b"b")
                except OSError:
                    pass
            time.sleep(1)
        results = {}
        for port, s in slow:
            data, ended = recv_all(s, max(0.1, t0 + 12 - time.monotonic()))
            results.setdefault((port, data, ended), 0)
            results[(port, data, ended)] += 1
            s.close()
        want = {
            (S.ports["imap"], b"* OK [CAPABILITY IMAP4rev2 IMAP4rev1 "
             b"SASL-IR LITERAL+ ID ENABLE IDLE STARTTLS LOGINDISABLED] "
             b"osms IMAP ready\r\n* BYE timeout\r\n", True): 250,
            (S.ports["pop3"], b"+OK osms POP3 ready\r\n-ERR timeout\r\n",
             True): 250,
        }
        t.expect(results == want, "each got its greeting and the timeout,"
                 " then the end: %r" % [(k[0], k[1][-40:], k[2], v)
                                        for k, v in results.items()])
        el = time.monotonic() - t0
        t.expect(el < 12, "all closed within %.1fs" % el)
        t.expect(S.o.pid("imapd") == imapd, "imapd kept running")
        served("I4")

    with case(t, "no process crashed or restarted"):
        time.sleep(0.5)
        rs = S.restarts()
        t.expect(all(v == 0 for v in rs.values()), "restarts: %r" % rs)
        rep = S.crash_report()
        t.expect(not rep, "a crash in the log:\n%s" % rep)

t.done()
