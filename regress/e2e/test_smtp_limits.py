#!/usr/bin/env python3
"""The limits per client address on SMTP: sessions at once, connections
a minute (421 4.7.0 at connect) and recipients a minute of clients that
have not authenticated (451 4.7.1 at RCPT). Each probe asserts the exact
answer, the log line that explains it, and that another client (another
address of 127/8) is served meanwhile; an authenticated user is not held
to the recipient limit.
"""
import os
import smtplib
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from osmstest import *  # noqa: E402,F401,F403
from mailtest import *  # noqa: E402,F401,F403

t = Tests(__file__)

ROLES = ("smtpd {\n\tmax-client-sessions 3\n"
         "\tmax-client-connections-per-minute 8\n"
         "\tmax-client-recipients-per-minute 4\n}\n")


def banner(port, source):
    """The first reply line a new connection from source gets, and the
    connection."""
    c = Conn(port, 10, source)
    return read_line(c), c


def served(port, source):
    line, c = banner(port, source)
    c.sendall("QUIT\r\n")
    read_line(c)
    c.close()
    return line.startswith("220 ")


with Osms(roles_conf=ROLES) as o:
    mx, sub = o.ports["smtp"], o.ports["submission"]

    with t.case("max-client-sessions: the fourth session at once from one"
                " address gets 421 4.7.0; another address is served"):
        src = "127.0.0.11"
        open_ = [connect(mx, source=src) for _ in range(3)]
        line, c = banner(mx, src)
        t.expect(line == "421 4.7.0 mail.example.test Too many "
                 "connections from your address; try later", line)
        t.expect(read_line(c, 5) == "", "not closed after the 421")
        c.close()
        t.expect(wait_log(o, r"smtpd limit from=127\.0\.0\.11: more than 3"
                          r" sessions at once \(max-client-sessions\)"),
                 "logged")
        t.expect(served(mx, "127.0.0.21"), "another client refused")
        open_.pop().close()
        t.expect(wait_until(lambda: served(mx, src), 5),
                 "not served again once one session ended")
        for c in open_:
            c.close()

    with t.case("max-client-connections-per-minute: the ninth connection "
                "in a minute gets 421 4.7.0, on submission too"):
        src = "127.0.0.12"
        ok = [served(mx if i % 2 else sub, src) for i in range(8)]
        t.expect(all(ok), repr(ok))
        line, c = banner(sub, src)
        c.close()
        t.expect(line == "421 4.7.0 mail.example.test Too many "
                 "connections from your address; try later", line)
        t.expect(wait_log(o, r"smtpd limit from=127\.0\.0\.12: more than 8"
                          r" connections a minute"), "logged")
        t.expect(served(mx, "127.0.0.22"), "another client refused")

    with t.case("max-client-recipients-per-minute: the fifth RCPT in a "
                "minute gets 451 4.7.1, across sessions"):
        src = "127.0.0.13"
        codes = []
        for n in (3, 2):
            c = connect(mx, source=src)
            c.sendall("EHLO client.test\r\nMAIL FROM:<x@remote.test>\r\n" +
                      "RCPT TO:<alice@example.test>\r\n" * n)
            codes += read_codes(c, 2 + n)[2:]
            c.sendall("QUIT\r\n")
            c.close()
        t.expect(codes == [250, 250, 250, 250, 451], repr(codes))
        c = connect(mx, source=src)
        c.sendall("EHLO client.test\r\nMAIL FROM:<x@remote.test>\r\n"
                  "RCPT TO:<alice@example.test>\r\n")
        last = read_lines(c, 3)[-1:]
        c.close()
        t.expect(last == ["451 4.7.1 Too many recipients from your address;"
                          " try later"], repr(last))
        t.expect(wait_log(o, r"smtpd limit from=127\.0\.0\.13: more than 4"
                          r" recipients a minute"), "logged")
        c = connect(mx, source="127.0.0.23")
        c.sendall("EHLO client.test\r\nMAIL FROM:<x@remote.test>\r\n"
                  "RCPT TO:<alice@example.test>\r\n")
        t.expect(read_codes(c, 3)[2:] == [250], "another client refused")
        c.close()

    with t.case("an authenticated user is not held to the recipient "
                "limit of its address"):
        s = smtplib.SMTP("127.0.0.1", sub, timeout=20,
                         source_address=("127.0.0.13", 0))
        try:
            s.ehlo("client.test")
            s.starttls(context=insecure_ctx())
            s.ehlo("client.test")
            s.login("alice@example.test", "alice-pw")
            s.mail("alice@example.test")
            codes = [s.rcpt(r)[0] for r in ("bob@example.test",
                                            "alice@example.test")]
            s.quit()
        finally:
            s.close()
        t.expect(codes == [250, 250], repr(codes))
t.done()
