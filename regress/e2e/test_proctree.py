#!/usr/bin/env python3
"""The osmsd process tree: privilege separation, supervision, control.

A real osmsd runs as root with full privilege separation; the checks read
/proc and probe files with each role's own uid.
"""
import ctypes
import imaplib
import os
import pwd
import signal
import socket
import ssl
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from osmstest import *  # noqa: E402,F401,F403

ROLES = ["control", "smtpd", "queue", "delivery", "mta", "imapd", "authd",
         "cryptod", "scand", "checkd", "keyd"]
USERS_BY_ROLE = {"control": "_osms", "smtpd": "_osms", "imapd": "_osms",
                 "queue": "_osmsq", "delivery": "vmail", "mta": "_osmsmta",
                 "authd": "_osmsauth", "cryptod": "_osmscrypt",
                 "scand": "_osmsscan", "checkd": "_osmscheck",
                 "keyd": "_osmskey"}
OSMSCTL = os.path.join(BUILD, "osmsctl")
OSMSD = os.path.join(BUILD, "osmsd")

t = Tests(__file__)


def as_user(user, fn):
    """Run fn() in a child process with user's uid/gid; its result."""
    pw = pwd.getpwnam(user)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.setgroups([pw.pw_gid])
            os.setresgid(pw.pw_gid, pw.pw_gid, pw.pw_gid)
            os.setresuid(pw.pw_uid, pw.pw_uid, pw.pw_uid)
            res = fn()
        except BaseException as e:
            res = "exception %r" % e
        os.write(w, str(res).encode())
        os._exit(0)
    os.close(w)
    out = b""
    while True:
        b = os.read(r, 4096)
        if not b:
            break
        out += b
    os.close(r)
    os.waitpid(pid, 0)
    return out.decode()


