#!/usr/bin/python3
"""Writes regress/data/arc/: a message ARC-sealed by two forwarders
(list.test, then fwd.test) with dkimpy (Debian's python3-dkim), and the
key records its seals verify with, for the unit test of lib/mail/arc.c.

    /usr/bin/python3 scripts/gen-arc-fixture.py regress/data/arc
"""
import base64
import os
import subprocess
import sys

import dkim

out = sys.argv[1]
keys = {}
records = {}
for dom, sel in (("list.test", "arc1"), ("fwd.test", "arc2")):
    pem = subprocess.run(["openssl", "genpkey", "-algorithm", "RSA",
                          "-pkeyopt", "rsa_keygen_bits:2048"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubout", "-outform", "DER"],
                         input=pem, stdout=subprocess.PIPE,
                         check=True).stdout
    keys[dom] = (sel, pem)
    records["%s._domainkey.%s." % (sel, dom)] = (
        "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode())


def dnsfunc(name, timeout=5):
    return records.get(name.decode() if isinstance(name, bytes) else name,
                       "").encode()


msg = (b"From: Ann <ann@strict.test>\r\nTo: list@list.test\r\n"
       b"Subject: [list] hello\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\n"
       b"Message-ID: <arc-fixture@strict.test>\r\n\r\n"
       b"Hello, list.\r\n\r\n-- \r\nthe list's footer\r\n")
for dom, authres in (("list.test", b"Authentication-Results: list.test; "
                      b"spf=pass smtp.mailfrom=ann@strict.test\r\n"),
                     ("fwd.test", b"Authentication-Results: fwd.test; "
                      b"arc=pass\r\n")):
    sel, pem = keys[dom]
    msg = authres + msg
    sig = dkim.arc_sign(msg, sel.encode(), dom.encode(), pem,
                        dom.encode())
    msg = b"".join(sig) + msg
    res = dkim.arc_verify(msg, dnsfunc=dnsfunc)
    if res[0] != dkim.CV_Pass:
        sys.exit("dkimpy does not verify its own seal: %r" % (res,))
with open(os.path.join(out, "two-hops.eml"), "wb") as f:
    f.write(msg)
with open(os.path.join(out, "keys.txt"), "w") as f:
    for name, rec in sorted(records.items()):
        f.write("%s %s\n" % (name, rec))
