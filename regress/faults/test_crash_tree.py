#!/usr/bin/env python3
"""crash-tree: SIGKILL osmsd and every process under it at once, twice,
at random moments under a load of 300 messages from 8 clients (three
Maildir users and an alias forwarded through a smarthost); osmsd is
started again on the same spool each time, and the clients go on.

Pass: right after each kill every envelope in the spool is whole and
has its content (a torn or half-committed file is only ever in tmp/ or
a content without its envelope); after the recovery every message that
got 250 arrives exactly once per recipient, the others as in
crash-each-role; the spool's and the Maildirs' tmp/ are empty; the log
shows each start and what the recovery found.
"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from faultlib import *  # noqa: E402,F401,F403

MESSAGES = 300
SECONDS = 12

t = Tests(__file__)
rng = seeded(t, "crash-tree")
sink = CountingSink()
sink.delay = 0.3        # a slow smarthost: messages wait in the queue

with relay_osms(sink) as o:
    # While osmsd is down nothing listens: the clients try again.
    load = Load(o.ports["smtp"], MESSAGES, rng, local_or_relay, clients=8,
                rate=MESSAGES / SECONDS, size=(500, 40000), think=0.04,
                retries=40, backoff=0.25)
    kills = []

    with t.case("crash-tree: osmsd and every role killed at once, twice,"
                " under load"):
        load.start()
        for n in range(2):
            time.sleep(rng.uniform(2.0, 4.5))
            when = time.monotonic()
            pids = kill_tree(o)
            at = load.progress()
            kills.append((when, "tree"))
            t.expect(not o.alive(), "nothing of the tree lives: %s"
                     % o.alive())
            bad = spool_problems(o)
            t.expect(not bad, "kill %d (%d processes, %d messages "
                     "started): every envelope whole: %s"
                     % (n + 1, len(pids), at, bad[:5]))
            t.diag("kill %d: %d processes, after %d messages; tmp/ %d, "
                   "queue/ %d files" % (n + 1, len(pids), at,
                                        len(spool_files(o, "tmp")),
                                        len(spool_files(o, "queue"))))
            o._logf.close()
            o.start()
        t.expect(load.running(), "the kills came while the load ran")
        t.require(load.join(300), "the load ended")

    with t.case("crash-tree: recovery, exactly once, 4xx only"):
        t.require(drain(o, t=t), "the queue drained: %s"
                  % spool_files(o, "queue")[:6])
        forged = []
        res = judge(t, load, maildir_counts(o, forged=forged), sink, RELAY,
                    kills)
        summary(t, "crash-tree", load, res)
        t.expect(not forged, "no forged trust field delivered: %s"
                 % forged[:2])

    with t.case("crash-tree: nothing left half-written"):
        expect_nothing_half_written(t, o)

    with t.case("crash-tree: the log tells each start and recovery"):
        log = o.log()
        t.expect(len(re.findall(r"parent\[\d+\]: started, pid", log)) == 3,
                 "three starts")
        recs = re.findall(r"queue: recovered (\d+) messages, discarded "
                          r"(\d+) uncommitted, (\d+) corrupt", log)
        t.expect(len(recs) >= 3, "a recovery line per start: %s" % recs)
        t.expect(all(c == "0" for _, _, c in recs), "nothing corrupt: %s"
                 % recs)
        t.diag("recoveries (recovered, discarded, corrupt): %s" % recs)
        discarded = sum(int(n) for n in re.findall(
            r"recover: \d+ committed, (\d+) discarded", log))
        t.expect(len(re.findall(r"recover id=[0-9a-f]{16}: discarded ",
                                log)) == discarded,
                 "each of the %d uncommitted files discarded is named"
                 % discarded)
        t.expect(sum(int(r) for r, _, _ in recs) > 0,
                 "the kills left committed messages to recover")

sink.close()
t.done()
