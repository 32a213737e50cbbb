#!/usr/bin/env python3
"""crash-each-role: SIGKILL each role on a message's way, twice each in
a random order at random moments, under a load of 800 messages from 8
clients to three Maildir users and one alias that forwards through a
smarthost (so the mta and the gateway's outbound half are on the way
too).

Pass: every message that got 250 arrives exactly once per recipient
(a second copy at the smarthost only after a 250 the mta may not have
read, RFC 1047); a message refused or cut before its end of data never
arrives, one sent whole but unanswered at most once; refusals are 4xx;
no forged trust field gets through while cryptod restarts; the spool's
and the Maildirs' tmp/ are empty afterwards; the log names each kill
and each restart.
"""
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from faultlib import *  # noqa: E402,F401,F403

MESSAGES = 800
SECONDS = 28            # the load is spread over this long
ROLES = ["smtpd", "queue", "delivery", "mta", "cryptod", "scand", "authd"]
KILLS_EACH = 2

t = Tests(__file__)
rng = seeded(t, "crash-each-role")
sink = CountingSink()

with relay_osms(sink) as o:
    load = Load(o.ports["smtp"], MESSAGES, rng, local_or_relay, clients=8,
                rate=MESSAGES / SECONDS, size=(500, 40000),
                think=0.04)
    kills = []          # (role, old pid, new pid, load progress, when)

    with t.case("crash-each-role: %d kills of %s under load"
                % (len(ROLES) * KILLS_EACH, ", ".join(ROLES))):
        order = ROLES * KILLS_EACH
        rng.shuffle(order)
        load.start()
        for role in order:
            time.sleep(rng.uniform(0.2, 0.9))
            old, when = role_kill(o, role)
            at = load.progress()
            new = wait_role_back(o, role, old)
            kills.append((role, old, new, at, when))
            t.expect(new is not None, "%s (pid %d) came back" % (role, old))
        under_load = load.running()
        t.require(load.join(300), "the load ended")
        t.expect(under_load, "every kill came while the load ran")
        t.diag("kills (role, pid, new pid, messages started): %s"
               % [k[:4] for k in kills])

    with t.case("crash-each-role: recovery, exactly once, 4xx only"):
        t.require(drain(o, t=t), "the queue drained: %s"
                  % spool_files(o, "queue")[:6])
        forged = []
        counts = maildir_counts(o, forged=forged)
        res = judge(t, load, counts, sink, RELAY,
                    [(k[4], k[0]) for k in kills])
        summary(t, "crash-each-role", load, res)
        t.expect(not forged, "no forged trust field delivered: %d, e.g. %s"
                 % (len(forged), forged[:2]))
        t.expect(not [m for m in sink.got if m.forged],
                 "none relayed either")
        # The roles killed were on the way: scanned, through the
        # gateway, out through the mta.
        log = o.log()
        t.expect("check virus: message" in log, "scand scanned")
        t.expect("forged verdict fields removed" in log,
                 "cryptod saw the messages")
        t.expect(len(sink.got) > 0, "the mta relayed")

    with t.case("crash-each-role: nothing left half-written"):
        expect_nothing_half_written(t, o)

    with t.case("crash-queue: a destination in flight when the queue dies"
                " is sent after the recovery"):
        # The smarthost holds its reply: the relay is in flight while
        # the local copy is delivered and the envelope saved.
        sink.hold.set()
        n0 = len(sink.got)
        one = Load(o.ports["smtp"], 1, rng,
                   lambda r: ["alice@example.test", "fwd@example.test"])
        one.start()
        t.require(one.join(30) and one.messages[0].last.outcome ==
                  "accepted", "sent: %s" % one.messages[0].attempts)
        mid = one.messages[0].mid
        t.require(wait_until(lambda: maildir_counts(o).get(
            (mid, "alice@example.test")) and len(sink.got) > n0),
            "delivered to alice, and at the smarthost")
        time.sleep(0.5)
        old, kt = role_kill(o, "queue")
        t.require(wait_role_back(o, "queue", old), "the queue is back")
        sink.hold.clear()
        t.expect(drain(o, 30, t=t), "the recovered message left the queue: %s"
                 % spool_files(o, "queue"))
        judge(t, one, maildir_counts(o), sink, RELAY, [(kt, "queue")])

    with t.case("crash-queue: the mta sends no content for a queue that"
                " is gone"):
        # The smarthost holds its 354: the transaction has not sent the
        # message when the queue dies; the new queue sends it again.
        sink.hold_data.set()
        d0 = sink.ndata
        one = Load(o.ports["smtp"], 1, rng, lambda r: ["fwd@example.test"])
        one.start()
        t.require(one.join(30) and one.messages[0].last.outcome ==
                  "accepted", "sent: %s" % one.messages[0].attempts)
        t.require(wait_until(lambda: sink.ndata > d0), "at DATA")
        old, kt = role_kill(o, "queue")
        t.require(wait_role_back(o, "queue", old), "the queue is back")
        time.sleep(1)   # past the time the mta may take to notice
        sink.hold_data.clear()
        t.expect(drain(o, 30, t=t), "sent: %s" % spool_files(o, "queue"))
        judge(t, one, maildir_counts(o), sink, RELAY, [(kt, "queue")])
        t.expect("the queue went away" in o.log(), "the mta logs why")

    with t.case("crash-delivery: copies written, their results never read"
                " by the queue: found again, not doubled"):
        # delivery waits (SIGSTOP) with 24 requests (fewer than the
        # queue sends at once); then the queue
        # waits, delivery writes every copy and answers into the queue's
        # socket, and the queue dies without reading a word.
        dpid = o.pid("delivery")
        os.kill(dpid, signal.SIGSTOP)
        try:
            batch = Load(o.ports["smtp"], 12, rng,
                         lambda r: r.sample(LOCAL, 2), clients=4)
            batch.start()
            t.require(batch.join(60), "sent")
            time.sleep(0.5)
            qpid = o.pid("queue")
            os.kill(qpid, signal.SIGSTOP)
        finally:
            os.kill(dpid, signal.SIGCONT)
        want = sum(len(m.accepted_rcpts()) for m in batch.messages)
        t.expect(wait_until(lambda: sum(
            maildir_counts(o).get((m.mid, r), 0) for m in batch.messages
            for r in m.rcpts) >= want), "every copy written")
        os.kill(qpid, signal.SIGKILL)
        t.require(wait_role_back(o, "queue", qpid), "the queue is back")
        t.expect(drain(o, 30, t=t), "drained: %s" % spool_files(o, "queue"))
        judge(t, batch, maildir_counts(o))
        t.expect(o.log().count("(found earlier copy)") >= want,
                 "each redelivery found its copy")
        t.expect(maildir_tmp_files(o) == [], "Maildir tmp/ empty")

    with t.case("crash-each-role: the log tells each kill and restart"):
        log = o.log()
        for role, old, new, _, _ in kills:
            t.expect(re.search(r"%s \(pid %d\) killed by signal 9"
                               % (role, old), log),
                     "%s pid %d: its death is logged" % (role, old))
            if new:
                t.expect("%s ready, pid %d" % (role, new) in log,
                         "%s pid %d: its restart is logged" % (role, new))
        t.expect(log.count("restarting ") >= len(kills),
                 "a restart line per kill")
        t.expect(re.search(r"queue: recovered \d+ messages", log),
                 "the queue's recovery is logged")
        discarded = sum(int(n) for n in re.findall(
            r"recover: \d+ committed, (\d+) discarded", log))
        t.expect(len(re.findall(r"recover id=[0-9a-f]{16}: discarded ",
                                log)) == discarded,
                 "each of the %d uncommitted files discarded is named"
                 % discarded)

sink.close()
t.done()
