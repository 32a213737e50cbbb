#!/usr/bin/env python3
"""The S/MIME gateway, outbound: a local user's mail leaves signed, and
encrypted for each recipient whose certificate the store holds (imported,
harvested from a verified signature, or the recipient domain's gateway
certificate); recipients with different outcomes get separate copies; a
certificate that is expired, revoked by a CRL, made out to another
address or not for encryption is not used.

What leaves is captured at a test smarthost and checked by independent
peers: `openssl cms -decrypt/-verify`, gpgsm 2.2 and dkimpy. The test PKI
is made with `openssl ca` (which can back-date a certificate and revoke
one).

Debian packages: openssl, gpgsm, python3-dkim."""
import base64
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from osmstest import *  # noqa: E402,F401,F403
from mailtest import *  # noqa: E402,F401,F403
from smtpsink import Sink  # noqa: E402

import smtplib  # noqa: E402

t = Tests(__file__)
wd = tempfile.mkdtemp(prefix="osms-gwout-")

CA_CNF = """[ca]
default_ca = ca_here
[ca_here]
database = {d}/index.txt
new_certs_dir = {d}/new
serial = {d}/serial
crlnumber = {d}/crlnumber
default_md = sha256
default_crl_days = 30
policy = anything
unique_subject = no
[anything]
commonName = optional
emailAddress = optional
"""

USER_EXT = ("basicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,%s\n"
            "extendedKeyUsage=emailProtection\n"
            "subjectAltName=%s\n")
BOTH = "digitalSignature,keyEncipherment"


def sh(*args, stdin=None, env=None):
    p = subprocess.run(list(args), input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=env, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(args[:3]),
                                       p.stderr.decode()[-500:]))
    return p.stdout


def path(name):
    return os.path.join(wd, name)


def ca(*args):
    return sh("openssl", "ca", "-batch", "-config", path("ca.cnf"),
              "-cert", path("ca.pem"), "-keyfile", path("ca.key"), *args)


def issue(name, san, usage=BOTH, dates=("-days", "30")):
    with open(path(name + ".ext"), "w") as f:
        f.write(USER_EXT % (usage, san))
    sh("openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout",
       path(name + ".key"), "-out", path(name + ".csr"), "-subj",
       "/CN=%s" % name)
    ca("-notext", "-in", path(name + ".csr"), "-out", path(name + ".pem"),
       "-extfile", path(name + ".ext"), *dates)


def make_pki():
    os.mkdir(path("new"))
    open(path("index.txt"), "w").close()
    with open(path("serial"), "w") as f:
        f.write("1000\n")
    with open(path("crlnumber"), "w") as f:
        f.write("01\n")
    with open(path("ca.cnf"), "w") as f:
        f.write(CA_CNF.format(d=wd))
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
       path("ca.key"), "-out", path("ca.pem"), "-days", "30", "-subj",
       "/CN=Gateway Outbound Test CA", "-addext",
       "basicConstraints=critical,CA:TRUE", "-addext",
       "keyUsage=critical,keyCertSign,cRLSign")
    issue("alice", "email:alice@example.test")
    issue("carol", "email:carol@partner.test")
    issue("bob", "email:bob@remote.test")
    issue("gw", "email:postmaster@gw.test,DNS:gw.test")
    issue("frank", "email:frank@remote.test",
          dates=("-startdate", "20200101000000Z", "-enddate",
                 "20210101000000Z"))
    issue("grace", "email:somebody@remote.test")
    issue("heidi", "email:heidi@remote.test")
    issue("ivan", "email:ivan@remote.test", usage="digitalSignature")
    issue("sam", "email:sam@strict.test")
    issue("gina", "email:gina@remote.test")
    issue("bobx", "email:bob@example.test")
    ca("-revoke", path("heidi.pem"))
    ca("-gencrl", "-out", path("crl.pem"))


def install(store, files):
    crypt = pwd.getpwnam("_osmscrypt")
    for src, dst in files:
        with open(path(src), "rb") as f:
            data = f.read()
        p = os.path.join(store, dst)
        with open(p, "wb") as f:
            f.write(data)
        os.chown(p, crypt.pw_uid, crypt.pw_gid)
        os.chmod(p, 0o600)


def field(data, name):
    m = re.search(rb"^" + name.encode() + rb":[ \t]*(.*(?:\r?\n[ \t].*)*)",
                  data.split(b"\r\n\r\n", 1)[0], re.M | re.I)
    return m.group(1).decode("utf-8", "replace").strip() if m else None


def one(sink, mid, n=1):
    """The copies of mid that reached the smarthost (waits for n)."""
    wait_until(lambda: len([m for m in sink.messages
                            if mid.encode() in m.data]) >= n, 30)
    return [m for m in sink.messages if mid.encode() in m.data]


def decrypt(data, who):
    """openssl cms -decrypt with who's key: the inner entity."""
    p = path("in.eml")
    with open(p, "wb") as f:
        f.write(data)
    return sh("openssl", "cms", "-decrypt", "-in", p, "-recip",
              path(who + ".pem"), "-inkey", path(who + ".key"))


