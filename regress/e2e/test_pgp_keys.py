#!/usr/bin/env python3
"""osmsctl pgp: the gateway's OpenPGP keys in the store's GnuPG home,
owned by cryptod's user. A key pair made here serves gpg (as the other
party) to encrypt to alice; bob's key imported from gpg is listed, shown
and removed; --secret exports the secret key (escrow).

Debian packages: gnupg."""
import os
import pwd
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from osmstest import *  # noqa: E402,F401,F403
from gpgpeer import GpgPeer  # noqa: E402

t = Tests(__file__)
gpg = GpgPeer("osms-pgp-peer-")


with Osms() as o:
    home = os.path.join(o.path("certs"), "gnupg")
    try:
        with t.case("keygen: a key pair for alice, owned by cryptod's user"):
            p = o.ctl("pgp", "keygen", "alice@example.test")
            m = re.match(r"^([0-9A-F]{40}) alice@example\.test$", p.stdout)
            t.require(p.returncode == 0 and m, p.stdout + p.stderr)
            alice = m.group(1)
            st = os.stat(home)
            t.expect(st.st_uid == pwd.getpwnam("_osmscrypt").pw_uid and
                     st.st_mode & 0o777 == 0o700, "%o %d" % (st.st_mode,
                                                             st.st_uid))
            p = o.ctl("pgp", "keygen", "alice@example.test")
            t.expect(p.returncode == 1 and "has a key pair already" in
                     p.stderr, p.stderr)
            p = o.ctl("pgp", "keygen", "not-an-address")
            t.expect(p.returncode == 1 and "not an address" in p.stderr,
                     p.stderr)
            p = o.ctl("pgp", "list")
            t.expect(re.search(r"^%s sec usable  <alice@example\.test>$"
                               % alice, p.stdout, re.M), p.stdout)

        with t.case("export: gpg encrypts to alice with what it gets"):
            p = o.ctl("pgp", "export", "alice@example.test")
            t.require(p.returncode == 0 and "-----BEGIN PGP PUBLIC KEY "
                      "BLOCK-----" in p.stdout and "PRIVATE" not in p.stdout,
                      p.stdout[:200] + p.stderr)
            r = gpg.run("--import", data=p.stdout.encode())
            t.require(r.returncode == 0, r.stderr.decode())
            r = gpg.run("--armor", "-r", "alice@example.test", "--encrypt",
                    data=b"for alice\n")
            t.expect(r.returncode == 0 and b"BEGIN PGP MESSAGE" in r.stdout,
                     r.stderr.decode())

        with t.case("import, list, show and remove bob's public key"):
            r = gpg.run("--quick-gen-key", "Bob <bob@remote.test>",
                    "future-default", "default", "never")
            t.require(r.returncode == 0, r.stderr.decode())
            r = gpg.run("--armor", "--export", "bob@remote.test")
            f = o.write_file("bob.asc", r.stdout.decode(), 0o600)
            p = o.ctl("pgp", "import", f)
            m = re.match(r"^imported ([0-9A-F]{40})$", p.stdout)
            t.require(p.returncode == 0 and m, p.stdout + p.stderr)
            bob = m.group(1)
            p = o.ctl("pgp", "list", "bob@remote.test")
            t.expect(p.stdout == "%s pub usable  Bob <bob@remote.test>\n"
                     % bob, p.stdout)
            p = o.ctl("pgp", "show", bob)
            t.expect(p.returncode == 0 and p.stdout.startswith(bob) and
                     "BEGIN PGP PUBLIC KEY BLOCK" in p.stdout, p.stdout)
            p = o.ctl("pgp", "show", "xyz")
            t.expect(p.returncode == 1 and "not a fingerprint" in p.stderr,
                     p.stderr)
            p = o.ctl("pgp", "remove", bob)
            t.expect(p.returncode == 0 and p.stdout == "removed %s\n" % bob,
                     p.stdout + p.stderr)
            p = o.ctl("pgp", "list", "bob@remote.test")
            t.expect(p.stdout == "" and "no key for bob@remote.test" in
                     p.stderr, p.stdout + p.stderr)
            f = o.write_file("junk.asc", "not a key\n", 0o600)
            p = o.ctl("pgp", "import", f)
            t.expect(p.returncode == 1 and "nothing to import" in p.stderr,
                     p.stderr)

        with t.case("export --secret: alice's secret key, which gpg takes"):
            p = o.ctl("pgp", "export", "alice@example.test", "--secret")
            t.require(p.returncode == 0 and "-----BEGIN PGP PRIVATE KEY "
                      "BLOCK-----" in p.stdout, p.stderr)
            r = gpg.run("--import", data=p.stdout.encode())
            r = gpg.run("--list-secret-keys", "alice@example.test")
            t.expect(r.returncode == 0 and alice.encode() in r.stdout,
                     r.stdout.decode() + r.stderr.decode())
            p = o.ctl("pgp", "frobnicate")
            t.expect(p.returncode == 2, "usage")
    finally:
        gpg.close(home)
t.done()
