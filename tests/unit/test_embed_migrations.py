#!/usr/bin/env python3
"""test_embed_migrations.py — scripts/embed_migrations.py accepts matching, contiguous
migrations (escaping every byte into valid C) and fails the build on gaps, duplicates,
bad names, dialect mismatch, empty files and transaction control.

Usage: test_embed_migrations.py SCRIPT [CC...]  (the C compiler command, to compile and
run what it generates)
Python 3 standard library only; prints TAP."""

import os
import subprocess
import sys
import tempfile

SCRIPT = sys.argv[1]
CC = sys.argv[2:]
INCLUDE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src")
results = []


def run(files):
    """Write {dialect/name: text} into a fresh tree and run the generator."""
    with tempfile.TemporaryDirectory() as d:
        for dialect in ("sqlite", "postgres"):
            os.makedirs(os.path.join(d, dialect))
        for rel, text in files.items():
            with open(os.path.join(d, rel), "wb") as f:
                f.write(text if isinstance(text, bytes) else text.encode())
        out = os.path.join(d, "gen.c")
        p = subprocess.run([sys.executable, SCRIPT, "--sqlite", os.path.join(d, "sqlite"),
                            "--postgres", os.path.join(d, "postgres"), "--output", out,
                            "--depfile", out + ".d"], capture_output=True, text=True)
        embedded = None
        if p.returncode == 0 and CC:
            embedded = compile_and_dump(d, out)
        return p.returncode, p.stderr, embedded


DUMP_C = r"""
#include <stdio.h>
#include <string.h>
#include "store/migrate.h"
int main(int argc, char **argv) {
  (void)argc;
  size_t n = 0;
  const struct migration *m = migrations_for(argv[1][0] == 's' ? DB_SQLITE : DB_POSTGRES, &n);
  for (size_t i = 0; i < n; i++) fwrite(m[i].sql, 1, strlen(m[i].sql), stdout);
  return 0;
}
"""


def compile_and_dump(d, gen):
    """Compile gen with a main printing every sqlite migration's text; the bytes or None."""
    main_c = os.path.join(d, "dump.c")
    with open(main_c, "w") as f:
        f.write(DUMP_C)
    exe = os.path.join(d, "dump")
    c = subprocess.run([*CC, "-std=c17", "-Wall", "-Wextra", "-Werror", "-I", INCLUDE, gen,
                        main_c, "-o", exe], capture_output=True, text=True)
    if c.returncode != 0:
        sys.stderr.write(c.stderr)
        return None
    return subprocess.run([exe, "s"], capture_output=True).stdout


def check(name, ok):
    results.append((name, ok))


def both(name, text):
    return {f"sqlite/{name}": text, f"postgres/{name}": text}


def main():
    good = {**both("0001_one.sql", "CREATE TABLE a (x INTEGER);\n"),
            **both("0002_two.sql", b"-- \"q\" \\ ??= \t \xc3\xa9\nSELECT '?';")}
    rc, err, embedded = run(good)
    check("good migrations generate", rc == 0)
    if CC:
        want = b"".join(t if isinstance(t, bytes) else t.encode()
                        for k, t in sorted(good.items()) if k.startswith("sqlite/"))
        check("generated C compiles and embeds the exact bytes", embedded == want)

    gap = {**both("0001_one.sql", "SELECT 1;"), **both("0003_three.sql", "SELECT 1;")}
    rc, err, _ = run(gap)
    check("a gap in versions fails", rc == 1 and "contiguous" in err)

    dup = {**both("0001_one.sql", "SELECT 1;"), **both("0001_uno.sql", "SELECT 1;")}
    check("a duplicate version fails", run(dup)[0] == 1)

    zero = both("0000_zero.sql", "SELECT 1;")
    check("versions start at 1", run(zero)[0] == 1)

    rc, err, _ = run({**both("0001_one.sql", "SELECT 1;"), "sqlite/0002_two.sql": "SELECT 2;"})
    check("a migration missing in one dialect fails", rc == 1 and "differ" in err)

    rc, err, _ = run({"sqlite/0001_one.sql": "SELECT 1;", "postgres/0001_uno.sql": "SELECT 1;"})
    check("different names fail", rc == 1 and "differ" in err)

    check("a bad file name fails", run({**both("0001_one.sql", "SELECT 1;"),
                                        "sqlite/1_bad.sql": "SELECT 1;"})[0] == 1)
    check("an empty migration fails", run(both("0001_one.sql", "  \n"))[0] == 1)
    txn = both("0001_one.sql", "BEGIN;\nSELECT 1;\nCOMMIT;\n")
    check("transaction control fails", run(txn)[0] == 1)
    check("no migrations fails", run({})[0] == 1)

    print(f"1..{len(results)}")
    for i, (name, ok) in enumerate(results, 1):
        print(f"{'ok' if ok else 'not ok'} {i} - {name}")
    return 0 if all(ok for _, ok in results) else 1


if __name__ == "__main__":
    sys.exit(main())
