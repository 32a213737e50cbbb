"""Helpers for the crash and fault suite (regress/faults/, `make
check-faults`): a load of SMTP clients that records what each message
was told, a smarthost that records what it got, counting by Message-ID
in the Maildirs, and checks of the spool's files.

Each script draws its random choices (kill times, roles, recipients)
from a seeded generator; the seed is printed, and OSMS_FAULT_SEED sets
it to run the same schedule again.

Outcomes of one attempt to send a message (Attempt.outcome):

    accepted    250 to the end of data: the message must arrive, once
    refused     a 4xx or 5xx reply (code, text): it must not arrive
    cut         the connection ended before the whole message was sent:
                it cannot have been queued, so it must not arrive
    unanswered  the whole message was sent, then no reply: it may have
                been queued (RFC 1047), so it arrives at most once
    noconnect   nothing listened: nothing was sent

A client tries a message again (same Message-ID) after "refused" with a
4xx, "cut" and "noconnect", as an MTA would; never after "unanswered".
"""

import collections
import os
import random
import re
import socket
import struct
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))
from osmstest import *  # noqa: E402,F401,F403
from osmstest import _descendants  # noqa: E402
import osmstest  # noqa: E402
from mailtest import wait_until  # noqa: E402

__all__ = [
    "seeded", "Load", "Attempt", "CountingSink", "maildir_counts",
    "maildir_tmp_files", "spool_problems", "spool_files", "drain",
    "role_kill", "wait_role_back", "kill_tree", "summary", "judge",
    "FORGED", "wait_until", "LOCAL", "RELAY", "relay_osms", "local_or_relay",
    "expect_nothing_half_written",
] + osmstest.__all__

# A trust field no client may set: the gateway (cryptod) removes it
# from every message from outside. Each load message carries one.
FORGED = "X-Osms-SMIME: verified signer=forged-by-client@example.test"


# The crash scripts' recipients: three Maildir users, and an alias
# forwarded through a smarthost (so the mta and the gateway's outbound
# half are on a message's way too).
LOCAL = ["alice@example.test", "bob@example.test", "carol@example.test"]
RELAY = {"fwd@example.test": "far@remote.test"}


def relay_osms(sink):
    """A started Osms with the LOCAL users (password "pw") and the RELAY
    alias, relaying through sink; for a with statement."""
    o = Osms(start=False, extra_conf='relay host 127.0.0.1 port %d tls '
             'none\n' % sink.port)
    try:
        o.write_users({a: "pw" for a in LOCAL})
        with open(o.aliases_file, "a") as f:
            for alias, to in RELAY.items():
                f.write("%s %s\n" % (alias, to))
        o.start()
    except BaseException:
        o.close()
        raise
    return o


def local_or_relay(r):
    """One or two recipients, local or relayed."""
    return r.sample(LOCAL + list(RELAY), r.randint(1, 2))


def expect_nothing_half_written(t, o):
    """No file torn by a crash is left: the spool's tmp/ and corrupt/,
    the Maildirs' tmp/."""
    t.expect(spool_files(o, "tmp") == [], "spool tmp/: %s"
             % spool_files(o, "tmp")[:5])
    t.expect(spool_files(o, "corrupt") == [], "spool corrupt/: %s"
             % spool_files(o, "corrupt")[:5])
    t.expect(maildir_tmp_files(o) == [], "Maildir tmp/: %s"
             % maildir_tmp_files(o)[:5])


def seeded(t, name):
    """A random.Random for this script, its seed printed for a rerun."""
    env = os.environ.get("OSMS_FAULT_SEED", "")
    seed = int(env) if env.isdigit() else random.SystemRandom().randrange(
        1, 1 << 31)
    t.diag("%s: seed %d (OSMS_FAULT_SEED=%d to repeat)" % (name, seed,
                                                            seed))
    return random.Random(seed)


def _mid(rng):
    return "<%016x.%d@fault.test>" % (rng.getrandbits(64),
                                      rng.getrandbits(20))


class Attempt:
    __slots__ = ("outcome", "code", "text", "rcpt_codes", "start", "end")

    def __init__(self):
        self.outcome = None
        self.code = 0
        self.text = ""
        self.rcpt_codes = {}
        self.start = time.monotonic()
        self.end = None

    def __repr__(self):
        return "%s %d %s" % (self.outcome, self.code, self.text[:60])


