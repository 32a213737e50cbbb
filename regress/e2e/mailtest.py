"""Helpers for the mail tests: build and send messages, speak raw SMTP,
and find delivered messages in the Maildirs of an Osms instance."""

import base64
import email
import email.policy
import hashlib
import hmac
import os
import re
import smtplib
import subprocess
import socket
import ssl
import time
import uuid

__all__ = [
    "Mailboxes", "message_id", "make_message", "send", "insecure_ctx",
    "Conn", "connect", "read_line", "read_lines", "read_codes", "rss_kb",
    "Scram", "smtp_data", "smtp_scram", "submit", "wait_until", "wait_log",
    "dkim_verify", "arc_seal", "smtp_rcpt",
]


def message_id():
    return "<%s@test.osms>" % uuid.uuid4().hex


def make_message(sender, rcpt, mid, subject="test", body="test body\r\n"):
    """A small RFC 5322 message with CRLF line ends, as bytes."""
    text = ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: %s\r\n"
            "Date: Wed, 25 Nov 2026 12:00:00 +0000\r\n\r\n%s"
            % (sender, rcpt, subject, mid, body))
    if not text.endswith("\r\n"):
        text += "\r\n"
    return text.encode("utf-8")


def send(port, sender, rcpts, body="test body\r\n", mid=None, tls=False):
    """Send one message with smtplib; returns its Message-ID."""
    mid = mid or message_id()
    c = smtplib.SMTP("127.0.0.1", port, timeout=20)
    c.ehlo("client.test")
    if tls:
        c.starttls(context=insecure_ctx())
        c.ehlo("client.test")
    c.sendmail(sender, rcpts, make_message(sender, rcpts[0], mid,
                                           body=body))
    c.quit()
    return mid


def submit(port, rcpts, user="alice@example.test", password="alice-pw",
           sender=None, body="test body\r\n", mid=None, raw=None,
           options=()):
    """A user submits a message (STARTTLS, AUTH PLAIN); its Message-ID.
    raw: the message bytes instead of make_message()'s."""
    sender = sender or user
    mid = mid or message_id()
    c = smtplib.SMTP("127.0.0.1", port, timeout=20)
    try:
        c.ehlo("client.test")
        c.starttls(context=insecure_ctx())
        c.ehlo("client.test")
        c.login(user, password)
        data = raw if raw is not None else make_message(sender, rcpts[0],
                                                        mid, body=body)
        c.sendmail(sender, rcpts, data, mail_options=list(options))
        c.quit()
    finally:
        c.close()
    return mid


def smtp_data(port, sender, data, rcpts=("alice@example.test",),
              helo="client.test", source=None):
    """One message as given (bytes), plain SMTP: (code, text) of the
    final reply to DATA; (0, b"disconnected") if the server hung up.
    source: the client's address."""
    c = smtplib.SMTP("127.0.0.1", port, timeout=60,
                     source_address=(source, 0) if source else None)
    try:
        c.ehlo(helo)
        c.mail(sender)
        for r in rcpts:
            c.rcpt(r)
        code, text = c.data(data)
        c.quit()
    except smtplib.SMTPServerDisconnected:
        return 0, b"disconnected"
    finally:
        c.close()
    return code, text


def smtp_rcpt(port, sender, rcpt="alice@example.test", source=None,
              helo="client.remote.test"):
    """MAIL and one RCPT, plain SMTP: (code, text) of the RCPT reply.
    source: the client's address."""
    c = smtplib.SMTP("127.0.0.1", port, timeout=30,
                     source_address=(source, 0) if source else None)
    try:
        c.ehlo(helo)
        c.mail(sender)
        return c.rcpt(rcpt)
    finally:
        c.close()


def wait_until(cond, timeout=20):
    """cond() until it is true or time is up; its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    return cond()


def wait_log(o, pattern, timeout=20):
    """The first match of pattern in the Osms instance's log, waited for."""
    return wait_until(lambda: re.search(pattern, o.log()), timeout)


