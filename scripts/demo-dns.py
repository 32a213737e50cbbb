#!/usr/bin/python3
"""The demo's name server: the test DNS server (regress/e2e/dnstest.py)
on 127.0.0.1, answering for the demo domain (SPF, its DKIM key, a DMARC
policy) and the demo's partner domain, so that checkd's sender checks
have answers on loopback. It ends when its standard input, a pipe
that scripts/demo.sh and then osmsd hold open, reaches its end.

    demo-dns.py STATE_DIR PORT
"""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
E2E = os.path.join(HERE, "..", "regress", "e2e")
sys.path.insert(0, E2E)
from dnstest import DnsServer  # noqa: E402

state, port = sys.argv[1], int(sys.argv[2])
with open(os.path.join(state, "dkim", "example.test.txt")) as f:
    dkim = "".join(re.findall(r'"([^"]*)"', f.read()))
zones = {
    "example.test": [("@", "TXT", "v=spf1 ip4:127.0.0.0/8 -all"),
                     ("demo._domainkey", "TXT", dkim),
                     ("_dmarc", "TXT", "v=DMARC1; p=none")],
    "remote.test": [("@", "TXT", "v=spf1 ip4:127.0.0.0/8 ~all"),
                    ("_dmarc", "TXT", "v=DMARC1; p=none")],
}
srv = DnsServer(os.path.join(state, "dns"), zones, port=port)
os.makedirs(srv.workdir, exist_ok=True)
srv._write_config()
os.execv(srv.python, [srv.python, os.path.join(E2E, "dnstest.py"), "serve",
                      srv.config_file, "--parent-fd", "0"])
