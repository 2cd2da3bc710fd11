#!/usr/bin/env bash
# bench/run.sh — the mps benchmark, one command (bench/README.md explains the output).
#
#   bench/run.sh [--store sqlite|postgres|both] [--duration 10] [--connections 64]
#                [--members 1000] [--threads 2] [--warmup 2] [--build-dir DIR]
#                [--tool wrk|loadgen] [--profile] [--keep] [--no-analyze] [--pg-tcp] [--pgbench]
#                [--pg-shapes] [--smoke]
#
# Per store: a fresh store (SQLite in a temp dir, or a throwaway PostgreSQL cluster from
# scripts/pg-throwaway.sh), seeded through the services by bench/seed.c; then
#   storage limit   bench/storage_limit.c: the payment transaction on the store executor, in
#                   process, --connections jobs outstanding (mpsd is not running)
#   (a) pay         mpsd + wrk -s bench/pay.lua: POST /api/payment/verify, PAID at once
#   (b) ext         mpsd + bench/loadgen --mode ext: external payment (202) + signed callback
#   (c) read        mpsd + wrk -s bench/reads.lua: quote, wallet, transaction list
# then mpsd stops and `mpsctl verify` checks the books. On PostgreSQL every step starts
# with ANALYZE (what autovacuum does on a running server; a 10 s burst outruns its 1 min
# naptime and the planner would work from no statistics); --no-analyze leaves it out. mpsd and
# the tools reach PostgreSQL over its unix socket, as on one host they should (TCP on loopback
# costs a payment a tenth more CPU); --pg-tcp connects over 127.0.0.1 instead. Prints a table, writes
# bench/results/<UTC timestamp>.json. --profile records mpsd with perf during (a) on SQLite.
# --pgbench: after the PostgreSQL workloads, PostgreSQL's own yardstick on the same cluster:
# pgbench's TPC-B-like transaction (-M prepared, scale = --connections, so no two clients
# share a branch row), --connections clients for --duration seconds; (a) is printed as a share.
# --pg-shapes: then bench/pg_shapes.sh on a copy of the benchmark's database: a wallet payment's
# statements one row at a time, K payments' pipelines merged, merged into one statement, and
# K payments a statement, K = 1, 8, 32.
# --smoke: 2 s per workload, 8 connections, 20 members, SQLite only, no warm-up; exits 1
# when any workload had an error or no throughput, or the books do not verify.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STORE=both DURATION=10 CONNS=64 MEMBERS=1000 THREADS=2 WARMUP=2 BUILD_DIR="$REPO/build"
TOOL=auto PROFILE=0 KEEP=0 SMOKE=0 ANALYZE=1 PG_TCP=0 PGBENCH=0 PGSHAPES=0
JWT_SECRET="bench-jwt-secret-0123456789abcdef0123456789abcdef"
CALLBACK_SECRET="bench-callback-secret-0123456789"

usage() { sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --store) STORE="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --connections) CONNS="$2"; shift 2 ;;
    --members) MEMBERS="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --build-dir) BUILD_DIR="$(mkdir -p "$2" && cd "$2" && pwd)"; shift 2 ;;
    --tool) TOOL="$2"; shift 2 ;;
    --profile) PROFILE=1; shift ;;
    --keep) KEEP=1; shift ;;
    --no-analyze) ANALYZE=0; shift ;;
    --pg-tcp) PG_TCP=1; shift ;;
    --pgbench) PGBENCH=1; shift ;;
    --pg-shapes) PGSHAPES=1; shift ;;
    --smoke) SMOKE=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "bench/run.sh: unknown option $1" >&2; usage 2 ;;
  esac
done
if [ "$SMOKE" = 1 ]; then STORE=sqlite DURATION=2 CONNS=8 MEMBERS=20 WARMUP=0 PGBENCH=0 PGSHAPES=0; fi
case "$STORE" in sqlite) STORES=(sqlite) ;; postgres) STORES=(postgres) ;; both) STORES=(sqlite postgres) ;;
  *) echo "bench/run.sh: --store sqlite|postgres|both" >&2; exit 2 ;; esac
[ "$THREADS" -le "$CONNS" ] || THREADS="$CONNS"
if [ "$TOOL" = auto ]; then
  if command -v wrk >/dev/null 2>&1; then TOOL=wrk; else
    TOOL=loadgen; echo "bench: wrk is not installed (apt-get install wrk): bench/loadgen drives (a) and (c)" >&2; fi
fi

say() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- build
build() {
  if [ ! -f "$BUILD_DIR/build.ninja" ]; then
    say "configuring $BUILD_DIR (meson, debugoptimized like build/)"
    meson setup "$BUILD_DIR" "$REPO" --buildtype=debugoptimized >&2
  fi
  ninja -C "$BUILD_DIR" mpsd mpsctl libmpscore.a >&2 || die "ninja -C $BUILD_DIR failed"
  BIN="$BUILD_DIR/bench"
  mkdir -p "$BIN"
  local cflags=(-std=c17 -O2 -g -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter) san
  # a sanitizer build (--build-dir build-asan) needs the same -fsanitize flags to link
  san="$(grep -o -- '-fsanitize=[a-z,]*' "$BUILD_DIR/build.ninja" | sort -u | tr '\n' ' ' || true)"
  # shellcheck disable=SC2206
  [ -z "$san" ] || cflags+=($san)
  local core_libs
  core_libs="$(pkg-config --cflags --libs libmicrohttpd jansson libjwt libsodium libcrypto sqlite3 libpq)"
  local t
  for t in seed storage_limit; do
    if [ ! -x "$BIN/$t" ] || [ "$REPO/bench/$t.c" -nt "$BIN/$t" ] || [ "$REPO/bench/bench_common.c" -nt "$BIN/$t" ] ||
       [ "$REPO/bench/bench_common.h" -nt "$BIN/$t" ] || [ "$BUILD_DIR/libmpscore.a" -nt "$BIN/$t" ]; then
      # shellcheck disable=SC2086
      cc "${cflags[@]}" -I"$REPO/src" -I"$BUILD_DIR" -o "$BIN/$t" "$REPO/bench/$t.c" "$REPO/bench/bench_common.c" \
        "$BUILD_DIR/libmpscore.a" $core_libs -lpthread -lm || die "cannot build bench/$t.c"
    fi
  done
  if [ ! -x "$BIN/loadgen" ] || [ "$REPO/bench/loadgen.c" -nt "$BIN/loadgen" ]; then
    # shellcheck disable=SC2046
    cc "${cflags[@]}" -o "$BIN/loadgen" "$REPO/bench/loadgen.c" $(pkg-config --cflags --libs libsodium jansson) \
      -lpthread || die "cannot build bench/loadgen.c"
  fi
}

# ---------------------------------------------------------------- helpers
# A JSON field of a flat one-line object: jget KEY LINE
jget() { printf '%s\n' "$2" | sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"}]*\)\"\{0,1\}[,}].*/\1/p" | head -n1; }

free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
  else
    node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
  fi
}

# The environment of every child: ours without MPS_* (a developer's shell must not leak in).
UNSET_MPS=()
for v in $(compgen -e); do case "$v" in MPS_*) UNSET_MPS+=(-u "$v") ;; esac; done
clean_env() { env "${UNSET_MPS[@]}" "$@"; }

TMP="$(mktemp -d /tmp/mps-bench.XXXXXX)"
PG_DIR="" MPSD_PID="" PERF_PID=""
cleanup() {
  if [ -n "$PERF_PID" ]; then kill -INT "$PERF_PID" 2>/dev/null || true; fi
  if [ -n "$MPSD_PID" ]; then kill -TERM "$MPSD_PID" 2>/dev/null || true; wait "$MPSD_PID" 2>/dev/null || true; fi
  if [ -n "$PG_DIR" ]; then "$REPO/scripts/pg-throwaway.sh" stop "$PG_DIR" >/dev/null 2>&1 || true; fi
  if [ "$KEEP" = 1 ]; then say "kept $TMP ${PG_DIR:+and $PG_DIR}"; else rm -rf "$TMP" ${PG_DIR:+"$PG_DIR"}; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ROWS="$TMP/rows.jsonl"
: >"$ROWS"
NONCE="$(date +%s)$$"

add_row() { # add_row STORE JSON_LINE — tag with the store and keep
  local line="$2"
  case "$line" in *'"store":""'*) line="${line/\"store\":\"\"/\"store\":\"$1\"}" ;; esac
  printf '%s\n' "$line" >>"$ROWS"
}

