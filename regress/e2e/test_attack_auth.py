#!/usr/bin/env python3
"""Attacks on logins, the directory and the processes (SECURITY.md
sections 2 and 4): brute force on submission, IMAP and POP3 (H2),
timing that would tell which users exist (H3), SQL in user names and
passwords with a real PostgreSQL (H4), hostile directory rows (H5),
garbage on the control socket and between roles (I1), symbolic links
planted in Maildirs (I2).

Each probe checks the exact answer and then that the server still
serves another client. One PostgreSQL cluster and one osmsd for the
file; its config has auth-max-failures 3, so that the limit is reached
in a few seconds. Failed logins come from addresses of their own in
127/8 unless a probe is about one address.

Garbage between roles is written into a role's own channel: the test
takes a copy of its descriptor with pidfd_getfd(2) (Linux 5.6, root),
found by the peer inodes ss(8) lists. Timing (H3): see the case.
"""
import base64
import ctypes
import hashlib
import os
import pwd
import re
import shutil
import smtplib
import socket
import statistics
import struct
import subprocess
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from osmstest import *  # noqa: E402,F401,F403
from mailtest import *  # noqa: E402,F401,F403

# sha512-crypt hashes with many rounds: Python's crypt (3.11, Debian 12)
warnings.filterwarnings("ignore", category=DeprecationWarning,
                        message=".*crypt")
import crypt  # noqa: E402

t = Tests(__file__)

TIMING_TRIALS = 10
TIMING_ROUNDS = 200000      # sha512-crypt rounds: a hash of tens of ms
SYM_USERS = ("sym1", "sym2", "sym3", "sym4", "sym5")

_addr = [0]


