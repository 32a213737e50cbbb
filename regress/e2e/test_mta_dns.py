#!/usr/bin/env python3
"""Delivery by MX: routing through DNS (libunbound, DNSSEC) and DANE.

Runs in a network namespace of its own (only lo, 127/8), so receiving
servers can listen on port 25 of 127.0.0.x and nothing can reach a real
name server. The test DNS server (dnstest.py) serves the zones, some of
them signed; osms's mta forwards to it and trusts only its keys.

Covers: MX preference and fallback, the implicit MX, null MX (RFC
7505), a domain that does not exist, DANE (RFC 7672) with a matching and
with a mismatching TLSA record, a TLSA answer that fails validation, and
MTA-STS (RFC 8461): a policy fetched over HTTPS and enforced, with a
good and with a bad MX certificate; and a DKIM signature checked by
dkimpy against the key published in the test DNS.
"""
import http.server
import os
import re
import ssl
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import netns  # noqa: E402

netns.enter()
from osmstest import *  # noqa: E402,F401,F403
from mailtest import *  # noqa: E402,F401,F403
from smtpsink import Sink  # noqa: E402
from dnstest import DnsServer  # noqa: E402

t = Tests(__file__)


def dsn_status(box, mid):
    for d in box.dsns("alice", mid):
        m = re.search(r"^Status: (\S+)", d.as_string(), re.M)
        return m.group(1) if m else "?"
    return None


def spki_sha256(cert):
    pub = subprocess.run(["openssl", "x509", "-in", cert, "-pubkey",
                          "-noout"], stdout=subprocess.PIPE, check=True)
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"],
                         input=pub.stdout, stdout=subprocess.PIPE,
                         check=True)
    import hashlib
    return hashlib.sha256(der.stdout).hexdigest()


def make_cert(o, name, sans):
    """A certificate of the test CA for the DNS names sans."""
    d = o.path("tls")
    key, csr, crt, ext = (os.path.join(d, name + x) for x in
                          (".key", ".csr", ".pem", ".ext"))
    with open(ext, "w") as f:
        f.write("subjectAltName=" + ",".join("DNS:" + n for n in sans) +
                "\nextendedKeyUsage=serverAuth\n")
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
                    "-out", csr, "-subj", "/CN=" + sans[0]], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA",
                    o.tls["ca"], "-CAkey", o.tls["ca_key"], "-set_serial",
                    str(int.from_bytes(os.urandom(8), "big")), "-days", "30",
                    "-extfile", ext, "-out", crt], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return crt, key


POLICIES = {
    "mta-sts.sts.test": "version: STSv1\r\nmode: enforce\r\n"
                        "mx: mx.sts.test\r\nmax_age: 86400\r\n",
    "mta-sts.stsbad.test": "version: STSv1\nmode: enforce\n"
                           "mx: *.stsbad.test\nmax_age: 86400\n",
}
fetches = []


class PolicyHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        host = (self.headers.get("Host") or "").split(":")[0]
        fetches.append((host, self.path))
        body = POLICIES.get(host)
        if self.path != "/.well-known/mta-sts.txt" or body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


