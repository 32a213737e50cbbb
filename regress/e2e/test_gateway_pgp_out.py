#!/usr/bin/env python3
"""The gateway, OpenPGP outbound: a recipient whose OpenPGP key is in the
store's GnuPG home (and who has no certificate, or whose rule says
prefer openpgp) gets a PGP/MIME encrypted copy, which gpg decrypts with
that recipient's key; a mixed list (one S/MIME recipient, one OpenPGP,
one with neither) gets three copies; encrypt mandatory is satisfied by
an OpenPGP key. Autocrypt: a correspondent's key is harvested from its
mail, so the reply is encrypted; a changed key is held until osmsctl pgp
accept; alice's own key goes out in her mail. What leaves is captured at
a test smarthost.

Debian packages: gnupg, openssl."""
import base64
import os
import re
import smtplib
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from osmstest import *  # noqa: E402,F401,F403
from gpgpeer import GpgPeer  # noqa: E402
from mailtest import *  # noqa: E402,F401,F403
from smtpsink import Sink  # noqa: E402

t = Tests(__file__)
gpg = GpgPeer("osms-gwpgpout-")


def ctype(data):
    m = re.search(rb"^Content-Type:[ \t]*([^;\r\n]*)", data.split(
        b"\r\n\r\n", 1)[0], re.M | re.I)
    return m.group(1).decode() if m else ""


def copies(sink, mid, n):
    wait_until(lambda: len([m for m in sink.messages
                            if mid.encode() in m.data]) >= n, 30)
    return [m for m in sink.messages if mid.encode() in m.data]


def to_of(m):
    return ",".join(sorted(m.rcpts))


