#!/usr/bin/env python3
"""The osms test runner.

    BUILD=build SAN=0 python3 regress/run.py [--dir DIR] [NAME-OR-GLOB...]

Runs, one after the other, every unit test program $BUILD/regress/test-*
and every end-to-end script regress/e2e/test_*.py (with this Python, from
the project root, BUILD and SAN in the environment); with --dir DIR, the
scripts regress/DIR/test_*.py instead (`make check-faults`: --dir
faults). Each program prints "ok - NAME" / "not ok - NAME" lines and "# "
diagnostics; they are counted, and "# summary: " lines are shown even
when the program passes.
A program that exits non-zero without a "not ok" line, dies of a signal,
runs past its timeout (OSMS_TEST_TIMEOUT seconds, default 600) or reports
no test at all counts as one more failure named after the program.

The last line printed is "N passed, N failed"; the exit status is 1 if
anything failed or no test ran.
"""

import fnmatch
import os
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STDERR_TAIL = 40

SAN_UNIT_ENV = {
    "ASAN_OPTIONS": "abort_on_error=1:detect_leaks=1:strict_string_checks=1",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
}


class Program:
    def __init__(self, kind, path, folder="e2e"):
        self.kind = kind            # "unit" or "e2e" (a script)
        self.path = path
        base = os.path.basename(path)
        if kind == "e2e":
            self.name = folder + "/" + base
            self.aliases = {base, base[:-3], self.name, self.name[:-3]}
        else:
            self.name = base
            self.aliases = {base}

    def matches(self, pattern):
        return any(fnmatch.fnmatchcase(a, pattern) for a in self.aliases)


def discover(build, folder=None):
    progs = []
    if folder is not None:
        d = os.path.join(ROOT, "regress", folder)
        for f in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            if fnmatch.fnmatchcase(f, "test_*.py"):
                progs.append(Program("e2e", os.path.join(d, f), folder))
        return progs
    unitdir = os.path.join(build, "regress")
    if os.path.isdir(unitdir):
        for f in sorted(os.listdir(unitdir)):
            p = os.path.join(unitdir, f)
            if (fnmatch.fnmatchcase(f, "test-*") and "." not in f
                    and os.path.isfile(p) and os.access(p, os.X_OK)):
                progs.append(Program("unit", p))
    e2edir = os.path.join(ROOT, "regress", "e2e")
    if os.path.isdir(e2edir):
        for f in sorted(os.listdir(e2edir)):
            if fnmatch.fnmatchcase(f, "test_*.py"):
                progs.append(Program("e2e", os.path.join(e2edir, f)))
    return progs


def signame(sig):
    try:
        return signal.Signals(sig).name
    except ValueError:
        return "signal %d" % sig