# dkimpy (python3-dkim), run by Debian's Python: "PASS" or "FAIL". The
# key record is the text `osmsctl dkim keygen` printed, in a file, or,
# with a port, what the test DNS server on 127.0.0.1 answers.
_DKIM_VERIFY = r'''
import re, sys, dkim
msg = open(sys.argv[1], "rb").read()
if sys.argv[2].isdigit():
    import dns.resolver
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = ["127.0.0.1"]
    r.port = int(sys.argv[2])
    def txt(qname, timeout=5):
        q = qname.decode() if isinstance(qname, bytes) else qname
        try:
            a = r.resolve(q, "TXT", lifetime=timeout)
        except Exception:
            return None
        return b"".join(b"".join(x.strings) for x in a)
else:
    text = open(sys.argv[2]).read()
    name = text.split()[0].rstrip(".")
    record = "".join(re.findall(r'"([^"]*)"', text)).encode()
    def txt(qname, timeout=5):
        q = qname.decode() if isinstance(qname, bytes) else qname
        return record if q.rstrip(".") == name else None
print("PASS" if dkim.verify(msg, dnsfunc=txt) else "FAIL")
'''


def dkim_verify(path, record):
    """Verify the message in path with dkimpy; record is the path of a
    file with the printed record, or the port of the test DNS server.
    Returns "PASS", "FAIL", or the end of the verifier's errors."""
    p = subprocess.run(["/usr/bin/python3", "-c", _DKIM_VERIFY, path,
                        str(record)], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    return p.stdout.decode().strip() or p.stderr.decode()[-300:]


# dkimpy's ARC sealer, as a forwarder (a mailing list) uses it: the
# message on stdin, with the forwarder's Authentication-Results field
# (authserv-id the sealing domain) already in it; the ARC set to put on
# top on stdout. Debian's python3-dkim and python3-authres.
_ARC_SEAL = r'''
import sys, dkim
sel, dom, key = sys.argv[1:4]
msg = sys.stdin.buffer.read()
out = dkim.arc_sign(msg, sel.encode(), dom.encode(), open(key, "rb").read(),
                    dom.encode())
if not out:
    sys.exit("dkimpy made no ARC set")
sys.stdout.buffer.write(b"".join(out))
'''


def arc_seal(msg, selector, domain, keyfile):
    """msg (bytes) sealed by domain's key: the ARC set, then msg."""
    p = subprocess.run(["/usr/bin/python3", "-c", _ARC_SEAL, selector,
                        domain, keyfile], input=msg, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("arc_seal: %s" % p.stderr.decode()[-300:])
    return p.stdout + msg


def insecure_ctx():
    """The test CA is made per run: clients do not verify it."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Conn:
    """A raw SMTP connection with a line buffer; source: the client
    address (another of 127/8 is another client)."""

    def __init__(self, port, timeout=10, source=None):
        self.sock = socket.create_connection(
            ("127.0.0.1", port), timeout=timeout,
            source_address=(source, 0) if source else None)
        self.buf = b""

    def sendall(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def recv(self, n):
        if self.buf:
            b, self.buf = self.buf[:n], self.buf[n:]
            return b
        return self.sock.recv(n)

    def settimeout(self, t):
        self.sock.settimeout(t)

    def close(self):
        self.sock.close()

    def line(self, timeout):
        self.sock.settimeout(timeout)
        while b"\n" not in self.buf:
            b = self.sock.recv(65536)
            if not b:
                raise EOFError("connection closed")
            self.buf += b
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")


def connect(port, timeout=10, source=None):
    """A raw SMTP connection, past the 220 banner."""
    c = Conn(port, timeout, source)
    line = read_line(c)
    if not line.startswith("220 "):
        raise RuntimeError("no banner: %r" % line)
    return c


def read_line(c, timeout=10):
    """One reply line ("" when the connection closed or timed out)."""
    try:
        return c.line(timeout)
    except (EOFError, socket.timeout, ConnectionResetError):
        return ""


def read_lines(c, n, timeout=10):
    """The last line of each of n replies (multi-line replies count once)."""
    out = []
    while len(out) < n:
        line = read_line(c, timeout)
        if line == "":
            break
        if len(line) >= 4 and line[3] == "-":
            continue
        out.append(line)
    return out


def read_codes(s, n, timeout=10):
    return [int(x[:3]) for x in read_lines(s, n, timeout)]


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Mailboxes:
    """The Maildirs of an Osms instance, searched by Message-ID."""

    def __init__(self, osms, domain="example.test"):
        self.root = os.path.join(osms.dir, "mail", domain)

    def files(self, user):
        out = []
        for sub in ("new", "cur"):
            d = os.path.join(self.root, user, sub)
            try:
                out += [os.path.join(d, n) for n in sorted(os.listdir(d))]
            except FileNotFoundError:
                pass
        return out

    def messages(self, user):
        for path in self.files(user):
            with open(path, "rb") as f:
                raw = f.read()
            yield path, raw

    def find(self, user, mid):
        """The parsed message with that Message-ID, or None."""
        for path, raw in self.messages(user):
            m = email.message_from_bytes(raw, policy=email.policy.compat32)
            if m["Message-ID"] == mid:
                return m
        return None

    def count(self, user, mid):
        n = 0
        for path, raw in self.messages(user):
            m = email.message_from_bytes(raw, policy=email.policy.compat32)
            if m["Message-ID"] == mid:
                n += 1
        return n

    def count_from(self, user, sender):
        n = 0
        for path, raw in self.messages(user):
            if ("Return-Path: <%s>" % sender).encode() in raw:
                n += 1
        return n

    def raw_bytes(self, user, mid):
        for path, raw in self.messages(user):
            m = email.message_from_bytes(raw, policy=email.policy.compat32)
            if m["Message-ID"] == mid:
                return raw
        return b""

    def raw(self, user, mid):
        return self.raw_bytes(user, mid).decode("utf-8", "replace")

    def dsns(self, user, mid):
        """The delivery status reports in user's Maildir about mid."""
        return [email.message_from_bytes(raw) for _, raw in
                self.messages(user)
                if mid.encode() in raw and b"multipart/report" in raw]

    def wait_for(self, user, mid, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.find(user, mid)
            if m is not None:
                return m
            time.sleep(0.05)
        return None

    def message_ids(self, user):
        """Every Message-ID in the user's Maildir, with repeats."""
        out = []
        for path, raw in self.messages(user):
            m = email.message_from_bytes(raw, policy=email.policy.compat32)
            out.append(m["Message-ID"])
        return out


# -- SASL clients for what smtplib lacks

def _b64(b):
    return base64.b64encode(b).decode("ascii")


class Scram:
    """The client side of SCRAM-SHA-256 (RFC 5802, RFC 7677), for tests.

    first() gives the client-first message; final(server_first) the
    client-final one; verify(server_final) checks the server's signature.
    """

    def __init__(self, user, password, nonce=None):
        self.user = user.replace("=", "=3D").replace(",", "=2C")
        self.password = password.encode("utf-8")
        self.nonce = nonce or _b64(os.urandom(18))
        self.bare = "n=%s,r=%s" % (self.user, self.nonce)
        self.server_signature = None

    def first(self):
        return ("n,," + self.bare).encode("utf-8")

    def final(self, server_first):
        sf = server_first.decode("utf-8")
        attrs = dict(kv.split("=", 1) for kv in sf.split(","))
        if not attrs["r"].startswith(self.nonce):
            raise ValueError("server nonce does not extend ours")
        salt = base64.b64decode(attrs["s"])
        salted = hashlib.pbkdf2_hmac("sha256", self.password, salt,
                                     int(attrs["i"]))
        client_key = hmac.new(salted, b"Client Key", "sha256").digest()
        stored_key = hashlib.sha256(client_key).digest()
        without_proof = "c=biws,r=" + attrs["r"]
        auth_message = ",".join((self.bare, sf, without_proof)).encode()
        signature = hmac.new(stored_key, auth_message, "sha256").digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        server_key = hmac.new(salted, b"Server Key", "sha256").digest()
        self.server_signature = hmac.new(server_key, auth_message,
                                         "sha256").digest()
        return (without_proof + ",p=" + _b64(proof)).encode("utf-8")

    def verify(self, server_final):
        return server_final.decode("utf-8") == \
            "v=" + _b64(self.server_signature)


def smtp_scram(c, user, password):
    """AUTH SCRAM-SHA-256 on an smtplib.SMTP after EHLO: (code, text,
    server signature verified)."""
    sc = Scram(user, password)
    code, resp = c.docmd("AUTH", "SCRAM-SHA-256 " + _b64(sc.first()))
    if code != 334:
        return code, resp, False
    code, resp = c.docmd(_b64(sc.final(base64.b64decode(resp))))
    if code != 334:
        return code, resp, False
    ok = sc.verify(base64.b64decode(resp))
    code, resp = c.docmd("")
    return code, resp, ok
