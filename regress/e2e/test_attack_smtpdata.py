#!/usr/bin/env python3
"""The SMTP half of the attack catalogue, the message text and the
connection (shared/SECURITY.md section 2 rows B1-B4, I3, I4; section 4
smuggling and long-lines): every smtpsmug ending in DATA and across BDAT
chunks on every listener, bare CR and LF from users, DATA with its text
in one segment, sizes up to 2^64, 10 MB lines, and slowloris.

One osmsd: the MX listener (plain and after STARTTLS), submission after
STARTTLS and AUTH, and implicit TLS on 465. Each probe asserts the exact
reply and that the server goes on serving (the same session, or a fresh
client). Mail that alice relays for far.test goes to a sink; anything
else not local would go to another that must receive nothing.
"""
import os
import re
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from osmstest import *  # noqa: E402,F401,F403
from mailtest import *  # noqa: E402,F401,F403
from attacktest import *  # noqa: E402,F401,F403
from smtpsink import Sink  # noqa: E402

t = Tests(__file__)

# A short timeout so that idle clients are cut within the test; fewer
# sessions per address so that slowloris meets the limit quickly.
ROLES = "smtpd {\n\ttimeout 4\n\tmax-client-sessions 20\n}\n"

opensink = Sink()       # everything else: must receive nothing
farsink = Sink()        # far.test: what alice relays
CONF = ('relay domain "far.test" host 127.0.0.1 port %d tls none\n'
        'relay host 127.0.0.1 port %d tls none\n'
        % (farsink.port, opensink.port))

