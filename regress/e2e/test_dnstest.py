#!/usr/bin/env python3
"""The test DNS server dnstest.py, checked by an outside validator:
unbound-host (libunbound) forwards to it and must find signed answers
secure (A, TLSA, TXT, NXDOMAIN and NODATA proofs), unsigned ones insecure
and broken ones bogus; dnspython (Debian's, under /usr/bin/python3)
checks the wire details: TCP, truncation, the DO bit, REFUSED.

Debian packages: unbound-host, python3-dnspython."""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from osmstest import Tests  # noqa: E402
from dnstest import DnsServer, DEBIAN_PYTHON  # noqa: E402

t = Tests(__file__)
UNBOUND_HOST = "/usr/bin/unbound-host"

TLSA = "3 1 1 " + "0123456789abcdef" * 4
DKIM = "v=DKIM1; k=rsa; p=" + "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A" * 20
ZONES = {
    "example.test": [
        ("@", "MX", "10 mx1"),
        ("mx1", "A", "127.0.0.2"),
        ("mx1", "AAAA", "::1"),
        ("_25._tcp.mx1", "TLSA", TLSA),
        ("mx2", "A", "127.0.0.3"),
        ("s1._domainkey", "TXT", DKIM),
        ("nomail", "MX", "0 ."),
    ],
    "plain.test": [
        ("@", "MX", "0 ."),
        ("host", "A", "127.0.0.4"),
    ],
    # An unsigned zone delegated from a signed one, and a signed one.
    "open.example.test": [("host", "A", "127.0.0.5")],
    "sec.example.test": [("host", "A", "127.0.0.6")],
    "broken.test": [("host", "A", "127.0.0.7")],
}
SIGNED = {"example.test", "sec.example.test", "broken.test"}

# dnspython queries in a batch: [[name, type, proto, opts]] -> results.
QUERY = r'''
import json, sys
import dns.flags, dns.message, dns.query, dns.rcode
out = []
for name, rtype, proto, opts in json.loads(sys.argv[1]):
    q = dns.message.make_query(name, rtype, use_edns=opts.get("edns", 0),
                               want_dnssec=opts.get("do", False),
                               payload=opts.get("payload", 1232))
    send = dns.query.tcp if proto == "tcp" else dns.query.udp
    r = send(q, "127.0.0.1", port=int(sys.argv[2]), timeout=3)
    out.append({"rcode": dns.rcode.to_text(r.rcode()),
                "flags": dns.flags.to_text(r.flags).split(),
                "do": bool(r.ednsflags & dns.flags.DO),
                "answer": [x.to_text() for x in r.answer],
                "authority": [x.to_text() for x in r.authority],
                "txt": [[s.decode() for s in rd.strings] for x in r.answer
                        for rd in x if x.rdtype == 16]})
print(json.dumps(out))
'''


def dnspython(srv, queries):
    p = subprocess.run([DEBIAN_PYTHON, "-c", QUERY, json.dumps(queries),
                        str(srv.port)], capture_output=True, text=True,
                       timeout=30)
    if p.returncode != 0:
        raise RuntimeError("dnspython: %s" % p.stderr[-500:])
    return json.loads(p.stdout)


def lookup(srv, name, rtype, ta=None):
    """unbound-host -v: its output lines (each ends in the validation
    status: "(secure)", "(insecure)", "(BOGUS (security failure))")."""
    conf = srv.unbound_conf(os.path.join(srv.workdir, "unbound-%d.conf"
                                         % time.monotonic_ns()),
                            trust_anchor_file=ta)
    p = subprocess.run([UNBOUND_HOST, "-v", "-C", conf, "-t", rtype, name],
                       capture_output=True, text=True, timeout=30)
    os.unlink(conf)
    return [line for line in (p.stdout + p.stderr).splitlines()
            if line.strip()]


def expect_lookup(srv, name, rtype, want, status, ta=None):
    lines = lookup(srv, name, rtype, ta)
    ok = bool(lines) and all(line.endswith(status) or
                             line.startswith("validation failure")
                             for line in lines) and \
        any(want in line for line in lines)
    t.expect(ok, "%s %s: %r and %s, got %r" % (name, rtype, want, status,
                                              lines))


SECURE, INSECURE, BOGUS = "(secure)", "(insecure)", \
    "(BOGUS (security failure))"