class _Cut(Exception):
    pass


class _Client:
    """One plain SMTP transaction, step by step, so that it knows
    whether the end of data was sent when the connection broke."""

    def __init__(self, port, timeout):
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=timeout)
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def reply(self):
        """(code, text of the last line); _Cut if the connection ends."""
        while True:
            while b"\r\n" not in self.buf:
                try:
                    b = self.sock.recv(65536)
                except OSError as e:
                    raise _Cut(str(e))
                if not b:
                    raise _Cut("connection closed")
                self.buf += b
            line, self.buf = self.buf.split(b"\r\n", 1)
            if len(line) < 3 or not line[:3].isdigit():
                raise _Cut("garbage reply %r" % line[:80])
            if len(line) > 3 and line[3:4] == b"-":
                continue
            return int(line[:3]), line[4:].decode("utf-8", "replace")

    def send(self, data):
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise _Cut(str(e))

    def cmd(self, line):
        self.send(line.encode() + b"\r\n")
        return self.reply()


def send_once(port, sender, rcpts, data, timeout=30, think=0.0):
    """One attempt: an Attempt. think: up to this many seconds between
    commands, as a client across a network, so that sessions are open
    when a fault comes."""
    def pause():
        if think:
            time.sleep(random.uniform(0, think))

    a = Attempt()
    try:
        c = _Client(port, timeout)
    except OSError as e:
        a.outcome, a.text = "noconnect", str(e)
        a.end = time.monotonic()
        return a
    sent_all = False
    try:
        code, text = c.reply()
        if code != 220:
            a.outcome, a.code, a.text = "refused", code, text
            return a
        code, text = c.cmd("EHLO client.fault.test")
        if code != 250:
            a.outcome, a.code, a.text = "refused", code, text
            return a
        pause()
        code, text = c.cmd("MAIL FROM:<%s>" % sender)
        if code != 250:
            a.outcome, a.code, a.text = "refused", code, text
            return a
        for r in rcpts:
            pause()
            code, text = c.cmd("RCPT TO:<%s>" % r)
            a.rcpt_codes[r] = (code, text)
        ok = [r for r in rcpts if a.rcpt_codes[r][0] == 250]
        if not ok:
            # The worst of the refusals decides: 5xx over 4xx.
            code, text = max(a.rcpt_codes.values())
            a.outcome, a.code, a.text = "refused", code, text
            c.cmd("QUIT")
            return a
        pause()
        code, text = c.cmd("DATA")
        if code != 354:
            a.outcome, a.code, a.text = "refused", code, text
            return a
        half = len(data) // 2
        c.send(data[:half])
        pause()
        c.send(data[half:] + b".\r\n")
        sent_all = True
        code, text = c.reply()
        a.code, a.text = code, text
        a.outcome = "accepted" if code == 250 else "refused"
        try:
            c.cmd("QUIT")
        except _Cut:
            pass
        return a
    except _Cut as e:
        a.outcome = "unanswered" if sent_all else "cut"
        a.text = str(e)
        return a
    except socket.timeout:
        a.outcome = "unanswered" if sent_all else "cut"
        a.text = "timeout"
        return a
    finally:
        a.end = time.monotonic()
        c.close()


class Message:
    __slots__ = ("mid", "sender", "rcpts", "attempts")

    def __init__(self, mid, sender, rcpts):
        self.mid = mid
        self.sender = sender
        self.rcpts = rcpts
        self.attempts = []

    @property
    def last(self):
        return self.attempts[-1]

    def accepted_rcpts(self):
        a = self.last
        if a.outcome != "accepted":
            return []
        return [r for r in self.rcpts if a.rcpt_codes.get(r, (0,))[0] ==
                250]

    def maybe_rcpts(self):
        """Recipients that may have one copy: the message was sent whole
        and no answer came."""
        a = self.last
        if a.outcome != "unanswered":
            return []
        return [r for r in self.rcpts if a.rcpt_codes.get(r, (0,))[0] ==
                250]


