"""The osms end-to-end test harness (Python 3 standard library only).

A test script starts with

    import os, sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from osmstest import *

    t = Tests(__file__)
    with Osms() as o:
        with t.case("banner on smtp"):
            t.expect(smtp_banner(o.ports["smtp"]).startswith("220 "),
                     "220 greeting")
    t.done()

and prints "ok - NAME" / "not ok - NAME" lines with "# " diagnostics,
which regress/run.py counts. It runs as root from the project root with
BUILD (default build, or build/san when SAN=1) and SAN in the environment.

Environment:
    BUILD, SAN          as given by regress/run.py
    OSMS_KEEP=1         keep the temp directories (daemon logs, configs)
    OSMS_PGBIN          PostgreSQL's bin directory (default: version 15)
"""

import atexit
import contextlib
import ctypes
import os
import pwd
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback

__all__ = [
    "ROOT", "BUILD", "SAN", "USERS", "ALIASES", "LISTENERS",
    "Tests", "CaseFailed", "OsmsError", "Osms", "Pg",
    "free_ports", "make_ca_and_cert", "password_hash",
    "smtp_banner", "read_banner", "wait_port", "run",
    "proc_field", "proc_children", "memory_has", "inject_syscall",
    "RSS_SLACK_KB",
    "ENV_END_LEN", "envelope_whole", "envelope_records", "envelope_seal",
]

# Under ASan, freed memory waits in a quarantine (256 MB by default) and
# counts in a daemon's RSS: a small one keeps memory bounds telling, and
# RSS_SLACK_KB is what a bound allows for it and the sanitizer's own
# bookkeeping. The bounds themselves hold in the normal build.
SAN_QUARANTINE_MB = 8
RSS_SLACK_KB = 0

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SAN = os.environ.get("SAN", "0") or "0"
if SAN == "1":
    RSS_SLACK_KB = 32 * 1024
BUILD = os.path.join(ROOT, os.environ.get("BUILD") or
                     ("build/san" if SAN == "1" else "build"))
KEEP = os.environ.get("OSMS_KEEP", "") not in ("", "0")

# The demo users and aliases, the same in every test instance.
USERS = {
    "alice@example.test": "alice-pw",
    "bob@example.test": "bob-pw",
}
ALIASES = {
    "postmaster@example.test": "alice@example.test",
}

# (name in Osms.ports, config words after "port P")
LISTENERS = [
    ("smtp", "smtp starttls"),
    ("submission", "submission starttls-require"),
    ("submissions", "submission tls"),
    ("imap", "imap starttls"),
    ("imaps", "imap tls"),
    ("pop3", "pop3 starttls"),
    ("pop3s", "pop3 tls"),
]


# Sanitizer reports found in daemon logs; Tests reports each as a failure.
_SAN_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                "runtime error:", "WARNING: AddressSanitizer")
_san_reports = []


def _diag_lines(text):
    for line in str(text).rstrip("\n").splitlines() or [""]:
        yield "# " + line if line else "#"


def _out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class CaseFailed(Exception):
    """Raised by Tests.require(); ends the case without a traceback."""


class _Terminated(BaseException):
    """SIGTERM (the runner's timeout): unwind so that cleanups run."""


