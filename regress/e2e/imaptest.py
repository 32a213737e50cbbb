"""Shared helpers for the IMAP and POP3 end-to-end tests (test_imap.py,
test_pop3.py): the server under test (osms, or Dovecot as a reference),
Maildir injection, IMAP clients (imaplib with an ordered log of untagged
responses, and a raw one for what imaplib cannot say), an IMAP response
parser for assertions, POP3 helpers, and the test messages.

    OSMS_IMAP_REFERENCE=dovecot python3 regress/e2e/test_imap.py

runs every case against a Dovecot started here (dovecot-imapd and
dovecot-pop3d installed), with the same users, passwords, Maildir layout
and TLS certificate, to prove the tests right. Without it the tests run
against osms (Osms() from osmstest.py).

Debian packages: dovecot-imapd dovecot-pop3d (reference runs only).
The tests also use curl, neomutt, isync and fetchmail (see their heads).
"""

import atexit
import base64
import contextlib
import hashlib
import hmac
import imaplib
import os
import poplib
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import zlib

from osmstest import (KEEP, USERS, Osms, OsmsError, free_ports,
                      make_ca_and_cert, password_hash, wait_port)

__all__ = [
    "REFERENCE", "TIMEOUT", "CLIENT_ADDR", "Server", "Dovecot",
    "scram_secret", "case", "timeout", "note_timeout", "tool_limit",
    "run_tool",
    "Imap", "imap", "Raw", "raw_imap", "parse", "parse_fetch", "fetch_items",
    "untagged", "resp_code", "seqset", "uid_map", "parse_thread",
    "thread_groups", "ScramAuth", "DeflateIO", "Pop3", "pop3", "RawPop3",
    "crlf", "lf", "msg", "multipart_msg", "imap_date", "epoch",
    "ATTACHMENT", "MULTI_PART1", "MULTI_PART2_MIME", "wait_until",
    "session", "client_ctx",
]

REFERENCE = os.environ.get("OSMS_IMAP_REFERENCE", "") == "dovecot"
DOVECOT = os.environ.get("OSMS_DOVECOT", "/usr/sbin/dovecot")
DOMAIN = "example.test"

# Clients connect from this loopback address, not the server's own:
# Dovecot treats a connection whose two ends have one address as secure,
# which would hide the before-TLS policy the tests check.
CLIENT_ADDR = "127.0.0.2"

# Socket timeout of every client. Lowered after an unexpected timeout
# (a server that does not answer), so that a dead server costs seconds
# per case, not minutes for the whole run.
TIMEOUT = 15.0
_timeouts = [0]


def timeout():
    return TIMEOUT if not _timeouts[0] else 3.0


def tool_limit(n):
    """A time limit for an outside client (curl, mutt...): n seconds, or
    15 once the server has been found not to answer."""
    return n if not _timeouts[0] else min(n, 15)


def note_timeout():
    _timeouts[0] += 1


def run_tool(argv, limit=60, **kw):
    """Run an outside client to its end, within tool_limit(limit)."""
    limit = tool_limit(limit)
    try:
        return subprocess.run(argv, capture_output=True, timeout=limit,
                              stdin=subprocess.DEVNULL, **kw)
    except subprocess.TimeoutExpired as e:
        note_timeout()
        raise AssertionError("%s: no end after %ds\n%r" % (
            argv[0], limit, (e.stdout or b"")[-2000:]))


class CaseTimeout(Exception):
    """A case ran past its time limit (SIGALRM)."""


def _alarm(signo, frame):
    raise CaseTimeout("case time limit reached")


def _where(tb):
    """'file:line: source' of the innermost frame in a test script."""
    import traceback
    frames = traceback.extract_tb(tb)
    for fr in reversed(frames):
        if os.path.basename(fr.filename).startswith("test_"):
            return "%s:%d: %s" % (os.path.basename(fr.filename), fr.lineno,
                                  (fr.line or "").strip())
    return ""


@contextlib.contextmanager
def case(t, name, limit=90):
    """t.case(name) with a time limit; timeouts lower later timeouts. A
    failure the server caused (a protocol error, a closed connection, a
    timeout) is reported in two lines, not as a traceback."""
    from osmstest import CaseFailed
    with t.case(name):
        old = signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(limit)
        try:
            yield t
        except (socket.timeout, TimeoutError, CaseTimeout) as e:
            note_timeout()
            raise CaseFailed("%s: %s\n  at %s" % (
                type(e).__name__, e, _where(e.__traceback__)))
        except (imaplib.IMAP4.error, poplib.error_proto, OSError, EOFError,
                ssl.SSLError, AssertionError, RuntimeError,
                ParseError) as e:
            raise CaseFailed("%s: %s\n  at %s" % (
                type(e).__name__, e, _where(e.__traceback__)))
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)


def wait_until(cond, limit=10.0, step=0.05):
    deadline = time.monotonic() + limit
    while True:
        v = cond()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(step)


# -- users and secrets

def scram_secret(password, salt=None, iterations=4096):
    """(salt, StoredKey, ServerKey) of RFC 5802 for password."""
    salt = salt or os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt,
                                 iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored = hashlib.sha256(client_key).digest()
    server = hmac.new(salted, b"Server Key", "sha256").digest()
    return salt, stored, server


def _b64(b):
    return base64.b64encode(b).decode("ascii")


