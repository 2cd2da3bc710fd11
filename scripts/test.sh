#!/usr/bin/env bash
# scripts/test.sh — THE test command. Builds mps, then runs every test pass:
#
#   unit (build)            meson test --suite unit  (cmocka, TAP)       build/
#   api sqlite (build)      node --test tests/api    MPS_TEST_STORE=sqlite
#   api postgres (build)    node --test tests/api    MPS_TEST_STORE=postgres
#   the same three against build-asan/ (AddressSanitizer + UBSan)
#   bench smoke (build)     bench/run.sh --smoke: the benchmark still runs (not a timing)
#   pg shapes smoke (build) bench/pg_shapes.sh on a small seeded database: its statements
#                           still fit the schema (not a timing)
#   fuzz (build-fuzz)       each libFuzzer target of tests/fuzz for a short fixed time
#
# A throwaway PostgreSQL cluster (scripts/pg-throwaway.sh) lives for the run in a temp dir.
# On a clean checkout without build/build.ninja it runs scripts/setup.sh first.
#
# Environment:
#   MPS_TEST_SKIP_ASAN=1   skip the sanitizer build and its passes
#   MPS_TEST_SKIP_PG=1     skip everything that needs PostgreSQL
#   MPS_TEST_FILTER=REGEX  only API test files whose path matches REGEX
#   MPS_TEST_SKIP_BENCH=1  skip the benchmark smoke run and the pg shapes smoke
#   MPS_TEST_PASS_TIMEOUT  seconds one pass may take before it is killed (default 600)
#   MPS_TEST_SKIP_FUZZ=1   skip the fuzz build (clang) and its pass
#   MPS_TEST_FUZZ_SECONDS  seconds each fuzz target runs (default 25)
#
# The last line of output is always "N passed, N failed" (totals over all passes). The exit
# status is non-zero when anything failed; a step that crashed or failed to build counts
# as at least one failure. One failing pass never stops the others.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1

START_TS=$(date +%s)
TOTAL_PASS=0
TOTAL_FAIL=0
SUMMARY=()
WORK="$(mktemp -d "${TMPDIR:-/tmp}/mps-test.XXXXXX")"
PGDIR=""
PG_ADMIN_URL=""
PASS_TIMEOUT="${MPS_TEST_PASS_TIMEOUT:-600}"

say() { printf '\n=== %s\n' "$*"; }

finish() {
  local rc=$?
  if [ -n "$PGDIR" ]; then
    scripts/pg-throwaway.sh stop "$PGDIR" >/dev/null 2>&1 || true
    rm -rf "$PGDIR"
  fi
  rm -rf "$WORK"
  return $rc
}
trap finish EXIT
trap 'echo "test.sh: interrupted" >&2; exit 130' INT TERM

# record NAME PASSED FAILED [NOTE]
record() {
  local name="$1" p="$2" f="$3" note="${4:-}"
  TOTAL_PASS=$((TOTAL_PASS + p))
  TOTAL_FAIL=$((TOTAL_FAIL + f))
  SUMMARY+=("$(printf '  %-28s %5d passed, %3d failed%s' "$name" "$p" "$f" "${note:+  ($note)}")")
}

# last integer after a label in a file, 0 when absent
count_after() {
  local label="$1" file="$2" v
  v=$(grep -E "^[[:space:]]*${label}[[:space:]]+[0-9]+" "$file" | tail -n 1 | grep -oE '[0-9]+' | tail -n 1)
  echo "${v:-0}"
}

elapsed() { echo "$(( $(date +%s) - $1 ))s"; }

# ------------------------------------------------------------------------------ build
say "build"
echo "$(uname -sm); node $(node --version 2>/dev/null || echo missing); meson $(meson --version 2>/dev/null || echo missing); CI=${CI:-}"
if [ ! -f build/build.ninja ]; then
  echo "build/build.ninja missing: running scripts/setup.sh"
  if ! scripts/setup.sh; then
    echo "test.sh: scripts/setup.sh failed" >&2
    # when build.ninja exists the ninja step below records the failure
    [ -f build/build.ninja ] || record "setup (build)" 0 1 "scripts/setup.sh failed"
  fi
fi
BUILD_OK=0
if [ -f build/build.ninja ]; then
  if ninja -C build; then BUILD_OK=1; else record "build (build)" 0 1 "ninja failed"; fi
