#!/usr/bin/env bash
# bench/instructions.sh — instructions per payment on the SQLite writer thread, counted by
# valgrind's callgrind (repeatable for a given binary and input, whatever else the machine
# does; the timed benchmark on a shared 2-core VM moves by 10-20% from run to run).
#
#   bench/instructions.sh [--build-dir build] [--seconds 15] [--members 1000]
#
# Seeds a fresh SQLite store (bench/seed), runs the in-process storage limit for 2 s to create
# every member's accounts, then again under callgrind, collecting only inside the writer
# thread (writer_main). Prints the instructions per payment in the writer and in the main
# parts of the payment (inclusive). Needs valgrind; bench/run.sh builds the bench tools first.
# Environment: XENV="NAME=value ..." runs the counted storage limit with those variables (an
# A/B of a setting); KEEP_CG=FILE keeps callgrind's output there (for callgrind_annotate).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="$REPO/build" SECONDS_RUN=15 MEMBERS=1000
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) BUILD_DIR="$(cd "$2" && pwd)"; shift 2 ;;
    --seconds) SECONDS_RUN="$2"; shift 2 ;;
    --members) MEMBERS="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "instructions.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
command -v valgrind >/dev/null || { echo "instructions.sh: valgrind is not installed" >&2; exit 1; }
BIN="$BUILD_DIR/bench"
[ -x "$BIN/storage_limit" ] && [ -x "$BIN/seed" ] || { echo "instructions.sh: run bench/run.sh --smoke first (it builds $BIN)" >&2; exit 1; }
TMP="$(mktemp -d /tmp/mps-instr.XXXXXX)"
trap '[ -n "${KEEP_CG:-}" ] && cp "$TMP/cg.out" "$KEEP_CG"; rm -rf "$TMP"' EXIT
"$BIN/seed" --db-url "sqlite:$TMP/mps.db" --out "$TMP" --members "$MEMBERS" >/dev/null
"$BIN/storage_limit" --db-url "sqlite:$TMP/mps.db" --seed "$TMP" --duration 2 --concurrency 64 --store sqlite >/dev/null
env ${XENV:-} valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.out" --toggle-collect=writer_main \
  "$BIN/storage_limit" --db-url "sqlite:$TMP/mps.db" --seed "$TMP" --duration "$SECONDS_RUN" \
  --concurrency 64 --store sqlite >/dev/null 2>"$TMP/valgrind.log"
callgrind_annotate --tree=calling "$TMP/cg.out" >"$TMP/calling.txt" 2>/dev/null
calls="$(grep -oE 'payments\.c:payment_create \([0-9,]+x\)' "$TMP/calling.txt" | head -n 1 | grep -oE '[0-9,]+x' | tr -d ',x' || true)"
[ -n "$calls" ] && [ "$calls" -gt 0 ] || { echo "instructions.sh: no payments were counted" >&2; exit 1; }
echo "payments in the writer: $calls (callgrind, $SECONDS_RUN s, 64 outstanding, $MEMBERS members)"
echo "instructions per payment (inclusive):"
callgrind_annotate --inclusive=yes "$TMP/cg.out" >"$TMP/inclusive.txt" 2>/dev/null
awk -v n="$calls" '
  /:writer_main \[|:payment_create \[|:record_state \[|:audit_append \[|:post_payment \[|:pay_accounts_load \[|:idem_complete \[|:idem_claim \[|:db_commit \[|:money_ctx_load \[/ {
    ir = $1; gsub(",", "", ir); fn = $(NF-1); sub(/.*:/, "", fn)
    if (!(fn in seen)) { seen[fn] = 1; printf "%10d  %s\n", ir / n, fn } }' "$TMP/inclusive.txt"
