"""A small authoritative test DNS server for the end-to-end tests.

It answers on 127.0.0.1 (UDP and TCP, one port) for a few configured
zones, as a recursive resolver that already knows every answer would (RA
and AA set), so that a libunbound forwarding to it can validate: signed
zones (ECDSAP256SHA256, one key with flags 257 per zone, RRSIGs, an NSEC
chain for NXDOMAIN and NODATA proofs) come back "secure", unsigned ones
"insecure", and zones or names listed as bogus come back "bogus".

Two halves:

  * DnsServer, standard library only, importable by any python3: it
    writes a JSON description of the zones into a work directory and runs
    "/usr/bin/python3 dnstest.py serve CONFIG.json" as its child.
  * the serve entry point, which needs dnspython (Debian's python3-dnspython
    and python3-cryptography, both under /usr/bin/python3).

    srv = DnsServer(workdir, zones={
        "example.test": [("@", "MX", "10 mx1"),
                         ("mx1", "A", "127.0.0.2"),
                         ("_25._tcp.mx1", "TLSA", "3 1 1 AB12..."),
                         ("s1._domainkey", "TXT", "v=DKIM1; k=rsa; p=..."),
                         ("short", "A", "127.0.0.3", 5)],   # a TTL of 5
        "plain.test": [("@", "MX", "0 .")],                 # null MX
    }, signed={"example.test"})
    srv.start()                 # returns once the server answers
    srv.addr, srv.port          # 127.0.0.1, the port it picked
    srv.trust_anchor_file       # DS lines of every signed zone
    srv.update(zones=...)       # new data, same keys; waits for the reload
    srv.queries()               # [(qname, qtype, proto), ...] it was asked
    srv.stop()

Records are (owner, type, data) or (owner, type, data, ttl). The owner is
relative to the zone ("@" or "" is the apex) or absolute with a final dot.
Data is in zone-file syntax, names in it relative to the zone unless they
end in a dot; TXT data is one raw string (cut into 255-byte strings), a
list of raw strings, or zone-file text when it starts with a double quote.
SOA and NS at the apex are made up when not given. A zone inside another
configured zone is delegated from it (NS, and DS when both are signed),
so an unsigned zone below a signed one is provably insecure. Wildcards
are not supported. Keys are kept in WORKDIR/NAME-keys/, so a restart or
update keeps the trust anchors valid.

Names in `bogus` (zones or owner names) have every RRSIG at or below them
broken, except the DNSKEY RRset's: answers there validate as bogus.

The server logs every query to WORKDIR/NAME.log, ignores malformed
queries, refuses names outside its zones, reloads its config on SIGHUP,
and exits when the process that started it dies.
"""

import atexit
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time

__all__ = ["DnsServer", "DnsServerError", "DEBIAN_PYTHON"]

DEBIAN_PYTHON = "/usr/bin/python3"
HERE = os.path.dirname(os.path.abspath(__file__))


class DnsServerError(Exception):
    pass


def _norm_zone(name):
    name = name.strip().rstrip(".").lower()
    if not name:
        raise ValueError("the root zone is not supported")
    return name


def _records_json(zones):
    out = {}
    for zone, records in zones.items():
        rows = []
        for rec in records:
            rec = list(rec)
            if len(rec) not in (3, 4):
                raise ValueError("%s: a record is (owner, type, data[, ttl])"
                                 ": %r" % (zone, rec))
            owner, rtype, data = str(rec[0]), str(rec[1]).upper(), rec[2]
            if isinstance(data, (list, tuple)):
                data = [str(d) for d in data]
            else:
                data = str(data)
            row = [owner, rtype, data]
            if len(rec) == 4:
                row.append(int(rec[3]))
            rows.append(row)
        out[_norm_zone(zone)] = rows
    return out


# Names libunbound answers itself (NXDOMAIN) unless told "nodefault".
_UNBOUND_DEFAULT_ZONES = ("test", "invalid", "onion", "localhost",
                          "home.arpa", "resolver.arpa", "service.arpa")