fi

ASAN_OK=0
if [ "${MPS_TEST_SKIP_ASAN:-0}" != "1" ]; then
  say "build-asan"
  if [ ! -f build-asan/build.ninja ]; then
    rm -rf build-asan
    meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false || true
  fi
  if [ -f build-asan/build.ninja ] && ninja -C build-asan; then
    ASAN_OK=1
  else
    record "build (build-asan)" 0 1 "sanitizer build failed"
  fi
fi

# ------------------------------------------------------------------------------ postgres
if [ "${MPS_TEST_SKIP_PG:-0}" != "1" ]; then
  say "throwaway PostgreSQL"
  PGDIR="$(mktemp -d "${TMPDIR:-/tmp}/mps-pg.XXXXXX")"
  chmod 0755 "$PGDIR"
  if PG_ADMIN_URL="$(scripts/pg-throwaway.sh start "$PGDIR")"; then
    echo "PostgreSQL at $PG_ADMIN_URL"
  else
    PG_ADMIN_URL=""
    record "postgres start" 0 1 "pg-throwaway.sh start failed"
  fi
fi

new_pg_db() {
  # prints the URL of a fresh database, or nothing
  [ -n "$PG_ADMIN_URL" ] || return 0
  local name="unit_$(date +%s)_$RANDOM$RANDOM"
  if psql "$PG_ADMIN_URL" -v ON_ERROR_STOP=1 -qAt -c "CREATE DATABASE $name" >/dev/null; then
    echo "${PG_ADMIN_URL%/postgres}/$name"
  fi
}

# ------------------------------------------------------------------------------ passes
# Count unit results from meson's JSON test log (one object per test): a TAP test counts
# each "ok"/"not ok" line (SKIP/TODO lines are not counted as passed or failed), plus one
# failure when the executable itself failed (crash, bad plan) without a failing line; an
# exit-code test counts once. Prints "PASSED FAILED SKIPPED".
count_meson_json() {
  node -e '
    const fs = require("fs");
    let p = 0, f = 0, s = 0;
    for (const line of fs.readFileSync(process.argv[1], "utf8").split("\n")) {
      if (!line.trim()) continue;
      let t; try { t = JSON.parse(line); } catch { continue; }
      const bad = ["FAIL", "ERROR", "TIMEOUT", "UNEXPECTEDPASS"].includes(t.result);
      const out = (t.stdout || "").split("\n");
      const tap = out.some((l) => /^(not )?ok\b/.test(l) || /^1\.\.\d+/.test(l));
      if (tap) {
        let tp = 0, tf = 0;
        for (const l of out) {
          const m = /^(not )?ok\b/.exec(l);
          if (!m) continue;
          const directive = /#\s*(skip|todo)/i.exec(l);
          if (directive) { if (/skip/i.test(directive[1])) s++; continue; }
          if (m[1]) tf++; else tp++;
        }
        if (bad && tf === 0) tf = 1;
        p += tp; f += tf;
      } else if (t.result === "OK" || t.result === "EXPECTEDFAIL") p++;
      else if (t.result === "SKIP") s++;
      else f++;
    }
    console.log(p, f, s);
  ' "$1"
}

# unit_pass BUILDDIR
unit_pass() {
  local dir="$1" name="unit ($1)" log="$WORK/unit-$1.log" t0 rc
  local jlog="$dir/meson-logs/mps-test-sh.json"
  t0=$(date +%s)
  say "$name"
  local pgurl
  pgurl="$(new_pg_db)"
  rm -f "$jlog"
  env "${SAN_ENV[@]}" CMOCKA_MESSAGE_OUTPUT=TAP MPS_TEST_PG_URL="$pgurl" \
    timeout "$PASS_TIMEOUT" meson test -C "$dir" --suite unit --print-errorlogs --num-processes 2 \
    --logbase mps-test-sh 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  if grep -q 'No suitable tests defined' "$log" && [ "$rc" -eq 0 ]; then
    record "$name" 0 0 "no unit tests, $(elapsed "$t0")"
    return
  fi
  local p f skip note
  if [ -s "$jlog" ] && read -r p f skip < <(count_meson_json "$jlog") && [ -n "${skip:-}" ]; then
    :
  else
    # fallback: meson's summary lines (one count per test executable)
    p=$(( $(count_after 'Ok:' "$log") + $(count_after 'Expected Fail:' "$log") ))
    f=$(( $(count_after 'Fail:' "$log") + $(count_after 'Unexpected Pass:' "$log") + $(count_after 'Timeout:' "$log") ))
    skip=$(count_after 'Skipped:' "$log")
  fi
  note="$(elapsed "$t0")"
  [ "$skip" -gt 0 ] && note="$skip skipped, $note"
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    f=1
    note="meson test exited $rc, $note"
  fi
  record "$name" "$p" "$f" "$note"
}

