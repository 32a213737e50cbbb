#!/usr/bin/env python3
"""The content half of the attack catalogue, the gateway (shared/
SECURITY.md section 2 rows G1, G2, G4-G8; section 4 efail and
signature-spoofing): malleated ciphertexts, CMS oddities, GnuPG
status-line injection, ambiguous senders and partially signed mail,
forged verdict fields, and old ciphertexts sent again to be read by
someone else (the decryption oracle).

The messages are made by independent peers: `openssl cms` (S/MIME) and
gpg (OpenPGP), then changed here byte by byte where an attack needs it
(a CBC ciphertext block, an OpenPGP packet). The store holds alice's and
bob@example.test's certificates and keys and the test CA; the GnuPG
home alice's and bob@example.test's key pairs and bob@remote.test's
public key. An alias forwards to a sink outside, which must never see
a plaintext. Row G3 (direct exfiltration) is in test_gateway.py and
test_gateway_pgp.py ("EFAIL: ...").

Debian packages: openssl, gnupg.
"""
import base64
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
from attacktest import Attack, assert_untouched  # noqa: E402
from gpgpeer import GpgPeer  # noqa: E402
from smtpsink import Sink  # noqa: E402

t = Tests(__file__)
SECRET = "THE OLD SECRET"


def sh(args, data=None):
    return subprocess.run(args, input=data, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, check=True).stdout


def crlf(b):
    return b.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def make_pki(d):
    sh(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
        "-keyout", d + "/ca.key", "-out", d + "/ca.pem", "-days", "30",
        "-subj", "/CN=Attack Test CA", "-addext",
        "basicConstraints=critical,CA:TRUE", "-addext",
        "keyUsage=critical,keyCertSign"])
    for name, email in (("alice", "alice@example.test"),
                        ("bobl", "bob@example.test"),
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
    # Mallory's own certificate, in bob's name, from no CA of ours.
    sh(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
        "-keyout", d + "/mal.key", "-out", d + "/mal.pem", "-days", "30",
        "-subj", "/CN=bob", "-addext", "subjectAltName=email:bob@remote.test"])


def head(mid, frm="<bob@remote.test>", to="alice@example.test", extra=b""):
    return ("From: %s\r\nTo: <%s>\r\nSubject: gw\r\nMessage-ID: %s\r\n"
            % (frm, to, mid)).encode() + extra


def entity(body):
    return ("Content-Type: text/plain; charset=us-ascii\r\n\r\n%s\r\n"
            % body).encode()


# -- OpenPGP packets (RFC 4880 4.2), to change a real message

def crc24(data):
    crc = 0xB704CE
    for b in data:
        crc ^= b << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def armor(data):
    b = base64.b64encode(data)
    return (b"-----BEGIN PGP MESSAGE-----\r\n\r\n" + b"\r\n".join(
        b[i:i + 64] for i in range(0, len(b), 64)) + b"\r\n=" +
        base64.b64encode(crc24(data).to_bytes(3, "big")) +
        b"\r\n-----END PGP MESSAGE-----\r\n")


def packets(data):
    """[(tag, body)] of a binary OpenPGP message, partial lengths
    joined."""
    out, i = [], 0
    while i < len(data):
        ctb = data[i]
        i += 1
        if ctb & 0x40:
            tag, body = ctb & 0x3f, b""
            while True:
                o, more = data[i], False
                if o < 192:
                    n, i = o, i + 1
                elif o < 224:
                    n, i = ((o - 192) << 8) + data[i + 1] + 192, i + 2
                elif o == 255:
                    n, i = int.from_bytes(data[i + 1:i + 5], "big"), i + 5
                else:
                    n, i, more = 1 << (o & 0x1f), i + 1, True
                body += data[i:i + n]
                i += n
                if not more:
                    break
        else:
            tag, w = (ctb >> 2) & 0xf, (1, 2, 4, 0)[ctb & 3]
            n = int.from_bytes(data[i:i + w], "big") if w else len(data) - i
            body = data[i + w:i + w + n]
            i += w + n
        out.append((tag, body))
    return out


def packet(tag, body):
    return bytes([0xc0 | tag, 255]) + len(body).to_bytes(4, "big") + body


