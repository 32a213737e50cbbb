#!/usr/bin/env python3
"""The SMTP half of the attack catalogue, commands and envelopes
(shared/SECURITY.md section 2 rows A1, A3-A7, A9-A11, E5, H1, H6;
section 4 open-relay and header-injection): shell and expansion syntax in
addresses, CR LF in xtext, malformed parameters, recipient and header
limits, random command sequences, a 64 KB EHLO, UTF-8 without SMTPUTF8,
degenerate addresses, open-relay address tricks, header injection
through every identity, and the documented answer of each limit.

One osmsd serves every case: the MX listener (plain and after STARTTLS),
submission after STARTTLS and AUTH, and implicit TLS on 465. Each probe
asserts the exact reply (code, enhanced status and text) and that the
server goes on serving: the same session answers the next command, or a
fresh client is greeted and can send. Mail for other domains would go to
a smarthost sink that must receive nothing. The message text (smuggling,
sizes, long lines, slowloris) is in test_attack_smtpdata.py; STARTTLS and
TLS in test_attack_tls.py; the outbound side in test_attack_mta.py.
"""
import base64
import email
import email.policy
import os
import random
import re
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from osmstest import *  # noqa: E402,F401,F403
from osmstest import _descendants  # noqa: E402
from mailtest import *  # noqa: E402,F401,F403
from attacktest import *  # noqa: E402,F401,F403
from smtpsink import Sink  # noqa: E402

t = Tests(__file__)

opensink = Sink()       # everything not local: must receive nothing
CONF = "relay host 127.0.0.1 port %d tls none\n" % opensink.port