def make_data(sender, rcpts, mid, rng, size):
    body = []
    n = 0
    while n < size:
        line = "%x " % rng.getrandbits(32) * 6
        body.append(line)
        n += len(line) + 2
    text = ("From: <%s>\r\nTo: %s\r\nSubject: fault load\r\n"
            "Message-ID: %s\r\nDate: Wed, 25 Nov 2026 12:00:00 +0000\r\n"
            "%s\r\n\r\n%s\r\n" % (sender, ", ".join("<%s>" % r
                                                    for r in rcpts),
                                  mid, FORGED, "\r\n".join(body)))
    return text.encode()


class Load:
    """count messages from `clients` threads to `port`, at most `rate`
    a second (0: as fast as they go). rcpts(rng) picks the recipients of
    one message. retries: how often a message is tried again after a
    4xx, a cut or no connection (with `backoff` seconds between)."""

    def __init__(self, port, count, rng, rcpts, clients=8, rate=0,
                 sender="load@remote.test", retries=3, backoff=0.2,
                 size=(200, 4000), think=0.0):
        self.port = port
        self.messages = []
        for _ in range(count):
            rs = rcpts(rng)
            mid = _mid(rng)
            self.messages.append(Message(mid, sender, rs))
        self._sizes = [rng.randint(*size) for _ in range(count)]
        self._seeds = [rng.getrandbits(32) for _ in range(count)]
        self.clients = clients
        self.rate = rate
        self.retries = retries
        self.backoff = backoff
        self.think = think
        self.lock = threading.Lock()
        self._next = 0
        self._threads = []
        self.t0 = None
        self.done = threading.Event()

    def start(self):
        self.t0 = time.monotonic()
        self._threads = [threading.Thread(target=self._run, daemon=True)
                         for _ in range(self.clients)]
        for th in self._threads:
            th.start()
        return self

    def running(self):
        return any(th.is_alive() for th in self._threads)

    def progress(self):
        with self.lock:
            return self._next

    def join(self, timeout=600):
        end = time.monotonic() + timeout
        for th in self._threads:
            th.join(max(0.1, end - time.monotonic()))
        self.done.set()
        return not self.running()

    def _run(self):
        while True:
            with self.lock:
                i = self._next
                if i >= len(self.messages):
                    return
                self._next += 1
            if self.rate:
                wait = self.t0 + i / self.rate - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            m = self.messages[i]
            data = make_data(m.sender, m.rcpts, m.mid,
                             random.Random(self._seeds[i]), self._sizes[i])
            for n in range(self.retries + 1):
                a = send_once(self.port, m.sender, m.rcpts, data,
                              think=self.think)
                m.attempts.append(a)
                again = (a.outcome in ("cut", "noconnect") or
                         (a.outcome == "refused" and 400 <= a.code < 500))
                if not again or n == self.retries:
                    break
                time.sleep(self.backoff)

    def counts(self):
        c = collections.Counter()
        for m in self.messages:
            if not m.attempts:
                c["not sent"] += 1
                continue
            a = m.last
            if a.outcome == "refused":
                c["4xx" if 400 <= a.code < 500 else "5xx"] += 1
            else:
                c[a.outcome] += 1
            c["attempts"] += len(m.attempts)
            for x in m.attempts[:-1]:
                c["retried " + (x.outcome if x.outcome != "refused" else
                                "4xx")] += 1
        return c


class _SinkMsg:
    __slots__ = ("mid", "qid", "rcpts", "conn", "cut", "forged", "dotted",
                 "acked")

    def __init__(self, mid, qid, rcpts, conn, forged):
        self.mid = mid
        self.qid = qid          # osms's queue id, from its Received field
        self.rcpts = rcpts
        self.conn = conn
        self.cut = False        # the client never said a word after 250
        self.forged = forged
        self.dotted = time.monotonic()  # when the end of data came
        self.acked = None       # when the 250 went

    def __repr__(self):
        return "<%s cut=%s data %.3f, 250 %.3f>" % (
            self.qid, self.cut, self.dotted, self.acked or 0)


