"""Helpers for the SMTP attack tests (test_attack_*.py): raw sessions on
each listener of an Osms instance, exact replies, and whether the
server still serves.

    a = Attack(o)
    c = a.session("sub")        # 587 after STARTTLS and AUTH as alice
    ask(c, "NOOP") == ["250 2.0.0 Ok"]
    a.serves(o.ports["smtp"])   # a fresh client can send a message
"""
import base64
import os
import re
import socket
import ssl
import time

from mailtest import (Conn, Mailboxes, connect, insecure_ctx,
                      make_message, message_id, read_codes, read_line,
                      read_lines)

__all__ = [
    "ALICE", "PLAIN", "HOST", "BARE", "NUL", "TOOBIG", "ENDINGS", "MODES",
    "READY", "INJECTED", "CTX", "Attack", "tls_wrap", "ask", "closed",
    "raw_until_close", "client_hello", "ehlo", "sender_for",
    "assert_untouched",
]

ALICE = "alice@example.test"
PLAIN = base64.b64encode(b"\0alice@example.test\0alice-pw").decode()
HOST = "mail.example.test"
BARE = ("554 5.6.0 Message refused: bare CR or LF in the text "
        "(RFC 5321 2.3.8)")
NUL = "554 5.6.0 Message refused: NUL byte in the text"
TOOBIG = "552 5.3.4 Message size exceeds fixed maximum message size"
READY = "220 2.0.0 Ready to start TLS"
INJECTED = "554 5.5.1 Command pipelined after STARTTLS; closing"
# The smtpsmug endings (hannob/smtpsmug), each as the end of the text.
ENDINGS = [b"\n.\n", b"\r.\r", b"\r.\n", b"\n.\r", b"\n.\r\n", b"\r\n.\n",
           b"\r.\r\n", b"\r\n.\r", b"\r\n\x00.\r\n"]
# "mx" plain, "mx-tls" after STARTTLS, "sub" 587 after STARTTLS and
# AUTH, "subs" 465 after AUTH.
MODES = ("mx", "mx-tls", "sub", "subs")
CTX = insecure_ctx()


def tls_wrap(c, ctx=None):
    """TLS on a Conn whose line buffer is empty."""
    c.sock = (ctx or CTX).wrap_socket(c.sock, server_hostname="localhost")


def ask(c, line, n=1, timeout=10):
    """Send one line (str or bytes; CRLF added) and read n replies: the
    last line of each."""
    if isinstance(line, str):
        line = line.encode()
    c.sendall(line + b"\r\n")
    return read_lines(c, n, timeout)


def ehlo(c, name="client.test"):
    """EHLO; the keywords of the reply (upper case), without the first
    line."""
    c.sendall("EHLO %s\r\n" % name)
    words = []
    while True:
        line = read_line(c)
        if not line.startswith("250"):
            raise RuntimeError("EHLO: %r" % line)
        words.append(line[4:].split(" ")[0].upper())
        if line[3] == " ":
            return words[1:]


def raw_until_close(c, timeout=5):
    """The bytes the server sends until it closes: (bytes, closed)."""
    got, c.buf = c.buf, b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        c.sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            b = c.sock.recv(65536)
        except socket.timeout:
            return got, False
        except (ConnectionResetError, OSError):
            return got, True
        if not b:
            return got, True
        got += b
    return got, False


def closed(c, timeout=5):
    """True if the server closes the connection within timeout (what it
    sends meanwhile is dropped)."""
    return raw_until_close(c, timeout)[1]


def client_hello():
    """The first flight of a TLS client: its ClientHello record."""
    inb, outb = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = CTX.wrap_bio(inb, outb, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outb.read()


def sender_for(mode):
    return ALICE if mode in ("sub", "subs") else "a@remote.test"


def assert_untouched(t, o, roles0, sink=None):
    """What every attack file ends with: no role restarted, crashed or
    changed its pid since roles0, and the open-relay sink, if any, got
    no connection."""
    if sink is not None:
        t.expect(sink.connections == 0 and not sink.messages,
                 "the smarthost got %d connections, %d messages" %
                 (sink.connections, len(sink.messages)))
    rows = o.status()
    t.expect(all(r["restarts"] == 0 for r in rows),
             [(r["role"], r["restarts"]) for r in rows])
    t.expect({r["role"]: r["pid"] for r in rows} == roles0,
             "a role has a new pid")
    t.expect(not re.search(r"\(pid \d+\) (killed by signal|exited)",
                           o.log()), o.log_tail(20))


class Attack:
    """The SMTP listeners of an Osms instance started with the default
    LISTENERS."""

    def __init__(self, o):
        self.o = o
        self.mx = o.ports["smtp"]
        self.sub = o.ports["submission"]
        self.subs = o.ports["submissions"]
        self.box = Mailboxes(o)

    def port(self, mode):
        return {"mx": self.mx, "mx-tls": self.mx, "sub": self.sub,
                "subs": self.subs}[mode]

    def session(self, mode, source=None, auth=True, helo="client.test"):
        """A raw session past EHLO (and AUTH on submission unless
        auth=False)."""
        c = Conn(self.port(mode), 10, source)
        if mode == "subs":
            tls_wrap(c)
        line = read_line(c)
        if not line.startswith("220 "):
            raise RuntimeError("%s: no banner: %r" % (mode, line))
        if mode in ("mx-tls", "sub"):
            c.sendall("EHLO %s\r\nSTARTTLS\r\n" % helo)
            r = read_lines(c, 2)
            if r[-1:] != [READY]:
                raise RuntimeError("%s: STARTTLS: %r" % (mode, r))
            tls_wrap(c)
        c.sendall("EHLO %s\r\n" % helo)
        read_lines(c, 1)
        if mode in ("sub", "subs") and auth:
            r = ask(c, "AUTH PLAIN %s" % PLAIN, timeout=20)
            if r != ["235 2.7.0 Authentication successful"]:
                raise RuntimeError("%s: AUTH: %r" % (mode, r))
        return c

    def serves(self, port=None, source=None):
        """A fresh client is served: on the MX port it sends a message
        to alice; on submission it gets TLS and an EHLO reply."""
        port = port or self.mx
        if port != self.mx:
            try:
                c = self.session("sub" if port == self.sub else "subs",
                                 source, auth=False)
                ok = ask(c, "NOOP") == ["250 2.0.0 Ok"]
                c.close()
                return ok
            except (OSError, RuntimeError):
                return False
        mid = message_id()
        c = connect(port, source=source)
        try:
            c.sendall("EHLO fresh.test\r\nMAIL FROM:<f@remote.test>\r\n"
                      "RCPT TO:<%s>\r\nDATA\r\n" % ALICE)
            if read_codes(c, 4) != [250, 250, 250, 354]:
                return False
            c.sendall(make_message("f@remote.test", ALICE, mid) + b".\r\n")
            ok = read_lines(c, 1)[:1]
            c.sendall("QUIT\r\n")
            return bool(ok) and ok[0].startswith("250 2.0.0 Ok: queued as ")
        except OSError:
            return False
        finally:
            c.close()

    def all_raw(self):
        """Every delivered message of every user, as bytes."""
        out = []
        root = os.path.join(self.o.dir, "mail", "example.test")
        for user in os.listdir(root) if os.path.isdir(root) else []:
            out += [raw for _, raw in self.box.messages(user)]
        return out
