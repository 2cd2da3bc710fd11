#!/usr/bin/env bash
# scripts/crash-test.sh — the long form of the crash test (tests/api/crash.test.mjs), by hand:
# SIGKILL mpsd at random moments under a money load, many times, on SQLite and/or a throwaway
# PostgreSQL (scripts/pg-throwaway.sh, started and stopped here). CI runs the short form
# (3 kills) as part of scripts/test.sh.
#
#   scripts/crash-test.sh [--kills N] [--store sqlite|postgres|both] [--asan] [--seed S]
#                         [--clients C] [--also-stress]
#
#   --kills N      kills per store (default 25)
#   --store        sqlite (default), postgres or both
#   --asan         run against build-asan/ (AddressSanitizer + UBSan), building it when missing
#   --seed S       MPS_CRASH_SEED: reproduce a run's kill schedule and operation stream
#   --clients C    concurrent clients of the crash test (default 16)
#   --also-stress  run tests/api/stress.test.mjs on each store too
#
# Prints each round (kill moment, acknowledged, unanswered, committed but unanswered) and a
# summary line per store; exits non-zero when any run failed.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1

KILLS=25
STORES=sqlite
BIN=build
SEED=""
CLIENTS=16
STRESS=0
while [ $# -gt 0 ]; do
  case "$1" in
    --kills) KILLS="$2"; shift 2 ;;
    --store) STORES="$2"; shift 2 ;;
    --asan) BIN=build-asan; shift ;;
    --seed) SEED="$2"; shift 2 ;;
    --clients) CLIENTS="$2"; shift 2 ;;
    --also-stress) STRESS=1; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "crash-test.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$STORES" in
  sqlite|postgres) LIST=("$STORES") ;;
  both) LIST=(sqlite postgres) ;;
  *) echo "crash-test.sh: --store must be sqlite, postgres or both" >&2; exit 2 ;;
esac

if [ "$BIN" = build-asan ]; then
  [ -f build-asan/build.ninja ] || meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false || exit 1
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
else
  [ -f build/build.ninja ] || meson setup build || exit 1
fi
ninja -C "$BIN" || exit 1

PGDIR=""
PG_ADMIN_URL=""
cleanup() {
  if [ -n "$PGDIR" ]; then
    scripts/pg-throwaway.sh stop "$PGDIR" >/dev/null 2>&1 || true
    rm -rf "$PGDIR"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ " ${LIST[*]} " == *" postgres "* ]]; then
  PGDIR="$(mktemp -d "${TMPDIR:-/tmp}/mps-crash-pg.XXXXXX")"
  chmod 0755 "$PGDIR"
  PG_ADMIN_URL="$(scripts/pg-throwaway.sh start "$PGDIR")" || { echo "crash-test.sh: PostgreSQL did not start" >&2; exit 1; }
  echo "PostgreSQL at $PG_ADMIN_URL"
fi

FAILED=0
for store in "${LIST[@]}"; do
  files=(tests/api/crash.test.mjs)
  [ "$STRESS" = 1 ] && files+=(tests/api/stress.test.mjs)
  for f in "${files[@]}"; do
    what="$KILLS kills, $CLIENTS clients"
    [ "$f" = tests/api/stress.test.mjs ] && what="no kills"
    echo "=== $f on $store ($BIN, $what)"
    t0=$(date +%s)
    if ! env MPS_BIN_DIR="$BIN" MPS_TEST_STORE="$store" MPS_TEST_PG_ADMIN_URL="$PG_ADMIN_URL" \
        MPS_CRASH_KILLS="$KILLS" MPS_CRASH_CONCURRENCY="$CLIENTS" ${SEED:+MPS_CRASH_SEED="$SEED"} \
        node --test --test-reporter=spec "$f"; then
      FAILED=1
    fi
    echo "=== $f on $store: $(( $(date +%s) - t0 ))s"
  done
done
exit "$FAILED"