class CountingSink:
    """A smarthost on 127.0.0.1 that takes every message and records its
    Message-ID and recipients; it notes each message after whose 250 the
    client sent nothing more before the connection ended (the window of
    RFC 1047, where a second copy is the sender's right)."""

    def __init__(self):
        self.got = []
        self.hold = threading.Event()   # set: replies to data wait
        self.hold_data = threading.Event()  # set: replies to DATA wait
        self.delay = 0.0                # seconds before each 250 to data
        self.ndata = 0                  # DATA commands seen
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.nconn = 0
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.nconn += 1
                n = self.nconn
            threading.Thread(target=self._serve, args=(c, n),
                             daemon=True).start()

    def _serve(self, c, conn):
        last = None
        try:
            c.settimeout(120)
            f = c.makefile("rb")
            c.sendall(b"220 sink.fault.test ESMTP\r\n")
            rcpts = []
            while True:
                line = f.readline(4096)
                if not line:
                    break
                last = None         # it spoke: it read our last reply
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    c.sendall(b"250-sink.fault.test\r\n250-PIPELINING\r\n"
                              b"250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n"
                              b"250 SIZE 50000000\r\n")
                elif verb == b"MAIL":
                    rcpts = []
                    c.sendall(b"250 2.1.0 ok\r\n")
                elif verb == b"RCPT":
                    s = line.decode("utf-8", "replace")
                    rcpts.append(s[s.index("<") + 1:s.index(">")].lower())
                    c.sendall(b"250 2.1.5 ok\r\n")
                elif verb == b"DATA":
                    with self.lock:
                        self.ndata += 1
                    while self.hold_data.is_set() and not self.closed:
                        time.sleep(0.02)
                    c.sendall(b"354 go ahead\r\n")
                    data = []
                    while True:
                        raw = f.readline(1 << 20)
                        if not raw:
                            return
                        if raw == b".\r\n":
                            break
                        data.append(raw[1:] if raw.startswith(b".")
                                    else raw)
                    body = b"".join(data)
                    m = re.search(rb"^Message-ID:\s*(<[^>\r\n]*>)", body,
                                  re.M | re.I)
                    q = re.search(rb"\(osms\) with \w+ id ([0-9a-f]{16})",
                                  body)
                    rec = _SinkMsg(m.group(1).decode() if m else None,
                                   q.group(1).decode() if q else None,
                                   rcpts, conn, b"forged-by-client" in body)
                    with self.lock:
                        self.got.append(rec)
                    while self.hold.is_set() and not self.closed:
                        time.sleep(0.02)
                    if self.delay:
                        time.sleep(self.delay)
                    rec.acked = time.monotonic()
                    c.sendall(b"250 2.0.0 ok\r\n")
                    last = rec
                    rcpts = []
                elif verb == b"QUIT":
                    c.sendall(b"221 2.0.0 bye\r\n")
                    break
                else:
                    c.sendall(b"250 2.0.0 ok\r\n")
        except (OSError, ValueError):
            pass
        finally:
            if last is not None:
                last.cut = True
            try:
                c.close()
            except OSError:
                pass

    def counts(self):
        """{(mid, rcpt): [copies]} of what arrived."""
        out = collections.defaultdict(list)
        with self.lock:
            for m in self.got:
                for r in m.rcpts:
                    out[(m.mid, r)].append(m)
        return out


_MID_RE = re.compile(rb"^Message-ID:\s*(<[^>\r\n]*>)", re.M | re.I)


def _maildirs(root):
    """Every Maildir below root: (dir, folder name)."""
    for dirpath, dirnames, filenames in os.walk(root):
        if "new" in dirnames and "cur" in dirnames:
            yield dirpath


def maildir_counts(o, domain="example.test", forged=None):
    """{(mid, address): count} over every folder of every Maildir of the
    domain (new/ and cur/). forged: a list that gets (address, file) of
    each copy that still carries FORGED."""
    root = os.path.join(o.dir, "mail", domain)
    out = collections.Counter()
    for md in _maildirs(root):
        rel = os.path.relpath(md, root).split(os.sep)
        user = rel[0]
        addr = "%s@%s" % (user, domain)
        for sub in ("new", "cur"):
            d = os.path.join(md, sub)
            for name in os.listdir(d):
                with open(os.path.join(d, name), "rb") as f:
                    head = f.read(8192)
                hdr = head.split(b"\n\n", 1)[0]
                m = _MID_RE.search(hdr)
                out[(m.group(1).decode() if m else None, addr)] += 1
                if forged is not None and b"forged-by-client" in hdr:
                    forged.append((addr, os.path.join(d, name)))
    return out