def verify(entity):
    """openssl cms -verify of a signed entity (as a message): 0 if good."""
    p = path("v.eml")
    with open(p, "wb") as f:
        f.write(b"MIME-Version: 1.0\r\n" + entity)
    return subprocess.run(["openssl", "cms", "-verify", "-CAfile",
                           path("ca.pem"), "-in", p, "-out", "/dev/null"],
                          stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE).returncode


def is_encrypted(data):
    return (field(data, "Content-Type") or "").startswith(
        "application/pkcs7-mime; smime-type=enveloped-data")


def is_signed(data):
    return (field(data, "Content-Type") or "").startswith("multipart/signed")


def inbound_signed(port, mid, who="bob", sender="bob@remote.test",
                   signed=True):
    """who signs a message to alice with openssl cms (or sends it
    unsigned), to the MX; the SMTP error, if any."""
    ent = b"Content-Type: text/plain\r\n\r\nhello alice\r\n"
    out = ent
    if signed:
        out = sh("openssl", "cms", "-sign", "-signer", path(who + ".pem"),
                 "-inkey", path(who + ".key"), "-md", "sha256", stdin=ent)
        out = out.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    msg = ("From: <%s>\r\nTo: <alice@example.test>\r\nSubject: signed"
           "\r\nMessage-ID: %s\r\nMIME-Version: 1.0\r\n" % (sender, mid)
           ).encode() + out
    c = smtplib.SMTP("127.0.0.1", port, timeout=30)
    try:
        c.sendmail(sender, ["alice@example.test"], msg)
        c.quit()
    except smtplib.SMTPDataError as e:
        return e
    finally:
        c.close()
    return None


def refused(sub, rcpts, raw=None, body="x\r\n"):
    """Submit; the SMTPDataError it gets, or None if accepted."""
    try:
        submit(sub, rcpts, raw=raw, body=body)
    except smtplib.SMTPDataError as e:
        return e
    return None


POLICY = """cryptod {
\trule outbound to mandatory.test encrypt mandatory
\trule outbound to gw.test encrypt mandatory
\trule outbound to tls.test encrypt mandatory-or-tls
\trule outbound to carol@partner.test encrypt never
\trule outbound to own.test user-encrypted reject
\trule inbound from strict.test require-signed
\trule internal sign never
}"""


