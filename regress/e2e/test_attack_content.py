#!/usr/bin/env python3
"""The content half of the attack catalogue, the bombs (shared/SECURITY.md
section 2 rows E1-E4, F-1, F-2, F-3; section 4 mime-bombs and
scanner-bombs): MIME and header bombs through every consumer of a
message (smtpd, cryptod, scand, the queue and delivery, then imapd's
FETCH on the stored copy), and archive bombs for the virus scanner.

One osmsd. First each bomb gets its exact answer at DATA with the
default policy (unscannable mail: 451 4.7.1), with the CPU each role
spent on it bounded and the server serving; then, with scand
{ unscannable accept }, the bombs are stored (marked "not scanned",
never as clean) and read back over IMAP. Nothing big is stored in the
repository: bombs.py makes them at run time; the 100 MB header is
streamed from one 1 MB piece.

Scaled down, and why: the 500k To: lines are "To: a@b.c" (5.5 MB; the
test's max-message-size is 10M); 42.zip keeps its shape (5 levels of
16) with files of 256 MiB instead of 4 GiB, so that it is 42 KB and
not 40 MB here (deflate's window is 32 KB); the overlapping zip has
1000 entries on one 256 MiB file.
"""
import imaplib
import os
import re
import socket
import sys
import threading
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from osmstest import *  # noqa: E402,F401,F403
from osmstest import _descendants  # noqa: E402
from mailtest import *  # noqa: E402,F401,F403
from attacktest import Attack, assert_untouched  # noqa: E402
from bombs import *  # noqa: E402,F401,F403

t = Tests(__file__)

ROLES = ("smtpd", "queue", "cryptod", "scand", "delivery")
UNSCANNABLE = ("451", "4.7.1 The message could not be scanned (%s); try "
               "again later")
LIMIT = "Heuristics.Limits.Exceeded."
TOOBIG = "552 5.3.4 Message size exceeds fixed maximum message size"


def cpu(pid):
    """User and system CPU seconds of a process."""
    with open("/proc/%d/stat" % pid) as f:
        st = f.read()
    w = st[st.rfind(")") + 2:].split()
    return (int(w[11]) + int(w[12])) / os.sysconf("SC_CLK_TCK")


def reply(code, text):
    return "%d %s" % (code, text.decode(errors="replace"))


def unscannable(why):
    return "%s %s" % (UNSCANNABLE[0], UNSCANNABLE[1] % why)


INNER = (b"From: <y@remote.test>\r\nSubject: inner\r\nContent-Type: "
         b"multipart/mixed; boundary=q\r\n\r\n--q\r\n\r\nin\r\n--q--\r\n")
# One field of 8.8 MB, folded into 180,000 lines: under the size limit,
# so every consumer sees it.
BIG_FIELD = b"X-Big: start" + (b"\r\n " + b"x" * 46) * 180000 + b"\r\n"


def bombs(phase):
    """(row, name, key, Message-ID, message) of each bomb; phase goes in
    the Message-ID, for they are sent twice (answered, then stored)."""
    def mid(key):
        return "<%s-%s@t>" % (key, phase)
    return [
        ("E1", "1,000 nested multiparts", "e1-deep",
         mid("e1-deep"), nested_multipart(mid("e1-deep"), 1000)),
        ("E1", "10,000 flat parts, a message/rfc822 the 10,000th",
         "e1-flat", mid("e1-flat"), flat_parts(mid("e1-flat"), 10000,
                                               last=INNER)),
        ("E2", "500,000 To: fields", "e2-to", mid("e2-to"),
         header_lines(mid("e2-to"), b"To: a@b.c\r\n", 500000)),
        ("E3", "one field of 8.8 MB", "e3-big", mid("e3-big"),
         header_lines(mid("e3-big"), BIG_FIELD, 1)),
        ("E4", "100,000 RFC 2231 sections in Content-Type", "e4-2231",
         mid("e4-2231"), param_flood(mid("e4-2231"), 100000)),
    ]


QUEUED = "250 2.0.0 Ok: queued as "
# CPU seconds a role may spend on one bomb: osms's own parsers 2 (the
# catalogue's bound; 1 for E2), libclamav's in scand 15: it takes
# 10,000 parts apart one by one, about 1 s on an idle machine, but a CI
# virtual machine has charged it 3 and 8 s within one run. A part cost
# that grew with the number of parts would take minutes.
OSMS_CPU = 2.0
SCAN_CPU = 15.0


