#!/usr/bin/env python3
"""The outbound side of the SMTP attack catalogue (shared/SECURITY.md
rows A2 and C7; section 4 outbound-downgrade): a hostile next hop that
answers with malformed, over-long, many-line and control-laden replies,
and next hops that offer STARTTLS and then break it, refuse it, or
inject plaintext behind its 220.

alice submits (587, AUTH) to domains that per-domain relay routes send
to scripted servers on loopback. Each probe asserts what the queue makes
of the answer (sent, deferred or bounced, with a one-line reason in the
log, the envelope and the DSN), that mail that needs TLS never leaves in
clear, and that the envelope still reads back (osmsctl queue show).
DANE and MTA-STS failures are in test_mta_dns.py, a next hop without
STARTTLS and REQUIRETLS without TLS in test_mta.py.
"""
import email
import os
import re
import socket
import ssl
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from osmstest import *  # noqa: E402,F401,F403
from mailtest import *  # noqa: E402,F401,F403
from smtpsink import Sink  # noqa: E402

t = Tests(__file__)


class Hostile:
    """A next hop that answers RCPT by the recipient's local part, from
    replies (raw bytes, sent as they are); starttls: None (not offered),
    "garbage" (220, then bytes that are not TLS, and close), "refuse"
    (454), "inject" (220 and a plaintext 250 in the same segment, then a
    real handshake with ctx). Keeps every command line as (tls, line)."""

    def __init__(self, replies=None, starttls=None, ctx=None):
        self.replies = replies or {}
        self.starttls = starttls
        self.ctx = ctx
        self.lines = []
        self.data = []
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.sock.close()

    def mails(self, tls=None):
        with self.lock:
            return [x for x in self.lines if x[1].upper().startswith(
                b"MAIL") and (tls is None or x[0] == tls)]

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,),
                             daemon=True).start()

    def _serve(self, c):
        try:
            self._session(c)
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            c.close()

    def _session(self, c):
        c.settimeout(30)
        tls = False
        f = c.makefile("rb")
        c.sendall(b"220 hostile.test ESMTP\r\n")
        while True:
            line = f.readline(100000)
            if not line:
                return
            cmd = line.rstrip(b"\r\n")
            with self.lock:
                self.lines.append((tls, cmd))
            verb = cmd.split(b" ", 1)[0].upper()
            if verb in (b"EHLO", b"HELO"):
                # An empty first line, as a hostile peer may send it.
                c.sendall(b"250-\r\n" + (b"250-STARTTLS\r\n" if
                                          self.starttls and not tls else
                                          b"") + b"250 8BITMIME\r\n")
            elif verb == b"STARTTLS" and self.starttls == "refuse":
                c.sendall(b"454 4.7.0 TLS not available\r\n")
            elif verb == b"STARTTLS" and self.starttls == "garbage":
                c.sendall(b"220 2.0.0 go ahead\r\n")
                time.sleep(0.2)
                c.sendall(b"\x00not TLS at all\r\n250 2.0.0 ok\r\n")
                return
            elif verb == b"STARTTLS" and self.starttls == "inject":
                c.sendall(b"220 2.0.0 go ahead\r\n250-injected\r\n"
                          b"250 AUTH PLAIN\r\n")
                c = self.ctx.wrap_socket(c, server_side=True)
                f = c.makefile("rb")
                tls = True
            elif verb == b"MAIL":
                c.sendall(b"250 2.1.0 ok\r\n")
            elif verb == b"RCPT":
                local = cmd[cmd.index(b"<") + 1:cmd.index(b"@")].decode()
                c.sendall(self.replies.get(local, b"250 2.1.5 ok\r\n"))
                if local == "cut":
                    return
            elif verb == b"DATA":
                c.sendall(b"354 go\r\n")
                body = []
                while True:
                    raw = f.readline(1 << 20)
                    if not raw or raw == b".\r\n":
                        break
                    body.append(raw)
                with self.lock:
                    self.data.append((tls, b"".join(body)))
                c.sendall(b"250-queued\r\n250 2.0.0 ok\r\n")
            elif verb == b"RSET":
                c.sendall(b"250 2.0.0 ok\r\n")
            elif verb == b"QUIT":
                c.sendall(b"221 2.0.0 bye\r\n")
                return
            else:
                c.sendall(b"502 5.5.2 what\r\n")


