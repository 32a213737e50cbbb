#!/usr/bin/env python3
"""Sender authentication of mail from outside (checkd): SPF (RFC 7208)
of MAIL FROM and HELO, DKIM (RFC 6376) of every signature, DMARC (RFC
7489), ARC (RFC 8617): a trusted forwarder's passing chain forgives a DMARC
failure, a broken one or an untrusted sealer's does not; one
Authentication-Results field (RFC 8601) in our name, forged ones removed, and the DMARC policy enforced: p=reject refused at DATA,
p=quarantine delivered to the Junk folder; with "harvest verified", a
signer's certificate is kept only when DMARC verified its domain.

Runs in a network namespace of its own; the test DNS server (dnstest.py)
serves the zones, and checkd resolves through it.
"""
import os
import pwd
import re
import shutil
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
# libspf2 passes loopback clients whatever the record says: the clients
# come from documentation addresses, on this namespace's lo.
CLIENT = "192.0.2.10"
subprocess.run(["ip", "addr", "add", CLIENT + "/32", "dev", "lo"],
               check=True)
OSMSCTL = os.path.join(BUILD, "osmsctl")
US = "mail.example.test"        # the harness's hostname: our authserv-id


def message(frm, mid, body="Hello.\r\n", extra=""):
    return ("From: %s\r\nTo: alice@example.test\r\nSubject: checks\r\n"
            "Date: Thu, 26 Nov 2026 10:00:00 +0000\r\nMessage-ID: %s\r\n"
            "%s\r\n%s" % (frm, mid, extra, body)).encode()


def sign(o, domain, sel, key, data):
    p = subprocess.run([OSMSCTL, "dkim", "sign", domain, sel, key],
                       input=data, stdout=subprocess.PIPE, check=True)
    return p.stdout


def sh(args, data=None):
    return subprocess.run(args, input=data, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, check=True).stdout


def make_signer(d, address):
    """A test CA (once) and a certificate of it for address."""
    if not os.path.exists(d + "/ca.pem"):
        sh(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
            "-keyout", d + "/ca.key", "-out", d + "/ca.pem", "-days", "30",
            "-subj", "/CN=Checks Test CA", "-addext",
            "basicConstraints=critical,CA:TRUE", "-addext",
            "keyUsage=critical,keyCertSign"])
    with open(d + "/%s.ext" % address, "w") as f:
        f.write("subjectAltName=email:%s\nkeyUsage=digitalSignature,"
                "keyEncipherment\nextendedKeyUsage=emailProtection\n"
                % address)
    sh(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout",
        "%s/%s.key" % (d, address), "-out", "%s/%s.csr" % (d, address),
        "-subj", "/CN=%s" % address])
    sh(["openssl", "x509", "-req", "-in", "%s/%s.csr" % (d, address),
        "-CA", d + "/ca.pem", "-CAkey", d + "/ca.key", "-set_serial",
        str(int.from_bytes(os.urandom(8), "big")), "-days", "30",
        "-extfile", "%s/%s.ext" % (d, address), "-out",
        "%s/%s.pem" % (d, address)])


def smime_signed(d, frm, mid):
    """A message signed by frm's certificate, as a mail client makes it."""
    out = sh(["openssl", "cms", "-sign", "-signer", "%s/%s.pem" % (d, frm),
              "-inkey", "%s/%s.key" % (d, frm)],
             b"Content-Type: text/plain\r\n\r\nSigned.\r\n")
    out = out.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return ("From: %s\r\nTo: alice@example.test\r\nSubject: signed\r\n"
            "Message-ID: %s\r\n" % (frm, mid)).encode() + out


def ours(m):
    """Our Authentication-Results fields, unfolded."""
    out = []
    for v in m.get_all("Authentication-Results") or []:
        v = re.sub(r"\s+", " ", v).strip()
        if v.split(";")[0].strip() == US:
            out.append(v)
    return out


def deliver(o, box, sender, data, mid, helo="mx.good.test", user="alice"):
    code, text = smtp_data(o.ports["smtp"], sender, data, helo=helo,
                           source=CLIENT)
    t.require(code == 250, "DATA: %d %r" % (code, text))
    m = box.wait_for(user, mid)
    t.require(m is not None, "not delivered to %s" % user)
    ar = ours(m)
    t.expect(len(ar) == 1, "one Authentication-Results of ours: %r" % ar)
    return ar[0] if ar else ""