sink = Sink()
try:
    make_pki()
    with Osms(start=False) as o:
        box = Mailboxes(o)
        keyfile = o.path("dkim.key")
        p = subprocess.run([os.path.join(BUILD, "osmsctl"), "dkim",
                            "keygen", "example.test", "s1", keyfile],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        record = o.write_file("dkim.txt", p.stdout.decode())
        o.write_conf(o.make_conf(
            'relay host 127.0.0.1 port %d tls none\n'
            'dkim domain "example.test" selector "s1" key "%s"\n'
            % (sink.port, keyfile)))
        o.start()
        store = o.path("certs")
        install(store, [("alice.pem", "alice@example.test.pem"),
                        ("alice.key", "alice@example.test.key"),
                        ("carol.pem", "carol@partner.test.pem"),
                        ("gw.pem", "gw.test.pem"),
                        ("frank.pem", "frank@remote.test.pem"),
                        ("grace.pem", "grace@remote.test.pem"),
                        ("heidi.pem", "heidi@remote.test.pem"),
                        ("ivan.pem", "ivan@remote.test.pem"),
                        ("ca.pem", "trust.pem"), ("crl.pem", "crl.pem")])
        o.ctl("reload")
        time.sleep(0.5)
        sub = o.ports["submission"]

        with t.case("to an imported certificate: signed, then encrypted;"
                    " openssl decrypts and verifies, dkimpy passes"):
            mid = submit(sub, ["carol@partner.test"], body="for carol\r\n")
            got = one(sink, mid)
            t.require(len(got) == 1, "copies: %d" % len(got))
            data = got[0].data
            t.expect(is_encrypted(data), field(data, "Content-Type"))
            t.expect(b"for carol" not in data, "plaintext on the wire")
            t.expect(field(data, "Subject") == "test", "outer Subject")
            inner = decrypt(data, "carol")
            t.expect(is_signed(inner), "not signed inside: %r" % inner[:80])
            t.expect(b"for carol" in inner, "the text inside")
            t.expect(verify(inner) == 0, "openssl cms -verify failed")
            with open(path("dkim.eml"), "wb") as f:
                f.write(data)
            t.expect(dkim_verify(path("dkim.eml"), record) == "PASS",
                     "the copy's DKIM signature")
            t.expect(wait_log(o, r"cryptod: \S+ to=<carol@partner\.test> "
                              r"encrypted cert=[0-9a-f]{64} origin=imported"),
                     "the decision is logged")

        with t.case("gpgsm 2.2 decrypts what osms encrypted and verifies "
                    "what it signed"):
            t.require(shutil.which("gpgsm"), "gpgsm installed")
            home = path("gnupg")
            os.mkdir(home, 0o700)
            with open(os.path.join(home, "gpgsm.conf"), "w") as f:
                f.write("disable-crl-checks\ndisable-dirmngr\n")
            with open(os.path.join(home, "gpg-agent.conf"), "w") as f:
                f.write("allow-loopback-pinentry\n")
            env = dict(os.environ, GNUPGHOME=home, LC_ALL="C")
            gpgsm = ["gpgsm", "--batch", "--no-tty", "--pinentry-mode",
                     "loopback", "--passphrase", "", "--status-fd", "2"]
            # gpgsm 2.2 fails on about one such file in 150 (a wrong try
            # at the empty password that happens to unpad): a fresh salt.
            for attempt in range(5):
                sh("openssl", "pkcs12", "-export", "-legacy", "-in",
                   path("carol.pem"), "-inkey", path("carol.key"),
                   "-passout", "pass:", "-out", path("carol.p12"))
                try:
                    sh(*gpgsm, "--import", path("carol.p12"), env=env)
                    break
                except RuntimeError:
                    if attempt == 4:
                        raise
            mid = submit(sub, ["carol@partner.test"], body="gpgsm reads\r\n")
            got = one(sink, mid)
            t.require(len(got) == 1, "copies: %d" % len(got))
            body = got[0].data.split(b"\r\n\r\n", 1)[1]
            with open(path("g.p7m"), "wb") as f:
                f.write(base64.b64decode(body))
            p = subprocess.run(gpgsm + ["--decrypt", path("g.p7m")],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env)
            t.expect(b"[GNUPG:] DECRYPTION_OKAY" in p.stderr and
                     b"gpgsm reads" in p.stdout, p.stderr.decode()[-400:])
            # The signed entity inside: its first part is what was signed,
            # the second the detached signature (RFC 8551, 3.5.3).
            b = re.search(rb'boundary="([^"]+)"', p.stdout)
            t.require(b is not None, "not multipart/signed: %r"
                      % p.stdout[:200])
            parts = p.stdout.split(b"--" + b.group(1))
            with open(path("g.content"), "wb") as f:
                f.write(parts[1][2:-2])
            with open(path("g.p7s"), "wb") as f:
                f.write(base64.b64decode(parts[2].split(b"\r\n\r\n", 1)[1]))
            fpr = sh("openssl", "x509", "-in", path("ca.pem"), "-noout",
                     "-fingerprint", "-sha1").decode().split("=")[1]
            with open(os.path.join(home, "trustlist.txt"), "w") as f:
                f.write("%s S relax\n" % fpr.strip())
            sh(*gpgsm, "--import", path("ca.pem"), env=env)
            p = subprocess.run(gpgsm + ["--verify", path("g.p7s"),
                                        path("g.content")],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env)
            t.expect(p.returncode == 0 and re.search(
                rb"\[GNUPG:\] GOODSIG \S+ /CN=alice", p.stderr) and
                b"[GNUPG:] TRUST_FULLY" in p.stderr,
                p.stderr.decode()[-400:])
            subprocess.run(["gpgconf", "--kill", "all"], env=env)

        with t.case("a harvested signer's next mail from us is encrypted"):
            mid = submit(sub, ["bob@remote.test"], body="before\r\n")
            got = one(sink, mid)
            t.require(len(got) == 1, "copies: %d" % len(got))
            t.expect(is_signed(got[0].data) and b"before" in got[0].data,
                     "before harvesting: signed, in the clear")
            mid = message_id()
            inbound_signed(o.ports["smtp"], mid)
            m = box.wait_for("alice", mid)
            t.require(m is not None and m["X-Osms-SMIME"] ==
                      "verified signer=bob@remote.test",
                      repr(m and m["X-Osms-SMIME"]))
            mid = submit(sub, ["bob@remote.test"], body="after\r\n")
            got = one(sink, mid)
            t.require(len(got) == 1, "copies: %d" % len(got))
            t.expect(is_encrypted(got[0].data), "not encrypted")
            t.expect(b"after" in decrypt(got[0].data, "bob"), "bob reads it")
            t.expect(wait_log(o, r"to=<bob@remote\.test> encrypted cert=\S+"
                              r" origin=harvested"), "origin harvested")

        with t.case("a signer revoked by crl.pem: the signature verifies "
                    "but fails, and the certificate is not harvested"):
            mid = message_id()
            t.require(inbound_signed(o.ports["smtp"], mid, who="heidi",
                                     sender="heidi@remote.test") is None,
                      "accepted")
            m = box.wait_for("alice", mid)
            t.expect(m is not None and m["X-Osms-SMIME"] == "failed (the "
                     "signer's certificate is revoked (crl.pem))",
                     repr(m and m["X-Osms-SMIME"]))
            t.expect(m is not None and "smime=fail" in
                     (m["Authentication-Results"] or ""),
                     repr(m and m["Authentication-Results"]))
            t.expect(not os.path.exists(os.path.join(
                store, "harvested", "heidi@remote.test.pem")),
                "not harvested")

        with t.case("a signer that announces AES-GCM gets "
                    "authenticated-enveloped-data (RFC 5083/5084)"):
            mid = message_id()
            plain = ("From: <gina@remote.test>\r\nTo: <alice@example.test>"
                     "\r\nSubject: gcm\r\nMessage-ID: %s\r\n\r\nhi\r\n"
                     % mid).encode()
            signed = sh(os.path.join(BUILD, "osmsctl"), "smime", "sign",
                        path("gina.pem"), path("gina.key"), stdin=plain)
            c = smtplib.SMTP("127.0.0.1", o.ports["smtp"], timeout=30)
            c.sendmail("gina@remote.test", ["alice@example.test"], signed)
            c.quit()
            m = box.wait_for("alice", mid)
            t.require(m is not None and m["X-Osms-SMIME"] ==
                      "verified signer=gina@remote.test",
                      repr(m and m["X-Osms-SMIME"]))
            t.expect(os.path.exists(os.path.join(
                store, "harvested", "gina@remote.test.aead")),
                "its capabilities are kept")
            mid = submit(sub, ["gina@remote.test"], body="sealed\r\n")
            got = one(sink, mid)
            t.require(len(got) == 1, "copies: %d" % len(got))
            t.expect("smime-type=authEnveloped-data" in
                     (field(got[0].data, "Content-Type") or ""),
                     field(got[0].data, "Content-Type"))
            t.expect(b"sealed" in decrypt(got[0].data, "gina"),
                     "openssl decrypts the AuthEnvelopedData")
            with open(path("gcm.eml"), "wb") as f:
                f.write(got[0].data)
            printed = sh("openssl", "cms", "-cmsout", "-print", "-in",
                         path("gcm.eml"))
            t.expect(b"aes-256-gcm" in printed, "the cipher is AES-256-GCM")
            # osms's signatures announce RSAES-OAEP as well: the content
            # key goes to gina that way (RFC 3560), openssl takes it.
            t.expect(os.path.exists(os.path.join(
                store, "harvested", "gina@remote.test.oaep")),
                "OAEP kept as a capability")
            t.expect(b"rsaesOaep" in printed, "the key transport is OAEP")
            t.expect(wait_log(o, r"to=<gina@remote\.test> encrypted cert="
                              r"\S+ origin=harvested cipher=aes-256-gcm\+"
                              r"rsa-oaep rule="), "audited as OAEP")

        with t.case("a mixed list: one copy per outcome"):
            rcpts = ["carol@partner.test", "dave@remote.test",
                     "x@gw.test", "y@gw.test"]
            mid = submit(sub, rcpts, body="to all of you\r\n")
            got = one(sink, mid, 3)
            t.require(len(got) == 3, "copies: %d" % len(got))
            by = {tuple(sorted(m.rcpts)): m.data for m in got}
            t.require(set(by) == {("carol@partner.test",),
                                  ("dave@remote.test",),
                                  ("x@gw.test", "y@gw.test")},
                      "grouping: %r" % list(by))
            t.expect(b"to all of you" in decrypt(
                by[("carol@partner.test",)], "carol"), "carol's copy")
            t.expect(b"to all of you" in decrypt(
                by[("x@gw.test", "y@gw.test")], "gw"),
                "gw.test's copy, with the domain certificate")
            plain = by[("dave@remote.test",)]
            t.expect(is_signed(plain) and b"to all of you" in plain,
                     "dave's copy: signed, in the clear")
            t.expect(wait_log(o, r"to=<y@gw\.test> encrypted cert=\S+ "
                              r"origin=domain"), "origin domain")

        with t.case("expired, wrong-address, revoked and signing-only "
                    "certificates are not used"):
            rcpts = ["frank@remote.test", "grace@remote.test",
                     "heidi@remote.test", "ivan@remote.test"]
            mid = submit(sub, rcpts, body="no usable certificate\r\n")
            got = one(sink, mid)
            t.require(len(got) == 1, "copies: %d" % len(got))
            t.expect(sorted(got[0].rcpts) == rcpts, repr(got[0].rcpts))
            t.expect(is_signed(got[0].data) and not is_encrypted(
                got[0].data), "in the clear, signed")
            for who, why in (("frank", "expired"),
                             ("grace", "does not name the address"),
                             ("heidi", "revoked"),
                             ("ivan", r"not for this use")):
                t.expect(wait_log(o, r"not encrypting with certificate "
                                  r"%s@remote\.test: %s" % (who, why), 5),
                         "%s: %s" % (who, why))

        with t.case("mail the user encrypted passes as it is"):
            ent = b"Content-Type: text/plain\r\n\r\nmy own crypto\r\n"
            enc = sh("openssl", "cms", "-encrypt", "-aes256",
                     path("carol.pem"), stdin=ent)
            enc = enc.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            mid = message_id()
            raw = ("From: <alice@example.test>\r\nTo: <dave@remote.test>"
                   "\r\nSubject: own\r\nMessage-ID: %s\r\n" % mid
                   ).encode() + enc
            submit(sub, ["dave@remote.test"], raw=raw, mid=mid)
            got = one(sink, mid)
            t.require(len(got) == 1, "copies: %d" % len(got))
            t.expect(is_encrypted(got[0].data) and b"my own crypto" in
                     decrypt(got[0].data, "carol"), "passed unchanged")
        with t.case("osmsctl cert import, export (PKCS#12 escrow), remove"):
            issue("newbie", "email:newbie@partner.test")
            p = o.ctl("cert", "import", path("newbie.pem"))
            t.expect(p.returncode == 0 and "newbie@partner.test: "
                     "certificate imported" in p.stdout, p.stdout + p.stderr)
            st = os.stat(os.path.join(store, "newbie@partner.test.pem"))
            t.expect(st.st_uid == pwd.getpwnam("_osmscrypt").pw_uid and
                     st.st_mode & 0o777 == 0o600, "owner and mode")
            mid = submit(sub, ["newbie@partner.test"], body="imported\r\n")
            got = one(sink, mid)
            t.expect(len(got) == 1 and is_encrypted(got[0].data) and
                     b"imported" in decrypt(got[0].data, "newbie"),
                     "encrypted for the imported certificate")
            p = o.ctl("cert", "import", path("gw.pem"), path("carol.key"))
            t.expect(p.returncode == 1 and "not the key of" in p.stderr,
                     "a key that does not fit: %r" % p.stderr)
            p = o.ctl("cert", "export", "alice@example.test",
                      path("alice.p12"), input="escrow-pw\n")
            t.expect(p.returncode == 0, p.stderr)
            out = subprocess.run(["openssl", "pkcs12", "-in",
                                  path("alice.p12"), "-passin",
                                  "pass:escrow-pw", "-nodes"],
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE).stdout
            t.expect(b"PRIVATE KEY" in out and sh(
                "openssl", "x509", "-noout", "-fingerprint", stdin=out) ==
                sh("openssl", "x509", "-noout", "-fingerprint", "-in",
                   path("alice.pem")), "the escrowed key and certificate")
            p = o.ctl("cert", "remove", "newbie@partner.test")
            t.expect(p.returncode == 0 and not os.path.exists(
                os.path.join(store, "newbie@partner.test.pem")), p.stderr)
            mid = submit(sub, ["newbie@partner.test"], body="removed\r\n")
            got = one(sink, mid)
            t.expect(len(got) == 1 and not is_encrypted(got[0].data),
                     "removed: no longer encrypted")

        # -- the policy rules
        o.write_conf(o.make_conf(
            'relay host 127.0.0.1 port %d tls none\n'
            'dkim domain "example.test" selector "s1" key "%s"\n'
            % (sink.port, keyfile), POLICY))
        o.ctl("reload")
        time.sleep(0.5)

        with t.case("encrypt mandatory without a certificate: refused at "
                    "DATA (550 5.7.1); with one: encrypted"):
            e = refused(sub, ["x@mandatory.test"])
            t.expect(e is not None and e.smtp_code == 550 and
                     b"5.7.1 <x@mandatory.test>: no usable certificate "
                     b"(none known); the policy (rule at line" in
                     e.smtp_error, repr(e))
            e = refused(sub, ["dave@remote.test", "x@mandatory.test"])
            t.expect(e is not None and e.smtp_code == 550, "a mixed list")
            mid = submit(sub, ["x@gw.test"], body="mandatory, known\r\n")
            got = one(sink, mid)
            t.expect(len(got) == 1 and is_encrypted(got[0].data),
                     "x@gw.test: encrypted with the domain certificate")
            t.expect(wait_log(o, r"to=<x@gw\.test> encrypted cert=\S+ "
                              r"origin=domain cipher=aes-256-cbc rule=\d+"),
                     "the rule is logged")

        with t.case("encrypt never: in the clear though a certificate is "
                    "known"):
            mid = submit(sub, ["carol@partner.test"], body="clear\r\n")
            got = one(sink, mid)
            t.require(len(got) == 1, "copies: %d" % len(got))
            t.expect(is_signed(got[0].data) and not is_encrypted(
                got[0].data) and b"clear" in got[0].data, "not clear")
            t.expect(wait_log(o, r"to=<carol@partner\.test> not-encrypted "
                              r"encrypt=never rule=\d+"), "logged")

        with t.case("user-encrypted reject: the user's own encryption "
                    "may not leave"):
            ent = b"Content-Type: text/plain\r\n\r\nsecret\r\n"
            enc = sh("openssl", "cms", "-encrypt", "-aes256",
                     path("carol.pem"), stdin=ent)
            enc = enc.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            raw = (b"From: <alice@example.test>\r\nTo: <z@own.test>\r\n"
                   b"Subject: own\r\nMessage-ID: <own@x>\r\n") + enc
            e = refused(sub, ["z@own.test"], raw=raw)
            t.expect(e is not None and e.smtp_code == 550 and
                     b"Mail encrypted by its sender may not leave" in
                     e.smtp_error, repr(e))

        with t.case("require-signed: unsigned mail from a partner is "
                    "refused, signed mail passes"):
            e = inbound_signed(o.ports["smtp"], message_id(),
                               sender="sam@strict.test", signed=False)
            t.expect(e is not None and e.smtp_code == 550 and
                     b"must carry a valid S/MIME or OpenPGP signature" in
                     e.smtp_error,
                     repr(e))
            e = inbound_signed(o.ports["smtp"], message_id(), who="bob",
                               sender="sam@strict.test")
            t.expect(e is not None and e.smtp_code == 550 and
                     b"signer mismatch" in e.smtp_error, repr(e))
            mid = message_id()
            e = inbound_signed(o.ports["smtp"], mid, who="sam",
                               sender="sam@strict.test")
            t.expect(e is None, repr(e))
            m = box.wait_for("alice", mid)
            t.expect(m is not None and m["X-Osms-SMIME"] ==
                     "verified signer=sam@strict.test",
                     repr(m and m["X-Osms-SMIME"]))

        with t.case("sign never for internal mail"):
            mid = submit(sub, ["bob@example.test"], body="internal\r\n")
            m = box.wait_for("bob", mid)
            t.expect(m is not None and m.get_content_type() ==
                     "text/plain", repr(m and m.get_content_type()))

        with t.case("mandatory-or-tls without a certificate: only over "
                    "verified TLS (the smarthost has none: deferred)"):
            n0 = len(sink.messages)
            mid = submit(sub, ["y@tls.test"], body="tls only\r\n")
            t.expect(wait_log(o, r"to=<y@tls\.test> verified-tls-only "
                              r"encrypt=mandatory-or-tls"), "decision")
            t.expect(wait_log(o, r"to=<y@tls\.test> status=deferred"),
                     "deferred")
            t.expect(not any(mid.encode() in m.data for m in
                             sink.messages[n0:]), "sent in the clear")
        with t.case("osmsctl policy test: the rule, the certificate and "
                    "the outcome"):
            p = o.ctl("policy", "test", "alice@example.test",
                      "x@mandatory.test")
            t.expect(p.returncode == 0 and re.search(
                r"^rule: +line \d+: rule outbound to mandatory\.test "
                r"encrypt mandatory$", p.stdout, re.M) and
                "outcome:     refused at DATA (550 5.7.1)" in p.stdout,
                p.stdout + p.stderr)
            p = o.ctl("policy", "test", "alice@example.test",
                      "bob@remote.test")
            t.expect("none matches: the defaults" in p.stdout and
                     "certificate: bob@remote.test (harvested)" in p.stdout
                     and "outcome:     encrypted" in p.stdout, p.stdout)
            p = o.ctl("policy", "test", "-d", "inbound", "sam@strict.test",
                      "alice@example.test")
            t.expect("require-signed" in p.stdout and "inbound from "
                     "sam@strict.test" in p.stdout, p.stdout)
            p = o.ctl("policy", "test", "-d", "sideways", "a@b", "c@d")
            t.expect(p.returncode == 2, "a bad direction: usage")

        with t.case("osmsctl cert list: whose, from where, usable or why"):
            p = o.ctl("cert", "list")
            out = p.stdout
            for pat in (r"^alice@example\.test +user .*\n +encrypt: usable;"
                        r" sign: usable; key NOT encrypted at rest$",
                        r"^frank@remote\.test +imported .*\n +encrypt: "
                        r"expired$",
                        r"^heidi@remote\.test +imported .*\n +encrypt: "
                        r"revoked$",
                        r"^grace@remote\.test +imported .*\n +encrypt: "
                        r"does not name the address$",
                        r"^gw\.test +partner domain .*\n +encrypt: usable$",
                        r"^bob@remote\.test +harvested .*\n +encrypt: "
                        r"usable$"):
                t.expect(re.search(pat, out, re.M), "%s in:\n%s" % (pat,
                                                                     out))
            p = o.ctl("cert", "list", "remote.test")
            t.expect("frank@remote.test" in p.stdout and "alice@" not in
                     p.stdout, p.stdout)

        with t.case("osmsctl audit: what left encrypted, what was "
                    "refused, and why"):
            p = o.ctl("audit", "carol@partner.test")
            t.expect(p.returncode == 0 and re.search(
                r"^\S+Z [0-9a-f]{16} to=<carol@partner\.test> encrypted "
                r"cert=[0-9a-f]{64} origin=imported cipher=aes-256-cbc "
                r"rule=0$", p.stdout, re.M) and re.search(
                r"to=<carol@partner\.test> not-encrypted encrypt=never "
                r"rule=\d+$", p.stdout, re.M), p.stdout + p.stderr)
            p = o.ctl("audit", "x@mandatory.test")
            t.expect(re.search(r"from=<alice@example\.test> to=<x@mandatory"
                               r"\.test> refused: encrypt mandatory, no "
                               r"usable certificate \(none known\) "
                               r"rule=\d+$", p.stdout, re.M), p.stdout)
            p = o.ctl("audit", "sam@strict.test")
            t.expect("refused: require-signed" in p.stdout and
                     "inbound: verified signer=sam@strict.test" in p.stdout,
                     p.stdout)
            st = os.stat(os.path.join(store, "audit.log"))
            t.expect(st.st_mode & 0o777 == 0o600 and st.st_uid ==
                     pwd.getpwnam("_osmscrypt").pw_uid, "mode and owner")

        with t.case("encrypt mandatory, the certificate gone before the "
                    "mail left: the recipient fails, the DSN says why"):
            sink.rcpt_reply = {"w@gw.test": "451 4.3.0 not now"}
            mid = submit(sub, ["w@gw.test"], body="wait for it\r\n")
            t.require(wait_log(o, r"to=<w@gw\.test> status=deferred"),
                      "deferred first")
            sink.rcpt_reply = {}
            os.unlink(os.path.join(store, "gw.test.pem"))
            listing = o.ctl("queue", "list").stdout
            for i in re.findall(r"^([0-9a-f]{16}) ", listing, re.M):
                o.ctl("queue", "schedule", i)
            t.expect(wait_log(o, r"to=<w@gw\.test> status=failed reason="
                              r"5\.7\.1 no usable certificate for "
                              r"<w@gw\.test>"), "failed with the reason")
            t.expect(wait_until(lambda: any(
                "no usable certificate for <w@gw.test>" in d.as_string()
                for d in box.dsns("alice", mid)), 20),
                "the DSN to alice names the reason")
        with t.case("master-key: keys kept encrypted at rest, used by "
                    "cryptod through the parent's descriptor"):
            mk = o.write_file("master.key", os.urandom(32).hex() + "\n",
                              0o600)
            o.write_conf(o.make_conf(
                'relay host 127.0.0.1 port %d tls none\n'
                'dkim domain "example.test" selector "s1" key "%s"\n'
                % (sink.port, keyfile),
                POLICY + '\ncryptod {\n\tmaster-key "%s"\n}\n' % mk))
            o.ctl("reload")
            time.sleep(0.5)
            p = o.ctl("cert", "import", path("bobx.pem"), path("bobx.key"))
            t.expect(p.returncode == 0 and "(encrypted at rest)" in
                     p.stdout, p.stdout + p.stderr)
            kpath = os.path.join(store, "bob@example.test.key")
            with open(kpath) as f:
                t.expect(f.readline().startswith(
                    "-----BEGIN ENCRYPTED PRIVATE KEY-----"), "PKCS#8")
            t.expect(subprocess.run(["openssl", "pkey", "-in", kpath,
                                     "-passin", "pass:", "-noout"],
                                    stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE).returncode != 0,
                     "the file alone gives no key")
            p = o.ctl("cert", "list", "bob@example.test")
            t.expect("key encrypted at rest" in p.stdout, p.stdout)
            mid = message_id()
            ent = b"Content-Type: text/plain\r\n\r\nfor bob at rest\r\n"
            enc = sh("openssl", "cms", "-encrypt", "-aes256",
                     path("bobx.pem"), stdin=ent)
            enc = enc.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            c = smtplib.SMTP("127.0.0.1", o.ports["smtp"], timeout=30)
            c.sendmail("x@remote.test", ["bob@example.test"],
                       ("From: <x@remote.test>\r\nTo: <bob@example.test>"
                        "\r\nSubject: rest\r\nMessage-ID: %s\r\n" % mid
                        ).encode() + enc)
            c.quit()
            m = box.wait_for("bob", mid)
            t.expect(m is not None and (m["X-Osms-SMIME"] or "").startswith(
                "decrypted for bob@example.test") and b"for bob at rest" in
                box.raw_bytes("bob", mid), repr(m and m["X-Osms-SMIME"]))
        with t.case("the internal CA: osmsctl cert ca and cert issue; the "
                    "user's next mail is signed with the new certificate"):
            p = o.ctl("cert", "ca")
            t.require(p.returncode == 0, p.stderr)
            t.expect(o.ctl("cert", "ca").returncode == 1, "made twice")
            p = o.ctl("cert", "issue", "alice@example.test", "90")
            t.expect(p.returncode == 0 and re.search(
                r"encrypt: usable; sign: usable; key encrypted at rest",
                p.stdout), p.stdout + p.stderr)
            ca_pem = os.path.join(store, "ca.pem")
            cert = os.path.join(store, "alice@example.test.pem")
            v = subprocess.run(["openssl", "verify", "-CAfile", ca_pem,
                                "-purpose", "smimesign", cert],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            t.expect(v.returncode == 0, v.stdout + v.stderr)
            o.ctl("reload")
            time.sleep(0.5)
            mid = submit(sub, ["dave@remote.test"], body="new cert\r\n")
            got = one(sink, mid)
            t.require(len(got) == 1, "copies: %d" % len(got))
            with open(path("newca.eml"), "wb") as f:
                f.write(got[0].data)
            v = subprocess.run(["openssl", "cms", "-verify", "-CAfile",
                                ca_pem, "-in", path("newca.eml"), "-out",
                                "/dev/null"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
            t.expect(v.returncode == 0, v.stderr.decode()[-300:])
        with t.case("the internal CA issues a certificate to a user who "
                    "has none at the first signed mail, and renews it "
                    "before it ends"):
            o.write_users(dict(USERS, **{"carl@example.test": "carl-pw"}))
            o.ctl("reload")
            time.sleep(0.5)
            cert = os.path.join(store, "carl@example.test.pem")
            t.require(not os.path.exists(cert), "carl has no certificate")
            mid = submit(sub, ["dave@remote.test"], user="carl@example.test",
                         password="carl-pw", body="first from carl\r\n")
            got = one(sink, mid)
            t.require(len(got) == 1, "copies: %d" % len(got))
            with open(path("carl1.eml"), "wb") as f:
                f.write(got[0].data)
            v = subprocess.run(["openssl", "cms", "-verify", "-CAfile",
                                ca_pem, "-in", path("carl1.eml"), "-signer",
                                path("carl1.pem"), "-out", "/dev/null"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            t.expect(v.returncode == 0, v.stderr.decode()[-300:])
            t.require(os.path.exists(cert), "no certificate issued")
            full = sh("openssl", "x509", "-in", cert, "-noout",
                      "-fingerprint", "-sha256").decode().split("=")[1]
            p = o.ctl("cert", "show", full.strip()[:23].lower())
            t.expect(p.returncode == 0 and re.search(
                r"^carl@example\.test +user .*\n.*\nsha256 %s\n" %
                full.strip().replace(":", "").lower(), p.stdout, re.M) and
                "Issuer: CN = osms internal CA" in p.stdout and
                "-----BEGIN CERTIFICATE-----" in p.stdout, p.stdout + p.stderr)
            p = o.ctl("cert", "show", "00000000")
            t.expect(p.returncode == 1 and "no certificate" in p.stderr,
                     p.stdout + p.stderr)

            def fingerprint(f):
                return sh("openssl", "x509", "-in", f, "-noout",
                          "-fingerprint", "-sha256").strip()
            t.expect(fingerprint(path("carl1.pem")) == fingerprint(cert),
                     "signed with the issued certificate")
            v = subprocess.run(["openssl", "verify", "-CAfile", ca_pem,
                                "-purpose", "smimeencrypt", cert],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            t.expect(v.returncode == 0, v.stdout + v.stderr)
            with open(os.path.join(store, "carl@example.test.key")) as f:
                t.expect(f.readline().startswith(
                    "-----BEGIN ENCRYPTED PRIVATE KEY-----"),
                    "key encrypted at rest")
            p = o.ctl("audit", "carl@example.test")
            t.expect(len(re.findall(r"from=<carl@example\.test> certificate "
                                    r"issued by the internal CA for 365 days",
                                    p.stdout)) == 1, p.stdout)
            # Another mail: the certificate is kept, not issued again.
            first = fingerprint(cert)
            mid = submit(sub, ["dave@remote.test"], user="carl@example.test",
                         password="carl-pw", body="second from carl\r\n")
            t.require(len(one(sink, mid)) == 1, "second copy")
            t.expect(fingerprint(cert) == first, "issued again")
            # Ten days left: the next mail renews it.
            p = o.ctl("cert", "issue", "carl@example.test", "10")
            t.require(p.returncode == 0, p.stdout + p.stderr)
            short = fingerprint(cert)
            mid = submit(sub, ["dave@remote.test"], user="carl@example.test",
                         password="carl-pw", body="renewed\r\n")
            got = one(sink, mid)
            t.require(len(got) == 1, "copies: %d" % len(got))
            with open(path("carl2.eml"), "wb") as f:
                f.write(got[0].data)
            v = subprocess.run(["openssl", "cms", "-verify", "-CAfile",
                                ca_pem, "-in", path("carl2.eml"), "-signer",
                                path("carl2.pem"), "-out", "/dev/null"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            t.expect(v.returncode == 0, v.stderr.decode()[-300:])
            renewed = fingerprint(cert)
            t.expect(renewed not in (short, first) and
                     fingerprint(path("carl2.pem")) == renewed,
                     "renewed and used: %s" % renewed)
            end = sh("openssl", "x509", "-in", cert, "-noout", "-checkend",
                     str(300 * 86400))
            t.expect(b"will not expire" in end, end)
            p = o.ctl("audit", "carl@example.test")
            t.expect(len(re.findall(r"certificate issued by the internal CA",
                                    p.stdout)) == 2, p.stdout)
finally:
    sink.close()
    shutil.rmtree(wd, ignore_errors=True)
t.done()
