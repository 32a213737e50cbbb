#!/usr/bin/env python3
"""The queue and local delivery: durable, exactly once, retried, bounced.

A real osmsd; mail comes in over SMTP and is counted by Message-ID in
the Maildirs.
"""
import email
import os
import random
import re
import shutil
import signal
import smtplib
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from osmstest import *  # noqa: E402,F401,F403
from mailtest import *  # noqa: E402,F401,F403

t = Tests(__file__)


def queue_ids(o):
    p = o.ctl("queue", "list")
    return re.findall(r"^([0-9a-f]{16}) ", p.stdout, re.M)


def wait_queue_empty(o, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not queue_ids(o):
            return True
        time.sleep(0.2)
    return False


def envelope_all_done(raw):
    """The envelope file raw with every destination's STATE made DONE
    (1) and its checksum redone: as a crash leaves one whose last
    delivery was recorded but whose removal had not happened."""
    out = bytearray(raw[:-ENV_END_LEN])
    for typ, at, n in envelope_records(out):
        if typ == 0x41:                     # DEST: records inside
            for sub, sat, _ in envelope_records(out, at, at + n):
                if sub == 0x07:             # STATE u32
                    out[sat:sat + 4] = struct.pack("<I", 1)
    return envelope_seal(bytes(out))


def wait_pid_change(o, role, old, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            for r in o.status():
                if r["role"] == role and r["pid"] not in (0, old) and \
                        r["state"] == "ready":
                    return r["pid"]
        except OsmsError:
            pass
        time.sleep(0.1)
    return None


with Osms() as o:
    mx = o.ports["smtp"]
    box = Mailboxes(o)
    alice_dir = os.path.join(box.root, "alice")

    with t.case("an unwritable Maildir defers; flush delivers after fix"):
        send(mx, "a@remote.test", ["alice@example.test"])  # make the dir
        t.require(wait_queue_empty(o), "first message delivered")
        os.chmod(os.path.join(alice_dir, "new"), 0o500)
        os.chmod(os.path.join(alice_dir, "tmp"), 0o500)
        mid = send(mx, "a@remote.test", ["alice@example.test"])
        time.sleep(1)
        ids = queue_ids(o)
        t.require(len(ids) == 1, "one message queued: %s" % ids)
        show = o.ctl("queue", "show", ids[0]).stdout
        t.expect("pending attempts=1" in show and "error=" in show, show)
        t.expect(box.find("alice", mid) is None, "not delivered yet")
        t.expect(os.listdir(os.path.join(alice_dir, "tmp")) == [],
                 "nothing half-written in tmp/")
        os.chmod(os.path.join(alice_dir, "new"), 0o700)
        os.chmod(os.path.join(alice_dir, "tmp"), 0o700)
        p = o.ctl("queue", "flush")
        t.expect(p.returncode == 0 and "due now" in p.stdout, p.stdout)
        t.expect(box.wait_for("alice", mid) is not None, "delivered")
        t.expect(wait_queue_empty(o), "queue empty")
        t.expect(box.count("alice", mid) == 1, "once")

    with t.case("osmsctl queue show, remove, and bad ids"):
        os.chmod(os.path.join(alice_dir, "new"), 0o500)
        send(mx, "a@remote.test", ["alice@example.test"])
        time.sleep(1)
        ids = queue_ids(o)
        t.require(len(ids) == 1, "queued: %s" % ids)
        p = o.ctl("queue", "show", ids[0])
        t.expect(p.returncode == 0 and "sender: <a@remote.test>" in
                 p.stdout, p.stdout)
        p = o.ctl("queue", "show", "0123456789abcdef")
        t.expect(p.returncode == 1 and "no such message" in p.stderr,
                 p.stderr)
        p = o.ctl("queue", "show", "../../etc/passwd")
        t.expect(p.returncode == 1, "a path is not an id")
        show = o.ctl("queue", "show", ids[0]).stdout
        m = re.search(r"attempts=(\d+) next=(\S+)", show)
        t.expect(m is not None and re.match(
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", m.group(2)),
            "the next attempt, in UTC: %s" % show)
        before = int(m.group(1)) if m else 0
        p = o.ctl("queue", "schedule", ids[0])
        t.expect(p.returncode == 0 and "1 deliveries due now" in p.stdout,
                 p.stdout + p.stderr)
        for _ in range(50):
            if "attempts=%d" % (before + 1) in o.ctl(
                    "queue", "show", ids[0]).stdout:
                break
            time.sleep(0.1)
        t.expect("attempts=%d" % (before + 1) in o.ctl(
            "queue", "show", ids[0]).stdout,
            "scheduled: tried once more at once")
        p = o.ctl("queue", "schedule", "0123456789abcdef")
        t.expect(p.returncode == 1 and "no such message" in p.stderr,
                 p.stderr)
        p = o.ctl("queue", "remove", ids[0])
        t.expect(p.returncode == 0, p.stdout + p.stderr)
        t.expect(queue_ids(o) == [], "gone")
        spool = os.listdir(os.path.join(o.dir, "spool", "queue"))
        t.expect(spool == [], "spool files gone: %s" % spool)
        os.chmod(os.path.join(alice_dir, "new"), 0o700)

    with t.case("a symlinked Maildir is refused and bounced to the sender"):
        outside = os.path.join(o.dir, "outside")
        os.makedirs(os.path.join(outside, "new"))
        os.makedirs(os.path.join(outside, "tmp"))
        os.makedirs(os.path.join(outside, "cur"))
        bob_dir = os.path.join(box.root, "bob")
        shutil.rmtree(bob_dir, ignore_errors=True)
        os.symlink(outside, bob_dir)
        mid = send(mx, "alice@example.test", ["bob@example.test"])
        # The bounce comes back to alice, a local sender.
        deadline = time.monotonic() + 20
        dsn = None
        while dsn is None and time.monotonic() < deadline:
            for path, raw in box.messages("alice"):
                if b"multipart/report" in raw and mid.encode() in raw:
                    dsn = email.message_from_bytes(raw)
            time.sleep(0.1)
        t.require(dsn is not None, "bounce delivered to alice")
        t.expect(dsn["Return-Path"] == "<>", "null sender")
        t.expect(dsn.get_content_type() == "multipart/report", "report")
        parts = [p.get_content_type() for p in dsn.walk()]
        t.expect("message/delivery-status" in parts, parts)
        status = [p for p in dsn.walk()
                  if p.get_content_type() == "message/delivery-status"]
        text = status[0].as_string() if status else ""
        t.expect("Action: failed" in text and
                 "Final-Recipient: rfc822; bob@example.test" in text, text)
        t.expect(all(os.listdir(os.path.join(outside, d)) == []
                     for d in ("new", "tmp", "cur")),
                 "nothing written through the symlink")
        t.expect(wait_queue_empty(o), "queue empty")
        os.unlink(bob_dir)

    with t.case("queued mail survives a restart of osmsd"):
        os.chmod(os.path.join(alice_dir, "new"), 0o500)
        mids = [send(mx, "r@remote.test", ["alice@example.test"])
                for _ in range(3)]
        time.sleep(1)
        t.require(len(queue_ids(o)) == 3, "3 queued")
        t.require(o.stop() == 0, "stopped")
        os.chmod(os.path.join(alice_dir, "new"), 0o700)
        o.start()
        t.expect("recovered 3 messages" in o.log(), "recovery logged")
        o.ctl("queue", "flush")
        for mid in mids:
            t.expect(box.wait_for("alice", mid) is not None, mid)
            t.expect(box.count("alice", mid) == 1, "once: " + mid)
        t.expect(wait_queue_empty(o), "queue empty")

    with t.case("a message whose deliveries were all recorded before a "
                "crash leaves the queue at the restart, not delivered "
                "again"):
        os.chmod(os.path.join(alice_dir, "new"), 0o500)
        mid = send(mx, "r@remote.test", ["alice@example.test"])
        time.sleep(1)
        ids = queue_ids(o)
        t.require(len(ids) == 1, "1 queued: %s" % ids)
        t.require(o.stop() == 0, "stopped")
        env = o.path("spool", "queue", ids[0] + ".env")
        with open(env, "rb") as f:
            raw = f.read()
        with open(env, "wb") as f:
            f.write(envelope_all_done(raw))
        os.chmod(os.path.join(alice_dir, "new"), 0o700)
        o.start()
        t.expect(wait_queue_empty(o, 10), "queue empty: %s" % queue_ids(o))
        t.expect("queue: %s was done before the restart" % ids[0]
                 in o.log(), "logged")
        t.expect(not os.path.exists(env), "envelope removed")
        t.expect(box.count("alice", mid) == 0, "not delivered again")

with t.case("a full spool: 452 4.3.1, nothing half-written, then OK"):
    with Osms(start=False) as o:
        spool = o.path("spool")
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m",
                            "tmpfs", spool], capture_output=True, text=True)
        t.require(p.returncode == 0, "mount tmpfs: " + p.stderr)
        try:
            o.start()
            mx = o.ports["smtp"]
            box = Mailboxes(o)
            c = smtplib.SMTP("127.0.0.1", mx, timeout=30)
            code = None
            try:
                c.sendmail("a@remote.test", ["alice@example.test"],
                           make_message("a@remote.test",
                                        "alice@example.test", message_id(),
                                        body="z" * 900 + "\r\n" * 1
                                        + ("y" * 998 + "\r\n") * 2000))
            except smtplib.SMTPDataError as e:
                code = (e.smtp_code, e.smtp_error)
            c.quit()
            t.expect(code is not None and code[0] == 452 and
                     b"4.3.1" in code[1], "big message: %s" % (code,))
            t.expect(os.listdir(os.path.join(spool, "queue")) == [],
                     "no partial message committed")
            # The queue removes the file when smtpd's abort reaches it,
            # which may be after the client has its 452.
            t.expect(wait_until(lambda: os.listdir(
                os.path.join(spool, "tmp")) == [], 5),
                "no leftover in tmp/: %s"
                % os.listdir(os.path.join(spool, "tmp")))
            mid = send(mx, "a@remote.test", ["alice@example.test"])
            t.expect(box.wait_for("alice", mid) is not None,
                     "a small one goes through")
            o.stop()
        finally:
            subprocess.run(["umount", spool])

with Osms(start=False, roles_conf="queue {\n\tdelay-warning 2s\n}\n") as o:
    o.write_users({"alice@example.test": "alice-pw",
                   "bob@example.test": "bob-pw"})
    with open(o.users_file, "a") as f:
        f.write("tiny@example.test {SHA512-CRYPT}x quota=2K\n")
    with open(o.aliases_file, "a") as f:
        f.write("ping@example.test pong@example.test\n"
                "pong@example.test ping@example.test\n")
    o.start()
    mx = o.ports["smtp"]
    box = Mailboxes(o)

    with t.case("over quota: the message stays queued, not half-written"):
        mid = send(mx, "a@remote.test", ["tiny@example.test"],
                   body=("q" * 70 + "\r\n") * 45)
        time.sleep(1)
        ids = queue_ids(o)
        t.require(len(ids) == 1, "queued: %s" % ids)
        show = o.ctl("queue", "show", ids[0]).stdout
        t.expect("quota" in show, show)
        t.expect(box.find("tiny", mid) is None, "not delivered")
        tmp = os.path.join(box.root, "tiny", "tmp")
        t.expect(not os.path.isdir(tmp) or os.listdir(tmp) == [],
                 "tmp/ empty")
        o.ctl("queue", "remove", ids[0])

    def dsns(user, action):
        return [raw for _, raw in box.messages(user)
                if b"Action: " + action in raw]

    with t.case("delay-warning: one \"delayed\" DSN per message, unless "
                "NOTIFY leaves DELAY out"):
        c = smtplib.SMTP("127.0.0.1", mx, timeout=20)
        c.ehlo("client.test")
        c.sendmail("bob@example.test", ["tiny@example.test"],
                   make_message("bob@example.test", "tiny@example.test",
                                message_id(), body=("w" * 70 + "\r\n") *
                                45))
        c.sendmail("alice@example.test", ["tiny@example.test"],
                   make_message("alice@example.test", "tiny@example.test",
                                message_id(), body=("n" * 70 + "\r\n") *
                                45), rcpt_options=["NOTIFY=FAILURE"])
        c.quit()
        for _ in range(100):
            if dsns("bob", b"delayed"):
                break
            time.sleep(0.1)
        got = dsns("bob", b"delayed")
        t.require(len(got) == 1, "bob is warned: %d" % len(got))
        t.expect(b"Subject: Delayed Mail (still being retried)" in got[0]
                 and b"Status: 4." in got[0] and b"quota" in got[0] and
                 b"Will-Retry-Until: " in got[0] and
                 b"text/rfc822-headers" in got[0] and
                 b"w" * 70 not in got[0],
                 "delayed, 4.x.y, until when, headers only: %r" % got[0])
        time.sleep(3)
        t.expect(len(dsns("bob", b"delayed")) == 1, "once, not again")
        t.expect(dsns("alice", b"delayed") == [], "NOTIFY=FAILURE: none")
        t.expect(wait_queue_empty(o, timeout=0.5) is False,
                 "the messages still wait")
        for qid in queue_ids(o):
            o.ctl("queue", "remove", qid)
        t.expect(wait_queue_empty(o), "removed")

    with t.case("osmsctl queue expire: bounced at once, with the last "
                "error"):
        mid = send(mx, "bob@example.test", ["tiny@example.test"],
                   body=("e" * 70 + "\r\n") * 45)
        time.sleep(1)
        ids = queue_ids(o)
        t.require(len(ids) == 1, "queued: %s" % ids)
        p = o.ctl("queue", "expire", ids[0])
        t.expect(p.returncode == 0 and "1 deliveries failed and bounced" in
                 p.stdout, p.stdout + p.stderr)
        t.expect(wait_queue_empty(o), "the message and its bounce are"
                 " gone from the queue")
        for _ in range(50):
            bounces = dsns("bob", b"failed")
            if bounces:
                break
            time.sleep(0.1)
        t.expect(len(bounces) == 1 and b"quota" in bounces[0] and
                 b"tiny@example.test" in bounces[0],
                 "bob has the bounce, which names the quota: %r"
                 % [b[:200] for b in bounces])
        t.expect(box.find("tiny", mid) is None, "not delivered")

    with t.case("an alias loop is refused with 550 5.4.6"):
        s = connect(mx)
        s.sendall(b"EHLO c\r\nMAIL FROM:<a@remote.test>\r\n"
                  b"RCPT TO:<ping@example.test>\r\n")
        lines = read_lines(s, 3)
        t.expect(lines[2].startswith("550 5.4.6"), lines)
        s.close()

# The crash test: a stream of messages while queue and delivery die.
N = int(os.environ.get("OSMS_CRASH_MESSAGES", "1000"))
CLIENTS = 10

with Osms() as o:
    mx = o.ports["smtp"]
    box = Mailboxes(o)
    acked, refused, unanswered = [], [], []
    lock = threading.Lock()
    todo = list(range(N))

    def client():
        while True:
            with lock:
                if not todo:
                    return
                todo.pop()
            mid = message_id()
            # Like an MTA: a 4xx means "not taken, try again later", so
            # the same message is sent again; no answer at all (the
            # queue died during the commit) is not retried, since the
            # message may be on disk already (RFC 1047).
            for attempt in range(50):
                try:
                    c = smtplib.SMTP("127.0.0.1", mx, timeout=30)
                    c.sendmail("load@remote.test", ["alice@example.test"],
                               make_message("load@remote.test",
                                            "alice@example.test", mid))
                    c.quit()
                    with lock:
                        acked.append(mid)
                    break
                except smtplib.SMTPResponseException as e:
                    if 400 <= e.smtp_code < 500:
                        time.sleep(0.1)
                        continue
                    with lock:
                        refused.append(mid)
                    break
                except smtplib.SMTPRecipientsRefused as e:
                    code = list(e.recipients.values())[0][0]
                    if 400 <= code < 500:
                        time.sleep(0.1)
                        continue
                    with lock:
                        refused.append(mid)
                    break
                except (smtplib.SMTPException, OSError):
                    with lock:
                        unanswered.append(mid)
                    break

    with t.case("kill -9 of queue and delivery during %d messages" % N):
        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for th in threads:
            th.start()
        kills = 0
        for role in ("queue", "delivery", "queue", "delivery"):
            time.sleep(random.uniform(0.3, 1.5))
            pid = o.pid(role)
            os.kill(pid, signal.SIGKILL)
            kills += 1
            t.expect(wait_pid_change(o, role, pid) is not None,
                     "%s restarted" % role)
        for th in threads:
            th.join(600)
        t.diag("%d acknowledged, %d refused, %d unanswered, %d kills" %
               (len(acked), len(refused), len(unanswered), kills))
        t.expect(len(acked) + len(refused) + len(unanswered) == N,
                 "every message tried")
        t.expect(not refused, "refused for good: %d" % len(refused))
        # Only a commit in flight when the queue dies goes unanswered.
        t.expect(len(unanswered) <= CLIENTS * 2,
                 "unanswered: %d" % len(unanswered))
        t.require(wait_queue_empty(o, 120), "queue drained")
        ids = box.message_ids("alice")
        counts = {}
        for mid in ids:
            counts[mid] = counts.get(mid, 0) + 1
        lost = [m for m in acked if counts.get(m, 0) == 0]
        dup = [m for m in acked if counts.get(m, 0) > 1]
        t.expect(not lost, "acknowledged but lost: %s" % lost[:5])
        t.expect(not dup, "delivered twice: %s" % dup[:5])
        extra = [m for m in unanswered if counts.get(m, 0) > 1]
        t.expect(not extra, "unacknowledged delivered twice: %s" % extra)
        tmp = os.listdir(os.path.join(o.dir, "spool", "tmp"))
        t.expect(tmp == [], "spool tmp/ empty: %s" % tmp[:5])
        t.expect(os.listdir(os.path.join(box.root, "alice", "tmp")) == [],
                 "Maildir tmp/ empty")

t.done()
