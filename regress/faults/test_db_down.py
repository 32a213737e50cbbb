#!/usr/bin/env python3
"""db-down: the directory in PostgreSQL is stopped for 30 seconds
(OSMS_FAULT_DB_DOWN) under a load of 400 messages from 4 clients, to a
user in PostgreSQL (dora@pg.test) and one in a file table
(alice@example.test); a probe logs in as dora on submission every
second meanwhile.

Pass: while the database is down, RCPT for dora gets 451 4.3.0 and AUTH
454 4.7.0, never a 5xx (no "no such user", no "bad password"); alice
is served throughout; within 5 seconds of the restart both work again,
without authd restarting; every message that got 250 arrives exactly
once per recipient, no refused one arrives; the log says when the
database went away and when it came back.
"""
import base64
import collections
import os
import smtplib
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from faultlib import *  # noqa: E402,F401,F403
from mailtest import insecure_ctx  # noqa: E402

MESSAGES = 400
DOWN = float(os.environ.get("OSMS_FAULT_DB_DOWN", "30"))
BEFORE, AFTER = 5.0, 8.0        # seconds of load around the outage
DORA, ALICE = "dora@pg.test", "alice@example.test"
BACK_WITHIN = 5.0

t = Tests(__file__)
rng = seeded(t, "db-down")


def auth_probe(port, user, password):
    """(code, text) of AUTH PLAIN on submission, after STARTTLS."""
    c = smtplib.SMTP("127.0.0.1", port, timeout=20)
    try:
        c.ehlo("probe.test")
        c.starttls(context=insecure_ctx())
        c.ehlo("probe.test")
        code, text = c.docmd("AUTH", "PLAIN " + base64.b64encode(
            ("\0%s\0%s" % (user, password)).encode()).decode())
        return code, text.decode("utf-8", "replace")
    finally:
        c.close()


with Pg() as pg:
    run([os.path.join(pg.bin, "psql"), "-X", "-h", pg.sockdir, "-U", "osms",
         "-d", "osms", "-v", "ON_ERROR_STOP=1", "-q", "-f",
         os.path.join(ROOT, "sql", "schema.sql")])
    conf = ('table dir postgres "%s"\ndomains <dir>\n' % pg.conninfo)
    with Osms(extra_conf=conf) as o:
        with t.case("db-down: pg.test and dora@pg.test in PostgreSQL"):
            for args, inp in ((("domain", "add", "pg.test"), None),
                              (("user", "add", DORA), "dora-pw\n")):
                p = o.ctl(*args, input=inp)
                t.require(p.returncode == 0, "osmsctl %s: %s%s"
                          % (" ".join(args), p.stdout, p.stderr))
        authd = o.pid("authd")
        load = Load(o.ports["smtp"], MESSAGES, rng,
                    lambda r: r.sample([DORA, ALICE], r.randint(1, 2)),
                    clients=4, rate=MESSAGES / (BEFORE + DOWN + AFTER),
                    retries=0)
        probes = []         # (start, end, user, code, text)
        stop = threading.Event()

        def prober():
            while not stop.is_set():
                for user, pw in ((DORA, "dora-pw"), (ALICE, "alice-pw")):
                    t0 = time.monotonic()
                    try:
                        code, text = auth_probe(o.ports["submission"],
                                                user, pw)
                    except (OSError, smtplib.SMTPException) as e:
                        code, text = 0, repr(e)
                    probes.append((t0, time.monotonic(), user, code, text))
                stop.wait(1.0)

        with t.case("db-down: PostgreSQL stopped for %gs under load" % DOWN):
            th = threading.Thread(target=prober, daemon=True)
            load.start()
            th.start()
            time.sleep(BEFORE)
            t_stop = time.monotonic()
            pg.stop()
            time.sleep(DOWN)
            # pg_ctl -w returns once the server accepts connections, so
            # "down" ends when the restart begins, "back" when it returned
            t_restart = time.monotonic()
            pg.start()
            t_start = time.monotonic()
            t.require(load.join(300), "the load ended")
            stop.set()
            th.join(30)
            t.expect(o.pid("authd") == authd, "authd was not restarted")

        def rcpts_of(user, lo, hi):
            """RCPT replies for user, of attempts inside (lo, hi)."""
            return [(a.start, a.rcpt_codes[user]) for m in load.messages
                    for a in m.attempts if user in a.rcpt_codes and
                    a.start > lo and a.end < hi]

        with t.case("db-down: RCPT 451 4.3.0 and AUTH 454 4.7.0 while "
                    "down, never 5xx; the file domain goes on"):
            down = rcpts_of(DORA, t_stop + 1, t_restart)
            t.require(down, "RCPTs for dora while down")
            bad = [r for _, r in down if r[0] != 451 or
                   not r[1].startswith("4.3.0")]
            t.expect(not bad, "dora while down: %d of %d not 451 4.3.0, "
                     "e.g. %s" % (len(bad), len(down), bad[:3]))
            other = [r for _, r in rcpts_of(ALICE, 0, 1e18) if r[0] != 250]
            t.expect(not other, "alice always 250: %s" % other[:3])
            pdown = [p for p in probes if p[0] > t_stop + 1 and
                     p[1] < t_restart]
            bad = [p for p in pdown if p[2] == DORA and
                   (p[3] != 454 or not p[4].startswith("4.7.0"))]
            t.expect(pdown and not bad, "AUTH as dora while down: %s"
                     % bad[:3])
            bad = [p for p in pdown if p[2] == ALICE and p[3] != 235]
            t.expect(not bad, "AUTH as alice while down: %s" % bad[:3])
            five = [p for p in probes if p[3] >= 500]
            t.expect(not five, "no AUTH 5xx: %s" % five[:3])

        with t.case("db-down: normal within %gs of the restart"
                    % BACK_WITHIN):
            after = rcpts_of(DORA, t_start, 1e18)
            ok = [s for s, r in after if r[0] == 250]
            t.require(ok, "RCPT for dora works again")
            t.diag("first RCPT 250 for dora %.2fs after the restart"
                   % (min(ok) - t_start))
            t.expect(min(ok) - t_start < BACK_WITHIN, "soon enough")
            late = [r for s, r in after if s > t_start + BACK_WITHIN and
                    r[0] != 250]
            t.expect(not late, "every RCPT later is 250: %s" % late[:3])
            pok = [p for p in probes if p[2] == DORA and p[3] == 235 and
                   p[0] > t_start]
            t.expect(pok and pok[0][0] - t_start < BACK_WITHIN,
                     "AUTH as dora works again: %s"
                     % [p for p in probes if p[0] > t_start][:4])

        with t.case("db-down: exactly once, 4xx only"):
            t.require(drain(o, t=t), "drained: %s" % spool_files(o, "queue"))
            counts = collections.Counter(maildir_counts(o))
            counts.update(maildir_counts(o, "pg.test"))
            res = judge(t, load, counts)
            summary(t, "db-down", load, res)

        with t.case("db-down: the log tells when it went and came back"):
            log = o.log()
            t.expect("database unreachable" in log, "down is logged")
            t.expect("database reachable again" in log, "back is logged")