# -- Dovecot as the reference server

DOVECOT_CONF = """\
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
instance_name = osms-ref-{port}
protocols = imap pop3
listen = 127.0.0.1
ssl = required
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = yes
auth_mechanisms = plain login scram-sha-256
auth_failure_delay = 0
default_internal_user = dovecot
default_login_user = dovenull
mail_uid = vmail
mail_gid = vmail
first_valid_uid = 1
mail_location = maildir:~
mail_plugins = $mail_plugins quota zlib
mail_max_userip_connections = 50
pop3_lock_session = yes
pop3_uidl_format = %08Xv%08Xu
imap_max_line_length = 64k
passdb {{
  driver = passwd-file
  args = scheme=SHA512-CRYPT {d}/passwd
}}
# SCRAM-SHA-256 needs its own secret; the first passdb cannot give one.
passdb {{
  driver = passwd-file
  args = {d}/passwd-scram
}}
userdb {{
  driver = passwd-file
  args = {d}/userdb
  default_fields = uid=vmail gid=vmail home={mail}/%d/%n
}}
namespace inbox {{
  inbox = yes
  separator = .
  prefix =
  mailbox Drafts {{
    auto = subscribe
    special_use = \\Drafts
  }}
  mailbox Sent {{
    auto = subscribe
    special_use = \\Sent
  }}
  mailbox Trash {{
    auto = subscribe
    special_use = \\Trash
  }}
  mailbox Junk {{
    auto = subscribe
    special_use = \\Junk
  }}
  mailbox Archive {{
    auto = subscribe
    special_use = \\Archive
  }}
}}
plugin {{
  quota = maildir:User quota
}}
protocol imap {{
  mail_plugins = $mail_plugins imap_quota imap_zlib
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {pop3}
  }}
  inet_listener pop3s {{
    address = 127.0.0.1
    port = {pop3s}
    ssl = yes
  }}
}}
# no growing login delay after the failures the tests make on purpose
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""


class Dovecot:
    """A Dovecot (imap, pop3) in a temp directory, run as root in the
    foreground, on free loopback ports. users: {address: (password,
    quota_bytes or 0)}; salts: {address: SCRAM salt}."""

    def __init__(self, users, salts):
        if not os.access(DOVECOT, os.X_OK):
            raise OsmsError("%s missing: apt-get install dovecot-imapd "
                            "dovecot-pop3d" % DOVECOT)
        self.proc = None
        self._out = None
        self._closed = False
        self.dir = tempfile.mkdtemp(prefix="osms-dovecot-")
        atexit.register(self.close)
        os.chmod(self.dir, 0o755)
        for sub in ("run", "state", "mail"):
            os.mkdir(os.path.join(self.dir, sub), 0o755)
        self.mail = os.path.join(self.dir, "mail")
        _chown_vmail(self.mail)
        self.tls = make_ca_and_cert(os.path.join(self.dir, "tls"))
        names = ("imap", "imaps", "pop3", "pop3s")
        self.ports = dict(zip(names, free_ports(len(names))))
        pw, sc, ub = [], [], []
        for addr, (password, quota) in users.items():
            pw.append("%s:%s\n" % (addr, password_hash(password)))
            salt, stored, server = scram_secret(password, salts[addr])
            sc.append("%s:{SCRAM-SHA-256}4096,%s,%s,%s\n"
                      % (addr, _b64(salt), _b64(stored), _b64(server)))
            extra = ("userdb_quota_rule=*:storage=%dB" % quota
                     if quota else "")
            ub.append("%s:::::::%s\n" % (addr, extra))
        for name, lines in (("passwd", pw), ("passwd-scram", sc),
                            ("userdb", ub)):
            p = os.path.join(self.dir, name)
            with open(p, "w") as f:
                f.writelines(lines)
            os.chmod(p, 0o600)
            _chown(p, "dovecot")
        self.conf = os.path.join(self.dir, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(DOVECOT_CONF.format(d=self.dir, mail=self.mail,
                                        cert=self.tls["cert"],
                                        key=self.tls["key"],
                                        port=self.ports["imap"],
                                        **self.ports))

    def start(self):
        self._out = open(os.path.join(self.dir, "stdout.log"), "ab")
        self.proc = subprocess.Popen(
            [DOVECOT, "-F", "-c", self.conf], stdin=subprocess.DEVNULL,
            stdout=self._out, stderr=subprocess.STDOUT)
        try:
            for p in self.ports.values():
                wait_port(p, 20)
        except TimeoutError:
            raise OsmsError("dovecot did not start\n%s" % self.log()[-3000:])

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self._out is not None:
            self._out.close()
            self._out = None
        # its children go with the master; wait until the ports are free
        for p in self.ports.values():
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", p), 0.2).close()
                except OSError:
                    break
                time.sleep(0.05)

    def log(self):
        out = ""
        for f in ("dovecot.log", "stdout.log"):
            try:
                with open(os.path.join(self.dir, f), errors="replace") as fh:
                    out += fh.read()
            except OSError:
                pass
        return out

    def close(self):
        if self._closed:
            return
        self._closed = True
        try:
            self.stop()
        finally:
            if KEEP:
                print("# kept %s" % self.dir)
            else:
                shutil.rmtree(self.dir, ignore_errors=True)


def _chown(path, user):
    import pwd
    try:
        pw = pwd.getpwnam(user)
        os.chown(path, pw.pw_uid, pw.pw_gid)
    except (KeyError, OSError):
        pass


def _chown_vmail(path):
    _chown(path, "vmail")


_vmail = None


def _vmail_ids():
    global _vmail
    if _vmail is None:
        import pwd
        try:
            pw = pwd.getpwnam("vmail")
            _vmail = (pw.pw_uid, pw.pw_gid)
        except KeyError:
            _vmail = (-1, -1)
    return _vmail


# -- the server under test

class Server:
    """osms (Osms()) or, with OSMS_IMAP_REFERENCE=dovecot, Dovecot; the
    same interface for both.

    Server(users)   users: {local part: quota bytes or 0}; every user
                    gets the password "<local>-pw"; alice and bob exist
                    anyway (osmstest's USERS).
    name            "osms" or "dovecot"
    ports           imap imaps pop3 pop3s (and smtp... for osms)
    tls             make_ca_and_cert()'s paths (ca: the CA to trust)
    user(local)     (address, password)
    maildir(local, folder=None)     the Maildir path
    deliver(local, raw, ...)        a message dropped in by hand
    deliver_mta(local, raw)         delivered the real way: SMTP for
                                    osms, dovecot-lda for Dovecot
    stop() start() restart()        UIDs must survive
    log()
    restarts()      osms: {role: restart count}; Dovecot: {}
    """

    def __init__(self, users):
        self.users = {}
        for addr, pw in USERS.items():
            self.users[addr] = (pw, 0)
        for local, quota in users.items():
            self.users["%s@%s" % (local, DOMAIN)] = ("%s-pw" % local,
                                                     quota)
        self.salts = {a: os.urandom(16) for a in self.users}
        self._seq = 0
        self.o = self.dv = None
        if REFERENCE:
            self.name = "dovecot"
            self.dv = Dovecot(self.users, self.salts)
            self.tls = self.dv.tls
            self.ports = dict(self.dv.ports)
            self.mail_root = self.dv.mail
            self.dv.start()
        else:
            self.name = "osms"
            self.o = Osms(start=False)
            self.tls = self.o.tls
            self.ports = dict(self.o.ports)
            self.mail_root = self.o.path("mail")
            lines = []
            for addr, (pw, quota) in self.users.items():
                salt, stored, server = scram_secret(pw, self.salts[addr])
                line = "%s %s scram=SCRAM-SHA-256$4096:%s$%s:%s" % (
                    addr, password_hash(pw), _b64(salt), _b64(stored),
                    _b64(server))
                if quota:
                    line += " quota=%d" % quota
                lines.append(line + "\n")
            self.o.write_file("users", "".join(lines), 0o600)
            self.o.start()

    @property
    def is_osms(self):
        return self.o is not None

    def user(self, local):
        addr = local if "@" in local else "%s@%s" % (local, DOMAIN)
        return addr, self.users[addr][0]

    def maildir(self, local, folder=None):
        local = local.split("@")[0]
        p = os.path.join(self.mail_root, DOMAIN, local)
        if folder and folder.upper() != "INBOX":
            p = os.path.join(p, "." + folder)
        return p

    def make_maildir(self, local, folder=None):
        uid, gid = _vmail_ids()
        top = os.path.join(self.mail_root, DOMAIN)
        paths = [top, self.maildir(local)]
        if folder and folder.upper() != "INBOX":
            paths.append(self.maildir(local, folder))
        for p in paths:
            if not os.path.isdir(p):
                os.mkdir(p, 0o700)
                os.chown(p, uid, gid)
            if p == top:
                continue
            for sub in ("cur", "new", "tmp"):
                q = os.path.join(p, sub)
                if not os.path.isdir(q):
                    os.mkdir(q, 0o700)
                    os.chown(q, uid, gid)
        if folder and folder.upper() != "INBOX":
            mf = os.path.join(paths[-1], "maildirfolder")
            if not os.path.exists(mf):
                open(mf, "w").close()
                os.chown(mf, uid, gid)
        return paths[-1]

    def unique(self):
        """A fresh Maildir unique name, time.MusecPpidQn.host."""
        self._seq += 1
        now = time.time()
        return "%d.M%06dP%dQ%d.osms-test" % (
            int(now), int((now % 1) * 1e6), os.getpid(), self._seq)

    def deliver(self, local, raw, folder=None, where="new", flags="",
                mtime=None, sizes=True, keep_crlf=False):
        """Drop a message in by hand as a delivery agent does: write it
        to tmp/, then rename it into new/ (or cur/ with ":2,flags").
        Stored with LF line ends (as osms's delivery does) unless
        keep_crlf; the name carries ",S=" and ",W=" (the CRLF size)
        when sizes. Returns the path."""
        d = self.make_maildir(local, folder)
        data = raw if keep_crlf else lf(raw)
        name = self.unique()
        if sizes:
            name += ",S=%d,W=%d" % (len(data), len(crlf(raw)))
        tmp = os.path.join(d, "tmp", name)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        uid, gid = _vmail_ids()
        os.chown(tmp, uid, gid)
        if mtime is not None:
            os.utime(tmp, (mtime, mtime))
        if where == "cur":
            dst = os.path.join(d, "cur", name + ":2," + "".join(
                sorted(flags)))
        else:
            dst = os.path.join(d, "new", name)
        os.rename(tmp, dst)
        return dst

    def deliver_mta(self, local, raw):
        """Deliver through the server's own delivery path."""
        addr, _ = self.user(local)
        if self.is_osms:
            import smtplib
            c = smtplib.SMTP("127.0.0.1", self.ports["smtp"],
                             timeout=timeout())
            try:
                c.ehlo("client.test")
                c.sendmail("sender@example.org", [addr], crlf(raw))
                c.quit()
            finally:
                c.close()
        else:
            p = subprocess.run(
                ["/usr/lib/dovecot/dovecot-lda", "-c", self.dv.conf, "-d",
                 addr, "-f", "sender@example.org"], input=crlf(raw),
                capture_output=True, timeout=30)
            if p.returncode != 0:
                raise RuntimeError("dovecot-lda: %d %r" % (p.returncode,
                                                           p.stderr))

    def stop(self):
        if self.is_osms:
            self.o.stop()
        else:
            self.dv.stop()

    def start(self):
        if self.is_osms:
            self.o.start()
        else:
            self.dv.start()

    def restart(self):
        self.stop()
        self.start()

    def log(self):
        return self.o.log() if self.is_osms else self.dv.log()

    def restarts(self):
        if not self.is_osms:
            return {}
        return {r["role"]: r["restarts"] for r in self.o.status()}

    def crash_report(self):
        """Text of a crash in the log (Dovecot: Panic/Fatal), or ""."""
        log = self.log()
        pat = (r"(Panic|Fatal|terminated abnormally|killed with signal)"
               if not self.is_osms else
               r"(exited on signal|killed by signal (?!15\b)|core dumped|"
               r"AddressSanitizer|runtime error:)")
        m = re.search(pat, log)
        return "" if m is None else log[max(0, m.start() - 300):
                                        m.start() + 500]

    def close(self):
        if self.o is not None:
            self.o.close()
        if self.dv is not None:
            self.dv.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


# -- line ends, messages, dates

def crlf(b):
    """Every line end CRLF."""
    if isinstance(b, str):
        b = b.encode("utf-8")
    return re.sub(rb"\r?\n", b"\r\n", b)


def lf(b):
    if isinstance(b, str):
        b = b.encode("utf-8")
    return b.replace(b"\r\n", b"\n")


_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
           "Oct", "Nov", "Dec"]


def imap_date(epoch_secs):
    """d-Mon-yyyy (UTC) for SEARCH."""
    tm = time.gmtime(epoch_secs)
    return "%d-%s-%d" % (tm.tm_mday, _MONTHS[tm.tm_mon - 1], tm.tm_year)


def epoch(y, mo, d, h=12, mi=0, s=0):
    import calendar
    return calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))


