#!/usr/bin/env python3
"""corrupt-queue: 100 messages queued (alice's Maildir unreadable, so
they wait), osmsd stopped, and 10 of them damaged in the spool as a
crash or a bad disk would: envelopes cut short, emptied, or with a byte
changed; contents cut short or gone; plus a stray file in queue/ and a
half-written one in tmp/. Then osmsd starts again with the Maildir
fixed.

Pass: each damaged message is moved to corrupt/ and named in the log
with what is wrong, the stray file too; the half-written one is
discarded; the recovery line counts 90 committed, 11 corrupt and 1
discarded; the 90 others arrive exactly once, the damaged ones never
(none is half-delivered).
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from faultlib import *  # noqa: E402,F401,F403

MESSAGES = 100
ALICE = "alice@example.test"

t = Tests(__file__)
rng = seeded(t, "corrupt-queue")


def mid_of(path):
    with open(path, "rb") as f:
        m = re.search(rb"^Message-ID:\s*(<[^>\r\n]*>)", f.read(8192),
                      re.M | re.I)
    return m.group(1).decode() if m else None


with Osms() as o:
    q = o.path("spool", "queue")
    alice = o.path("mail", "example.test", "alice")
    load = Load(o.ports["smtp"], MESSAGES, rng, lambda r: [ALICE],
                clients=4, retries=0)

    with t.case("corrupt-queue: 100 messages queued, osmsd stopped"):
        first = Load(o.ports["smtp"], 1, rng, lambda r: [ALICE])
        first.start()
        t.require(first.join(30) and drain(o, 30, t=t), "alice's Maildir made")
        os.chmod(alice, 0)
        load.start()
        t.require(load.join(120), "sent")
        t.require(load.counts()["accepted"] == MESSAGES, "all accepted")
        t.require(wait_until(lambda: len(spool_files(o, "queue")) ==
                             2 * MESSAGES), "all in queue/")
        t.require(o.stop() == 0, "stopped")

    ids = sorted(n[:-4] for n in spool_files(o, "queue")
                 if n.endswith(".env"))
    damaged = {}        # queue id -> (Message-ID, what was done)
    with t.case("corrupt-queue: 10 messages damaged, strays added"):
        t.require(len(ids) == MESSAGES, "%d envelopes" % len(ids))
        pick = rng.sample(ids, 10)
        how = ["env cut", "env cut", "env cut", "env byte", "env byte",
               "env empty", "msg cut", "msg cut", "msg gone", "msg gone"]
        for qid, what in zip(pick, how):
            env, msg = os.path.join(q, qid + ".env"), os.path.join(
                q, qid + ".msg")
            damaged[qid] = (mid_of(msg), what)
            if what == "env cut":
                os.truncate(env, os.path.getsize(env) // 2)
            elif what == "env byte":
                with open(env, "r+b") as f:
                    at = rng.randrange(8, os.path.getsize(env) - 13)
                    f.seek(at)
                    b = f.read(1)
                    f.seek(at)
                    f.write(bytes([b[0] ^ 0x20]))
            elif what == "env empty":
                os.truncate(env, 0)
            elif what == "msg cut":
                os.truncate(msg, os.path.getsize(msg) - 7)
            else:
                os.unlink(msg)
        with open(os.path.join(q, "stray.txt"), "w") as f:
            f.write("not a queue file\n")
        with open(o.path("spool", "tmp", "0123456789abcdef"), "w") as f:
            f.write("From: half a message")
        t.diag("damaged: %s" % {k: v[1] for k, v in damaged.items()})

    with t.case("corrupt-queue: set aside and logged, the rest delivered"):
        os.chmod(alice, 0o700)
        o._logf.close()
        o.start()
        log = o.log()
        for qid, (mid, what) in damaged.items():
            t.expect(re.search(r"recover id=%s: corrupt \(.+\), moved to "
                               r"corrupt/%s\.env" % (qid, qid), log),
                     "%s (%s) logged as corrupt" % (qid, what))
            t.expect(os.path.exists(o.path("spool", "corrupt",
                                           qid + ".env")),
                     "%s in corrupt/" % qid)
        t.expect(re.search(r"stray queue/stray\.txt moved to corrupt/",
                           log), "the stray file is logged")
        t.expect(re.search(r"recover: 90 committed, 1 discarded, 11 "
                           r"corrupt", log), "the recovery counts: %s"
                 % re.findall(r"recover: .*", log)[-1:])
        t.require(drain(o, 30, t=t), "drained: %s" % spool_files(o, "queue"))
        counts = maildir_counts(o)
        bad = {mid for mid, _ in damaged.values()}
        t.expect(not [m for m in bad if counts.get((m, ALICE))],
                 "no damaged message delivered")
        good = Load(o.ports["smtp"], 0, rng, lambda r: [ALICE])
        good.messages = [m for m in load.messages if m.mid not in bad]
        t.expect(len(good.messages) == 90, "90 undamaged")
        res = judge(t, good, counts)
        summary(t, "corrupt-queue", load, res)
        t.expect(spool_files(o, "tmp") == [], "tmp/ empty")
        t.expect(maildir_tmp_files(o) == [], "Maildir tmp/ empty")

t.done()
