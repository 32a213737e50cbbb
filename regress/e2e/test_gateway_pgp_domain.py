#!/usr/bin/env python3
"""The gateway, OpenPGP: keys attached to mail and gateway (domain) keys.

A correspondent's key attached to its mail (application/pgp-keys) is
taken as the policy says: pgp-keys signed only when the message is
signed with that key (checked with that key alone), pgp-keys yes on
first use, pgp-keys no (the default) never. A partner gateway's key
for its domain (user ID <partner.test>) encrypts mail to any address of
the partner, and its signature counts for them (require-signed, the
subject tag); our own domain key decrypts what the partner encrypts to
example.test and signs for a user who has no key. A recipient's own
key comes before its domain's S/MIME certificate. The other party is
gpg; what leaves is captured at a test smarthost.

Debian packages: gnupg."""
import os
import pwd
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from osmstest import *  # noqa: E402,F401,F403
from gpgpeer import GpgPeer  # noqa: E402
from mailtest import *  # noqa: E402,F401,F403
from smtpsink import Sink  # noqa: E402

t = Tests(__file__)
gpg = GpgPeer("osms-gwpgpdom-", armor=True)


def sh(*args):
    p = subprocess.run(list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise RuntimeError("%s: %s" % (args[0], p.stderr.decode()[-300:]))
    return p.stdout


def crlf(b):
    return b.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def head(sender, mid, subject="keys", to="alice@example.test"):
    return ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: %s\r\n"
            "MIME-Version: 1.0\r\n" % (sender, to, subject, mid)).encode()


def with_key(sender, text):
    """text and the sender's public key attached, as mail clients do."""
    return (b"Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n--m\r\n"
            b"Content-Type: text/plain\r\n\r\n" + text.encode() +
            b"\r\n--m\r\nContent-Type: application/pgp-keys; name=\"key.asc"
            b"\"\r\nContent-Disposition: attachment\r\n\r\n" +
            crlf(gpg("--export", sender)) + b"\r\n--m--\r\n")


def signed(signer, ent):
    sig = crlf(gpg("-u", signer, "--detach-sign", data=ent))
    return (b"Content-Type: multipart/signed; micalg=pgp-sha256;\r\n\t"
            b"protocol=\"application/pgp-signature\"; boundary=\"s\"\r\n\r\n"
            b"--s\r\n" + ent + b"\r\n--s\r\nContent-Type: application/"
            b"pgp-signature\r\n\r\n" + sig + b"\r\n--s--\r\n")


def encrypted(arm):
    return (b"Content-Type: multipart/encrypted; protocol=\"application/"
            b"pgp-encrypted\";\r\n\tboundary=\"e\"\r\n\r\n--e\r\nContent-"
            b"Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n--e"
            b"\r\nContent-Type: application/octet-stream\r\n\r\n" +
            crlf(arm) + b"\r\n--e--\r\n")


def smtp(port, sender, data):
    return smtp_data(port, sender, data, helo="remote.test")


def key_of(o, addr):
    """The fingerprint osmsctl pgp lists for addr, or None."""
    p = o.ctl("pgp", "list", addr)
    m = re.search(r"^([0-9A-F]{40}) pub", p.stdout, re.M)
    return m.group(1) if m else None