def rfc5322_date(epoch_secs):
    """An RFC 5322 date-time in UTC, "+0000"."""
    tm = time.gmtime(epoch_secs)
    return "%s, %02d %s %d %02d:%02d:%02d +0000" % (
        ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[tm.tm_wday],
        tm.tm_mday, _MONTHS[tm.tm_mon - 1], tm.tm_year, tm.tm_hour,
        tm.tm_min, tm.tm_sec)


def msg(subject="test", frm="Sender <sender@example.org>",
        to="rcpt@example.test", body="test body\r\n", mid=None, date=None,
        headers=(), mime=None):
    """A simple RFC 5322 message, CRLF, as bytes."""
    import uuid
    mid = mid or "<%s@test.osms>" % uuid.uuid4().hex
    date = date if date is not None else "Wed, 25 Nov 2026 12:00:00 +0000"
    if isinstance(date, (int, float)):
        date = rfc5322_date(date)
    h = ["From: %s" % frm, "To: %s" % to, "Subject: %s" % subject,
         "Date: %s" % date, "Message-ID: %s" % mid]
    h += list(headers)
    if mime:
        h += ["MIME-Version: 1.0"] + list(mime)
    text = "\r\n".join(h) + "\r\n\r\n"
    if isinstance(body, bytes):
        return crlf(text.encode("utf-8") + body)
    return crlf((text + body).encode("utf-8"))