start_mpsd() { # start_mpsd STORE_DIR DB_URL
  PORT="$(free_port)"
  mkdir -p "$1/data"
  # env execs mpsd, so $! is mpsd itself (a function or subshell here would leave it orphaned)
  env "${UNSET_MPS[@]}" MPS_LISTEN_ADDR=127.0.0.1 MPS_PORT="$PORT" MPS_DATA_DIR="$1/data" MPS_DB_URL="$2" \
    MPS_LOG_LEVEL=warn MPS_JWT_SECRET="$JWT_SECRET" MPS_PAYMENT_CALLBACK_SECRET="$CALLBACK_SECRET" \
    MPS_RATE_LOGIN_PER_MIN=0 MPS_RATE_ACCOUNT_PER_MIN=0 MPS_RATE_ADMIN_WRITE_PER_MIN=0 \
    MPS_RATE_CALLBACK_PER_MIN=0 "$BUILD_DIR/mpsd" </dev/null >"$1/mpsd.out" 2>"$1/mpsd.log" &
  MPSD_PID=$!
  local i
  for i in $(seq 1 100); do
    if curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; then return 0; fi
    kill -0 "$MPSD_PID" 2>/dev/null || { tail -n 20 "$1/mpsd.log" >&2; die "mpsd exited at start-up"; }
    sleep 0.1
  done
  die "mpsd did not answer /health on port $PORT"
}

stop_mpsd() { # SIGTERM: a graceful stop (in-flight requests finish, the queue drains)
  kill -TERM "$MPSD_PID" 2>/dev/null || true
  local rc=0
  wait "$MPSD_PID" 2>/dev/null || rc=$?
  [ "$rc" = 0 ] || say "mpsd exited with $rc (see its log)"
  MPSD_PID=""
}

login() { # the clerk's token (a real login: token version > 0, checked on every request)
  local body
  body="$(curl -sf "http://127.0.0.1:$PORT/merchant/login" -H 'Content-Type: application/json' \
    -d "{\"email\":\"clerk@bench.mps\",\"password\":\"bench-password\"}")" || die "clerk login failed"
  printf '%s' "$body" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p'
}

# wrk_row WORKLOAD STORE SCRIPT DURATION SEED TOKEN — run wrk, print our row
wrk_run() {
  local workload="$1" store="$2" script="$3" secs="$4" seed="$5" token="$6" out line
  out="$(wrk -t"$THREADS" -c"$CONNS" -d"${secs}s" --latency -s "$REPO/bench/$script" \
    "http://127.0.0.1:$PORT" -- "$seed" "$token" "$NONCE-$workload-$secs" 100)" || die "wrk failed"
  line="$(printf '%s\n' "$out" | sed -n 's/^BENCH_WRK //p')"
  [ -n "$line" ] || { printf '%s\n' "$out" >&2; die "wrk printed no result"; }
  local req dur est econ erd ewr eto ok
  req=$(jget requests "$line"); dur=$(jget duration_us "$line"); est=$(jget errors_status "$line")
  econ=$(jget errors_connect "$line"); erd=$(jget errors_read "$line"); ewr=$(jget errors_write "$line")
  eto=$(jget errors_timeout "$line")
  awk -v w="$workload" -v s="$store" -v c="$CONNS" -v req="$req" -v dur="$dur" -v est="$est" \
    -v econ="$econ" -v erd="$erd" -v ewr="$ewr" -v eto="$eto" -v p50="$(jget p50_us "$line")" \
    -v p95="$(jget p95_us "$line")" -v p99="$(jget p99_us "$line")" -v pmax="$(jget max_us "$line")" 'BEGIN {
      ok = req - est; secs = dur / 1e6; err = est + econ + erd + ewr + eto
      printf "{\"workload\":\"%s\",\"store\":\"%s\",\"tool\":\"wrk\",\"connections\":%d,\"seconds\":%.3f,", w, s, c, secs
      printf "\"requests\":%d,\"rps\":%.1f,\"p50_ms\":%.3f,\"p95_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,", ok, ok / secs, p50 / 1000, p95 / 1000, p99 / 1000, pmax / 1000
      printf "\"errors\":%d,\"errors_status\":%d,\"errors_connect\":%d,\"errors_read\":%d,\"errors_write\":%d,\"errors_timeout\":%d}\n", err, est, econ, erd, ewr, eto
    }'
}

loadgen_run() { # loadgen_run MODE STORE DURATION WARMUP SEED TOKEN
  "$BIN/loadgen" --url "http://127.0.0.1:$PORT" --mode "$1" --store "$2" --duration "$3" --warmup "$4" \
    --seed "$5" --token "$6" --secret "$CALLBACK_SECRET" --connections "$CONNS" --threads "$THREADS" ||
    die "loadgen --mode $1 failed"
}

