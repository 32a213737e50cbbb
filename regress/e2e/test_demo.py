#!/usr/bin/env python3
"""The demo (scripts/demo.sh, what `make demo` runs), as its README
promises: alice's mail to an outside address arrives at the smarthost
signed, and encrypted once the recipient's certificate is known; an
encrypted, signed S/MIME message to alice arrives decrypted with a valid
signature header; OpenPGP both ways for alice: a message gpg encrypted
and signed for her is decrypted and verified, her reply to that
correspondent (whose key the gateway was given) is encrypted to it.

Runs in a network namespace of its own (only lo), so the demo's fixed
ports (10025, 10587, the smarthost on 10026) are its own, with its state
in a temporary directory (OSMS_DEMO_STATE).

Debian packages: openssl, gnupg."""
import email
import os
import re
import signal
import smtplib
import ssl
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import netns  # noqa: E402

netns.enter()
from osmstest import *  # noqa: E402,F401,F403
from mailtest import *  # noqa: E402,F401,F403
from gpgpeer import GpgPeer  # noqa: E402
from smtpsink import Sink  # noqa: E402

t = Tests(__file__)
state = tempfile.mkdtemp(prefix="osms-demo-")
os.chmod(state, 0o755)
work = tempfile.mkdtemp(prefix="osms-demo-peer-")
gpg = GpgPeer("osms-demo-gpg-", armor=True)
CTL = [os.path.join(BUILD, "osmsctl"), "-f", os.path.join(state,
                                                          "osmsd.conf")]


