"""The other party of the OpenPGP tests: gpg in a GnuPG home of its own
(never ~/.gnupg), as an outside correspondent runs it.

    peer = GpgPeer("osms-x-", armor=True)
    out = peer("-r", "alice@example.test", "--encrypt", data=b"...")
    plain = peer.decrypt_armored(mail)  # b"" if not encrypted to us
    r = peer.run("--verify", ...)      # the CompletedProcess, any exit
    peer.close(other_home)             # agents stopped, home removed
"""
import os
import re
import subprocess
import tempfile

__all__ = ["GpgPeer"]


class GpgPeer:
    def __init__(self, prefix="osms-gpg-", armor=False):
        self.home = tempfile.mkdtemp(prefix=prefix)
        os.chmod(self.home, 0o700)
        self.argv = ["gpg", "--homedir", self.home, "--batch", "--yes",
                     "--no-tty", "--pinentry-mode", "loopback",
                     "--passphrase", "", "--trust-model", "always"]
        if armor:
            self.argv.append("--armor")

    def run(self, *args, data=None):
        """gpg's CompletedProcess (stdout and stderr bytes), any exit."""
        return subprocess.run(self.argv + list(args), input=data,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def __call__(self, *args, data=None):
        """gpg's output; RuntimeError with its last words if it fails."""
        p = self.run(*args, data=data)
        if p.returncode != 0:
            raise RuntimeError(p.stderr.decode()[-400:])
        return p.stdout

    def decrypt_armored(self, data):
        """The first armored OpenPGP message in data (a PGP/MIME copy as
        it left), decrypted; b"" if there is none or gpg fails."""
        m = re.search(rb"-----BEGIN PGP MESSAGE-----.*?-----END PGP "
                      rb"MESSAGE-----", data, re.S)
        if m is None:
            return b""
        p = self.run("--decrypt", data=m.group(0))
        return p.stdout if p.returncode == 0 else b""

    def path(self, name):
        return os.path.join(self.home, name)

    def close(self, *homes):
        """Stop the agents of this home and of homes (the gateway's),
        then remove this one."""
        for h in (self.home,) + homes:
            subprocess.run(["gpgconf", "--homedir", h, "--kill", "all"],
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        subprocess.run(["rm", "-rf", self.home])
