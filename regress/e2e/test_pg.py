"""The harness itself: the throwaway PostgreSQL cluster, free_ports and
the test certificates."""

import os
import socket
import stat
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from osmstest import (Tests, Pg, free_ports, make_ca_and_cert,  # noqa: E402
                      read_banner, run)

t = Tests(__file__)

with t.case("free_ports gives distinct bindable loopback ports"):
    ports = free_ports(7)
    t.expect(len(ports) == 7, "7 ports")
    t.expect(len(set(ports)) == 7, "distinct: %r" % ports)
    t.expect(all(1024 <= p <= 65535 for p in ports), "unprivileged range")
    for p in ports:
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))
        finally:
            s.close()

with t.case("read_banner reads the first line"):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    import threading

    def greet():
        c, _ = srv.accept()
        c.sendall(b"220-first line\r\n220 second\r\n")
        c.close()
    th = threading.Thread(target=greet, daemon=True)
    th.start()
    line = read_banner(port)
    th.join(5)
    srv.close()
    t.expect(line == "220-first line", "got %r" % line)

with tempfile.TemporaryDirectory(prefix="osms-pki-test-") as d:
    with t.case("make_ca_and_cert: server cert verifies against the CA"):
        t0 = time.monotonic()
        pki = make_ca_and_cert(os.path.join(d, "a"))
        t.diag("certificates made in %.2fs" % (time.monotonic() - t0))
        p = run(["openssl", "verify", "-CAfile", pki["ca"],
                 "-purpose", "sslserver", pki["cert"]], check=False)
        t.expect(p.returncode == 0, "openssl verify: %s%s"
                 % (p.stdout, p.stderr))
        for name in ("localhost", "mail.example.test"):
            p = run(["openssl", "verify", "-CAfile", pki["ca"],
                     "-verify_hostname", name, pki["cert"]], check=False)
            t.expect(p.returncode == 0, "hostname %s: %s" % (name, p.stderr))
        p = run(["openssl", "verify", "-CAfile", pki["ca"],
                 "-verify_ip", "127.0.0.1", pki["cert"]], check=False)
        t.expect(p.returncode == 0, "IP 127.0.0.1: %s" % p.stderr)
        p = run(["openssl", "verify", "-CAfile", pki["ca"],
                 "-verify_hostname", "other.example", pki["cert"]],
                check=False)
        t.expect(p.returncode != 0, "a wrong hostname does not verify")
        p = run(["openssl", "x509", "-noout", "-text", "-in", pki["cert"]])
        t.expect("prime256v1" in p.stdout or "P-256" in p.stdout,
                 "EC P-256 key")

    with t.case("make_ca_and_cert: key files are 0600, owned by root"):
        for k in ("key", "ca_key"):
            st = os.stat(pki[k])
            t.expect(stat.S_IMODE(st.st_mode) == 0o600,
                     "%s mode %o" % (k, stat.S_IMODE(st.st_mode)))
            if os.geteuid() == 0:
                t.expect(st.st_uid == 0 and st.st_gid == 0,
                         "%s owned by root" % k)
        p = run(["openssl", "pkey", "-in", pki["key"], "-pubout"])
        q = run(["openssl", "x509", "-in", pki["cert"], "-noout", "-pubkey"])
        t.expect(p.stdout == q.stdout, "key matches certificate")

    with t.case("make_ca_and_cert is cached per process"):
        t0 = time.monotonic()
        pki2 = make_ca_and_cert(os.path.join(d, "b"))
        dt = time.monotonic() - t0
        with open(pki["cert"]) as f1, open(pki2["cert"]) as f2:
            t.expect(f1.read() == f2.read(), "same certificate")
        t.expect(dt < 0.5, "second call took %.2fs" % dt)

pgdir = None
if os.geteuid() != 0:
    t.skip("Pg cluster", "needs root (runuser -u postgres)")
else:
    with t.case("Pg: throwaway cluster, create, insert, select"):
        t0 = time.monotonic()
        with Pg() as pg:
            pgdir = pg.dir
            t.diag("cluster up in %.2fs" % (time.monotonic() - t0))
            t.require(pg.conninfo == "host=%s dbname=osms user=osms"
                      % pg.sockdir, "conninfo %r" % pg.conninfo)
            t.require(pg.sockdir == os.path.join(pg.dir, "run"), "sockdir")
            pg.psql("CREATE TABLE users (address text PRIMARY KEY, "
                    "quota bigint NOT NULL)")
            pg.psql("INSERT INTO users VALUES ('alice@example.test', 42), "
                    "('bob@example.test', 7)")
            out = pg.psql("SELECT address, quota FROM users ORDER BY 1")
            t.expect(out == "alice@example.test|42\nbob@example.test|7",
                     "select: %r" % out)
            t.expect(pg.psql("SELECT current_user") == "osms",
                     "connected as osms")
            t.expect(pg.psql("SELECT current_database()") == "osms",
                     "database osms")
            try:
                pg.psql("SELECT * FROM nosuchtable")
                t.expect(False, "an SQL error raises")
            except RuntimeError:
                pass

            st = pg.pg_ctl("status", check=False)
            t.expect(st.returncode == 0 and "server is running" in st.stdout,
                     "pg_ctl status: %s" % st.stdout)
            t.expect(pg.running(), "running()")
            sock = os.path.join(pg.sockdir, ".s.PGSQL.5432")
            t.expect(os.path.exists(sock), "socket %s exists" % sock)

            pg.stop()
            t.expect(not os.path.exists(sock), "socket gone after stop()")
            t.expect(not pg.running(), "not running after stop()")

            pg.start()
            t.expect(pg.running(), "running again after start()")
            t.expect(pg.psql("SELECT count(*) FROM users") == "2",
                     "data kept across stop()/start()")
        t.diag("whole cycle %.2fs" % (time.monotonic() - t0))

    with t.case("Pg: directory removed after __exit__"):
        t.require(pgdir is not None, "the cluster was made")
        t.expect(not os.path.exists(pgdir), "%s removed" % pgdir)
        p = run(["pgrep", "-f", "-a", pgdir], check=False)
        t.expect(p.returncode == 1, "no process left: %s" % p.stdout)

t.done()
