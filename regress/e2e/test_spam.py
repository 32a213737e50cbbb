#!/usr/bin/env python3
"""Spam scoring through a real rspamd (Debian's, started here on
loopback): GTUBE refused at DATA, a message past the junk score
delivered to the Junk folder with its score, a plain message to the
INBOX, a message past the reject score refused, a sender's own spam
fields removed, and rspamd down: accepted unscored, or 451 with
spam-on-failure tempfail. Then the other engine, SpamAssassin's spamd
(also Debian's): scored, and GTUBE refused.

Runs in a network namespace of its own; rspamd and checkd resolve
through the test DNS server.
"""
import os
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import netns  # noqa: E402

netns.enter()
from osmstest import *  # noqa: E402,F401,F403
from mailtest import *  # noqa: E402,F401,F403
from dnstest import DnsServer  # noqa: E402
from rspamdtest import Rspamd  # noqa: E402

t = Tests(__file__)
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


def plain(mid, extra=""):
    return ("From: Ann <ann@remote.test>\r\nTo: alice@example.test\r\n"
            "Subject: lunch on Friday\r\nDate: Thu, 26 Nov 2026 10:00:00 "
            "+0000\r\nMessage-ID: %s\r\nMIME-Version: 1.0\r\nContent-Type:"
            " text/plain; charset=us-ascii\r\n%s\r\nShall we meet at noon?"
            "\r\n" % (mid, extra)).encode()


def spammy(mid):
    """No Date, an all-caps subject, HTML only: rspamd's own rules
    score it without the network."""
    return ("From: WINNER <winner@remote.test>\r\nTo: alice@example.test\r\n"
            "Subject: YOU HAVE WON!!! CLAIM YOUR PRIZE NOW\r\n"
            "Message-ID: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/html"
            "\r\n\r\n<html><body><p>CLICK HERE <a href=\"http://192.0.2.7/"
            "claim\">http://192.0.2.7/claim</a> to claim your $1,000,000"
            "</p></body></html>\r\n" % mid).encode()


def delivered(o, box, sender, make, user="alice", **kw):
    """A message (make(mid, **kw)) from sender through the MX: the copy
    delivered to user, or the test stops."""
    mid = message_id()
    code, text = smtp_data(o.ports["smtp"], sender, make(mid, **kw))
    t.require(code == 250, "%d %r" % (code, text))
    m = box.wait_for(user, mid)
    t.require(m is not None, "not delivered to %s" % user)
    return m


def spamd_ping(port):
    try:
        with socket.create_connection(("127.0.0.1", port), 2) as c:
            c.sendall(b"PING SPAMC/1.5\r\n\r\n")
            return b"PONG" in c.recv(100)
    except OSError:
        return False


def score(m):
    v = m["X-Spam-Score"]
    return float(v) if v else None


