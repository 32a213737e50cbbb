#!/usr/bin/env python3
"""Outbound delivery through a smarthost: the mta role, the queue's
retries and bounces, TLS policies, AUTH, DKIM, 8BITMIME downgrade,
REQUIRETLS, loops, and a killed mta.

A real osmsd relays mail that alice submits (AUTH on 587) to a
scriptable SMTP server on loopback (smtpsink.py) configured as its
smarthost; DKIM signatures are checked by dkimpy (python3-dkim, run by
Debian's Python) with the record `osmsctl dkim keygen` printed.
"""
import base64
import email
import os
import re
import signal
import smtplib
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from osmstest import *  # noqa: E402,F401,F403
from mailtest import *  # noqa: E402,F401,F403
from smtpsink import Sink, DEFAULT_EXT  # noqa: E402

t = Tests(__file__)
def queue_ids(o):
    p = o.ctl("queue", "list")
    return re.findall(r"^([0-9a-f]{16}) ", p.stdout, re.M)


def sink_find(sink, mid):
    return [m for m in sink.messages if mid.encode() in m.data]


def fresh_sessions():
    """Sessions idle for 5 s are closed: later ones say EHLO anew."""
    time.sleep(6)


def relay_conf(sink, extra=""):
    return 'relay host 127.0.0.1 port %d tls none%s\n' % (sink.port, extra)