with Osms(extra_conf=CONF) as o:
    a = Attack(o)
    mx, sub, subs, box = a.mx, a.sub, a.subs, a.box
    session, serves, all_raw = a.session, a.serves, a.all_raw
    roles0 = {r["role"]: r["pid"] for r in o.status()}
    pwn = "/tmp/osms-pwn-%d" % os.getpid()

    with t.case("A1: shell metacharacters in MAIL FROM: 553 5.1.7, or "
                "kept verbatim; nothing runs"):
        procs0 = set(_descendants(o.proc.pid))
        c = session("mx")
        for bad in ("<;touch %s;>" % pwn, "<$(touch %s)@remote.test>" % pwn,
                    "<a@b;touch %s>" % pwn, "<a b@remote.test>"):
            r = ask(c, "MAIL FROM:" + bad)
            t.expect(r == ["553 5.1.7 Bad sender address syntax: invalid"
                           " character in %s" % ("domain" if "b;" in bad
                                                  else "local part")],
                     "%s: %r" % (bad, r))
        # Back quotes, "|" and "$" are atext (RFC 5322 3.2.3): a valid
        # address, kept as it is and never given to anything that runs.
        mid = message_id()
        odd = "`touch${IFS}%s`|$x@remote.test" % pwn
        t.expect(ask(c, "MAIL FROM:<%s>" % odd) == ["250 2.1.0 Ok"], odd)
        t.expect(ask(c, "RCPT TO:<%s>" % ALICE) == ["250 2.1.5 Ok"], "rcpt")
        t.expect(ask(c, "DATA") == ["354 End data with <CR><LF>.<CR><LF>"],
                 "data")
        c.sendall(make_message(odd, ALICE, mid) + b".\r\n")
        r = read_lines(c, 1)
        t.expect(r[:1] and r[0].startswith("250 2.0.0 Ok: queued as "), r)
        c.close()
        m = box.wait_for("alice", mid)
        t.require(m is not None, "not delivered")
        t.expect(m["Return-Path"] == "<%s>" % odd, m["Return-Path"])
        t.expect(not os.path.exists(pwn), "%s was created" % pwn)
        new = set(_descendants(o.proc.pid)) - procs0
        t.expect(not new, "new processes: %r" % new)

    with t.case("A3: expansion syntax in RCPT TO: refused, or unknown; "
                "nothing evaluated"):
        procs0 = set(_descendants(o.proc.pid))
        c = session("mx")
        t.expect(ask(c, "MAIL FROM:<a@remote.test>") == ["250 2.1.0 Ok"],
                 "mail")
        for rcpt, want in (
                ("${run{/bin/touch %s}}@example.test" % pwn, "553 5.1.3 "
                 "Bad recipient address syntax: invalid character in local"
                 " part"),
                ("${run{x}}@example.test", "550 5.1.1 <${run{x}}@example."
                 "test>: Recipient address rejected: User unknown"),
                ("$(id)@example.test", "553 5.1.3 Bad recipient address "
                 "syntax: invalid character in local part"),
                ("`id`@example.test", "550 5.1.1 <`id`@example.test>: "
                 "Recipient address rejected: User unknown"),
                ("|id@example.test", "550 5.1.1 <|id@example.test>: "
                 "Recipient address rejected: User unknown"),
                ("\"|touch %s\"@example.test" % pwn, "550 5.1.1 <\"|touch "
                 "%s\"@example.test>: Recipient address rejected: User "
                 "unknown" % pwn),
                ("%s%%x@example.test" % "alice", "550 5.1.1 <alice%x@"
                 "example.test>: Recipient address rejected: User "
                 "unknown")):
            r = ask(c, "RCPT TO:<%s>" % rcpt)
            t.expect(r == [want], "%s: %r" % (rcpt, r))
        t.expect(ask(c, "RCPT TO:<%s>" % ALICE) == ["250 2.1.5 Ok"],
                 "still in the transaction")
        c.close()
        t.expect(not os.path.exists(pwn), "%s was created" % pwn)
        t.expect(not set(_descendants(o.proc.pid)) - procs0, "a process")

    with t.case("A4/H6: CR LF in xtext (AUTH=, ENVID, ORCPT) and a "
                "900-octet xtext: 501 5.5.4, 500 5.5.2"):
        for mode in MODES:
            c = session(mode)
            s = sender_for(mode)
            for cmd, want in (
                    ("MAIL FROM:<%s> AUTH=x+0D+0AX-Injected:+20y" % s,
                     "501 5.5.4 Bad characters in AUTH"),
                    ("MAIL FROM:<%s> AUTH=x+0AX" % s,
                     "501 5.5.4 Bad characters in AUTH"),
                    ("MAIL FROM:<%s> AUTH=x+00" % s,
                     "501 5.5.4 Bad xtext in AUTH"),
                    ("MAIL FROM:<%s> ENVID=x+0D+0AX" % s,
                     "501 5.5.4 ENVID must be printable ASCII"),
                    ("MAIL FROM:<%s> ENVID=x+0D" % s,
                     "501 5.5.4 ENVID must be printable ASCII"),
                    ("MAIL FROM:<%s> AUTH=%s" % (s, "+41" * 300),
                     "500 5.5.2 Line too long"),
                    ("MAIL FROM:<%s> ENVID=%s" % (s, "+41" * 300),
                     "500 5.5.2 Line too long")):
                r = ask(c, cmd)
                t.expect(r == [want], "%s %s: %r" % (mode, cmd[:40], r))
            t.expect(ask(c, "MAIL FROM:<%s>" % s) == ["250 2.1.0 Ok"],
                     "%s: MAIL after the errors" % mode)
            for cmd, want in (
                    ("RCPT TO:<%s> ORCPT=rfc822;x+0D+0AX" % ALICE,
                     "501 5.5.4 Bad characters in ORCPT"),
                    ("RCPT TO:<%s> ORCPT=utf-8;x+0AX" % ALICE,
                     "501 5.5.4 Bad characters in ORCPT"),
                    ("RCPT TO:<%s> ORCPT=rfc822;%s" % (ALICE, "+41" * 300),
                     "500 5.5.2 Line too long")):
                r = ask(c, cmd)
                t.expect(r == [want], "%s %s: %r" % (mode, cmd[:40], r))
            t.expect(ask(c, "RCPT TO:<%s>" % ALICE) == ["250 2.1.5 Ok"],
                     "%s: RCPT after the errors" % mode)
            c.close()

    with t.case("A5: malformed ESMTP parameters: exact 501/553/555"):
        c = session("mx")
        for cmd, want in (
                ("MAIL FROM:<a@b.test> =", "501 5.5.4 Bad parameter syntax"),
                ("MAIL FROM:<a@b.test> =x", "501 5.5.4 Bad parameter syntax"),
                ("MAIL FROM:<a@b.test> \"\"", "501 5.5.4 Bad parameter "
                 "syntax"),
                ("MAIL FROM:<a@b.test> A=\"", "555 5.5.4 Unknown MAIL "
                 "parameter"),
                ("MAIL FROM:<a@b.test> SIZE==1", "501 5.5.4 Bad character "
                 "in parameter value"),
                ("MAIL FROM:<a@b.test> BODY=", "501 5.5.4 BODY needs a "
                 "value"),
                ("MAIL FROM:<a@b.test> SIZE=1 SIZE=1", "555 5.5.4 SIZE "
                 "given twice"),
                ("MAIL FROM:<a@b.test> " + "X-Y=z " * 80, "555 5.5.4 "
                 "Unknown MAIL parameter"),
                ("MAIL FROM:<a@b.test> SIZE=" + "9" * 400, "552 5.3.4 "
                 "Declared SIZE exceeds any limit"),
                ("MAIL FROM:<a@b.test> SIZE=" + "0" * 400 + "1", "501 5.5.4 "
                 "Bad SIZE value"),
                ("MAIL FROM:<\"a@b.test>", "553 5.1.7 Bad sender address "
                 "syntax: unterminated quoted local part"),
                ("MAIL FROM:<a@b.test", "553 5.1.7 Bad sender address "
                 "syntax: missing '>' after address"),
                ("MAIL FROM:a@b.test", "501 5.5.4 Syntax: MAIL "
                 "FROM:<address>")):
            r = ask(c, cmd)
            t.expect(r == [want], "%s: %r" % (cmd[:50], r))
        t.expect(ask(c, "MAIL FROM:<a@b.test>") == ["250 2.1.0 Ok"],
                 "MAIL after the errors")
        for cmd, want in (
                ("RCPT TO:<%s> NOTIFY=" % ALICE, "501 5.5.4 NOTIFY needs a "
                 "value"),
                ("RCPT TO:<%s> NOTIFY=NEVER,SUCCESS" % ALICE, "501 5.5.4 "
                 "NOTIFY=NEVER cannot be combined with other values"),
                ("RCPT TO:<%s> ORCPT=rfc822" % ALICE, "501 5.5.4 ORCPT needs"
                 " an address type, as in rfc822;"),
                ("RCPT TO:<%s> SIZE=1" % ALICE, "555 5.5.4 Unknown RCPT "
                 "parameter")):
            r = ask(c, cmd)
            t.expect(r == [want], "%s: %r" % (cmd[:50], r))
        c.close()
        t.expect(serves(), "a fresh client is not served")

    with t.case("A6: recipients past max-recipients (1000): 452 4.5.3, "
                "each one after"):
        # 100,001 as in the catalogue would cost smtpd ~3 KB a recipient
        # (300 MB) and a minute of lookups; the default limit of 1000
        # tests the same count, and max-recipients is capped at 100000.
        c = session("mx")
        c.sendall(b"MAIL FROM:<a@remote.test>\r\n" +
                  b"RCPT TO:<alice@example.test>\r\n" * 1003)
        r = read_lines(c, 1004, timeout=30)
        t.expect(len(r) == 1004 and r[0] == "250 2.1.0 Ok" and
                 r[1:1001] == ["250 2.1.5 Ok"] * 1000, "%d replies, %r" %
                 (len(r), sorted(set(r[1:1001]))))
        t.expect(r[1001:] == ["452 4.5.3 Too many recipients"] * 3,
                 r[1001:])
        t.expect(ask(c, "RSET") == ["250 2.0.0 Ok"], "RSET")
        c.close()

    with t.case("A6: a header of a million folded lines: 552 5.3.4, "
                "smtpd memory bounded"):
        pid = o.pid("smtpd")
        rss0 = rss_kb(pid)
        c = session("mx")
        c.sendall("MAIL FROM:<a@remote.test>\r\nRCPT TO:<%s>\r\nDATA\r\n"
                  % ALICE)
        t.expect(read_lines(c, 3)[2:] == ["354 End data with <CR><LF>."
                                          "<CR><LF>"], "354")
        c.sendall(b"Subject: x\r\n" + b" folded-line\r\n" * 1000000 +
                  b"\r\nbody\r\n.\r\n")
        r = read_lines(c, 1, timeout=60)
        t.expect(r == [TOOBIG], r)
        t.expect(ask(c, "NOOP") == ["250 2.0.0 Ok"], "NOOP after it")
        c.close()
        grow = rss_kb(pid) - rss0
        t.expect(grow < 4096 + RSS_SLACK_KB, "smtpd grew by %d kB" % grow)

    with t.case("A7: random command sequences on every listener: each "
                "answered, no crash"):
        rnd = random.Random(11)
        # No failed AUTH: each one slows the next answers down.
        steps = ["EHLO x", "HELO x", "STARTTLS", "AUTH", "AUTH LOGIN",
                 "MAIL", "RCPT", "RCPT BAD", "DATA", "BDAT",
                 "BDAT LAST", "RSET", "NOOP", "GARBAGE", "VRFY", "QUIT"]
        bad = []
        nreplies = 0
        for n in range(120):
            mode = rnd.choice(("mx", "sub", "subs"))
            port = {"mx": mx, "sub": sub, "subs": subs}[mode]
            c = Conn(port, 10, "127.0.0.99")
            if mode == "subs":
                tls_wrap(c)
            seq = []
            try:
                if not read_line(c).startswith("220 "):
                    bad.append("%d: no banner" % n)
                    continue
                for i in range(rnd.randint(3, 14)):
                    st = rnd.choice(steps)
                    seq.append(st)
                    if st == "STARTTLS":
                        r = ask(c, "STARTTLS")
                        if r == [READY]:
                            tls_wrap(c)
                    elif st == "AUTH":
                        r = ask(c, "AUTH PLAIN " + PLAIN)
                    elif st == "AUTH LOGIN":
                        r = ask(c, "AUTH LOGIN")
                        if r and r[0].startswith("334 "):
                            r = ask(c, "*")
                    elif st == "MAIL":
                        r = ask(c, "MAIL FROM:<%s>" % ALICE)
                    elif st == "RCPT":
                        r = ask(c, "RCPT TO:<%s>" % ALICE)
                    elif st == "RCPT BAD":
                        r = ask(c, "RCPT TO:<nobody@example.test>")
                    elif st == "DATA":
                        r = ask(c, "DATA")
                        if r and r[0].startswith("354"):
                            c.sendall(b"Subject: r\r\n\r\nx\r\n.\r\n")
                            r = read_lines(c, 1)
                    elif st in ("BDAT", "BDAT LAST"):
                        body = b"Subject: b\r\n\r\nyy\r\n"
                        c.sendall(b"BDAT %d%s\r\n" % (len(body), b" LAST" if
                                                       st == "BDAT LAST"
                                                       else b"") + body)
                        r = read_lines(c, 1)
                    elif st == "GARBAGE":
                        r = ask(c, b"\x16\x03\x01\x02\x00\x01")
                    elif st == "VRFY":
                        r = ask(c, "VRFY alice")
                    else:
                        r = ask(c, st)
                    nreplies += 1
                    if len(r) != 1 or not re.match(r"[2-5]\d\d [2-5]\.\d+"
                                                   r"\.\d+ |334 |354 ",
                                                   r[0]):
                        # EHLO and HELO have no enhanced status code.
                        if not (r and re.match(r"250 ", r[0]) and
                                st.startswith(("EHLO", "HELO"))):
                            bad.append("%d %s %s: %r" % (n, mode, seq, r))
                        break
                    if r[0].startswith(("221", "421")):
                        break
            except (OSError, ssl.SSLError) as e:
                bad.append("%d %s %s: %s" % (n, mode, seq, e))
            finally:
                c.close()
        t.diag("%d replies" % nreplies)
        t.expect(not bad, "\n".join(bad[:10]))
        t.expect(serves(), "a fresh client is not served")

    with t.case("A7: STARTTLS, RSET, errors and QUIT in the middle of a "
                "BDAT message: dropped or kept whole, the state reset"):
        marks = {}

        def bdat_start(c, mark):
            body = ("Subject: %s\r\n\r\n" % mark).encode()
            c.sendall(b"MAIL FROM:<a@remote.test>\r\nRCPT TO:<%s>\r\n"
                      b"BDAT %d\r\n%s" % (ALICE.encode(), len(body), body))
            return read_lines(c, 3) == ["250 2.1.0 Ok", "250 2.1.5 Ok",
                                        "250 2.0.0 %d octets received" %
                                        len(body)]

        # STARTTLS: the message is dropped, HELO and RCPT must come again.
        c = session("mx")
        marks["starttls"] = mark = "bdat-starttls-%d" % os.getpid()
        t.expect(bdat_start(c, mark), "first chunk")
        t.require(ask(c, "STARTTLS") == [READY], "STARTTLS")
        tls_wrap(c)
        c.sendall(b"BDAT 5 LAST\r\nabcde")
        t.expect(read_lines(c, 1) == ["503 5.5.1 Need RCPT before BDAT"],
                 "BDAT after STARTTLS")
        t.expect(ask(c, "MAIL FROM:<a@remote.test>") ==
                 ["503 5.5.1 Send HELO or EHLO first"], "MAIL after it")
        ehlo(c)
        t.expect(ask(c, "RCPT TO:<%s>" % ALICE) ==
                 ["503 5.5.1 Need MAIL before RCPT"], "RCPT after it")
        c.close()
        # RSET drops it.
        c = session("mx-tls")
        marks["rset"] = mark = "bdat-rset-%d" % os.getpid()
        t.expect(bdat_start(c, mark), "first chunk")
        t.expect(ask(c, "RSET") == ["250 2.0.0 Ok"], "RSET")
        c.sendall(b"BDAT 3 LAST\r\nxyz")
        t.expect(read_lines(c, 1) == ["503 5.5.1 Need RCPT before BDAT"],
                 "BDAT after RSET")
        c.close()
        # QUIT drops it.
        c = session("mx")
        marks["quit"] = mark = "bdat-quit-%d" % os.getpid()
        t.expect(bdat_start(c, mark), "first chunk")
        t.expect(ask(c, "QUIT") == ["221 2.0.0 Bye"], "QUIT")
        c.close()
        # Errors between the chunks do not touch the message.
        c = session("mx")
        keep = "bdat-kept-%d" % os.getpid()
        t.expect(bdat_start(c, keep), "first chunk")
        for cmd, want in (("DATA", "503 5.5.1 DATA after BDAT"),
                          ("MAIL FROM:<b@remote.test>", "503 5.5.1 Nested "
                           "MAIL command"),
                          ("XYZZY", "500 5.5.1 Command unrecognized"),
                          ("AUTH PLAIN " + PLAIN, "538 5.7.11 Encryption "
                           "required for requested authentication "
                           "mechanism"),
                          ("NOOP", "250 2.0.0 Ok")):
            r = ask(c, cmd)
            t.expect(r == [want], "%s: %r" % (cmd, r))
        c.sendall(b"BDAT 8 LAST\r\nsecond\r\n")
        r = read_lines(c, 1)
        t.expect(r[:1] and r[0].startswith("250 2.0.0 Ok: queued as "), r)
        # A bare LF in the last chunk, or a chunk without a size: gone.
        marks["bare"] = mark = "bdat-bare-%d" % os.getpid()
        t.expect(bdat_start(c, mark), "first chunk")
        c.sendall(b"BDAT 7 LAST\r\nsecond\n")
        t.expect(read_lines(c, 1) == [BARE], "bare LF in the last chunk")
        marks["nosize"] = mark = "bdat-nosize-%d" % os.getpid()
        t.expect(bdat_start(c, mark), "first chunk")
        r = ask(c, "BDAT x", 2)
        t.expect(r == ["501 5.5.4 Syntax: BDAT size [LAST]", "421 4.5.0 %s "
                       "Bad BDAT command; closing" % HOST], r)
        t.expect(closed(c), "not closed")
        c.close()
        t.expect(wait_until(lambda: [x for x in all_raw() if keep.encode()
                                     in x], 10), "the message kept whole")
        time.sleep(0.5)
        for why, mark in marks.items():
            t.expect(not [x for x in all_raw() if mark.encode() in x],
                     "%s: a dropped message was delivered" % why)
        kept = [x for x in all_raw() if keep.encode() in x]
        t.expect(len(kept) == 1 and kept[0].endswith(b"\n\nsecond\n"),
                 "kept: %r" % [k[-60:] for k in kept])

    with t.case("A9: EHLO of 64 KB: 500 5.5.2 and the session closed, "
                "memory unchanged; a command of 513-1000 octets gets 500 "
                "5.5.2 and the session goes on"):
        pid = o.pid("smtpd")
        rss0 = rss_kb(pid)
        for mode in MODES:
            c = session(mode)
            r = ask(c, "EHLO " + "x" * 65536 + "\r\nNOOP", n=2)
            t.expect(r == ["500 5.5.2 Line too long; closing"],
                     "%s: %r" % (mode, r))
            t.expect(closed(c), "%s: closed after the long line" % mode)
            c.close()
            c = session(mode)
            r = ask(c, "EHLO " + "x" * 900)
            t.expect(r == ["500 5.5.2 Line too long"], "%s: %r" % (mode, r))
            r = ask(c, "EHLO " + "y" * 300)
            t.expect(r == ["501 5.5.4 Host name longer than 255 bytes"],
                     "%s: %r" % (mode, r))
            t.expect(ask(c, "NOOP") == ["250 2.0.0 Ok"], "%s: NOOP" % mode)
            c.close()
        grow = rss_kb(pid) - rss0
        t.expect(grow < 2048 + RSS_SLACK_KB, "smtpd grew by %d kB" % grow)

    with t.case("A10: UTF-8 in MAIL, RCPT and VRFY without SMTPUTF8, then "
                "DATA: 553 5.6.7, 554 5.5.1"):
        c = session("mx")
        r = ask(c, "MAIL FROM:<δ@remote.test>")
        t.expect(r == ["553 5.6.7 Non-ASCII sender address needs SMTPUTF8"],
                 r)
        t.expect(ask(c, "DATA") == ["503 5.5.1 Need RCPT before DATA"],
                 "DATA without MAIL")
        t.expect(ask(c, "MAIL FROM:<a@remote.test>") == ["250 2.1.0 Ok"],
                 "ASCII MAIL")
        r = ask(c, "RCPT TO:<δ@example.test>")
        t.expect(r == ["553 5.6.7 Non-ASCII recipient address needs "
                       "SMTPUTF8"], r)
        r = ask(c, "VRFY δ")
        t.expect(r == ["252 2.5.2 Cannot VRFY user, but will accept message"
                       " and attempt delivery"], r)
        t.expect(ask(c, "DATA") == ["554 5.5.1 No valid recipients"],
                 "DATA without a recipient")
        t.expect(ask(c, "BDAT 3 LAST", 1, timeout=0.5) == [],
                 "no reply before the chunk")
        c.sendall(b"abc")
        t.expect(read_lines(c, 1) == ["503 5.5.1 No valid recipients"],
                 "BDAT without a recipient")
        t.expect(ask(c, "RCPT TO:<%s>" % ALICE, timeout=1) ==
                 ["503 5.5.1 Need MAIL before RCPT"], "the transaction ended")
        c.close()
        t.expect(serves(), "a fresh client is not served")

    with t.case("A11: degenerate addresses: 553 5.1.3, no crash"):
        c = session("mx")
        ask(c, "MAIL FROM:<a@remote.test>")
        for rcpt, why in (
                ('<""@example.test>', "empty quoted local part"),
                ("<@>", "missing domain"), ("<a@>", "missing domain"),
                ("<@a>", "empty local part"),
                ("<" + '"' * 255 + ">", "empty quoted local part"),
                ("<" + '"\\"' * 80 + '"@example.test>', None),
                ("<" + "a" * 200 + "@example.test>", "local part longer "
                 "than 128 bytes"),
                ("<a@" + "b" * 64 + ".test>", "domain label longer than 63 "
                 "bytes"),
                ("<\x7f@example.test>", None)):
            r = ask(c, "RCPT TO:" + rcpt)
            if why:
                t.expect(r == ["553 5.1.3 Bad recipient address syntax: "
                               + why], "%s: %r" % (rcpt[:40], r))
            else:
                t.expect(len(r) == 1 and r[0][:9] in ("553 5.1.3",
                                                     "500 5.5.2"),
                         "%s: %r" % (rcpt[:40], r))
        r = ask(c, "RCPT TO:<@a:b@c>")
        t.expect(r == ["554 5.7.1 <b@c>: Relay access denied"], r)
        t.expect(ask(c, "RCPT TO:<%s>" % ALICE) == ["250 2.1.5 Ok"],
                 "a good recipient after them")
        c.close()
        t.expect(serves(), "a fresh client is not served")

    with t.case("H1: open-relay address tricks on every listener, "
                "unauthenticated and after a failed AUTH: refused"):
        tricks = [
            ("u%ext.test@example.test", "550 5.1.1 <u%ext.test@example."
             "test>: Recipient address rejected: User unknown"),
            ("ext.test!u@example.test", "550 5.1.1 <ext.test!u@example."
             "test>: Recipient address rejected: User unknown"),
            ('"u@ext.test"@example.test', '550 5.1.1 <"u@ext.test"@'
             'example.test>: Recipient address rejected: User unknown'),
            ('"u%ext.test"@example.test', "550 5.1.1 <u%ext.test@example."
             "test>: Recipient address rejected: User unknown"),
            ("@example.test:u@ext.test", "554 5.7.1 <u@ext.test>: Relay "
             "access denied"),
            ("@example.test,@ext.test:u@ext.test", "554 5.7.1 <u@ext.test>:"
             " Relay access denied"),
            ("u@ext.test@example.test", "553 5.1.3 Bad recipient address "
             "syntax: more than one @ in address"),
            ("u\\@ext.test@example.test", "553 5.1.3 Bad recipient address "
             "syntax: invalid character in local part"),
            ("u@[192.0.2.1]", "554 5.7.1 <u@[192.0.2.1]>: Relay access "
             "denied"),
            ("u@[127.0.0.1]", "554 5.7.1 <u@[127.0.0.1]>: Relay access "
             "denied"),
            ("u@[IPv6:::1]", "554 5.7.1 <u@[ipv6:::1]>: Relay access "
             "denied"),
            ("u@ext.test.", "553 5.1.3 Bad recipient address syntax: "
             "trailing dot in domain"),
            ("u@EXT.test", "554 5.7.1 <u@ext.test>: Relay access denied"),
            ("u@localhost", "554 5.7.1 <u@localhost>: Relay access denied"),
            ("alice@example.test.ext.test", "554 5.7.1 <alice@example.test."
             "ext.test>: Relay access denied"),
        ]
        c = session("mx")
        ask(c, "MAIL FROM:<a@remote.test>")
        for rcpt, want in tricks:
            r = ask(c, "RCPT TO:<%s>" % rcpt)
            t.expect(r == [want], "mx %s: %r" % (rcpt, r))
        # No recipient left: DATA cannot start.
        t.expect(ask(c, "DATA") == ["554 5.5.1 No valid recipients"], "DATA")
        c.close()
        # After STARTTLS on the MX port AUTH does not exist; after that
        # failure the same tricks are refused in the same way.
        c = session("mx-tls", source="127.0.0.61")
        r = ask(c, "AUTH PLAIN " + PLAIN)
        t.expect(r == ["502 5.5.1 AUTH is not available here"], r)
        ask(c, "MAIL FROM:<a@remote.test>")
        for rcpt, want in tricks[:8]:
            r = ask(c, "RCPT TO:<%s>" % rcpt)
            t.expect(r == [want], "mx-tls %s: %r" % (rcpt, r))
        c.close()
        # On submission nothing before a successful AUTH: MAIL is 530.
        for k, mode in enumerate(("sub", "subs")):
            src = "127.0.0.%d" % (62 + k)
            c = session(mode, source=src, auth=False)
            r = ask(c, "MAIL FROM:<a@remote.test>")
            t.expect(r == ["530 5.7.0 Authentication required"], r)
            r = ask(c, "AUTH PLAIN " + base64.b64encode(
                b"\0alice@example.test\0wrong").decode(), timeout=20)
            t.expect(r == ["535 5.7.8 Authentication credentials invalid"],
                     "%s: %r" % (mode, r))
            for rcpt, _ in tricks[:3] + tricks[4:5]:
                r = ask(c, "MAIL FROM:<%s>" % ALICE)
                t.expect(r == ["530 5.7.0 Authentication required"],
                         "%s after a failed AUTH: %r" % (mode, r))
                r = ask(c, "RCPT TO:<%s>" % rcpt)
                t.expect(r == ["503 5.5.1 Need MAIL before RCPT"],
                         "%s %s: %r" % (mode, rcpt, r))
            c.close()
        # An authenticated user relays, but the tricks do not route: the
        # local part is not an address.
        c = session("sub")
        ask(c, "MAIL FROM:<%s>" % ALICE)
        for rcpt, want in tricks[:4]:
            r = ask(c, "RCPT TO:<%s>" % rcpt)
            t.expect(r == [want], "sub (authenticated) %s: %r" % (rcpt, r))
        c.close()
        time.sleep(0.5)
        t.expect(opensink.connections == 0 and not opensink.messages,
                 "the smarthost got %d connections" % opensink.connections)

    with t.case("H6: CR, LF, NUL and 8-bit in HELO, MAIL, RCPT and AUTH "
                "identities: 500/501/553/535"):
        crlf = "500 5.5.2 Bare CR or LF in a command; lines end with CRLF"
        nul = "500 5.5.2 NUL byte in a command"
        for mode in MODES:
            c = session(mode)
            s = sender_for(mode).encode()
            for line, want in (
                    (b"EHLO a\rX-Injected: 1", crlf),
                    (b"HELO a\nX-Injected: 1", crlf + "|500 5.5.2 Command "
                     "must be followed by a space"),
                    (b"EHLO a\x00X-Injected:1", nul),
                    (b"HELO \xc3\xa4.test", "501 5.5.4 Host name must be "
                     "ASCII"),
                    (b"EHLO a\x1bb", "500 5.5.2 Control character in "
                     "command line"),
                    (b"MAIL FROM:<a\r@remote.test>", crlf),
                    (b"MAIL FROM:<a@remote.test>\x00 AUTH=<>", nul),
                    (b"MAIL FROM:<\"a\x00b\"@remote.test>", nul),
                    (b"MAIL FROM:<\xc3\xa4@remote.test>", "553 5.6.7 "
                     "Non-ASCII sender address needs SMTPUTF8"),
                    (b"MAIL FROM:<" + s + b">", "250 2.1.0 Ok"),
                    (b"RCPT TO:<alice@example.test\r>", crlf),
                    (b"RCPT TO:<alice@example.test>\x00<bob@example.test>",
                     nul),
                    (b"RCPT TO:<alice@\xc3\xa4.test>", "553 5.6.7 "
                     "Non-ASCII recipient address needs SMTPUTF8"),
                    (b"RSET", "250 2.0.0 Ok")):
                want = want.split("|")
                r = ask(c, line, len(want))
                t.expect(r == want, "%s %r: %r" % (mode, line, r))
            c.close()
        # AUTH identities with CR LF: refused, and the log stays one
        # line per event.
        for k, ident in enumerate((b"alice@example.test\r\nX-Injected: 1",
                                   b"alice@example.test\nauthd: auth ok")):
            c = session("sub", source="127.0.0.%d" % (71 + k), auth=False)
            r = ask(c, b"AUTH PLAIN " + base64.b64encode(
                b"\0" + ident + b"\0alice-pw"), timeout=20)
            t.expect(r == ["535 5.7.8 Authentication credentials invalid"],
                     "%r: %r" % (ident, r))
            r = ask(c, b"AUTH PLAIN " + base64.b64encode(
                ident + b"\0alice@example.test\0alice-pw"), timeout=20)
            t.expect(r == ["535 5.7.8 Authentication credentials invalid"],
                     "authzid %r: %r" % (ident, r))
            c.close()
        t.expect(not re.search(r"^(X-Injected|authd: auth ok)", o.log(),
                               re.M), "a log line was injected")

    with t.case("H6: what is accepted is kept escaped in Received and "
                "Return-Path"):
        c = session("mx", helo="x(evil)[1.2.3.4]")
        mid = message_id()
        odd = '"x\\"y z`$(id)"@remote.test'
        t.expect(ask(c, "MAIL FROM:<%s> ENVID=a+2B+3Db" % odd) ==
                 ["250 2.1.0 Ok"], "MAIL")
        t.expect(ask(c, "RCPT TO:<%s> ORCPT=rfc822;Alice+2B+3D@example.test"
                     % ALICE) == ["250 2.1.5 Ok"], "RCPT")
        t.expect(ask(c, "DATA") == ["354 End data with <CR><LF>.<CR><LF>"],
                 "DATA")
        c.sendall(make_message("x@remote.test", ALICE, mid) + b".\r\n")
        t.expect(read_lines(c, 1)[0].startswith("250 2.0.0 Ok: queued"),
                 "queued")
        c.close()
        m = box.wait_for("alice", mid)
        t.require(m is not None, "not delivered")
        t.expect(m["Return-Path"] == "<%s>" % odd, m["Return-Path"])
        rec = " ".join(m.get_all("Received")[0].split())
        t.expect(rec.startswith("from x(evil)[1.2.3.4] ([127.0.0.1]) by "
                                "mail.example.test (osms) with ESMTP id "),
                 rec)
        names = [k.lower() for k in m.keys()]
        t.expect(set(names) <= {"return-path", "delivered-to", "received",
                                "x-virus-scanned", "authentication-results",
                                "from", "to", "subject", "message-id",
                                "date"}, names)
        raw = box.raw_bytes("alice", mid)
        head = raw.split(b"\n\n", 1)[0]
        t.expect(b"\r" not in head and b"\0" not in head, "raw header bytes")

    with t.case("H6: text that begins with white space cannot extend the "
                "Received field; it is all body (DATA and BDAT)"):
        for verb in ("DATA", "BDAT"):
            token = "folded-%d" % random.randrange(1 << 30)
            text = ("\tby trusted.example (%s) with ESMTP;\r\n"
                    "Subject: x\r\n\r\nbody\r\n" % token).encode()
            c = session("mx")
            for cmd, want in (("MAIL FROM:<x@remote.test>", "250 2.1.0 Ok"),
                              ("RCPT TO:<%s>" % ALICE, "250 2.1.5 Ok")):
                t.expect(ask(c, cmd) == [want], "%s: %s" % (verb, cmd))
            if verb == "DATA":
                t.expect(ask(c, "DATA") == ["354 End data with "
                                            "<CR><LF>.<CR><LF>"], "DATA")
                c.sendall(text + b".\r\n")
            else:
                c.sendall(b"BDAT %d LAST\r\n" % len(text) + text)
            r = read_lines(c, 1)
            t.expect(r and r[0].startswith("250 2.0.0 Ok: queued"),
                     "%s: %r" % (verb, r))
            c.close()
            raw = b""
            deadline = time.monotonic() + 15
            while not raw and time.monotonic() < deadline:
                raw = next((m for _, m in box.messages("alice")
                            if token.encode() in m), b"")
                time.sleep(0.05)
            t.require(raw, "%s: not delivered" % verb)
            m = email.message_from_bytes(raw, policy=email.policy.compat32)
            t.expect(token not in str(m.get_all("Received")), "%s: %s"
                     % (verb, m.get_all("Received")))
            t.expect(("\n\n\tby trusted.example (%s)" % token).encode()
                     in raw, "%s: %r" % (verb, raw[:600]))

    with t.case("E5: each SMTP limit answers its documented code and logs "
                "why"):
        c = session("mx")
        for text, want, err in (
                (b"Subject: x\r\n\r\n" + b"l" * 1000 + b"\r\n",
                 "500 5.5.2 Message refused: a line is longer than 1000 "
                 "octets", "0x2"),
                (b"Received: from x\r\n" * 100 + b"Subject: x\r\n\r\nx\r\n",
                 "554 5.4.6 Too many hops: 101 Received fields (a mail "
                 "loop?)", "0x80"),
                (b"Subject: x\r\n\r\na\x00b\r\n", NUL, "0x8")):
            c.sendall("MAIL FROM:<a@remote.test>\r\nRCPT TO:<%s>\r\nDATA"
                      "\r\n" % ALICE)
            t.expect(read_codes(c, 3) == [250, 250, 354], "DATA")
            c.sendall(text + b".\r\n")
            r = read_lines(c, 1)
            t.expect(r == [want], r)
            t.expect(wait_log(o, r"smtpd message refused from=127\.0\.0\.1 "
                              r"id=[0-9a-f]{16} size=\d+ errors=%s" % err),
                     "no log line for %s" % err)
        # The line limit counts the CRLF, in DATA and in BDAT alike.
        for size, want in ((998, None), (999, "500 5.5.2 Message refused: "
                                         "a line is longer than 1000 "
                                         "octets")):
            for how in ("DATA", "BDAT"):
                mid = message_id()
                text = make_message("a@remote.test", ALICE, mid,
                                    body="l" * size + "\r\n")
                c.sendall("MAIL FROM:<a@remote.test>\r\nRCPT TO:<%s>\r\n"
                          % ALICE)
                if how == "DATA":
                    c.sendall(b"DATA\r\n")
                    t.expect(read_codes(c, 3) == [250, 250, 354], "DATA")
                    c.sendall(text + b".\r\n")
                else:
                    c.sendall(b"BDAT %d LAST\r\n" % len(text) + text)
                    read_lines(c, 2)
                r = read_lines(c, 1)
                if want is None:
                    t.expect(r[:1] and r[0].startswith("250 2.0.0 Ok: "
                                                       "queued as "),
                             "%s, %d octets: %r" % (how, size + 2, r))
                else:
                    t.expect(r == [want], "%s, %d octets: %r" % (
                        how, size + 2, r))
        c.close()
        # The 20th error ends the session.
        c = session("mx")
        c.sendall(b"XYZZY\r\n" * 25)
        r = read_lines(c, 21)
        t.expect(r == ["500 5.5.1 Command unrecognized"] * 20 +
                 ["421 4.7.0 %s Too many errors" % HOST], r[-3:])
        t.expect(closed(c), "not closed after 421")
        c.close()

    with t.case("the open-relay sink got nothing, no role restarted, a "
                "client is served"):
        assert_untouched(t, o, roles0, opensink)
        for port in (mx, sub, subs):
            t.expect(serves(port), "%d: not served" % port)

opensink.close()
t.done()

