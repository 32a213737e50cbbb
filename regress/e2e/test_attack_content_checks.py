#!/usr/bin/env python3
"""The MIME and header bombs of test_attack_content.py (shared/SECURITY.md
rows E1-E4), through the one consumer that file leaves out: the sender
checks smtpd asks checkd for (SPF, DKIM with libopendkim, DMARC, ARC
with lib/mail/arc.c). A header past checkd's limits (DKIM_MAX_HEADER,
DKIM_MAX_FIELDS) hides its From field: that is refused, for a spoofed
From of a p=reject domain used to pass as "dmarc=none" behind it. Also
a DKIM-Signature whose h= names "to" 40,000 times, the quadratic case of
a header selection.

Runs in a network namespace of its own; the test DNS server (dnstest.py)
serves good.test's SPF, DKIM key and DMARC policy (p=reject). Unscannable
mail is accepted here (scand { unscannable accept }), so that what
checkd lets through reaches the Maildir with our Authentication-Results.
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
from bombs import *  # noqa: E402,F401,F403
from attacktest import assert_untouched  # noqa: E402

t = Tests(__file__)
CLIENT = "192.0.2.10"           # libspf2 passes loopback clients
subprocess.run(["ip", "addr", "add", CLIENT + "/32", "dev", "lo"],
               check=True)
OSMSCTL = os.path.join(BUILD, "osmsctl")
ROLES = ("smtpd", "checkd", "cryptod", "scand")


def cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        st = f.read()
    w = st[st.rfind(")") + 2:].split()
    return (int(w[11]) + int(w[12])) / os.sysconf("SC_CLK_TCK")


def ours(raw):
    """Our Authentication-Results field of a stored message (LF line
    ends), unfolded."""
    m = re.search(rb"(?m)^Authentication-Results: mail\.example\.test;"
                  rb"(.*(?:\n[ \t].*)*)", raw.split(b"\n\n")[0])
    return re.sub(r"\s+", " ", m.group(1).decode()).strip() if m else ""


with Osms(start=False) as o:
    key = o.path("good.key")
    p = subprocess.run([OSMSCTL, "dkim", "keygen", "good.test", "s1", key],
                       stdout=subprocess.PIPE, check=True)
    record = "".join(re.findall(r'"([^"]*)"', p.stdout.decode()))
    dns = DnsServer(o.path("dns"), {"good.test": [
        ("@", "TXT", "v=spf1 ip4:%s -all" % CLIENT),
        ("s1._domainkey", "TXT", record),
        ("_dmarc", "TXT", "v=DMARC1; p=reject")]})
    dns.start()
    o.write_conf(o.make_conf(
        'mta {\n\tresolver "127.0.0.1@%d"\n\ttrust-anchor "%s"\n}'
        % (dns.port, dns.trust_anchor_file),
        'checkd {\n\tenable yes\n}\nscand {\n\tunscannable accept\n}'))
    o.start()
    roles0 = {r["role"]: r["pid"] for r in o.status()}

    def signed(mid, extra=b""):
        """A message of ann@good.test, DKIM-signed, then extra put
        between the signature and the signed fields."""
        msg = (b"From: ann@good.test\r\nTo: alice@example.test\r\n"
               b"Subject: checks\r\nMessage-ID: %s\r\n\r\nhello\r\n"
               % mid.encode())
        data = subprocess.run([OSMSCTL, "dkim", "sign", "good.test", "s1",
                               key], input=msg, stdout=subprocess.PIPE,
                              check=True).stdout
        return data.replace(b"From: ann", extra + b"From: ann", 1)

    SPOOF = (b"From: ann@good.test\r\nTo: alice@example.test\r\nSubject: "
             b"spoof\r\nMessage-ID: %s\r\n\r\nhello\r\n")

    def checked(name, data, mid, cap=2.0):
        """Sent from good.test's address: 250, checkd's CPU under cap,
        and our Authentication-Results on the stored copy."""
        pids = {r: o.pid(r) for r in ROLES}
        before = {r: cpu(p) for r, p in pids.items()}
        code, text = smtp_data(o.ports["smtp"], "ann@good.test", data,
                               helo="mx.good.test", source=CLIENT)
        spent = {r: cpu(p) - before[r] for r, p in pids.items()}
        t.diag("%s (%d bytes): %d %s; CPU %s" % (
            name, len(data), code, text.decode(errors="replace"),
            " ".join("%s %.2f" % kv for kv in spent.items())))
        t.expect(code == 250, "%s: %d %r" % (name, code, text))
        t.expect(spent["checkd"] < cap and spent["smtpd"] < cap,
                 "%s: CPU %r" % (name, spent))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            for path in Mailboxes(o).files("alice"):
                with open(path, "rb") as f:
                    raw = f.read()
                if b"\nMessage-ID: " + mid.encode() + b"\n" in raw:
                    return ours(raw)
            time.sleep(0.1)
        return None

    SPOOFER = "192.0.2.11"       # not in good.test's SPF record
    subprocess.run(["ip", "addr", "add", SPOOFER + "/32", "dev", "lo"],
                   check=True)
    TOOBIG = ("550 5.7.1 the header is too large to find its From "
              "field")
    BOMBS = (("E2", "500,000 To: fields", b"To: a@b.c\r\n" * 500000),
             ("E3", "one field of 8.8 MB", b"X-Big: start" +
              (b"\r\n " + b"x" * 46) * 180000 + b"\r\n"),
             ("E4", "100,000 RFC 2231 sections", param_flood(
                 "<x@t>", 100000).split(b"MIME-Version: 1.0\r\n", 1)[1]
              .split(b"\r\n\r\n")[0] + b"\r\n"))

    def refused(name, data, source, sender):
        pid = o.pid("checkd")
        c0 = cpu(pid)
        code, text = smtp_data(o.ports["smtp"], sender, data,
                               helo="mx.good.test", source=source)
        got = "%d %s" % (code, text.decode(errors="replace"))
        t.diag("%s (%d bytes): %s; checkd %.2f s" % (
            name, len(data), got, cpu(pid) - c0))
        t.expect(cpu(pid) - c0 < 1.0, "%s: checkd %.2f s" % (
            name, cpu(pid) - c0))
        return got

    with t.case("checks: signed mail of good.test as it is: SPF, DKIM and "
                "DMARC pass; a spoofed From of it: 550 5.7.1 (p=reject)"):
        ar = checked("control", signed("<c-0@t>"), "<c-0@t>")
        t.expect(ar == "spf=pass smtp.mailfrom=ann@good.test; spf=none "
                 "smtp.helo=mx.good.test; dkim=pass header.d=good.test "
                 "header.s=s1; arc=none; dmarc=pass (p=reject) header.from="
                 "good.test", repr(ar))
        got = refused("spoofed", SPOOF % b"<c-s@t>", SPOOFER,
                      "x@evil.test")
        t.expect(got == "550 5.7.1 DMARC policy of good.test: the From "
                 "domain is not verified", got)

    with t.case("E1 through the sender checks: 1,000 nested multiparts, "
                "10,000 parts as the body of signed mail: checked (the body "
                "hash fails, DMARC passes by SPF), checkd CPU bounded"):
        inner = (b"From: <y@remote.test>\r\nSubject: inner\r\n\r\nin\r\n")
        for name, mid, body in (
                ("1,000 nested multiparts", "<c-e1a@t>",
                 nested_multipart("<x@t>", 1000).split(b"\r\n\r\n", 1)[1]),
                ("10,000 flat parts", "<c-e1b@t>", flat_parts(
                    "<x@t>", 10000, last=inner).split(b"\r\n\r\n", 1)[1])):
            data = signed(mid).split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n" + body
            ar = checked(name, data, mid)
            t.expect(ar is not None and re.match(
                r"spf=pass smtp\.mailfrom=ann@good\.test; spf=none "
                r"smtp\.helo=mx\.good\.test; dkim=fail [^;]*header\.d="
                r"good\.test header\.s=s1; arc=none; dmarc=pass \(p=reject\) "
                r"header\.from=good\.test$", ar), "%s: %r" % (name, ar))

    with t.case("E2-E4 before the From field (500,000 To fields, a field "
                "of 8.8 MB, 100,000 RFC 2231 sections): 550 5.7.1, the From "
                "too deep to find, also on a spoofed From (not DMARC none)"):
        for row, name, extra in BOMBS:
            got = refused("%s %s, signed" % (row, name), signed(
                "<c-%s@t>" % row, extra), CLIENT, "ann@good.test")
            t.expect(got == TOOBIG, "%s %s: %s" % (row, name, got))
            got = refused("%s %s, spoofed" % (row, name), extra +
                          SPOOF % ("<c-%s-s@t>" % row).encode(), SPOOFER,
                          "x@evil.test")
            t.expect(got == TOOBIG, "%s %s spoofed: %s" % (row, name, got))

    with t.case("E2: a DKIM-Signature whose h= names \"to\" 40,000 times, "
                "over 900 To fields: checked in bounded time, not a pass"):
        mid = "<c-h@t>"
        data = signed(mid, b"To: a@b.c\r\n" * 900)
        names = b":\r\n\t".join([b":".join([b"to"] * 20)] * 2000)
        data = re.sub(rb"h=[^;]*;", b"h=from:" + names + b";", data,
                      count=1)
        ar = checked("h= of 40,000 names", data, mid, 1.0)
        t.expect(ar is not None and re.search(
            r"; dkim=(fail|permerror|neutral|policy|none)[ ;]", ar) and
            "dkim=pass" not in ar, repr(ar))

    with t.case("checks: no role restarted or crashed"):
        assert_untouched(t, o, roles0)
    dns.stop()
t.done()