# The multipart test message: part 1 plain text, part 2 a base64
# attachment of every byte value (NULs included).
ATTACHMENT = bytes(range(256)) + b"\x00osms\x00" + bytes(range(255, -1, -1))
MULTI_PART1 = b"Hello Bob,\r\nthis is the first part.\r\n"
MULTI_PART2_MIME = (b'Content-Type: application/octet-stream; name="blob.bin"'
                    b'\r\nContent-Transfer-Encoding: base64\r\n'
                    b'Content-Disposition: attachment; filename="blob.bin"'
                    b'\r\n\r\n')


def multipart_msg(mid="<multi@test.osms>"):
    b64 = base64.encodebytes(ATTACHMENT).replace(b"\n", b"\r\n")
    body = (b"This is a multi-part message in MIME format.\r\n"
            b"--=_b1\r\n"
            b"Content-Type: text/plain; charset=us-ascii\r\n\r\n" +
            MULTI_PART1 + b"\r\n"
            b"--=_b1\r\n" + MULTI_PART2_MIME + b64 + b"\r\n"
            b"--=_b1--\r\n")
    return msg(subject="Multipart test",
               frm='"Alice Example" <alice@example.test>',
               to="Bob <bob@example.test>, carol@example.org",
               mid=mid, date="Tue, 03 Feb 2026 10:20:30 +0100",
               headers=["In-Reply-To: <parent@test.osms>",
                        "Cc: Dave <dave@example.net>"],
               mime=['Content-Type: multipart/mixed; boundary="=_b1"'],
               body=body)


