#!/usr/bin/env python3
"""Greylisting (RFC 6647) by checkd at RCPT: a first attempt of a
(client network, sender, recipient) triplet gets 451 4.7.1, a retry
before the delay too, a retry after it passes and is delivered; the
state survives a restart of checkd; authenticated submission, exempt
networks and SPF-pass senders of listed domains are never greylisted;
a client whose retries passed is whitelisted. With the directory in
PostgreSQL the greylist is a table there, asked through authd.

Runs in a network namespace of its own (clients from 192.0.2.0/24 on
its lo), with the test DNS server for the SPF exemption.
"""
import os
import re
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
CLIENTS = ["192.0.2.%d" % i for i in range(10, 16)] + ["198.51.100.20",
                                                       "203.0.113.5"]
for a in CLIENTS:
    subprocess.run(["ip", "addr", "add", a + "/32", "dev", "lo"],
                   check=True)
DELAY = 3


def rcpt(port, source, sender, to="alice@example.test"):
    return smtp_rcpt(port, sender, to, source=source)


def send(port, source, sender, mid):
    data = ("From: %s\r\nTo: alice@example.test\r\nSubject: grey\r\n"
            "Message-ID: %s\r\n\r\nhello\r\n" % (sender, mid)).encode()
    return smtp_data(port, sender, data, source=source)


with Osms(start=False) as o:
    box = Mailboxes(o)
    dns = DnsServer(o.path("dns"), {
        "listed.test": [("@", "TXT", "v=spf1 ip4:198.51.100.20 -all")]})
    dns.start()
    o.write_conf(o.make_conf(
        'mta {\n\tresolver "127.0.0.1@%d"\n\ttrust-anchor "%s"\n}'
        % (dns.port, dns.trust_anchor_file),
        'checkd {\n\tenable yes\n\tspf no\n\tdkim no\n\tdmarc no\n'
        '\tgreylist yes\n\tgreylist-delay %ds\n'
        '\tgreylist-exempt "203.0.113.0/24 2001:db8::/32"\n'
        '\tgreylist-spf-exempt "listed.test"\n}' % DELAY))
    o.start()
    mx = o.ports["smtp"]

    with t.case("a first attempt is deferred with 451 4.7.1"):
        code, text = rcpt(mx, CLIENTS[0], "ann@remote.test")
        t.expect(code == 451 and b"4.7.1" in text and b"Greylisted" in text,
                 "%d %r" % (code, text))
        t.expect(wait_log(o, r"rcpt greylisted from=192\.0\.2\.10 "
                          r"to=<alice@example\.test> wait=\d+"),
                 "no log line")

    with t.case("a retry before the delay: deferred again"):
        code, text = rcpt(mx, CLIENTS[0], "ann@remote.test")
        t.expect(code == 451, "%d %r" % (code, text))

    with t.case("a retry after the delay, from the same /24: delivered"):
        time.sleep(DELAY + 0.5)
        mid = message_id()
        code, text = send(mx, CLIENTS[1], "ann@remote.test", mid)
        t.expect(code == 250, "%d %r" % (code, text))
        t.expect(box.wait_for("alice", mid) is not None, "not delivered")

    with t.case("the triplet passes at once later; another does not"):
        code, text = rcpt(mx, CLIENTS[0], "ann@remote.test")
        t.expect(code == 250, "%d %r" % (code, text))
        code, text = rcpt(mx, CLIENTS[0], "ann@remote.test",
                          "bob@example.test")
        t.expect(code == 451, "another recipient: %d %r" % (code, text))

    with t.case("the greylist survives a restart of checkd"):
        old = o.pid("checkd")
        os.kill(old, 9)
        t.require(wait_until(lambda: o.pid("checkd") not in (None, old)),
                  "checkd not restarted")
        t.require(wait_log(o, r"checkd: greylist: [1-9]\d* entries"),
                  "the greylist was not read again")
        code, text = rcpt(mx, CLIENTS[0], "ann@remote.test")
        t.expect(code == 250, "%d %r" % (code, text))
        path = o.path("check", "greylist")
        with open(path, "rb") as f:
            journal = f.read()
        t.expect(journal.startswith(b"osms-greylist 1 ") and
                 b"remote.test" not in journal, "the journal")

    with t.case("authenticated submission is never greylisted"):
        mid = submit(o.ports["submission"], ["bob@example.test"])
        t.expect(box.wait_for("bob", mid) is not None, "not delivered")

    with t.case("an exempt network is not greylisted"):
        code, text = rcpt(mx, "203.0.113.5", "new@remote.test")
        t.expect(code == 250, "%d %r" % (code, text))

    with t.case("SPF pass for a listed domain: not greylisted"):
        code, text = rcpt(mx, "198.51.100.20", "x@listed.test")
        t.expect(code == 250, "%d %r" % (code, text))
        # The same domain from a host its SPF does not name: greylisted.
        code, text = rcpt(mx, CLIENTS[2], "x@listed.test")
        t.expect(code == 451, "%d %r" % (code, text))

    with t.case("a client whose retries passed is whitelisted"):
        net = "192.0.2.13"
        for i in range(5):
            to = "alice@example.test" if i % 2 == 0 else "bob@example.test"
            code, _ = rcpt(mx, net, "s%d@remote.test" % i, to)
            t.require(code == 451, "attempt %d: %d" % (i, code))
        time.sleep(DELAY + 0.5)
        for i in range(5):
            to = "alice@example.test" if i % 2 == 0 else "bob@example.test"
            code, _ = rcpt(mx, net, "s%d@remote.test" % i, to)
            t.require(code == 250, "retry %d: %d" % (i, code))
        code, text = rcpt(mx, net, "never-seen@remote.test")
        t.expect(code == 250, "%d %r" % (code, text))

    with t.case("a directory in PostgreSQL keeps the greylist there"):
        with Pg() as pg:
            run([os.path.join(pg.bin, "psql"), "-X", "-h", pg.sockdir,
                 "-U", "osms", "-d", "osms", "-v", "ON_ERROR_STOP=1", "-q",
                 "-f", os.path.join(ROOT, "sql", "schema.sql")])
            o.write_conf(o.conf_text() + 'table dir postgres "%s"\n'
                         'domains <dir>\n' % pg.conninfo)
            t.require(o.ctl("reload").returncode == 0, "reload")
            time.sleep(0.5)
            journal = os.path.getsize(o.path("check", "greylist"))
            code, text = rcpt(mx, CLIENTS[4], "pg@remote.test")
            t.expect(code == 451, "%d %r" % (code, text))
            rows = pg.psql("SELECT count(*) FROM greylist WHERE key LIKE"
                           " 'T%' AND passes = 0")
            t.expect(rows.strip() == "1", "rows: %r" % rows)
            time.sleep(DELAY + 0.5)
            code, text = rcpt(mx, CLIENTS[4], "pg@remote.test")
            t.expect(code == 250, "%d %r" % (code, text))
            rows = pg.psql("SELECT count(*) FROM greylist WHERE passes = 1")
            t.expect(rows.strip() == "2", "the triplet and its network: %r"
                     % rows)
            t.expect(os.path.getsize(o.path("check", "greylist")) ==
                     journal, "the file greylist was written to")
            # The database gone: greylisting fails open.
            pg.stop()
            code, text = rcpt(mx, CLIENTS[5], "down@remote.test")
            t.expect(code == 250, "%d %r" % (code, text))

    dns.stop()
t.done()
