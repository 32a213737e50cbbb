"""Debian's rspamd, started for a test on loopback: its normal worker on
127.0.0.1:PORT, its own state and config overrides in a work directory,
its names resolved by the test's DNS server (dnstest.py), which refuses
what it does not serve, so that nothing waits for the network.

    r = Rspamd(workdir, dns_port)
    r.start()           # returns once it answers (the first start
                        # compiles its regular expressions: ~20 s)
    r.addr              # "127.0.0.1:11333"
    r.stop()
"""
import os
import pwd
import shutil
import socket
import subprocess
import time

RSPAMD = "/usr/bin/rspamd"


class Rspamd:
    def __init__(self, workdir, dns_port, port=11333):
        self.dir = os.path.abspath(workdir)
        self.port = port
        self.addr = "127.0.0.1:%d" % port
        self.dns_port = dns_port
        self.proc = None

    def _write(self, name, text):
        with open(os.path.join(self.dir, "local.d", name), "w") as f:
            f.write(text)

    def start(self, timeout=120):
        for sub in ("local.d", "override.d", "db", "run", "log"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        self._write("worker-normal.inc",
                    'bind_socket = "127.0.0.1:%d";\n' % self.port)
        self._write("worker-controller.inc",
                    'bind_socket = "127.0.0.1:%d";\n' % (self.port + 1))
        self._write("worker-proxy.inc",
                    'bind_socket = "127.0.0.1:%d";\n' % (self.port - 1))
        self._write("logging.inc", 'type = "file";\nfilename = "%s";\n'
                    'level = "notice";\n'
                    % os.path.join(self.dir, "log", "rspamd.log"))
        self._write("options.inc", 'dns {\n  nameserver = ["127.0.0.1:%d"];'
                    '\n  timeout = 1s;\n  retransmits = 1;\n}\n'
                    % self.dns_port)
        pw = pwd.getpwnam("_rspamd")
        for root, dirs, files in os.walk(self.dir):
            for n in dirs + files:
                os.chown(os.path.join(root, n), pw.pw_uid, pw.pw_gid)
        os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        log = open(os.path.join(self.dir, "log", "stderr"), "ab")
        self.proc = subprocess.Popen(
            [RSPAMD, "-f", "-u", "_rspamd", "-g", "_rspamd",
             "-c", "/etc/rspamd/rspamd.conf",
             "--var", "LOCAL_CONFDIR=" + self.dir,
             "--var", "DBDIR=" + os.path.join(self.dir, "db"),
             "--var", "RUNDIR=" + os.path.join(self.dir, "run"),
             "--var", "LOGDIR=" + os.path.join(self.dir, "log")],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("rspamd exited: %d" % self.proc.returncode)
            if self.ping():
                return self
            time.sleep(0.5)
        self.stop()
        raise RuntimeError("rspamd did not answer in %d s" % timeout)

    def ping(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), 2) as s:
                s.sendall(b"GET /ping HTTP/1.0\r\n\r\n")
                return b"pong" in s.recv(4096)
        except OSError:
            return False

    def stop(self):
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, 15)
            self.proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, 9)
            except ProcessLookupError:
                pass
        self.proc = None

    def clean(self):
        shutil.rmtree(self.dir, ignore_errors=True)
