#!/usr/bin/env python3
"""STARTTLS and TLS attacks on SMTP (shared/SECURITY.md rows C1-C6; section
4 starttls-injection, plaintext-auth and tls-floor for SMTP): commands
injected behind STARTTLS in the same segment, in their own segment and
glued to the ClientHello; STARTTLS twice; what the handshake resets; AUTH
before TLS; old protocol versions, weak suites, renegotiation and
compression on every TLS port; memory under a spray of SNI names.

One osmsd: the MX listener (STARTTLS), submission on 587 (STARTTLS
required) and implicit TLS on 465. Every probe asserts the exact answer
and that a fresh client is served afterwards. IMAP and POP3 are in
test_attack_imap.py.
"""
import base64
import os
import random
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from osmstest import *  # noqa: E402,F401,F403
from mailtest import *  # noqa: E402,F401,F403
from attacktest import *  # noqa: E402,F401,F403

t = Tests(__file__)


def s_client(port, *args, starttls=True, data=b""):
    """openssl s_client against a port: (returncode, stdout, stderr)."""
    argv = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port]
    if starttls:
        argv += ["-starttls", "smtp"]
    p = subprocess.run(argv + list(args), input=data, capture_output=True,
                       timeout=30)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


def s_client_reneg(port, starttls=True):
    """s_client over TLS 1.2 asks to renegotiate ("R"). Its input stays
    open until it exits (the refusal ends it), so that the end of its
    input cannot end it before the server's answer comes."""
    argv = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
            "-tls1_2"] + (["-starttls", "smtp"] if starttls else [])
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    p.stdin.write(b"R\n")
    p.stdin.flush()
    try:
        p.wait(15)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    out, err = p.stdout.read(), p.stderr.read()
    for f in (p.stdin, p.stdout, p.stderr):
        f.close()
    return (p.returncode, out.decode("utf-8", "replace"),
            err.decode("utf-8", "replace"))


