#!/usr/bin/env python3
"""The security catalogue's map: every row has tests, and they exist.

regress/SECURITY-COVERAGE.md maps each row of sections 2 and 4 of the
catalogue (shared/SECURITY.md, outside this repository) to the test
files and case names that show it. This checks that no row is missing
and that every case named is in the file named, so the map cannot
quietly go stale when a case is renamed or removed.
"""
import ast
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from osmstest import *  # noqa: E402,F401,F403

t = Tests(__file__)

MAP = os.path.join(ROOT, "regress", "SECURITY-COVERAGE.md")

# The rows of the catalogue, sections 2 and 4.
ROWS = (["A%d" % i for i in range(1, 12)] +
        ["B%d" % i for i in range(1, 5)] +
        ["C%d" % i for i in range(1, 8)] +
        ["D%d" % i for i in range(1, 7)] +
        ["E%d" % i for i in range(1, 6)] +
        ["F-%d" % i for i in range(1, 4)] +
        ["G%d" % i for i in range(1, 9)] +
        ["H%d" % i for i in range(1, 7)] +
        ["I%d" % i for i in range(1, 5)] +
        ["crash-smtpd", "crash-queue", "crash-delivery", "crash-each-role",
         "power-loss", "disk-full", "maildir-unwritable", "db-down",
         "corrupt-queue", "evil-db", "smuggling", "starttls-injection",
         "plaintext-auth", "tls-floor", "outbound-downgrade", "open-relay",
         "header-injection", "brute-force", "timing", "sql-injection",
         "imap-literals", "mime-bombs", "scanner-bombs", "efail",
         "signature-spoofing", "long-lines", "imsg-garbage", "symlinks",
         "secrets-absent", "seccomp", "least-privilege", "fuzz", "static",
         "interop-after-hardening"])


def python_strings(path):
    """Every string constant of a Python file (concatenations joined)."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    return {n.value for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str)}


C_LITERAL = re.compile(r'"((?:[^"\\\n]|\\.)*)"')


def c_strings(path):
    """Every string literal of a C file, adjacent literals joined."""
    with open(path) as f:
        text = f.read()
    out, last_end, cur = set(), None, None
    for m in C_LITERAL.finditer(text):
        if cur is not None and text[last_end:m.start()].strip() == "":
            cur += m.group(1)
        else:
            if cur is not None:
                out.add(cur)
            cur = m.group(1)
        last_end = m.end()
    if cur is not None:
        out.add(cur)
    return {s.replace('\\"', '"') for s in out}


def named_in(name, strings):
    """A case name is a string of the file, or one made from a format."""
    if name in strings:
        return True
    for s in strings:
        # A format with words of its own: "%s" alone would match anything.
        if "%" in s and len(re.sub(r"%[0-9.]*[dsg]", "", s)) >= 12:
            pat = re.escape(s)
            pat = re.sub(r"%[0-9.\\]*[dsg]", ".+", pat)
            if re.fullmatch(pat, name):
                return True
    return False


def read_map():
    rows = {}
    with open(MAP) as f:
        for line in f:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) != 3 or cells[0] in ("id", "") or \
                    set(cells[0]) <= set("-"):
                continue
            files = [x.strip() for x in cells[1].split(",") if x.strip()]
            names = re.findall(r"`([^`]+)`", cells[2])
            rows.setdefault(cells[0], []).append((files, names))
    return rows


with t.case("every row of the catalogue's sections 2 and 4 is mapped"):
    rows = read_map()
    t.expect(not [r for r in ROWS if r not in rows],
             "rows without tests: %s" % [r for r in ROWS if r not in rows])
    t.expect(not [r for r in rows if r not in ROWS],
             "rows not in the catalogue: %s" %
             [r for r in rows if r not in ROWS])

with t.case("every case the map names exists in the file it names"):
    cache = {}
    missing = []
    for row, entries in sorted(read_map().items()):
        for files, names in entries:
            t.expect(files and names, "%s: no file or no case" % row)
            strings = set()
            for rel in files:
                path = os.path.join(ROOT, rel)
                if not os.path.exists(path):
                    missing.append("%s: no file %s" % (row, rel))
                    continue
                if path not in cache:
                    cache[path] = (python_strings(path)
                                   if path.endswith(".py")
                                   else c_strings(path))
                strings |= cache[path]
            for name in names:
                if not named_in(name, strings):
                    missing.append("%s: %r not in %s" % (row, name,
                                                         ", ".join(files)))
    t.expect(not missing, "\n".join(missing))