def sh(*args, data=None):
    p = subprocess.run(list(args), input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise RuntimeError("%s: %s" % (args[0], p.stderr.decode()[-300:]))
    return p.stdout


def w(name):
    return os.path.join(work, name)


def submit_demo(to, body, mid):
    ctx = ssl.create_default_context(cafile=os.path.join(state, "ca.pem"))
    ctx.check_hostname = False
    c = smtplib.SMTP("127.0.0.1", 10587, timeout=30)
    try:
        c.starttls(context=ctx)
        c.login("alice@example.test", "alice-pw")
        c.sendmail("alice@example.test", [to], (
            "From: <alice@example.test>\r\nTo: <%s>\r\nSubject: demo\r\n"
            "Message-ID: %s\r\n\r\n%s" % (to, mid, body)).encode())
        c.quit()
    finally:
        c.close()


def mx(sender, data):
    code, text = smtp_data(10025, sender, data)
    if code != 250:
        raise RuntimeError("MX: %d %r" % (code, text))


def relayed(sink, mid):
    got = wait_until(lambda: [m.data for m in sink.messages
                              if mid.encode() in m.data], 30)
    return got[0] if got else b""


def delivered(mid):
    def find():
        top = os.path.join(state, "mail", "example.test", "alice")
        for root, _, files in os.walk(top):
            # Delivered mail is in new/ (tmp/ is being written).
            if os.path.basename(root) not in ("new", "cur"):
                continue
            for f in files:
                try:
                    with open(os.path.join(root, f), "rb") as fp:
                        data = fp.read()
                except FileNotFoundError:
                    continue  # moved to cur/ meanwhile
                if mid.encode() in data:
                    return email.message_from_bytes(data)
        return None
    return wait_until(find, 20)


def ready():
    """Does every role of the demo say it is ready?"""
    p = subprocess.run(CTL + ["status"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        return False
    rows = Osms.parse_status(p.stdout)
    return bool(rows) and all(r["state"] in ("ready", "running")
                              for r in rows)


def read_users():
    with open(os.path.join(state, "users"), "rb") as f:
        return f.read()


def ctype(data):
    m = re.search(rb"^Content-Type:[ \t]*([^;\r\n]*)",
                  data.split(b"\r\n\r\n", 1)[0], re.M | re.I)
    return m.group(1).decode() if m else ""


sink = Sink(port=10026)
demo = subprocess.Popen(
    [os.path.join(ROOT, "scripts", "demo.sh")], cwd=ROOT,
    stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    env=dict(os.environ, OSMS_DEMO_STATE=state,
             OSMSD=os.path.join(BUILD, "osmsd"),
             OSMSCTL=CTL[0],
             # As for every daemon under test: the leak check at exit
             # traces the process, which its system call filter forbids.
             **({"ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1"}
                if SAN == "1" else {})))
try:
    up = wait_until(lambda: demo.poll() is None and ready(), 120)
    t.require(up, "the demo comes up")
    # The users are added once osmsd answers: wait for alice's login.
    t.require(wait_until(lambda: b"alice@example.test" in read_users(), 30),
              "the demo users are there")

    with t.case("S/MIME: alice to an unknown correspondent: signed, "
                "openssl verifies it with the demo CA"):
        mid = message_id()
        submit_demo("carol@remote.test", "first\r\n", mid)
        d = relayed(sink, mid)
        t.require(d, "not relayed")
        t.expect(ctype(d) == "multipart/signed", ctype(d))
        with open(w("m1.eml"), "wb") as f:
            f.write(d)
        p = subprocess.run(["openssl", "cms", "-verify", "-in", w("m1.eml"),
                            "-CAfile", os.path.join(state, "ca.pem")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        t.expect(p.returncode == 0 and b"first" in p.stdout,
                 p.stderr.decode())

    with t.case("S/MIME: carol's encrypted, signed message to alice: "
                "decrypted, the signature valid"):
        # carol's certificate, from the demo CA (as a partner CA would)
        with open(w("carol.ext"), "w") as f:
            f.write("subjectAltName=email:carol@remote.test\nkeyUsage="
                    "digitalSignature,keyEncipherment\nextendedKeyUsage="
                    "emailProtection\n")
        sh("openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes",
           "-keyout", w("carol.key"), "-out", w("carol.csr"), "-subj",
           "/CN=carol")
        sh("openssl", "x509", "-req", "-in", w("carol.csr"), "-CA",
           os.path.join(state, "ca.pem"), "-CAkey",
           os.path.join(state, "ca.key"), "-set_serial", "4242", "-days",
           "2", "-extfile", w("carol.ext"), "-out", w("carol.pem"))
        signed = sh("openssl", "cms", "-sign", "-signer", w("carol.pem"),
                    "-inkey", w("carol.key"), "-md", "sha256",
                    data=b"Content-Type: text/plain\r\n\r\nhello alice, "
                    b"from carol\r\n")
        enc = sh("openssl", "cms", "-encrypt", "-aes256",
                 os.path.join(state, "smime", "alice@example.test.pem"),
                 data=signed).replace(b"\r\n", b"\n").replace(b"\n",
                                                              b"\r\n")
        mid = message_id()
        mx("carol@remote.test", b"From: <carol@remote.test>\r\nTo: <alice@"
           b"example.test>\r\nSubject: secret\r\nMessage-ID: " +
           mid.encode() + b"\r\n" + enc)
        m = delivered(mid)
        t.require(m is not None, "not delivered")
        t.expect(m["X-Osms-SMIME"] == "decrypted for alice@example.test; "
                 "verified signer=carol@remote.test", m["X-Osms-SMIME"])
        ar = re.sub(r"\s+", " ", m["Authentication-Results"] or "")
        t.expect("smime=pass" in ar, repr(ar))
        # The sender checks are on, answered by the demo's name server:
        # one field holds them all.
        t.expect(len(m.get_all("Authentication-Results")) == 1, ar)
        t.expect("spf=pass smtp.mailfrom=carol@remote.test" in ar and
                 "dmarc=pass (p=none) header.from=remote.test" in ar, ar)
        t.expect(b"from carol" in m.as_bytes(), "not decrypted")

    with t.case("S/MIME: alice's reply to carol, whose certificate came "
                "with her mail: encrypted, carol decrypts it"):
        mid = message_id()
        submit_demo("carol@remote.test", "the reply\r\n", mid)
        d = relayed(sink, mid)
        t.require(d, "not relayed")
        t.expect(ctype(d) == "application/pkcs7-mime" and b"the reply"
                 not in d, ctype(d))
        with open(w("m3.eml"), "wb") as f:
            f.write(d)
        p = subprocess.run(["openssl", "cms", "-decrypt", "-in",
                            w("m3.eml"), "-recip", w("carol.pem"),
                            "-inkey", w("carol.key")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        t.expect(p.returncode == 0 and b"the reply" in p.stdout,
                 p.stderr.decode())

    with t.case("OpenPGP: dora's message encrypted and signed by gpg for "
                "alice: decrypted, verified"):
        gpg("--quick-gen-key", "Dora <dora@remote.test>", "future-default",
            "default", "never")
        gpg("--import", os.path.join(state, "pgp", "alice@example.test.asc"))
        with open(w("dora.asc"), "wb") as f:
            f.write(gpg("--export", "dora@remote.test"))
        p = subprocess.run(CTL + ["pgp", "import", w("dora.asc")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        t.require(p.returncode == 0, p.stderr.decode())
        arm = gpg("-u", "dora@remote.test", "-r", "alice@example.test",
                  "--sign", "--encrypt", data=b"Content-Type: text/plain"
                  b"\r\n\r\nhello alice, from dora\r\n")
        mid = message_id()
        mx("dora@remote.test", b"From: <dora@remote.test>\r\nTo: <alice@"
           b"example.test>\r\nSubject: pgp\r\nMessage-ID: " + mid.encode() +
           b"\r\nMIME-Version: 1.0\r\nContent-Type: multipart/encrypted; "
           b"protocol=\"application/pgp-encrypted\"; boundary=\"b\"\r\n\r\n"
           b"--b\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion:"
           b" 1\r\n\r\n--b\r\nContent-Type: application/octet-stream\r\n"
           b"\r\n" + arm.replace(b"\n", b"\r\n") + b"\r\n--b--\r\n")
        m = delivered(mid)
        t.require(m is not None, "not delivered")
        t.expect(m["X-Osms-PGP"] == "decrypted for alice@example.test; "
                 "verified signer=dora@remote.test", m["X-Osms-PGP"])
        t.expect(b"from dora" in m.as_bytes(), "not decrypted")

    with t.case("OpenPGP: alice's reply to dora: encrypted to dora's key, "
                "gpg decrypts it"):
        mid = message_id()
        submit_demo("dora@remote.test", "reply to dora\r\n", mid)
        d = relayed(sink, mid)
        t.require(d and b"reply to dora" not in d, "not encrypted")
        t.expect(b"reply to dora" in gpg.decrypt_armored(d),
                 "gpg cannot decrypt it")
finally:
    if demo.poll() is None:
        demo.send_signal(signal.SIGTERM)
    try:
        out = demo.communicate(timeout=30)[0]
    except subprocess.TimeoutExpired:
        demo.kill()
        out = demo.communicate()[0]
    if t.failed:
        t.diag(out.decode(errors="replace")[-3000:])
    sink.close()
    gpg.close(os.path.join(state, "pgp", "gnupg"),
              os.path.join(state, "smime", "gnupg"))
    subprocess.run(["rm", "-rf", state, work])
t.done()