with Osms() as o:
    a = Attack(o)
    mx, sub, subs, box, serves = a.mx, a.sub, a.subs, a.box, a.serves
    PORTS = ((mx, True, "mx"), (sub, True, "submission"),
             (subs, False, "submissions"))

    with t.case("C1/C2: STARTTLS and a command in the same segment: 554 "
                "5.5.1, closed, on the MX port and 587"):
        for port in (mx, sub):
            for greet in (True, False):
                for inj in (b"RSET\r\n", b"MAIL FROM:<x@remote.test>\r\n",
                            b"AUTH PLAIN " + PLAIN.encode() + b"\r\n",
                            b"EHLO evil.test\r\n", b"\r\n"):
                    c = connect(port)
                    if greet:
                        ehlo(c)
                    c.sendall(b"STARTTLS\r\n" + inj)
                    data, shut = raw_until_close(c)
                    c.close()
                    t.expect(data == INJECTED.encode() + b"\r\n" and shut,
                             "%d %r: %r closed=%s" % (port, inj, data, shut))
        t.expect(wait_log(o, r"smtpd from=127\.0\.0\.1 sent data after "
                          r"STARTTLS; closing"), "not logged")
        t.expect(serves(mx) and serves(sub), "not served afterwards")

    with t.case("C1/C2: a command in its own segment right after STARTTLS "
                "is never answered"):
        seen = {"refused": 0, "tls failed": 0}
        for port in (mx, sub):
            for i in range(15):
                c = connect(port)
                ehlo(c)
                c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                c.sock.sendall(b"STARTTLS\r\n")
                c.sock.sendall(b"RSET\r\n")
                data, shut = raw_until_close(c)
                c.close()
                # Either the RSET came in before STARTTLS was read (the
                # session ends), or after it: then it is the first
                # bytes of the handshake, which fails. Never a 250.
                if data == INJECTED.encode() + b"\r\n":
                    seen["refused"] += 1
                elif data.startswith(READY.encode() + b"\r\n") and \
                        b"250" not in data:
                    seen["tls failed"] += 1
                else:
                    t.expect(False, "%d: %r" % (port, data[:200]))
                t.expect(shut, "%d: not closed: %r" % (port, data[:200]))
        t.diag("outcomes: %r" % seen)
        t.expect(serves(mx) and serves(sub), "not served afterwards")

    with t.case("C1/C2: a command glued to the ClientHello is never "
                "answered; the handshake fails"):
        for port in (mx, sub, subs):
            for glue in ("before", "after"):
                c = Conn(port, 10)
                if port != subs:
                    t.require(read_line(c).startswith("220 "), "banner")
                    ehlo(c)
                    t.require(ask(c, "STARTTLS") == [READY], "STARTTLS")
                hello = client_hello()
                inj = b"EHLO evil.test\r\nMAIL FROM:<x@remote.test>\r\n"
                c.sock.sendall(inj + hello if glue == "before" else
                               hello + inj)
                data, shut = raw_until_close(c)
                c.close()
                t.expect(shut, "%d %s: not closed" % (port, glue))
                t.expect(b"250" not in data and b"220 " not in data,
                         "%d %s: answered: %r" % (port, glue, data[:200]))
        for port in (mx, sub, subs):
            t.expect(serves(port), "%d: not served afterwards" % port)

    with t.case("C3: STARTTLS twice, after AUTH, on 465 and with an "
                "argument: 503 5.5.1 / 501 5.5.4"):
        c = connect(mx)
        ehlo(c)
        t.expect(ask(c, "STARTTLS now") == ["501 5.5.4 STARTTLS takes no "
                                            "argument"], "argument")
        t.require(ask(c, "STARTTLS") == [READY], "STARTTLS")
        tls_wrap(c)
        ehlo(c)
        t.expect(ask(c, "STARTTLS") == ["503 5.5.1 Already using TLS"],
                 "second STARTTLS on the MX port")
        t.expect(ask(c, "NOOP") == ["250 2.0.0 Ok"], "NOOP after it")
        c.close()
        c = connect(sub)
        ehlo(c)
        t.require(ask(c, "STARTTLS") == [READY], "STARTTLS")
        tls_wrap(c)
        ehlo(c)
        t.expect(ask(c, "AUTH PLAIN " + PLAIN) ==
                 ["235 2.7.0 Authentication successful"], "AUTH")
        t.expect(ask(c, "STARTTLS") == ["503 5.5.1 Already using TLS"],
                 "STARTTLS after AUTH")
        t.expect(ask(c, "MAIL FROM:<alice@example.test>") ==
                 ["250 2.1.0 Ok"], "still authenticated")
        c.close()
        c = Conn(subs, 10)
        tls_wrap(c)
        read_line(c)
        t.expect("STARTTLS" not in ehlo(c), "STARTTLS offered on 465")
        t.expect(ask(c, "STARTTLS") == ["503 5.5.1 Already using TLS"],
                 "STARTTLS on 465")
        t.expect(ask(c, "NOOP") == ["250 2.0.0 Ok"], "NOOP after it")
        c.close()

    with t.case("C3: the handshake resets HELO, the transaction and the "
                "capability list"):
        for port in (mx, sub):
            c = connect(port)
            before = ehlo(c, "before.test")
            t.expect("STARTTLS" in before and "AUTH" not in before and
                     "REQUIRETLS" not in before, "%d before: %r" %
                     (port, before))
            if port == mx:
                t.expect(ask(c, "MAIL FROM:<a@remote.test>") ==
                         ["250 2.1.0 Ok"], "MAIL before TLS")
            t.require(ask(c, "STARTTLS") == [READY], "STARTTLS")
            tls_wrap(c)
            t.expect(ask(c, "RCPT TO:<alice@example.test>") ==
                     ["503 5.5.1 Need MAIL before RCPT"], "%d: the "
                     "transaction survived STARTTLS" % port)
            t.expect(ask(c, "MAIL FROM:<a@remote.test>") ==
                     ["503 5.5.1 Send HELO or EHLO first"], "%d: the "
                     "EHLO survived STARTTLS" % port)
            after = ehlo(c, "after.test")
            t.expect("STARTTLS" not in after and "REQUIRETLS" in after,
                     "%d after: %r" % (port, after))
            t.expect(("AUTH" in after) == (port == sub), "%d after: %r" %
                     (port, after))
            if port == mx:
                mid = message_id()
                c.sendall("MAIL FROM:<a@remote.test>\r\nRCPT TO:<alice@"
                          "example.test>\r\nDATA\r\n")
                t.expect(read_codes(c, 3) == [250, 250, 354], "DATA")
                c.sendall(make_message("a@remote.test", "alice@example.test",
                                       mid) + b".\r\n")
                t.expect(read_lines(c, 1)[0].startswith("250 2.0.0 Ok"),
                         "queued")
                m = box.wait_for("alice", mid)
                t.require(m is not None, "not delivered")
                rec = " ".join(m["Received"].split())
                t.expect(rec.startswith("from after.test ([127.0.0.1]) by "
                                        "mail.example.test (osms) with "
                                        "ESMTPS id "), rec)
            c.close()

    with t.case("C4: no AUTH before TLS on 587 and on the MX port: 538 "
                "5.7.11 for every mechanism, nothing reaches authd"):
        nauth = o.log().count("authd: auth")
        for port in (sub, mx):
            c = connect(port)
            caps = ehlo(c)
            t.expect("AUTH" not in caps, "%d: AUTH offered in clear" % port)
            for args in ("PLAIN " + PLAIN, "PLAIN", "LOGIN",
                         "LOGIN " + base64.b64encode(b"alice").decode(),
                         "SCRAM-SHA-256", "CRAM-MD5", "XOAUTH2 xx=="):
                r = ask(c, "AUTH " + args)
                t.expect(r == ["538 5.7.11 Encryption required for "
                               "requested authentication mechanism"],
                         "%d AUTH %s: %r" % (port, args[:20], r))
            if port == sub:
                t.expect(ask(c, "MAIL FROM:<alice@example.test>") ==
                         ["530 5.7.0 Must issue a STARTTLS command first"],
                         "MAIL in clear on 587")
            c.close()
        time.sleep(0.5)
        t.expect(o.log().count("authd: auth") == nauth,
                 "a plaintext AUTH reached authd")
        c = connect(mx)
        ehlo(c)
        ask(c, "STARTTLS")
        tls_wrap(c)
        ehlo(c)
        t.expect(ask(c, "AUTH PLAIN " + PLAIN) ==
                 ["502 5.5.1 AUTH is not available here"], "AUTH on MX")
        c.close()

    with t.case("C5: TLS 1.0 and 1.1 refused on every TLS port"):
        for port, starttls, name in PORTS:
            for ver in ("-tls1", "-tls1_1"):
                rc, out, err = s_client(port, ver, "-cipher",
                                        "DEFAULT:@SECLEVEL=0",
                                        starttls=starttls)
                t.expect(rc != 0 and "alert protocol version" in err,
                         "%s %s: rc %d %s" % (name, ver, rc, err[-300:]))
            rc, out, err = s_client(port, "-tls1_2", starttls=starttls)
            t.expect(rc == 0 and "New, TLSv1.2, Cipher is ECDHE-" in out,
                     "%s TLS 1.2: %s" % (name, err[-300:]))
            rc, out, err = s_client(port, "-tls1_3", starttls=starttls)
            t.expect(rc == 0 and "New, TLSv1.3, Cipher is TLS_" in out,
                     "%s TLS 1.3: %s" % (name, err[-300:]))

    with t.case("C5: weak cipher suites refused; TLS 1.2 gets ECDHE with "
                "an AEAD"):
        weak = ("ECDHE-ECDSA-NULL-SHA:NULL-SHA256:AECDH-NULL-SHA:"
                "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:AES128-SHA:"
                "AES256-SHA256:ECDHE-ECDSA-AES128-SHA256:DES-CBC3-SHA:"
                "@SECLEVEL=0")
        for port, starttls, name in PORTS:
            rc, out, err = s_client(port, "-tls1_2", "-cipher", weak,
                                    starttls=starttls)
            t.expect(rc != 0 and "alert handshake failure" in err,
                     "%s: rc %d %s" % (name, rc, err[-300:]))
        ctx = insecure_ctx()
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers("ALL:@SECLEVEL=0")
        c = Conn(subs, 10)
        c.sock = ctx.wrap_socket(c.sock, server_hostname="localhost")
        name, ver, bits = c.sock.cipher()
        c.close()
        t.expect(ver == "TLSv1.2" and name.startswith("ECDHE-") and
                 ("GCM" in name or "CHACHA20" in name),
                 "negotiated %s %s" % (ver, name))
        for port in (mx, sub, subs):
            t.expect(serves(port), "%d: not served afterwards" % port)

    with t.case("C5: client-initiated renegotiation refused; no "
                "compression"):
        for port, starttls, name in PORTS:
            rc, out, err = s_client_reneg(port, starttls)
            t.expect("RENEGOTIATING" in out + err and "no renegotiation" in
                     err, "%s: %s" % (name, (out + err)[-400:]))
            t.expect("Compression: NONE" in out, "%s: compression" % name)
            t.expect(serves(port), "%s: not served afterwards" % name)

    with t.case("C6: 1000 handshakes with random SNI names on 465: smtpd "
                "memory flat"):
        rnd = random.Random(6)
        letters = "abcdefghijklmnopqrstuvwxyz0123456789-"

        def spray(n):
            for _ in range(n):
                labels = ["x" + "".join(rnd.choice(letters) for _ in
                                        range(rnd.randint(1, 60)))
                          for _ in range(rnd.randint(1, 4))]
                c = socket.create_connection(("127.0.0.1", subs), timeout=10)
                try:
                    s = CTX.wrap_socket(c, server_hostname=".".join(labels)
                                        + ".test")
                    s.close()
                except (ssl.SSLError, OSError):
                    c.close()
                    return False
            return True

        pid = o.pid("smtpd")
        t.require(spray(200), "a handshake failed")
        time.sleep(0.5)
        rss0 = rss_kb(pid)
        t0 = time.monotonic()
        t.require(spray(1000), "a handshake failed")
        t.diag("1000 handshakes in %.1f s" % (time.monotonic() - t0))
        time.sleep(0.5)
        rss1 = rss_kb(pid)
        t.diag("smtpd RSS %d kB -> %d kB" % (rss0, rss1))
        t.expect(rss1 <= rss0 * 1.05 + RSS_SLACK_KB,
                 "smtpd grew from %d to %d kB" %
                 (rss0, rss1))
        t.expect(o.pid("smtpd") == pid and serves(subs), "smtpd changed")

t.done()