sink = Sink()
wd = None
with Osms(start=False) as o:
    box = Mailboxes(o)
    # A DKIM key for example.test, made by osmsctl; its record for dkimpy.
    keyfile = o.path("dkim.key")
    p = subprocess.run([os.path.join(BUILD, "osmsctl"), "dkim", "keygen",
                        "example.test", "s2026", keyfile],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    record = o.write_file("dkim.txt", p.stdout.decode())
    srs_secret = o.write_file("srs.secret", "0123456789abcdef-srs-test\n",
                              0o600)
    base = relay_conf(sink) + 'dkim domain "example.test" selector "s2026"' \
        ' key "%s"\nsrs domain "example.test" secret "%s"\n' % (
            keyfile, srs_secret)
    o.write_conf(o.make_conf(base, 'queue {\n\tmax-retry-interval 1m\n}'))
    o.start()

    with t.case("a submitted message goes to the smarthost, DKIM-signed"):
        t.require(p.returncode == 0, "keygen: %r" % p.stderr)
        mid = submit(o.ports["submission"], ["carol@remote.test", "dave@remote.test"])
        t.require(sink.wait(1), "nothing reached the smarthost")
        got = sink_find(sink, mid)
        t.expect(len(got) == 1, "copies: %d" % len(got))
        m = got[0]
        t.expect(m.mail_from == "alice@example.test", m.mail_from)
        t.expect(sorted(m.rcpts) == ["carol@remote.test",
                                     "dave@remote.test"],
                 "one transaction for both: %r" % (m.rcpts,))
        t.expect(m.data.startswith(b"DKIM-Signature: v=1; a=rsa-sha256;"),
                 m.data[:80])
        t.expect(b"d=example.test" in m.data and b"s=s2026" in m.data,
                 "d= and s=")
        path = o.write_file("got.eml", "")
        with open(path, "wb") as f:
            f.write(m.data)
        v = dkim_verify(path, record)
        t.expect(v == "PASS", "dkimpy: %s" % v)
        t.expect(wait_until(lambda: not queue_ids(o)), "still queued")
        t.expect(wait_log(o, r"to=<dave@remote.test> status=sent "
                          r"relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d tls=none"
                          % sink.port), "the log names relay and TLS")

    with t.case("messages in a row share one connection"):
        before = sink.connections
        n0 = len(sink.messages)
        mids = [submit(o.ports["submission"], ["erin@remote.test"]) for _ in range(3)]
        t.require(sink.wait(n0 + 3), "not all arrived")
        # The first case's session may still be open: then none new.
        t.expect(sink.connections - before <= 1, "connections: %d" %
                 (sink.connections - before))
        t.expect(all(len(sink_find(sink, x)) == 1 for x in mids),
                 "each once")

    with t.case("a reused session the server ends: a new one, no delay"):
        for how in ("close_after", "busy_second"):
            setattr(sink, how, True)
            n0 = len(sink.messages)
            mids = [submit(o.ports["submission"], ["gone@remote.test"])
                    for _ in range(3)]
            ok = sink.wait(n0 + 3, 15)
            setattr(sink, how, False)
            t.expect(ok, "%s: not all delivered at once" % how)
            t.expect(all(len(sink_find(sink, x)) == 1 for x in mids),
                     "%s: each once" % how)
        t.expect(not re.search(r"to=<gone@remote.test> status=deferred",
                               o.log()), "deferred")

    with t.case("a 4xx for one recipient: the others go, it is retried"):
        sink.rcpt_reply["slow@remote.test"] = "450 4.2.1 mailbox busy"
        n0 = len(sink.messages)
        mid = submit(o.ports["submission"], ["slow@remote.test", "fast@remote.test"])
        t.require(sink.wait(n0 + 1), "fast did not arrive")
        t.expect(sink.messages[-1].rcpts == ["fast@remote.test"],
                 repr(sink.messages[-1].rcpts))
        ids = wait_until(lambda: queue_ids(o))
        t.require(len(ids) == 1, "queued: %r" % ids)
        show = o.ctl("queue", "show", ids[0]).stdout
        t.expect(re.search(r"<slow@remote.test> pending \(outbound\) "
                           r"attempts=1 next=\S+ error=450 4\.2\.1", show),
                 show)
        del sink.rcpt_reply["slow@remote.test"]
        o.ctl("queue", "schedule", ids[0])
        t.expect(sink.wait(n0 + 2), "the retry did not arrive")
        t.expect(sink.messages[-1].rcpts == ["slow@remote.test"],
                 repr(sink.messages[-1].rcpts))
        t.expect(wait_until(lambda: not queue_ids(o)), "still queued")
        t.expect(len(sink_find(sink, mid)) == 2, "two copies, one each")

    with t.case("a 5xx: a DSN to the sender with the original headers"):
        sink.rcpt_reply["nobody@remote.test"] = \
            "550 5.1.1 <nobody@remote.test>: no such user"
        mid = submit(o.ports["submission"], ["nobody@remote.test"])
        dsns = wait_until(lambda: box.dsns("alice", mid))
        del sink.rcpt_reply["nobody@remote.test"]
        t.require(dsns, "no DSN in alice's Maildir")
        d = dsns[0]
        t.expect(d.get_content_type() == "multipart/report", "type")
        parts = d.get_payload()
        status = parts[1].as_string()
        t.expect("Action: failed" in status, status)
        t.expect("Status: 5.1.1" in status, status)
        t.expect("Final-Recipient: rfc822; nobody@remote.test" in status or
                 "Final-Recipient: rfc822;nobody@remote.test" in status,
                 status)
        t.expect("550 5.1.1" in status, "the remote reply: " + status)
        t.expect(mid in parts[2].as_string(), "the original headers")
        t.expect(wait_until(lambda: not queue_ids(o)), "still queued")

    with t.case("a 4xx after DATA defers every recipient"):
        sink.data_reply = "451 4.3.0 try again"
        n0 = len(sink.messages)
        mid = submit(o.ports["submission"], ["x1@remote.test", "x2@remote.test"])
        ids = wait_until(lambda: queue_ids(o))
        t.require(ids, "not queued")
        t.expect(wait_log(o, r"to=<x2@remote.test> status=deferred.*451 "
                          r"4\.3\.0"), "deferred with the reply")
        sink.data_reply = None
        o.ctl("queue", "schedule", ids[0])
        t.expect(sink.wait(n0 + 1), "not delivered after the retry")
        t.expect(sorted(sink.messages[-1].rcpts) == ["x1@remote.test",
                                                     "x2@remote.test"],
                 repr(sink.messages[-1].rcpts))

    with t.case("a loop: more than 100 Received fields are refused"):
        c = smtplib.SMTP("127.0.0.1", o.ports["smtp"], timeout=20)
        c.ehlo("loop.test")
        data = ("".join("Received: from hop%d.test by hop%d.test;"
                        " Thu, 26 Nov 2026 04:00:00 +0000\r\n" % (i, i + 1)
                        for i in range(101)) +
                "From: x@loop.test\r\nSubject: loop\r\n\r\nround\r\n")
        try:
            c.sendmail("x@loop.test", ["alice@example.test"], data)
            code, msg = 250, b""
        except smtplib.SMTPDataError as e:
            code, msg = e.smtp_code, e.smtp_error
        c.close()
        t.expect(code == 554 and b"5.4.6" in msg, "%d %r" % (code, msg))

    with t.case("SMTPUTF8 to a smarthost without it bounces (5.6.7)"):
        sink.ext = [x for x in DEFAULT_EXT if x != "SMTPUTF8"]
        fresh_sessions()
        mid = message_id()
        raw = ("From: <alice@example.test>\r\nTo: <j\u00f6rg@remote.test>\r\n"
               "Subject: utf8\r\nMessage-ID: %s\r\n\r\nhi\r\n" % mid
               ).encode()
        submit(o.ports["submission"], ["j\u00f6rg@remote.test"], raw=raw,
               options=("SMTPUTF8", "BODY=8BITMIME"))
        dsns = wait_until(lambda: box.dsns("alice", mid))
        sink.ext = list(DEFAULT_EXT)
        t.require(dsns, "no DSN")
        t.expect("5.6.7" in dsns[0].get_payload()[1].as_string(),
                 dsns[0].get_payload()[1].as_string())

    with t.case("8BITMIME downgrade to quoted-printable for a 7bit peer"):
        sink.ext = [x for x in DEFAULT_EXT if x != "8BITMIME"]
        fresh_sessions()
        n0 = len(sink.messages)
        mid = message_id()
        raw = ("From: <alice@example.test>\r\nTo: <f@remote.test>\r\n"
               "Subject: 8bit\r\nMessage-ID: %s\r\nMIME-Version: 1.0\r\n"
               "Content-Type: text/plain; charset=utf-8\r\n"
               "Content-Transfer-Encoding: 8bit\r\n\r\n"
               "Gr\u00fc\u00dfe aus K\u00f6ln = Cologne\r\n" % mid).encode()
        submit(o.ports["submission"], ["f@remote.test"], raw=raw, options=("BODY=8BITMIME",))
        ok = sink.wait(n0 + 1)
        sink.ext = list(DEFAULT_EXT)
        fresh_sessions()
        t.require(ok, "not delivered")
        m = sink.messages[-1]
        t.expect("BODY=8BITMIME" not in m.mail_params, m.mail_params)
        t.expect(all(b < 0x80 for b in m.data), "8-bit bytes remain")
        parsed = email.message_from_bytes(m.data)
        t.expect(parsed["Content-Transfer-Encoding"] == "quoted-printable",
                 parsed["Content-Transfer-Encoding"])
        t.expect(parsed.get_payload(decode=True).decode("utf-8") ==
                 "Gr\u00fc\u00dfe aus K\u00f6ln = Cologne\r\n",
                 repr(parsed.get_payload(decode=True)))

    with t.case("REQUIRETLS without verified TLS bounces (5.7.30)"):
        mid = submit(o.ports["submission"], ["secret@remote.test"], options=("REQUIRETLS",))
        dsns = wait_until(lambda: box.dsns("alice", mid))
        t.require(dsns, "no DSN")
        t.expect("5.7.30" in dsns[0].get_payload()[1].as_string(),
                 dsns[0].get_payload()[1].as_string())
        t.expect(not sink_find(sink, mid), "it was sent in the clear")

    with t.case("SRS: a forward gets an SRS sender, its bounce goes back"):
        o.write_file("aliases", "postmaster@example.test alice@example.test"
                     "\nfwd@example.test far@remote.test\n", 0o600)
        o.ctl("reload")
        time.sleep(0.5)
        n0 = len(sink.messages)
        mid = send(o.ports["smtp"], "x@sender.test", ["fwd@example.test"])
        t.require(sink.wait(n0 + 1), "the forward did not arrive")
        m = sink.messages[-1]
        t.expect(m.rcpts == ["far@remote.test"], repr(m.rcpts))
        t.expect(re.match(r"SRS0=[^=]{4}=[^=]{2}=sender\.test=x"
                          r"@example\.test$", m.mail_from, re.I),
                 m.mail_from)
        t.expect(not m.data.startswith(b"DKIM-Signature"),
                 "a stranger's mail was signed")
        # The far end bounces to the SRS address: it goes back to x.
        c = smtplib.SMTP("127.0.0.1", o.ports["smtp"], timeout=20)
        c.ehlo("remote.test")
        c.sendmail("", [m.mail_from], make_message(
            "MAILER-DAEMON@remote.test", m.mail_from, message_id()))
        c.quit()
        t.expect(sink.wait(n0 + 2), "the bounce did not go back")
        b = sink.messages[-1]
        t.expect(b.rcpts == ["x@sender.test"] and b.mail_from == "",
                 "%r from <%s>" % (b.rcpts, b.mail_from))
        # A forward the far end refuses: our DSN goes to the sender.
        sink.rcpt_reply["far@remote.test"] = "550 5.1.1 no such user"
        n1 = len(sink.messages)
        mid2 = send(o.ports["smtp"], "y@sender.test", ["fwd@example.test"])
        ok = sink.wait(n1 + 1)
        del sink.rcpt_reply["far@remote.test"]
        t.require(ok, "no DSN went out")
        d = sink.messages[-1]
        t.expect(d.mail_from == "" and d.rcpts == ["y@sender.test"],
                 "%r from <%s>" % (d.rcpts, d.mail_from))
        t.expect(b"multipart/report" in d.data and mid2.encode() in d.data
                 and b"550 5.1.1" in d.data, "not a DSN about it")
        # A forged one (bad hash) is refused.
        forged = re.sub(r"^SRS0=[^=]{4}=", "SRS0=abcd=", m.mail_from)
        c = smtplib.SMTP("127.0.0.1", o.ports["smtp"], timeout=20)
        c.ehlo("remote.test")
        c.mail("")
        code, _ = c.rcpt(forged)
        c.quit()
        t.expect(code == 550, "forged SRS: %d" % code)

    with t.case("kill -9 of the mta during DATA loses nothing, sends once"):
        sink.hold = True
        n0 = len(sink.messages)
        mid = submit(o.ports["submission"], ["held@remote.test"])
        t.require(wait_until(lambda: sink.holding, 20), "never held")
        old = o.pid("mta")
        os.kill(old, signal.SIGKILL)
        t.expect(wait_until(lambda: o.pid("mta") not in (0, old, None)),
                 "the mta did not come back")
        sink.hold = False
        sink.release()
        ids = wait_until(lambda: queue_ids(o))
        t.require(ids, "the message left the queue")
        t.expect(wait_until(lambda: o.pid("mta") and
                            "ready" in o.ctl("status").stdout), "ready")
        o.ctl("queue", "schedule", ids[0])
        t.expect(sink.wait(n0 + 1), "not delivered after the restart")
        time.sleep(0.5)
        t.expect(len(sink_find(sink, mid)) == 1,
                 "copies: %d" % len(sink_find(sink, mid)))
        t.expect(wait_until(lambda: not queue_ids(o)), "still queued")

    # TLS: a second sink that speaks STARTTLS with the test certificate.
    tsink = Sink(cert=o.tls["cert"], key=o.tls["key"])

    def use(extra, roles=""):
        o.write_conf(o.make_conf(extra, roles))
        o.ctl("reload")
        time.sleep(0.5)

    with t.case("opportunistic TLS by default"):
        use('relay host 127.0.0.1 port %d\n' % tsink.port)
        mid = submit(o.ports["submission"], ["t1@remote.test"])
        t.require(tsink.wait(1), "not delivered")
        t.expect(tsink.messages[0].tls, "sent in the clear")
        t.expect(wait_log(o, r"to=<t1@remote.test> status=sent \S+ "
                          r"tls=TLSv1\.[23]/\S+ verified=no"),
                 "the log shows TLS")

    with t.case("tls verify: an unknown CA defers, the right one passes"):
        use('relay host 127.0.0.1 port %d tls verify\n' % tsink.port)
        n0 = len(tsink.messages)
        mid = submit(o.ports["submission"], ["t2@remote.test"])
        t.expect(wait_log(o, r"to=<t2@remote.test> status=deferred.*"
                          r"does not verify"), "not deferred")
        t.expect(len(tsink.messages) == n0, "delivered unverified")
        use('relay host 127.0.0.1 port %d tls verify\n' % tsink.port,
            'mta {\n\tca-file "%s"\n}' % o.tls["ca"])
        ids = queue_ids(o)
        t.require(ids, "not queued")
        o.ctl("queue", "schedule", ids[0])
        t.expect(tsink.wait(n0 + 1), "not delivered with the right CA")
        t.expect(wait_log(o, r"to=<t2@remote.test> status=sent .*"
                          r"verified=pkix"), "not verified in the log")

    with t.case("tls require: a smarthost without STARTTLS defers"):
        use('relay host 127.0.0.1 port %d tls require\n' % sink.port)
        n0 = len(sink.messages)
        submit(o.ports["submission"], ["t3@remote.test"])
        t.expect(wait_log(o, r"to=<t3@remote.test> status=deferred.*"
                          r"STARTTLS is not offered"), "not deferred")
        t.expect(len(sink.messages) == n0, "sent in the clear")
        for i in queue_ids(o):
            o.ctl("queue", "remove", i)

    with t.case("AUTH to the smarthost; a wrong password defers"):
        asink = Sink(cert=o.tls["cert"], key=o.tls["key"],
                     auth=("relayuser", "s3cret pass"))
        secret = o.write_file("relay.secret", "s3cret pass\n", 0o600)
        use('relay host 127.0.0.1 port %d tls require auth "relayuser" '
            'secret "%s"\n' % (asink.port, secret))
        mid = submit(o.ports["submission"], ["a1@remote.test"])
        t.require(asink.wait(1), "not delivered")
        t.expect(asink.messages[0].auth == "relayuser", "no AUTH")
        t.expect(asink.messages[0].tls, "AUTH in the clear")
        # Once the session is closed, the mta holds none of it.
        time.sleep(6)
        pid = o.pid("mta")
        plain = base64.b64encode(b"\0relayuser\0s3cret pass")
        t.expect(not memory_has(pid, b"s3cret pass"),
                 "the mta's memory holds the password")
        t.expect(not memory_has(pid, plain),
                 "the mta's memory holds the AUTH PLAIN string")
        o.write_file("relay.secret", "wrong\n", 0o600)
        time.sleep(6)   # the authenticated session is no longer reused
        use('relay host 127.0.0.1 port %d tls require auth "relayuser" '
            'secret "%s"\n' % (asink.port, secret))
        submit(o.ports["submission"], ["a2@remote.test"])
        t.expect(wait_log(o, r"to=<a2@remote.test> status=deferred.*AUTH: "
                          r"535"), "not deferred")
        t.expect(len(asink.messages) == 1, "delivered without AUTH")
        asink.close()

    with t.case("a relay deferred past delay-warning: a 'delayed' DSN"):
        sink.rcpt_reply["late@remote.test"] = "451 4.4.0 come back later"
        use(relay_conf(sink), 'queue {\n\tdelay-warning 2s\n}')
        mid = submit(o.ports["submission"], ["late@remote.test"])
        dsns = wait_until(lambda: box.dsns("alice", mid), 30)
        t.require(dsns, "no DSN")
        st = dsns[0].get_payload()[1].as_string()
        t.expect("Action: delayed" in st and "Status: 4.4.0" in st and
                 "451 4.4.0 come back later" in st, st)
        t.expect(queue_ids(o), "the message left the queue")
        del sink.rcpt_reply["late@remote.test"]
        for i in queue_ids(o):
            o.ctl("queue", "schedule", i)
        t.expect(wait_until(lambda: not queue_ids(o)), "not delivered")

    tsink.close()
sink.close()
t.done()
