#!/usr/bin/env python3
"""Durability: a message is on disk before its 250.

What a power cut would test, seen from the system calls: strace follows
smtpd and the queue while messages are sent, and the 250 of each must
come after the fsync of its message file, of its envelope, and of the
queue directory that its renames changed (fsync(2): a new name needs the
directory's own fsync). SECURITY.md lesson 1, its power-loss row.
"""
import os
import re
import signal
import smtplib
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from osmstest import *  # noqa: E402,F401,F403

t = Tests(__file__)

LINE = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+(\w+)\((.*)$")
RESUMED = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+<\.\.\. (\w+) resumed>(.*)$")


def parse(path):
    """[(time, call, args)] of a strace -ttt -f -y output. A call another
    process interrupted comes in two lines; it is joined, with the time
    it returned, as a call counts once it has returned."""
    calls, pending = [], {}
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            m = RESUMED.match(line)
            if m:
                start = pending.pop(m.group(1), None)
                if start is not None and start[0] == m.group(3):
                    calls.append((float(m.group(2)), start[0],
                                  start[1] + m.group(4)))
                continue
            m = LINE.match(line)
            if not m:
                continue
            if line.endswith("<unfinished ...>"):
                pending[m.group(1)] = (m.group(3), m.group(4)[
                    :-len("<unfinished ...>")].rstrip())
            else:
                calls.append((float(m.group(2)), m.group(3), m.group(4)))
    return calls


def fds_synced(calls, before):
    """Paths fsync'd (fsync or fdatasync, returning 0) before a time."""
    out = []
    for when, call, args in calls:
        if call in ("fsync", "fdatasync") and when < before and \
                args.rstrip().endswith("= 0"):
            m = re.match(r"\d+<([^>]*)>", args)
            if m:
                out.append((when, m.group(1)))
    return out


with Osms() as o:
    trace = o.path("strace.out")
    st = subprocess.Popen(
        ["strace", "-ttt", "-f", "-y", "-s", "64", "-o", trace,
         "-e", "trace=fsync,fdatasync,renameat2,rename,renameat,writev,"
         "write", "-p", str(o.pid("smtpd")), "-p", str(o.pid("queue"))],
        stderr=subprocess.PIPE)
    time.sleep(1)       # attached: strace says so on stderr, but quietly
    ids = []
    s = smtplib.SMTP("127.0.0.1", o.ports["smtp"], timeout=30)
    s.ehlo("client.test")
    for i in range(3):
        mc = s.mail("x@remote.test")
        t.require(mc[0] == 250, "MAIL: %s" % (mc,))
        rc = s.rcpt("alice@example.test")
        t.require(rc[0] == 250, "RCPT: %s" % (rc,))
        code, resp = s.data("Subject: %d\r\nMessage-ID: <d%d@x>\r\n\r\n"
                            "hello\r\n" % (i, i))
        m = re.search(rb"queued as (\w+)", resp)
        t.require(code == 250 and m, "250 for message %d: %s" % (i, resp))
        ids.append(m.group(1).decode())
    s.quit()
    time.sleep(0.5)
    st.send_signal(signal.SIGINT)
    st.wait(10)
    calls = parse(trace)

    with t.case("each 250 comes after the fsync of its file, its envelope "
                "and the queue directory its renames changed"):
        t.require(calls, "strace saw the calls")
        for qid in ids:
            said = [w for w, c, a in calls if c in ("write", "writev") and
                    "250 2.0.0 Ok: queued as %s" % qid in a]
            t.require(said, "the 250 of %s is in the trace" % qid)
            synced = fds_synced(calls, said[0])
            names = [p for _, p in synced]
            t.expect(any(p.endswith("/" + qid) for p in names),
                     "%s: message file fsync'd before 250: %s" %
                     (qid, names))
            t.expect(any(p.endswith("/%s.env" % qid) for p in names),
                     "%s: envelope fsync'd before 250" % qid)
            renamed = [w for w, c, a in calls if c.startswith("rename")
                       and '"%s.env"' % qid in a and w < said[0]]
            t.require(renamed, "%s: envelope renamed before 250" % qid)
            dirs = [p for w, p in synced if w > renamed[-1] and
                    os.path.isdir(p)]
            t.expect(dirs, "%s: a directory fsync'd after the rename and "
                     "before 250: %s" % (qid, synced[-3:]))