with Osms(extra_conf=CONF, roles_conf=ROLES) as o:
    a = Attack(o)
    mx, sub, subs, box = a.mx, a.sub, a.subs, a.box
    session, serves, all_raw = a.session, a.serves, a.all_raw
    roles0 = {r["role"]: r["pid"] for r in o.status()}

    def smuggled(n):
        """The text after a fake end: a second transaction, with its
        own sender, a local and an outside recipient."""
        return (b"MAIL FROM:<evil@remote.test>\r\n"
                b"RCPT TO:<bob@example.test>\r\nRCPT TO:<victim@far.test>"
                b"\r\nDATA\r\n" +
                make_message("evil@remote.test", "bob@example.test",
                             "<smuggled-%d-%d@evil.test>" % (os.getpid(), n)))

    clean = {}
    with t.case("B1: every smtpsmug ending in DATA on every listener: "
                "554 5.6.0, nothing smuggled, the session goes on"):
        n = 0
        for mode in MODES:
            c = session(mode)
            s = sender_for(mode)
            rcpts = [ALICE] + (["friend@far.test"] if mode in ("sub", "subs")
                               else [])
            for end in ENDINGS:
                n += 1
                c.sendall("MAIL FROM:<%s>\r\n%sDATA\r\n" % (s, "".join(
                    "RCPT TO:<%s>\r\n" % x for x in rcpts)))
                r = read_lines(c, 2 + len(rcpts))
                t.require(r == ["250 2.1.0 Ok"] + ["250 2.1.5 Ok"] *
                          len(rcpts) + ["354 End data with <CR><LF>.<CR>"
                                        "<LF>"], "%s: %r" % (mode, r))
                c.sendall(make_message(s, ALICE, message_id()).rstrip(
                    b"\r\n") + end + smuggled(n) + b".\r\n")
                r = read_lines(c, 1)
                want = NUL if b"\x00" in end else BARE
                t.expect(r == [want], "%s %r: %r" % (mode, end, r))
                # One reply, and the session is where it should be.
                r = ask(c, "NOOP")
                t.expect(r == ["250 2.0.0 Ok"], "%s %r: after: %r" %
                         (mode, end, r))
            mid = clean[mode] = message_id()
            c.sendall("MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n" %
                      (s, ALICE))
            t.expect(read_codes(c, 3) == [250, 250, 354], mode)
            c.sendall(make_message(s, ALICE, mid) + b".\r\nQUIT\r\n")
            r = read_lines(c, 2)
            t.expect(r[:1] and r[0].startswith("250 2.0.0 Ok: queued as ")
                     and r[1:] == ["221 2.0.0 Bye"], "%s: %r" % (mode, r))
            c.close()
        for mode, mid in clean.items():
            t.expect(box.wait_for("alice", mid) is not None,
                     "%s: the clean message was not delivered" % mode)
        time.sleep(0.5)
        t.expect(not [r for r in all_raw() if b"evil" in r],
                 "a smuggled message was delivered")
        t.expect(all(box.count("alice", mid) == 1
                     for mid in clean.values()), "a message twice")

    with t.case("B1/B4: smtpsmug endings across BDAT chunks on every "
                "listener: 554 5.6.0 at LAST; CRLF.CRLF in a chunk is "
                "content"):
        n = 100
        for mode in MODES:
            s = sender_for(mode)
            for end in ENDINGS:
                # At most 5 refusals a session: 20 errors end one.
                c = session(mode)
                for k in range(1, len(end)):
                    n += 1
                    one = make_message(s, ALICE, message_id()).rstrip(
                        b"\r\n") + end[:k]
                    two = end[k:] + smuggled(n)
                    c.sendall(b"MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\n"
                              b"BDAT %d\r\n%sBDAT %d LAST\r\n%s" % (
                                  s.encode(), ALICE.encode(), len(one), one,
                                  len(two), two))
                    r = read_lines(c, 4)
                    want = NUL if b"\x00" in end else BARE
                    t.expect(r == ["250 2.1.0 Ok", "250 2.1.5 Ok",
                                   "250 2.0.0 %d octets received" % len(one),
                                   want], "%s %r/%d: %r" % (mode, end, k, r))
                t.expect(ask(c, "NOOP") == ["250 2.0.0 Ok"], "%s %r" %
                         (mode, end))
                c.close()
            c = session(mode)
            # A clean end inside a chunk, the commands in the next one:
            # all of it is the text of one message.
            mid = message_id()
            one = make_message(s, ALICE, mid) + b".\r\n"
            two = smuggled(n) + b".\r\n"
            c.sendall(b"MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nBDAT %d\r\n%s"
                      b"BDAT %d LAST\r\n%sQUIT\r\n" % (
                          s.encode(), ALICE.encode(), len(one), one,
                          len(two), two))
            r = read_lines(c, 5)
            t.expect(r[:3] == ["250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.0.0 %d"
                               " octets received" % len(one)] and
                     r[3].startswith("250 2.0.0 Ok: queued as ") and
                     r[4:] == ["221 2.0.0 Bye"], "%s: %r" % (mode, r))
            c.close()
            raw = box.wait_for("alice", mid) and box.raw_bytes("alice", mid)
            t.expect(raw and b"\n.\nMAIL FROM:<evil@remote.test>\n" in raw,
                     "%s: the second chunk is not content: %r" % (
                         mode, raw[-300:] if raw else raw))
        time.sleep(0.5)
        t.expect(not [r for r in all_raw() if b"Return-Path: <evil" in r],
                 "a smuggled message was delivered")

    with t.case("B2: bare CR or LF from an authenticated user is refused, "
                "what is relayed has CRLF only"):
        n0 = len(farsink.messages)
        for mode in ("sub", "subs"):
            for body in ("line\nbare LF\r\n", "line\rbare CR\r\n",
                         "line\r\r\n"):
                c = session(mode)
                c.sendall("MAIL FROM:<%s>\r\nRCPT TO:<friend@far.test>\r\n"
                          "DATA\r\n" % ALICE)
                t.expect(read_codes(c, 3) == [250, 250, 354], mode)
                c.sendall(make_message(ALICE, "friend@far.test",
                                       message_id(), body=body) + b".\r\n")
                t.expect(read_lines(c, 1) == [BARE], "%s %r" % (mode, body))
                c.close()
        mid = submit(sub, ["friend@far.test"], body="one\r\ntwo\r\n")
        t.require(farsink.wait(n0 + 1), "the clean message did not leave")
        data = [m.data for m in farsink.messages if mid.encode() in m.data]
        t.require(len(data) == 1, "%d copies" % len(data))
        t.expect(not re.search(rb"\r(?!\n)|(?<!\r)\n", data[0]),
                 "a bare CR or LF on the wire: %r" % data[0][:400])
        t.expect(len(farsink.messages) == n0 + 1, "refused mail was relayed")

    with t.case("B3: DATA with the text in the same segment: 554 5.5.0 "
                "and close"):
        for mode in MODES:
            c = session(mode)
            s = sender_for(mode)
            mid = message_id()
            c.sendall(("MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n" %
                       (s, ALICE)).encode() + make_message(s, ALICE, mid) +
                      b".\r\nQUIT\r\n")
            r = read_lines(c, 3)
            t.expect(r == ["250 2.1.0 Ok", "250 2.1.5 Ok", "554 5.5.0 Text "
                           "sent before the 354 reply; closing"],
                     "%s: %r" % (mode, r))
            t.expect(closed(c), "%s: not closed" % mode)
            c.close()
            time.sleep(0.3)
            t.expect(box.find("alice", mid) is None, "%s: delivered" % mode)
        # A DATA that fails must not have its text read as commands.
        closing = "554 5.5.0 Text sent before the 354 reply; closing"
        for pre, replies in (
                ("", []),
                ("MAIL FROM:<a@remote.test>\r\n", ["250 2.1.0 Ok"]),
                ("MAIL FROM:<a@remote.test>\r\nRCPT TO:<nobody@example."
                 "test>\r\n", ["250 2.1.0 Ok", "550 5.1.1 <nobody@example."
                                "test>: Recipient address rejected: User "
                                "unknown"])):
            c = session("mx")
            c.sendall(pre.encode() + b"DATA\r\nRSET\r\nMAIL FROM:<evil@"
                      b"remote.test>\r\nRCPT TO:<%s>\r\n" % ALICE.encode())
            r = read_lines(c, len(replies) + 1)
            t.expect(r == replies + [closing], "%r: %r" % (pre, r))
            t.expect(closed(c), "%r: not closed" % pre)
            c.close()
        t.expect(wait_log(o, r"smtpd from=127\.0\.0\.1 sent data before the"
                          r" 354 reply; closing"), "not logged")
        t.expect(serves(), "a fresh client is not served")

    with t.case("I3: DATA and BDAT sizes: 2^64 refused, chunks past the "
                "limit 552, a huge chunk read with bounded memory"):
        c = session("mx")
        for cmd, want in (
                ("MAIL FROM:<a@remote.test> SIZE=18446744073709551616",
                 "552 5.3.4 Declared SIZE exceeds any limit"),
                ("MAIL FROM:<a@remote.test> SIZE=18446744073709551615",
                 TOOBIG),
                ("MAIL FROM:<a@remote.test> SIZE=10485761", TOOBIG),
                ("MAIL FROM:<a@remote.test> SIZE=10485760", "250 2.1.0 Ok")):
            r = ask(c, cmd)
            t.expect(r == [want], "%s: %r" % (cmd, r))
        ask(c, "RCPT TO:<%s>" % ALICE)
        # Two chunks, each under the limit, together over it.
        c.sendall(b"BDAT 6000000\r\n" + (b"x" * 998 + b"\r\n") * 6000)
        r = read_lines(c, 1, timeout=30)
        t.expect(r == ["250 2.0.0 6000000 octets received"], r)
        c.sendall(b"BDAT 5000000 LAST\r\n" + (b"y" * 998 + b"\r\n") * 5000)
        r = read_lines(c, 1, timeout=30)
        t.expect(r == [TOOBIG], r)
        # DATA past the limit, in long lines.
        c.sendall("MAIL FROM:<a@remote.test>\r\nRCPT TO:<%s>\r\nDATA\r\n"
                  % ALICE)
        t.expect(read_codes(c, 3) == [250, 250, 354], "DATA")
        c.sendall((b"z" * 998 + b"\r\n") * 10600 + b".\r\n")
        r = read_lines(c, 1, timeout=30)
        t.expect(r == [TOOBIG], r)
        t.expect(ask(c, "NOOP") == ["250 2.0.0 Ok"], "NOOP")
        # A chunk size past 2^64-1 cannot be skipped: the session ends.
        r = ask(c, "BDAT 18446744073709551616 LAST", 2)
        t.expect(r == ["552 5.3.4 Chunk exceeds the maximum message size",
                       "421 4.5.0 %s Bad BDAT command; closing" % HOST], r)
        t.expect(closed(c), "not closed")
        c.close()
        # 2^64-1 announced: 12 MB of it is read, none of it kept.
        pid = o.pid("smtpd")
        rss0 = rss_kb(pid)
        c = session("mx")
        c.sendall("MAIL FROM:<a@remote.test>\r\nRCPT TO:<%s>\r\n"
                  "BDAT 18446744073709551615 LAST\r\n" % ALICE)
        t.expect(read_codes(c, 2) == [250, 250], "MAIL, RCPT")
        for _ in range(12):
            c.sendall(b"w" * (1 << 20))
        t.expect(serves(), "another client is not served meanwhile")
        grow = rss_kb(pid) - rss0
        t.expect(grow < 4096 + RSS_SLACK_KB, "smtpd grew by %d kB" % grow)
        c.close()

    with t.case("long lines: a command or AUTH line without CRLF on every "
                "SMTP listener gets 500 5.5.2 and the session closes; 10 MB "
                "in DATA gets 500 5.5.2 at its end; memory bounded"):
        pid = o.pid("smtpd")
        rss0 = rss_kb(pid)
        big = b"y" * (10 * 1024 * 1024)
        # 64 KB: what a lingering close reads of the rest is dropped, and
        # the reply cannot be lost to a reset while the client sends.
        long = b"y" * 65536
        for mode in MODES:
            c = session(mode, auth=False)
            c.sendall(long)
            r = read_lines(c, 1, timeout=30)
            t.expect(r == ["500 5.5.2 Line too long; closing"],
                     "%s: %r" % (mode, r))
            t.expect(closed(c), "%s: closed" % mode)
            c.close()
            if mode in ("sub", "subs"):
                c = session(mode, auth=False)
                r = ask(c, "AUTH LOGIN")
                t.expect(r == ["334 VXNlcm5hbWU6"], "%s: %r" % (mode, r))
                c.sendall(long)
                r = read_lines(c, 1, timeout=30)
                t.expect(r == ["500 5.5.2 Line too long; closing"],
                         "%s AUTH: %r" % (mode, r))
                t.expect(closed(c), "%s AUTH: closed" % mode)
                c.close()
            c = session(mode)
            s = sender_for(mode)
            c.sendall("MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n" %
                      (s, ALICE))
            t.expect(read_codes(c, 3) == [250, 250, 354], mode)
            c.sendall(b"Subject: x\r\n\r\n" + big + b"\r\n.\r\n")
            r = read_lines(c, 1, timeout=30)
            t.expect(r == ["500 5.5.2 Message refused: a line is longer "
                           "than 1000 octets"], "%s DATA: %r" % (mode, r))
            c.close()
        grow = rss_kb(pid) - rss0
        t.expect(grow < 4096 + RSS_SLACK_KB, "smtpd grew by %d kB" % grow)
        for port in (mx, sub):
            t.expect(smtp_banner(port).startswith("220 "), "not served")

    with t.case("I4: slowloris: the 21st session of an address gets 421 "
                "4.7.0, idle ones are cut with 421 4.4.2, a new client is "
                "served at once"):
        held = []       # (mode, connection)
        refused = []
        for k, mode in enumerate(("mx", "sub", "subs")):
            src = "127.0.0.%d" % (81 + k)
            port = {"mx": mx, "sub": sub, "subs": subs}[mode]
            for i in range(21):
                c = Conn(port, 10, src)
                if i < 20:
                    held.append((mode, c))
                else:
                    refused.append((mode, c))
        for mode, c in refused:
            r = read_line(c, 5)
            t.expect(r == "421 4.7.0 %s Too many connections from your "
                     "address; try later" % HOST, "%s: %r" % (mode, r))
            c.close()
        # Every held one trickles a byte (a TLS one: of its ClientHello)
        # every 0.4 s; meanwhile others are served at once on each port.
        for mode, c in held:
            if mode != "subs":
                read_line(c, 5)
        slow = []
        t0 = time.monotonic()
        k = 0
        while time.monotonic() - t0 < 2.5:
            for mode, c in held:
                try:
                    c.sock.sendall(b"\x16" if mode == "subs" else
                                   b"EHLO slow"[k % 9:k % 9 + 1])
                except OSError:
                    pass
            k += 1
            for port in (mx, sub, subs):
                t1 = time.monotonic()
                c = Conn(port, 5, "127.0.0.90")
                if port == subs:
                    tls_wrap(c)
                line = read_line(c, 5)
                dt = time.monotonic() - t1
                c.close()
                if not line.startswith("220 ") or dt > 1.0:
                    slow.append((port, line, round(dt, 2)))
            time.sleep(0.4)
        t.expect(not slow, "new clients not served at once: %r" % slow)
        t.expect(serves(source="127.0.0.90"), "a message is not taken")
        # Now they go quiet: the timeout (4 s) cuts each of them.
        deadline = time.monotonic() + 15
        cut = {"mx": 0, "sub": 0, "subs": 0}
        for mode, c in held:
            if mode == "subs":
                ok = closed(c, max(0.1, deadline - time.monotonic()))
            else:
                ok = read_line(c, max(0.1, deadline - time.monotonic())) \
                    == "421 4.4.2 %s Error: timeout exceeded" % HOST
            cut[mode] += ok
            c.close()
        t.expect(cut == {"mx": 20, "sub": 20, "subs": 20}, cut)

    with t.case("the open-relay sink got nothing, no role restarted, a "
                "client is served"):
        assert_untouched(t, o, roles0, opensink)
        for port in (mx, sub, subs):
            t.expect(serves(port), "%d: not served" % port)

opensink.close()
farsink.close()
t.done()