def can_read(path):
    def probe():
        try:
            with open(path, "rb") as f:
                f.read(1)
            return "readable"
        except PermissionError:
            return "denied"
        except OSError as e:
            return "error %s" % e.strerror
    return probe


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def wait_for(cond, timeout=15, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return cond()


def wait_new_pid(o, role, old, timeout=20):
    def check():
        try:
            for r in o.status():
                if (r["role"] == role and r["pid"] not in (0, old) and
                        r["state"] == "ready"):
                    return r
        except OsmsError:
            return None
        return None
    return wait_for(check, timeout)


def tls_banner(port):
    """The first line after an implicit TLS handshake."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        with ctx.wrap_socket(s) as ts:
            return ts.recv(1000).decode(errors="replace")


def proc_limits(pid):
    """{"Max open files": (soft, hard), ...} from /proc/PID/limits."""
    out = {}
    with open("/proc/%d/limits" % pid) as f:
        next(f)
        for line in f:
            name, rest = line[:26].strip(), line[26:].split()
            out[name] = (rest[0], rest[1])
    return out


def try_tls_banner(port):
    try:
        return tls_banner(port)
    except (OSError, ssl.SSLError):
        return ""


def imsg_frame(type_, payload=b"", flags=0):
    return struct.pack("<IIIIQ", type_, 24 + len(payload), flags,
                       os.getpid(), 0) + payload


def ctl_raw(path, data, read=True):
    """Send raw bytes to the control socket; return what comes back."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    got = b""
    try:
        s.sendall(data)
        if read:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                got += b
    except (socket.timeout, ConnectionResetError, BrokenPipeError):
        pass
    s.close()
    return got


with Osms() as o:
    rows = {r["role"]: r for r in o.status()}

    with t.case("status lists the parent and every role with a pid"):
        t.expect(set(rows) == set(["parent"] + ROLES), sorted(rows))
        for role in ROLES:
            t.expect(rows[role]["pid"] > 0, "%s has a pid" % role)
            t.expect(rows[role]["state"] == "ready", "%s ready" % role)
        t.expect(rows["parent"]["pid"] == o.proc.pid, "parent is osmsd")
        t.expect(rows["parent"]["state"] == "running", "parent running")
        # Each role is a separate program: a fresh address space.
        for role in ROLES:
            exe = os.readlink("/proc/%d/exe" % rows[role]["pid"])
            t.expect(exe.endswith("/osms-" + role), "%s runs %s" %
                     (role, exe))

    with t.case("every child runs as its own non-root user"):
        for role in ROLES:
            pid = rows[role]["pid"]
            uids = proc_field(pid, "Uid")
            gids = proc_field(pid, "Gid")
            want = pwd.getpwnam(USERS_BY_ROLE[role])
            t.expect(uids == [str(want.pw_uid)] * 4,
                     "%s uids %s" % (role, uids))
            t.expect(gids == [str(want.pw_gid)] * 4,
                     "%s gids %s" % (role, gids))
            t.expect(proc_field(pid, "Groups") == [str(want.pw_gid)],
                     "%s supplementary groups" % role)
            t.expect(proc_field(pid, "CapEff") == ["0000000000000000"],
                     "%s has no capabilities" % role)
            t.expect(proc_field(pid, "NoNewPrivs") == ["1"],
                     "%s NoNewPrivs" % role)
        t.expect(proc_field(o.proc.pid, "Uid")[0] == "0", "parent is root")

    with t.case("network roles are chrooted to the empty directory, "
                "checkd to its own"):
        for role in ("smtpd", "imapd", "mta", "control", "keyd"):
            pid = rows[role]["pid"]
            root = os.readlink("/proc/%d/root" % pid)
            t.expect(root == o.path("empty"), "%s root %s" % (role, root))
            t.expect(os.listdir("/proc/%d/root" % pid) == [],
                     "%s sees an empty file system" % role)
        t.expect(os.readlink("/proc/%d/root" % rows["queue"]["pid"]) ==
                 o.path("spool"), "queue jailed in the spool")
        t.expect(os.readlink("/proc/%d/root" % rows["delivery"]["pid"]) ==
                 o.path("mail"), "delivery jailed in the mail store")
        # checkd: in its own directory, which holds only its greylist.
        t.expect(os.readlink("/proc/%d/root" % rows["checkd"]["pid"]) ==
                 o.path("check"), "checkd jailed in its directory")
        t.expect(set(os.listdir(o.path("check"))) <= {"greylist"},
                 os.listdir(o.path("check")))
        t.expect(os.stat(o.path("check")).st_mode & 0o777 == 0o700,
                 "checkd's directory is not 0700")

    with t.case("network roles hold no file: no config, no key"):
        for role in ("smtpd", "imapd", "mta", "control", "checkd", "keyd"):
            pid = rows[role]["pid"]
            for fd in os.listdir("/proc/%d/fd" % pid):
                if int(fd) <= 2:
                    continue    # stdio: /dev/null, or the -d log
                target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
                t.expect(target.startswith(("socket:", "pipe:",
                                            "anon_inode:")),
                         "%s fd %s -> %s" % (role, fd, target))

    with t.case("the TLS private key is in keyd's memory and in no "
                "network process's"):
        from cryptography.hazmat.primitives import serialization
        with open(o.tls["key"], "rb") as f:
            pem = f.read()
        key = serialization.load_pem_private_key(pem, None)
        secret = key.private_numbers().private_value.to_bytes(
            (key.curve.key_size + 7) // 8, "big")
        der = key.private_bytes(serialization.Encoding.DER,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        body = pem.split(b"\n")[1]       # the first line of base64
        # Handshakes first: whatever TLS leaves in memory is there now.
        t.expect(tls_banner(o.ports["submissions"]).startswith("220 "),
                 "TLS on submissions")
        t.expect(tls_banner(o.ports["imaps"]).startswith("* OK"),
                 "TLS on imaps")
        t.expect(memory_has(rows["keyd"]["pid"], secret),
                 "keyd holds the key (the scan works)")
        for role in ("smtpd", "imapd", "mta", "control", "parent"):
            pid = rows[role]["pid"]
            for what, needle in (("private value", secret), ("DER", der),
                                 ("PEM", body)):
                t.expect(not memory_has(pid, needle),
                         "%s's memory has the key's %s" % (role, what))

    with t.case("no role can be read or traced by its own user"):
        for role in ROLES:
            pid = rows[role]["pid"]
            res = as_user(USERS_BY_ROLE[role],
                          can_read("/proc/%d/environ" % pid))
            t.expect(res == "denied", "%s environ: %s" % (role, res))
            res = as_user(USERS_BY_ROLE[role],
                          can_read("/proc/%d/mem" % pid))
            t.expect(res == "denied", "%s mem: %s" % (role, res))

    with t.case("limits: no role can raise its descriptor limit; the "
                "network roles have a memory cap"):
        caps = {"smtpd": 1024, "imapd": 2048, "control": 256, "keyd": 256}
        for role in ROLES:
            lim = proc_limits(rows[role]["pid"])
            soft, hard = lim["Max open files"]
            t.expect(soft == hard, "%s open files %s/%s" % (role, soft,
                                                            hard))
            want = ("unlimited" if SAN == "1" or role not in caps
                    else str(caps[role] << 20))
            t.expect(lim["Max address space"] == (want, want),
                     "%s address space %s" % (role,
                                              lim["Max address space"]))

    with t.case("the roles without a chroot are held to a few paths by "
                "Landlock"):
        # Where the kernel has it; this one says so itself.
        libc = ctypes.CDLL(None, use_errno=True)
        has = libc.syscall(444, None, 0, 1) >= 1   # its ABI version
        want = "landlock: the file system is " if has else \
            "landlock: not in this kernel"
        for role in ("authd", "cryptod"):
            t.expect("%s[%d]: %s" % (role, rows[role]["pid"], want)
                     in o.log(), "%s: %s" % (role, want))

    with t.case("every role, the parent and a mail session run under a "
                "seccomp allow-list"):
        t.expect(proc_field(o.proc.pid, "Seccomp") == ["2"],
                 "parent Seccomp: %s" % proc_field(o.proc.pid, "Seccomp"))
        for role in ROLES:
            pid = rows[role]["pid"]
            t.expect(proc_field(pid, "Seccomp") == ["2"],
                     "%s Seccomp: %s" % (role, proc_field(pid, "Seccomp")))
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        im = imaplib.IMAP4_SSL("127.0.0.1", o.ports["imaps"],
                               ssl_context=ctx, timeout=10)
        im.login("alice@example.test", "alice-pw")
        sess = wait_for(lambda: [p for p in proc_children(o.proc.pid)
                                 if comm(p) == "osms-session"], 5)
        t.require(sess, "a session process for alice")
        t.expect(proc_field(sess[0], "Seccomp") == ["2"],
                 "session Seccomp: %s" % proc_field(sess[0], "Seccomp"))
        im.logout()

    with t.case("a role making a call outside its list is killed by "
                "SIGSYS, and the parent says so"):
        # smtpd is made to call execve(2), as code run by an attacker
        # would; the kernel must kill it before the call does anything.
        # First an allowed call, made the same way, that it survives.
        old = o.pid("smtpd")
        inject_syscall(old, 24)         # sched_yield
        time.sleep(0.5)
        t.expect(o.pid("smtpd") == old and proc_field(old, "State")[0] in
                 ("S", "R"), "smtpd survives an allowed call")
        inject_syscall(old, 59)         # execve
        new = wait_new_pid(o, "smtpd", old)
        t.require(new, "smtpd restarted")
        t.expect(wait_for(lambda: "smtpd (pid %d) killed by signal %d "
                          "(a system call outside its allow-list)"
                          % (old, signal.SIGSYS) in o.log(), 5),
                 "the log names the kill: %s" % o.log_tail(5))
        t.expect(read_banner(o.ports["smtp"]).startswith("220 "),
                 "the new smtpd serves")
        rows = {r["role"]: r for r in o.status()}

    with t.case("no role user can read the config or the TLS key"):
        for user in sorted(set(USERS_BY_ROLE.values())):
            t.expect(as_user(user, can_read(o.conf)) == "denied",
                     "%s reads %s" % (user, o.conf))
            t.expect(as_user(user, can_read(o.tls["key"])) == "denied",
                     "%s reads the key" % user)

    with t.case("the control socket is root's, mode 0660"):
        st = os.stat(o.control_socket)
        t.expect(st.st_mode & 0o777 == 0o660, oct(st.st_mode))
        t.expect(st.st_uid == 0, "owner %d" % st.st_uid)

    with t.case("every listener answers"):
        t.expect(read_banner(o.ports["smtp"]).startswith("220 "),
                 "smtp 220")
        t.expect(read_banner(o.ports["submission"]).startswith("220 "),
                 "submission 220")
        t.expect(tls_banner(o.ports["submissions"]).startswith("220 "),
                 "submissions: TLS, then 220")
        t.expect(read_banner(o.ports["imap"]).startswith("* "),
                 "imap greeting")
        t.expect(read_banner(o.ports["pop3"]).startswith("+OK "),
                 "pop3 +OK")
        t.expect(tls_banner(o.ports["imaps"]).startswith("* "),
                 "imaps: TLS, then the greeting")
        t.expect(tls_banner(o.ports["pop3s"]).startswith("+OK "),
                 "pop3s: TLS, then +OK")

    with t.case("a role killed with SIGKILL is restarted and re-linked"):
        t.require(o.ctl("log", "verbose").returncode == 0, "log verbose")
        old = rows["smtpd"]["pid"]
        os.kill(old, signal.SIGKILL)
        new = wait_new_pid(o, "smtpd", old)
        t.require(new, "smtpd restarted")
        t.expect(new["restarts"] == rows["smtpd"]["restarts"] + 1,
                 "restart counted: %s" % new)
        t.expect(read_banner(o.ports["smtp"]).startswith("220 "),
                 "the new smtpd serves the same socket")
        t.expect(os.readlink("/proc/%d/root" % new["pid"]) ==
                 o.path("empty"), "the new smtpd is jailed too")
        # The fresh smtpd gets a channel to each linked role again.
        log = o.log()
        for peer in ("queue", "authd", "cryptod", "scand", "checkd"):
            t.expect(wait_for(lambda p=peer: "smtpd[%d]: channel to %s up"
                              % (new["pid"], p) in o.log(), 5),
                     "smtpd linked to %s again" % peer)
        o.ctl("log", "brief")

    with t.case("each other role is restarted after SIGKILL too"):
        for role in ROLES:
            if role == "smtpd":
                continue
            old = o.pid(role)
            os.kill(old, signal.SIGKILL)
            t.expect(wait_new_pid(o, role, old), "%s restarted" % role)
        rows = {r["role"]: r for r in o.status()}
        t.expect(all(rows[r]["state"] == "ready" for r in ROLES),
                 "all ready again")
        # smtpd and imapd reach the new keyd for their handshakes.
        t.expect(wait_for(lambda: try_tls_banner(o.ports["submissions"])
                          .startswith("220 "), 5), "TLS after keyd restart")
        t.expect(tls_banner(o.ports["imaps"]).startswith("* OK"),
                 "IMAP TLS after keyd restart")

    with t.case("garbage on the control socket closes only that client"):
        parent = o.proc.pid
        control = o.pid("control")
        ctl_raw(o.control_socket, os.urandom(4096))
        # a frame longer than the maximum
        ctl_raw(o.control_socket, struct.pack("<IIIIQ", 13, 1 << 30, 0, 0,
                                              0))
        # a message only the parent may send (IMSG_CONF_START)
        ctl_raw(o.control_socket, imsg_frame(2, b"\0" * 16))
        # a status request with a bad payload, and one with a descriptor
        ctl_raw(o.control_socket, imsg_frame(13, b"\1\0"))
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(o.control_socket)
        with open("/dev/null") as devnull:
            socket.send_fds(s, [imsg_frame(13, struct.pack("<I", 1), 1)],
                            [devnull.fileno()])
        t.expect(s.recv(100) == b"", "a request carrying a descriptor"
                 " is dropped")
        s.close()
        t.expect(o.proc.poll() is None, "osmsd alive")
        p = o.ctl("status")
        t.expect(p.returncode == 0, "status still answers: %s" % p.stderr)
        t.expect(o.pid("control") == control, "control was not restarted")
        t.expect(o.proc.pid == parent, "same parent")

    with t.case("a non-root user cannot use the control socket"):
        def probe():
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(o.control_socket)
                return "connected"
            except PermissionError:
                return "denied"
        t.expect(as_user("nobody", probe) == "denied", "nobody refused")

    with t.case("osmsctl log verbose and brief"):
        p = o.ctl("log", "verbose")
        t.expect(p.returncode == 0 and "verbose" in p.stdout, p.stdout)
        o.ctl("status")
        t.expect(wait_for(lambda: "control: client" in o.log(), 5),
                 "debug lines appear")
        p = o.ctl("log", "brief")
        t.expect(p.returncode == 0 and "brief" in p.stdout, p.stdout)

    with t.case("reload opens a new listener without restarting roles"):
        before = {r["role"]: r["pid"] for r in o.status()}
        port = free_ports(1)[0]
        o.write_conf(o.conf_text() +
                     "listen on 127.0.0.1 port %d smtp\n" % port)
        p = o.ctl("reload")
        t.require(p.returncode == 0, "reload: %s %s" % (p.stdout, p.stderr))
        t.expect("generation 2" in p.stdout, p.stdout)
        t.expect(wait_for(lambda: read_banner(port).startswith("220 "), 5),
                 "new listener serves")
        t.expect(read_banner(o.ports["smtp"]).startswith("220 "),
                 "old listener still serves")
        after = {r["role"]: r["pid"] for r in o.status()}
        t.expect(before == after, "no process restarted: %s %s" %
                 (before, after))

    with t.case("a broken config is refused with file and line"):
        good = o.conf_text()
        o.write_conf(good + "listen on 127.0.0.1 port 99999 smtp\n")
        p = subprocess.run([OSMSCTL, "-s", o.control_socket, "reload"],
                           capture_output=True, text=True, timeout=30)
        t.expect(p.returncode == 1, "reload fails: %d" % p.returncode)
        line = len(good.splitlines()) + 1
        t.expect("%s:%d:" % (o.conf, line) in p.stderr, p.stderr)
        # SIGHUP with the same broken file: logged, nothing changes
        hups = o.log().count("reload requested by SIGHUP")
        os.kill(o.proc.pid, signal.SIGHUP)

        def hup_logged():
            parts = o.log().split("reload requested by SIGHUP")
            return len(parts) > hups + 1 and \
                "%s:%d:" % (o.conf, line) in parts[-1]
        t.expect(wait_for(hup_logged, 10), "the log names file and line")
        o.write_conf(good)
        rows = {r["role"]: r for r in o.status()}
        t.expect(all(rows[r]["state"] == "ready" for r in ROLES),
                 "still serving")

    with t.case("SIGHUP reloads; a changed user restarts just that role"):
        before = {r["role"]: r["pid"] for r in o.status()}
        o.write_conf(o.conf_text() + 'scand {\n\tuser "nobody"\n}\n')
        os.kill(o.proc.pid, signal.SIGHUP)
        new = wait_new_pid(o, "scand", before["scand"])
        t.require(new, "scand restarted")
        t.expect(proc_field(new["pid"], "Uid")[0] ==
                 str(pwd.getpwnam("nobody").pw_uid), "scand runs as nobody")
        after = {r["role"]: r["pid"] for r in o.status()}
        for role in ROLES + ["parent"]:
            if role != "scand":
                t.expect(after[role] == before[role],
                         "%s kept its pid" % role)

    with t.case("a new cryptod store restarts cryptod, whose Landlock "
                "rules are fixed at its start"):
        before = {r["role"]: r["pid"] for r in o.status()}
        o.write_conf(o.conf_text() + 'cryptod {\n\tcertificates "%s"\n}\n'
                     % o.path("certs2"))
        os.kill(o.proc.pid, signal.SIGHUP)
        new = wait_new_pid(o, "cryptod", before["cryptod"])
        t.require(new, "cryptod restarted")
        t.expect("cryptod: user, jail or writable directory changed; "
                 "restarting it" in o.log(), o.log_tail(5))
        after = {r["role"]: r["pid"] for r in o.status()}
        t.expect([r for r in ROLES + ["parent"] if r != "cryptod" and
                  after[r] != before[r]] == [], "only cryptod restarted")

    with t.case("a second osmsd on the same control socket is refused"):
        p = subprocess.run([OSMSD, "-d", "-f", o.conf], capture_output=True,
                           text=True, timeout=30)
        t.expect(p.returncode == 1, "exit %d" % p.returncode)
        t.expect("another osmsd is running" in p.stderr or
                 "cannot listen" in p.stderr, p.stderr)
        t.expect(o.proc.poll() is None, "the first one runs on")

    with t.case("SIGTERM stops every osms process and removes the socket"):
        pids = o.pids()
        rc = o.stop()
        t.expect(rc == 0, "osmsd exit status %s" % rc)
        left = [p for p in pids if os.path.exists("/proc/%d" % p)]
        t.expect(not left, "left behind: %s" % left)
        t.expect(not o.alive(), "nothing alive: %s" % o.alive())
        t.expect(not os.path.exists(o.control_socket), "socket removed")

    with t.case("osmsctl explains that osmsd is not running"):
        p = o.ctl("status")
        t.expect(p.returncode == 1, "exit %d" % p.returncode)
        t.expect("is osmsd running?" in p.stderr, p.stderr)

with Osms() as o:
    with t.case("osmsctl stop stops the tree"):
        pids = o.pids()
        p = o.ctl("stop")
        t.expect(p.returncode == 0 and "stopped" in p.stdout,
                 "%s %s" % (p.stdout, p.stderr))
        t.expect(wait_for(lambda: o.proc.poll() is not None, 10),
                 "osmsd exited")
        t.expect(o.proc.returncode == 0, "exit %s" % o.proc.returncode)
        t.expect(wait_for(lambda: not [p for p in pids if
                                       os.path.exists("/proc/%d" % p)], 10),
                 "no process left")

with Osms() as o:
    with t.case("children exit by themselves when the parent is killed"):
        pids = [p for p in o.pids() if p != o.proc.pid]
        o.proc.kill()
        o.proc.wait()
        t.expect(wait_for(lambda: not [p for p in pids if
                                       os.path.exists("/proc/%d" % p)], 10),
                 "orphans: %s" % [p for p in pids
                                  if os.path.exists("/proc/%d" % p)])

with Osms() as o:
    with t.case("the parent is killed by a call outside its list too, and "
                "its roles go with it"):
        # mount(2) is in no list; the parent, root, is where it would
        # matter most. A role is restarted by the parent; the parent's
        # own death must not leave roles behind.
        pids = [p for p in o.pids() if p != o.proc.pid]
        inject_syscall(o.proc.pid, 165)     # mount
        t.expect(wait_for(lambda: o.proc.poll() is not None, 10),
                 "osmsd still runs")
        t.expect(o.proc.returncode == -signal.SIGSYS,
                 "exit %s" % o.proc.returncode)
        t.expect(wait_for(lambda: not [p for p in pids if
                                       os.path.exists("/proc/%d" % p)], 10),
                 "orphans: %s" % [p for p in pids
                                  if os.path.exists("/proc/%d" % p)])

with t.case("osmsd -n: good config OK, errors with file and line"):
    with Osms(start=False) as o:
        p = subprocess.run([OSMSD, "-n", "-f", o.conf], capture_output=True,
                           text=True, timeout=30)
        t.expect(p.returncode == 0 and p.stdout.strip() ==
                 "configuration OK", "%s %s" % (p.stdout, p.stderr))
        good = o.conf_text()
        o.write_conf(good + 'pki "x" certificate "/nonexistent" key'
                     ' "/nonexistent"\nlisten on 127.0.0.1 port 1 smtp tls'
                     ' pki "nope"\n')
        p = subprocess.run([OSMSD, "-n", "-f", o.conf], capture_output=True,
                           text=True, timeout=30)
        n = len(good.splitlines())
        t.expect(p.returncode == 1, "exit %d" % p.returncode)
        t.expect("%s:%d:" % (o.conf, n + 2) in p.stderr, p.stderr)
        o.write_conf(good)
        os.chmod(o.tls["key"], 0o644)
        p = subprocess.run([OSMSD, "-n", "-f", o.conf], capture_output=True,
                           text=True, timeout=30)
        t.expect(p.returncode == 1 and "accessible by others" in p.stderr,
                 p.stderr)
        os.chmod(o.tls["key"], 0o600)

with t.case("osmsd -n refuses a pki whose key keyd could not sign with"):
    # Started with it, every handshake on its listeners would fail.
    with Osms(start=False) as o:
        good = o.conf_text()
        d = os.path.dirname(o.conf)
        other, ed, edcert = (os.path.join(d, n) for n in
                             ("other.key", "ed.key", "ed.crt"))
        for cmd in (["genpkey", "-algorithm", "EC", "-pkeyopt",
                     "ec_paramgen_curve:P-256", "-out", other],
                    ["genpkey", "-algorithm", "ED25519", "-out", ed],
                    ["req", "-new", "-x509", "-key", ed, "-subj",
                     "/CN=mx.example.test", "-days", "2", "-out", edcert]):
            subprocess.run(["openssl"] + cmd, check=True,
                           capture_output=True, timeout=30)
        for path in (other, ed):
            os.chmod(path, 0o600)
        n = len(good.splitlines())
        for cert, key, want in (
                (o.tls["cert"], other, "key does not match the certificate"),
                (edcert, ed, "ED25519 keys are not supported; use RSA or"
                 " ECDSA")):
            o.write_conf(good + 'pki "bad" certificate "%s" key "%s"\n'
                         % (cert, key))
            p = subprocess.run([OSMSD, "-n", "-f", o.conf],
                               capture_output=True, text=True, timeout=30)
            t.expect(p.returncode == 1, "exit %d" % p.returncode)
            t.expect("%s:%d: pki bad: %s" % (o.conf, n + 1, want)
                     in p.stderr, p.stderr)
        # A FIFO would block the check (and a reload) until written.
        fifo = os.path.join(d, "fifo.crt")
        os.mkfifo(fifo, 0o600)
        o.write_conf(good + 'pki "bad" certificate "%s" key "%s"\n'
                     % (fifo, o.tls["key"]))
        p = subprocess.run([OSMSD, "-n", "-f", o.conf],
                           capture_output=True, text=True, timeout=30)
        t.expect(p.returncode == 1, "exit %d" % p.returncode)
        t.expect("%s:%d: certificate %s is not a regular file"
                 % (o.conf, n + 1, fifo) in p.stderr, p.stderr)
        o.write_conf(good)

with t.case("a port already in use stops osmsd with a clear error"):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    with Osms(start=False) as o:
        o.write_conf(o.conf_text().replace(
            "port %d smtp" % o.ports["smtp"],
            "port %d smtp" % busy.getsockname()[1]))
        p = subprocess.run([OSMSD, "-d", "-f", o.conf], capture_output=True,
                           text=True, timeout=30)
        t.expect(p.returncode == 1, "exit %d" % p.returncode)
        t.expect("Address already in use" in p.stderr, p.stderr)
    busy.close()

t.done()