profile_run() { # profile_run SEED TOKEN — an extra, unmeasured (a) with perf attached to mpsd
  [ "$PROFILE" = 1 ] || return 0
  if ! command -v perf >/dev/null 2>&1; then say "perf is not installed: no profile (apt-get install linux-perf)"; return 0; fi
  PROFILE_SECS=5
  say "sqlite: profiling mpsd under (a) for ${PROFILE_SECS}s (perf record -e cpu-clock --call-graph dwarf; not measured)"
  ( sleep 1; exec perf record -e cpu-clock -F 999 --call-graph dwarf,16384 -p "$MPSD_PID" -o "$TMP/perf.data" -- sleep "$PROFILE_SECS" ) \
    >"$TMP/perf-record.log" 2>&1 &
  PERF_PID=$!
  if [ "$TOOL" = wrk ]; then wrk_run profile sqlite pay.lua $((PROFILE_SECS + 2)) "$1" "$2" >/dev/null
  else loadgen_run pay sqlite $((PROFILE_SECS + 2)) 0 "$1" "$2" >/dev/null; fi
}

profile_finish() { # profile_finish RESULT_BASE — where mpsd's time goes, as text files
  [ -n "$PERF_PID" ] || return 0
  wait "$PERF_PID" 2>/dev/null || true
  PERF_PID=""
  [ -s "$TMP/perf.data" ] || { say "perf recorded nothing (see $TMP/perf-record.log)"; return 0; }
  local out="$1-profile-sqlite-pay.txt" rep=(perf report -i "$TMP/perf.data" --stdio -g none)
  {
    echo "# perf record -e cpu-clock -F 999 --call-graph dwarf -p <mpsd> for ${PROFILE_SECS:-5} s of workload (a), SQLite, $CONNS connections"
    echo "## self time by function (top 40)"
    "${rep[@]}" --no-children --sort symbol,dso 2>/dev/null | grep -E '^ +[0-9]' | head -n 40 || true
    echo "## self time by library"
    "${rep[@]}" --no-children --sort dso 2>/dev/null | grep -E '^ +[0-9]' | head -n 15 || true
    echo "## samples by thread (999 Hz for ${PROFILE_SECS:-5} s: ~$((999 * ${PROFILE_SECS:-5})) samples = one core busy all the time)"
    echo "## (MHD-worker: libmicrohttpd's event threads; mpsd: the store threads, the SQLite writer first)"
    perf script -i "$TMP/perf.data" -F comm,tid 2>/dev/null |
      awk '{n[$NF] = $0; c[$NF]++; t++} END {for (k in c) printf "%8d  %5.1f%%  %s\n", c[k], 100 * c[k] / t, n[k]}' |
      sort -rn | head -n 12 || true
    echo "## inclusive time (children), user space, named functions >= 1.5% (DWARF stacks of 16 KiB:"
    echo "## a deeper stack is cut short, so an outer frame can show twice with a split share)"
    "${rep[@]}" --children --sort symbol --percent-limit 1.5 2>/dev/null | grep -E '^ +[0-9]' |
      grep -v '\[k\]' | grep -v '\] 0x' | head -n 80 || true
    echo "## inclusive time of system calls"
    "${rep[@]}" --children --sort symbol --percent-limit 0.5 2>/dev/null | grep -E '^ +[0-9]' |
      grep -E '__x64_sys_|\] __sys_sendmsg' | head -n 15 || true
  } >"$out"
  cp "$TMP/perf.data" "$1-perf-sqlite-pay.data" 2>/dev/null || true
  say "profile: ${out#"$REPO"/} (perf data: ${1#"$REPO"/}-perf-sqlite-pay.data)"
}

pg_analyze() { # pg_analyze URL — fresh planner statistics (see the top of this file)
  [ "$ANALYZE" = 1 ] || return 0
  local psql_bin
  psql_bin="$(command -v psql || true)"
  [ -n "$psql_bin" ] || { say "psql not found: no ANALYZE"; return 0; }
  "$psql_bin" "$1" -qAt -v ON_ERROR_STOP=1 -c ANALYZE >/dev/null || say "ANALYZE failed"
}

