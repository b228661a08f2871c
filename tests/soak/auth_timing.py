"""Measures whether a live key prefix with a wrong secret can be told from an unknown prefix by
response time: N interleaved samples of each (default 1000), medians and their difference.

    python3 tests/soak/auth_timing.py     # private PostgreSQL cluster under .pg/

The failed-authentication throttle is raised for the measurement (it would answer 429 first).
Loopback only; about 10 s.
"""
import os
import statistics
import subprocess
import sys
import time
import http.client

sys.path.insert(0, os.path.dirname(__file__))
import soaklib  # noqa: E402
from soaklib import lib  # noqa: E402

N = int(os.environ.get("SAMPLES", "1000"))


def main():
    with soaklib.server("timing", ALLIED_LOG="warn", ALLIED_AUTH_FAILURES_PER_ADDRESS="0", ALLIED_AUTH_FAILURES_PER_PREFIX="0",
                         ALLIED_RATE_KEY_PER_SECOND="0", ALLIED_RATE_TENANT_PER_SECOND="0", ALLIED_RATE_TENANT_PER_MINUTE="0") as srv:
        run(srv)


def run(srv):
    _, key = lib.new_tenant("timing")
    wrong = key[:20] + ("A" if key[20] != "A" else "B") + key[21:]
    unknown = "ak_0123456789ab" + key[15:]
    conn = http.client.HTTPConnection("127.0.0.1", srv.port)
    samples = {"live prefix, wrong secret": [], "unknown prefix": []}
    statuses = set()
    for i in range(2 * N + 100):
        label, k = (("live prefix, wrong secret", wrong), ("unknown prefix", unknown))[i % 2]
        t0 = time.perf_counter_ns()
        conn.request("GET", "/v1/partners", headers={"Authorization": "Bearer " + k})
        r = conn.getresponse()
        r.read()
        dt = (time.perf_counter_ns() - t0) / 1000
        statuses.add(r.status)
        if i >= 100:  # warm-up
            samples[label].append(dt)
    med = {k: statistics.median(v) for k, v in samples.items()}
    for k, v in samples.items():
        print("%-28s n=%d median=%.1f us" % (k, len(v), med[k]))
    print("median difference: %.1f us; statuses seen: %s" %
          (med["live prefix, wrong secret"] - med["unknown prefix"], sorted(statuses)))


if __name__ == "__main__":
    main()