class Tests:
    """TAP-like reporting.

    t.ok(cond, name, diag=None)     one test line
    with t.case(name): ...          one test: fails on an exception or a
                                    failed t.expect()/t.require() inside
    t.expect(cond, msg)             soft check inside a case (goes on)
    t.require(cond, msg)            hard check inside a case (ends it)
    t.diag(text)                    "# " lines
    t.done()                        exit 0 if all passed, else 1
    """

    def __init__(self, file=None):
        self.name = os.path.basename(file or sys.argv[0])
        self.passed = 0
        self.failed = 0
        self._cases = []        # stack of [name, [failure messages]]
        self._done = False
        self._term_reported = False
        sys.excepthook = self._excepthook
        atexit.register(self._atexit)
        try:
            signal.signal(signal.SIGTERM, self._sigterm)
        except ValueError:
            pass            # not the main thread

    # -- reporting

    def diag(self, text):
        for line in _diag_lines(text):
            _out(line)

    def ok(self, cond, name, diag=None):
        if cond:
            self.passed += 1
            _out("ok - " + name)
        else:
            self.failed += 1
            _out("not ok - " + name)
            if diag is not None:
                if isinstance(diag, (list, tuple)):
                    diag = "\n".join(str(d) for d in diag)
                self.diag(diag)
        return bool(cond)

    @contextlib.contextmanager
    def case(self, name):
        frame = [name, []]
        self._cases.append(frame)
        exc_text = None
        try:
            yield self
        except CaseFailed as e:
            frame[1].append(str(e) or "required check failed")
        except _Terminated:
            self._cases.pop()
            self.ok(False, name, "terminated (SIGTERM, test timeout?)")
            self._term_reported = True
            raise
        except KeyboardInterrupt:
            self._cases.pop()
            self.ok(False, name, "interrupted")
            raise
        except BaseException:
            exc_text = traceback.format_exc()
        if self._cases and self._cases[-1] is frame:
            self._cases.pop()
        msgs = list(frame[1])
        if exc_text is not None:
            msgs.append(exc_text)
        self.ok(not msgs, name, "\n".join(msgs) if msgs else None)

    def expect(self, cond, msg):
        """Inside a case: note a failure and go on. Outside: one test."""
        if not self._cases:
            return self.ok(cond, msg)
        if not cond:
            self._cases[-1][1].append("expected: " + str(msg))
        return bool(cond)

    def require(self, cond, msg):
        """Inside a case: fail it and leave it at once. Outside: a test
        that, failing, raises so the script stops."""
        if not self._cases:
            if not self.ok(cond, msg):
                raise CaseFailed(msg)
            return True
        if not cond:
            raise CaseFailed("required: " + str(msg))
        return True

    def skip(self, name, reason):
        """A test that cannot run here: reported as passing with a note."""
        self.passed += 1
        _out("ok - %s # SKIP %s" % (name, reason))

    def _san_check(self):
        while _san_reports:
            where, text = _san_reports.pop(0)
            self.ok(False, "no sanitizer report in %s" % where, text)

    def done(self):
        self._san_check()
        self._done = True
        sys.stdout.flush()
        if self.passed + self.failed == 0:
            _out("not ok - %s: no test ran" % self.name)
            self.failed += 1
        sys.exit(1 if self.failed else 0)

    # -- never a silently missing test

    def _excepthook(self, etype, value, tb):
        text = "".join(traceback.format_exception(etype, value, tb))
        if etype is CaseFailed:
            # Already reported by require() outside a case.
            self.diag("stopped: %s" % value)
        elif etype is _Terminated and self._term_reported:
            self.diag("stopped by SIGTERM")
        else:
            self.ok(False, "%s: unhandled %s" % (self.name, etype.__name__),
                    text)
        sys.stderr.write(text)
        sys.stderr.flush()

    def _sigterm(self, signo, frame):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise _Terminated("SIGTERM")

    def _atexit(self):
        if self._done:
            return
        self._san_check()
        sys.stdout.flush()
        if self.failed:
            os._exit(1)
        if self.passed == 0:
            _out("not ok - %s: no test ran" % self.name)
            os._exit(1)


# -- small helpers

def run(argv, check=True, timeout=60, **kw):
    """subprocess.run with text output captured; raises with stderr."""
    kw.setdefault("stdin", subprocess.DEVNULL)
    p = subprocess.run(argv, capture_output=True, text=True,
                       timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise RuntimeError("%s: exit %d\n%s%s" % (
            " ".join(argv), p.returncode, p.stdout, p.stderr))
    return p


def free_ports(n):
    """n distinct TCP ports on 127.0.0.1 that were free a moment ago."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def read_banner(port, timeout=5, host="127.0.0.1"):
    """Connect and return the first line the server sends, without CRLF."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.settimeout(timeout)
        buf = b""
        deadline = time.monotonic() + timeout
        while b"\n" not in buf:
            if time.monotonic() > deadline:
                raise TimeoutError("no banner on port %d" % port)
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
        return buf.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8",
                                                           "replace")


def smtp_banner(port, timeout=5):
    return read_banner(port, timeout)