with Osms(start=False) as o:
    box = Mailboxes(o)
    keys = {}
    records = {}
    for dom in ("good.test", "strict.test", "list.test", "evil.test"):
        keys[dom] = o.path(dom + ".key")
        p = subprocess.run([OSMSCTL, "dkim", "keygen", dom, "s1",
                            keys[dom]], stdout=subprocess.PIPE, check=True)
        records[dom] = "".join(re.findall(r'"([^"]*)"', p.stdout.decode()))
    zones = {
        "good.test": [("@", "TXT", "v=spf1 ip4:192.0.2.10 -all"),
                      ("mx", "TXT", "v=spf1 ip4:192.0.2.10 -all"),
                      ("s1._domainkey", "TXT", records["good.test"]),
                      ("_dmarc", "TXT", "v=DMARC1; p=reject")],
        "fail.test": [("@", "TXT", "v=spf1 ip4:192.0.2.1 -all")],
        "soft.test": [("@", "TXT", "v=spf1 ip4:192.0.2.1 ~all")],
        "none.test": [("@", "A", "192.0.2.7")],
        "strict.test": [("@", "TXT", "v=spf1 ip4:192.0.2.1 -all"),
                        ("s1._domainkey", "TXT", records["strict.test"]),
                        ("_dmarc", "TXT", "v=DMARC1; p=reject")],
        "quar.test": [("@", "TXT", "v=spf1 ip4:192.0.2.1 -all"),
                      ("_dmarc", "TXT", "v=DMARC1; p=quarantine")],
        # Forwarders: a mailing list we trust, and one we do not.
        "list.test": [("@", "TXT", "v=spf1 ip4:192.0.2.10 -all"),
                      ("s1._domainkey", "TXT", records["list.test"])],
        "evil.test": [("@", "TXT", "v=spf1 ip4:192.0.2.10 -all"),
                      ("s1._domainkey", "TXT", records["evil.test"])],
    }
    dns = DnsServer(o.path("dns"), zones)
    dns.start()
    o.write_conf(o.make_conf(
        'mta {\n\tresolver "127.0.0.1@%d"\n\ttrust-anchor "%s"\n}'
        % (dns.port, dns.trust_anchor_file),
        'checkd {\n\tenable yes\n\tarc-trusted "list.test"\n}\n'
        'cryptod {\n\trule inbound harvest verified\n}'))
    o.start()
    # The gateway trusts a test CA; its certificates sign mail below.
    pki = o.path("pki")
    os.mkdir(pki)
    for a in ("ann@good.test", "bob@none.test"):
        make_signer(pki, a)
    store = o.path("certs")
    crypt = pwd.getpwnam("_osmscrypt")
    shutil.copyfile(pki + "/ca.pem", store + "/trust.pem")
    os.chown(store + "/trust.pem", crypt.pw_uid, crypt.pw_gid)
    o.ctl("reload")
    o.ctl("log", "verbose")

    with t.case("SPF, DKIM and DMARC pass: one field says so"):
        mid = message_id()
        data = sign(o, "good.test", "s1", keys["good.test"],
                    message("Ann <ann@good.test>", mid))
        ar = deliver(o, box, "ann@good.test", data, mid)
        t.expect("spf=pass smtp.mailfrom=ann@good.test" in ar, ar)
        t.expect("spf=pass smtp.helo=mx.good.test" in ar, ar)
        t.expect("dkim=pass header.d=good.test header.s=s1" in ar, ar)
        t.expect("dmarc=pass (p=reject) header.from=good.test" in ar, ar)
        t.expect(wait_log(o, r"queue: \S+ queued .*checks: spf=pass "
                          r"helo=pass dmarc=pass:good\.test dkim=pass:"
                          r"good\.test"), "the queue's log line")

    with t.case("SPF fail, softfail and none"):
        for dom, word in (("fail.test", "fail"), ("soft.test", "softfail"),
                          ("none.test", "none")):
            mid = message_id()
            ar = deliver(o, box, "bob@" + dom,
                         message("bob@" + dom, mid), mid, helo="client")
            t.expect("spf=%s smtp.mailfrom=bob@%s" % (word, dom) in ar,
                     "%s: %s" % (dom, ar))
            t.expect("dkim=none" in ar and "dmarc=none" in ar, ar)

    with t.case("a broken DKIM signature fails; the message still comes"):
        mid = message_id()
        data = sign(o, "good.test", "s1", keys["good.test"],
                    message("ann@good.test", mid))
        data = data.replace(b"Hello.", b"Hello!")
        ar = deliver(o, box, "ann@good.test", data, mid)
        t.expect(re.search(r"dkim=fail \([^)]*\) header.d=good.test", ar),
                 ar)
        # SPF passes aligned, so DMARC still passes.
        t.expect("dmarc=pass" in ar, ar)

    with t.case("DMARC p=reject: refused at DATA with 550 5.7.1"):
        mid = message_id()
        code, text = smtp_data(o.ports["smtp"], "x@none.test",
                               message("ceo@strict.test", mid),
                               source=CLIENT)
        t.expect(code == 550 and b"5.7.1" in text and b"DMARC" in text,
                 "%d %r" % (code, text))
        t.expect(box.find("alice", mid) is None, "delivered anyway")

    with t.case("DMARC p=reject passes with the domain's own signature"):
        mid = message_id()
        data = sign(o, "strict.test", "s1", keys["strict.test"],
                    message("ceo@strict.test", mid))
        ar = deliver(o, box, "x@none.test", data, mid)
        t.expect("dmarc=pass" in ar and "header.d=strict.test" in ar, ar)

    with t.case("DMARC p=quarantine: delivered to the Junk folder"):
        mid = message_id()
        ar = deliver(o, box, "x@none.test", message("info@quar.test", mid),
                     mid, user="alice/.Junk")
        t.expect("dmarc=fail (p=quarantine) header.from=quar.test" in ar, ar)
        t.expect(box.find("alice", mid) is None, "also in the INBOX")

    with t.case("a forged Authentication-Results in our name is removed"):
        mid = message_id()
        forged = ("Authentication-Results: %s; dkim=pass header.d=bank.test;"
                  " dmarc=pass header.from=bank.test\r\n"
                  "Authentication-Results: other.example; spf=pass\r\n" % US)
        ar = deliver(o, box, "bob@fail.test",
                     message("bob@fail.test", mid, extra=forged), mid)
        m = box.find("alice", mid)
        t.expect("bank.test" not in ar, ar)
        others = [v for v in m.get_all("Authentication-Results")
                  if v.strip().startswith("other.example")]
        t.expect(len(others) == 1, "another host's field is kept")

    with t.case("more than one From field: refused"):
        mid = message_id()
        code, text = smtp_data(o.ports["smtp"], "ann@good.test",
                               message("ann@good.test", mid,
                                       extra="From: ceo@strict.test\r\n"),
                               source=CLIENT)
        t.expect(code == 550 and b"From" in text, "%d %r" % (code, text))

    with t.case("authenticated submission is not checked"):
        mid = submit(o.ports["submission"], ["alice@example.test"])
        m = box.wait_for("alice", mid)
        t.require(m is not None, "not delivered")
        t.expect(ours(m) == [], ours(m))

    def listed(mid, sealer, tamper=False):
        """ceo@strict.test's signed mail as a list passes it on: subject
        tagged, footer added (its DKIM signature breaks), then sealed."""
        data = sign(o, "strict.test", "s1", keys["strict.test"],
                    message("ceo@strict.test", mid))
        data = data.replace(b"Subject: checks", b"Subject: [list] checks")
        data += b"-- \r\nthe list's footer\r\n"
        data = (b"Authentication-Results: %s; dkim=pass "
                b"header.d=strict.test\r\n" % sealer.encode()) + data
        data = arc_seal(data, "s1", sealer, keys[sealer])
        if tamper:
            data = data.replace(b"Hello.", b"Hello!")
        return data

    with t.case("ARC: a trusted list's chain passes: DMARC reject is "
                "forgiven"):
        mid = message_id()
        ar = deliver(o, box, "bounce@list.test", listed(mid, "list.test"),
                     mid)
        t.expect("arc=pass (1 set, sealed by list.test, trusted)" in ar, ar)
        t.expect("dmarc=fail (p=reject) header.from=strict.test" in ar, ar)
        t.expect(re.search(r"dkim=fail \([^)]*\) header.d=strict.test", ar),
                 ar)

    with t.case("ARC: an untrusted sealer, or a broken chain: refused"):
        code, text = smtp_data(o.ports["smtp"], "bounce@evil.test",
                               listed(message_id(), "evil.test"),
                               source=CLIENT)
        t.expect(code == 550 and b"DMARC" in text, "%d %r" % (code, text))
        t.expect(wait_log(o, r"arc=pass:evil\.test"), "no log of the seal")
        code, text = smtp_data(o.ports["smtp"], "bounce@list.test",
                               listed(message_id(), "list.test", True),
                               source=CLIENT)
        t.expect(code == 550 and b"DMARC" in text, "%d %r" % (code, text))
        t.expect(wait_log(o, r"arc=fail"), "no log of the broken chain")

    with t.case("harvest verified: a certificate is kept only from a "
                "sender whose domain passes DMARC"):
        harvested = os.path.join(store, "harvested")
        mid = message_id()
        data = sign(o, "good.test", "s1", keys["good.test"],
                    smime_signed(pki, "ann@good.test", mid))
        ar = deliver(o, box, "ann@good.test", data, mid)
        t.expect("dmarc=pass" in ar and "smime=pass" in ar, ar)
        t.expect(wait_until(lambda: os.path.exists(os.path.join(
            harvested, "ann@good.test.pem")), 5), "ann's not harvested")
        # bob@none.test: a valid signature, but no DMARC to say the
        # From domain is his.
        mid = message_id()
        ar = deliver(o, box, "bob@none.test",
                     smime_signed(pki, "bob@none.test", mid), mid)
        t.expect("dmarc=none" in ar and "smime=pass" in ar, ar)
        t.expect(wait_log(o, r"from=<bob@none\.test> certificate not kept"),
                 "no audit line")
        t.expect(not os.path.exists(os.path.join(
            harvested, "bob@none.test.pem")), "bob's harvested")

    with t.case("checkd down: the configured fallback (tempfail)"):
        pid = o.pid("checkd")
        os.kill(pid, 9)
        code, text = smtp_data(o.ports["smtp"], "ann@good.test",
                               message("ann@good.test", message_id()))
        t.expect(code in (250, 451), "%d %r" % (code, text))
        if code == 451:
            t.expect(b"4.7.1" in text, text)
        t.expect(wait_until(lambda: o.pid("checkd") not in (None, pid)),
                 "checkd restarted")

    dns.stop()
t.done()
