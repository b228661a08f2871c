#!/bin/sh
# `make soak`: the timing-dependent measurements (never asserted in `make test`). Each script starts
# its own private PostgreSQL cluster and server on loopback and is bounded in time.
set -eu
cd "$(dirname "$0")/../.."
for s in tests/soak/contention.py tests/soak/auth_timing.py tests/soak/outage.py; do
  echo "== $s"
  timeout 300 python3 "$s" </dev/null
done
# the scheduler's idle cost and its lag under 100,000 due items (about 10 minutes)
echo "== tests/soak/time_events.py"
timeout 1500 python3 tests/soak/time_events.py </dev/null