def wait_port(port, timeout=10, host="127.0.0.1"):
    """Wait until something accepts connections on the port."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError("nothing listens on %s:%d" % (host, port))
            time.sleep(0.05)


_hash_cache = {}


def password_hash(password):
    """A {SHA512-CRYPT} hash for the users file, made by openssl."""
    if password not in _hash_cache:
        p = run(["openssl", "passwd", "-6", "-stdin"],
                input=password + "\n", stdin=None)
        _hash_cache[password] = "{SHA512-CRYPT}" + p.stdout.strip()
    return _hash_cache[password]


# -- TLS test certificates

_pki_cache = None
_PKI_FILES = ("ca.pem", "ca.key", "server.pem", "server.key")


def _make_pki(d):
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
          "-nodes"]
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\n"
                "subjectAltName=DNS:localhost,DNS:mail.example.test,"
                "IP:127.0.0.1\n"
                "authorityKeyIdentifier=keyid\n"
                "subjectKeyIdentifier=hash\n")
    old = os.umask(0o077)
    try:
        run(["openssl", "req", "-x509"] + ec +
            ["-keyout", "ca.key", "-out", "ca.pem", "-days", "3650",
             "-subj", "/O=osms tests/CN=osms test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign"], cwd=d)
        run(["openssl", "req", "-new"] + ec +
            ["-keyout", "server.key", "-out", "server.csr",
             "-subj", "/O=osms tests/CN=localhost"], cwd=d)
        run(["openssl", "x509", "-req", "-in", "server.csr",
             "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial",
             str(int.from_bytes(os.urandom(8), "big")), "-days", "825",
             "-extfile", "server.ext", "-out", "server.pem"], cwd=d)
    finally:
        os.umask(old)
    for f in ("server.csr", "server.ext"):
        os.unlink(os.path.join(d, f))


def make_ca_and_cert(dir):
    """A test CA and a server certificate for localhost, mail.example.test
    and 127.0.0.1 (EC P-256) in dir: ca.pem, ca.key, server.pem,
    server.key (keys 0600, owned by root when run as root). Made once per
    process and copied. Returns a dict of absolute paths: ca, ca_key,
    cert, key."""
    global _pki_cache
    if _pki_cache is None:
        d = tempfile.mkdtemp(prefix="osms-pki-")
        _make_pki(d)
        _pki_cache = d
        atexit.register(shutil.rmtree, d, True)
    os.makedirs(dir, exist_ok=True)
    for f in _PKI_FILES:
        dst = os.path.join(dir, f)
        shutil.copyfile(os.path.join(_pki_cache, f), dst)
        os.chmod(dst, 0o600 if f.endswith(".key") else 0o644)
        if os.geteuid() == 0:
            os.chown(dst, 0, 0)
    return {
        "ca": os.path.join(os.path.abspath(dir), "ca.pem"),
        "ca_key": os.path.join(os.path.abspath(dir), "ca.key"),
        "cert": os.path.join(os.path.abspath(dir), "server.pem"),
        "key": os.path.join(os.path.abspath(dir), "server.key"),
    }


# -- queue files (lib/mail/envelope.c: "OSMSENV2", records of u8 type,
# u32 length and the value, then END: 0xff, 8, FNV-1a 64 of the rest)

ENV_END_LEN = 13


def _fnv1a64(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
    return h


def envelope_whole(raw):
    """True if raw is an envelope file with its END record and checksum."""
    if len(raw) < 8 + ENV_END_LEN or raw[:7] != b"OSMSENV":
        return False
    end = raw[-ENV_END_LEN:]
    return (end[0] == 0xff and struct.unpack("<I", end[1:5])[0] == 8 and
            struct.unpack("<Q", end[5:])[0] ==
            _fnv1a64(raw[:-ENV_END_LEN]))


def envelope_records(raw, start=8, end=None):
    """(type, offset of the value, its length) of each record in
    raw[start:end]: the file's records past the magic, by default, or
    those inside a RCPT or DEST value."""
    at, end = start, len(raw) if end is None else end
    while at + 5 <= end:
        typ, n = raw[at], struct.unpack("<I", raw[at + 1:at + 5])[0]
        yield typ, at + 5, n
        at += 5 + n


def envelope_seal(body):
    """body (magic and records) with its END record."""
    return body + b"\xff" + struct.pack("<IQ", 8, _fnv1a64(body))


# -- processes

def _proc_stat(pid):
    """(ppid, starttime, state) of a live process, or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return None
    fields = st[st.rfind(")") + 2:].split()
    if fields[0] == "Z":
        return None
    return int(fields[1]), fields[19], fields[0]