def kill_group(pgid, sig):
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def group_members(pgid):
    """Live (non-zombie) processes of a process group, from /proc."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rfind(")") + 2:].split()
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            found.append(int(d))
    return found


def fmt_secs(s):
    return "%.1fs" % s


class Result:
    def __init__(self, prog):
        self.prog = prog
        self.passed = []
        self.failed = []
        self.diag = []          # "not ok" and "# " lines, in order
        self.summary = []       # "# summary: " lines
        self.synthetic = None   # reason for the extra failure, or None
        self.stderr_tail = []
        self.elapsed = 0.0
        self.notes = []


def run_one(prog, build, san, timeout):
    res = Result(prog)
    env = dict(os.environ)
    env["BUILD"] = build
    env["SAN"] = san
    if prog.kind == "unit":
        argv = [prog.path]
        if san == "1":
            env.update(SAN_UNIT_ENV)
    else:
        argv = [sys.executable, prog.path]
        env["PYTHONUNBUFFERED"] = "1"
        env["PYTHONDONTWRITEBYTECODE"] = "1"

    # Output goes to files, not pipes: a stray grandchild holding a pipe
    # open must not hang the runner.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        timed_out = False
        try:
            p = subprocess.Popen(argv, cwd=ROOT, env=env,
                                 stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=err, start_new_session=True)
        except OSError as e:
            res.synthetic = "cannot run: %s" % e
            return res
        try:
            try:
                rc = p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                # SIGTERM first so that the e2e harness can stop its
                # daemons and remove its directories, then SIGKILL.
                kill_group(p.pid, signal.SIGTERM)
                try:
                    rc = p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    kill_group(p.pid, signal.SIGKILL)
                    rc = p.wait()
        except KeyboardInterrupt:
            kill_group(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                kill_group(p.pid, signal.SIGKILL)
                p.wait()
            raise
        res.elapsed = time.monotonic() - t0

        # Whatever the program left behind in its process group goes.
        if group_members(p.pid) and kill_group(p.pid, signal.SIGKILL):
            res.notes.append("# killed processes left behind by %s"
                             % prog.name)

        out.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")

    for line in stdout.splitlines():
        if line.startswith("ok - "):
            res.passed.append(line[5:])
        elif line.startswith("not ok - "):
            res.failed.append(line[9:])
            res.diag.append(line)
        elif line.startswith("#"):
            res.diag.append(line)
            if line.startswith("# summary: "):
                res.summary.append(line)
    res.stderr_tail = stderr.splitlines()[-STDERR_TAIL:]

    if timed_out:
        res.synthetic = "timed out after %gs" % timeout
    elif rc < 0:
        res.synthetic = "killed by %s" % signame(-rc)
    elif rc != 0 and not res.failed:
        res.synthetic = "exit %d without a failed test" % rc
    elif rc == 0 and not res.passed and not res.failed:
        res.synthetic = "no test ran"
    return res


def report(res):
    nfail = len(res.failed) + (1 if res.synthetic else 0)
    parts = ["%d ok" % len(res.passed)]
    if res.failed:
        parts.append("%d not ok" % len(res.failed))
    parts.append(fmt_secs(res.elapsed))
    status = "FAIL" if nfail else "PASS"
    line = "%s %s (%s)" % (status, res.prog.name, ", ".join(parts))
    if res.synthetic:
        line += ": " + res.synthetic
    print(line)
    if not nfail:
        for s in res.summary:
            print("    " + s)
    if nfail:
        for d in res.diag:
            print("    " + d)
        if res.synthetic:
            print("    not ok - %s (%s)" % (res.prog.name, res.synthetic))
        if res.stderr_tail:
            print("    --- stderr (last %d lines)" % len(res.stderr_tail))
            for s in res.stderr_tail:
                print("    | " + s)
    for n in res.notes:
        print("    " + n)
    sys.stdout.flush()
    return len(res.passed), nfail


def main(argv):
    san = os.environ.get("SAN", "0") or "0"
    build = os.environ.get("BUILD") or ("build/san" if san == "1"
                                        else "build")
    try:
        timeout = float(os.environ.get("OSMS_TEST_TIMEOUT", "600"))
    except ValueError:
        print("run.py: bad OSMS_TEST_TIMEOUT", file=sys.stderr)
        return 2
    os.chdir(ROOT)

    folder = None
    if argv and argv[0] == "--dir":
        if len(argv) < 2 or not os.path.isdir(os.path.join(
                ROOT, "regress", argv[1])):
            print("run.py: --dir needs a folder of regress/",
                  file=sys.stderr)
            return 2
        folder, argv = argv[1], argv[2:]
    progs = discover(build, folder)
    passed = failed = 0
    unmatched = []
    if argv:
        chosen = []
        for pat in argv:
            hit = [p for p in progs if p.matches(pat)]
            if not hit:
                unmatched.append(pat)
            for p in hit:
                if p not in chosen:
                    chosen.append(p)
        progs = sorted(chosen, key=progs.index)

    print("# BUILD=%s SAN=%s, %d test programs" % (build, san, len(progs)))
    for pat in unmatched:
        print("FAIL %s: no test program matches" % pat)
        failed += 1
    sys.stdout.flush()
    t0 = time.monotonic()
    for prog in progs:
        np, nf = report(run_one(prog, build, san, timeout))
        passed += np
        failed += nf
    print("# total %s" % fmt_secs(time.monotonic() - t0))
    print("%d passed, %d failed" % (passed, failed))
    sys.stdout.flush()
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