# pg_wal_size URL — PostgreSQL's WAL as a running server has it. (1) Checkpoints by time, not by
# WAL volume: at ~8,000 payments/s PostgreSQL writes ~35 MB of WAL a second, and with the
# default max_wal_size of 1 GB it checkpoints every 15 s ("checkpoints are occurring too
# frequently", its log says), each followed by a burst of full-page images. (2) Segments to
# recycle: a server that has run a while renames old 16 MB WAL segments for reuse at each
# checkpoint (min_wal_size's worth), while a fresh cluster creates and zero-fills each new one
# as it goes, and every commit waits behind it (IO:WALInitWrite; p99 56 ms against 16 ms with
# recycled segments, in process). So: max_wal_size 8GB, min_wal_size 2GB, and 128 segments
# written (a WAL switch each) and recycled by a CHECKPOINT before the first workload, ~6 s and
# 2 GB of disk. Durability is unchanged (fsync, synchronous_commit stay on); operations.md
# gives the same settings for production.
pg_wal_size() {
  local psql_bin
  psql_bin="$(command -v psql || true)"
  [ -n "$psql_bin" ] || { say "psql not found: PostgreSQL's WAL stays as initdb made it"; return 0; }
  say "postgres: max_wal_size 8GB, min_wal_size 2GB, 128 WAL segments made for recycling"
  "$psql_bin" "$1" -qAt -v ON_ERROR_STOP=1 -c "ALTER SYSTEM SET max_wal_size = '8GB'" \
    -c "ALTER SYSTEM SET min_wal_size = '2GB'" -c "SELECT pg_reload_conf()" \
    -c "DO \$\$ BEGIN FOR i IN 1..128 LOOP PERFORM pg_logical_emit_message(false, 'mps-bench', ''); PERFORM pg_switch_wal(); END LOOP; END \$\$" \
    -c "CHECKPOINT" >/dev/null || say "cannot prepare PostgreSQL's WAL"
}

# pgbench_run URL — PostgreSQL's yardstick on the benchmark's cluster (--pgbench): pgbench's
# TPC-B-like transaction (three UPDATEs, a SELECT, an INSERT) in a database of its own, at a
# scale of one branch per client: with fewer branches the clients queue on their rows' locks
# (at scale 1 all of them update one row) and the figure says nothing about the machine.
pgbench_run() {
  [ "$PGBENCH" = 1 ] || return 0
  local pgb psql_bin db="${1%/*}/mps_pgbench" out tps lat
  pgb="$(command -v pgbench || true)"
  psql_bin="$(command -v psql || true)"
  if [ -z "$pgb" ] || [ -z "$psql_bin" ]; then say "pgbench or psql not found: no yardstick (apt-get install postgresql)"; return 0; fi
  "$psql_bin" "$1" -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE mps_pgbench" >/dev/null || die "cannot create the pgbench database"
  say "postgres: pgbench yardstick: initialising scale $CONNS"
  "$pgb" -i -q -s "$CONNS" "$db" >"$TMP/pgbench-init.log" 2>&1 || { cat "$TMP/pgbench-init.log" >&2; die "pgbench -i failed"; }
  "$psql_bin" "$db" -qAt -c CHECKPOINT >/dev/null || true
  say "postgres: pgbench yardstick: TPC-B-like, -M prepared, $CONNS clients, ${DURATION}s"
  out="$("$pgb" -M prepared -c "$CONNS" -j "$THREADS" -T "$DURATION" "$db" 2>&1)" || { printf '%s\n' "$out" >&2; die "pgbench failed"; }
  tps="$(printf '%s\n' "$out" | sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' | head -n1)"
  lat="$(printf '%s\n' "$out" | sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' | head -n1)"
  [ -n "$tps" ] || { printf '%s\n' "$out" >&2; die "pgbench printed no tps"; }
  printf '{"workload":"pgbench","store":"postgres","tool":"pgbench","connections":%d,"seconds":%d,"scale":%d,"rps":%s,"latency_avg_ms":%s,"errors":0,"requests":%.0f}\n' \
    "$CONNS" "$DURATION" "$CONNS" "$tps" "${lat:-0}" "$(awk -v t="$tps" -v d="$DURATION" 'BEGIN {print t * d}')" >>"$ROWS"
}