def pgp_mime(mid, armored, frm="<bob@remote.test>", to="alice@example.test"):
    return head(mid, frm, to) + (
        b"MIME-Version: 1.0\r\nContent-Type: multipart/encrypted; protocol="
        b"\"application/pgp-encrypted\";\r\n\tboundary=\"b\"\r\n\r\n--b\r\n"
        b"Content-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n"
        b"--b\r\nContent-Type: application/octet-stream\r\n\r\n" +
        crlf(armored) + b"\r\n--b--\r\n")


def pgp_signed(gpg, body, who="bob@remote.test"):
    ent = entity(body)
    sig = crlf(gpg("-u", who, "--armor", "--detach-sign", data=ent))
    return (b"MIME-Version: 1.0\r\nContent-Type: multipart/signed; micalg="
            b"pgp-sha256;\r\n\tprotocol=\"application/pgp-signature\"; "
            b"boundary=\"s\"\r\n\r\n--s\r\n" + ent + b"\r\n--s\r\n"
            b"Content-Type: application/pgp-signature\r\n\r\n" + sig +
            b"\r\n--s--\r\n")


sink = Sink()
pki = tempfile.mkdtemp(prefix="osms-atk-")
make_pki(pki)
gpg = GpgPeer("osms-atkpgp-")
CONF = "relay host 127.0.0.1 port %d tls none\n" % sink.port
# Unscannable mail is let in: some probes carry big headers.
ROLES = "scand {\n\tunscannable accept\n}\n"