def maildir_tmp_files(o, domain="example.test"):
    root = os.path.join(o.dir, "mail", domain)
    left = []
    for md in _maildirs(root):
        d = os.path.join(md, "tmp")
        if os.path.isdir(d):
            left += [os.path.join(d, n) for n in os.listdir(d)]
    return left


def spool_files(o, sub):
    try:
        return sorted(os.listdir(o.path("spool", sub)))
    except FileNotFoundError:
        return []


def _env_size(raw):
    """The SIZE record of a whole envelope file, or None if it is torn."""
    if not envelope_whole(raw):
        return None
    for typ, at, n in envelope_records(raw, end=len(raw) - ENV_END_LEN):
        if typ == 0x0e and n == 8:
            return struct.unpack("<Q", raw[at:at + 8])[0]
    return None


def spool_problems(o):
    """What in queue/ is not a whole committed message: an envelope that
    is torn or whose content is missing or of another size. (A content
    without its envelope is an uncommitted leftover, allowed.)"""
    q = o.path("spool", "queue")
    bad = []
    for name in spool_files(o, "queue"):
        if name.endswith(".env"):
            try:
                with open(os.path.join(q, name), "rb") as f:
                    raw = f.read()
            except FileNotFoundError:
                continue        # removed meanwhile
            size = _env_size(raw)
            msg = os.path.join(q, name[:-4] + ".msg")
            if size is None:
                bad.append("%s: torn envelope (%d bytes)" % (name,
                                                            len(raw)))
            else:
                try:
                    got = os.path.getsize(msg)
                except FileNotFoundError:
                    # Removed meanwhile (the envelope goes first)?
                    if os.path.exists(os.path.join(q, name)):
                        bad.append("%s: content missing" % name)
                    continue
                if got != size:
                    bad.append("%s: content %d bytes, envelope says %d"
                               % (name, got, size))
        elif not name.endswith(".msg"):
            bad.append("%s: stray file" % name)
    return bad


def drain(o, timeout=90, t=None):
    """Flush the queue until queue/ is empty; True when it is. When it
    is not, what the queue and the log say of what is left goes to t's
    diagnostics: a stuck message must be explainable from the run."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not spool_files(o, "queue"):
            return True
        try:
            o.ctl("queue", "flush", timeout=10)
        except Exception:  # noqa: BLE001 (a role restarting)
            pass
        time.sleep(0.5)
    left = spool_files(o, "queue")
    if left and t is not None:
        stuck_report(t, o, left)
    return not left


def stuck_report(t, o, left):
    """The queue's view and the log lines of the first messages left."""
    try:
        p = o.ctl("queue", "list", timeout=10)
        t.diag("osmsctl queue list:\n%s%s" % (p.stdout[-3000:], p.stderr))
    except Exception as e:  # noqa: BLE001
        t.diag("osmsctl queue list: %r" % e)
    try:
        log = o.log().splitlines()
    except OSError:
        log = []
    for qid in sorted({name.split(".")[0] for name in left})[:3]:
        try:
            p = o.ctl("queue", "show", qid, timeout=10)
            t.diag("osmsctl queue show %s:\n%s%s" % (qid, p.stdout,
                                                      p.stderr))
        except Exception as e:  # noqa: BLE001
            t.diag("osmsctl queue show %s: %r" % (qid, e))
        lines = [ln for ln in log if qid in ln]
        t.diag("log lines of %s (%d):\n%s" % (qid, len(lines),
                                               "\n".join(lines[-40:])))


def role_kill(o, role):
    """SIGKILL the role's process: its pid, and when (monotonic)."""
    pid = o.pid(role)
    when = time.monotonic()
    os.kill(pid, 9)
    return pid, when