# -- IMAP response parsing

class ParseError(Exception):
    pass


def parse(data):
    """Parse IMAP response data (bytes, literals inline as {n}CRLF...)
    into Python values: atoms are str, strings (quoted and literal) are
    bytes, NIL is None, lists are lists. An atom with a [section] keeps
    it whole ("BODY[HEADER.FIELDS (FROM)]<0>")."""
    pos = 0
    n = len(data)
    stack = [[]]
    while pos < n:
        c = data[pos:pos + 1]
        if c in (b" ", b"\r", b"\n"):
            pos += 1
        elif c == b"(":
            stack.append([])
            pos += 1
        elif c == b")":
            if len(stack) < 2:
                raise ParseError("unbalanced ) at %d in %r"
                                 % (pos, data[:200]))
            lst = stack.pop()
            stack[-1].append(lst)
            pos += 1
        elif c == b'"':
            out = bytearray()
            pos += 1
            while True:
                if pos >= n:
                    raise ParseError("unterminated string")
                ch = data[pos:pos + 1]
                if ch == b"\\":
                    out += data[pos + 1:pos + 2]
                    pos += 2
                elif ch == b'"':
                    pos += 1
                    break
                else:
                    out += ch
                    pos += 1
            stack[-1].append(bytes(out))
        elif c == b"{" or (c == b"~" and data[pos + 1:pos + 2] == b"{"):
            m = re.compile(rb"~?\{(\d+)\+?\}\r\n").match(data, pos)
            if not m:
                raise ParseError("bad literal at %d: %r" % (pos,
                                                         data[pos:pos + 20]))
            size = int(m.group(1))
            start = m.end()
            if start + size > n:
                raise ParseError("short literal")
            stack[-1].append(data[start:start + size])
            pos = start + size
        else:
            start = pos
            depth = 0
            while pos < n:
                ch = data[pos:pos + 1]
                if ch == b"[":
                    depth += 1
                elif ch == b"]":
                    depth -= 1
                elif depth == 0 and ch in (b" ", b"(", b")", b"\r", b"\n"):
                    break
                pos += 1
            atom = data[start:pos].decode("utf-8", "surrogateescape")
            stack[-1].append(None if atom.upper() == "NIL" else atom)
    if len(stack) != 1:
        raise ParseError("unbalanced ( in %r" % data[:200])
    return stack[0]


def reassemble(items):
    """imaplib's untagged data for one type (bytes, and (prefix, literal)
    tuples followed by the rest of their line) -> one bytes per response,
    literals inline."""
    out = []
    cur = None
    cont = False
    for it in items:
        if it is None:
            continue
        if isinstance(it, tuple):
            cur = (cur if cont else b"") + it[0] + b"\r\n" + it[1]
            cont = True
            continue
        if cont:
            out.append(cur + it)
            cur = None
            cont = False
        else:
            out.append(it)
    if cont and cur is not None:
        out.append(cur)
    return out


def fetch_items(lst):
    """A FETCH msg-att list -> {ITEM (upper case, spaces single): value}."""
    d = {}
    for i in range(0, len(lst) - 1, 2):
        key = re.sub(r"\s+", " ", str(lst[i])).upper()
        d[key] = lst[i + 1]
    return d


def parse_fetch(data):
    """imaplib FETCH data -> {seq: {ITEM: value}} (merged per message)."""
    out = {}
    for resp in reassemble(data):
        v = parse(resp)
        if len(v) < 2 or not isinstance(v[1], list):
            raise ParseError("not a FETCH response: %r" % resp[:200])
        out.setdefault(int(v[0]), {}).update(fetch_items(v[1]))
    return out


def untagged(log, typ):
    """Untagged responses of a type from an Imap.log, reassembled."""
    return reassemble([d for t, d in log if t == typ])


def resp_code(text, name):
    """The data of response code [NAME ...] in a response text, or None
    ('' when it has no data)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    m = re.search(r"\[%s(?: ([^\]]*))?\]" % re.escape(name), text, re.I)
    if not m:
        return None
    return m.group(1) or ""


def seqset(s):
    """Expand a sequence set without '*' ("1:3,7") into a list."""
    out = []
    if isinstance(s, bytes):
        s = s.decode()
    for part in s.split(","):
        if ":" in part:
            a, b = (int(x) for x in part.split(":"))
            out += range(min(a, b), max(a, b) + 1)
        elif part:
            out.append(int(part))
    return out


def uid_map(c, which="1:*"):
    """{Message-ID: uid} of the selected mailbox (imaplib Imap)."""
    typ, data = c.fetch(which, "(UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    if typ != "OK":
        raise RuntimeError("FETCH: %r" % data)
    out = {}
    for seq, d in parse_fetch(data).items():
        hdr = None
        for k, v in d.items():
            if k.startswith("BODY[HEADER.FIELDS"):
                hdr = v
        m = re.search(rb"<[^>]+>", hdr or b"")
        out[m.group(0).decode() if m else "seq%d" % seq] = int(d["UID"])
    return out


def parse_thread(data):
    """THREAD response data -> list of trees (msg, [children]); a thread
    "(1 2 (3)(4))" is (1, [(2, [(3, []), (4, [])])])."""
    def node(items):
        # a list of numbers then optional sublists: a chain, the last
        # member's children being the sublists
        nums = []
        subs = []
        for x in items:
            if isinstance(x, list):
                subs.append(node(x))
            else:
                nums.append(int(x))
        if not nums:
            return (None, subs)
        tree = (nums[-1], subs)
        for n in reversed(nums[:-1]):
            tree = (n, [tree])
        return tree
    return [node(x) for x in parse(data) if isinstance(x, list)]


def thread_groups(trees):
    """[[root, set(others)]] of each thread: for ORDEREDSUBJECT, where
    children's descendants count as siblings."""
    def walk(t, acc):
        if t[0] is not None:
            acc.append(t[0])
        for c in t[1]:
            walk(c, acc)
        return acc
    out = []
    for t in trees:
        allm = walk(t, [])
        out.append([allm[0], set(allm[1:])])
    return out