def policy_server(cert, key):
    srv = http.server.ThreadingHTTPServer(("127.0.0.9", 443), PolicyHandler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


with Osms(start=False) as o:
    box = Mailboxes(o)
    spki = spki_sha256(o.tls["cert"])
    keyfile = o.path("dkim.key")
    p = subprocess.run([os.path.join(BUILD, "osmsctl"), "dkim", "keygen",
                        "example.test", "sel1", keyfile],
                       stdout=subprocess.PIPE, check=True)
    record = "".join(re.findall(r'"([^"]*)"', p.stdout.decode()))
    zones = {
        "pref.test": [("@", "MX", "10 mx-a"), ("@", "MX", "20 mx-b"),
                      ("mx-a", "A", "127.0.0.2"), ("mx-b", "A", "127.0.0.3")],
        "implicit.test": [("@", "A", "127.0.0.4")],
        "nullmx.test": [("@", "MX", "0 .")],
        "dane.test": [("@", "MX", "10 mx"), ("mx", "A", "127.0.0.5"),
                      ("_25._tcp.mx", "TLSA", "3 1 1 " + spki)],
        "danebad.test": [("@", "MX", "10 mx"), ("mx", "A", "127.0.0.6"),
                         ("_25._tcp.mx", "TLSA", "3 1 1 " + "00" * 32)],
        "bogus.test": [("@", "MX", "10 mx"), ("mx", "A", "127.0.0.7"),
                       ("_25._tcp.mx", "TLSA", "3 1 1 " + spki)],
        "notlsa.test": [("@", "MX", "10 mx"), ("mx", "A", "127.0.0.8")],
        "example.test": [("sel1._domainkey", "TXT", record)],
        "sts.test": [("@", "MX", "10 mx"), ("mx", "A", "127.0.0.10"),
                     ("mta-sts", "A", "127.0.0.9"),
                     ("_mta-sts", "TXT", "v=STSv1; id=2026112601")],
        "stsbad.test": [("@", "MX", "10 mx"), ("mx", "A", "127.0.0.11"),
                        ("mta-sts", "A", "127.0.0.9"),
                        ("_mta-sts", "TXT", "v=STSv1; id=1")],
    }
    dns = DnsServer(o.path("dns"), zones, signed={
        "dane.test", "danebad.test", "bogus.test", "notlsa.test"},
        bogus={"_25._tcp.mx.bogus.test"})
    dns.start()
    o.write_conf(o.make_conf('dkim domain "example.test" selector "sel1" '
                             'key "%s"\n' % keyfile,
                             'mta {\n\tresolver "127.0.0.1@%d"\n'
                             '\ttrust-anchor "%s"\n\tca-file "%s"\n}'
                             % (dns.port, dns.trust_anchor_file,
                                o.tls["ca"])))
    web = policy_server(*make_cert(o, "mta-sts", ["mta-sts.sts.test",
                                                  "mta-sts.stsbad.test"]))
    mx_cert = make_cert(o, "mx", ["mx.sts.test"])
    o.start()

    with t.case("MX preference: the lower one first, the next on failure"):
        # mx-a (10) is down: mx-b (20) takes it.
        b = Sink(addr="127.0.0.3", port=25)
        mid = submit(o.ports["submission"], ["u1@pref.test"])
        t.expect(b.wait(1), "mx-b did not get it")
        t.expect(wait_log(o, r"127\.0\.0\.2.*connection failed"),
                 "mx-a was not tried first")
        # mx-a up: it gets the next one.
        a = Sink(addr="127.0.0.2", port=25)
        time.sleep(6)   # sessions to mx-b are no longer reused
        mid = submit(o.ports["submission"], ["u2@pref.test"])
        t.expect(a.wait(1), "mx-a did not get it")
        t.expect(len(b.messages) == 1, "mx-b got the second")
        a.close()
        b.close()

    with t.case("DKIM: the signature verifies with the key in DNS"):
        t.require(b.messages, "nothing to check")
        path = o.write_file("signed.eml", "")
        with open(path, "wb") as f:
            f.write(b.messages[0].data)
        v = dkim_verify(path, dns.port)
        t.expect(v == "PASS", "dkimpy: %s" % v)
        t.expect(any(q[:2] == ("sel1._domainkey.example.test", "TXT")
                     for q in dns.queries()), "the key was not asked for")

    with t.case("no MX: the domain's own address (implicit MX)"):
        s = Sink(addr="127.0.0.4", port=25)
        submit(o.ports["submission"], ["u3@implicit.test"])
        t.expect(s.wait(1), "not delivered to the A record")
        s.close()

    with t.case("null MX: bounced at once (5.1.10)"):
        mid = submit(o.ports["submission"], ["u4@nullmx.test"])
        st = wait_until(lambda: dsn_status(box, mid))
        t.expect(st == "5.1.10", "status %r" % st)

    with t.case("a domain that does not exist bounces (5.1.2)"):
        mid = submit(o.ports["submission"], ["u5@nosuch.pref.test"])
        st = wait_until(lambda: dsn_status(box, mid))
        t.expect(st == "5.1.2", "status %r" % st)

    with t.case("DANE: a matching TLSA record, verified"):
        s = Sink(addr="127.0.0.5", port=25, cert=o.tls["cert"],
                 key=o.tls["key"])
        submit(o.ports["submission"], ["u6@dane.test"])
        t.expect(s.wait(1), "not delivered")
        t.expect(s.messages and s.messages[0].tls, "not over TLS")
        t.expect(wait_log(o, r"to=<u6@dane.test> status=sent .*"
                          r"verified=dane"), "not verified by DANE")
        s.close()

    with t.case("DANE: a certificate that does not match defers"):
        s = Sink(addr="127.0.0.6", port=25, cert=o.tls["cert"],
                 key=o.tls["key"])
        submit(o.ports["submission"], ["u7@danebad.test"])
        t.expect(wait_log(o, r"to=<u7@danebad.test> status=deferred.*"
                          r"DANE"), "not deferred")
        t.expect(not s.messages, "delivered to a mismatching server")
        s.close()

    with t.case("DANE: a bogus TLSA answer defers"):
        s = Sink(addr="127.0.0.7", port=25, cert=o.tls["cert"],
                 key=o.tls["key"])
        submit(o.ports["submission"], ["u8@bogus.test"])
        t.expect(wait_log(o, r"to=<u8@bogus.test> status=deferred.*"
                          r"4\.7\.5"), "not deferred")
        t.expect(not s.messages, "delivered despite a bogus answer")
        s.close()

    with t.case("DANE: signed, no TLSA: opportunistic TLS"):
        s = Sink(addr="127.0.0.8", port=25, cert=o.tls["cert"],
                 key=o.tls["key"])
        submit(o.ports["submission"], ["u9@notlsa.test"])
        t.expect(s.wait(1), "not delivered")
        t.expect(s.messages and s.messages[0].tls, "not over TLS")
        t.expect(wait_log(o, r"to=<u9@notlsa.test> status=sent .*"
                          r"verified=no"), "verified without DANE?")
        s.close()

    with t.case("MTA-STS enforce: the policy is fetched, the MX verified"):
        s = Sink(addr="127.0.0.10", port=25, cert=mx_cert[0], key=mx_cert[1])
        submit(o.ports["submission"], ["u10@sts.test"])
        t.expect(s.wait(1), "not delivered")
        t.expect(("mta-sts.sts.test", "/.well-known/mta-sts.txt") in
                 fetches, "no policy fetch: %r" % fetches)
        t.expect(wait_log(o, r"to=<u10@sts.test> status=sent .*"
                          r"verified=mta-sts"), "not verified by MTA-STS")
        # Cached: the same id is not fetched again.
        n = len(fetches)
        time.sleep(6)
        submit(o.ports["submission"], ["u11@sts.test"])
        t.expect(s.wait(2), "the second was not delivered")
        t.expect(len(fetches) == n, "fetched again: %r" % fetches)
        s.close()

    with t.case("MTA-STS enforce with a bad certificate defers"):
        # The MX serves a certificate for other names.
        s = Sink(addr="127.0.0.11", port=25, cert=o.tls["cert"],
                 key=o.tls["key"])
        submit(o.ports["submission"], ["u12@stsbad.test"])
        t.expect(wait_log(o, r"to=<u12@stsbad.test> status=deferred.*"
                          r"MTA-STS: the certificate does not verify"),
                 "not deferred")
        t.expect(not s.messages, "delivered despite the policy")
        s.close()

    web.shutdown()
    dns.stop()
t.done()