wd = tempfile.mkdtemp(prefix="osms-dnstest-")
srv = None
try:
    with t.case("the outside validator and dnspython are there"):
        t.require(os.access(UNBOUND_HOST, os.X_OK),
                  "%s (apt-get install unbound-host)" % UNBOUND_HOST)
        p = subprocess.run([DEBIAN_PYTHON, "-c", "import dns.dnssec, "
                            "cryptography"], capture_output=True)
        t.require(p.returncode == 0, "python3-dnspython: %r" % p.stderr)

    with t.case("dnstest starts on 127.0.0.1 and writes trust anchors"):
        srv = DnsServer(wd, ZONES, signed=SIGNED, bogus={"broken.test"})
        t0 = time.monotonic()
        srv.start()
        t.diag("started in %.2fs on port %d" % (time.monotonic() - t0,
                                               srv.port))
        t.expect(srv.addr == "127.0.0.1" and 0 < srv.port < 65536,
                 "port %r" % srv.port)
        ds = srv.trust_anchors()
        t.expect(sorted(line.split()[0] for line in ds) ==
                 ["broken.test.", "example.test.", "sec.example.test."] and
                 all(line.split()[1:3] == ["IN", "DS"] for line in ds),
                 "DS anchors: %r" % ds)
        keys = srv.trust_anchors(dnskey=True)
        t.expect(len(keys) == 3 and all(" IN DNSKEY 257 3 13 " in k
                                        for k in keys), "DNSKEY: %r" % keys)

    with t.case("a signed zone's A, MX, TXT and TLSA records are secure"):
        expect_lookup(srv, "mx1.example.test", "A", "has address 127.0.0.2",
                      SECURE)
        expect_lookup(srv, "mx1.example.test", "AAAA", "has IPv6 address ::1",
                      SECURE)
        expect_lookup(srv, "example.test", "MX", "mail is handled by 10 "
                      "mx1.example.test.", SECURE)
        expect_lookup(srv, "_25._tcp.mx1.example.test", "TLSA",
                      "has TLSA record " + TLSA.upper(), SECURE)
        expect_lookup(srv, "s1._domainkey.example.test", "TXT",
                      "has TXT record", SECURE)
        expect_lookup(srv, "host.sec.example.test", "A",
                      "has address 127.0.0.6", SECURE)

    with t.case("a name missing from a signed zone is a secure NXDOMAIN"):
        for name in ("nope.example.test", "_25._tcp.nope.example.test",
                     "_25._tcp.mx2.example.test",
                     "zzz.example.test", "a.b.c.mx1.example.test",
                     "nope.sec.example.test"):
            expect_lookup(srv, name, "TLSA", "3(NXDOMAIN)", SECURE)

    with t.case("a missing type in a signed zone is a secure NODATA"):
        for name, rtype in (("mx1.example.test", "TLSA"),
                            ("mx2.example.test", "AAAA"),
                            ("_tcp.mx1.example.test", "TLSA"),   # empty
                            ("_domainkey.example.test", "TXT"),  # non-term.
                            ("example.test", "TLSA"),
                            ("_25._tcp.mx1.example.test", "TXT")):
            expect_lookup(srv, name, rtype, "has no %s record" % rtype
                          if rtype not in ("AAAA",) else
                          "has no IPv6 address", SECURE)

    with t.case("unsigned zones are insecure, null MX is served"):
        expect_lookup(srv, "host.plain.test", "A", "has address 127.0.0.4",
                      INSECURE)
        expect_lookup(srv, "plain.test", "MX", "mail is handled by 0 .",
                      INSECURE)
        expect_lookup(srv, "nope.plain.test", "A", "3(NXDOMAIN)", INSECURE)
        expect_lookup(srv, "_25._tcp.host.plain.test", "TLSA", "3(NXDOMAIN)",
                      INSECURE)
        # Below a signed zone: the delegation proves there is no DS.
        expect_lookup(srv, "host.open.example.test", "A",
                      "has address 127.0.0.5", INSECURE)
        expect_lookup(srv, "_25._tcp.host.open.example.test", "TLSA",
                      "3(NXDOMAIN)", INSECURE)
        expect_lookup(srv, "host.open.example.test", "TLSA",
                      "has no TLSA record", INSECURE)
        expect_lookup(srv, "nomail.example.test", "MX",
                      "mail is handled by 0 .", SECURE)

    with t.case("a wrong trust anchor or broken signatures are bogus"):
        wrong = os.path.join(wd, "wrong.ds")
        with open(wrong, "w") as f:
            for line in srv.trust_anchors():
                w = line.split()
                # Same key tag and algorithm, another digest.
                w[-1] = "%064x" % (int(w[-1], 16) ^ 1)
                f.write(" ".join(w) + "\n")
        expect_lookup(srv, "mx1.example.test", "A", "has address 127.0.0.2",
                      BOGUS, ta=wrong)
        expect_lookup(srv, "_25._tcp.mx1.example.test", "TLSA",
                      "has TLSA record", BOGUS, ta=wrong)
        expect_lookup(srv, "nope.example.test", "TLSA", "3(NXDOMAIN)", BOGUS,
                      ta=wrong)
        expect_lookup(srv, "host.broken.test", "A", "has address 127.0.0.7",
                      BOGUS)
        expect_lookup(srv, "nope.broken.test", "A", "3(NXDOMAIN)", BOGUS)
        # The unsigned zone is untouched by a wrong key elsewhere.
        expect_lookup(srv, "host.plain.test", "A", "has address 127.0.0.4",
                      INSECURE, ta=wrong)

    with t.case("DNSKEY trust anchors work as well as DS"):
        expect_lookup(srv, "_25._tcp.mx1.example.test", "TLSA",
                      "has TLSA record", SECURE, ta=srv.dnskey_file)

    with t.case("wire: UDP and TCP, AA RA AD, the DO bit, REFUSED"):
        r = dnspython(srv, [
            ["mx1.example.test", "A", "udp", {}],
            ["mx1.example.test", "A", "tcp", {"do": True}],
            ["nope.example.test", "A", "tcp", {"do": True}],
            ["example.test", "DNSKEY", "udp", {"do": True}],
            ["www.example.org", "A", "udp", {}],
            ["host.plain.test", "A", "tcp", {"do": True}],
            ["s1._domainkey.example.test", "TXT", "udp", {"edns": -1}],
            ["s1._domainkey.example.test", "TXT", "udp",
             {"do": True, "payload": 512}],
            ["s1._domainkey.example.test", "TXT", "tcp", {"edns": -1}],
            ["test", "SOA", "udp", {}],
        ])
        plain, tcp_do, nx, dnskey, refused, insecure, noedns, small, \
            tcp_txt, outside = r
        t.expect(plain["rcode"] == "NOERROR" and
                 {"QR", "AA", "RA", "RD"} <= set(plain["flags"]) and
                 "AD" not in plain["flags"] and
                 plain["answer"] == ["mx1.example.test. 60 IN A 127.0.0.2"],
                 "UDP without DO: %r" % plain)
        t.expect(tcp_do["rcode"] == "NOERROR" and "AD" in tcp_do["flags"] and
                 tcp_do["do"] and len(tcp_do["answer"]) == 2 and
                 " RRSIG A 13 3 60 " in tcp_do["answer"][1],
                 "TCP with DO: A and its RRSIG: %r" % tcp_do)
        t.expect(nx["rcode"] == "NXDOMAIN" and
                 sum(" NSEC " in a for a in nx["authority"]) >= 1 and
                 any(" SOA " in a for a in nx["authority"]),
                 "NXDOMAIN with SOA and NSEC: %r" % nx)
        t.expect(dnskey["answer"] and " DNSKEY 257 3 13 " in
                 dnskey["answer"][0], "DNSKEY at the apex: %r" % dnskey)
        t.expect(refused["rcode"] == "REFUSED" and
                 outside["rcode"] == "REFUSED", "outside the zones: %r %r"
                 % (refused, outside))
        t.expect("AD" not in insecure["flags"] and
                 len(insecure["answer"]) == 1, "no AD, no RRSIG in an "
                 "unsigned zone: %r" % insecure)
        t.expect("TC" in noedns["flags"] and not noedns["answer"],
                 "UDP without EDNS is truncated at 512: %r" % noedns)
        t.expect("TC" in small["flags"], "truncated at the client's EDNS "
                 "size: %r" % small)
        t.expect("TC" not in tcp_txt["flags"] and
                 [len(s) for s in tcp_txt["txt"][0]][:-1] ==
                 [255] * (len(tcp_txt["txt"][0]) - 1) and
                 "".join(tcp_txt["txt"][0]) == DKIM,
                 "TXT over TCP, in 255-byte strings: %r"
                 % [len(s) for s in tcp_txt["txt"][0]])

    with t.case("malformed queries are ignored"):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.3)
            for junk in (b"", b"\x00", b"\x12\x34" + b"\xff" * 40,
                         b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
                         b"\x3fabc"):
                s.sendto(junk, ("127.0.0.1", srv.port))
                try:
                    data = s.recv(4096)
                    t.expect(False, "an answer to %r: %r" % (junk, data))
                except socket.timeout:
                    pass
        with socket.create_connection(("127.0.0.1", srv.port), 3) as s:
            s.sendall(b"\x00\x05hello")
            s.settimeout(3)
            t.expect(s.recv(100) == b"", "TCP: closed after junk")
        r = dnspython(srv, [["mx2.example.test", "A", "udp", {}]])
        t.expect(r[0]["answer"] == ["mx2.example.test. 60 IN A 127.0.0.3"],
                 "still answering: %r" % r)

    with t.case("update() serves new data with the same keys"):
        zones = dict(ZONES)
        zones["example.test"] = [
            ("@", "MX", "10 mx1"),
            ("mx1", "A", "127.0.0.9", 30),
            ("_25._tcp.mx2", "TLSA", TLSA),
            ("mx2", "A", "127.0.0.3"),
        ]
        before = srv.trust_anchors()
        srv.update(zones)
        t.expect(srv.trust_anchors() == before, "same anchors")
        expect_lookup(srv, "mx1.example.test", "A", "has address 127.0.0.9",
                      SECURE)
        expect_lookup(srv, "_25._tcp.mx1.example.test", "TLSA",
                      "3(NXDOMAIN)", SECURE)
        expect_lookup(srv, "_25._tcp.mx2.example.test", "TLSA",
                      "has TLSA record", SECURE)
        r = dnspython(srv, [["mx1.example.test", "A", "udp", {}]])
        t.expect(r[0]["answer"] == ["mx1.example.test. 30 IN A 127.0.0.9"],
                 "a record's own TTL: %r" % r)
        try:
            srv.update(dict(ZONES, **{"example.test": [
                ("mx1", "BOGUSTYPE", "x")]}))
            t.expect(False, "a bad record is refused")
        except Exception as e:
            t.expect("BOGUSTYPE" in str(e), "the error: %s" % e)
        expect_lookup(srv, "mx1.example.test", "A", "has address 127.0.0.9",
                      SECURE)
        srv.update(ZONES)
        expect_lookup(srv, "mx1.example.test", "A", "has address 127.0.0.2",
                      SECURE)

    with t.case("the log names every query"):
        q = srv.queries()
        t.expect(("_25._tcp.mx1.example.test", "TLSA", "udp") in q and
                 ("example.test", "DNSKEY", "udp") in q and
                 ("s1._domainkey.example.test", "TXT", "tcp") in q,
                 "queries: %r" % q[-10:])

    with t.case("a restart keeps the keys; stop() ends the server"):
        pid, before = srv.pid, srv.trust_anchors()
        srv.stop()
        t.expect(not os.path.exists("/proc/%d" % pid), "pid %d gone" % pid)
        srv.start()
        t.expect(srv.trust_anchors() == before, "same anchors")
        expect_lookup(srv, "_25._tcp.mx1.example.test", "TLSA",
                      "has TLSA record", SECURE)
        srv.stop()

    with t.case("the server exits when its parent dies"):
        code = ("import os, sys; sys.path.insert(0, %r)\n"
                "from dnstest import DnsServer\n"
                "s = DnsServer(%r, {'x.test': []}, name='orphan').start()\n"
                "print(s.pid, flush=True)\n"
                "os._exit(0)\n" % (os.path.dirname(os.path.abspath(
                    __file__)), wd))
        p = subprocess.run([sys.executable, "-c", code], capture_output=True,
                           text=True, timeout=30)
        t.require(p.returncode == 0 and p.stdout.strip().isdigit(),
                  "the parent: %r %r" % (p.stdout, p.stderr[-300:]))
        pid = int(p.stdout)
        deadline = time.monotonic() + 5
        while os.path.exists("/proc/%d" % pid) and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        t.expect(not os.path.exists("/proc/%d" % pid),
                 "server %d still running" % pid)
finally:
    if srv is not None:
        srv.stop()
    if os.environ.get("OSMS_KEEP", "") in ("", "0"):
        subprocess.run(["rm", "-rf", wd])
    else:
        t.diag("kept %s" % wd)

t.done()