work = tempfile.mkdtemp(prefix="osms-rspamd-")
with Osms(start=False) as o:
    box = Mailboxes(o)
    dns = DnsServer(o.path("dns"), {"remote.test": [("@", "TXT",
                                                     "v=spf1 -all")]})
    dns.start()
    rs = Rspamd(work, dns.port)
    rs.start()

    def conf(junk, extra="", reject=15):
        return o.make_conf(
            'mta {\n\tresolver "127.0.0.1@%d"\n\ttrust-anchor "%s"\n}'
            % (dns.port, dns.trust_anchor_file),
            'checkd {\n\tenable yes\n\trspamd "%s"\n\tspam-junk %d\n'
            '\tspam-reject %d\n%s}' % (rs.addr, junk, reject, extra))

    # The junk score sits between what the plain and the spammy
    # message get; both are measured first, below.
    o.write_conf(conf(1000))
    o.start()

    with t.case("scored: the fields, and the log line"):
        m = delivered(o, box, "ann@remote.test", plain)
        low = score(m)
        t.expect(low is not None, "no X-Spam-Score")
        t.expect((m["X-Spam-Status"] or "").startswith("No, score="),
                 m["X-Spam-Status"])
        t.expect(wait_log(o, r"queue: \S+ queued .*checks: .* spam=-?\d"),
                 "the score is not in the queue's log line")
        m = delivered(o, box, "winner@remote.test", spammy)
        high = score(m)
        t.diag("plain %s, spammy %s" % (low, high))
        t.require(low is not None and high is not None and high >= low + 1,
                  "the spammy message does not score higher: %s %s"
                  % (low, high))
        t.expect(m["X-Spam-Symbols"], "no symbols")

    def reload(text):
        o.write_conf(text)
        r = o.ctl("reload")
        t.require(r.returncode == 0, "reload: %s" % r.stderr)
        time.sleep(0.5)     # the roles take their new slices

    junk = int(low) + 1
    reload(conf(junk))

    with t.case("past the junk score: delivered to Junk"):
        m = delivered(o, box, "winner@remote.test", spammy,
                      user="alice/.Junk")
        t.expect(m["X-Spam-Status"].startswith("Yes,"), m["X-Spam-Status"])
        t.expect(box.find("alice", m["Message-ID"]) is None,
                 "in the INBOX too")

    with t.case("below it: the INBOX"):
        m = delivered(o, box, "ann@remote.test", plain)
        t.expect((m["X-Spam-Status"] or "").startswith("No,"),
                 m["X-Spam-Status"])

    with t.case("GTUBE: refused at DATA with 550 5.7.1"):
        mid = message_id()
        code, text = smtp_data(o.ports["smtp"], "ann@remote.test",
                               plain(mid).replace(b"Shall we",
                                                  GTUBE.encode()))
        t.expect(code == 550 and b"5.7.1" in text and b"Spam" in text,
                 "%d %r" % (code, text))

    with t.case("a sender's own spam fields are removed"):
        m = delivered(o, box, "ann@remote.test", plain,
                      extra="X-Spam-Status: No, score=-100\r\n"
                      "X-Spam-Score: -100\r\n")
        t.expect(m.get_all("X-Spam-Status") == [m["X-Spam-Status"]] and
                 "-100" not in m["X-Spam-Status"], m.get_all("X-Spam-Status"))
        t.expect(m.get_all("X-Spam-Score") == [m["X-Spam-Score"]],
                 m.get_all("X-Spam-Score"))

    with t.case("at or above the reject score: 550 5.7.1"):
        reload(conf(junk, reject=int(high)))
        code, text = smtp_data(o.ports["smtp"], "winner@remote.test",
                               spammy(message_id()))
        t.expect(code == 550 and b"5.7.1 Spam message rejected (score" in
                 text, "%d %r" % (code, text))
        reload(conf(junk))

    rs.stop()

    with t.case("rspamd down: accepted unscored, with a field"):
        m = delivered(o, box, "ann@remote.test", plain)
        t.expect((m["X-Spam-Status"] or "").startswith("unscored ("),
                 m["X-Spam-Status"])
        t.expect(m["X-Spam-Score"] is None, "a score without rspamd")

    with t.case("rspamd down, spam-on-failure tempfail: 451 4.7.1"):
        reload(conf(junk, "\tspam-on-failure tempfail\n"))
        code, text = smtp_data(o.ports["smtp"], "ann@remote.test",
                               plain(message_id()))
        t.expect(code == 451 and b"4.7.1" in text, "%d %r" % (code, text))

    # SpamAssassin's spamd (the spamc protocol), the other engine.
    sa = subprocess.Popen(
        ["/usr/sbin/spamd", "-L", "--listen=127.0.0.1:7830",
         "--max-children=1", "-u", "nobody", "--syslog=stderr",
         "--pidfile=" + o.path("spamd.pid")],
        stdout=subprocess.DEVNULL, stderr=open(o.path("spamd.log"), "wb"),
        start_new_session=True)
    try:
        t.require(wait_until(lambda: spamd_ping(7830), 60),
                  "spamd did not start")
        reload(o.make_conf(
            'mta {\n\tresolver "127.0.0.1@%d"\n\ttrust-anchor "%s"\n}'
            % (dns.port, dns.trust_anchor_file),
            'checkd {\n\tenable yes\n\tspamd "127.0.0.1:7830"\n'
            '\tspam-junk 1000\n\tspam-reject 15\n}'))

        with t.case("spamd: scored, with its rules' names"):
            m = delivered(o, box, "ann@remote.test", plain)
            t.expect(score(m) is not None and
                     m["X-Spam-Status"].startswith("No, score="),
                     m["X-Spam-Status"])
            t.expect(m["X-Spam-Symbols"], "no symbols")

        with t.case("spamd: GTUBE refused at DATA with 550 5.7.1"):
            code, text = smtp_data(o.ports["smtp"], "ann@remote.test",
                                   plain(message_id()).replace(
                                       b"Shall we", GTUBE.encode()))
            t.expect(code == 550 and b"5.7.1 Spam message rejected" in text,
                     "%d %r" % (code, text))
    finally:
        os.killpg(sa.pid, 15)
        sa.wait(timeout=20)

    dns.stop()
rs.clean()
t.done()