def over_cpu(row, spent):
    """The roles that spent more than their bound on a bomb."""
    return ["%s %.2f s" % (r, v) for r, v in spent.items()
            if v >= (SCAN_CPU if r == "scand" else 1.0 if row == "E2"
                     else OSMS_CPU)]


def stored(o, mid):
    """The raw bytes of alice's copy of mid (found without parsing:
    Python's email module is slow on these; Maildir keeps LF line
    ends), or None."""
    want = b"\nMessage-ID: " + mid.encode() + b"\n"
    for sub in ("new", "cur"):
        d = o.path("mail", "example.test", "alice", sub)
        for n in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            with open(os.path.join(d, n), "rb") as f:
                head = f.read(4096)
                if want in head:
                    return head + f.read()
    return None


def wait_stored(o, mid, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        raw = stored(o, mid)
        if raw is not None:
            return raw
        time.sleep(0.1)
    return None


def send_timed(o, data, rcpt="alice@example.test"):
    """The reply to data and the CPU seconds each role spent on it."""
    pids = {r: o.pid(r) for r in ROLES}
    before = {r: cpu(p) for r, p in pids.items()}
    t0 = time.monotonic()
    code, text = smtp_data(o.ports["smtp"], "x@remote.test", data,
                           rcpts=(rcpt,))
    wall = time.monotonic() - t0
    spent = {r: cpu(p) - before[r] for r, p in pids.items()}
    return reply(code, text), spent, wall


def zip_mail(mid, name, data, ctype="application/zip"):
    return mime_message(mid, [(ctype, name, data)])


# Under ASan, freed memory waits in a quarantine (256 MB by default)
# and counts in the RSS: a small one keeps smtpd's memory bound telling.
QUARANTINE_MB = 8
ENV = ({"ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1:"
        "quarantine_size_mb=%d" % QUARANTINE_MB} if SAN == "1" else {})
RSS_GROW_KB = 4096 + (QUARANTINE_MB * 1024 if SAN == "1" else 0)

with Osms(env=ENV) as o:
    a = Attack(o)
    mx = o.ports["smtp"]
    roles0 = {r["role"]: r["pid"] for r in o.status()}
    base_conf = o.conf_text()

    at_data = {key: (row, name, data) for row, name, key, mid, data
               in bombs("data")}

    def answered(key, want):
        """The bomb key at DATA: the reply want (a prefix: QUEUED), the
        CPU of each role bounded, a client served after it."""
        row, name, data = at_data[key]
        got, spent, wall = send_timed(o, data)
        t.diag("%s %s (%d bytes): %s in %.2f s; CPU %s" % (
            row, name, len(data), got, wall, " ".join(
                "%s %.2f" % kv for kv in spent.items())))
        t.expect(got.startswith(want) if want == QUEUED else got == want,
                 "%s %s: %r" % (row, name, got))
        t.expect(not over_cpu(row, spent), "%s %s: CPU %s" % (
            row, name, over_cpu(row, spent)))
        t.expect(a.serves(), "%s %s: a normal message is refused "
                 "afterwards" % (row, name))

    # -- E1-E4 at DATA, default policy

    with t.case("E1: 1,000 nested multiparts at DATA: 451 4.7.1 "
                "unscannable (MaxRecursion), CPU bounded"):
        answered("e1-deep", unscannable(LIMIT + "MaxRecursion"))

    with t.case("E1: 10,000 flat parts at DATA: scanned and queued, CPU "
                "bounded"):
        answered("e1-flat", QUEUED)

    with t.case("E2: 500,000 To: fields at DATA: scanned and queued, CPU "
                "bounded"):
        answered("e2-to", QUEUED)

    with t.case("E3: a field of 8.8 MB at DATA: scanned and queued, CPU "
                "bounded"):
        answered("e3-big", QUEUED)

    with t.case("E4: 100,000 RFC 2231 sections at DATA: 451 4.7.1 "
                "unscannable (EmailHeaderBytes), CPU bounded"):
        answered("e4-2231", unscannable(LIMIT + "EmailHeaderBytes"))

    with t.case("E3: a 100 MB folded header streamed: 552 5.3.4 at its "
                "end, smtpd's memory bounded, the session goes on"):
        pid = o.pid("smtpd")
        rss0 = rss_kb(pid)
        c = Conn(mx, 30)
        t.require(read_line(c).startswith("220 "), "banner")
        c.sendall("EHLO client.test\r\nMAIL FROM:<x@remote.test>\r\n"
                  "RCPT TO:<alice@example.test>\r\nDATA\r\n")
        r = read_lines(c, 4)
        t.require(r[-1].startswith("354 "), r)
        # 1 MB of folded lines of 64 bytes, 100 times, never all at once.
        piece = b"\r\n " + b"y" * 61
        piece = piece * ((1 << 20) // len(piece))
        t0 = time.monotonic()
        c.sendall(b"From: <x@remote.test>\r\nX-Huge: start")
        for _ in range(100):
            c.sendall(piece)
        c.sendall(b"\r\n\r\nbody\r\n.\r\n")
        r = read_lines(c, 1, timeout=60)
        dt = time.monotonic() - t0
        t.expect(r == [TOOBIG], r)
        grow = rss_kb(pid) - rss0
        t.diag("100 MB header: %r in %.2f s, smtpd grew %d kB" % (r, dt,
                                                                grow))
        t.expect(grow < RSS_GROW_KB, "smtpd grew by %d kB" % grow)
        c.sendall("NOOP\r\n")
        t.expect(read_lines(c, 1) == ["250 2.0.0 Ok"], "NOOP after it")
        c.close()
        tmp = o.path("spool", "tmp")
        t.require(os.path.isdir(tmp), "no spool tmp/")
        # The queue removes the refused file after the reply.
        t.expect(wait_until(lambda: not os.listdir(tmp), 10),
                 "a queue file was left in tmp/: %r" % os.listdir(tmp))

    # -- F-1, F-2, F-3 at DATA

    with t.case("F-1: 42.zip (42 KB, 256 TiB unpacked): 451 4.7.1 "
                "unscannable (MaxFileSize) in under 5 s"):
        z = zip_42()
        t.diag("42.zip: %d bytes" % len(z))
        got, spent, wall = send_timed(o, zip_mail("<f1-42@t>", "42.zip", z))
        t.diag("42.zip: %.2f s, scand %.2f s of CPU" % (wall,
                                                      spent["scand"]))
        t.expect(got == unscannable(LIMIT + "MaxFileSize"), got)
        t.expect(wall < 5 and spent["scand"] < 5, "%.2f s, scand %.2f s"
                 % (wall, spent["scand"]))

    with t.case("F-1: an overlapping-entry zip (1000 entries on one 256 MiB "
                "file): 451 4.7.1 unscannable (MaxFileSize), never clean"):
        z = zip_overlap()
        got, spent, wall = send_timed(o, zip_mail("<f1-ov@t>", "o.zip", z))
        t.diag("overlapping zip (%d bytes): %.2f s, scand %.2f s of CPU" % (
            len(z), wall, spent["scand"]))
        t.expect(got == unscannable(LIMIT + "MaxFileSize"), got)
        t.expect(wall < 5, "%.2f s" % wall)

    with t.case("F-1: EICAR at the bottom of a 20-level tar.gz chain: 451 "
                "4.7.1 unscannable (MaxRecursion), never clean"):
        got, spent, wall = send_timed(o, zip_mail(
            "<f1-tgz@t>", "chain.tar.gz", tgz_chain(20, EICAR),
            "application/gzip"))
        t.expect(got == unscannable(LIMIT + "MaxRecursion"), got)
        # Within the limit it is found: the chain is unpacked at all.
        got, _, _ = send_timed(o, zip_mail(
            "<f1-tgz5@t>", "chain.tar.gz", tgz_chain(5, EICAR),
            "application/gzip"))
        t.expect(got.startswith("550 5.7.1 Virus found: Osms.Test.EICAR"),
                 got)

    with t.case("F-1: a bzip2 of 1 GB of zeros (782 bytes): 451 4.7.1 "
                "unscannable (MaxFileSize) in under 5 s"):
        bz, size = bz2_zeros()
        t.diag("bzip2: %d bytes for %d" % (len(bz), size))
        got, spent, wall = send_timed(o, zip_mail(
            "<f1-bz@t>", "zeros.bz2", bz, "application/x-bzip2"))
        t.diag("bzip2: %.2f s, scand %.2f s of CPU" % (wall,
                                                     spent["scand"]))
        t.expect(got == unscannable(LIMIT + "MaxFileSize"), got)
        t.expect(wall < 5, "%.2f s" % wall)

    with t.case("F-1: scans go on beside a bomb; scand is the same "
                "process, its memory bounded"):
        pid = o.pid("scand")
        rss0 = rss_kb(pid)
        res = {}

        def bomb():
            res["bomb"] = send_timed(o, zip_mail("<f1-42b@t>", "42.zip",
                                                 zip_42()))[0]
        th = threading.Thread(target=bomb)
        th.start()
        oks = [a.serves() for _ in range(3)]
        th.join(60)
        t.expect(oks == [True] * 3, oks)
        t.expect(res.get("bomb") == unscannable(LIMIT + "MaxFileSize"),
                 res)
        t.expect(o.pid("scand") == pid, "scand restarted")
        t.diag("scand RSS %d kB, was %d kB" % (rss_kb(pid), rss0))
        t.expect(rss_kb(pid) < rss0 + 64 * 1024, "scand RSS %d kB" %
                 rss_kb(pid))

    with t.case("F-2: EICAR after 26 MB of zeros in a zip (libclamav cuts "
                "the file at max-file-size without an alert): 451 4.7.1 "
                "unscannable, not delivered"):
        inner = bytes(26 << 20) + EICAR
        e = ("big.com", 8, zlib.crc32(inner), len(inner),
             zlib.compress(inner, 9)[2:-4])
        got, _, _ = send_timed(o, zip_mail("<f2-cut@t>", "a.zip",
                                           zip_raw([e])))
        t.expect(got == unscannable(LIMIT + "MaxFileSize"), got)
        t.expect(stored(o, "<f2-cut@t>") is None, "delivered")
        t.expect(wait_log(o, r"check virus: message \w+ unscannable: "
                          r"Heuristics\.Limits\.Exceeded\.MaxFileSize"),
                 "no log line")

    with t.case("F-3: a password-protected zip holding EICAR: 451 4.7.1 "
                "unscannable (Heuristics.Encrypted.Zip), logged"):
        got, _, _ = send_timed(o, zip_mail("<f3-enc@t>", "secret.zip",
                                           zip_encrypted("eicar.com",
                                                         EICAR)))
        t.expect(got == unscannable("Heuristics.Encrypted.Zip"), got)
        t.expect(wait_log(o, r"check virus: message \w+ unscannable: "
                          r"Heuristics\.Encrypted\.Zip"), "no log line")

    # -- stored: unscannable mail accepted, marked

    with t.case("F-2: with unscannable accept, each bomb is delivered "
                "\"not scanned (...)\", never as scanned clean"):
        o.write_conf(base_conf + "scand {\n\tunscannable accept\n}\n")
        t.require(o.ctl("reload").returncode == 0, "reload")
        time.sleep(2)
        for mid, data, why in (
                ("<f2-42@t>", zip_mail("<f2-42@t>", "42.zip", zip_42()),
                 LIMIT + "MaxFileSize"),
                ("<f2-enc@t>", zip_mail("<f2-enc@t>", "e.zip",
                                        zip_encrypted("e.com", EICAR)),
                 "Heuristics.Encrypted.Zip")):
            got, _, _ = send_timed(o, data)
            raw = wait_stored(o, mid)
            head = raw.split(b"\n\n")[0] if raw is not None else b""
            t.expect(got.startswith(QUEUED) and re.findall(
                rb"(?m)^X-Virus-Scanned: .*$", head) == [
                    b"X-Virus-Scanned: not scanned (%s)" % why.encode()],
                "%s: %s %r" % (mid, got, head[:400]))

    times = {}
    with t.case("E1-E4 stored: cryptod, the queue and delivery take every "
                "bomb, CPU bounded"):
        for row, name, key, mid, data in bombs("kept"):
            got, spent, wall = send_timed(o, data)
            t.expect(got.startswith(QUEUED), "%s: %s" % (name, got))
            t.expect(wait_stored(o, mid) is not None, "%s not stored" %
                     name)
            t.expect(not over_cpu(row, spent), "%s: CPU %s" % (
                name, over_cpu(row, spent)))
            times[mid] = wall

    def session_pid(before):
        for p in _descendants(o.proc.pid):
            if p in before:
                continue
            try:
                with open("/proc/%d/comm" % p) as f:
                    if f.read().startswith("osms-session"):
                        return p
            except OSError:
                pass
        return None

    def fetch(c, pid, num, item, limit=2.0):
        """One FETCH: (status, data, session CPU seconds)."""
        c0 = cpu(pid)
        typ, d = c.fetch(num, "(%s)" % item)
        spent = cpu(pid) - c0
        t.expect(spent < limit, "FETCH %s %s: %.2f s of CPU" % (num, item,
                                                                  spent))
        return typ, d, spent

    def flat(d):
        return b"".join(x[0] + x[1] if isinstance(x, tuple) else x
                        for x in d)

    with t.case("E1-E4 in IMAP: BODYSTRUCTURE, ENVELOPE and sections of "
                "each stored bomb, within the parser's limits, each FETCH "
                "under 2 s of the session's CPU"):
        old = set(_descendants(o.proc.pid))
        c = imaplib.IMAP4_SSL("127.0.0.1", o.ports["imaps"],
                              ssl_context=insecure_ctx(), timeout=60)
        c.login("alice@example.test", "alice-pw")
        t.require(c.select("INBOX")[0] == "OK", "SELECT")
        pid = session_pid(old)
        t.require(pid is not None, "no session process")
        num = {}
        for row, name, key, mid, data in bombs("kept"):
            typ, d = c.search(None, "HEADER", "Message-ID", mid)
            t.require(typ == "OK" and len(d[0].split()) == 1, (mid, d))
            num[key] = d[0].split()[0].decode()
        # E1 deep: 32 levels (MIME_MAX_DEPTH), then an opaque part.
        typ, d, _ = fetch(c, pid, num["e1-deep"], "BODYSTRUCTURE")
        m = re.match(rb"\d+ \(BODYSTRUCTURE (\(+)\"application\" "
                     rb"\"octet-stream\"", flat(d))
        t.expect(typ == "OK" and m and len(m.group(1)) == 33,
                 flat(d)[:120])
        typ, d, _ = fetch(c, pid, num["e1-deep"], "BODY.PEEK[%s]" %
                          ".".join(["1"] * 32))
        t.expect(typ == "OK" and b"--n00032\r\n" in flat(d) and
                 b"\r\ndeep\r\n" in flat(d), flat(d)[:200])
        # E1 flat: 9,999 parts (MIME_MAX_PARTS with the root); the
        # message/rfc822 beyond is in no part, only in the whole text.
        typ, d, _ = fetch(c, pid, num["e1-flat"], "BODYSTRUCTURE")
        bs = flat(d)
        t.expect(typ == "OK" and bs.count(b"(\"text\" \"plain\"") == 9999
                 and b"\"message\" \"rfc822\"" not in bs,
                 "%d parts" % bs.count(b"(\"text\" \"plain\""))
        typ, d, _ = fetch(c, pid, num["e1-flat"], "BODY.PEEK[10000]")
        t.expect(typ == "OK" and flat(d).endswith(b"BODY[10000] {0})"),
                 flat(d)[:200])
        typ, d, _ = fetch(c, pid, num["e1-flat"], "BODY.PEEK[9999]")
        t.expect(typ == "OK" and flat(d).endswith(b"BODY[9999] {5}p9998)"),
                 flat(d)[:200])
        typ, d, _ = fetch(c, pid, num["e1-flat"], "BODY.PEEK[TEXT]")
        t.expect(typ == "OK" and b"Subject: inner" in flat(d),
                 flat(d)[-200:])
        # E2: the ENVELOPE holds the first To field only.
        typ, d, _ = fetch(c, pid, num["e2-to"], "ENVELOPE", 1.0)
        env = flat(d)
        t.expect(typ == "OK" and b"((NIL NIL \"alice\" \"example.test\"))"
                 in env and b"b.c" not in env, env[:300])
        c0 = cpu(pid)
        typ, d = c.search(None, "TO", "nobody@nowhere.test")
        t.expect(typ == "OK" and d == [b""] and cpu(pid) - c0 < 2.0,
                 "SEARCH TO: %r %.2f s" % (d, cpu(pid) - c0))
        # E3: the one big field does not reach ENVELOPE or BODYSTRUCTURE.
        for item in ("ENVELOPE", "BODYSTRUCTURE"):
            typ, d, _ = fetch(c, pid, num["e3-big"], item)
            t.expect(typ == "OK" and len(flat(d)) < 1024 and b"xxxx" not
                     in flat(d), flat(d)[:200])
        # HEADER.FIELDS copies fields: not past MIME_MAX_HEADER.
        typ, d, _ = fetch(c, pid, num["e3-big"],
                          "BODY.PEEK[HEADER.FIELDS (X-BIG)]")
        t.expect(typ == "NO" and d == [b"[LIMIT] header too large"],
                 (typ, flat(d)[:200]))
        # E4: at most MIME_MAX_PARAMS (64) parameters.
        typ, d, _ = fetch(c, pid, num["e4-2231"], "BODYSTRUCTURE")
        bs = flat(d)
        t.expect(typ == "OK" and 0 < bs.count(b"\"name") <= 64 and
                 len(bs) < 16384, bs[:300])
        c.logout()

    with t.case("bombs: no role restarted or crashed, a client is "
                "served"):
        t.expect(a.serves(), "a normal message is refused")
        assert_untouched(t, o, roles0)
t.done()
