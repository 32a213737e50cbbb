#!/usr/bin/env python3
"""Virus scanning before the final reply to DATA: scand with libclamav
and the shipped test signature (regress/data/clamav/osms-test.ndb, the
EICAR test string).

Covers: EICAR as the body, as a base64 attachment, in a zip, in a zip in
a zip and in an attached message, refused with 550 5.7.1 and the
signature's name, from strangers and from users; clean mail delivered
with X-Virus-Scanned; the quarantine and tag policies; scand stopped,
slow or killed mid-scan (451, nothing lost); a message past the scan
limits (unscannable); a zip bomb in bounded time; the databases reloaded
under load without a failed session.
"""
import base64
import io
import os
import re
import signal
import smtplib
import sys
import threading
import time
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from osmstest import *  # noqa: E402,F401,F403
from mailtest import *  # noqa: E402,F401,F403

t = Tests(__file__)

EICAR = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-"
         b"TEST-FILE!$H+H*")


def zipped(name, data):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, data)
    return buf.getvalue()


def mime(mid, parts, sender="x@remote.test", rcpt="alice@example.test"):
    """A multipart/mixed message: parts are (content-type, bytes, b64)."""
    out = ("From: <%s>\r\nTo: <%s>\r\nSubject: scan\r\nMessage-ID: %s\r\n"
           "MIME-Version: 1.0\r\nContent-Type: multipart/mixed;"
           " boundary=\"b0\"\r\n\r\npreamble\r\n" % (sender, rcpt, mid)
           ).encode()
    for ctype, data, b64 in parts:
        out += b"--b0\r\nContent-Type: " + ctype.encode() + b"\r\n"
        if b64:
            enc = base64.encodebytes(data).replace(b"\n", b"\r\n")
            out += (b"Content-Transfer-Encoding: base64\r\n"
                    b"Content-Disposition: attachment; filename=f\r\n"
                    b"\r\n" + enc)
        else:
            out += b"\r\n" + data + b"\r\n"
    return out + b"--b0--\r\n"


def smtp_send(port, data, rcpt="alice@example.test", sender="x@remote.test"):
    """(code, text) of the final reply to DATA."""
    return smtp_data(port, sender, data, rcpts=(rcpt,))