sink = Sink()
with Osms(start=False) as o:
    o.write_conf(o.make_conf("relay host 127.0.0.1 port %d tls none\n"
                             % sink.port, "cryptod {\n"
                             "\trule outbound to frank@both.test prefer "
                             "openpgp\n"
                             "\trule outbound to .pgp.test encrypt "
                             "mandatory\n"
                             "\trule outbound to .pgpsign.test prefer "
                             "openpgp\n"
                             "\trule autocrypt yes\n}\n"))
    o.start()
    home = os.path.join(o.path("certs"), "gnupg")
    sub = o.ports["submission"]
    try:
        t.require(o.ctl("cert", "ca").returncode == 0, "cert ca")
        for a in ("carol@smime.test", "frank@both.test"):
            t.require(o.ctl("cert", "issue", a).returncode == 0, a)
        for who in ("Dave <dave@pgp.test>", "Frank <frank@both.test>"):
            gpg("--quick-gen-key", who, "future-default", "default",
                "never")
        f = o.write_file("keys.asc", gpg("--armor", "--export",
                                         "dave@pgp.test", "frank@both.test")
                         .decode(), 0o600)
        p = o.ctl("pgp", "import", f)
        t.require(p.returncode == 0 and p.stdout.count("imported") == 2,
                  p.stdout + p.stderr)
        t.require(o.ctl("reload").returncode == 0, "reload")
        time.sleep(0.5)

        with t.case("a mixed list: S/MIME, OpenPGP and plain copies"):
            mid = submit(sub, ["carol@smime.test", "dave@pgp.test",
                               "erin@plain.test"], body="for all three\r\n")
            got = {to_of(m): m.data for m in copies(sink, mid, 3)}
            t.require(len(got) == 3, "copies: %r" % list(got))
            t.expect(ctype(got["carol@smime.test"]) ==
                     "application/pkcs7-mime", "carol: S/MIME")
            dave = got["dave@pgp.test"]
            t.expect(ctype(dave) == "multipart/encrypted" and
                     b'protocol="application/pgp-encrypted"' in dave and
                     b"for all three" not in dave, "dave: PGP/MIME")
            inner = gpg.decrypt_armored(dave)
            t.expect(b"for all three" in inner, "gpg decrypts dave's copy")
            t.expect(ctype(got["erin@plain.test"]) == "multipart/signed" and
                     b"for all three" in got["erin@plain.test"],
                     "erin: signed, in the clear")
            key = o.ctl("pgp", "list", "dave@pgp.test").stdout.split()[0]
            t.expect(wait_log(o, r"to=<dave@pgp\.test> encrypted openpgp "
                              r"key=%s rule=\d+" % key), "audited")

        with t.case("prefer openpgp: frank has both, gets OpenPGP"):
            mid = submit(sub, ["frank@both.test"], body="for frank\r\n")
            got = copies(sink, mid, 1)
            t.expect(len(got) == 1 and ctype(got[0].data) ==
                     "multipart/encrypted" and b"for frank" in
                     gpg.decrypt_armored(got[0].data), "frank: PGP/MIME")

        with t.case("encrypt mandatory is met by an OpenPGP key; without "
                    "one, refused at DATA"):
            mid = submit(sub, ["dave@pgp.test"], body="mandatory\r\n")
            got = copies(sink, mid, 1)
            t.expect(len(got) == 1 and ctype(got[0].data) ==
                     "multipart/encrypted", "dave: encrypted")
            try:
                submit(sub, ["nokey@pgp.test"], body="x\r\n")
                e = None
            except Exception as err:  # noqa: BLE001
                e = err
            t.expect(e is not None and getattr(e, "smtp_code", 0) == 550,
                     repr(e))

        def autocrypt(addr, keydata):
            b64 = base64.b64encode(keydata).decode()
            lines = [b64[i:i + 76] for i in range(0, len(b64), 76)]
            return ("Autocrypt: addr=%s; prefer-encrypt=mutual; keydata=\r\n "
                    % addr + "\r\n ".join(lines) + "\r\n").encode()

        def from_gina(ac_field):
            mid = message_id()
            msg = (b"From: <gina@ac.test>\r\nTo: <alice@example.test>\r\n"
                   b"Subject: hi\r\nMessage-ID: " + mid.encode() +
                   b"\r\n" + ac_field + b"\r\nhello alice\r\n")
            c = smtplib.SMTP("127.0.0.1", o.ports["smtp"], timeout=30)
            c.sendmail("gina@ac.test", ["alice@example.test"], msg)
            c.quit()
            return mid

        with t.case("Autocrypt: gina's key harvested from her mail; the "
                    "reply to her is encrypted"):
            gpg("--quick-gen-key", "Gina <gina@ac.test>", "future-default",
                "default", "never")
            first = gpg("--export", "--export-options", "export-minimal",
                        "gina@ac.test")
            gpg("--quick-gen-key", "Mallory <mallory@ac.test>",
                "future-default", "default", "never")
            # For someone else than the sender: ignored.
            from_gina(autocrypt("mallory@ac.test", gpg(
                "--export", "mallory@ac.test")))
            t.expect(wait_log(o, r"from=<gina@ac\.test> autocrypt: for "
                              r"<mallory@ac\.test>, not the sender"),
                     "ignored")
            from_gina(autocrypt("gina@ac.test", first))
            t.expect(wait_log(o, r"from=<gina@ac\.test> autocrypt: key "
                              r"[0-9A-F]{40} harvested"), "harvested")
            p = o.ctl("pgp", "list", "gina@ac.test")
            t.expect(re.match(r"^[0-9A-F]{40} pub usable ", p.stdout),
                     p.stdout)
            mid = submit(sub, ["gina@ac.test"], body="reply to gina\r\n")
            got = copies(sink, mid, 1)
            t.expect(len(got) == 1 and b"reply to gina" in
                     gpg.decrypt_armored(got[0].data), "encrypted for gina")

        with t.case("a changed key is held, not used, until osmsctl pgp "
                    "accept"):
            old = o.ctl("pgp", "list", "gina@ac.test").stdout.split()[0]
            g2 = GpgPeer("osms-gwpgpout2-")
            g2("--quick-gen-key", "Gina <gina@ac.test>", "future-default",
               "default", "never")
            second = g2("--export", "gina@ac.test")
            from_gina(autocrypt("gina@ac.test", second))
            t.expect(wait_log(o, r"autocrypt: a new key [0-9A-F]{40} differs"
                              r" from the known %s: held" % old), "held")
            p = o.ctl("pgp", "list")
            t.expect("held gina@ac.test: a new key from mail" in
                     p.stdout, p.stdout)
            mid = submit(sub, ["gina@ac.test"], body="still old\r\n")
            got = copies(sink, mid, 1)
            t.expect(len(got) == 1 and b"still old" in gpg.decrypt_armored(
                got[0].data), "the known key is used")
            p = o.ctl("pgp", "accept", "gina@ac.test")
            t.expect(p.returncode == 0 and "removed %s" % old in p.stdout and
                     "accepted " in p.stdout, p.stdout + p.stderr)
            mid = submit(sub, ["gina@ac.test"], body="now new\r\n")
            got = copies(sink, mid, 1)
            t.expect(b"now new" in g2.decrypt_armored(got[0].data),
                     "the accepted key is used")
            g2.close()

        with t.case("alice's own key goes out in an Autocrypt field, which "
                    "gpg imports"):
            t.require(o.ctl("pgp", "keygen", "alice@example.test")
                      .returncode == 0, "keygen")
            mid = submit(sub, ["erin@plain.test"], body="with my key\r\n")
            got = copies(sink, mid, 1)
            head = got[0].data.split(b"\r\n\r\n", 1)[0]
            m = re.search(rb"^Autocrypt: addr=alice@example\.test; "
                          rb"prefer-encrypt=mutual; keydata="
                          rb"((?:\r\n [^\r\n]*)+)", head, re.M)
            t.require(m is not None, head.decode()[:600])
            key = base64.b64decode(re.sub(rb"\s", b"", m.group(1)))
            r = gpg.run("--import", data=key)
            t.expect(r.returncode == 0 and b"alice@example.test" in r.stderr,
                     r.stderr.decode())

        with t.case("prefer openpgp: alice's mail is PGP/MIME signed, and "
                    "gpg verifies it"):
            mid = submit(sub, ["x@pgpsign.test"], body="signed by alice\r\n")
            got = copies(sink, mid, 1)
            data = got[0].data
            t.require(ctype(data) == "multipart/signed" and
                      b'protocol="application/pgp-signature"' in data,
                      data[:400].decode())
            b = re.search(rb'boundary="([^"]+)"', data).group(1)
            parts = data.split(b"--" + b)
            content = parts[1][2:-2]
            sig = parts[2].split(b"\r\n\r\n", 1)[1]
            with open(gpg.path("c.txt"), "wb") as f:
                f.write(content)
            with open(gpg.path("c.asc"), "wb") as f:
                f.write(sig)
            r = gpg.run("--status-fd", "1", "--verify", gpg.path("c.asc"),
                        gpg.path("c.txt"))
            t.expect(r.returncode == 0 and b"[GNUPG:] GOODSIG" in r.stdout,
                     r.stdout.decode() + r.stderr.decode())
            t.expect(wait_log(o, r"from=<alice@example\.test> signed "
                              r"openpgp key=[0-9A-F]{40}"), "audited")
    finally:
        gpg.close(home)
t.done()
