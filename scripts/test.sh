#!/bin/sh
# `make test`: a throwaway PostgreSQL cluster (unless DATABASE_URL is set), migrations, then the
# unit tests, the HTTP tests against the real server, and the OpenAPI lint. Last line: N passed, N failed.
set -eu
BUILD=${BUILD:-build}
top=$(pwd)
PG_NAME=test . "$top/scripts/private_pg.sh"
"$BUILD/allied" migrate >/dev/null 2>&1 || { "$BUILD/allied" migrate; exit 1; }
ALLIED_BIN="$top/$BUILD/allied" UNIT_BIN="$top/$BUILD/unit_tests" SANITIZE="${SANITIZE:-}" \
  python3 tests/http/run.py "$@" </dev/null
