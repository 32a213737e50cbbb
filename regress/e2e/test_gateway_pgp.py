#!/usr/bin/env python3
"""The gateway, OpenPGP inbound: PGP/MIME (and inline PGP) made by gpg
(the other party) for alice, whose key pair osmsctl pgp made in the
store, is decrypted before the virus scan and its signature checked;
what was done is in an X-Osms-PGP field, which a sender cannot set. An
encrypted part among unencrypted ones is left alone (EFAIL); an
encrypted virus is refused at DATA; a message without integrity
protection (no MDC) is refused; one for a key that is not here, or for a
recipient whose policy says decrypt no, is delivered as it came.

Debian packages: gnupg."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from osmstest import *  # noqa: E402,F401,F403
from gpgpeer import GpgPeer  # noqa: E402
from mailtest import *  # noqa: E402,F401,F403

t = Tests(__file__)
EICAR = ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-"
         "FILE!$H+H*")
gpg = GpgPeer("osms-gwpgp-", armor=True)


def entity(body):
    return ("Content-Type: text/plain; charset=us-ascii\r\n\r\n%s\r\n"
            % body).encode()


def outer(mid, to="alice@example.test", extra=""):
    return ("From: <bob@remote.test>\r\nTo: <%s>\r\nSubject: pgp\r\n"
            "Message-ID: %s\r\n%sMIME-Version: 1.0\r\n"
            % (to, mid, extra)).encode()


def encrypted(mid, armored, to="alice@example.test", extra=""):
    armored = armored.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return outer(mid, to, extra) + (
        b"Content-Type: multipart/encrypted; protocol=\"application/"
        b"pgp-encrypted\";\r\n\tboundary=\"b\"\r\n\r\n--b\r\nContent-Type: "
        b"application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n--b\r\n"
        b"Content-Type: application/octet-stream\r\n\r\n" + armored +
        b"\r\n--b--\r\n")


def signed(mid, body, tamper=False):
    ent = entity(body)
    sig = gpg("-u", "bob@remote.test", "--detach-sign", data=ent)
    sig = sig.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if tamper:
        ent = ent.replace(b"signed", b"SIGNED")
    return outer(mid) + (
        b"Content-Type: multipart/signed; micalg=pgp-sha256;\r\n\tprotocol"
        b"=\"application/pgp-signature\"; boundary=\"b\"\r\n\r\n--b\r\n" +
        ent + b"\r\n--b\r\nContent-Type: application/pgp-signature\r\n\r\n" +
        sig + b"\r\n--b--\r\n")


def smtp(port, data, rcpt="alice@example.test"):
    return smtp_data(port, "bob@remote.test", data, (rcpt,), "remote.test")


with Osms() as o:
    mx = o.ports["smtp"]
    box = Mailboxes(o)
    home = os.path.join(o.path("certs"), "gnupg")
    try:
        # alice's key pair in the store; bob's and mallory's with gpg.
        p = o.ctl("pgp", "keygen", "alice@example.test")
        t.require(p.returncode == 0, p.stdout + p.stderr)
        gpg("--import", data=o.ctl("pgp", "export",
                                   "alice@example.test").stdout.encode())
        for who in ("Bob <bob@remote.test>", "Mallory <mallory@evil.test>"):
            gpg("--quick-gen-key", who, "future-default", "default", "never")
        f = o.write_file("bob.asc", gpg("--export", "bob@remote.test")
                         .decode(), 0o600)
        t.require(o.ctl("pgp", "import", f).returncode == 0, "import bob")
        t.require(o.ctl("reload").returncode == 0, "reload")
        time.sleep(0.5)

        with t.case("signed and encrypted for alice: delivered decrypted, "
                    "scanned, the signature verified"):
            mid = message_id()
            arm = gpg("-u", "bob@remote.test", "-r", "alice@example.test",
                      "--sign", "--encrypt", data=entity("the secret text"))
            code, text = smtp(mx, encrypted(mid, arm, extra="X-Osms-PGP: "
                                            "verified signer=ceo@x\r\n"))
            t.expect(code == 250, "%d %r" % (code, text))
            m = box.wait_for("alice", mid)
            t.require(m is not None, "not delivered")
            raw = box.raw_bytes("alice", mid)
            t.expect(b"the secret text" in raw and b"BEGIN PGP MESSAGE" not
                     in raw, "not decrypted")
            t.expect(m.get_all("X-Osms-PGP") == [
                "decrypted for alice@example.test; verified "
                "signer=bob@remote.test"], repr(m.get_all("X-Osms-PGP")))
            t.expect(m["X-Virus-Scanned"] is not None, "not scanned")
            t.expect(wait_log(o, r"cryptod: \S+ from=<bob@remote\.test> "
                              r"inbound openpgp: decrypted for "
                              r"alice@example\.test"), "audited")

        with t.case("inline PGP (a text/plain body that is one armored "
                    "message): decrypted"):
            mid = message_id()
            arm = gpg("-r", "alice@example.test", "--encrypt",
                      data=b"inline secret\n")
            arm = arm.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            code, _ = smtp(mx, outer(mid) + b"Content-Type: text/plain\r\n"
                           b"\r\n" + arm)
            m = box.wait_for("alice", mid)
            t.expect(code == 250 and m is not None and m["X-Osms-PGP"] ==
                     "decrypted for alice@example.test (inline)" and
                     b"inline secret" in box.raw_bytes("alice", mid),
                     repr(m and m["X-Osms-PGP"]))

        with t.case("EFAIL: an encrypted part between HTML parts is not "
                    "decrypted, and the field says why"):
            mid = message_id()
            arm = gpg("-r", "alice@example.test", "--encrypt",
                      data=entity("the spliced secret"))
            arm = arm.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            code, _ = smtp(mx, outer(mid) + (
                b"Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n"
                b"--m\r\nContent-Type: text/html\r\n\r\n<img src=\"http://"
                b"evil.test/\r\n--m\r\nContent-Type: multipart/encrypted; "
                b"protocol=\"application/pgp-encrypted\"; boundary=\"e\"\r\n"
                b"\r\n--e\r\nContent-Type: application/pgp-encrypted\r\n\r\n"
                b"Version: 1\r\n\r\n--e\r\nContent-Type: application/octet-"
                b"stream\r\n\r\n" + arm + b"\r\n--e--\r\n--m\r\nContent-"
                b"Type: text/html\r\n\r\n\">\r\n--m--\r\n"))
            m = box.wait_for("alice", mid)
            t.require(code == 250 and m is not None, "not delivered")
            raw = box.raw_bytes("alice", mid)
            t.expect(m["X-Osms-PGP"] == "an encrypted part among unencrypted"
                     " ones: not decrypted (EFAIL)", repr(m["X-Osms-PGP"]))
            t.expect(b"the spliced secret" not in raw and
                     b"BEGIN PGP MESSAGE" in raw, "decrypted")
            t.expect(wait_log(o, r"inbound openpgp: an encrypted part among "
                              r"unencrypted ones"), "audited")

        with t.case("an encrypted virus is refused at DATA"):
            arm = gpg("-r", "alice@example.test", "--encrypt",
                      data=entity(EICAR))
            code, text = smtp(mx, encrypted(message_id(), arm))
            t.expect(code == 550 and b"Osms.Test.EICAR" in text,
                     "%d %r" % (code, text))

        with t.case("no integrity protection (no MDC): refused at DATA"):
            arm = gpg("--rfc2440", "-r", "alice@example.test", "--encrypt",
                      data=entity("malleable"))
            code, text = smtp(mx, encrypted(message_id(), arm))
            t.expect(code == 550 and b"5.7.1" in text and
                     b"without integrity protection" in text,
                     "%d %r" % (code, text))

        with t.case("for a key not here: delivered as it came, said so"):
            mid = message_id()
            arm = gpg("-r", "mallory@evil.test", "--encrypt",
                      data=entity("for mallory"))
            code, _ = smtp(mx, encrypted(mid, arm))
            m = box.wait_for("alice", mid)
            t.expect(code == 250 and m is not None and
                     (m["X-Osms-PGP"] or "").startswith(
                         "encrypted, for no key here") and
                     m.get_content_type() == "multipart/encrypted",
                     repr(m and m["X-Osms-PGP"]))

        with t.case("for alice's key but to bob@example.test: not "
                    "decrypted for him"):
            mid = message_id()
            arm = gpg("-r", "alice@example.test", "--encrypt",
                      data=entity("not for bob"))
            code, _ = smtp(mx, encrypted(mid, arm, to="bob@example.test"),
                           rcpt="bob@example.test")
            m = box.wait_for("bob", mid)
            t.expect(code == 250 and m is not None and
                     m.get_content_type() == "multipart/encrypted" and
                     "not encrypted for a key of its recipients" in
                     (m["X-Osms-PGP"] or ""), repr(m and m["X-Osms-PGP"]))

        with t.case("multipart/signed by bob: verified; tampered: failed"):
            mid = message_id()
            code, _ = smtp(mx, signed(mid, "signed by bob"))
            m = box.wait_for("alice", mid)
            t.expect(code == 250 and m is not None and m["X-Osms-PGP"] ==
                     "verified signer=bob@remote.test",
                     repr(m and m["X-Osms-PGP"]))
            mid = message_id()
            code, _ = smtp(mx, signed(mid, "signed by bob", tamper=True))
            m = box.wait_for("alice", mid)
            t.expect(code == 250 and m is not None and m["X-Osms-PGP"] ==
                     "failed (the signature does not verify)",
                     repr(m and m["X-Osms-PGP"]))

        with t.case("a key with two addresses verifies for either; for "
                    "a third, the signer mismatches"):
            bfpr = re.search(rb"^fpr:+([0-9A-F]{40}):", gpg(
                "--with-colons", "--list-keys", "bob@remote.test"),
                re.M).group(1).decode()
            gpg("--quick-add-uid", bfpr, "Bob <robert@remote.test>")
            f = o.write_file("bob2.asc", gpg("--export", "bob@remote.test")
                             .decode(), 0o600)
            t.require(o.ctl("pgp", "import", f).returncode == 0, "import")
            got = []
            for sender in ("bob@remote.test", "robert@remote.test",
                           "carl@remote.test"):
                mid = message_id()
                data = signed(mid, "signed by bob").replace(
                    b"From: <bob@remote.test>", ("From: <%s>" % sender)
                    .encode(), 1)
                code, _ = smtp(mx, data)
                m = box.wait_for("alice", mid)
                got.append(m["X-Osms-PGP"] if m is not None else None)
            t.expect(got[:2] == ["verified signer=bob@remote.test",
                                 "verified signer=robert@remote.test"] and
                     re.fullmatch(r"signer mismatch signer=(bob|robert)"
                                  r"@remote\.test from=carl@remote\.test",
                                  got[2] or "") is not None, repr(got))

        with t.case("decrypt no: the policy keeps it encrypted"):
            o.write_conf(o.conf_text() + "cryptod {\n\trule inbound to "
                         "alice@example.test decrypt no\n}\n")
            t.require(o.ctl("reload").returncode == 0, "reload")
            time.sleep(0.5)
            mid = message_id()
            arm = gpg("-r", "alice@example.test", "--encrypt",
                      data=entity("stays sealed"))
            code, _ = smtp(mx, encrypted(mid, arm))
            m = box.wait_for("alice", mid)
            t.expect(code == 250 and m is not None and
                     m["X-Osms-PGP"] == "encrypted, not decrypted (policy)",
                     repr(m and m["X-Osms-PGP"]))
    finally:
        gpg.close(home)
t.done()
