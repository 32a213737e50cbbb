#!/usr/bin/env python3
"""The gateway's policy from the directory: a policy-table gives a local
user or domain actions of its own over the rules (the user's entry over
the domain's), rules match recipients a table lists, a table that cannot
answer defers the mail (451 4.3.0) rather than guess, an entry that does
not parse does the same and is logged, and osmsctl policy test shows
what the directory said. The tables here are files; test_gateway_pg
has them in PostgreSQL. What leaves is captured at a test smarthost."""
import os
import re
import smtplib
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from osmstest import *  # noqa: E402,F401,F403
from mailtest import *  # noqa: E402,F401,F403
from smtpsink import Sink  # noqa: E402

t = Tests(__file__)


def refused(sub, rcpts, user="alice@example.test", password="alice-pw"):
    """Submit; the SMTPDataError it gets, or None if accepted."""
    try:
        submit(sub, rcpts, user=user, password=password)
    except smtplib.SMTPDataError as e:
        return e
    return None


def content_type(data):
    m = re.search(rb"^Content-Type:[ \t]*([^;\r\n]*)", data.split(
        b"\r\n\r\n", 1)[0], re.M | re.I)
    return m.group(1).decode() if m else ""


def one(sink, mid):
    wait_until(lambda: any(mid.encode() in m.data for m in sink.messages),
               30)
    return [m for m in sink.messages if mid.encode() in m.data]


CRYPTOD = """cryptod {
\tpolicy-table <crypt>
%s\trule outbound to <partners> encrypt mandatory
\trule internal sign never
}"""

