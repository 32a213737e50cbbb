#!/usr/bin/env python3
"""SECURITY A8 end to end: a DKIM-Signature (libopendkim, in checkd) and
an ARC-Message-Signature (lib/mail/arc.c) whose body hash bh= is short,
empty, not base64 or 4 KB long fail verification; the message is still
delivered with the failure in our Authentication-Results, and checkd
goes on (CVE-2020-28025 compared bh without checking its length).

Runs in a network namespace of its own; the test DNS server (dnstest.py)
serves the keys, and checkd resolves through it.
"""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import netns  # noqa: E402

netns.enter()
from osmstest import *  # noqa: E402,F401,F403
from mailtest import *  # noqa: E402,F401,F403
from dnstest import DnsServer  # noqa: E402

t = Tests(__file__)
CLIENT = "192.0.2.10"           # libspf2 passes loopback clients
subprocess.run(["ip", "addr", "add", CLIENT + "/32", "dev", "lo"],
               check=True)
OSMSCTL = os.path.join(BUILD, "osmsctl")
US = "mail.example.test"
BIG = b"\r\n\t".join([b"QUFB" * 19] * 54)       # 4104 bytes, folded
BAD = ((b"QUFB", "short"), (b"", "empty"), (b"!!!!", "not base64"),
       (BIG, "4 KB"))


def message(frm, mid):
    return ("From: %s\r\nTo: alice@example.test\r\nSubject: bh\r\n"
            "Date: Thu, 26 Nov 2026 10:00:00 +0000\r\nMessage-ID: %s\r\n"
            "\r\nHello.\r\n" % (frm, mid)).encode()


def with_bh(data, bh):
    """data with the value of its first bh= tag replaced."""
    out, n = re.subn(rb"bh=[^;]*;", b"bh=" + bh + b";", data, count=1)
    if n != 1:
        raise RuntimeError("no bh= tag")
    return out


def ours(m):
    """Our Authentication-Results field, unfolded."""
    for v in m.get_all("Authentication-Results") or []:
        v = re.sub(r"\s+", " ", v).strip()
        if v.split(";")[0].strip() == US:
            return v
    return ""


with Osms(start=False) as o:
    box = Mailboxes(o)
    keys, records = {}, {}
    for dom in ("good.test", "list.test"):
        keys[dom] = o.path(dom + ".key")
        p = subprocess.run([OSMSCTL, "dkim", "keygen", dom, "s1",
                            keys[dom]], stdout=subprocess.PIPE, check=True)
        records[dom] = "".join(re.findall(r'"([^"]*)"', p.stdout.decode()))
    zones = {dom: [("@", "TXT", "v=spf1 ip4:%s -all" % CLIENT),
                   ("s1._domainkey", "TXT", records[dom])]
             for dom in keys}
    dns = DnsServer(o.path("dns"), zones)
    dns.start()
    o.write_conf(o.make_conf(
        'mta {\n\tresolver "127.0.0.1@%d"\n\ttrust-anchor "%s"\n}'
        % (dns.port, dns.trust_anchor_file),
        'checkd {\n\tenable yes\n}'))
    o.start()
    checkd = o.pid("checkd")

    def deliver(data, mid):
        code, text = smtp_data(o.ports["smtp"], "ann@good.test", data,
                               helo="mx.good.test", source=CLIENT)
        t.require(code == 250, "DATA: %d %r" % (code, text))
        m = box.wait_for("alice", mid)
        t.require(m is not None, "not delivered")
        return ours(m)

    def signed(mid):
        return subprocess.run([OSMSCTL, "dkim", "sign", "good.test", "s1",
                               keys["good.test"]], input=message(
                                   "ann@good.test", mid),
                              stdout=subprocess.PIPE, check=True).stdout

    with t.case("A8: the signed message verifies as it is"):
        mid = message_id()
        ar = deliver(signed(mid), mid)
        t.expect("dkim=pass header.d=good.test header.s=s1;" in ar, ar)

    with t.case("A8: a DKIM-Signature whose bh= is short, empty, not "
                "base64 or 4 KB: dkim fails, the message comes"):
        for bh, what in BAD:
            mid = message_id()
            ar = deliver(with_bh(signed(mid), bh), mid)
            t.expect(re.search(r"; dkim=(fail|permerror)( \([^)]*\))? "
                               r"header.d=good.test", ar) and
                     "dkim=pass" not in ar, "%s: %s" % (what, ar))

    with t.case("A8: an ARC-Message-Signature whose bh= is short, empty, "
                "not base64 or 4 KB: arc=fail"):
        for bh, what in ((None, "as sealed"),) + BAD:
            mid = message_id()
            data = b"Authentication-Results: list.test; dkim=none\r\n" + \
                message("ann@good.test", mid)
            data = arc_seal(data, "s1", "list.test", keys["list.test"])
            ar = deliver(data if bh is None else with_bh(data, bh), mid)
            if bh is None:
                t.expect("; arc=pass (1 set, sealed by list.test)" in ar, ar)
            else:
                t.expect("; arc=fail;" in ar, "%s: %s" % (what, ar))

    with t.case("A8: checkd was not restarted"):
        t.expect(o.pid("checkd") == checkd, "checkd has a new pid")
        t.expect(all(r["restarts"] == 0 for r in o.status()), "restarts")

t.done()