def outcome(o, rcpt, timeout=20):
    """The queue's log line about the first attempt for rcpt: (status,
    the line, the queue id)."""
    m = wait_log(o, r"queue: ([0-9a-f]{16}) to=<%s> status=(\S+)[^\n]*"
                 % re.escape(rcpt), timeout)
    return (m.group(2), m.group(0), m.group(1)) if m else (None, "", None)


srvctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
opensink = Sink()
HOSTILE = {
    "lf": b"550-a\nb\r\n",
    "long": b"550 5.1.1 " + b"x" * 5000 + b"\r\n",
    "many": b"550-5.1.1 x\r\n" * 1000 + b"550 5.1.1 x\r\n",
    "code": b"599 5.9.9 odd\r\n",
    "mixed": b"550-5.1.1 first\r\n451 4.3.0 second\r\n",
    "multi": b"550-5.1.1 first line\r\n550 5.1.1 Injected-Header: evil\r\n",
    "ctl": b"550 5.1.1 a\x1b[31mb\xff\x00c\r\n",
    "cut": b"250-5.1.5 half a reply\r\n",
}
hostile = Hostile(HOSTILE)
garbage = Hostile(starttls="garbage")
refuse = Hostile(starttls="refuse")

with Osms(start=False) as o:
    srvctx.load_cert_chain(o.tls["cert"], o.tls["key"])
    inject = Hostile(starttls="inject", ctx=srvctx)
    conf = "".join('relay domain "%s" host 127.0.0.1 port %d tls %s\n' % x
                   for x in (("hostile.test", hostile.port, "none"),
                             ("badtls.test", garbage.port, "require"),
                             ("opptls.test", garbage.port, "opportunistic"),
                             ("refusetls.test", refuse.port, "require"),
                             ("inject.test", inject.port, "require")))
    conf += "relay host 127.0.0.1 port %d tls none\n" % opensink.port
    o.write_conf(o.make_conf(conf))
    o.start()
    sub = o.ports["submission"]
    box = Mailboxes(o)

    with t.case("A2: hostile replies from the next hop: deferred or "
                "bounced, with one line of printable text"):
        mids = {}
        for local in HOSTILE:
            mids[local] = submit(sub, ["%s@hostile.test" % local])
        want = {"lf": "deferred", "long": "deferred", "many": "deferred",
                "code": "deferred", "mixed": "deferred", "cut": "deferred",
                "multi": "failed", "ctl": "failed"}
        for local, status in want.items():
            got, line, qid = outcome(o, "%s@hostile.test" % local)
            t.expect(got == status, "%s: %s" % (local, line or "no line"))
        t.expect("cannot save its state" not in o.log(),
                 "an envelope could not be written")
        # The reasons, as the queue logged and kept them.
        for local, why in (
                ("lf", "4.4.2 bad reply from the server: not an SMTP "
                 "reply"),
                ("long", "4.4.2 the server sent a line too long"),
                ("many", "4.4.2 bad reply from the server: reply of too "
                 "many lines"),
                ("code", "4.4.2 bad reply from the server: not an SMTP "
                 "reply"),
                ("mixed", "4.4.2 bad reply from the server: reply lines "
                 "with different codes"),
                ("cut", "4.4.2 the server closed the connection")):
            got, line, qid = outcome(o, "%s@hostile.test" % local)
            t.expect(why in line, "%s: %s" % (local, line))
            show = o.ctl("queue", "show", qid) if qid else None
            t.expect(show is not None and show.returncode == 0 and
                     "%s@hostile.test" % local in show.stdout and
                     why in show.stdout, "%s: queue show: %s" % (
                         local, show and show.stdout + show.stderr))
        # A bounce says why in one line each.
        for local, diag in (("multi", "550 5.1.1 first line Injected-Header:"
                             " evil"), ("ctl", "550 5.1.1 a?[31mb??c")):
            dsns = wait_until(lambda: box.dsns("alice", mids[local]))
            t.require(dsns, "%s: no DSN" % local)
            raw = dsns[0].as_bytes()
            t.expect(not re.search(rb"^Injected-Header:", raw, re.M),
                     "%s: the reply made a header line" % local)
            t.expect(b"\x1b" not in raw and b"\x00" not in raw,
                     "%s: control bytes in the DSN" % local)
            status = dsns[0].get_payload()[1].as_string()
            t.expect(("Diagnostic-Code: smtp; %s" % diag) in " ".join(
                status.split("\n")) or diag in status, "%s: %s" % (
                    local, status))
        t.expect(not hostile.data, "a message went out after a bad reply")

    with t.case("C7: tls require, STARTTLS offered, the handshake broken: "
                "deferred, never sent in clear"):
        submit(sub, ["a@badtls.test"])
        got, line, qid = outcome(o, "a@badtls.test")
        t.expect(got == "deferred" and "TLS" in line, line or "no line")
        submit(sub, ["b@refusetls.test"])
        got, line, qid = outcome(o, "b@refusetls.test")
        t.expect(got == "deferred" and "STARTTLS: 454 4.7.0 TLS not "
                 "available" in line, line or "no line")
        time.sleep(0.5)
        t.expect(not garbage.mails() and not refuse.mails(),
                 "MAIL sent in clear: %r" % (garbage.mails() +
                                             refuse.mails()))
        t.expect(not garbage.data and not refuse.data, "content in clear")

    with t.case("C7: REQUIRETLS over opportunistic TLS that breaks: never "
                "sent in clear"):
        mid = submit(sub, ["c@opptls.test"], options=("REQUIRETLS",))
        got, line, qid = outcome(o, "c@opptls.test")
        t.expect(got in ("deferred", "failed"), line or "no line")
        if got == "failed":
            dsns = wait_until(lambda: box.dsns("alice", mid))
            t.expect(dsns and "5.7.30" in dsns[0].get_payload()[1]
                     .as_string(), "no 5.7.30 DSN")
        time.sleep(0.5)
        t.expect(not garbage.mails(), "MAIL sent in clear")
        t.expect(not [d for d in garbage.data if mid.encode() in d[1]],
                 "the message went out in clear")

    with t.case("C7: plaintext injected behind the next hop's 220 to "
                "STARTTLS is never read as a reply"):
        mid = submit(sub, ["d@inject.test"])
        got, line, qid = outcome(o, "d@inject.test")
        t.expect(got == "sent" and "tls=TLSv1." in line, line or "no line")
        t.expect(inject.mails(False) == [], "MAIL in clear: %r" %
                 inject.mails(False))
        # After TLS the mta said EHLO anew and waited for its reply.
        tls_lines = [x[1].split(b" ")[0].upper() for x in inject.lines
                     if x[0]]
        t.expect(tls_lines[:3] == [b"EHLO", b"MAIL", b"RCPT"],
                 "commands inside TLS: %r" % tls_lines)
        t.expect(len([d for d in inject.data if mid.encode() in d[1]]) == 1,
                 "not delivered once")
        t.expect(not any(x[1].upper().startswith(b"AUTH")
                         for x in inject.lines), "AUTH was tried")

    with t.case("the default relay got nothing, the mta was not "
                "restarted"):
        t.expect(opensink.connections == 0, "the default relay was used")
        rows = {r["role"]: r for r in o.status()}
        t.expect(rows["mta"]["restarts"] == 0 and
                 rows["queue"]["restarts"] == 0, "restarted")

for x in (hostile, garbage, refuse, inject, opensink):
    x.close()
t.done()