# api_pass BUILDDIR STORE
api_pass() {
  local dir="$1" store="$2" name="api $2 ($1)" log="$WORK/api-$1-$2.log" t0 rc
  t0=$(date +%s)
  say "$name"
  if [ "$store" = postgres ] && [ -z "$PG_ADMIN_URL" ]; then
    record "$name" 0 1 "no PostgreSQL"
    return
  fi
  local files=()
  while IFS= read -r f; do
    if [ -z "${MPS_TEST_FILTER:-}" ] || [[ "$f" =~ ${MPS_TEST_FILTER} ]]; then files+=("$f"); fi
  done < <(find tests/api -name '*.test.mjs' -not -path '*/node_modules/*' | sort)
  if [ "${#files[@]}" -eq 0 ]; then
    record "$name" 0 0 "no API test files"
    return
  fi
  local reporter=()
  if node --help 2>/dev/null | grep -q -- '--test-reporter'; then reporter=(--test-reporter=tap); fi
  # a hung test fails alone instead of eating the whole pass (node >= 20.11)
  if node --help 2>/dev/null | grep -q -- '--test-timeout'; then reporter+=(--test-timeout=120000); fi
  env "${SAN_ENV[@]}" MPS_BIN_DIR="$dir" MPS_TEST_STORE="$store" MPS_TEST_PG_ADMIN_URL="$PG_ADMIN_URL" \
    timeout "$PASS_TIMEOUT" node --test "${reporter[@]}" "${files[@]}" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  local p f c
  p=$(grep -E '^# pass [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+$')
  f=$(grep -E '^# fail [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+$')
  c=$(grep -E '^# cancelled [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+$')
  p=${p:-0}
  f=$(( ${f:-0} + ${c:-0} ))
  local note
  note="$(elapsed "$t0")"
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    f=1
    note="node --test exited $rc, $note"
  fi
  record "$name" "$p" "$f" "$note"
}

# The benchmark in its CI form (bench/README.md): SQLite, 2 s per workload, 8 connections; it
# fails on any error, zero throughput or books that do not verify. A smoke run, not a timing.
bench_pass() {
  local name="bench smoke (build)" log="$WORK/bench-smoke.log" t0
  t0=$(date +%s)
  say "$name"
  if timeout "$PASS_TIMEOUT" bench/run.sh --smoke --build-dir build >"$log" 2>&1; then
    tail -n 12 "$log"
    record "$name" 1 0 "$(elapsed "$t0")"
  else
    tail -n 40 "$log"
    record "$name" 0 1 "bench/run.sh --smoke failed, $(elapsed "$t0")"
  fi
}

# bench/pg_shapes.sh hand-writes a payment's statements against the schema; a migration that
# changes a table they write breaks it. Each shape must run without a failed transaction.
pg_shapes_pass() {
  local name="pg shapes smoke (build)" log="$WORK/pg-shapes.log" out="$WORK/pg-shapes.jsonl" url t0 lines bad
  [ -n "$PG_ADMIN_URL" ] || return 0
  t0=$(date +%s)
  say "$name"
  url="$(new_pg_db)"
  mkdir -p "$WORK/pg-shapes-seed"
  if [ -z "$url" ] || ! env -u MPS_DB_URL build/bench/seed --db-url "$url" --out "$WORK/pg-shapes-seed" --members 20 >"$log" 2>&1 ||
     ! timeout "$PASS_TIMEOUT" bench/pg_shapes.sh "$url" --batches "1 4" --clients 2 --threads 1 --duration 1 >"$out" 2>>"$log"; then
    tail -n 20 "$log"
    record "$name" 0 1 "seed or bench/pg_shapes.sh failed, $(elapsed "$t0")"
    return
  fi
  cat "$out"
  lines="$(grep -c '"workload":"pg-shape"' "$out" || true)"
  bad="$(grep -v '"errors":0,' "$out" | grep -c . || true)"
  if [ "$lines" = 8 ] && [ "$bad" = 0 ] && ! grep -q '"rps":0.0,' "$out"; then
    record "$name" 1 0 "$(elapsed "$t0")"
  else
    record "$name" 0 1 "$lines of 8 shape runs ran, $bad with failed transactions or none, $(elapsed "$t0")"
  fi
}

