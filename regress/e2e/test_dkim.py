#!/usr/bin/env python3
"""DKIM keys and signatures (RFC 6376, RFC 8463) checked by an outside
verifier: `osmsctl dkim keygen` makes RSA and Ed25519 keys and prints
their DNS records, `osmsctl dkim sign` signs messages of many shapes, and
dkimpy (Debian's python3-dkim, run by Debian's own Python) verifies them
against the printed record, and refuses them once tampered with.

Debian packages: python3-dkim, python3-nacl (Ed25519 in dkimpy)."""
import os
import re
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from osmstest import Tests, BUILD  # noqa: E402
from mailtest import dkim_verify  # noqa: E402

t = Tests(__file__)
OSMSCTL = os.path.join(BUILD, "osmsctl")
DEBIAN_PYTHON = "/usr/bin/python3"

MESSAGES = {
    "simple": b"From: Alice <alice@example.test>\r\nTo: bob@example.org\r\n"
              b"Subject: Hello\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\n"
              b"Message-ID: <1@example.test>\r\n\r\nHi Bob.\r\n",
    "bare LF": b"From: alice@example.test\nTo: bob@example.org\n"
               b"Subject: lf only\n\nline one\nline two\n",
    "folded and spaced": b"From:   Alice\r\n  <alice@example.test>  \r\n"
                         b"To: bob@example.org,\r\n\tcarol@example.org\r\n"
                         b"Subject:  many    spaces\t here \r\n"
                         b"MIME-Version: 1.0\r\n\r\n  indented  \r\n\r\n"
                         b"trailing\t \r\n\r\n\r\n",
    "8-bit": "From: J\u00f6rg <joerg@example.test>\r\nTo: b@example.org\r\n"
             "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\nContent-Type: text/"
             "plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
             "\r\nGr\u00fc\u00dfe aus K\u00f6ln\r\n".encode(),
    "empty body": b"From: alice@example.test\r\nSubject: nothing\r\n\r\n",
    "no final line end": b"From: alice@example.test\r\n\r\nno end",
    "long lines": b"From: alice@example.test\r\nReferences: " +
                  b" ".join(b"<%d@example.test>" % i for i in range(60)) +
                  b"\r\n\r\n" + b"x" * 5000 + b"\r\n",
}


def run(argv, stdin=None):
    return subprocess.run(argv, input=stdin, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=60)


def verify(wd, signed, record):
    path = os.path.join(wd, "signed")
    with open(path, "wb") as f:
        f.write(signed)
    return dkim_verify(path, record)


wd = tempfile.mkdtemp(prefix="osms-dkim-")
try:
    with t.case("the outside verifier is there"):
        p = run([DEBIAN_PYTHON, "-c", "import dkim, nacl"])
        t.require(p.returncode == 0, "python3-dkim and python3-nacl: %r"
                  % p.stderr[-200:])

    keys = {}
    for kind, args in (("rsa", []), ("ed25519", ["-t", "ed25519"])):
        with t.case("dkim keygen %s: a 0600 key and its DNS record" % kind):
            key = os.path.join(wd, kind + ".key")
            p = run([OSMSCTL, "dkim", "keygen"] + args +
                    ["example.test", "sel-" + kind, key])
            t.require(p.returncode == 0, "keygen: %r" % p.stderr)
            out = p.stdout.decode()
            record = os.path.join(wd, kind + ".txt")
            with open(record, "w") as f:
                f.write(out)
            t.expect(out.startswith("sel-%s._domainkey.example.test. IN "
                                    "TXT (" % kind), "record: %r" % out)
            txt = "".join(re.findall(r'"([^"]*)"', out))
            t.expect(txt.startswith("v=DKIM1; k=%s; p=" % kind),
                     "record text: %r" % txt[:40])
            t.expect(all(len(s) <= 250 for s in
                         re.findall(r'"([^"]*)"', out)),
                     "strings of at most 250 bytes")
            st = os.stat(key)
            t.expect(stat.S_IMODE(st.st_mode) == 0o600, "mode %o"
                     % stat.S_IMODE(st.st_mode))
            before = open(key, "rb").read()
            p = run([OSMSCTL, "dkim", "keygen"] + args +
                    ["example.test", "other", key])
            t.expect(p.returncode != 0 and open(key, "rb").read() == before,
                     "a second keygen never overwrites a key")
            keys[kind] = (key, record)

    for kind, (key, record) in keys.items():
        with t.case("%s signatures verify with dkimpy, for every message "
                    "shape" % kind):
            for name, m in MESSAGES.items():
                p = run([OSMSCTL, "dkim", "sign", "example.test",
                         "sel-" + kind, key], stdin=m)
                t.require(p.returncode == 0, "%s: sign: %r"
                          % (name, p.stderr))
                t.expect(p.stdout.endswith(m) and
                         p.stdout.startswith(b"DKIM-Signature: v=1; a=%s"
                                             % (b"rsa-sha256" if kind ==
                                                "rsa" else
                                                b"ed25519-sha256")),
                         "%s: the field, then the message" % name)
                got = verify(wd, p.stdout, record)
                t.expect(got == "PASS", "%s: verify: %s" % (name, got))

        with t.case("%s: tampering breaks the signature" % kind):
            p = run([OSMSCTL, "dkim", "sign", "example.test", "sel-" + kind,
                     key], stdin=MESSAGES["simple"])
            signed = p.stdout
            t.require(verify(wd, signed, record) == "PASS", "the original")
            for what, bad in (
                    ("body", signed.replace(b"Hi Bob.", b"Hi Rob.")),
                    ("subject", signed.replace(b"Subject: Hello",
                                               b"Subject: Hallo")),
                    ("a From added on top", b"From: mallory@evil.test\r\n" +
                     signed),
                    ("a header signed by d= only", signed.replace(
                        b"d=example.test", b"d=example.org"))):
                t.expect(verify(wd, bad, record) != "PASS",
                         "%s: not verified" % what)

    with t.case("dkim sign refuses what it cannot sign; usage errors"):
        key = keys["ed25519"][0]
        p = run([OSMSCTL, "dkim", "sign", "example.test", "s", key],
                stdin=b"To: b@example.org\r\n\r\nno from\r\n")
        t.expect(p.returncode == 1 and b"no From field" in p.stderr,
                 "no From: %r" % p.stderr)
        p = run([OSMSCTL, "dkim", "sign", "example.test", "bad sel", key],
                stdin=MESSAGES["simple"])
        t.expect(p.returncode == 1 and b"selector" in p.stderr,
                 "bad selector: %r" % p.stderr)
        notkey = os.path.join(wd, "notkey")
        with open(notkey, "w") as f:
            f.write("not a key\n")
        p = run([OSMSCTL, "dkim", "sign", "example.test", "s", notkey],
                stdin=MESSAGES["simple"])
        t.expect(p.returncode == 1, "not a key: %r" % p.stderr)
        p = run([OSMSCTL, "dkim", "keygen", "-t", "dsa", "example.test",
                 "s", os.path.join(wd, "x.key")])
        t.expect(p.returncode == 2 and not os.path.exists(
            os.path.join(wd, "x.key")), "an unknown key type is usage")
finally:
    subprocess.run(["rm", "-rf", wd])

t.done()