VERIFY_NOTES=()
run_store() { # run_store sqlite|postgres
  local store="$1" dir="$TMP/$1" url
  mkdir -p "$dir"
  if [ "$store" = sqlite ]; then
    url="sqlite:$dir/mps.db"
  else
    PG_DIR="$(mktemp -d /tmp/mps-bench-pg.XXXXXX)"
    url="$("$REPO/scripts/pg-throwaway.sh" start "$PG_DIR")" || die "cannot start a throwaway PostgreSQL"
    if [ "$PG_TCP" = 0 ]; then url="$("$REPO/scripts/pg-throwaway.sh" socket-url "$PG_DIR")"; fi
    pg_wal_size "$url"
  fi
  say "$store: seeding $MEMBERS funded members (+ $MEMBERS for external payments)"
  clean_env "$BIN/seed" --db-url "$url" --out "$dir" --members "$MEMBERS" || die "seed failed"

  [ "$store" = sqlite ] || pg_analyze "$url"
  say "$store: storage limit (in process, $CONNS outstanding jobs, ${DURATION}s)"
  add_row "$store" "$(clean_env "$BIN/storage_limit" --db-url "$url" --seed "$dir" --duration "$DURATION" \
    --warmup "$WARMUP" --concurrency "$CONNS" --store "$store")"

  start_mpsd "$dir" "$url"
  local token
  token="$(login)"
  [ -n "$token" ] || die "no token from /merchant/login"

  [ "$store" = sqlite ] || pg_analyze "$url"
  say "$store: (a) PAID payments, $TOOL, $CONNS connections, ${DURATION}s"
  if [ "$TOOL" = wrk ]; then
    if [ "$WARMUP" != 0 ]; then wrk_run warmup "$store" pay.lua "$WARMUP" "$dir" "$token" >/dev/null; fi
    add_row "$store" "$(wrk_run pay "$store" pay.lua "$DURATION" "$dir" "$token")"
  else
    add_row "$store" "$(loadgen_run pay "$store" "$DURATION" "$WARMUP" "$dir" "$token")"
  fi
  if [ "$store" = sqlite ]; then
    profile_run "$dir" "$token"
    profile_finish "$RESULT_BASE"
  fi

  [ "$store" = sqlite ] || pg_analyze "$url"
  say "$store: (b) external payments + signed callbacks, loadgen, ${DURATION}s"
  local line
  while IFS= read -r line; do add_row "$store" "$line"; done \
    < <(loadgen_run ext "$store" "$DURATION" "$WARMUP" "$dir" "$token")

  [ "$store" = sqlite ] || pg_analyze "$url"
  say "$store: (c) reads (quote, wallet, transactions), $TOOL, ${DURATION}s"
  if [ "$TOOL" = wrk ]; then
    if [ "$WARMUP" != 0 ]; then wrk_run warmup "$store" reads.lua "$WARMUP" "$dir" "$token" >/dev/null; fi
    add_row "$store" "$(wrk_run read "$store" reads.lua "$DURATION" "$dir" "$token")"
  else
    while IFS= read -r line; do add_row "$store" "$line"; done \
      < <(loadgen_run read "$store" "$DURATION" "$WARMUP" "$dir" "$token")
  fi
  stop_mpsd
  local nerr
  nerr="$(grep -c '"level":"error"' "$dir/mpsd.log" || true)"
  if [ "${nerr:-0}" != 0 ]; then
    say "$store: mpsd logged $nerr errors, the first ones:"
    grep '"level":"error"' "$dir/mpsd.log" | head -n 5 >&2 || true
    cp "$dir/mpsd.log" "$RESULT_BASE-mpsd-$store.log"
    say "$store: mpsd log kept as ${RESULT_BASE#"$REPO"/}-mpsd-$store.log"
  fi

  say "$store: mpsctl verify"
  local vout vrc=0
  vout="$(clean_env "$BUILD_DIR/mpsctl" verify --db-url "$url" 2>&1)" || vrc=$?
  printf '%s\n' "$vout" >"$dir/verify.txt"
  local checked
  checked="$(printf '%s\n' "$vout" | sed -n 's/^checked: *//p' | tr -d '"' | tr ',' ';')"
  printf '{"workload":"verify","store":"%s","tool":"mpsctl","exit":%d,"violations":%s,"checked":"%s"}\n' \
    "$store" "$vrc" "$(printf '%s\n' "$vout" | sed -n 's/^violations: *//p' | head -n1 | grep -E '^[0-9]+$' || echo -1)" \
    "$checked" >>"$ROWS"
  [ "$vrc" = 0 ] || { VERIFY_NOTES+=("$store: mpsctl verify exit $vrc"); printf '%s\n' "$vout" | grep VIOLATION | head >&2 || true; }
  if [ "$store" = postgres ]; then
    pgbench_run "$url"
    if [ "$PGSHAPES" = 1 ]; then
      "$REPO/bench/pg_shapes.sh" "$url" --duration "$DURATION" --threads "$THREADS" >>"$ROWS" || die "bench/pg_shapes.sh failed"
    fi
    "$REPO/scripts/pg-throwaway.sh" stop "$PG_DIR" >/dev/null 2>&1 || true
    [ "$KEEP" = 1 ] || rm -rf "$PG_DIR"
    PG_DIR=""
  fi
}

