#!/usr/bin/env python3
"""disk-full: the spool on a 16 MB tmpfs, filled to ENOSPC for 3 seconds
(a file beside the queue's directories, topped up as deliveries free
space) under a load of 250 messages of up to 60 KB from 4 clients.

Pass: while the file system is full every message is refused with 452
4.3.1 or 451 4.3.0, none with a 5xx; at every moment every envelope in
the spool is whole and has its whole content; once space is free again
messages are accepted at once; every message that got 250 arrives
exactly once per recipient, no refused one arrives; tmp/ and queue/
are empty at the end; the log says the disk was full.
"""
import errno
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from faultlib import *  # noqa: E402,F401,F403

MESSAGES = 250
SECONDS = 12
FULL_AT, FULL_FOR = 4.0, 3.0
USERS = ["alice@example.test", "bob@example.test"]

t = Tests(__file__)
rng = seeded(t, "disk-full")


def fill(path):
    """Write to path until the file system is full; the open file."""
    if not os.path.ismount(os.path.dirname(path)):
        raise RuntimeError("%s is not on the test's own file system" % path)
    f = open(path, "ab", buffering=0)
    for size in (1 << 20, 1 << 14, 1 << 10, 1):
        while True:
            try:
                f.write(b"\0" * size)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                break
    return f


with Osms(start=False) as o:
    spool = o.path("spool")
    with t.case("disk-full: the spool on a 16 MB tmpfs"):
        p = subprocess.run(["mount", "-t", "tmpfs", "-o",
                            "size=16m,mode=0755", "tmpfs", spool],
                           capture_output=True, text=True)
        t.require(p.returncode == 0, "mount: %s" % p.stderr)
    if p.returncode != 0:
        t.done()        # never fill the file system of the test itself
    try:
        o.start()
        load = Load(o.ports["smtp"], MESSAGES, rng,
                    lambda r: r.sample(USERS, r.randint(1, 2)), clients=4,
                    rate=MESSAGES / SECONDS, size=(1000, 60000), think=0.02,
                    retries=0)
        ballast = os.path.join(spool, "ballast")
        problems = []
        window = {}

        with t.case("disk-full: the spool's file system full for %gs under"
                    " load" % FULL_FOR):
            load.start()
            time.sleep(FULL_AT)
            f = fill(ballast)
            window["full"] = time.monotonic()
            end = window["full"] + FULL_FOR
            while time.monotonic() < end:
                # Deliveries free space: take it back at once.
                try:
                    while True:
                        f.write(b"\0" * 1024)
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                problems += spool_problems(o)
                time.sleep(0.02)
            f.close()
            os.unlink(ballast)
            window["free"] = time.monotonic()
            t.require(load.join(300), "the load ended")
            t.expect(not problems, "every envelope whole, with its "
                     "content, while full: %s" % problems[:5])

        with t.case("disk-full: 452 4.3.1 or 451 4.3.0 while full, 250 "
                    "again after"):
            during = [a for m in load.messages for a in m.attempts
                      if a.start > window["full"] + 0.2 and
                      a.end < window["free"]]
            t.require(during, "messages sent while full")
            bad = [a for a in during if a.outcome != "refused" or
                   (a.code, a.text[:5]) not in ((452, "4.3.1"),
                                                (451, "4.3.0"))]
            t.expect(not bad, "%d of %d sent while full not 452/451: %s"
                     % (len(bad), len(during), bad[:3]))
            later = [a for m in load.messages for a in m.attempts
                     if a.start > window["free"] + 0.5]
            t.require(later, "messages sent after")
            bad = [a for a in later if a.outcome != "accepted"]
            t.expect(not bad, "%d of %d sent after not accepted: %s"
                     % (len(bad), len(later), bad[:3]))

        with t.case("disk-full: exactly once, 4xx only, nothing left"):
            t.require(drain(o, t=t), "drained: %s" % spool_files(o, "queue"))
            res = judge(t, load, maildir_counts(o))
            summary(t, "disk-full", load, res)
            t.expect(spool_files(o, "tmp") == [], "spool tmp/: %s"
                     % spool_files(o, "tmp")[:5])
            t.expect(spool_files(o, "corrupt") == [], "spool corrupt/")
            t.expect(maildir_tmp_files(o) == [], "Maildir tmp/")

        with t.case("disk-full: the log says so"):
            t.expect("No space left on device" in o.log(),
                     "ENOSPC is logged")
        o.stop()
    finally:
        subprocess.run(["umount", "-l", spool], capture_output=True)

t.done()