sink = Sink()
with Osms(start=False) as o:
    crypt = o.write_file("crypt", "# the gateway's word per user and domain\n"
                         "bob@example.test  encrypt mandatory\n"
                         "example.test      sign always\n")
    partners = o.write_file("partners", "listed.test\nvip@other.test\n")
    tables = ('table crypt file "%s"\ntable partners file "%s"\n'
              'table down postgres "host=/nonexistent dbname=none '
              'connect_timeout=2"\n'
              'relay host 127.0.0.1 port %d tls none\n'
              % (crypt, partners, sink.port))

    def configure(first_rule=""):
        o.write_conf(o.make_conf(tables, CRYPTOD % first_rule))

    configure()
    o.start()
    sub = o.ports["submission"]
    # The internal CA gives local senders their certificates.
    t.require(o.ctl("cert", "ca").returncode == 0, "osmsctl cert ca")
    t.require(o.ctl("reload").returncode == 0, "reload")
    time.sleep(0.5)

    with t.case("a rule on a table: what it lists (a domain, an address) "
                "must be encrypted, the rest need not"):
        for rcpt in ("x@listed.test", "vip@other.test"):
            e = refused(sub, [rcpt])
            t.expect(e is not None and e.smtp_code == 550 and
                     ("5.7.1 <%s>: no usable certificate" % rcpt).encode()
                     in e.smtp_error, "%s: %r" % (rcpt, e))
        mid = submit(sub, ["plain@other.test"], body="not listed\r\n")
        got = one(sink, mid)
        t.expect(len(got) == 1 and content_type(got[0].data) ==
                 "multipart/signed", "plain@other.test: signed, sent")

    with t.case("the user's entry over the rules: bob must encrypt, "
                "alice need not"):
        e = refused(sub, ["plain@other.test"], user="bob@example.test",
                    password="bob-pw")
        t.expect(e is not None and e.smtp_code == 550 and
                 b"no usable certificate" in e.smtp_error, repr(e))
        t.expect(wait_log(o, r"from=<bob@example\.test> "
                          r"to=<plain@other\.test> refused: encrypt "
                          r"mandatory"), "audited")

    with t.case("the domain's entry over the rules: internal mail is "
                "signed though a rule says never"):
        mid = submit(sub, ["bob@example.test"], body="internal\r\n")
        m = Mailboxes(o).wait_for("bob", mid)
        t.expect(m is not None and m.get_content_type() ==
                 "multipart/signed", repr(m and m.get_content_type()))

    with t.case("osmsctl policy test shows the table and the entries"):
        p = o.ctl("policy", "test", "alice@example.test", "x@listed.test")
        t.expect(p.returncode == 0 and
                 "table:       <partners> lists listed.test" in p.stdout and
                 re.search(r"^rule: +line \d+: rule outbound to <partners> "
                           r"encrypt mandatory$", p.stdout, re.M) and
                 "directory:   example.test: sign always (policy-table "
                 "<crypt>)" in p.stdout, p.stdout + p.stderr)
        p = o.ctl("policy", "test", "bob@example.test", "plain@other.test")
        t.expect("directory:   bob@example.test: encrypt mandatory" in
                 p.stdout and re.search(r"actions: +sign always, encrypt "
                                        r"mandatory", p.stdout),
                 p.stdout + p.stderr)

    with t.case("an edited table counts after the reload"):
        o.write_file("crypt", "example.test sign always\n")
        t.require(o.ctl("reload").returncode == 0, "reload")
        time.sleep(0.5)
        mid = submit(sub, ["plain@other.test"], user="bob@example.test",
                     password="bob-pw", body="bob may\r\n")
        t.expect(len(one(sink, mid)) == 1, "bob's mail left")

    with t.case("as mail leaves: the sender's entry counts, asked anew "
                "after a reload (encrypt never: in the clear though a "
                "certificate is known)"):
        t.require(o.ctl("cert", "issue", "carol@partner.test")
                  .returncode == 0, "a certificate for carol")
        o.write_file("crypt", "example.test sign always\n"
                     "bob@example.test encrypt never\n")
        t.require(o.ctl("reload").returncode == 0, "reload")
        time.sleep(0.5)
        mid = submit(sub, ["carol@partner.test"], body="alice's\r\n")
        got = one(sink, mid)
        t.expect(len(got) == 1 and content_type(got[0].data) ==
                 "application/pkcs7-mime", "alice's copy is encrypted")
        # bob's copy waits at the smarthost; the reload empties cryptod's
        # answers, so its encryption asks the directory again.
        sink.rcpt_reply = {"carol@partner.test": "451 4.3.0 not now"}
        mid = submit(sub, ["carol@partner.test"], user="bob@example.test",
                     password="bob-pw", body="bob's\r\n")
        t.require(wait_log(o, r"to=<carol@partner\.test> status=deferred"),
                  "deferred first")
        sink.rcpt_reply = {}
        t.require(o.ctl("reload").returncode == 0, "reload")
        time.sleep(0.5)
        for i in re.findall(r"^([0-9a-f]{16}) ", o.ctl("queue", "list")
                            .stdout, re.M):
            o.ctl("queue", "schedule", i)
        got = one(sink, mid)
        t.expect(len(got) == 1 and content_type(got[0].data) ==
                 "multipart/signed" and b"bob's" in got[0].data,
                 "bob's copy: signed, in the clear")
        t.expect(wait_log(o, r"to=<carol@partner\.test> not-encrypted "
                          r"encrypt=never rule=\d+ entry=bob@example\.test"),
                 "the entry is in the audit line")

    with t.case("an entry that does not parse defers the user's mail "
                "(451 4.3.0) and is logged"):
        o.write_file("crypt", "bob@example.test encrypt sometimes\n")
        t.require(o.ctl("reload").returncode == 0, "reload")
        time.sleep(0.5)
        e = refused(sub, ["plain@other.test"], user="bob@example.test",
                    password="bob-pw")
        t.expect(e is not None and e.smtp_code == 451 and
                 b"4.3.0 the gateway's policy for <plain@other.test> "
                 b"cannot be read from the directory now" in e.smtp_error,
                 repr(e))
        t.expect(wait_log(o, r"cryptod: policy-table crypt: entry "
                          r"bob@example\.test: encrypt wants never"),
                 "the log says why")
        t.expect(refused(sub, ["plain@other.test"]) is None,
                 "alice is not held up")

    with t.case("a table that cannot answer defers the mail (451 4.3.0)"
                " and nothing leaves"):
        o.write_file("crypt", "example.test sign always\n")
        configure("\trule outbound to <down> encrypt never\n")
        t.require(o.ctl("reload").returncode == 0, "reload")
        time.sleep(0.5)
        n = len(sink.messages)
        e = refused(sub, ["plain@other.test"])
        t.expect(e is not None and e.smtp_code == 451 and b"4.3.0" in
                 e.smtp_error, repr(e))
        t.expect(wait_log(o, r"cryptod: the directory cannot tell "
                          r"membership of \S+ in table down"), "logged")
        time.sleep(1)
        t.expect(len(sink.messages) == n, "nothing left")
        configure()
        t.require(o.ctl("reload").returncode == 0, "reload")
        time.sleep(0.5)
        mid = submit(sub, ["plain@other.test"], body="back\r\n")
        t.expect(len(one(sink, mid)) == 1, "mail flows again")
t.done()
