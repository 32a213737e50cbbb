#!/usr/bin/env python3
"""maildir-unwritable: carol's Maildir made unreadable (mode 000) and
bob's new/ read-only (mode 500) while 150 messages from 4 clients come
for alice, bob and carol; delivery runs as the mail store's user, not
root, so the modes hold for it.

Pass: every message is accepted (the trouble is behind the queue);
alice gets hers at once, bob and carol nothing, their mail stays queued
with the reason in osmsctl's queue show and in the log; nothing is left
in bob's or carol's tmp/ (bob's delivery writes there, then cannot link
into new/); once the modes are back a flush delivers every message
exactly once.
"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from faultlib import *  # noqa: E402,F401,F403

MESSAGES = 150
SECONDS = 5
USERS = ["alice@example.test", "bob@example.test", "carol@example.test"]

t = Tests(__file__)
rng = seeded(t, "maildir-unwritable")

with Osms(start=False) as o:
    o.write_users({a: "pw" for a in USERS})
    o.start()
    root = o.path("mail", "example.test")
    carol, bob_new = os.path.join(root, "carol"), os.path.join(root, "bob",
                                                               "new")

    with t.case("maildir-unwritable: the Maildirs, and who writes them"):
        first = Load(o.ports["smtp"], 1, rng, lambda r: list(USERS))
        first.start()
        t.require(first.join(30) and drain(o, 30, t=t), "the Maildirs made")
        uid = int(proc_field(o.pid("delivery"), "Uid")[1])
        t.require(uid != 0, "delivery is not root (uid %d)" % uid)
        os.chmod(carol, 0)
        os.chmod(bob_new, 0o500)

    load = Load(o.ports["smtp"], MESSAGES, rng,
                lambda r: r.sample(USERS, r.randint(1, 3)), clients=4,
                rate=MESSAGES / SECONDS, size=(500, 20000), retries=0)
    try:
        with t.case("maildir-unwritable: accepted, and held in the queue"):
            load.start()
            t.require(load.join(120), "the load ended")
            c = load.counts()
            t.expect(c["accepted"] == MESSAGES, "all accepted: %s"
                     % dict(c))
            want = [(m.mid, r) for m in load.messages
                    for r in m.accepted_rcpts()]
            alice = [w for w in want if w[1] == USERS[0]]
            t.expect(wait_until(lambda: all(maildir_counts(o).get(w) == 1
                                            for w in alice)),
                     "alice has hers")
            time.sleep(1)
            counts = maildir_counts(o)
            held = [w for w in want if w[1] != USERS[0]]
            t.expect(not [w for w in held if counts.get(w)],
                     "bob and carol have nothing")
            queued = [n[:-4] for n in spool_files(o, "queue")
                      if n.endswith(".env")]
            t.expect(len(queued) == len({m for m, _ in held}),
                     "%d messages wait for bob or carol: %d queued"
                     % (len({m for m, _ in held}), len(queued)))
            show = o.ctl("queue", "show", queued[0]).stdout if queued \
                else ""
            t.expect(re.search(r"pending attempts=\d+ .*error=.*"
                               r"(permission denied|Permission denied)",
                               show), "queue show says why: %s" % show)
            log = o.log()
            t.expect(re.search(r"to=<carol@example.test> status=deferred"
                               r".*permission denied", log, re.I),
                     "the log says why for carol")
            t.expect(re.search(r"to=<bob@example.test> status=deferred"
                               r".*new/", log), "and for bob")
            tmp = [p for p in maildir_tmp_files(o)
                   if "/bob/" in p or "/carol/" in p]
            t.expect(not tmp, "nothing half-written in tmp/: %s" % tmp[:3])
    finally:
        os.chmod(carol, 0o700)
        os.chmod(bob_new, 0o700)

    with t.case("maildir-unwritable: after the fix, exactly once"):
        t.require(drain(o, 30, t=t), "drained: %s" % spool_files(o, "queue"))
        res = judge(t, load, maildir_counts(o))
        summary(t, "maildir-unwritable", load, res)
        t.expect(maildir_tmp_files(o) == [], "Maildir tmp/: %s"
                 % maildir_tmp_files(o)[:3])

t.done()
