#!/bin/sh
# `make bench`: Allied, the Node peer and pgbench (the same SQL) side by side on loopback, then
# statements and instructions (callgrind) per request. tests/bench/bench.py says what it measures.
set -eu
BUILD=${BUILD:-build}
top=$(pwd)
export PG_STAT_STATEMENTS=1
PG_NAME=bench . "$top/scripts/private_pg.sh"
"$BUILD/allied" migrate >/dev/null 2>&1
ALLIED_BIN="$top/$BUILD/allied" python3 tests/bench/bench.py "$@" </dev/null
[ "${BENCH_SCORECARDS:-1}" = 0 ] || ALLIED_BIN="$top/$BUILD/allied" python3 tests/bench/scorecards.py </dev/null