# ---------------------------------------------------------------- main
build
mkdir -p "$REPO/bench/results"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
RESULT_BASE="$REPO/bench/results/$STAMP"
T_START=$(date +%s)
for s in "${STORES[@]}"; do run_store "$s"; done
T_END=$(date +%s)

# ---------------------------------------------------------------- report
CPU="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
MACHINE="$(nproc) cpu, ${CPU:-unknown cpu}, $(uname -sr), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
REV="$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
DIRTY="$(git -C "$REPO" status --porcelain -- src 2>/dev/null | head -c1)"
[ -z "$DIRTY" ] || REV="$REV+dirty-src"
CMD="bench/run.sh --store $STORE --duration $DURATION --connections $CONNS --members $MEMBERS"
if [ "$ANALYZE" = 0 ]; then CMD="$CMD --no-analyze"; fi
if [ "$PGBENCH" = 1 ]; then CMD="$CMD --pgbench"; fi
if [ "$PGSHAPES" = 1 ]; then CMD="$CMD --pg-shapes"; fi
if [ "$SMOKE" = 1 ]; then CMD="bench/run.sh --smoke"; fi

REPORT="$(awk -v machine="$MACHINE" -v rev="$REV" -v cmd="$CMD" -v tool="$TOOL" -v smoke="$SMOKE" -v conns="$CONNS" '
  function get(line, key,   m, re) {
    re = "\"" key "\":\"?[^,\"}]*"
    if (match(line, re)) { m = substr(line, RSTART, RLENGTH); sub("^\"" key "\":\"?", "", m); return m }
    return ""
  }
  { w = get($0, "workload"); s = get($0, "store"); n++; W[n] = w; S[n] = s; L[n] = $0
    if (w == "storage-limit") limit[s] = get($0, "rps")
    if (w == "pay") pay[s] = get($0, "rps")
    if (w == "pgbench") { yard = get($0, "rps"); yard_lat = get($0, "latency_avg_ms"); yard_c = get($0, "connections") } }
  END {
    printf "\nmps benchmark  rev %s  %s\n%s\n(%s; latencies in ms; req/s counts successful answers only)\n\n", rev, cmd, machine, tool == "wrk" ? "wrk 4.1 for pay and read, bench/loadgen for ext" : "bench/loadgen for every HTTP workload"
    printf "%-15s %-8s %10s %8s %8s %8s %8s %7s  %s\n", "workload", "store", "req/s", "p50", "p95", "p99", "max", "errors", "HTTP / in-process"
    for (i = 1; i <= n; i++) {
      if (W[i] == "verify" || W[i] == "pgbench" || W[i] == "pg-shape") continue
      ratio = ""
      if (W[i] == "pay" && limit[S[i]] > 0) ratio = sprintf("%.0f%% of %.0f/s", 100 * pay[S[i]] / limit[S[i]], limit[S[i]])
      if (W[i] == "ext-flow" && limit[S[i]] > 0) ratio = sprintf("(flows: 2 requests each)")
      printf "%-15s %-8s %10.0f %8.2f %8.2f %8.2f %8.2f %7d  %s\n", W[i], S[i], get(L[i], "rps"), get(L[i], "p50_ms"), get(L[i], "p95_ms"), get(L[i], "p99_ms"), get(L[i], "max_ms"), get(L[i], "errors"), ratio
    }
    printf "\n"
    if (yard > 0) {
      printf "PostgreSQL yardstick: pgbench TPC-B-like (-M prepared, scale %d, %d clients): %.0f transactions/s, latency avg %.2f ms", yard_c, yard_c, yard, yard_lat
      if (pay["postgres"] > 0) printf "; (a) pay postgres is %.0f%% of it", 100 * pay["postgres"] / yard
      printf "\n"
    }
    for (i = 1; i <= n; i++) if (W[i] == "pg-shape") {
      if (!shapes++) printf "PostgreSQL statement shapes (bench/pg_shapes.sh, pgbench, %d clients): payments/s, PostgreSQL CPU a payment\n", get(L[i], "connections")
      printf "  %-3s %3d payments a transaction: %7.0f/s  %6.0f us  (%s failed transactions)\n", get(L[i], "shape"), get(L[i], "batch"), get(L[i], "rps"), get(L[i], "pg_us_per_payment"), get(L[i], "errors")
    }
    for (i = 1; i <= n; i++) if (W[i] == "verify") printf "mpsctl verify (%s): exit %s, %s violations; %s\n", S[i], get(L[i], "exit"), get(L[i], "violations"), get(L[i], "checked")
    if (conns == 64 && smoke != 1) {
      printf "\nissue-5 targets (64 connections):\n"
      for (i = 1; i <= n; i++) {
        if (W[i] == "pay") {
          t = (S[i] == "sqlite") ? 10000 : 4000
          met = (get(L[i], "rps") + 0 >= t && get(L[i], "p99_ms") + 0 <= 15) ? "MET" : "not met"
          printf "  pay %-8s >= %5d/s with p99 <= 15 ms: %s (%.0f/s, p99 %.1f ms)\n", S[i], t, met, get(L[i], "rps"), get(L[i], "p99_ms")
          if (limit[S[i]] > 0) {
            r = pay[S[i]] / limit[S[i]]
            met = (r >= 0.6) ? "MET" : "not met"
            printf "  pay %-8s HTTP >= 60%% of in-process: %s (%.0f%%)\n", S[i], met, 100 * r
          }
        }
        if (W[i] == "read") {
          met = (get(L[i], "rps") + 0 >= 20000) ? "MET" : "not met"
          printf "  read %-7s >= 20000/s: %s (%.0f/s)\n", S[i], met, get(L[i], "rps")
        }
      }
    }
  }' "$ROWS")"