run_passes() {
  local dir="$1"
  unit_pass "$dir"
  api_pass "$dir" sqlite
  if [ "${MPS_TEST_SKIP_PG:-0}" != "1" ]; then api_pass "$dir" postgres; fi
}

SAN_ENV=()
if [ "$BUILD_OK" = 1 ]; then
  run_passes build
  if [ "${MPS_TEST_SKIP_BENCH:-0}" != "1" ]; then bench_pass; pg_shapes_pass; fi
fi
if [ "$ASAN_OK" = 1 ]; then
  SAN_ENV=(ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1)
  run_passes build-asan
fi

# ------------------------------------------------------------------------------ fuzz
# Every target of tests/fuzz (one corpus/<name>/ each) runs for MPS_TEST_FUZZ_SECONDS over a
# copy of its seed corpus in $WORK, so new inputs never land in the repository. One count
# per target; a crash, sanitizer report or failed property fails it, and its reproducer is
# kept in build-fuzz/crashes/ (see tests/fuzz/README.md for turning it into a test).
fuzz_pass() {
  local secs="${MPS_TEST_FUZZ_SECONDS:-25}" crashes="$ROOT/build-fuzz/crashes"
  say "fuzz (build-fuzz, ${secs}s per target)"
  if ! command -v clang >/dev/null 2>&1; then
    record "fuzz (build-fuzz)" 0 1 "clang missing: scripts/setup.sh"
    return
  fi
  if [ ! -f build-fuzz/build.ninja ]; then
    rm -rf build-fuzz
    CC=clang meson setup build-fuzz -Dfuzz=true || true
  fi
  if [ ! -f build-fuzz/build.ninja ] || ! ninja -C build-fuzz fuzz; then
    record "fuzz (build-fuzz)" 0 1 "fuzz build failed"
    return
  fi
  mkdir -p "$crashes"
  local dir name bin run log t0 rc runs artifact
  for dir in tests/fuzz/corpus/*/; do
    name="$(basename "$dir")"
    bin="build-fuzz/tests/fuzz/fuzz_$name"
    run="$WORK/fuzz-$name"
    log="$run/log"
    t0=$(date +%s)
    say "fuzz $name"
    if [ ! -x "$bin" ]; then
      record "fuzz $name" 0 1 "no $bin"
      continue
    fi
    mkdir -p "$run/corpus"
    cp -- "$dir"* "$run/corpus/"
    local dict=()
    if [ -f "tests/fuzz/$name.dict" ]; then dict=(-dict="tests/fuzz/$name.dict"); fi
    timeout $((secs + 60)) "$bin" -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 -max_len=4096 \
      -print_final_stats=1 "${dict[@]}" -artifact_prefix="$crashes/$name-" "$run/corpus" >"$log" 2>&1
    rc=$?
    runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -n 1)
    if [ "$rc" -eq 0 ]; then
      tail -n 3 "$log"
      record "fuzz $name" 1 0 "${runs:-?} runs, $(elapsed "$t0")"
    else
      artifact=$(grep -oE 'Test unit written to [^ ]+' "$log" | tail -n 1 | sed 's/^Test unit written to //')
      tail -n 60 "$log"
      echo "fuzz $name FAILED (exit $rc); reproducer: ${artifact:-none written}"
      [ -n "$artifact" ] && echo "  run it again: $bin $artifact   (or build/tests/fuzz/replay_$name $artifact)"
      record "fuzz $name" 0 1 "exit $rc, reproducer ${artifact:-none}"
    fi
  done
}

if [ "${MPS_TEST_SKIP_FUZZ:-0}" != "1" ]; then
  fuzz_pass
fi

# ------------------------------------------------------------------------------ summary
say "summary ($(elapsed "$START_TS"))"
for line in "${SUMMARY[@]}"; do echo "$line"; done
echo "$TOTAL_PASS passed, $TOTAL_FAIL failed"
[ "$TOTAL_FAIL" -eq 0 ]