def fresh_addr():
    """A client address no probe used before: failures count per
    address (and per account) in authd."""
    _addr[0] += 1
    n = _addr[0]
    return "127.0.%d.%d" % (20 + n // 200, 2 + n % 200)


def b64(s):
    if isinstance(s, str):
        s = s.encode("utf-8")
    return base64.b64encode(s).decode("ascii")


def q(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def psql_file(pg, path):
    run([os.path.join(pg.bin, "psql"), "-X", "-h", pg.sockdir, "-U",
         "osms", "-d", "osms", "-v", "ON_ERROR_STOP=1", "-q", "-f", path])


def sha512_crypt(password, rounds):
    salt = base64.b64encode(os.urandom(12), b"./").decode()[:16]
    return crypt.crypt(password, "$6$rounds=%d$%s" % (rounds, salt))


# -- clients

def imaps(source):
    ctx = insecure_ctx()
    s = socket.create_connection(("127.0.0.1", o.ports["imaps"]), 20,
                                 source_address=(source, 0))
    s = ctx.wrap_socket(s, server_hostname="127.0.0.1")
    f = s.makefile("rb")
    greet = f.readline()
    if not greet.startswith(b"* OK"):
        raise RuntimeError("greeting %r" % greet)
    return s, f


def imap_cmd(conn, line, tag=b"a"):
    """One command; (tagged line, seconds to it)."""
    s, f = conn
    t0 = time.monotonic()
    s.sendall(tag + b" " + line + b"\r\n")
    while True:
        got = f.readline()
        if not got:
            return b"(closed)", time.monotonic() - t0
        if got.startswith(tag + b" "):
            return got.rstrip(b"\r\n"), time.monotonic() - t0


def imap_login(user, password, source):
    """LOGIN on 993 from source: (tagged line, seconds)."""
    conn = imaps(source)
    try:
        return imap_cmd(conn, b"LOGIN " + q(user).encode() + b" " +
                        q(password).encode())
    finally:
        conn[0].close()


def pop3s(source):
    s = socket.create_connection(("127.0.0.1", o.ports["pop3s"]), 20,
                                 source_address=(source, 0))
    s = insecure_ctx().wrap_socket(s, server_hostname="127.0.0.1")
    f = s.makefile("rb")
    if not f.readline().startswith(b"+OK"):
        raise RuntimeError("no POP3 greeting")
    return s, f


def pop3_cmd(conn, line):
    s, f = conn
    t0 = time.monotonic()
    s.sendall(line + b"\r\n")
    got = f.readline()
    return got.rstrip(b"\r\n") or b"(closed)", time.monotonic() - t0


def pop3_login(user, password, source):
    conn = pop3s(source)
    try:
        a, _ = pop3_cmd(conn, b"USER " + user.encode())
        if a != b"+OK":
            return a, 0.0
        return pop3_cmd(conn, b"PASS " + password.encode())
    finally:
        conn[0].close()


def submission(source):
    c = smtplib.SMTP("127.0.0.1", o.ports["submission"], timeout=20,
                     source_address=(source, 0))
    c.ehlo("client.test")
    c.starttls(context=insecure_ctx())
    c.ehlo("client.test")
    return c


def smtp_auth(c, user, password):
    t0 = time.monotonic()
    code, text = c.docmd("AUTH", "PLAIN " + b64("\0%s\0%s" % (user,
                                                              password)))
    return code, text, time.monotonic() - t0


def parallel(fn, args):
    """fn(*a) for each a in args, at once: the answers to failed logins
    wait, each on its own. The results, in order."""
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=8) as ex:
        return list(ex.map(lambda a: fn(*a), args))


def served(what):
    """Another client, from an address of its own, logs in on IMAP,
    POP3 and submission within a few seconds."""
    t0 = time.monotonic()
    line, _ = imap_login("alice@example.test", "alice-pw", fresh_addr())
    t.expect(line.startswith(b"a OK"), "%s: IMAP login: %r" % (what, line))
    line, _ = pop3_login("bob@example.test", "bob-pw", fresh_addr())
    t.expect(line == b"+OK Logged in.", "%s: POP3 login: %r" % (what, line))
    c = submission(fresh_addr())
    code, text, _ = smtp_auth(c, "alice@example.test", "alice-pw")
    c.quit()
    t.expect(code == 235, "%s: AUTH: %d %r" % (what, code, text))
    el = time.monotonic() - t0
    t.expect(el < 8, "%s: served at once (%.2fs)" % (what, el))


# -- imsg frames and other processes' descriptors

def imsg_types():
    """{IMSG_NAME: number} from lib/osms_imsg.h (IMSG_NONE is 0)."""
    with open(os.path.join(ROOT, "lib", "osms_imsg.h")) as f:
        text = f.read()
    names = re.findall(r"^X\((IMSG_[A-Z0-9_]+),", text, re.M)
    return dict((n, i + 1) for i, n in enumerate(names))


def imsg_frame(type_, payload=b"", length=None, flags=0):
    return struct.pack("<IIIIQ", type_, 24 + len(payload)
                       if length is None else length, flags, os.getpid(),
                       0) + payload


def ctl_raw(data, read=True, timeout=5):
    """Raw bytes to the control socket; what comes back before EOF."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(o.control_socket)
    got = b""
    try:
        s.sendall(data)
        if read:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                got += b
    except (socket.timeout, ConnectionResetError, BrokenPipeError):
        got += b"(timeout or reset)"
    s.close()
    return got


_libc = ctypes.CDLL(None, use_errno=True)
SYS_pidfd_getfd = 438


def steal_fd(pid, fd):
    """A copy of descriptor fd of process pid (pidfd_getfd(2))."""
    pfd = os.pidfd_open(pid)
    try:
        r = _libc.syscall(SYS_pidfd_getfd, pfd, fd, 0)
        if r < 0:
            e = ctypes.get_errno()
            raise OSError(e, "pidfd_getfd: %s" % os.strerror(e))
        return r
    finally:
        os.close(pfd)


def socket_fds(pid):
    """{socket inode: descriptor} of a process."""
    out = {}
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            m = re.match(r"socket:\[(\d+)\]",
                         os.readlink("/proc/%d/fd/%s" % (pid, fd)))
        except OSError:
            continue
        if m:
            out[int(m.group(1))] = int(fd)
    return out


def channel_fd(pid, peer):
    """pid's descriptor of its socketpair with process peer."""
    p = subprocess.run(["ss", "-xaH"], capture_output=True, text=True,
                       check=True)
    peer_of = {}
    for line in p.stdout.splitlines():
        w = line.split()
        try:
            peer_of[int(w[5])] = int(w[7])
        except (IndexError, ValueError):
            pass
    mine, theirs = socket_fds(pid), socket_fds(peer)
    found = [fd for ino, fd in mine.items() if peer_of.get(ino) in theirs]
    if len(found) != 1:
        raise RuntimeError("channel %d -> %d: %r" % (pid, peer, found))
    return found[0]


def inject(pid, peer, data):
    """Write data into pid's channel to peer, as if pid had sent it."""
    fd = steal_fd(pid, channel_fd(pid, peer))
    s = socket.socket(fileno=fd)
    try:
        s.sendall(data)
    finally:
        s.close()


def wait_new_pid(role, old, limit=15):
    def new():
        try:
            p = o.pid(role)
        except OsmsError:
            return None
        rows = {r["role"]: r for r in o.status()}
        return p if p and p != old and rows[role]["state"] == "ready" \
            else None
    return wait_until(new, limit)


def tree(path):
    out = {}
    for dirpath, dirs, files in os.walk(path):
        for n in dirs + files:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            h = ""
            if os.path.isfile(p) and not os.path.islink(p):
                with open(p, "rb") as f:
                    h = hashlib.sha256(f.read()).hexdigest()
            out[os.path.relpath(p, path)] = (st.st_mode, st.st_size, h)
    return out


# -- the directory

with Pg() as pg:
    psql_file(pg, os.path.join(ROOT, "sql", "schema.sql"))
    pg.psql("ALTER SYSTEM SET log_statement = 'all'")
    pg.psql("SELECT pg_reload_conf()")
    dora_pw = password_hash("dora-pw")
    ev_pw = password_hash("ev-pw")
    pg.psql("INSERT INTO domains (name) VALUES ('pg.test');"
            "INSERT INTO mailboxes (address, domain, password, maildir)"
            " VALUES ('dora@pg.test', 'pg.test', '%s', 'pg.test/dora'),"
            " ('o''hara@pg.test', 'pg.test', '%s', 'pg.test/ohara');"
            "CREATE TABLE evil (address text, password text, maildir text,"
            " quota text, uid int, gid int)" % (dora_pw, dora_pw))
    # H5: rows a hostile or broken database could hold
    EVIL = [
        ("ev1", "../../etc", None, "maildir is malformed"),
        ("ev2", "OUTSIDE", None, "maildir is malformed"),
        ("ev3", "pg.test/ev3/../../../outside", None,
         "maildir is malformed"),
        ("ev4", "pg.test/ev4\n/x", None, "maildir is malformed"),
        ("ev5", ".", None, "is not valid"),
        ("ev6", "pg.test/./ev6", None, "is not valid"),
        ("ev7", "pg.test//ev7", None, "is not valid"),
        ("ev8", "x" * 5000, None, "maildir does not fit"),
        ("ev9", "pg.test/ev9", "-1", "quota is malformed"),
        ("ev10", "pg.test/ev10", "99999999999999999999",
         "quota is malformed"),
        ("ev11", "pg.test/ev11", "1e9", "quota is malformed"),
        ("ev12", "pg.test/ev12", None, "several rows"),
        ("ev12", "pg.test/ev12b", None, "several rows"),
    ]
    with Osms(start=False, roles_conf="smtpd {\n\tauth-max-failures 3\n}"
              "\n") as o:
        outside = o.path("outside")
        for a, m, quota, _ in EVIL:
            m = m.replace("OUTSIDE", outside)
            pg.psql("INSERT INTO evil VALUES ('%s@pg.test', '%s', E'%s',"
                    " %s, NULL, NULL)" % (a, ev_pw, m.replace("\n", "\\n"),
                                          "NULL" if quota is None else
                                          "'%s'" % quota))
        # uid and gid 0 in the row: not columns osms reads
        pg.psql("INSERT INTO evil VALUES ('root0@pg.test', '%s',"
                " 'pg.test/root0', NULL, 0, 0);"
                "INSERT INTO evil VALUES ('costly@pg.test', '{SHA512-CRYPT}"
                "$6$rounds=999999999$abcdefgh$AAAAAAAAAAAAAAAAAAAAAA',"
                " 'pg.test/costly', NULL, NULL, NULL)" % ev_pw)
        query = ("SELECT password, maildir, quota, uid, gid FROM (SELECT"
                 " address, password, maildir, quota_bytes::text AS quota,"
                 " NULL::int AS uid, NULL::int AS gid FROM mailboxes WHERE"
                 " active UNION ALL SELECT address, password, maildir,"
                 " quota, uid, gid FROM evil) u WHERE address = $1")
        o.write_conf(o.conf_text().replace(
            'domain "example.test"',
            'table dir postgres "%s" {\n\tquery user "%s"\n}\n'
            'domains <dir>\ndomain "example.test"' % (pg.conninfo, query)))
        users = {"alice@example.test": password_hash("alice-pw"),
                 "bob@example.test": password_hash("bob-pw")}
        for i in (1, 2, 3):
            users["bf%d@example.test" % i] = password_hash("bf-pw")
        for u in SYM_USERS:
            users["%s@example.test" % u] = password_hash("sym-pw")
        for i in range(2 * TIMING_TRIALS):
            users["t%d@example.test" % i] = "{SHA512-CRYPT}" + sha512_crypt(
                "t-pw", TIMING_ROUNDS)
        o.write_file("users", "".join(
            "%s %s%s\n" % (a, h, " quota=1000000" if a.startswith("sym4@")
                           else "") for a, h in users.items()), 0o600)
        o.start()
        mx = o.ports["smtp"]
        box = Mailboxes(o)

        # -----------------------------------------------------------
        # H2: brute force

        with t.case("H2 submission: failures from one address wait 0.25, "
                    "0.5, 1 s, then 454 4.7.0 even with the right "
                    "password; another address logs in at once, the "
                    "account is not locked"):
            bad = fresh_addr()
            c = submission(bad)
            got = [smtp_auth(c, "bf1@example.test", "guess%d" % i)
                   for i in range(3)]
            t.diag("submission failures: %s" % ", ".join(
                "%d in %.2fs" % (x[0], x[2]) for x in got))
            t.expect([(x[0], x[1][:5]) for x in got] ==
                     [(535, b"5.7.8"), (535, b"5.7.8"), (454, b"4.7.0")],
                     "codes: %r" % [(x[0], x[1]) for x in got])
            t.expect(0.2 < got[0][2] < 0.45 and 0.45 < got[1][2] < 0.8 and
                     0.9 < got[2][2] < 1.5, "growing delays: %r"
                     % [round(x[2], 2) for x in got])
            code, text, el = smtp_auth(c, "bf1@example.test", "bf-pw")
            t.expect(code == 454 and text.startswith(b"4.7.0") and el < 0.2,
                     "the right password from there: %d %r in %.2fs"
                     % (code, text, el))
            c.close()
            c = submission(fresh_addr())
            code, text, el = smtp_auth(c, "bf1@example.test", "bf-pw")
            c.quit()
            t.diag("the account from another address: %d in %.3fs"
                   % (code, el))
            t.expect(code == 235 and el < 0.5, "another address: %d %r in "
                     "%.2fs" % (code, text, el))
            t.expect(re.search(r"authd: auth throttled client=%s "
                               % re.escape(bad), o.log()), "logged")
            served("H2 submission")

        with t.case("H2 imap: failures from one address wait longer, then "
                    "NO [UNAVAILABLE] even with the right password; "
                    "another address logs in at once"):
            bad = fresh_addr()
            conn = imaps(bad)
            got = [imap_cmd(conn, b'LOGIN "bf2@example.test" "guess%d"' % i)
                   for i in range(3)]
            t.diag("IMAP failures: %s" % ", ".join(
                "%.2fs" % x[1] for x in got))
            fail = b"a NO [AUTHENTICATIONFAILED] Authentication failed"
            throttled = (b"a NO [UNAVAILABLE] Too many failed logins; try "
                         b"again later")
            t.expect([x[0] for x in got] == [fail, fail, throttled],
                     "answers: %r" % [x[0] for x in got])
            t.expect(0.2 < got[0][1] < 0.45 and 0.45 < got[1][1] < 0.8 and
                     0.9 < got[2][1] < 1.5, "growing delays: %r"
                     % [round(x[1], 2) for x in got])
            line, el = imap_cmd(conn, b'LOGIN "bf2@example.test" "bf-pw"')
            t.expect(line == throttled and el < 0.2,
                     "the right password from there: %r in %.2fs"
                     % (line, el))
            conn[0].close()
            line, el = imap_login("bf2@example.test", "bf-pw", bad)
            t.expect(line == throttled, "a new connection from there: %r"
                     % line)
            times = []
            for i in range(3):
                line, el = imap_login("bf2@example.test", "bf-pw",
                                      fresh_addr())
                t.expect(line.startswith(b"a OK"), "another address: %r"
                         % line)
                times.append(el)
            t.diag("LOGIN from other addresses: %s s"
                   % ", ".join("%.3f" % x for x in times))
            t.expect(statistics.median(times) < 0.5,
                     "another address logs in at once: %r" % times)
            t.expect(re.search(r"authd: auth throttled client=%s "
                               % re.escape(bad), o.log()), "logged")
            served("H2 imap")

        with t.case("H2 pop3: failures from one address wait longer, then "
                    "-ERR [SYS/TEMP] even with the right password; "
                    "another address logs in at once"):
            bad = fresh_addr()
            conn = pop3s(bad)
            got = []
            for i in range(3):
                pop3_cmd(conn, b"USER bf3@example.test")
                got.append(pop3_cmd(conn, b"PASS guess%d" % i))
            fail = b"-ERR [AUTH] Authentication failed"
            throttled = (b"-ERR [SYS/TEMP] Too many failed logins; try "
                         b"again later")
            t.expect([x[0] for x in got] == [fail, fail, throttled],
                     "answers: %r" % [x[0] for x in got])
            t.expect(0.2 < got[0][1] < 0.45 and 0.45 < got[1][1] < 0.8 and
                     0.9 < got[2][1] < 1.5, "growing delays: %r"
                     % [round(x[1], 2) for x in got])
            pop3_cmd(conn, b"USER bf3@example.test")
            line, el = pop3_cmd(conn, b"PASS bf-pw")
            t.expect(line == throttled and el < 0.2,
                     "the right password from there: %r in %.2fs"
                     % (line, el))
            conn[0].close()
            line, el = pop3_login("bf3@example.test", "bf-pw", fresh_addr())
            t.expect(line == b"+OK Logged in." and el < 0.5,
                     "another address: %r in %.2fs" % (line, el))
            served("H2 pop3")

        # -----------------------------------------------------------
        # H3: timing

        with t.case("H3 timing: an unknown user and a known user with a "
                    "wrong password are answered after the same time"):
            # Users t0.. have sha512-crypt hashes of 200,000 rounds, and
            # authd's dummy for unknown users is argon2id: either cost
            # would show if it set the answer's time. A server that
            # skipped the hash for unknown users, or spent its dummy's
            # time instead of the user's, would differ by about one of
            # them; the bound is a quarter of the user's hash.
            t0 = time.monotonic()
            crypt.crypt("t-pw", "$6$rounds=%d$abcdefgh" % TIMING_ROUNDS)
            hash_ms = (time.monotonic() - t0) * 1000
            known, unknown = [], []
            for i in range(TIMING_TRIALS):
                for kind in ("known", "unknown"):
                    user = ("t%d@example.test" % i if kind == "known" else
                            "ghost%d@example.test" % i)
                    line, el = imap_login(user, "wrong-pw", fresh_addr())
                    t.expect(line == b"a NO [AUTHENTICATIONFAILED] "
                             b"Authentication failed", "%s: %r"
                             % (user, line))
                    (known if kind == "known" else unknown).append(el * 1000)
            mk, mu = statistics.median(known), statistics.median(unknown)
            bound = max(5.0, hash_ms / 4)
            t.diag("sha512-crypt, %d rounds: %.1f ms here; median answer "
                   "%.1f ms for a known user, %.1f ms for an unknown one "
                   "(bound %.1f ms)" % (TIMING_ROUNDS, hash_ms, mk, mu,
                                        bound))
            t.diag("known %s" % " ".join("%.0f" % x for x in known))
            t.diag("unknown %s" % " ".join("%.0f" % x for x in unknown))
            t.expect(abs(mk - mu) < bound, "medians %.1f and %.1f ms differ"
                     " by %.1f ms" % (mk, mu, abs(mk - mu)))
            # the same through SMTP AUTH and POP3, fewer trials
            for proto in ("smtp", "pop3"):
                k, u = [], []
                for i in range(3):
                    for kind in ("known", "unknown"):
                        user = ("t%d@example.test" % (
                            TIMING_TRIALS + i + (4 if proto == "pop3" else 0))
                                if kind == "known" else
                                "ghost-%s%d@example.test" % (proto, i))
                        if proto == "smtp":
                            c = submission(fresh_addr())
                            code, _, el = smtp_auth(c, user, "wrong-pw")
                            c.close()
                            t.expect(code == 535, "%s: %d" % (user, code))
                        else:
                            line, el = pop3_login(user, "wrong-pw",
                                                  fresh_addr())
                            t.expect(line == b"-ERR [AUTH] Authentication "
                                     b"failed", "%s: %r" % (user, line))
                        (k if kind == "known" else u).append(el * 1000)
                t.diag("%s: known %s, unknown %s ms" % (
                    proto, " ".join("%.0f" % x for x in k),
                    " ".join("%.0f" % x for x in u)))
                t.expect(abs(statistics.median(k) - statistics.median(u))
                         < bound, "%s medians differ by %.1f ms" % (
                             proto, abs(statistics.median(k) -
                                        statistics.median(u))))
            served("H3")

        # -----------------------------------------------------------
        # H4: SQL injection

        with t.case("H4 SQL in user names and passwords (IMAP, POP3, "
                    "submission) fails like any wrong login; PostgreSQL "
                    "gets them only as parameters"):
            log_before = len(pg.log())
            users = ["o'hara@pg.test", "x'or'1'='1@pg.test",
                     "dora'--@pg.test", "%@pg.test", "dora%@pg.test",
                     "\"x';DROP TABLE mailboxes;--\"@pg.test",
                     "\"a\\\\b\"@pg.test", "j\u00f6rg'@pg.test",
                     "_@pg.test"]
            passwords = ["' OR '1'='1", "\\", "';--", "%", "dora-pw'--",
                         "p\u00e4ss'", "$1"]
            fail_imap = b"a NO [AUTHENTICATIONFAILED] Authentication failed"
            tries = ([(u, "x' OR 'x'='x", fresh_addr()) for u in users] +
                     [("dora@pg.test", p, fresh_addr()) for p in passwords])
            for (u, p, _), (line, _) in zip(tries, parallel(imap_login,
                                                             tries)):
                t.expect(line == fail_imap, "IMAP %s/%r: %r" % (u, p, line))
            tries = [(u, "';--", fresh_addr()) for u in users[:4]]
            for (u, _, _), (line, _) in zip(tries, parallel(pop3_login,
                                                             tries)):
                t.expect(line == b"-ERR [AUTH] Authentication failed",
                         "POP3 %s: %r" % (u, line))

            def smtp_try(u, p, src):
                c = submission(src)
                try:
                    return smtp_auth(c, u, p)
                finally:
                    c.close()
            tries = [(u, "' OR '1'='1", fresh_addr()) for u in users[:4]]
            for (u, _, _), (code, text, _) in zip(tries, parallel(smtp_try,
                                                                   tries)):
                t.expect(code == 535, "AUTH %s: %d %r" % (u, code, text))
            # NUL: AUTHENTICATE PLAIN with one more NUL in the user name
            conn = imaps(fresh_addr())
            line, _ = imap_cmd(conn, b"AUTHENTICATE PLAIN " + b64(
                "\0dora@pg.test\0x\0' OR 1=1--").encode())
            conn[0].close()
            t.expect(line == fail_imap, "a NUL more: %r" % line)
            # the quote in a real address works both ways
            line, _ = imap_login("o'hara@pg.test", "dora-pw", fresh_addr())
            t.expect(line.startswith(b"a OK"), "o'hara logs in: %r" % line)
            line, _ = imap_login("dora@pg.test", "dora-pw", fresh_addr())
            t.expect(line.startswith(b"a OK"), "dora logs in: %r" % line)
            t.expect(pg.psql("SELECT count(*) FROM mailboxes") == "2",
                     "the mailboxes are all there")
            log = pg.log()[log_before:]
            errors = [x for x in log.splitlines() if "ERROR:" in x]
            t.expect(not errors, "no SQL error: %r" % errors[:3])
            marks = [x for x in log.splitlines()
                     if re.search(r"drop table|or''1''|o''hara", x, re.I)]
            t.expect(marks and all("DETAIL:  parameters: $1 = " in x
                                   for x in marks),
                     "the hostile text only as a parameter: %r" % marks[:4])
            served("H4")

        # -----------------------------------------------------------
        # H5: hostile rows

        with t.case("H5 hostile directory rows (maildir ../../etc, absolute, "
                    "'..', '.', '//', control bytes, 5000 bytes, bad "
                    "quotas, two rows): 451 4.3.0 and logged, logins fail "
                    "for now, nothing written outside the store"):
            os.mkdir(outside, 0o755)
            before = tree(o.path())
            addrs = ["%s@pg.test" % a for a in sorted(set(x[0]
                                                           for x in EVIL))]

            def probe(addr, src):
                return (smtp_rcpt(mx, "s@remote.test", addr, source=src[0]),
                        imap_login(addr, "ev-pw", src[1])[0],
                        pop3_login(addr, "ev-pw", src[2])[0])
            for addr, ((code, text), il, pl) in zip(addrs, parallel(
                    probe, [(a, [fresh_addr() for _ in range(3)])
                            for a in addrs])):
                t.expect(code == 451 and text == b"4.3.0 <%s>: Temporary "
                         b"lookup failure" % addr.encode(),
                         "RCPT %s: %d %r" % (addr, code, text))
                t.expect(il == b"a NO [UNAVAILABLE] Temporary "
                         b"authentication failure", "IMAP %s: %r"
                         % (addr, il))
                t.expect(pl == b"-ERR [SYS/TEMP] Temporary "
                         b"authentication failure", "POP3 %s: %r"
                         % (addr, pl))
            log = o.log()
            for a, _, _, why in EVIL:
                t.expect(re.search(r"(bad value for %s@pg\.test: .*%s|the "
                                   r"entry of %s@pg\.test %s)"
                                   % (a, re.escape(why), a, why), log),
                         "logged for %s: %s" % (a, why))
            after = tree(o.path())
            new = sorted(p for p in after if p not in before and
                         not p.startswith("spool") and
                         not p.startswith("check") and p != "osmsd.log")
            t.expect(new == [], "nothing new outside the spool: %r"
                     % new[:10])
            t.expect(os.listdir(outside) == [], "outside stays empty")
            served("H5")

        with t.case("H5 a row with uid 0 and gid 0 is delivered as the mail "
                    "store's user; a password hash of absurd cost is "
                    "refused at once"):
            mid = send(mx, "s@remote.test", ["root0@pg.test"])
            pgbox = Mailboxes(o, "pg.test")
            t.expect(pgbox.wait_for("root0", mid) is not None, "delivered")
            vmail = pwd.getpwnam("vmail")
            files = pgbox.files("root0")
            t.expect(files and all(os.stat(f).st_uid == vmail.pw_uid
                                   for f in files),
                     "owned by vmail: %r" % [os.stat(f).st_uid
                                             for f in files])
            conn = imaps(fresh_addr())
            line, _ = imap_cmd(conn, b'LOGIN "root0@pg.test" "ev-pw"')
            t.expect(line.startswith(b"a OK"), "root0 logs in: %r" % line)
            sess = [p for p in proc_children(o.proc.pid)
                    if os.path.exists("/proc/%d/root" % p) and
                    os.readlink("/proc/%d/root" % p) ==
                    o.path("mail", "pg.test", "root0")]
            t.expect(len(sess) == 1 and proc_field(sess[0], "Uid") ==
                     [str(vmail.pw_uid)] * 4, "its session runs as vmail: "
                     "%r" % [proc_field(p, "Uid") for p in sess])
            conn[0].close()
            line, el = imap_login("costly@pg.test", "ev-pw", fresh_addr())
            t.expect(line == b"a NO [AUTHENTICATIONFAILED] Authentication "
                     b"failed" and el < 1.0, "costly: %r in %.2fs"
                     % (line, el))
            t.expect(re.search(r"authd: the password hash of costly@pg\."
                               r"test is malformed or costs more than osms "
                               r"allows", o.log()), "logged")
            served("H5 uid 0")

        # -----------------------------------------------------------
        # I1: imsg garbage

        TYPES = imsg_types()

        with t.case("I1 control socket: an unknown type, a short header, a "
                    "truncated frame, an oversized one, a client's reply "
                    "type: that client is dropped, osmsd serves on"):
            control, parent = o.pid("control"), o.proc.pid
            for what, data in (
                    ("unknown type", imsg_frame(60000, b"\0" * 8)),
                    ("type 0", imsg_frame(0)),
                    ("length below the header", imsg_frame(
                        TYPES["IMSG_CTL_STATUS"], length=8)),
                    ("length above the maximum", imsg_frame(
                        TYPES["IMSG_CTL_STATUS"], b"\0" * 4,
                        length=65 * 1024)),
                    ("unknown flags", imsg_frame(TYPES["IMSG_CTL_STATUS"],
                                                 b"\0" * 4, flags=0x80)),
                    ("a reply type", imsg_frame(TYPES["IMSG_CTL_RESULT"],
                                                b"\0" * 8)),
                    ("a status with a payload too long", imsg_frame(
                        TYPES["IMSG_CTL_STATUS"], b"\0" * 40)),
                    ("a directory change with a bad payload", imsg_frame(
                        TYPES["IMSG_CTL_DIR"], b"\xff" * 20))):
                got = ctl_raw(data)
                t.expect(got == b"", "%s: dropped without an answer: %r"
                         % (what, got[:60]))
            # a truncated frame, then the end of the stream
            got = ctl_raw(imsg_frame(TYPES["IMSG_CTL_STATUS"], b"\0" * 4,
                                     length=100), read=False)
            # a truncated frame kept open while osmsctl is used
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(o.control_socket)
            s.sendall(imsg_frame(TYPES["IMSG_CTL_STATUS"], b"\0" * 4,
                                 length=100))
            t0 = time.monotonic()
            p = o.ctl("status")
            t.expect(p.returncode == 0 and time.monotonic() - t0 < 5,
                     "status answers beside a half frame: %s" % p.stderr)
            s.close()
            t.expect(o.pid("control") == control and o.proc.pid == parent,
                     "control and the parent kept running")
            served("I1 control")

        with t.case("I1 role to role: garbage from imapd to authd, authd "
                    "to imapd, smtpd to queue, queue to delivery kills only "
                    "the sender; the parent's garbage ends only that child; "
                    "logins and mail go on"):
            def challenge(data):
                return imsg_frame(TYPES["IMSG_AUTH_SASL_CHALLENGE"],
                                  struct.pack("<I", len(data)) + data)
            # (sender, receiver, what, frame, the role that must die)
            probes = [
                ("imapd", "authd", "an unknown type",
                 imsg_frame(60000, b"x" * 8), "imapd"),
                # the new imapd has had no client yet
                ("authd", "imapd", "a challenge for no login",
                 challenge(b"x" * 16), None),
                ("authd", "imapd", "a 13 KB challenge",
                 challenge(b"x" * 13000), "authd"),
                ("smtpd", "queue", "a bad payload",
                 imsg_frame(TYPES["IMSG_QUEUE_CREATE"], b"\xff" * 3),
                 "smtpd"),
                ("queue", "delivery", "an oversized frame",
                 imsg_frame(TYPES["IMSG_DELIVERY_REQ"], b"\0" * 8,
                            length=1 << 20), "queue"),
                ("imapd", "authd", "a type imapd may not send",
                 imsg_frame(TYPES["IMSG_CTL_DIR"], b"\0" * 16), "imapd"),
            ]
            for sender, receiver, what, data, dies in probes:
                old = {r: o.pid(r) for r in (sender, receiver)}
                inject(old[sender], old[receiver], data)
                if dies is not None:
                    t.expect(wait_new_pid(dies, old[dies]),
                             "%s from %s: %s killed and restarted"
                             % (what, sender, dies))
                    t.expect(re.search(r"%s reports garbage from %s; "
                                       r"killing %s" % (receiver, sender,
                                                        sender), o.log()),
                             "logged: %s reports %s" % (receiver, sender))
                else:
                    time.sleep(0.5)
                for role in (sender, receiver):
                    if role != dies:
                        t.expect(o.pid(role) == old[role], "%s from %s: "
                                 "%s kept running" % (what, sender, role))
            # the parent's own channel: the child gives up and is back
            old = o.pid("imapd")
            inject(o.proc.pid, old, imsg_frame(60000, b"x" * 8))
            t.expect(wait_new_pid("imapd", old), "imapd restarted after "
                     "garbage from the parent")
            t.expect(o.proc.poll() is None, "osmsd alive")
            mid = send(mx, "s@remote.test", ["bob@example.test"])
            t.expect(box.wait_for("bob", mid) is not None,
                     "mail is delivered after it")
            served("I1 roles")

        # -----------------------------------------------------------
        # I2: symbolic links in Maildirs

        with t.case("I2 links planted in Maildirs (new/ to bob's, tmp/ and "
                    "cur/ outside, .Junk outside, maildirsize outside): "
                    "delivery refuses or replaces them, IMAP ignores them; "
                    "nothing is written outside"):
            vmail = pwd.getpwnam("vmail")
            for u in SYM_USERS + ("bob",):
                mid = send(mx, "s@remote.test", ["%s@example.test" % u])
                t.require(box.wait_for(u, mid) is not None,
                          "%s's Maildir made" % u)
            shutil.rmtree(outside, ignore_errors=True)
            os.mkdir(outside, 0o700)
            for d in ("new", "cur", "tmp"):
                os.mkdir(os.path.join(outside, d), 0o700)
            with open(os.path.join(outside, "maildirsize"), "w") as f:
                f.write("1000000S\n")
            for dirpath, dirs, files in os.walk(outside):
                for n in [dirpath] + [os.path.join(dirpath, x)
                                      for x in files]:
                    os.chown(n, vmail.pw_uid, vmail.pw_gid)
            root = box.root
            shutil.rmtree(os.path.join(root, "sym1", "new"))
            os.symlink("../bob/new", os.path.join(root, "sym1", "new"))
            shutil.rmtree(os.path.join(root, "sym2", "tmp"))
            os.symlink(os.path.join(outside, "tmp"),
                       os.path.join(root, "sym2", "tmp"))
            shutil.rmtree(os.path.join(root, "sym5", "cur"))
            os.symlink(os.path.join(outside, "cur"),
                       os.path.join(root, "sym5", "cur"))
            shutil.rmtree(os.path.join(root, "sym3", ".Junk"),
                          ignore_errors=True)
            os.symlink(outside, os.path.join(root, "sym3", ".Junk"))
            msize = os.path.join(root, "sym4", "maildirsize")
            if os.path.lexists(msize):
                os.unlink(msize)
            os.symlink(os.path.join(outside, "maildirsize"), msize)
            outside_before = tree(outside)
            bob_before = tree(os.path.join(root, "bob"))
            mids = {}
            for u in SYM_USERS:
                mids[u] = send(mx, "s@remote.test", ["%s@example.test" % u])
            for u, where in (("sym1", "new"), ("sym2", "tmp"),
                             ("sym5", "cur")):
                t.expect(wait_log(o, r"delivery: \S+ to=<%s@example\.test>"
                                  r" mailbox=example\.test/%s result=4: "
                                  r"symbolic link at \"%s\"" % (u, u, where)),
                         "%s: refused, logged" % u)
                t.expect(box.find(u, mids[u]) is None, "%s: not delivered"
                         % u)
            for u in ("sym3", "sym4"):
                t.expect(box.wait_for(u, mids[u]) is not None,
                         "%s: its INBOX is not a link: delivered" % u)
            t.expect(not os.path.islink(msize) and os.path.isfile(msize),
                     "sym4's maildirsize is a file of its own now")
            conn = imaps(fresh_addr())
            line, _ = imap_cmd(conn, b'LOGIN "sym3@example.test" "sym-pw"')
            t.require(line.startswith(b"a OK"), "sym3 logs in: %r" % line)
            s_, f_ = conn
            s_.sendall(b'b LIST "" "*"\r\n')
            listed = []
            while True:
                x = f_.readline()
                if x.startswith(b"b "):
                    break
                listed.append(x)
            t.expect(not [x for x in listed if b"Junk" in x],
                     "the linked .Junk is not listed: %r" % listed)
            for cmd, want in (
                    (b"SELECT Junk", b"NO [NONEXISTENT] no such mailbox"),
                    (b"STATUS Junk (MESSAGES)",
                     b"NO [NONEXISTENT] no such mailbox"),
                    (b"APPEND Junk {3+}\r\nabc",
                     b"NO [TRYCREATE] No such folder"),
                    (b"DELETE Junk", b"NO [NONEXISTENT] no such mailbox")):
                line, _ = imap_cmd(conn, cmd, tag=b"c")
                t.expect(line == b"c " + want, "%r: %r" % (cmd, line))
            line, _ = imap_cmd(conn, b"SELECT INBOX", tag=b"d")
            line, _ = imap_cmd(conn, b"COPY 1:* Junk", tag=b"e")
            t.expect(line == b"e NO [TRYCREATE] No such folder",
                     "COPY to the linked Junk: %r" % line)
            conn[0].close()
            conn = imaps(fresh_addr())
            line, _ = imap_cmd(conn, b'LOGIN "sym5@example.test" "sym-pw"')
            line, _ = imap_cmd(conn, b"SELECT INBOX", tag=b"b")
            t.expect(line.startswith(b"b NO "), "sym5's INBOX with cur/ a "
                     "link: %r" % line)
            conn[0].close()
            time.sleep(0.5)
            t.expect(tree(outside) == outside_before,
                     "nothing written outside: %r" % tree(outside))
            t.expect(tree(os.path.join(root, "bob")) == bob_before,
                     "nothing written to bob's Maildir through sym1's new/")
            served("I2")

        with t.case("no process crashed; only the roles fed garbage were "
                    "restarted"):
            rows = {r["role"]: r for r in o.status()}
            want = {"imapd": 3, "authd": 1, "smtpd": 1, "queue": 1}
            for role, r in sorted(rows.items()):
                t.expect(r["restarts"] == want.get(role, 0),
                         "%s restarted %d times" % (role, r["restarts"]))
            log = o.log()
            for pat in ("exited on signal", "core dumped",
                        "AddressSanitizer", "runtime error:"):
                t.expect(pat not in log, "%r in the log" % pat)

t.done()