def wait_role_back(o, role, old, timeout=30):
    """The new pid of a role once it is ready again, or None."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            for r in o.status():
                if (r["role"] == role and r["pid"] not in (0, old) and
                        r["state"] == "ready"):
                    return r["pid"]
        except Exception:  # noqa: BLE001
            pass
        time.sleep(0.05)
    return None


def kill_tree(o):
    """SIGKILL osmsd and every process under it at once; their pids."""
    import signal as _signal
    pids = [o.proc.pid] + _descendants(o.proc.pid)
    for p in pids:
        try:
            os.kill(p, _signal.SIGKILL)
        except OSError:
            pass
    o.proc.wait()
    end = time.monotonic() + 10
    while time.monotonic() < end and o.alive():
        time.sleep(0.05)
    return pids


# How long the queue may take to record a relayed message as sent, and
# how long the mta may take to notice that the queue died.
RECORD_WINDOW = 2.0
NOTICE_WINDOW = 0.5


def judge(t, load, counts, sink=None, relay=None, kills=()):
    """The pass criterion over one load, as test lines. counts:
    maildir_counts(); relay: {recipient: address at the sink} for the
    recipients that go out through the sink; kills: (monotonic time,
    role) of each SIGKILL ("tree" for all). Returns a dict for the
    summary.

    A copy at the smarthost may come again when the mta or the queue
    died between its end of data and the queue's record of its 250:
    the mta may not have read the 250 (RFC 1047), or the queue not
    written it down."""
    relay = relay or {}
    record_kills = [k for k, role in kills if role in ("queue", "tree")]

    def window(copy):
        return copy.cut or any(copy.dotted - NOTICE_WINDOW <= k <=
                               copy.acked + RECORD_WINDOW
                               for k in record_kills)
    lost, dup, refused_in, fivexx = [], [], [], []
    delivered = dups = windowed = 0
    sinkc = sink.counts() if sink is not None else {}
    for m in load.messages:
        acc = set(m.accepted_rcpts())
        maybe = set(m.maybe_rcpts())
        for a in m.attempts:
            if a.outcome == "refused" and a.code >= 500:
                fivexx.append((m.mid, a.code, a.text))
        for r in m.rcpts:
            copies = None
            if r in relay:
                copies = sinkc.get((m.mid, relay[r].lower()), [])
                n = len(copies)
                allowed = sum(1 for c in copies[:-1] if window(c))
            else:
                n = counts.get((m.mid, r), 0)
                allowed = 0
            delivered += n
            if r in acc or r in maybe:
                if r in acc and n == 0:
                    lost.append((m.mid, r, m.attempts))
                if n > 1 + allowed:
                    dup.append((m.mid, r, n, copies))
                dups += max(0, n - 1 - allowed)
                windowed += min(max(0, n - 1), allowed)
            elif n > 0:
                refused_in.append((m.mid, r, n, m.attempts))
                dups += n
    t.expect(not lost, "every accepted message arrives: %d lost, e.g. %s"
             % (len(lost), lost[:3]))
    t.expect(not dup, "none arrives twice: %d, e.g. %s; kills at %s"
             % (len(dup), dup[:3], ["%s %.3f" % (r, k) for k, r in kills]))
    t.expect(not refused_in, "no refused or cut message arrives: %d, "
             "e.g. %s" % (len(refused_in), refused_in[:3]))
    t.expect(not fivexx, "refusals are 4xx, never 5xx: %d, e.g. %s"
             % (len(fivexx), fivexx[:3]))
    return {"delivered": delivered, "duplicates": dups, "window": windowed}


def summary(t, name, load, extra):
    c = load.counts()
    window = extra.get("window", 0)
    t.diag("summary: %s: %d sent, %d 250, %d 4xx, %d 5xx, %d unanswered, "
           "%d cut, %d no connection; %d copies delivered, %d duplicates%s; "
           "%d attempts (retried after %d 4xx, %d cut, %d no connection)"
           % (name, len(load.messages), c["accepted"], c["4xx"], c["5xx"],
              c["unanswered"], c["cut"], c["noconnect"],
              extra.get("delivered", 0), extra.get("duplicates", 0),
              " (and %d second copies at the smarthost in a crash window)"
              % window if window else "", c["attempts"], c["retried 4xx"],
              c["retried cut"], c["retried noconnect"]))