sink = Sink()
with Osms(start=False) as o:
    o.write_conf(o.make_conf(
        "relay host 127.0.0.1 port %d tls none\n" % sink.port,
        "cryptod {\n"
        "\trule inbound from .signedkeys.test pgp-keys signed\n"
        "\trule inbound from .tofu.test pgp-keys yes\n"
        "\trule inbound from partner.test require-signed subject-tag "
        "yes\n}\n"))
    o.start()
    mx, sub = o.ports["smtp"], o.ports["submission"]
    box = Mailboxes(o)
    home = os.path.join(o.path("certs"), "gnupg")
    try:
        for who in ("dan@signedkeys.test", "mal@signedkeys.test",
                    "ola@signedkeys.test",
                    "eve@tofu.test", "nia@nokeys.test", "<partner.test>"):
            gpg("--quick-gen-key", who, "future-default", "default",
                "never")

        with t.case("pgp-keys signed: a key the message is signed with is "
                    "taken, and the reply is encrypted to it"):
            mid = message_id()
            code, text = smtp(mx, "dan@signedkeys.test", head(
                "dan@signedkeys.test", mid) + signed(
                    "dan@signedkeys.test", with_key("dan@signedkeys.test",
                                                    "my key")))
            m = box.wait_for("alice", mid)
            t.require(code == 250 and m is not None, "%d %r" % (code, text))
            # The first message itself is not "verified": the key came
            # with it.
            t.expect((m["X-Osms-PGP"] or "").startswith(
                "failed (signed by a key not in the keyring"),
                repr(m["X-Osms-PGP"]))
            fpr = wait_until(lambda: key_of(o, "dan@signedkeys.test"), 10)
            t.expect(fpr is not None and wait_log(
                o, r"from=<dan@signedkeys\.test> attached key, signed with "
                r"it: key %s harvested" % fpr), "harvested, audited")
            t.expect(not [n for n in os.listdir(o.path("certs"))
                          if n.startswith(".verify")], "scratch home left")
            mid = submit(sub, ["dan@signedkeys.test"], body="the reply\r\n")
            got = wait_until(lambda: [m for m in sink.messages
                                      if mid.encode() in m.data], 30)
            t.require(len(got) == 1, "not relayed")
            t.expect(b"the reply" not in got[0].data and b"the reply" in
                     gpg.decrypt_armored(got[0].data),
                     "the reply is encrypted to dan's key")
            # The same key again: known, nothing to take or to say.
            mid = message_id()
            code, _ = smtp(mx, "dan@signedkeys.test", head(
                "dan@signedkeys.test", mid) + signed(
                    "dan@signedkeys.test", with_key("dan@signedkeys.test",
                                                    "again")))
            t.expect(code == 250 and box.wait_for("alice", mid) is not None,
                     "delivered")
            t.expect(len(re.findall(r"from=<dan@signedkeys\.test> attached "
                                    r"key", o.log())) == 1,
                     "a known key again is audited again")

        with t.case("pgp-keys signed: a key the message is not signed with "
                    "is not taken"):
            mid = message_id()
            code, _ = smtp(mx, "mal@signedkeys.test", head(
                "mal@signedkeys.test", mid) + with_key("mal@signedkeys.test",
                                                       "unsigned"))
            t.expect(code == 250 and box.wait_for("alice", mid) is not None,
                     "delivered")
            t.expect(wait_log(o, r"from=<mal@signedkeys\.test> attached "
                              r"key: ignored, the message is not signed "
                              r"with it"), "said why")
            t.expect(key_of(o, "mal@signedkeys.test") is None, "taken")

        with t.case("pgp-keys yes: taken on first use, with its address's "
                    "user ID only; pgp-keys no (the default): never"):
            # eve's key also claims her domain: that user ID stays out.
            efpr = re.search(rb"^fpr:+([0-9A-F]{40}):", gpg(
                "--with-colons", "--list-keys", "eve@tofu.test"),
                re.M).group(1).decode()
            gpg("--quick-add-uid", efpr, "<tofu.test>")
            mid = message_id()
            code, _ = smtp(mx, "eve@tofu.test", head("eve@tofu.test", mid) +
                           with_key("eve@tofu.test", "tofu"))
            t.expect(code == 250 and box.wait_for("alice", mid) is not None,
                     "delivered")
            t.expect(wait_until(lambda: key_of(o, "eve@tofu.test"), 10) is
                     not None, "eve's key not taken")
            listed = o.ctl("pgp", "list", "eve@tofu.test").stdout
            t.expect(re.search(r"^%s pub usable  eve@tofu\.test$" % efpr,
                               listed, re.M) is not None,
                     "her domain's user ID came along: " + listed)
            mid = message_id()
            code, _ = smtp(mx, "nia@nokeys.test", head("nia@nokeys.test",
                                                       mid) +
                           signed("nia@nokeys.test",
                                  with_key("nia@nokeys.test", "no")))
            t.expect(code == 250 and box.wait_for("alice", mid) is not None,
                     "delivered")
            time.sleep(1)
            t.expect(key_of(o, "nia@nokeys.test") is None, "nia's key taken")

        # Gateway to gateway: the partner's domain key here, ours there.
        f = o.write_file("partner.asc", gpg("--export", "<partner.test>")
                         .decode(), 0o600)
        t.require(o.ctl("pgp", "import", f).returncode == 0,
                  "import the partner's domain key")
        p = o.ctl("pgp", "keygen", "example.test")
        t.require(p.returncode == 0, "keygen example.test: " + p.stderr)
        ours = p.stdout.split()[0]
        gpg("--import", data=o.ctl("pgp", "export",
                                   "example.test").stdout.encode())

        with t.case("pgp-keys signed: signed inside the encryption with "
                    "the key attached inside: taken"):
            mid = message_id()
            arm = gpg("-u", "ola@signedkeys.test", "-r", "<example.test>",
                      "--sign", "--encrypt",
                      data=with_key("ola@signedkeys.test", "sealed"))
            code, text = smtp(mx, "ola@signedkeys.test", head(
                "ola@signedkeys.test", mid) + encrypted(arm))
            m = box.wait_for("alice", mid)
            t.require(code == 250 and m is not None, "%d %r" % (code, text))
            t.expect((m["X-Osms-PGP"] or "").startswith(
                "decrypted for example.test; failed (signed by a key not in "
                "the keyring"), repr(m["X-Osms-PGP"]))
            fpr = wait_until(lambda: key_of(o, "ola@signedkeys.test"), 10)
            t.expect(fpr is not None and wait_log(
                o, r"from=<ola@signedkeys\.test> attached key, signed with "
                r"it: key %s harvested" % fpr), "harvested, audited")

        with t.case("require-signed: an unsigned message from the partner "
                    "is refused, naming S/MIME and OpenPGP"):
            code, text = smtp(mx, "carl@partner.test", head(
                "carl@partner.test", message_id()) +
                b"Content-Type: text/plain\r\n\r\nplain\r\n")
            t.expect(code == 550 and b"valid S/MIME or OpenPGP signature" in
                     text, "%d %r" % (code, text))

        with t.case("the partner gateway signs with its domain key and "
                    "encrypts to ours: decrypted, verified, tagged"):
            mid = message_id()
            arm = gpg("-u", "<partner.test>", "-r", "<example.test>",
                      "--sign", "--encrypt", data=b"Content-Type: text/"
                      b"plain\r\n\r\nfrom the partner gateway\r\n")
            code, text = smtp(mx, "carl@partner.test", head(
                "carl@partner.test", mid, subject="hello") + encrypted(arm))
            m = box.wait_for("alice", mid)
            t.require(code == 250 and m is not None, "%d %r" % (code, text))
            t.expect(m["X-Osms-PGP"] == "decrypted for example.test; "
                     "verified signer=partner.test (the domain's key)",
                     repr(m["X-Osms-PGP"]))
            t.expect(m["Subject"] == "[encrypted] [signed] hello",
                     repr(m["Subject"]))
            t.expect(b"from the partner gateway" in
                     box.raw_bytes("alice", mid), "not decrypted")

        with t.case("a recipient's own OpenPGP key comes before its "
                    "domain's S/MIME certificate"):
            # rank.test: a gateway certificate, and una's own key.
            pki = tempfile.mkdtemp(prefix="osms-gwpgpdom-pki-")
            try:
                def p(n):
                    return os.path.join(pki, n)
                sh("openssl", "req", "-x509", "-newkey", "rsa:2048",
                   "-nodes", "-keyout", p("ca.key"), "-out", p("ca.pem"),
                   "-days", "2", "-subj", "/CN=rank CA", "-addext",
                   "basicConstraints=critical,CA:TRUE", "-addext",
                   "keyUsage=critical,keyCertSign")
                with open(p("gw.ext"), "w") as f:
                    f.write("basicConstraints=critical,CA:FALSE\nkeyUsage="
                            "critical,digitalSignature,keyEncipherment\n"
                            "extendedKeyUsage=emailProtection\nsubjectAlt"
                            "Name=email:postmaster@rank.test,DNS:rank.test"
                            "\n")
                sh("openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes",
                   "-keyout", p("gw.key"), "-out", p("gw.csr"), "-subj",
                   "/CN=rank.test")
                sh("openssl", "x509", "-req", "-in", p("gw.csr"), "-CA",
                   p("ca.pem"), "-CAkey", p("ca.key"), "-set_serial", "7",
                   "-days", "2", "-extfile", p("gw.ext"), "-out", p("gw.pem"))
                crypt = pwd.getpwnam("_osmscrypt")
                for src, dst in (("ca.pem", "trust.pem"),
                                 ("gw.pem", "rank.test.pem")):
                    dst = os.path.join(o.path("certs"), dst)
                    with open(p(src), "rb") as f, open(dst, "wb") as g:
                        g.write(f.read())
                    os.chown(dst, crypt.pw_uid, crypt.pw_gid)
                gpg("--quick-gen-key", "<una@rank.test>", "future-default",
                    "default", "never")
                f = o.write_file("una.asc", gpg("--export", "una@rank.test")
                                 .decode(), 0o600)
                t.require(o.ctl("pgp", "import", f).returncode == 0, "una")
                t.require(o.ctl("reload").returncode == 0, "reload")
                time.sleep(0.5)
                mid = submit(sub, ["una@rank.test", "vic@rank.test"],
                             body="ranked\r\n")
                wait_until(lambda: len([m for m in sink.messages
                                        if mid.encode() in m.data]) >= 2, 30)
                got = {",".join(m.rcpts): m.data for m in sink.messages
                       if mid.encode() in m.data}
                una = got.get("una@rank.test", b"")
                vic = got.get("vic@rank.test", b"")
                t.expect(b"ranked" in gpg.decrypt_armored(una),
                         "una: her own key")
                t.expect(b"application/pkcs7-mime" in vic and b"ranked" not
                         in vic, "vic: the domain's certificate")
            finally:
                subprocess.run(["rm", "-rf", pki])

        with t.case("to the partner: encrypted to its domain key, signed "
                    "with ours for a user who has no key"):
            mid = submit(sub, ["carl@partner.test"], body="to the "
                         "partner\r\n")
            got = wait_until(lambda: [m for m in sink.messages
                                      if mid.encode() in m.data], 30)
            t.require(len(got) == 1, "not relayed")
            inner = gpg.decrypt_armored(got[0].data)
            t.require(inner and b"to the partner" not in got[0].data,
                      "not encrypted")
            t.expect(b"to the partner" in inner and
                     b"application/pgp-signature" in inner, "signed inside")
            partner = key_of(o, "partner.test")
            t.expect(wait_log(o, r"to=<carl@partner\.test> encrypted "
                              r"openpgp key=%s origin=domain" % partner),
                     "audited as the domain's key")
            t.expect(wait_log(o, r"from=<alice@example\.test> signed "
                              r"openpgp key=%s origin=domain" % ours),
                     "signed with the domain key")
    finally:
        gpg.close(home)
        sink.close()
t.done()