# -- imaplib with what the tests need

for _name, _states in (("ID", ("NONAUTH", "AUTH", "SELECTED")),
                       ("IDLE", ("AUTH", "SELECTED")),
                       ("COMPRESS", ("AUTH", "SELECTED")),
                       ("ESEARCH", ("SELECTED",)),
                       ("UID", ("SELECTED",)),
                       ("ENABLE", ("AUTH", "SELECTED")),
                       ("GETQUOTAROOT", ("AUTH", "SELECTED")),
                       ("GETQUOTA", ("AUTH", "SELECTED"))):
    imaplib.Commands[_name] = _states
imaplib.Commands["NOOP"] = ("NONAUTH", "AUTH", "SELECTED", "LOGOUT")


class ScramAuth:
    """imaplib authenticate() callback for SCRAM-SHA-256."""

    def __init__(self, user, password):
        from mailtest import Scram
        self.sc = Scram(user, password)
        self.step = 0
        self.verified = False

    def __call__(self, challenge):
        self.step += 1
        if self.step == 1:
            return self.sc.first()
        if self.step == 2:
            return self.sc.final(challenge)
        self.verified = self.sc.verify(challenge)
        return b""


class SockReader:
    """imaplib's "file": lines and literals from a socket through a buffer
    of our own, so that a timeout loses nothing and the tests can tell
    whether a response is already waiting (buffered())."""

    def __init__(self, sock, recv=None):
        self.sock = sock
        self._recv = recv or sock.recv
        self.buf = bytearray()

    def _more(self):
        b = self._recv(65536)
        if not b:
            return False
        self.buf += b
        return True

    def buffered(self):
        if self.buf:
            return True
        s = self.sock
        return isinstance(s, ssl.SSLSocket) and s.pending() > 0

    def readline(self, limit=-1):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = bytes(self.buf[:i + 1])
                del self.buf[:i + 1]
                return line
            if (limit >= 0 and len(self.buf) > limit) or not self._more():
                line = bytes(self.buf)
                self.buf.clear()
                return line

    def read(self, n):
        while len(self.buf) < n:
            if not self._more():
                break
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def close(self):
        pass


class DeflateIO:
    """COMPRESS=DEFLATE (RFC 4978) under imaplib: raw deflate both ways,
    a sync flush after every write. Stands in for imaplib's sock; its
    .reader for imaplib's file."""

    def __init__(self, sock, pending=b""):
        self.sock = sock
        self.z_out = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.z_in = zlib.decompressobj(-15)
        self.raw_in = 0
        self.raw_out = 0
        self.plain_in = 0
        self.plain_out = 0
        self._pending = pending
        self.reader = SockReader(sock, self.recv)

    def recv(self, n):
        if self._pending:
            b, self._pending = self._pending, b""
        else:
            b = self.sock.recv(n)
            if not b:
                return b""
        self.raw_in += len(b)
        out = self.z_in.decompress(b)
        self.plain_in += len(out)
        # a compressed block may hold no whole byte of output yet
        while not out:
            b = self.sock.recv(n)
            if not b:
                return b""
            self.raw_in += len(b)
            out = self.z_in.decompress(b)
            self.plain_in += len(out)
        return out

    def sendall(self, data):
        out = self.z_out.compress(data) + self.z_out.flush(zlib.Z_SYNC_FLUSH)
        self.plain_out += len(data)
        self.raw_out += len(out)
        self.sock.sendall(out)

    def settimeout(self, t):
        self.sock.settimeout(t)

    def shutdown(self, how):
        self.sock.shutdown(how)

    def close(self):
        self.sock.close()