with Osms(extra_conf=CONF, roles_conf=ROLES) as o:
    a = Attack(o)
    mx = o.ports["smtp"]
    box = a.box
    home = os.path.join(o.path("certs"), "gnupg")
    with t.case("setup: S/MIME and OpenPGP keys of alice and bob here, "
                "bob@remote.test's public key, an alias that leaves"):
        o.write_file("aliases", "postmaster@example.test alice@example.test\n"
                     "fwd@example.test out@far.test\n", 0o600)
        crypt = pwd.getpwnam("_osmscrypt")
        for src, dst in (("alice.pem", "alice@example.test.pem"),
                         ("alice.key", "alice@example.test.key"),
                         ("bobl.pem", "bob@example.test.pem"),
                         ("bobl.key", "bob@example.test.key"),
                         ("ca.pem", "trust.pem")):
            path = os.path.join(o.path("certs"), dst)
            with open(os.path.join(pki, src), "rb") as f:
                data = f.read()
            with open(path, "wb") as f:
                f.write(data)
            os.chown(path, crypt.pw_uid, crypt.pw_gid)
            os.chmod(path, 0o600)
        for who in ("alice@example.test", "bob@example.test"):
            p = o.ctl("pgp", "keygen", who)
            t.require(p.returncode == 0, "keygen %s: %s" % (
                who, p.stdout + p.stderr))
            gpg("--import", data=o.ctl("pgp", "export", who).stdout.encode())
        # bob@remote.test, known here; "Bob" of mallory's, not known here.
        gpg("--quick-gen-key", "Bob <bob@remote.test>", "future-default",
            "default", "never")
        f = o.write_file("bob.asc", gpg("--armor", "--export",
                                        "bob@remote.test").decode(), 0o600)
        t.require(o.ctl("pgp", "import", f).returncode == 0, "import bob")
        gpg("--quick-gen-key", "Evil <evil@evil.test>", "future-default",
            "default", "never")
        t.require(o.ctl("reload").returncode == 0, "reload")
        time.sleep(1)
    roles0 = {r["role"]: r["pid"] for r in o.status()}

    def send(data, rcpts=("alice@example.test",), sender="bob@remote.test"):
        mid = re.search(rb"Message-ID: (<[^>]+>)", data).group(1).decode()
        code, text = smtp_data(mx, sender, data, rcpts=rcpts)
        return mid, code, text.decode(errors="replace")

    def delivered(user, mid):
        m = box.wait_for(user, mid)
        return m, box.raw_bytes(user, mid) if m is not None else b""

    def smime_enc(to, content, extra=()):
        return crlf(sh(["openssl", "cms", "-encrypt", "-aes256", "-binary"] +
                       list(extra) + [pki + "/%s.pem" % w for w in to],
                       content))

    def smime_sign(content, signers=("bob",), extra=()):
        args = ["openssl", "cms", "-sign", "-md", "sha256"] + list(extra)
        for s in signers:
            args += ["-signer", pki + "/%s.pem" % s, "-inkey",
                     pki + "/%s.key" % s]
        return sh(args, content)

    # -- G1

    with t.case("G1: a signed text changed through its AES-CBC ciphertext "
                "(\"100 EUR\" made \"900 EUR\"): decrypted, the signature "
                "fails, never verified"):
        text = "%s\r\nPay 100 EUR to Bob." % ("x" * 80)
        plain = crlf(smime_sign(entity(text)))
        der = sh(["openssl", "cms", "-encrypt", "-aes256", "-binary",
                  "-outform", "DER", pki + "/alice.pem"], plain)
        # AES-256-CBC's OID, its IV, then [0] the ciphertext.
        i = der.index(bytes.fromhex("060960864801650304012a")) + 11
        t.require(der[i:i + 2] == b"\x04\x10" and der[i + 18] == 0x80,
                  der[i:i + 24].hex())
        j = i + 19
        w = der[j] & 0x7f if der[j] & 0x80 else 0
        ct = j + 1 + w
        pos = plain.index(b"Pay 100") + 4
        t.require(pos >= 32, pos)
        # The byte at pos of block k comes from block k-1's ciphertext.
        der = bytearray(der)
        der[ct + pos - 16] ^= ord("1") ^ ord("9")
        mid = message_id()
        msg = head(mid) + b"MIME-Version: 1.0\r\nContent-Type: application/" \
            b"pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\r\n" \
            b"Content-Transfer-Encoding: base64\r\n\r\n" + \
            base64.encodebytes(bytes(der)).replace(b"\n", b"\r\n")
        _, code, text = send(msg)
        m, raw = delivered("alice", mid)
        t.require(code == 250 and m is not None, "%d %s" % (code, text))
        t.expect(b"900 EUR to Bob." in raw, "the gadget did not take")
        t.expect((m["X-Osms-SMIME"] or "").startswith(
            "decrypted for alice@example.test; failed (the signature does "
            "not verify"), repr(m["X-Osms-SMIME"]))
        t.expect(m["Authentication-Results"] ==
                 "mail.example.test; smime=fail",
                 repr(m["Authentication-Results"]))

    # -- G2

    plainpgp = gpg("-r", "alice@example.test", "--encrypt",
                   data=entity(SECRET))
    pk = packets(plainpgp)

    with t.case("G2: a real message's SEIPD packet rewritten as SE (MDC "
                "stripped): 550 5.7.1 refused, no plaintext delivered"):
        t.require([tg for tg, _ in pk] == [1, 18], [tg for tg, _ in pk])
        sed = b"".join(packet(tg, b) if tg != 18 else packet(9, b[1:])
                       for tg, b in pk)
        mid = message_id()
        _, code, text = send(pgp_mime(mid, armor(sed)))
        t.expect((code, text) == (550, "5.7.1 OpenPGP mail encrypted "
                                  "without integrity protection is refused:"
                                  " not integrity protected (no MDC): the "
                                  "plaintext could have been changed"),
                 "%d %s" % (code, text))
        t.expect(box.find("alice", mid) is None, "delivered")

    with t.case("G2: its MDC changed or cut off: delivered as it came, "
                "encrypted, no plaintext"):
        for name, body in (
                ("flipped", lambda b: b[:-1] + bytes([b[-1] ^ 1])),
                ("cut", lambda b: b[:-22])):
            bad = b"".join(packet(tg, b) if tg != 18 else
                           packet(18, body(b)) for tg, b in pk)
            mid = message_id()
            _, code, text = send(pgp_mime(mid, armor(bad)))
            m, raw = delivered("alice", mid)
            t.expect(code == 250 and m is not None and
                     m["X-Osms-PGP"] == "encrypted, for no key here (cannot "
                     "decrypt: not for a key here, or damaged)" and
                     SECRET.encode() not in raw and b"BEGIN PGP MESSAGE" in
                     raw, "%s: %d %r" % (name, code, m and m["X-Osms-PGP"]))

    # -- G4

    with t.case("G4: CMS oddities (two SignerInfos, one from no CA of "
                "ours; no SignerInfo at all; eContent beside the detached "
                "content): failed, never verified"):
        ent = entity("signed words")
        two = crlf(smime_sign(ent, ("bob", "mal")))
        p7 = sh(["openssl", "crl2pkcs7", "-nocrl", "-certfile",
                 pki + "/bob.pem"])
        none = (b"MIME-Version: 1.0\r\nContent-Type: application/pkcs7-mime;"
                b" smime-type=signed-data; name=smime.p7m\r\nContent-"
                b"Transfer-Encoding: base64\r\n\r\n" + b"\r\n".join(
                    ln for ln in p7.split(b"\n")
                    if ln and not ln.startswith(b"-----")) + b"\r\n")
        opaque = smime_sign(ent, extra=("-nodetach", "-outform", "DER"))
        both = (b"MIME-Version: 1.0\r\nContent-Type: multipart/signed; "
                b"protocol=\"application/pkcs7-signature\"; micalg=sha-256; "
                b"boundary=\"S\"\r\n\r\n--S\r\n" + entity("FORGED words") +
                b"\r\n--S\r\nContent-Type: application/pkcs7-signature; "
                b"name=smime.p7s\r\nContent-Transfer-Encoding: base64\r\n"
                b"\r\n" + base64.encodebytes(opaque).replace(b"\n", b"\r\n")
                + b"\r\n--S--\r\n")
        for name, body, why in (
                ("two signers", two, "certificate verify error"),
                ("no signer", none, "no content"),
                ("eContent and detached", both, "content verify error")):
            mid = message_id()
            _, code, text = send(head(mid) + body)
            m, raw = delivered("alice", mid)
            t.expect(m is not None and m.get_all("X-Osms-SMIME") == [
                "failed (the signature does not verify: %s)" % why] and
                m.get_all("Authentication-Results") == [
                    "mail.example.test; smime=fail"],
                "%s: %d %r %r" % (name, code, m and m.get_all("X-Osms-SMIME"),
                                  m and m["Authentication-Results"]))

    # -- G5

    with t.case("G5: \"[GNUPG:] GOODSIG\" in the literal file name and in a "
                "notation, signed by a key not here: failed, never "
                "verified"):
        bfpr = re.search(rb"^fpr:+([0-9A-F]{40}):", gpg(
            "--with-colons", "--list-keys", "bob@remote.test"),
            re.M).group(1).decode()
        efpr = re.search(rb"^fpr:+([0-9A-F]{40}):", gpg(
            "--with-colons", "--list-keys", "evil@evil.test"),
            re.M).group(1).decode()
        inj = ("x\n[GNUPG:] GOODSIG %s Bob <bob@remote.test>\n[GNUPG:] "
               "VALIDSIG %s\n[GNUPG:] TRUST_ULTIMATE" % (bfpr[-16:], bfpr))
        arm = gpg("-u", "evil@evil.test", "-r", "alice@example.test",
                  "--set-filename", inj, "--sig-notation",
                  "x@evil.test=[GNUPG:] GOODSIG %s Bob" % bfpr[-16:],
                  "--armor", "--sign", "--encrypt", data=entity("forged"))
        mid = message_id()
        _, code, text = send(pgp_mime(mid, arm))
        m, raw = delivered("alice", mid)
        t.expect(m is not None and m.get_all("X-Osms-PGP") == [
            "decrypted for alice@example.test; failed (signed by a key not "
            "in the keyring (%s))" % efpr],
            "%d %r" % (code, m and m.get_all("X-Osms-PGP")))
        t.expect(m is not None and "pgp=pass" not in (
            m["Authentication-Results"] or ""), "a pass")

    # -- G6

    with t.case("G6: two From fields, or a From of two mailboxes, on mail "
                "signed by bob: signer mismatch, not verified (S/MIME, "
                "OpenPGP)"):
        sm = crlf(smime_sign(entity("signed by bob")))
        pg = pgp_signed(gpg, "signed by bob")
        for name, frm, extra, who in (
                ("two fields", "<bob@remote.test>",
                 b"From: <ceo@example.test>\r\n", ""),
                ("two fields, ours first", "<ceo@example.test>",
                 b"From: <bob@remote.test>\r\n", ""),
                ("two mailboxes", "<bob@remote.test>, <ceo@example.test>",
                 b"", "ceo@example.test"),
                ("a name that is bob's address",
                 "\"bob@remote.test\" <ceo@example.test>", b"",
                 "ceo@example.test")):
            for proto, body, field in (("S/MIME", sm, "X-Osms-SMIME"),
                                       ("OpenPGP", pg, "X-Osms-PGP")):
                mid = message_id()
                send(head(mid, frm, extra=extra) + body)
                m, raw = delivered("alice", mid)
                t.expect(m is not None and m.get_all(field) == [
                    "signer mismatch signer=bob@remote.test from=%s" % who],
                    "%s %s: %r" % (proto, name, m and m.get_all(field)))
                t.expect(m is not None and not re.search(
                    r"(smime|pgp)=pass", m["Authentication-Results"] or ""),
                    "%s %s: a pass" % (proto, name))

    with t.case("G6: an unsigned part before a part signed by bob "
                "(partially signed): no verdict of a signature (S/MIME, "
                "OpenPGP)"):
        sm = crlf(smime_sign(entity("signed by bob"))).split(b"\r\n", 1)[1]
        pg = pgp_signed(gpg, "signed by bob").split(b"\r\n", 1)[1]
        for proto, part in (("S/MIME", sm), ("OpenPGP", pg)):
            mid = message_id()
            send(head(mid) + b"MIME-Version: 1.0\r\nContent-Type: multipart/"
                 b"mixed; boundary=\"P\"\r\n\r\n--P\r\nContent-Type: text/"
                 b"plain\r\n\r\nI, Bob, owe you everything.\r\n--P\r\n" +
                 part + b"\r\n--P--\r\n")
            m, raw = delivered("alice", mid)
            t.expect(m is not None and m["X-Osms-SMIME"] is None and
                     m["X-Osms-PGP"] is None and m["Authentication-Results"]
                     is None, "%s: %r %r %r" % (
                         proto, m and m["X-Osms-SMIME"], m and
                         m["X-Osms-PGP"], m and m["Authentication-Results"]))

    # -- G7

    forged = (b"X-Osms-SMIME : verified signer=ceo@example.test\r\n"
              b"X-Osms-PGP\t: verified signer=ceo@example.test\r\n"
              b"Authentication-Results : mail.example.test; smime=pass\r\n"
              b"authentication-results\t:\tmail.example.test; pgp=pass\r\n")

    with t.case("G7: forged verdict fields with white space before the "
                "colon are removed"):
        mid = message_id()
        send(head(mid, extra=forged) + entity("plain"))
        m, raw = delivered("alice", mid)
        t.expect(m is not None and b"ceo@example.test" not in raw and
                 b"=pass" not in raw, raw[:600])
        t.expect(m is not None and m.get_all("X-Osms-SMIME") == [
            "forged verdict fields removed"], m and m.get_all("X-Osms-SMIME"))

    with t.case("G7: forged verdict fields after 1.5 MB of header and "
                "2,000 fields are removed"):
        filler = b"".join(b"X-Filler-%d: %s\r\n" % (i, b"f" * 760)
                          for i in range(2000))
        mid = message_id()
        _, code, text = send(head(mid, extra=filler + forged) +
                             entity("plain"))
        m, raw = delivered("alice", mid)
        t.expect(code == 250 and m is not None and b"ceo@example.test" not
                 in raw and b"=pass" not in raw, "%d %s" % (code, text))

    with t.case("G7: in mail too large for the gateway (65 MB, over "
                "SMIME_MAX_MESSAGE), forged verdict fields are removed all "
                "the same"):
        base = o.conf_text()
        o.write_conf(base + "smtpd {\n\tmax-message-size 80M\n}\n")
        t.require(o.ctl("reload").returncode == 0, "reload")
        time.sleep(1)
        mid = message_id()
        line = b"B" * 76 + b"\r\n"
        body = line * ((65 << 20) // len(line)) + b"the end\r\n"
        _, code, text = send(head(mid, extra=forged) + b"\r\n" + body)
        t.expect(code == 250, "%d %s" % (code, text))
        got = None
        deadline = time.monotonic() + 30
        while got is None and time.monotonic() < deadline:
            for path in box.files("alice"):
                with open(path, "rb") as f:
                    top = f.read(8192)
                if mid.encode() in top:
                    got = (top.split(b"\n\n")[0], os.path.getsize(path))
                    with open(path, "rb") as f:
                        f.seek(-8, os.SEEK_END)
                        got += (f.read(),)
            time.sleep(0.2)
        t.require(got is not None, "not delivered")
        hdr, size, tail = got
        t.expect(b"ceo@example.test" not in hdr and b"=pass" not in hdr,
                 hdr[:800])
        t.expect(re.search(rb"(?m)^X-Osms-SMIME: too large to be decrypted "
                           rb"or verified \(\d+ bytes\)$", hdr), hdr[:800])
        t.expect(size > 64 << 20 and tail == b"the end\n", (size, tail))
        o.write_conf(base)
        t.require(o.ctl("reload").returncode == 0, "reload")
        time.sleep(1)

    # -- G8

    def leaves_nothing(mid):
        """The sink's copies of mid hold no plaintext (and there is
        one)."""
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            got = [x for x in sink.messages if mid.encode() in x.data]
            if got:
                return all(SECRET.encode() not in x.data for x in got)
            time.sleep(0.1)
        return False

    with t.case("G8: an old ciphertext for alice sent to alice and to an "
                "alias that forwards outside: not decrypted, nothing "
                "readable leaves (S/MIME, OpenPGP)"):
        for proto, msg, field, note in (
                ("S/MIME", lambda mid: head(mid) + smime_enc(
                    ["alice"], entity(SECRET)), "X-Osms-SMIME",
                 "encrypted, not decrypted: a copy leaves for out@far.test"),
                ("OpenPGP", lambda mid: pgp_mime(mid, armor(plainpgp)),
                 "X-Osms-PGP", "encrypted, not decrypted (policy)")):
            mid = message_id()
            _, code, text = send(msg(mid), ("alice@example.test",
                                            "fwd@example.test"))
            m, raw = delivered("alice", mid)
            t.expect(code == 250 and m is not None and m[field] == note and
                     SECRET.encode() not in raw, "%s: %d %r" % (
                         proto, code, m and m[field]))
            t.expect(leaves_nothing(mid), "%s: the plaintext left" % proto)

    with t.case("G8: an old ciphertext for alice sent to alice and bob: "
                "not decrypted, bob does not read it (S/MIME, OpenPGP)"):
        for proto, msg, field, note in (
                ("S/MIME", lambda mid: head(mid) + smime_enc(
                    ["alice"], entity(SECRET)), "X-Osms-SMIME",
                 "encrypted, not decrypted: not for bob@example.test"),
                ("OpenPGP", lambda mid: pgp_mime(mid, armor(plainpgp)),
                 "X-Osms-PGP", "encrypted, for no key here (not encrypted "
                 "for a key of its recipients)")):
            mid = message_id()
            send(msg(mid), ("alice@example.test", "bob@example.test"))
            for user in ("alice", "bob"):
                m, raw = delivered(user, mid)
                t.expect(m is not None and m[field] == note and
                         SECRET.encode() not in raw, "%s %s: %r" % (
                             proto, user, m and m[field]))

    with t.case("G8: encrypted for alice and bob and sent to both: "
                "decrypted for both (S/MIME, OpenPGP)"):
        both = gpg("-r", "alice@example.test", "-r", "bob@example.test",
                   "--encrypt", data=entity(SECRET))
        for proto, msg, field in (
                ("S/MIME", lambda mid: head(mid) + smime_enc(
                    ["alice", "bobl"], entity(SECRET)), "X-Osms-SMIME"),
                ("OpenPGP", lambda mid: pgp_mime(mid, armor(both)),
                 "X-Osms-PGP")):
            mid = message_id()
            send(msg(mid), ("alice@example.test", "bob@example.test"))
            for user in ("alice", "bob"):
                m, raw = delivered(user, mid)
                t.expect(m is not None and m[field] ==
                         "decrypted for alice@example.test" and
                         SECRET.encode() in raw, "%s %s: %r" % (
                             proto, user, m and m[field]))

    with t.case("gateway: no role restarted or crashed, a client is "
                "served"):
        t.expect(a.serves(), "a normal message is refused")
        assert_untouched(t, o, roles0)
    gpg.close(home)
sink.close()
subprocess.run(["rm", "-rf", pki])
t.done()