printf '%s\n' "$REPORT"
RATIOS="$(awk '
  function get(line, key,   m, re) {
    re = "\"" key "\":\"?[^,\"}]*"
    if (match(line, re)) { m = substr(line, RSTART, RLENGTH); sub("^\"" key "\":\"?", "", m); return m }
    return ""
  }
  { w = get($0, "workload"); s = get($0, "store")
    if (w == "storage-limit") limit[s] = get($0, "rps"); if (w == "pay") pay[s] = get($0, "rps") }
  END { sep = ""; for (s in pay) if (limit[s] > 0) { printf "%s\"%s\":%.3f", sep, s, pay[s] / limit[s]; sep = "," } }' "$ROWS")"

{
  printf '{"timestamp":"%s","revision":"%s","command":"%s","machine":{"nproc":%s,"cpu":"%s","kernel":"%s"},' \
    "$STAMP" "$REV" "$CMD" "$(nproc)" "${CPU//\"/}" "$(uname -sr)"
  printf '"config":{"stores":"%s","duration_s":%s,"warmup_s":%s,"connections":%s,"threads":%s,"members":%s,"tool":"%s","pg_analyze":%s,"pg_transport":"%s","pgbench":%s,"pg_shapes":%s,"smoke":%s},' \
    "$STORE" "$DURATION" "$WARMUP" "$CONNS" "$THREADS" "$MEMBERS" "$TOOL" "$([ "$ANALYZE" = 1 ] && echo true || echo false)" \
    "$([ "$PG_TCP" = 1 ] && echo tcp || echo unix)" "$([ "$PGBENCH" = 1 ] && echo true || echo false)" \
    "$([ "$PGSHAPES" = 1 ] && echo true || echo false)" \
    "$([ "$SMOKE" = 1 ] && echo true || echo false)"
  printf '"wall_seconds":%d,"http_vs_in_process":{%s},"rows":[' "$((T_END - T_START))" "$RATIOS"
  paste -sd, "$ROWS"
  printf ']}\n'
} >"$RESULT_BASE.json"
say "results: ${RESULT_BASE#"$REPO"/}.json"

# ---------------------------------------------------------------- smoke verdict
FAILS="$(awk '
  function get(line, key,   m, re) {
    re = "\"" key "\":\"?[^,\"}]*"
    if (match(line, re)) { m = substr(line, RSTART, RLENGTH); sub("^\"" key "\":\"?", "", m); return m }
    return ""
  }
  { w = get($0, "workload"); s = get($0, "store")
    if (w == "verify") { if (get($0, "exit") != 0) print "verify " s ": exit " get($0, "exit"); next }
    if (get($0, "errors") + 0 > 0) print w " " s ": " get($0, "errors") " errors"
    if (get($0, "requests") + 0 == 0) print w " " s ": no throughput" }' "$ROWS")"
if [ -n "$FAILS" ]; then
  say "problems:"; printf '%s\n' "$FAILS" | sed 's/^/  /' >&2
  if [ "$SMOKE" = 1 ]; then say "smoke FAILED"; exit 1; fi
elif [ "$SMOKE" = 1 ]; then
  say "smoke ok ($((T_END - T_START)) s)"
fi
