#!/usr/bin/env bash
# scripts/pg-throwaway.sh — a throwaway PostgreSQL cluster for tests.
#
#   scripts/pg-throwaway.sh start DIR   initdb DIR/data (trust auth, superuser "mps", UTF8),
#                                       listen on 127.0.0.1 only at a free port, unix socket
#                                       in DIR/sock; waits until ready and prints the admin URL
#                                       postgres://mps@127.0.0.1:PORT/postgres on stdout
#   scripts/pg-throwaway.sh stop DIR    pg_ctl stop -m fast
#   scripts/pg-throwaway.sh url DIR     print the admin URL of a running cluster
#   scripts/pg-throwaway.sh socket-url DIR   the same over the unix socket in DIR/sock
#                                       (postgresql://mps@%2F...%2Fsock:PORT/postgres)
#
# fsync stays ON: the tests check money durability. PostgreSQL refuses to run as root, so
# as root the cluster runs as the "postgres" system user (DIR is chown'ed to it); otherwise
# it runs as the calling user. A stale cluster in DIR is stopped and wiped before start.
# Diagnostics go to stderr; the server log is DIR/postgres.log.
set -euo pipefail

usage() { echo "usage: $0 start DIR | stop DIR | url DIR | socket-url DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd="$1"
dir="$2"

PGBIN="${PGBIN:-}"
if [ -z "$PGBIN" ]; then
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && PGBIN="$d"; done
fi
if [ -z "$PGBIN" ] && command -v pg_ctl >/dev/null 2>&1; then PGBIN="$(dirname "$(command -v pg_ctl)")"; fi
[ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ] || { echo "pg-throwaway: initdb not found (install postgresql)" >&2; exit 1; }

as_pg() {
  # run a command as the cluster's owner, from inside DIR (the owner may not be able to
  # read the caller's working directory)
  if [ "$(id -u)" -eq 0 ]; then
    (cd "$dir" && runuser -u postgres -- "$@")
  else
    (cd "$dir" && "$@")
  fi
}

free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
  elif command -v node >/dev/null 2>&1; then
    node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
  else
    echo $((20000 + RANDOM % 30000))
  fi
}

stop_cluster() {
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >&2 || {
      echo "pg-throwaway: fast stop failed, trying immediate" >&2
      as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >&2 || true
    }
  fi
}

case "$cmd" in
  start)
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    if [ "$(id -u)" -eq 0 ]; then
      id postgres >/dev/null 2>&1 || { echo "pg-throwaway: running as root needs the 'postgres' user" >&2; exit 1; }
      chown postgres: "$dir"
      chmod 0700 "$dir"
      if ! runuser -u postgres -- test -w "$dir"; then
        echo "pg-throwaway: user postgres cannot reach $dir (a parent directory is closed); use a directory under /tmp" >&2
        exit 1
      fi
    fi
    stop_cluster
    rm -rf "$dir/data" "$dir/sock" "$dir/port" "$dir/postgres.log"
    as_pg mkdir -m 0700 "$dir/sock"
    as_pg "$PGBIN/initdb" -D "$dir/data" -U mps --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
      # older images may lack the C.UTF-8 locale
      rm -rf "$dir/data"
      as_pg "$PGBIN/initdb" -D "$dir/data" -U mps --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2; exit 1; }
    }
    started=""
    for attempt in 1 2 3 4 5; do
      port="$(free_port)"
      as_pg tee -a "$dir/data/postgresql.auto.conf" >/dev/null <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir/sock'
fsync = on
synchronous_commit = on
max_connections = 300
shared_buffers = 64MB
log_min_messages = warning
EOF
      if as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start >/dev/null 2>&1; then
        started=1
        break
      fi
      echo "pg-throwaway: start on port $port failed (attempt $attempt)" >&2
      stop_cluster
    done
    if [ -z "$started" ]; then
      tail -n 30 "$dir/postgres.log" >&2 || true
      exit 1
    fi
    for _ in $(seq 1 100); do
      if "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U mps -d postgres; then break; fi
      sleep 0.1
    done
    "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U mps -d postgres || {
      echo "pg-throwaway: server did not become ready" >&2; tail -n 30 "$dir/postgres.log" >&2; exit 1; }
    echo "$port" >"$dir/port"
    echo "postgres://mps@127.0.0.1:$port/postgres"
    ;;
  stop)
    [ -d "$dir" ] || exit 0
    dir="$(cd "$dir" && pwd)"
    stop_cluster
    ;;
  url)
    [ -f "$dir/port" ] || { echo "pg-throwaway: no cluster in $dir" >&2; exit 1; }
    echo "postgres://mps@127.0.0.1:$(cat "$dir/port")/postgres"
    ;;
  socket-url)
    [ -f "$dir/port" ] || { echo "pg-throwaway: no cluster in $dir" >&2; exit 1; }
    dir="$(cd "$dir" && pwd)"
    echo "postgresql://mps@$(printf '%s' "$dir/sock" | sed 's|/|%2F|g'):$(cat "$dir/port")/postgres"
    ;;
  *) usage ;;
esac