class Imap(imaplib.IMAP4):
    """imaplib.IMAP4 connecting from CLIENT_ADDR, with implicit TLS when
    implicit=True, reading through a SockReader, keeping an ordered log
    of every untagged response: self.log = [(type, data), ...]."""

    def __init__(self, port, tls_ctx=None, implicit=False, timeout_s=None,
                 source=CLIENT_ADDR):
        self.log = []
        self._ctx = tls_ctx
        self._implicit = implicit
        self._source = source
        self.deflate = None
        imaplib.IMAP4.__init__(self, "127.0.0.1", port,
                               timeout_s or timeout())

    def _create_socket(self, timeout_s):
        sock = socket.create_connection(
            (self.host, self.port), timeout_s,
            source_address=(self._source, 0))
        if self._implicit:
            sock = self._ctx.wrap_socket(sock, server_hostname="127.0.0.1")
        return sock

    def open(self, host="", port=imaplib.IMAP4_PORT, timeout=None):
        self.host = host
        self.port = port
        self.sock = self._create_socket(timeout)
        self.netsock = self.sock
        self.file = SockReader(self.sock)

    def starttls(self, ssl_context=None):
        ctx = ssl_context or self._ctx
        typ, dat = self._simple_command("STARTTLS")
        if typ != "OK":
            raise self.error("STARTTLS: %s %r" % (typ, dat))
        self.sock = ctx.wrap_socket(self.sock, server_hostname="127.0.0.1")
        self.netsock = self.sock
        self.file = SockReader(self.sock)
        self._tls_established = True
        self._get_capabilities()
        return typ, dat

    def _append_untagged(self, typ, dat):
        self.log.append((typ, dat))
        imaplib.IMAP4._append_untagged(self, typ, dat)

    def run(self, name, *args):
        """A command: (typ, tagged text, [(type, data) untagged...]).
        A BAD is returned, not raised."""
        self.log = []
        for k in list(self.untagged_responses):
            if k != "READ-ONLY":
                del self.untagged_responses[k]
        # any command in any state: the server is what is tested
        saved = imaplib.Commands.get(name.upper())
        imaplib.Commands[name.upper()] = ("NONAUTH", "AUTH", "SELECTED",
                                          "LOGOUT")
        try:
            tag = self._command(name, *args)
        finally:
            if saved is None:
                del imaplib.Commands[name.upper()]
            else:
                imaplib.Commands[name.upper()] = saved
        self.last_tag = tag.decode()
        typ, data = self._get_tagged_response(tag)
        self._check_bye()
        text = data[-1] if data else b""
        return typ, text, list(self.log)

    def ok(self, name, *args):
        """run() that must end in OK; returns (tagged text, log)."""
        typ, text, log = self.run(name, *args)
        if typ != "OK":
            raise AssertionError("%s %s: %s %r" % (
                name, " ".join(a.decode("utf-8", "replace")
                               if isinstance(a, bytes) else str(a)
                               for a in args), typ, text))
        return text, log

    def caps(self):
        """A fresh CAPABILITY as a set of upper-case names."""
        typ, data = self.capability()
        return set(data[-1].decode().upper().split())

    def select_info(self, mailbox="INBOX", readonly=False, params=None):
        """SELECT/EXAMINE: (typ, tagged text, untagged log)."""
        name = "EXAMINE" if readonly else "SELECT"
        args = [mailbox] + ([params] if params else [])
        typ, text, log = self.run(name, *args)
        if typ == "OK":
            self.state = "SELECTED"
            self.is_readonly = readonly
        return typ, text, log

    # IDLE (RFC 2177), which imaplib 3.11 lacks.

    def idle_start(self):
        """IDLE; True once the server sent its continuation."""
        self.log = []
        self._idle_tag = self._new_tag()
        self.send(self._idle_tag + b" IDLE\r\n")
        while True:
            r = self._get_response()
            if r is None:
                return True
            if self.tagged_commands.get(self._idle_tag):
                return False

    def wait_for(self, cond, limit):
        """Read responses until cond(self.log) holds or limit seconds
        pass (select() first, so nothing blocks past the limit)."""
        deadline = time.monotonic() + limit
        while not cond(self.log):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if not self.file.buffered():
                r, _, _ = select.select([self.netsock], [], [], left)
                if not r:
                    return False
            self._get_response()
        return True

    def idle_done(self):
        self.send(b"DONE\r\n")
        typ, data = self._get_tagged_response(self._idle_tag)
        return typ, data[-1] if data else b""

    def compress(self):
        """COMPRESS DEFLATE; from its OK on, everything is deflated."""
        typ, text, _ = self.run("COMPRESS", "DEFLATE")
        if typ != "OK":
            return typ, text
        pending = bytes(self.file.buf)
        self.deflate = DeflateIO(self.sock, pending)
        self.sock = self.deflate
        self.file = self.deflate.reader
        return typ, text

    def close_quietly(self):
        try:
            self.shutdown()
        except Exception:
            pass


def client_ctx(server):
    ctx = ssl.create_default_context(cafile=server.tls["ca"])
    return ctx


def imap(server, user=None, tls="implicit", source=CLIENT_ADDR,
         timeout_s=None):
    """An Imap on imaps (tls="implicit"), or on imap with STARTTLS
    (tls="starttls") or in clear (tls=None); logged in as user (local
    part) when given."""
    ctx = client_ctx(server)
    if tls == "implicit":
        c = Imap(server.ports["imaps"], ctx, True, timeout_s, source)
    else:
        c = Imap(server.ports["imap"], ctx, False, timeout_s, source)
        if tls == "starttls":
            c.starttls(ctx)
    if user:
        addr, pw = server.user(user)
        c.login(addr, pw)
    return c


@contextlib.contextmanager
def session(server, user, tls="implicit"):
    c = imap(server, user, tls)
    try:
        yield c
    finally:
        try:
            c.logout()
        except Exception:
            c.close_quietly()




# -- a raw IMAP/POP3 line client (for what imaplib cannot send)

