#!/usr/bin/env bash
# scripts/setup.sh — install every build and test dependency (Debian 12, apt-get only),
# then configure and build mps into build/.
#
# Idempotent: packages already installed are not fetched again (apt-get update runs at
# most once, and only when something is missing); an existing build/ is reconfigured.
# Runs as root, or through sudo when it is available.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf 'setup: %s\n' "$*" >&2; }

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo -E)
  fi
fi

PACKAGES=(
  build-essential meson ninja-build pkg-config
  libmicrohttpd-dev libjansson-dev libjwt-dev libsodium-dev libssl-dev libsqlite3-dev libpq-dev
  libcmocka-dev libcurl4-openssl-dev
  postgresql postgresql-client sqlite3
  clang wrk git python3 curl
  # clang 14's libFuzzer and sanitizer runtimes (tests/fuzz): only a Recommends of clang,
  # and recommends are not installed here
  libclang-rt-14-dev
)

# nodejs only when node is missing or older than 18 (a newer node may come from elsewhere)
node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if ! command -v node >/dev/null 2>&1 || [ "$(node_major)" -lt 18 ]; then
  PACKAGES+=(nodejs)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  status="$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)"
  case "$status" in
    ii*) ;;
    *) missing+=("$p") ;;
  esac
done

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] && [ "${#SUDO[@]}" -eq 0 ]; then
    log "missing packages: ${missing[*]}"
    log "not root and no sudo: install them as root, then re-run"
    exit 1
  fi
  log "installing: ${missing[*]}"
  "${SUDO[@]}" apt-get update -q
  "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  log "all packages already installed"
fi

if ! command -v node >/dev/null 2>&1 || [ "$(node_major)" -lt 18 ]; then
  log "node >= 18 is required; found: $(node --version 2>/dev/null || echo none)"
  exit 1
fi

if [ -f build/build.ninja ]; then
  log "reconfiguring build/"
  meson setup --reconfigure build
else
  log "configuring build/"
  # a half-made build/ (no build.ninja, e.g. a failed configure) is of no use
  rm -rf build
  meson setup build
fi
ninja -C build
log "done: binaries in build/ (mpsd, mpsctl); run scripts/test.sh"