def _children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            s = _proc_stat(int(d))
            if s is not None:
                kids.setdefault(s[0], []).append(int(d))
    return kids


def proc_children(pid):
    """The live child processes of pid."""
    return _children_map().get(pid, [])


def memory_has(pid, needle):
    """Whether needle is anywhere in the readable memory of pid. Regions
    over 1 GiB are skipped: the sanitizers' shadow and reserve, mostly
    never touched."""
    chunk = 1 << 20
    with open("/proc/%d/maps" % pid) as maps, \
            open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            addr, perms = line.split()[:2]
            lo, hi = (int(x, 16) for x in addr.split("-"))
            if not perms.startswith("r") or hi - lo > (1 << 30):
                continue
            tail = b""
            for at in range(lo, hi, chunk):
                try:
                    mem.seek(at)
                    data = tail + mem.read(min(chunk, hi - at))
                except (OSError, ValueError, OverflowError):
                    break
                if needle in data:
                    return True
                tail = data[-len(needle):]
    return False


def proc_field(pid, name):
    """The words of a field of /proc/PID/status ("Uid" -> 4 ids), or
    None."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split(":", 1)[1].split()
    return None


_libc = ctypes.CDLL(None, use_errno=True)
_libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p,
                         ctypes.c_void_p]
_libc.ptrace.restype = ctypes.c_long
_REGS = ["r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8",
         "rax", "rcx", "rdx", "rsi", "rdi", "orig_rax", "rip", "cs",
         "eflags", "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs"]


class _Regs(ctypes.Structure):
    _fields_ = [(n, ctypes.c_ulonglong) for n in _REGS]


def inject_syscall(pid, nr, args=()):
    """Make a process that waits in a system call make another one
    instead, as code run by an attacker inside it would (x86-64 only).
    ptrace stops it; the registers are set up so that it runs the
    syscall instruction it stopped after once more, with call nr."""
    PTRACE_GETREGS, PTRACE_SETREGS, PTRACE_ATTACH, PTRACE_DETACH = \
        12, 13, 16, 17

    def pt(req, addr=None, data=None):
        if _libc.ptrace(req, pid, addr, data) == -1:
            e = ctypes.get_errno()
            raise OSError(e, "ptrace %d: %s" % (req, os.strerror(e)))
    pt(PTRACE_ATTACH)
    os.waitpid(pid, 0x40000000)     # __WALL
    regs = _Regs()
    pt(PTRACE_GETREGS, None, ctypes.addressof(regs))
    with open("/proc/%d/mem" % pid, "rb", 0) as mem:
        mem.seek(regs.rip - 2)
        insn = mem.read(2)
    if insn != b"\x0f\x05":
        pt(PTRACE_DETACH)
        raise OSError(0, "not stopped after a syscall instruction")
    regs.rip -= 2
    regs.rax = nr
    regs.orig_rax = 2**64 - 1
    for name, v in zip(("rdi", "rsi", "rdx"), args):
        setattr(regs, name, v)
    pt(PTRACE_SETREGS, None, ctypes.addressof(regs))
    pt(PTRACE_DETACH)


def _descendants(pid):
    kids = _children_map()
    out, todo = [], [pid]
    while todo:
        for k in kids.get(todo.pop(), []):
            out.append(k)
            todo.append(k)
    return out


class OsmsError(Exception):
    pass


class Osms:
    """One osmsd instance in a temp directory, on free loopback ports.

    Osms(extra_conf="", roles_conf="", listeners=True, start=True, env=None)

    Attributes: dir, conf (path), ports (dict by listener name), tls
    (dict from make_ca_and_cert), proc (Popen of osmsd).
    The config is: the top-level statements and listeners, then
    extra_conf, then the "smtpd { }" block, then roles_conf.
    """

    def __init__(self, extra_conf="", roles_conf="", listeners=True,
                 start=True, env=None):
        self.proc = None
        self.dir = None
        self._known = {}        # pid -> starttime of osmsd's processes
        self._closed = False
        self.extra_env = dict(env or {})
        self.timeout = 60 if SAN == "1" else 30
        atexit.register(self.close)
        try:
            self._setup(extra_conf, roles_conf, listeners)
            if start:
                self.start()
        except BaseException:
            self.close()
            raise

    def _setup(self, extra_conf, roles_conf, listeners):
        self.dir = tempfile.mkdtemp(prefix="osms-e2e-")
        os.chmod(self.dir, 0o755)
        for sub in ("spool", "mail", "empty", "run"):
            os.mkdir(os.path.join(self.dir, sub), 0o755)
        self.tls = make_ca_and_cert(os.path.join(self.dir, "tls"))
        # The shipped test signature (EICAR) for scand; its jail.
        os.mkdir(os.path.join(self.dir, "clamav"), 0o755)
        shutil.copyfile(os.path.join(ROOT, "regress", "data", "clamav",
                                     "osms-test.ndb"),
                        os.path.join(self.dir, "clamav", "osms-test.ndb"))
        self.users_file = os.path.join(self.dir, "users")
        self.aliases_file = os.path.join(self.dir, "aliases")
        self.write_users(USERS)
        self.write_file("aliases", "".join(
            "%s %s\n" % kv for kv in ALIASES.items()), 0o600)
        names = [n for n, _ in LISTENERS]
        self.ports = dict(zip(names, free_ports(len(names))))
        self.conf = os.path.join(self.dir, "osmsd.conf")
        self.control_socket = os.path.join(self.dir, "run", "control.sock")
        self.write_conf(self.make_conf(extra_conf, roles_conf, listeners))

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def write_file(self, name, text, mode=0o644):
        p = self.path(name)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, mode)
        return p

    def write_users(self, users):
        """users: {address: password}; rewrites the users file."""
        self.write_file("users", "".join(
            "%s %s\n" % (a, password_hash(pw)) for a, pw in users.items()),
            0o600)

    def make_conf(self, extra_conf="", roles_conf="", listeners=True):
        d = self.dir
        lines = [
            'hostname "mail.example.test"',
            'control socket "%s/run/control.sock"' % d,
            'queue directory "%s/spool"' % d,
            'mail directory "%s/mail"' % d,
            'empty directory "%s/empty"' % d,
            'pki "test" certificate "%s" key "%s"' % (self.tls["cert"],
                                                     self.tls["key"]),
            'table users file "%s/users"' % d,
            'table aliases file "%s/aliases"' % d,
            'domain "example.test" users <users> aliases <aliases>',
        ]
        if listeners:
            for name, words in LISTENERS:
                lines.append('listen on 127.0.0.1 port %d %s pki "test"'
                             % (self.ports[name], words))
        text = "\n".join(lines) + "\n"
        if extra_conf:
            text += "\n" + extra_conf.rstrip("\n") + "\n"
        text += "\nsmtpd {\n\tmax-message-size 10M\n}\n"
        text += '\nscand {\n\tdatabase "%s/clamav"\n}\n' % d
        text += '\ncryptod {\n\tcertificates "%s/certs"\n}\n' % d
        # No name server is reachable outside a test's own network
        # namespace: the sender checks are on only where a test asks.
        text += '\ncheckd {\n\tenable no\n\tdirectory "%s/check"\n}\n' % d
        if roles_conf:
            text += "\n" + roles_conf.rstrip("\n") + "\n"
        return text

    def conf_text(self):
        with open(self.conf) as f:
            return f.read()

    def write_conf(self, text):
        """Replace osmsd.conf (mode 0600) atomically, so that a reload
        never reads a half-written file; then ctl("reload") if running."""
        tmp = self.conf + ".new"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o600)
        os.rename(tmp, self.conf)

    # -- the daemon

    def start(self):
        if self.proc is not None and self.proc.poll() is None:
            raise OsmsError("osmsd already running")
        env = dict(os.environ)
        if SAN == "1":
            env["ASAN_OPTIONS"] = ("detect_leaks=0:abort_on_error=1:"
                                   "quarantine_size_mb=%d" % SAN_QUARANTINE_MB)
            env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
        env.update(self.extra_env)
        osmsd = os.path.join(BUILD, "osmsd")
        if not os.access(osmsd, os.X_OK):
            raise OsmsError("%s is not built" % osmsd)
        self._logf = open(self.path("osmsd.log"), "ab")
        self.proc = subprocess.Popen(
            [osmsd, "-d", "-f", self.conf], stdin=subprocess.DEVNULL,
            stdout=self._logf, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        self._remember(self.proc.pid)
        self.wait_ready(self.timeout)
        return self

    def _remember(self, pid):
        s = _proc_stat(pid)
        if s is not None:
            self._known.setdefault(pid, s[1])

    def _snapshot(self):
        """Remember osmsd and all its descendants by pid and start time."""
        if self.proc is not None and self.proc.poll() is None:
            for pid in _descendants(self.proc.pid):
                self._remember(pid)

    def ctl(self, *args, timeout=30, input=None):
        """Run osmsctl -f CONF ARGS... (input: its standard input, e.g.
        a password); returns the CompletedProcess."""
        return subprocess.run(
            [os.path.join(BUILD, "osmsctl"), "-f", self.conf] +
            [str(a) for a in args], capture_output=True, text=True,
            input=input, stdin=subprocess.DEVNULL if input is None
            else None, timeout=timeout)

    @staticmethod
    def parse_status(text):
        rows = []
        for line in text.splitlines():
            w = line.split()
            if not w or w[0] == "ROLE":
                continue
            if len(w) < 5:
                raise OsmsError("bad osmsctl status row: %r" % line)
            rows.append({"role": w[0],
                         "pid": 0 if w[1] == "-" else int(w[1]),
                         "uptime": w[2], "restarts": int(w[3]),
                         "state": w[4], "info": " ".join(w[5:])})
        return rows

    def status(self):
        """osmsctl status as a list of dicts: role, pid, uptime, restarts,
        state. Raises OsmsError if osmsctl fails."""
        p = self.ctl("status")
        if p.returncode != 0:
            raise OsmsError("osmsctl status: exit %d: %s" % (
                p.returncode, (p.stderr or p.stdout).strip()))
        rows = self.parse_status(p.stdout)
        for r in rows:
            if r["pid"]:
                self._remember(r["pid"])
        self._snapshot()
        return rows

    def pid(self, role):
        for r in self.status():
            if r["role"] == role:
                return r["pid"]
        raise OsmsError("no process with role %s" % role)

    def pids(self, role=None):
        return [r["pid"] for r in self.status()
                if role is None or r["role"] == role]

    def wait_ready(self, timeout=None):
        """Wait until osmsctl status answers and every process is ready
        (the parent: running). Raises OsmsError with the log tail."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        last = "osmsctl status never ran"
        while True:
            if self.proc is None or self.proc.poll() is not None:
                raise OsmsError("osmsd exited (%s) before it was ready\n%s"
                                % (self.proc and self.proc.returncode,
                                   self.log_tail()))
            try:
                p = self.ctl("status", timeout=10)
                last = "exit %d\n%s%s" % (p.returncode, p.stdout, p.stderr)
                if p.returncode == 0:
                    rows = self.parse_status(p.stdout)
                    for r in rows:
                        if r["pid"]:
                            self._remember(r["pid"])
                    if rows and all(r["state"] in ("ready", "running")
                                    for r in rows):
                        self._snapshot()
                        return rows
            except (subprocess.TimeoutExpired, OsmsError) as e:
                last = str(e)
            if time.monotonic() > deadline:
                raise OsmsError(
                    "osmsd not ready after %gs; last osmsctl status: %s\n%s"
                    % (timeout, last.strip(), self.log_tail()))
            time.sleep(0.1)

    def log(self):
        try:
            with open(self.path("osmsd.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def log_tail(self, n=40):
        lines = self.log().splitlines()[-n:]
        return "--- osmsd.log (last %d lines)\n%s" % (len(lines),
                                                       "\n".join(lines))

    def stop(self, timeout=20):
        """SIGTERM osmsd, wait for it; returns its exit status (negative:
        killed by that signal). Raises OsmsError if it does not exit."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self._snapshot()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                raise OsmsError("osmsd did not exit %gs after SIGTERM\n%s"
                                % (timeout, self.log_tail()))
        return self.proc.returncode

    def alive(self):
        """The pids of osmsd's processes (seen so far) still running."""
        return [pid for pid, st in self._known.items()
                if (_proc_stat(pid) or (0, None))[1] == st]

    def kill_all(self):
        self._snapshot()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for pid in self.alive():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def close(self):
        if self._closed:
            return
        self._closed = True
        try:
            try:
                self.stop()
            except Exception:
                pass
            self.kill_all()
        finally:
            if getattr(self, "_logf", None) is not None:
                self._logf.close()
            log = self.log() if self.dir is not None else ""
            for marker in _SAN_MARKERS:
                i = log.find(marker)
                if i != -1:
                    _san_reports.append(("osmsd.log", log[max(0, i - 200):
                                                         i + 3000]))
                    break
            if self.dir is not None:
                if KEEP:
                    sys.stdout.write("# kept %s\n" % self.dir)
                else:
                    shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


# -- PostgreSQL

def _pgbin():
    env = os.environ.get("OSMS_PGBIN")
    if env:
        return env
    if os.path.isdir("/usr/lib/postgresql/15/bin"):
        return "/usr/lib/postgresql/15/bin"
    try:
        vers = sorted((d for d in os.listdir("/usr/lib/postgresql")
                       if d.isdigit()), key=int)
    except OSError:
        vers = []
    return "/usr/lib/postgresql/%s/bin" % (vers[-1] if vers else "15")


class Pg:
    """A throwaway PostgreSQL cluster (Unix socket only, trust auth).

    Attributes: dir, datadir, sockdir, conninfo ("host=... dbname=osms
    user=osms"). psql(sql) returns psql's unaligned output; stop(),
    start(), running(). Database osms, superuser role osms.
    """

    def __init__(self, start=True):
        self.bin = _pgbin()
        self.dir = None
        self._closed = False
        self._started = False
        self._db_created = False
        try:
            pw = pwd.getpwnam("postgres")
            self.uid, self.gid = pw.pw_uid, pw.pw_gid
            self.dir = tempfile.mkdtemp(prefix="osms-pg-")
            os.chmod(self.dir, 0o755)
            os.chown(self.dir, self.uid, self.gid)
            self.datadir = os.path.join(self.dir, "data")
            self.sockdir = os.path.join(self.dir, "run")
            self.logfile = os.path.join(self.dir, "pg.log")
            os.mkdir(self.sockdir, 0o755)
            os.chown(self.sockdir, self.uid, self.gid)
            self.conninfo = "host=%s dbname=osms user=osms" % self.sockdir
            self._as_postgres([os.path.join(self.bin, "initdb"), "-D",
                               self.datadir, "-A", "trust", "-U", "osms",
                               "--no-sync", "-E", "UTF8", "--locale=C"])
            atexit.register(self.close)
            if start:
                self.start()
        except BaseException:
            self.close()
            raise

    def _as_postgres(self, argv, check=True):
        return run(["runuser", "-u", "postgres", "--"] + argv, check=check,
                   cwd=self.dir)

    def pg_ctl(self, *args, check=True):
        return self._as_postgres([os.path.join(self.bin, "pg_ctl"), "-D",
                                  self.datadir] + list(args), check=check)

    def start(self):
        self.pg_ctl("-l", self.logfile, "-w", "-o",
                    "-k %s -c listen_addresses='' -c fsync=off "
                    "-c synchronous_commit=off -c full_page_writes=off"
                    % self.sockdir, "start")
        self._started = True
        if not self._db_created:
            run([os.path.join(self.bin, "createdb"), "-h", self.sockdir,
                 "-U", "osms", "osms"])
            self._db_created = True

    def stop(self, mode="fast"):
        self.pg_ctl("-m", mode, "-w", "stop")
        self._started = False

    def running(self):
        return self.pg_ctl("status", check=False).returncode == 0

    def psql(self, sql, db="osms"):
        """Run SQL with ON_ERROR_STOP; returns the unaligned, tuples-only
        output without its last newline. Raises on error."""
        p = run([os.path.join(self.bin, "psql"), "-X", "-h", self.sockdir,
                 "-U", "osms", "-d", db, "-v", "ON_ERROR_STOP=1", "-At",
                 "-c", sql])
        return p.stdout.rstrip("\n")

    def log(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def close(self):
        if self._closed:
            return
        self._closed = True
        try:
            if self.dir is not None and os.path.exists(
                    os.path.join(self.datadir, "postmaster.pid")):
                self.pg_ctl("-m", "immediate", "-w", "stop", check=False)
        finally:
            if self.dir is not None:
                if KEEP:
                    sys.stdout.write("# kept %s\n" % self.dir)
                else:
                    shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
