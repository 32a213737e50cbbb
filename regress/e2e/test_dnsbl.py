#!/usr/bin/env python3
"""DNS block and allow lists (checkd), asked at connect, each list at
once: a client whose weighted score reaches the threshold gets 550 5.7.1
at RCPT naming the list; an allow list's negative weight lets a listed
client through; 127.255.255.x answers (a list refusing to answer) count
for nothing; an authenticated client is never blocked. With
dnsbl-action score, nothing is blocked and the client's score is added
to each message's spam score.

Runs in a network namespace of its own (clients from 192.0.2.0/24 on
its lo), the lists served by the test DNS server.
"""
import os
import smtplib
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import netns  # noqa: E402

netns.enter()
from osmstest import *  # noqa: E402,F401,F403
from mailtest import *  # noqa: E402,F401,F403
from dnstest import DnsServer  # noqa: E402

t = Tests(__file__)
for i in range(10, 15):
    subprocess.run(["ip", "addr", "add", "192.0.2.%d/32" % i, "dev", "lo"],
                   check=True)


def rcpt(port, source):
    return smtp_rcpt(port, "x@remote.test", source=source)


with Osms(start=False) as o:
    box = Mailboxes(o)
    dns = DnsServer(o.path("dns"), {
        "bl.test": [("10.2.0.192", "A", "127.0.0.2"),
                    ("11.2.0.192", "A", "127.0.0.4")],
        "wl.test": [("11.2.0.192", "A", "127.0.0.2")],
        "refuse.test": [("12.2.0.192", "A", "127.255.255.254")],
    })
    dns.start()
    o.write_conf(o.make_conf(
        'mta {\n\tresolver "127.0.0.1@%d"\n\ttrust-anchor "%s"\n}'
        % (dns.port, dns.trust_anchor_file),
        'checkd {\n\tenable yes\n\tspf no\n\tdkim no\n\tdmarc no\n'
        '\tdnsbl "bl.test:10 wl.test:-20 refuse.test:10"\n'
        '\tdnsbl-threshold 10\n}'))
    o.start()
    mx = o.ports["smtp"]

    with t.case("a listed client: 550 5.7.1 at RCPT, naming the list"):
        code, text = rcpt(mx, "192.0.2.10")
        t.expect(code == 550 and b"5.7.1" in text and b"bl.test" in text,
                 "%d %r" % (code, text))
        t.expect(wait_log(o, r"dnsbl from=192\.0\.2\.10 score=10 blocked "
                          r"lists=bl\.test\(10\)"), "no log line")
        asked = [q[0] for q in dns.queries()]
        for lst in ("bl.test", "wl.test", "refuse.test"):
            t.expect("10.2.0.192.%s" % lst in asked, "%s not asked" % lst)

    with t.case("listed, but on the allow list too: accepted"):
        code, text = rcpt(mx, "192.0.2.11")
        t.expect(code == 250, "%d %r" % (code, text))
        t.expect(wait_log(o, r"dnsbl from=192\.0\.2\.11 score=-10 lists="),
                 "no log line")

    with t.case("a list's 127.255.255.x answer is no listing"):
        code, text = rcpt(mx, "192.0.2.12")
        t.expect(code == 250, "%d %r" % (code, text))

    with t.case("an unlisted client's mail is delivered"):
        mid = message_id()
        data = ("From: x@remote.test\r\nTo: alice@example.test\r\n"
                "Subject: hi\r\nMessage-ID: %s\r\n\r\nhi\r\n" % mid).encode()
        code, text = smtp_data(mx, "x@remote.test", data, source="192.0.2.13")
        t.expect(code == 250, "%d %r" % (code, text))
        t.expect(box.wait_for("alice", mid) is not None, "not delivered")

    with t.case("an authenticated client is never blocked"):
        c = smtplib.SMTP("127.0.0.1", o.ports["submission"], timeout=30,
                         source_address=("192.0.2.10", 0))
        try:
            c.ehlo("client")
            c.starttls(context=insecure_ctx())
            c.ehlo("client")
            c.login("alice@example.test", "alice-pw")
            c.mail("alice@example.test")
            code, text = c.rcpt("bob@example.test")
        finally:
            c.close()
        t.expect(code == 250, "%d %r" % (code, text))

    with t.case("dnsbl-action score: no block; the score goes with the "
                "message (to Junk past spam-junk)"):
        o.write_conf(o.conf_text() + 'checkd {\n\tdnsbl-action score\n'
                     '\tspam-junk 5\n}\n')
        t.require(o.ctl("reload").returncode == 0, "reload")
        time.sleep(0.5)
        mid = message_id()
        data = ("From: x@remote.test\r\nTo: alice@example.test\r\n"
                "Subject: hi\r\nMessage-ID: %s\r\n\r\nhi\r\n" % mid).encode()
        code, text = smtp_data(mx, "x@remote.test", data, source="192.0.2.10")
        t.expect(code == 250, "%d %r" % (code, text))
        m = box.wait_for("alice/.Junk", mid)
        t.require(m is not None, "not in Junk")
        t.expect(m["X-Spam-Score"] == "10.00" and "dnsbl=10" in
                 m["X-Spam-Status"], m["X-Spam-Status"])

    dns.stop()
t.done()
