#!/usr/bin/env python3
"""SMTP in: real clients hand mail to osmsd, and it lands in the Maildir.

Covers the MX and submission listeners, STARTTLS and implicit TLS,
PIPELINING, 8BITMIME, SMTPUTF8, BDAT, SIZE, recipient policy, the strict
line rules (smuggling, bare LF, STARTTLS injection, long lines, garbage)
and the session limits.
"""
import email
import os
import smtplib
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from osmstest import *  # noqa: E402,F401,F403
from mailtest import *  # noqa: E402,F401,F403

t = Tests(__file__)

ROLES = 'smtpd {\n\tmax-recipients 5\n\ttimeout 3\n}\n'
UTF8_USER = "jörg@example.test"

with Osms(roles_conf=ROLES, start=False) as o:
    users = dict(USERS)
    users[UTF8_USER] = "joerg-pw"
    o.write_users(users)
    o.start()
    mx, sub, subs = o.ports["smtp"], o.ports["submission"], \
        o.ports["submissions"]
    box = Mailboxes(o)

    with t.case("smtplib: plain SMTP delivers into the Maildir"):
        mid = send(mx, "sender@remote.test", ["alice@example.test"],
                   body="hello alice\r\n.leading dot\r\n")
        m = box.wait_for("alice", mid)
        t.require(m is not None, "delivered")
        t.expect(m["Return-Path"] == "<sender@remote.test>", m["Return-Path"])
        t.expect(m["Delivered-To"] == "alice@example.test",
                 m["Delivered-To"])
        rec = m["Received"]
        t.expect(rec is not None and "by mail.example.test (osms) with"
                 " ESMTP id" in " ".join(rec.split()), rec)
        body = m.get_payload()
        t.expect("hello alice\n.leading dot\n" in body, repr(body))
        t.expect("\r" not in box.raw("alice", mid), "stored with LF")

    with t.case("smtplib: STARTTLS, and the trace names the cipher"):
        c = smtplib.SMTP("127.0.0.1", mx, timeout=10)
        c.ehlo("client.test")
        t.expect(c.has_extn("starttls"), "STARTTLS offered")
        t.expect(not c.has_extn("requiretls"), "REQUIRETLS only in TLS")
        c.starttls(context=insecure_ctx())
        c.ehlo("client.test")
        t.expect(not c.has_extn("starttls"), "no STARTTLS inside TLS")
        t.expect(c.has_extn("requiretls"), "REQUIRETLS inside TLS")
        mid = message_id()
        c.sendmail("a@remote.test", ["bob@example.test"],
                   make_message("a@remote.test", "bob@example.test", mid))
        c.quit()
        m = box.wait_for("bob", mid)
        t.require(m is not None, "delivered")
        rec = " ".join(m["Received"].split())
        t.expect("ESMTPS" in rec and "TLSv1.3 cipher TLS_" in rec, rec)

    with t.case("implicit TLS on 465: TLS first, then submission rules"):
        c = smtplib.SMTP_SSL("127.0.0.1", subs, timeout=10,
                             context=insecure_ctx())
        code, _ = c.ehlo("client.test")
        t.expect(code == 250, "EHLO over TLS")
        t.expect(not c.has_extn("starttls"), "no STARTTLS on 465")
        code, msg = c.docmd("MAIL FROM:<alice@example.test>")
        t.expect(code == 530 and b"5.7.0" in msg,
                 "MAIL without AUTH: %d %s" % (code, msg))
        c.quit()

    with t.case("submission on 587: STARTTLS first, AUTH before MAIL"):
        c = smtplib.SMTP("127.0.0.1", sub, timeout=10)
        c.ehlo("client.test")
        code, msg = c.docmd("MAIL FROM:<alice@example.test>")
        t.expect(code == 530 and b"STARTTLS" in msg, "%d %s" % (code, msg))
        code, msg = c.docmd("AUTH PLAIN AGFsaWNlAGFsaWNlLXB3")
        t.expect(code == 538, "AUTH before TLS: %d %s" % (code, msg))
        c.starttls(context=insecure_ctx())
        c.ehlo("client.test")
        code, msg = c.docmd("MAIL FROM:<alice@example.test>")
        t.expect(code == 530 and b"Authentication" in msg,
                 "%d %s" % (code, msg))
        c.quit()

    with t.case("swaks delivers, with and without STARTTLS"):
        for extra in ([], ["--tls"]):
            mid = message_id()
            p = subprocess.run(
                ["swaks", "--server", "127.0.0.1:%d" % mx, "--from",
                 "s@remote.test", "--to", "bob@example.test",
                 "--header", "Message-Id: %s" % mid, "--body",
                 "swaks body"] + extra,
                capture_output=True, text=True, timeout=30)
            t.expect(p.returncode == 0 and "queued as" in p.stdout,
                     p.stdout[-500:])
            t.expect(box.wait_for("bob", mid) is not None,
                     "delivered %s" % extra)

    with t.case("curl delivers over smtp://"):
        mid = message_id()
        path = o.path("curl.eml")
        with open(path, "wb") as f:
            f.write(make_message("c@remote.test", "alice@example.test",
                                 mid))
        p = subprocess.run(
            ["curl", "-sS", "smtp://127.0.0.1:%d" % mx, "--mail-from",
             "c@remote.test", "--mail-rcpt", "alice@example.test",
             "--upload-file", path], capture_output=True, text=True,
            timeout=30)
        t.expect(p.returncode == 0, p.stderr)
        t.expect(box.wait_for("alice", mid) is not None, "delivered")

    with t.case("openssl s_client -starttls smtp delivers"):
        mid = message_id()
        script = ("EHLO client.test\r\nMAIL FROM:<o@remote.test>\r\n"
                  "RCPT TO:<alice@example.test>\r\nDATA\r\n")
        body = make_message("o@remote.test", "alice@example.test",
                            mid).decode() + ".\r\n"
        p = subprocess.Popen(
            ["openssl", "s_client", "-quiet", "-crlf", "-starttls", "smtp",
             "-connect", "127.0.0.1:%d" % mx], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # s_client -crlf turns LF into CRLF: send LF-only text.
        text = (script + body).replace("\r\n", "\n") + "QUIT\n"
        p.stdin.write(text[:len(script.replace("\r\n", "\n"))].encode())
        p.stdin.flush()
        time.sleep(1)
        p.stdin.write(text[len(script.replace("\r\n", "\n")):].encode())
        p.stdin.close()
        out = p.stdout.read().decode(errors="replace")
        p.wait(20)
        t.expect("queued as" in out, out[-400:])
        t.expect(box.wait_for("alice", mid) is not None, "delivered")

    with t.case("PIPELINING: a whole transaction in one write"):
        mid = message_id()
        data = (b"EHLO client.test\r\nMAIL FROM:<p@remote.test>\r\n"
                b"RCPT TO:<alice@example.test>\r\n"
                b"RCPT TO:<nobody@example.test>\r\n"
                b"RCPT TO:<bob@example.test>\r\nDATA\r\n")
        s = connect(mx)
        s.sendall(data)
        codes = read_codes(s, 6)
        t.expect(codes == [250, 250, 250, 550, 250, 354], codes)
        s.sendall(make_message("p@remote.test", "alice@example.test", mid)
                  + b".\r\nQUIT\r\n")
        codes = read_codes(s, 2)
        t.expect(codes == [250, 221], codes)
        s.close()
        t.expect(box.wait_for("alice", mid) is not None, "alice got it")
        t.expect(box.wait_for("bob", mid) is not None, "bob got it")

    with t.case("8BITMIME: an 8-bit body arrives byte for byte"):
        mid = message_id()
        body = "Grüße aus Köln, ½ € — ✓\r\n".encode()
        msg = (b"From: a@remote.test\r\nTo: alice@example.test\r\n"
               b"Message-ID: " + mid.encode() + b"\r\nSubject: 8bit\r\n"
               b"MIME-Version: 1.0\r\nContent-Type: text/plain;"
               b" charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
               + body)
        c = smtplib.SMTP("127.0.0.1", mx, timeout=10)
        c.sendmail("a@remote.test", ["alice@example.test"], msg,
                   mail_options=["BODY=8BITMIME"])
        c.quit()
        t.require(box.wait_for("alice", mid) is not None, "delivered")
        t.expect(body.replace(b"\r\n", b"\n") in
                 box.raw_bytes("alice", mid), "8-bit body intact")

    with t.case("SMTPUTF8: a UTF-8 local part is delivered intact"):
        mid = message_id()
        msg = ("From: ö@remote.test\r\nTo: %s\r\nMessage-ID: %s\r\n"
               "Subject: utf8\r\n\r\nhi\r\n" % (UTF8_USER, mid)).encode()
        s = connect(mx)
        s.sendall(b"EHLO client.test\r\n")
        read_codes(s, 1)
        s.sendall("MAIL FROM:<ö@remote.test> SMTPUTF8\r\nRCPT TO:<%s>\r\n"
                  "DATA\r\n" % UTF8_USER)
        codes = read_codes(s, 3)
        t.expect(codes == [250, 250, 354], codes)
        s.sendall(msg + b".\r\nQUIT\r\n")
        t.expect(read_codes(s, 2) == [250, 221], "queued")
        s.close()
        m = box.wait_for(UTF8_USER.split("@")[0], mid)
        t.require(m is not None, "delivered to %s" % UTF8_USER)
        raw = box.raw_bytes(UTF8_USER.split("@")[0], mid)
        t.expect(("Delivered-To: %s" % UTF8_USER).encode() in raw, raw[:300])
        t.expect(b"UTF8SMTP" in raw, "trace says UTF8SMTP")
        # Without SMTPUTF8 the same address is refused.
        s = connect(mx)
        s.sendall("EHLO c\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<%s>\r\n"
                  % UTF8_USER)
        codes = read_codes(s, 3)
        t.expect(codes[2] == 553, codes)
        s.close()

    with t.case("BDAT in several chunks, and BDAT 0 LAST"):
        mid = message_id()
        msg = make_message("b@remote.test", "bob@example.test", mid)
        chunks = [msg[:10], msg[10:50], msg[50:]]
        s = connect(mx)
        out = (b"EHLO c\r\nMAIL FROM:<b@remote.test>\r\n"
               b"RCPT TO:<bob@example.test>\r\n")
        for c in chunks:
            out += b"BDAT %d\r\n" % len(c) + c
        out += b"BDAT 0 LAST\r\nQUIT\r\n"
        s.sendall(out)
        codes = read_codes(s, 8)
        t.expect(codes == [250, 250, 250, 250, 250, 250, 250, 221], codes)
        s.close()
        t.require(box.wait_for("bob", mid) is not None, "delivered")
        t.expect(msg.replace(b"\r\n", b"\n") in box.raw_bytes("bob", mid),
                 "content intact")

    with t.case("BDAT without recipients: the chunk is read and refused"):
        s = connect(mx)
        s.sendall(b"EHLO c\r\nBDAT 6 LAST\r\nRCPT\r\nNOOP\r\n")
        codes = read_codes(s, 3)
        t.expect(codes == [250, 503, 250], codes)
        s.close()

    with t.case("SIZE: declared too large 552, sent too large 552"):
        s = connect(mx)
        s.sendall(b"EHLO c\r\nMAIL FROM:<a@remote.test> SIZE=999999999\r\n")
        codes = read_codes(s, 2)
        t.expect(codes == [250, 552], codes)
        mid = message_id()
        s.sendall(b"MAIL FROM:<a@remote.test>\r\n"
                  b"RCPT TO:<alice@example.test>\r\nDATA\r\n")
        t.expect(read_codes(s, 3) == [250, 250, 354], "in DATA")
        big = make_message("a@remote.test", "alice@example.test", mid,
                           body=("x" * 998 + "\r\n") * 11000)
        s.sendall(big + b".\r\n")
        line = read_line(s)
        t.expect(line.startswith("552 5.3.4"), line)
        s.close()
        time.sleep(0.5)
        t.expect(box.find("alice", mid) is None, "not delivered")

    with t.case("recipient policy: unknown 550, relay 554, alias, case"):
        s = connect(mx)
        s.sendall(b"EHLO c\r\nMAIL FROM:<a@remote.test>\r\n"
                  b"RCPT TO:<nobody@example.test>\r\n"
                  b"RCPT TO:<x@elsewhere.test>\r\n"
                  b"RCPT TO:<user%elsewhere.test@example.test>\r\n"
                  b"RCPT TO:<\"x@elsewhere.test\"@example.test>\r\n"
                  b"RCPT TO:<@relay.test:x@elsewhere.test>\r\n"
                  b"RCPT TO:<Postmaster>\r\n")
        lines = read_lines(s, 8)
        codes = [int(x[:3]) for x in lines]
        t.expect(codes[2] == 550 and "5.1.1" in lines[2], lines[2])
        t.expect(codes[3] == 554 and "5.7.1" in lines[3], lines[3])
        t.expect(codes[4] == 550, "percent hack: %s" % lines[4])
        t.expect(codes[5] == 550, "quoted @: %s" % lines[5])
        t.expect(codes[6] == 554, "source route: %s" % lines[6])
        t.expect(codes[7] == 250, "Postmaster: %s" % lines[7])
        mid = message_id()
        s.sendall(b"RCPT TO:<PostMaster@EXAMPLE.test>\r\nDATA\r\n")
        t.expect(read_codes(s, 2) == [250, 354], "alias in any case")
        s.sendall(make_message("a@remote.test", "postmaster@example.test",
                               mid) + b".\r\nQUIT\r\n")
        t.expect(read_codes(s, 2) == [250, 221], "queued")
        s.close()
        m = box.wait_for("alice", mid)
        t.expect(m is not None, "postmaster reaches alice")
        t.expect(m is not None and m["Delivered-To"] ==
                 "alice@example.test", "final recipient named")

    with t.case("too many recipients: 452 4.5.3 after the limit"):
        s = connect(mx)
        rc = b"".join(b"RCPT TO:<alice@example.test>\r\n" for _ in range(6))
        s.sendall(b"EHLO c\r\nMAIL FROM:<a@remote.test>\r\n" + rc)
        codes = read_codes(s, 8)
        t.expect(codes == [250, 250] + [250] * 5 + [452], codes)
        s.close()

    with t.case("smuggling: no end-of-data variant splits a message"):
        endings = [b"\n.\n", b"\r.\r", b"\n.\r\n", b"\r.\n", b"\r\n.\n",
                   b"\r\n.\r", b"\n.\r", b"\r\n\x00.\r\n", b".\n",
                   b"\r\n.\r\r\n"]
        for n, end in enumerate(endings):
            mid = message_id()
            smuggled = message_id()
            s = connect(mx)
            s.sendall(b"EHLO c\r\nMAIL FROM:<a@remote.test>\r\n"
                      b"RCPT TO:<alice@example.test>\r\nDATA\r\n")
            read_codes(s, 4)
            s.sendall(make_message("a@remote.test", "alice@example.test",
                                   mid).rstrip(b"\r\n") + end +
                      b"MAIL FROM:<evil@remote.test>\r\n"
                      b"RCPT TO:<bob@example.test>\r\nDATA\r\n" +
                      make_message("evil@remote.test", "bob@example.test",
                                   smuggled) + b".\r\nQUIT\r\n")
            # Every reply until the server closes: the text must end
            # once, at the real CRLF.CRLF, refused; no second
            # transaction may start.
            replies = []
            while True:
                line = read_line(s, timeout=5)
                if line == "":
                    break
                replies.append(line)
            s.close()
            t.expect(replies[:1] and replies[0].startswith("554 5.6.0"),
                     "ending %d %r: %s" % (n, end, replies))
            t.expect(not any(r.startswith("354") for r in replies),
                     "ending %d %r started a second message: %s" %
                     (n, end, replies))
        time.sleep(1)
        t.expect(box.count_from("bob", "evil@remote.test") == 0,
                 "a smuggled message reached bob")

    with t.case("bare LF in a command is refused"):
        s = connect(mx)
        s.sendall(b"EHLO c\nNOOP\r\n")
        lines = read_lines(s, 2)
        t.expect(lines[0].startswith("500 5.5.2") and
                 lines[1].startswith("250"), lines)
        s.close()

    with t.case("STARTTLS injection: pipelined plaintext ends the session"):
        for port in (mx, sub):
            s = connect(port)
            s.sendall(b"EHLO c\r\n")
            read_codes(s, 1)
            s.sendall(b"STARTTLS\r\nMAIL FROM:<x@remote.test>\r\n")
            line = read_line(s)
            t.expect(line.startswith("554 5.5.1"), line)
            t.expect(s.recv(100) == b"", "closed")
            s.close()

    with t.case("long lines: a 600-octet command gets 500, a line of 64 KB "
                "500 and the end of the session"):
        s = connect(mx)
        s.sendall(b"NOOP " + b"x" * 600 + b"\r\nNOOP\r\n")
        codes = read_codes(s, 2)
        t.expect(codes == [500, 250], codes)
        s.sendall(b"y" * 65536 + b"\r\nNOOP\r\n")
        lines = read_lines(s, 2, timeout=30)
        t.expect(lines == ["500 5.5.2 Line too long; closing"], lines)
        s.close()
        rss = rss_kb(o.pid("smtpd"))
        t.expect(rss < 64 * 1024, "smtpd RSS %d kB" % rss)

    with t.case("binary garbage: errors, then 421, others still served"):
        s = connect(mx)
        # Lines of 200 octets: errors, none longer than a text line.
        s.sendall(b"\r\n".join(os.urandom(200).replace(b"\n", b"\r\n")
                                for _ in range(1000)))
        got = b""
        s.settimeout(10)
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                got += b
        except (socket.timeout, ConnectionResetError):
            pass
        s.close()
        t.expect(b"421 4.7.0" in got, got[-200:])
        t.expect(smtp_banner(mx).startswith("220 "), "a new client served")

    with t.case("VRFY 252, EXPN 502, HELP 214, NOOP, RSET"):
        s = connect(mx)
        s.sendall(b"EHLO c\r\nVRFY alice\r\nEXPN team\r\nHELP\r\n"
                  b"NOOP\r\nRSET\r\nQUIT\r\n")
        codes = read_codes(s, 7)
        t.expect(codes == [250, 252, 502, 214, 250, 250, 221], codes)
        s.close()

    with t.case("an idle client is cut with 421 4.4.2"):
        s = connect(mx)
        s.settimeout(10)
        line = read_line(s, timeout=10)
        t.expect(line.startswith("421 4.4.2"), line)
        s.close()

    with t.case("the log has one line per session and per message"):
        log = o.log()
        t.expect(" smtpd connect from=127.0.0.1 listener=smtp/" in log,
                 "connect line")
        t.expect("result=queued" in log and " smtpd disconnect from=" in
                 log, "message and disconnect lines")
        t.expect("status=delivered mailbox=example.test/alice" in log,
                 "delivery line")

t.done()
