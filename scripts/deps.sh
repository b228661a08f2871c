#!/bin/sh
# Installs the Debian packages Allied needs to build, test and benchmark, if any are missing.
# (chromium: tests/http/test_docs.py renders GET /docs headless.)
set -eu
need="gcc make pkg-config libmicrohttpd-dev libjansson-dev uuid-dev libpq-dev libssl-dev libcurl4-openssl-dev
      postgresql-15 postgresql-client-15 python3 wrk valgrind curl ca-certificates nginx openssl chromium"
# `deps.sh fuzz` (make fuzz): clang with libFuzzer and the sanitizer runtimes, llvm-symbolizer.
[ "${1:-}" = fuzz ] && need="$need clang libclang-rt-14-dev llvm-14"
# Node.js (for the OpenAPI linter) is only installed when no node is on PATH at all.
command -v npx >/dev/null 2>&1 || need="$need nodejs npm"
missing=""
for p in $need; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing" >&2
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
  echo "deps: missing packages ($missing) and not root; install them and retry" >&2; exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# The postgresql package would start its own cluster; we run a private one instead.
$SUDO apt-get update -q </dev/null >/dev/null
$SUDO apt-get install -y -q --no-install-recommends $missing </dev/null >/dev/null