def _unbound_default_zones(zones):
    found = set()
    for z in zones:
        z = _norm_zone(z)
        for top in _UNBOUND_DEFAULT_ZONES:
            if z == top or z.endswith("." + top):
                found.add(top)
    return sorted(found)


def _dns_query_packet(qid, name, qtype=6):
    """A plain DNS query (standard library): header, QNAME, QTYPE, IN."""
    wire = b""
    for label in name.rstrip(".").split("."):
        if label:
            b = label.encode("ascii")
            wire += bytes([len(b)]) + b
    wire += b"\0"
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + wire + \
        struct.pack("!HH", qtype, 1)


class DnsServer:
    """A test DNS server run as a child process (see the module doc).

    DnsServer(workdir, zones, signed=(), bogus=(), addr="127.0.0.1",
              port=0, ttl=60, name="dnstest", python=DEBIAN_PYTHON)

    zones   {zone name: [(owner, type, data[, ttl]), ...]}
    signed  the zone names to sign
    bogus   zone or owner names whose RRSIGs (at or below them, DNSKEY
            excepted) are broken
    port    0 picks a free port (the same for UDP and TCP)
    ttl     the default TTL, and the SOA minimum (negative answers)

    Attributes after start(): addr, port, pid, trust_anchor_file (DS
    records of the signed zones, one a line, zone-file format),
    dnskey_file (the same as DNSKEY records), log_file, config_file.
    """

    def __init__(self, workdir, zones, signed=(), bogus=(), addr="127.0.0.1",
                 port=0, ttl=60, name="dnstest", python=DEBIAN_PYTHON):
        self.workdir = os.path.abspath(workdir)
        self.addr = addr
        self.port = port
        self.ttl = int(ttl)
        self.name = name
        self.python = python
        self.zones = dict(zones)
        self.signed = set(signed)
        self.bogus = set(bogus)
        self.generation = 0
        self.proc = None
        self._pipe_w = None
        p = lambda suffix: os.path.join(self.workdir, name + suffix)
        self.config_file = p(".json")
        self.status_file = p("-status.json")
        self.log_file = p(".log")
        self.trust_anchor_file = p("-anchors.ds")
        self.dnskey_file = p("-anchors.dnskey")
        self.key_dir = p("-keys")

    # -- the life of the child

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def _write_config(self):
        cfg = {
            "generation": self.generation,
            "addr": self.addr,
            "port": self.port,
            "ttl": self.ttl,
            "zones": _records_json(self.zones),
            "signed": sorted(_norm_zone(z) for z in self.signed),
            "bogus": sorted(b.rstrip(".").lower() for b in self.bogus),
            "status_file": self.status_file,
            "ds_file": self.trust_anchor_file,
            "dnskey_file": self.dnskey_file,
            "key_dir": self.key_dir,
        }
        for z in cfg["signed"]:
            if z not in cfg["zones"]:
                raise ValueError("signed zone %s is not among the zones" % z)
        tmp = self.config_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(cfg, f, indent=1)
        os.rename(tmp, self.config_file)

    def _read_status(self):
        try:
            with open(self.status_file) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def _log_tail(self, n=30):
        try:
            with open(self.log_file, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def _wait_generation(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            st = self._read_status()
            if st is not None and st.get("generation") == self.generation:
                if st.get("error"):
                    raise DnsServerError("dnstest: %s" % st["error"])
                return st
            if self.proc.poll() is not None:
                raise DnsServerError("dnstest exited with status %s:\n%s"
                                     % (self.proc.returncode,
                                        self._log_tail()))
            if time.monotonic() > deadline:
                raise DnsServerError("dnstest: no answer in %ds:\n%s"
                                     % (timeout, self._log_tail()))
            time.sleep(0.02)

    def start(self, timeout=30):
        """Start the server; return once it answers queries."""
        if self.proc is not None:
            raise DnsServerError("already started")
        os.makedirs(self.workdir, exist_ok=True)
        try:
            os.unlink(self.status_file)
        except FileNotFoundError:
            pass
        self.generation += 1
        self._write_config()
        r, w = os.pipe()
        log = open(self.log_file, "ab")
        try:
            self.proc = subprocess.Popen(
                [self.python, os.path.join(HERE, "dnstest.py"), "serve",
                 self.config_file, "--parent-fd", str(r)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                pass_fds=(r,), cwd=self.workdir)
        finally:
            os.close(r)
            log.close()
        self._pipe_w = w
        atexit.register(self.stop)
        try:
            st = self._wait_generation(timeout)
            self.port = st["port"]
            self._probe(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _probe(self, timeout):
        """One query over UDP: the server answers."""
        zone = sorted(self.zones)[0] if self.zones else "."
        deadline = time.monotonic() + timeout
        family = socket.AF_INET6 if ":" in self.addr else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.settimeout(0.5)
            qid = 4242
            while True:
                s.sendto(_dns_query_packet(qid, zone), (self.addr, self.port))
                try:
                    data = s.recv(65535)
                    if len(data) >= 12 and data[:2] == struct.pack("!H", qid):
                        return
                except socket.timeout:
                    pass
                if self.proc.poll() is not None or \
                        time.monotonic() > deadline:
                    raise DnsServerError("dnstest does not answer:\n%s"
                                         % self._log_tail())

    def update(self, zones=None, signed=None, bogus=None, timeout=30):
        """Replace the zone data (and optionally the signed and bogus
        sets) and wait until the running server serves it. The keys stay
        the same, so the trust anchor files stay valid."""
        old = (self.zones, self.signed, self.bogus)
        if zones is not None:
            self.zones = dict(zones)
        if signed is not None:
            self.signed = set(signed)
        if bogus is not None:
            self.bogus = set(bogus)
        if self.proc is None:
            return
        try:
            self.generation += 1
            self._write_config()
            self.proc.send_signal(signal.SIGHUP)
            self._wait_generation(timeout)
        except Exception:
            # The server goes on with the data it had.
            self.zones, self.signed, self.bogus = old
            raise

    def stop(self):
        """Stop the server (idempotent)."""
        if self._pipe_w is not None:
            os.close(self._pipe_w)
            self._pipe_w = None
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        try:
            atexit.unregister(self.stop)
        except Exception:
            pass

    def __enter__(self):
        return self.start() if self.proc is None else self

    def __exit__(self, *exc):
        self.stop()

    # -- helpers for tests

    def trust_anchors(self, dnskey=False):
        """The trust anchor lines (DS, or DNSKEY) of the signed zones."""
        path = self.dnskey_file if dnskey else self.trust_anchor_file
        with open(path) as f:
            return [line.strip() for line in f if line.strip()]

    def unbound_conf(self, path=None, trust_anchor_file=None):
        """Write an unbound.conf (for unbound-host -C, or libunbound's
        ub_ctx_config) that forwards everything to this server and trusts
        its signed zones; return its path. The zones under names that
        unbound answers itself by default (test, invalid, ...) get a
        "local-zone: NAME nodefault" line, else they never reach us."""
        path = path or os.path.join(self.workdir, self.name + "-unbound.conf")
        ta = trust_anchor_file or self.trust_anchor_file
        lines = ["server:"]
        for top in _unbound_default_zones(self.zones):
            lines.append("    local-zone: \"%s.\" nodefault" % top)
        lines += ["    trust-anchor-file: \"%s\"" % ta,
                  "forward-zone:",
                  "    name: \".\"",
                  "    forward-addr: %s@%d" % (self.addr, self.port)]
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def queries(self):
        """[(qname, qtype, proto)] of every query logged so far, qname in
        lower case without the final dot."""
        out = []
        try:
            with open(self.log_file, errors="replace") as f:
                for line in f:
                    w = line.split()
                    if len(w) >= 7 and w[2] == "query":
                        out.append((w[5].rstrip(".").lower(), w[6], w[3]))
        except OSError:
            pass
        return out


# ---------------------------------------------------------------------------
# The server (dnspython from here on).

def _serve_main(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="dnstest.py serve")
    ap.add_argument("config")
    ap.add_argument("--parent-fd", type=int, default=-1)
    args = ap.parse_args(argv)
    _Server(args.config, args.parent_fd).run()


def _log(msg):
    sys.stderr.write("%s dnstest[%d] %s\n" % (
        time.strftime("%H:%M:%S"), os.getpid(), msg))
    sys.stderr.flush()


class _Zone:
    """One zone: RRsets by owner, and when signed its key, NSEC chain and
    RRSIGs."""

    def __init__(self, origin, records, signed, ttl, serial, key):
        import dns.name
        import dns.rdataclass
        import dns.rdatatype
        import dns.rrset
        self.origin = origin
        self.signed = signed
        self.ttl = ttl
        self.key = key              # (private key, DNSKEY rdata) or None
        self.nodes = {}             # Name -> {rdtype: RRset}
        self.sigs = {}              # (Name, rdtype) -> RRset of RRSIG
        self.delegations = set()
        self.ents = set()
        self.names = []
        self.parent = None
        for rec in records:
            self._add_record(rec)
        apex = self.nodes.setdefault(origin, {})
        if dns.rdatatype.SOA not in apex:
            self._add(origin, "SOA", "ns1 hostmaster %d 3600 600 86400 %d"
                      % (serial, ttl), ttl)
        if dns.rdatatype.NS not in apex:
            self._add(origin, "NS", "ns1", ttl)
        if key is not None:
            rrset = dns.rrset.RRset(origin, dns.rdataclass.IN,
                                    dns.rdatatype.DNSKEY)
            rrset.add(key[1], ttl)
            apex[dns.rdatatype.DNSKEY] = rrset

    def _add(self, owner, rtype, data, ttl):
        import dns.rdata
        import dns.rdataclass
        import dns.rdatatype
        import dns.rrset
        import dns.rdtypes.ANY.TXT
        rdtype = dns.rdatatype.from_text(rtype)
        if rdtype == dns.rdatatype.TXT and (
                isinstance(data, list) or not data.startswith('"')):
            chunks = []
            for s in (data if isinstance(data, list) else [data]):
                b = s.encode("utf-8")
                chunks += [b[i:i + 255] for i in range(0, len(b), 255)] or \
                    [b""]
            rd = dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, rdtype, chunks)
        else:
            rd = dns.rdata.from_text(dns.rdataclass.IN, rdtype, data,
                                     origin=self.origin, relativize=False)
        node = self.nodes.setdefault(owner, {})
        rrset = node.get(rdtype)
        if rrset is None:
            rrset = node[rdtype] = dns.rrset.RRset(owner, dns.rdataclass.IN,
                                                   rdtype)
        rrset.add(rd, ttl)

    def _add_record(self, rec):
        import dns.name
        owner, rtype, data = rec[0], rec[1], rec[2]
        ttl = rec[3] if len(rec) > 3 else self.ttl
        if owner in ("@", ""):
            name = self.origin
        else:
            name = dns.name.from_text(owner, origin=self.origin)
        if not name.is_subdomain(self.origin):
            raise ValueError("%s: owner %s is outside the zone"
                             % (self.origin, name))
        if rtype in ("DNSKEY", "RRSIG", "NSEC", "NSEC3"):
            raise ValueError("%s: %s records are made by the server"
                             % (self.origin, rtype))
        try:
            self._add(name, rtype, data, ttl)
        except Exception as e:
            raise ValueError("%s: bad record %r: %s" % (self.origin, rec, e))

    def delegate(self, child):
        """Make child's apex a delegation point of this zone."""
        import dns.dnssec
        import dns.rdataclass
        import dns.rdatatype
        import dns.rrset
        for name in list(self.nodes):
            if name.is_subdomain(child.origin):
                _log("%s: %s is in the delegated zone %s, ignored"
                     % (self.origin, name, child.origin))
                del self.nodes[name]
        ns = child.nodes[child.origin][dns.rdatatype.NS]
        node = self.nodes.setdefault(child.origin, {})
        node[dns.rdatatype.NS] = dns.rrset.from_rdata_list(
            child.origin, ns.ttl, list(ns))
        if self.key is not None and child.key is not None:
            ds = dns.dnssec.make_ds(child.origin, child.key[1], "SHA256")
            rrset = dns.rrset.RRset(child.origin, dns.rdataclass.IN,
                                    dns.rdatatype.DS)
            rrset.add(ds, self.ttl)
            node[dns.rdatatype.DS] = rrset
        self.delegations.add(child.origin)

    def finish(self, bogus):
        """NSEC chain and signatures."""
        import dns.dnssec
        import dns.rdata
        import dns.rdataclass
        import dns.rdatatype
        import dns.rrset
        self.names = sorted(self.nodes)
        for name in self.names:
            p = name
            while p != self.origin:
                p = p.parent()
                if p not in self.nodes:
                    self.ents.add(p)
        if self.key is None:
            return
        minimum = self.nodes[self.origin][dns.rdatatype.SOA][0].minimum
        for i, name in enumerate(self.names):
            nxt = self.names[(i + 1) % len(self.names)]
            types = set(self.nodes[name]) | {dns.rdatatype.RRSIG,
                                             dns.rdatatype.NSEC}
            text = "%s %s" % (nxt.to_text(), " ".join(
                dns.rdatatype.to_text(t) for t in sorted(types)))
            rd = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.NSEC,
                                     text)
            rrset = dns.rrset.RRset(name, dns.rdataclass.IN,
                                    dns.rdatatype.NSEC)
            rrset.add(rd, minimum)
            self.nodes[name][dns.rdatatype.NSEC] = rrset
        now = int(time.time())
        priv, dnskey = self.key
        for name, node in self.nodes.items():
            broken = any(name.is_subdomain(b) for b in bogus)
            for rdtype, rrset in node.items():
                if rdtype == dns.rdatatype.NS and name in self.delegations:
                    continue
                sig = dns.dnssec.sign(rrset, priv, self.origin, dnskey,
                                      inception=now - 86400,
                                      expiration=now + 30 * 86400)
                if broken and rdtype != dns.rdatatype.DNSKEY:
                    bad = bytes([sig.signature[0] ^ 0x5a]) + \
                        sig.signature[1:]
                    sig = sig.replace(signature=bad)
                srrset = dns.rrset.RRset(name, dns.rdataclass.IN,
                                         dns.rdatatype.RRSIG, rdtype)
                srrset.add(sig, rrset.ttl)
                self.sigs[(name, rdtype)] = srrset

    # -- answers

    def _with_sig(self, rrset, do):
        out = [rrset]
        if do and self.key is not None:
            sig = self.sigs.get((rrset.name, rrset.rdtype))
            if sig is not None:
                out.append(sig)
        return out

    def _cover(self, name):
        """The NSEC RRset whose owner is the name's canonical predecessor
        (the names are sorted; the apex is first)."""
        import bisect
        import dns.rdatatype
        i = bisect.bisect_right(self.names, name) - 1
        return self.nodes[self.names[max(i, 0)]][dns.rdatatype.NSEC]

    def lookup(self, qname, qtype, do):
        """(rcode, answer RRsets, authority RRsets)."""
        import dns.name
        import dns.rcode
        import dns.rdatatype
        node = self.nodes.get(qname)
        answer, authority = [], []
        if node is not None:
            if qtype == dns.rdatatype.ANY:
                for rdtype, rrset in node.items():
                    answer += self._with_sig(rrset, do)
                return dns.rcode.NOERROR, answer, authority
            rrset = node.get(qtype)
            if rrset is None and dns.rdatatype.CNAME in node:
                rrset = node[dns.rdatatype.CNAME]
            if rrset is not None:
                return dns.rcode.NOERROR, self._with_sig(rrset, do), authority
        soa = self.nodes[self.origin][dns.rdatatype.SOA]
        authority += self._with_sig(soa, do)
        signed = do and self.key is not None
        if node is not None:
            if signed:
                authority += self._with_sig(node[dns.rdatatype.NSEC], True)
            return dns.rcode.NOERROR, answer, authority
        if qname in self.ents:
            if signed:
                authority += self._with_sig(self._cover(qname), True)
            return dns.rcode.NOERROR, answer, authority
        if signed:
            ce = qname.parent()
            while ce != self.origin and ce not in self.nodes and \
                    ce not in self.ents:
                ce = ce.parent()
            wild = dns.name.Name((b"*",) + ce.labels)
            covers = [self._cover(qname), self._cover(wild)]
            if covers[1].name == covers[0].name:
                covers.pop()
            for c in covers:
                authority += self._with_sig(c, True)
        return dns.rcode.NXDOMAIN, answer, authority


def _load_key(key_dir, zone):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    import dns.dnssec
    os.makedirs(key_dir, exist_ok=True)
    path = os.path.join(key_dir, zone + ".pem")
    try:
        with open(path, "rb") as f:
            priv = serialization.load_pem_private_key(f.read(), None)
    except FileNotFoundError:
        priv = ec.generate_private_key(ec.SECP256R1())
        pem = priv.private_bytes(serialization.Encoding.PEM,
                                 serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())
        fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                     0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        os.rename(path + ".tmp", path)
    dnskey = dns.dnssec.make_dnskey(priv.public_key(), "ECDSAP256SHA256",
                                    flags=257)
    return priv, dnskey


def _write_atomic(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)


class _Server:
    def __init__(self, config_path, parent_fd):
        self.config_path = config_path
        self.parent_fd = parent_fd
        self.ppid = os.getppid()
        self.zones = {}             # Name -> _Zone
        self.keys = {}              # zone name -> (priv, DNSKEY)
        self.cfg = None
        self.hup = False

    # -- configuration

    def load(self):
        import dns.dnssec
        import dns.name
        with open(self.config_path) as f:
            cfg = json.load(f)
        gen = cfg.get("generation", 0)
        try:
            ttl = int(cfg.get("ttl", 60))
            signed = set(cfg.get("signed", []))
            bogus = [dns.name.from_text(b) for b in cfg.get("bogus", [])]
            zones = {}
            for zname, records in cfg["zones"].items():
                key = None
                if zname in signed:
                    if zname not in self.keys:
                        self.keys[zname] = _load_key(cfg["key_dir"], zname)
                    key = self.keys[zname]
                origin = dns.name.from_text(zname)
                zones[origin] = _Zone(origin, records, key is not None, ttl,
                                      1000 + gen, key)
            for origin, z in zones.items():
                p = origin
                while p != dns.name.root:
                    p = p.parent()
                    if p in zones:
                        z.parent = zones[p]
                        break
            # Outer zones first, so that a delegated zone's NS is final.
            for origin in sorted(zones, key=len):
                if zones[origin].parent is not None:
                    zones[origin].parent.delegate(zones[origin])
            for z in zones.values():
                z.finish(bogus)
            ds, keys = [], []
            for zname in sorted(signed):
                priv, dnskey = self.keys[zname]
                origin = dns.name.from_text(zname).to_text()
                d = dns.dnssec.make_ds(origin, dnskey, "SHA256")
                ds.append("%s IN DS %s\n" % (origin, d.to_text()))
                keys.append("%s IN DNSKEY %s\n" % (origin, dnskey.to_text()))
        except Exception as e:
            self.cfg = self.cfg or cfg
            _log("config generation %d: %s: %s" % (gen, type(e).__name__, e))
            return gen, "%s: %s" % (type(e).__name__, e)
        _write_atomic(cfg["ds_file"], "".join(ds))
        _write_atomic(cfg["dnskey_file"], "".join(keys))
        self.zones = zones
        self.cfg = cfg
        _log("config generation %d: zones %s, signed %s" % (
            gen, " ".join(sorted(z.to_text() for z in zones)) or "-",
            " ".join(sorted(signed)) or "-"))
        return gen, None

    def status(self, gen, error=None, port=None):
        st = {"generation": gen, "pid": os.getpid(), "port": port or
              self.port, "error": error}
        _write_atomic(self.cfg["status_file"], json.dumps(st))

    # -- sockets

    def bind(self):
        addr = self.cfg.get("addr", "127.0.0.1")
        port = int(self.cfg.get("port", 0))
        family = socket.AF_INET6 if ":" in addr else socket.AF_INET
        for _ in range(50):
            udp = socket.socket(family, socket.SOCK_DGRAM)
            tcp = socket.socket(family, socket.SOCK_STREAM)
            try:
                udp.bind((addr, port))
                got = udp.getsockname()[1]
                tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                tcp.bind((addr, got))
                tcp.listen(64)
                self.udp, self.tcp, self.port = udp, tcp, got
                return
            except OSError:
                udp.close()
                tcp.close()
                if port != 0:
                    raise
        raise OSError("no free port for UDP and TCP")

    # -- queries

    def answer(self, wire, peer, proto):
        """The response to a query, as wire data, or None to ignore it."""
        import dns.exception
        import dns.flags
        import dns.message
        import dns.name
        import dns.opcode
        import dns.rcode
        import dns.rdataclass
        import dns.rdatatype
        try:
            q = dns.message.from_wire(wire)
            if q.flags & dns.flags.QR:
                return None
            r = dns.message.make_response(q, recursion_available=True)
        except Exception as e:
            _log("ignored a malformed query from %s/%s: %s"
                 % (peer, proto, e))
            return None
        do = q.edns >= 0 and bool(q.ednsflags & dns.flags.DO)
        if q.edns >= 0:
            r.use_edns(0, dns.flags.DO if do else 0, 1232)
        qname, qtypet, what = "-", "-", ""
        zones = self.zones
        if q.opcode() != dns.opcode.QUERY:
            r.set_rcode(dns.rcode.NOTIMP)
        elif len(q.question) != 1:
            r.set_rcode(dns.rcode.FORMERR)
        else:
            qrr = q.question[0]
            qname = qrr.name.to_text()
            qtypet = dns.rdatatype.to_text(qrr.rdtype)
            zone = None
            if qrr.rdclass == dns.rdataclass.IN and qrr.rdtype not in (
                    dns.rdatatype.AXFR, dns.rdatatype.IXFR):
                n = qrr.name
                while zone is None:
                    zone = zones.get(n)
                    if n == dns.name.root:
                        break
                    n = n.parent()
                if zone is not None and qrr.rdtype == dns.rdatatype.DS and \
                        qrr.name == zone.origin and zone.parent is not None:
                    zone = zone.parent
            if zone is None:
                r.set_rcode(dns.rcode.REFUSED)
            else:
                rcode, answer, authority = zone.lookup(qrr.name, qrr.rdtype,
                                                       do)
                r.set_rcode(rcode)
                r.flags |= dns.flags.AA
                if zone.key is not None and (do or q.flags & dns.flags.AD):
                    r.flags |= dns.flags.AD
                r.answer = answer
                r.authority = authority
                what = " an=%d ns=%d" % (len(answer), len(authority))
        limit = 65535
        if proto == "udp":
            limit = max(512, min(q.payload, 65535)) if q.edns >= 0 else 512
        try:
            out = r.to_wire(max_size=limit)
        except dns.exception.TooBig:
            r.answer, r.authority, r.additional = [], [], []
            r.flags |= dns.flags.TC
            out = r.to_wire(max_size=limit)
            what += " truncated"
        _log("query %s %s:%d %s %s do=%d -> %s%s" % (
            proto, peer[0], peer[1], qname, qtypet, do,
            dns.rcode.to_text(r.rcode()), what))
        return out

    def tcp_conn(self, conn, peer):
        def recv_exact(n):
            buf = b""
            while len(buf) < n:
                chunk = conn.recv(n - len(buf))
                if not chunk:
                    return None
                buf += chunk
            return buf
        try:
            conn.settimeout(10)
            while True:
                hdr = recv_exact(2)
                if hdr is None:
                    break
                data = recv_exact(struct.unpack("!H", hdr)[0])
                if data is None:
                    break
                out = self.answer(data, peer, "tcp")
                if out is None:
                    break
                conn.sendall(struct.pack("!H", len(out)) + out)
        except OSError:
            pass
        except Exception as e:
            _log("tcp %s: %s: %s" % (peer, type(e).__name__, e))
        finally:
            conn.close()

    # -- the loop

    def run(self):
        import selectors
        import threading
        gen, error = self.load()
        if error is not None:
            self.port = 0
            self.status(gen, error, port=0)
            sys.exit(1)
        self.bind()
        _log("serving on %s port %d (udp, tcp)" % (self.cfg.get("addr"),
                                                   self.port))
        wake_r, wake_w = socket.socketpair()
        wake_r.setblocking(False)
        wake_w.setblocking(False)
        signal.set_wakeup_fd(wake_w.fileno())

        def on_hup(signo, frame):
            self.hup = True
        signal.signal(signal.SIGHUP, on_hup)
        signal.signal(signal.SIGTERM, lambda s, f: sys.exit(0))
        sel = selectors.DefaultSelector()
        sel.register(self.udp, selectors.EVENT_READ, "udp")
        sel.register(self.tcp, selectors.EVENT_READ, "tcp")
        sel.register(wake_r, selectors.EVENT_READ, "wake")
        if self.parent_fd >= 0:
            sel.register(self.parent_fd, selectors.EVENT_READ, "parent")
        self.status(gen)
        while True:
            events = sel.select(timeout=1.0)
            if os.getppid() != self.ppid:
                _log("the parent died, exiting")
                return
            for key, _ in events:
                what = key.data
                if what == "udp":
                    try:
                        data, peer = self.udp.recvfrom(65535)
                    except OSError:
                        continue
                    try:
                        out = self.answer(data, peer, "udp")
                    except Exception as e:
                        _log("udp %s: %s: %s" % (peer, type(e).__name__, e))
                        continue
                    if out is not None:
                        try:
                            self.udp.sendto(out, peer)
                        except OSError:
                            pass
                elif what == "tcp":
                    try:
                        conn, peer = self.tcp.accept()
                    except OSError:
                        continue
                    threading.Thread(target=self.tcp_conn, args=(conn, peer),
                                     daemon=True).start()
                elif what == "wake":
                    try:
                        while wake_r.recv(512):
                            pass
                    except OSError:
                        pass
                elif what == "parent":
                    try:
                        data = os.read(self.parent_fd, 512)
                    except OSError:
                        data = b""
                    if not data:
                        _log("the parent closed its pipe, exiting")
                        return
            if self.hup:
                self.hup = False
                gen, error = self.load()
                self.status(gen, error)


def main(argv):
    if len(argv) >= 2 and argv[1] == "serve":
        _serve_main(argv[2:])
        return 0
    sys.stderr.write("usage: %s serve CONFIG.json [--parent-fd FD]\n"
                     % argv[0])
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