with Osms() as o:
    mx = o.ports["smtp"]
    box = Mailboxes(o)

    with t.case("EICAR in every wrapping: 550 5.7.1 with the name"):
        inner = ("From: <y@remote.test>\r\nSubject: inner\r\n\r\n"
                 ).encode() + EICAR + b"\r\n"
        cases = {
            "body": (b"From: <x@remote.test>\r\nSubject: v\r\n"
                     b"Message-ID: <b@t>\r\n\r\n" + EICAR + b"\r\n"),
            "base64 attachment": mime("<a@t>", [
                ("text/plain", b"hello", False),
                ("application/octet-stream", EICAR, True)]),
            "zip": mime("<z@t>", [("application/zip",
                                   zipped("eicar.com", EICAR), True)]),
            "zip in a zip": mime("<zz@t>", [("application/zip", zipped(
                "inner.zip", zipped("eicar.com", EICAR)), True)]),
            "attached message": mime("<m@t>", [("message/rfc822", inner,
                                                False)]),
        }
        for name, data in cases.items():
            code, text = smtp_send(mx, data)
            t.expect(code == 550 and b"5.7.1" in text and
                     b"Osms.Test.EICAR" in text, "%s: %d %r" % (name, code,
                                                              text))
        t.expect(not any(EICAR in raw for _, raw in box.messages("alice")),
                 "a virus was delivered")
        t.expect(wait_log(o, r"check virus: message \w+ infected: "
                          r"Osms\.Test\.EICAR"), "no log line")

    with t.case("clean mail is delivered with X-Virus-Scanned"):
        mid = send(mx, "x@remote.test", ["alice@example.test"])
        m = box.wait_for("alice", mid)
        t.require(m is not None, "not delivered")
        t.expect(re.match(r"osms with ClamAV [\d.]+/\d+$",
                          m["X-Virus-Scanned"] or ""),
                 repr(m["X-Virus-Scanned"]))

    with t.case("a user's infected submission is refused too"):
        try:
            submit(o.ports["submission"], ["bob@example.test"],
                   raw=b"From: <alice@example.test>\r\nSubject: v\r\n\r\n" +
                   EICAR + b"\r\n")
            code = 250
        except smtplib.SMTPDataError as e:
            code = e.smtp_code
        t.expect(code == 550, "code %d" % code)

    with t.case("quarantine: accepted, held, released, deleted"):
        o.write_conf(o.conf_text() + "scand {\n\taction quarantine\n}\n")
        o.ctl("reload")
        time.sleep(0.5)
        ids = []
        for i in range(2):
            code, text = smtp_send(mx, (
                "From: <x@remote.test>\r\nSubject: q%d\r\n"
                "Message-ID: <q%d@t>\r\n\r\n" % (i, i)).encode() + EICAR)
            t.expect(code == 250, "%d %r" % (code, text))
            ids.append(text.split()[-1].decode())
        p = o.ctl("quarantine", "list")
        t.expect(all(i in p.stdout for i in ids) and
                 "Osms.Test.EICAR" in p.stdout, p.stdout)
        time.sleep(1)
        t.expect(box.find("alice", "<q0@t>") is None, "delivered anyway")
        o.ctl("quarantine", "release", ids[0])
        m = box.wait_for("alice", "<q0@t>")
        t.expect(m is not None and "Osms.Test.EICAR" in (m["X-Virus"] or
                                                          ""), "release")
        o.ctl("quarantine", "delete", ids[1])
        p = o.ctl("quarantine", "list")
        t.expect("0 quarantined" in p.stdout + p.stderr, p.stdout)

    with t.case("tag: delivered with an X-Virus field"):
        o.write_conf(o.conf_text() + "scand {\n\taction tag\n}\n")
        o.ctl("reload")
        time.sleep(0.5)
        code, _ = smtp_send(mx, b"From: <x@remote.test>\r\nSubject: t\r\n"
                            b"Message-ID: <tag@t>\r\n\r\n" + EICAR)
        m = box.wait_for("alice", "<tag@t>")
        t.expect(code == 250 and m is not None and
                 "Osms.Test.EICAR" in (m["X-Virus"] or ""), "not tagged")
        o.write_conf(o.conf_text() + "scand {\n\taction reject\n}\n")
        o.ctl("reload")
        time.sleep(0.5)

    with t.case("scand stopped: 451 after the timeout, then delivered"):
        o.write_conf(o.conf_text() + "scand {\n\ttimeout 2s\n}\n")
        o.ctl("reload")
        time.sleep(0.5)
        pid = o.pid("scand")
        os.kill(pid, signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            code, text = smtp_send(mx, b"From: <x@remote.test>\r\n"
                                   b"Message-ID: <slow@t>\r\n\r\nhi\r\n")
            dt = time.monotonic() - t0
        finally:
            os.kill(pid, signal.SIGCONT)
        t.expect(code == 451 and b"4.7.1" in text, "%d %r" % (code, text))
        t.expect(1.5 < dt < 10, "took %.1f s" % dt)
        code, _ = smtp_send(mx, b"From: <x@remote.test>\r\n"
                            b"Message-ID: <slow@t>\r\n\r\nhi\r\n")
        t.expect(code == 250 and box.wait_for("alice", "<slow@t>"),
                 "not delivered on the retry")

    with t.case("a late verdict does not decide the next message"):
        # One session: an EICAR message times out while scand is
        # stopped; a clean one follows; then scand answers both.
        pid = o.pid("scand")
        os.kill(pid, signal.SIGSTOP)
        res = {}

        def session():
            c = smtplib.SMTP("127.0.0.1", mx, timeout=60)
            c.ehlo("client.test")
            for name, body in (("first", EICAR), ("second", b"clean")):
                c.mail("x@remote.test")
                c.rcpt("alice@example.test")
                res[name] = c.data(b"From: <x@remote.test>\r\n"
                                   b"Message-ID: <late-" + name.encode() +
                                   b"@t>\r\n\r\n" + body)[0]
                if name == "first":
                    threading.Timer(1.0, os.kill,
                                    (pid, signal.SIGCONT)).start()
            c.quit()
        try:
            session()
        finally:
            os.kill(pid, signal.SIGCONT)
        t.expect(res == {"first": 451, "second": 250}, repr(res))

    with t.case("scand killed mid-scan: 451, nothing lost, once"):
        pid = o.pid("scand")
        os.kill(pid, signal.SIGSTOP)
        res = {}

        def client():
            res["r"] = smtp_send(mx, b"From: <x@remote.test>\r\n"
                                 b"Message-ID: <kill@t>\r\n\r\nhi\r\n")
        th = threading.Thread(target=client)
        th.start()
        time.sleep(1)
        os.kill(pid, signal.SIGKILL)
        th.join(30)
        t.expect(res.get("r", (0,))[0] == 451, repr(res))
        t.expect(wait_until(lambda: o.pid("scand") not in (0, pid, None)),
                 "scand not restarted")
        time.sleep(1)
        code, _ = smtp_send(mx, b"From: <x@remote.test>\r\n"
                            b"Message-ID: <kill@t>\r\n\r\nhi\r\n")
        t.expect(code == 250, "retry: %d" % code)
        box.wait_for("alice", "<kill@t>")
        t.expect(box.count("alice", "<kill@t>") == 1, "copies")

    with t.case("past the scan limits: unscannable, 451; or accepted"):
        big = mime("<big@t>", [("application/zip", zipped(
            "data.bin", os.urandom(600 * 1024)), True)])
        o.write_conf(o.conf_text() + "scand {\n\tmax-file-size 100K\n"
                     "\tmax-scan-size 200K\n}\n")
        o.ctl("reload")
        time.sleep(2)
        code, text = smtp_send(mx, big)
        t.expect(code == 451 and b"could not be scanned" in text,
                 "%d %r" % (code, text))
        o.write_conf(o.conf_text() + "scand {\n\tunscannable accept\n}\n")
        o.ctl("reload")
        time.sleep(2)
        code, text = smtp_send(mx, big)
        m = box.wait_for("alice", "<big@t>")
        t.expect(code == 250 and m is not None and
                 (m["X-Virus-Scanned"] or "").startswith("not scanned"),
                 "%d %r %r" % (code, text, m and m["X-Virus-Scanned"]))
        o.write_conf(o.conf_text() + "scand {\n\tunscannable tempfail\n"
                     "\tmax-file-size 25M\n\tmax-scan-size 100M\n}\n")
        o.ctl("reload")
        time.sleep(2)

    with t.case("a zip bomb ends in bounded time, scand stays up"):
        zeros = zipped("z", b"\0" * (200 * 1024 * 1024))
        layers = zeros
        for i in range(3):
            layers = zipped("l%d.zip" % i, layers * 1)
        bomb = mime("<bomb@t>", [("application/zip", layers, True)])
        pid = o.pid("scand")
        t0 = time.monotonic()
        code, text = smtp_send(mx, bomb)
        dt = time.monotonic() - t0
        t.expect(code in (250, 451, 550) and dt < 60,
                 "%d %r in %.1f s" % (code, text, dt))
        t.diag("zip bomb (%d bytes): %d %s in %.2f s" % (
            len(bomb), code, text.decode(errors="replace"), dt))
        t.expect(o.pid("scand") == pid, "scand died")
        t.expect(box.find("alice", "<bomb@t>") is None or code == 250,
                 "refused yet delivered")

    with t.case("reload under load: no failed session, new signatures"):
        stop = threading.Event()
        codes = []

        def sender():
            n = 0
            while not stop.is_set():
                n += 1
                codes.append(smtp_send(mx, (
                    "From: <x@remote.test>\r\nMessage-ID: <load%d@t>\r\n"
                    "\r\nclean %d\r\n" % (n, n)).encode())[0])
        threads = [threading.Thread(target=sender) for _ in range(3)]
        for th in threads:
            th.start()
        for i in range(3):
            time.sleep(0.7)
            o.ctl("reload")
        # A second database file: picked up without a reload.
        marker = b"OSMS-SECOND-TEST-SIGNATURE-1234567890"
        with open(o.path("clamav", "second.ndb"), "w") as f:
            f.write("Osms.Test.Second:0:*:%s\n" % marker.hex())
        # scand looks every 10 s (and again after a load that a look
        # came during), then loads: 25 s at most, the load going on.
        written = time.monotonic()
        while time.monotonic() < written + 25:
            status = o.ctl("scan", "status").stdout
            if (re.search(r"ClamAV .* 2 signatures", status) and
                    time.monotonic() > written + 3):
                break
            time.sleep(0.5)
        t.diag("the second database loaded after %.1f s"
               % (time.monotonic() - written))
        stop.set()
        for th in threads:
            th.join(60)
        t.expect(codes and all(c == 250 for c in codes),
                 "%d sent, codes %r" % (len(codes), sorted(set(codes))))
        code, text = smtp_send(mx, b"From: <x@remote.test>\r\n\r\n" +
                               marker + b"\r\n")
        t.expect(code == 550 and b"Osms.Test.Second" in text,
                 "%d %r" % (code, text))
        p = o.ctl("scan", "status")
        t.expect(re.search(r"scand .*ClamAV .* 2 signatures", p.stdout),
                 p.stdout)

    with t.case("no databases: 451, or accepted unscanned (fail open)"):
        os.makedirs(o.path("nodb"), exist_ok=True)
        base = o.conf_text()
        o.write_conf(base + 'scand {\n\tdatabase "%s"\n}\n' %
                     o.path("nodb"))
        o.ctl("reload")
        t.expect(wait_log(o, r"signature databases did not load"),
                 "no log line")
        code, text = smtp_send(mx, b"From: <x@remote.test>\r\n\r\nhi\r\n")
        t.expect(code == 451 and b"4.7.1" in text, "%d %r" % (code, text))
        o.write_conf(base + 'scand {\n\tdatabase "%s"\n'
                     '\ton-failure accept\n}\n' % o.path("nodb"))
        o.ctl("reload")
        time.sleep(1)
        code, _ = smtp_send(mx, b"From: <x@remote.test>\r\n"
                            b"Message-ID: <open@t>\r\n\r\nhi\r\n")
        m = box.wait_for("alice", "<open@t>")
        t.expect(code == 250 and m is not None and
                 (m["X-Virus-Scanned"] or "").startswith("not scanned"),
                 "%d %r" % (code, m and m["X-Virus-Scanned"]))
        o.write_conf(base)
        o.ctl("reload")
        time.sleep(1)

    with t.case("enable no: no scan, no X-Virus-Scanned"):
        o.write_conf(o.conf_text() + "scand {\n\tenable no\n}\n")
        o.ctl("reload")
        time.sleep(0.5)
        mid = send(mx, "x@remote.test", ["alice@example.test"])
        m = box.wait_for("alice", mid)
        t.expect(m is not None and m["X-Virus-Scanned"] is None,
                 "scanned anyway")
t.done()
