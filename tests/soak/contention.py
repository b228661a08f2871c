"""Measures what one tenant's lock contention and flood do to an unrelated tenant.

Tenant A: a row of A's is held locked (FOR UPDATE, by psql) while 32 threads of A flood the server
with PATCHes of that row and 16 more with GETs. Tenant B meanwhile reads its partner list, one
request after another. Prints B's latency (p50/p99/max) and status counts, idle vs. contended.

    python3 tests/soak/contention.py            # private PostgreSQL cluster under .pg/
    ALLIED_BIN=/path/to/allied python3 tests/soak/contention.py   # another build, for comparison

Bounded: about 30 s, loopback only.
"""
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import soaklib  # noqa: E402
from soaklib import lib  # noqa: E402

SECONDS = float(os.environ.get("SOAK_SECONDS", "10"))


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))] if xs else float("nan")


def measure(client, seconds):
    lat, codes = [], {}
    end = time.time() + seconds
    while time.time() < end:
        t0 = time.perf_counter()
        r = client.get("/v1/partners")
        lat.append((time.perf_counter() - t0) * 1000)
        codes[r.status] = codes.get(r.status, 0) + 1
    return lat, codes


def report(label, lat, codes):
    print("%-34s n=%-5d p50=%7.1f ms  p99=%7.1f ms  max=%7.1f ms  statuses=%s" %
          (label, len(lat), pct(lat, 0.5), pct(lat, 0.99), max(lat), json.dumps(codes, sort_keys=True)))


def main():
    print("-- rate limits off: the worker pool's fairness alone")
    with soaklib.server("soak", ALLIED_LOG="warn", ALLIED_RATE_KEY_PER_SECOND=0, ALLIED_RATE_TENANT_PER_SECOND=0,
                        ALLIED_RATE_TENANT_PER_MINUTE=0) as srv:
        run(srv)
    print("-- default rate limits (B's back-to-back loop meets its own key limit too)")
    with soaklib.server("soak", ALLIED_LOG="warn") as srv:
        run(srv)


def run(srv):
    _, ka = lib.new_tenant("flooding tenant")
    _, kb = lib.new_tenant("calm tenant")
    a, b = lib.Client(srv.port, ka), lib.Client(srv.port, kb)
    p = a.post("/v1/partners", {"name": "Hot row"}).json
    for i in range(20):
        b.post("/v1/partners", {"name": "B partner %d" % i})
    etag = a.get("/v1/partners/" + p["id"]).h("etag")
    report("tenant B, server otherwise idle", *measure(b, 3))

    stop = threading.Event()
    a_codes, lock = {}, threading.Lock()
    holder = lib.hold_lock("SELECT 1 FROM partners WHERE id = '%s' FOR UPDATE" % p["id"], SECONDS + 3)  # once held

    def flood(write):
        while not stop.is_set():
            if write:
                r = a.patch("/v1/partners/" + p["id"], {"name": "x"}, headers={"If-Match": etag})
            else:
                r = a.get("/v1/partners")
            with lock:
                a_codes[r.status] = a_codes.get(r.status, 0) + 1
    threads = [threading.Thread(target=flood, args=(i < 32,)) for i in range(48)]
    for t in threads:
        t.start()
    lib.wait_for_session("wait_event_type = 'Lock'", "the flood is not waiting for the locked row")
    lat, codes = measure(b, SECONDS)
    stop.set()
    for t in threads:
        t.join()
    holder.wait()
    report("tenant B, while A holds locks+floods", lat, codes)
    print("tenant A statuses during the flood:  %s" % json.dumps(a_codes, sort_keys=True))


if __name__ == "__main__":
    main()