class Raw:
    """A line-oriented client over TLS (or clear), own buffer, every read
    bounded by a timeout."""

    def __init__(self, port, ctx=None, source=CLIENT_ADDR, timeout_s=None):
        self.timeout = timeout_s or timeout()
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             self.timeout,
                                             source_address=(source, 0))
        if ctx is not None:
            self.sock = ctx.wrap_socket(self.sock,
                                        server_hostname="127.0.0.1")
        self.buf = b""
        self.ntag = 0
        self.closed = False

    def starttls(self, ctx):
        self.sock = ctx.wrap_socket(self.sock, server_hostname="127.0.0.1")

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("no answer")
        self.sock.settimeout(left)
        b = self.sock.recv(65536)
        if not b:
            self.closed = True
            raise EOFError("connection closed")
        self.buf += b

    def line(self, timeout_s=None):
        """One line without CRLF; socket.timeout or EOFError."""
        deadline = time.monotonic() + (timeout_s or self.timeout)
        while b"\n" not in self.buf:
            self._fill(deadline)
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r")

    def read(self, n, timeout_s=None):
        deadline = time.monotonic() + (timeout_s or self.timeout)
        while len(self.buf) < n:
            self._fill(deadline)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def response(self, timeout_s=None):
        """One IMAP response, literals inline ({n}CRLF data)."""
        line = self.line(timeout_s)
        out = line
        while True:
            m = re.search(rb"~?\{(\d+)\}$", line)
            if not m:
                return out
            data = self.read(int(m.group(1)), timeout_s)
            line = self.line(timeout_s)
            out += b"\r\n" + data + line

    def quiet(self, seconds):
        """Responses that arrive within seconds (nothing is fine)."""
        out = []
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return out
            try:
                out.append(self.response(left))
            except socket.timeout:
                return out

    def tag(self):
        self.ntag += 1
        return "R%d" % self.ntag

    def cmd(self, text, timeout_s=None, tag=None):
        """Send "TAG text"; read to the tagged reply. Returns (status,
        tagged line, [untagged responses])."""
        tag = tag or self.tag()
        self.send(tag + " " + text + "\r\n")
        return self.wait(tag, timeout_s)

    def wait(self, tag, timeout_s=None):
        untagged = []
        t = tag.encode() if isinstance(tag, str) else tag
        while True:
            r = self.response(timeout_s)
            if r.startswith(t + b" "):
                status = r.split(b" ", 2)[1].decode().upper()
                return status, r, untagged
            untagged.append(r)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def raw_imap(server, user=None, tls="implicit", source=CLIENT_ADDR):
    """A Raw IMAP connection past the greeting (returned as .greeting),
    logged in when user is given."""
    ctx = client_ctx(server)
    if tls == "implicit":
        r = Raw(server.ports["imaps"], ctx, source)
    else:
        r = Raw(server.ports["imap"], None, source)
    try:
        r.greeting = r.line()
        if tls == "starttls":
            st, line, _ = r.cmd("STARTTLS")
            if st != "OK":
                raise RuntimeError("STARTTLS: %r" % line)
            r.starttls(ctx)
        if user:
            addr, pw = server.user(user)
            st, line, _ = r.cmd('LOGIN "%s" "%s"' % (addr, pw))
            if st != "OK":
                raise RuntimeError("LOGIN: %r" % line)
    except BaseException:
        r.close()
        raise
    return r


# -- POP3

class Pop3(poplib.POP3):
    """poplib.POP3 from CLIENT_ADDR, implicit TLS with implicit=True."""

    def __init__(self, port, ctx=None, implicit=False, source=CLIENT_ADDR,
                 timeout_s=None):
        self._ctx = ctx
        self._implicit = implicit
        self._source = source
        poplib.POP3.__init__(self, "127.0.0.1", port,
                             timeout_s or timeout())

    def _create_socket(self, timeout_s):
        sock = socket.create_connection((self.host, self.port), timeout_s,
                                        source_address=(self._source, 0))
        if self._implicit:
            sock = self._ctx.wrap_socket(sock, server_hostname="127.0.0.1")
        return sock

    def caps(self):
        return {k.upper(): [x.upper() for x in v]
                for k, v in self.capa().items()}

    def _shortcmd_raw(self, line):
        """One command, its status line returned (+OK or -ERR alike)."""
        self._putcmd(line)
        return self._getline()[0]

    def close_quietly(self):
        try:
            self.close()
        except Exception:
            pass


def pop3(server, user=None, tls="implicit", source=CLIENT_ADDR):
    ctx = client_ctx(server)
    if tls == "implicit":
        p = Pop3(server.ports["pop3s"], ctx, True, source)
    else:
        p = Pop3(server.ports["pop3"], ctx, False, source)
        if tls == "starttls":
            p.stls(ctx)
    if user:
        addr, pw = server.user(user)
        p.user(addr)
        p.pass_(pw)
    return p


class RawPop3(Raw):
    def cmd(self, text, timeout_s=None):
        self.send(text + "\r\n")
        return self.line(timeout_s)

    def multi(self, timeout_s=None):
        """The lines of a multi-line answer, still dot-stuffed, up to the
        terminating "."; the raw bytes too."""
        lines = []
        while True:
            line = self.line(timeout_s)
            if line == b".":
                return lines
            lines.append(line)

