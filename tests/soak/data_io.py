"""Data in and out, measured (printed, never asserted; not part of `make test`):

- the server's peak RSS (VmHWM) before and after `GET /v1/export` of a tenant holding
  EXPORT_REFERRALS referrals (default 1,000,000, made in SQL), with the export's size and time;
- the import rate in rows/s of POST /v1/imports/partners and /v1/imports/referrals with
  IMPORT_ROWS CSV rows (default 100,000).

    python3 tests/soak/data_io.py            (or EXPORT_REFERRALS=200000 IMPORT_ROWS=20000 ...)

Starts its own private PostgreSQL cluster and server (tests/soak/soaklib.py) unless DATABASE_URL
is set."""
import http.client
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import soaklib  # noqa: E402
from soaklib import lib  # noqa: E402

N_EXPORT = int(os.environ.get("EXPORT_REFERRALS", "1000000"))
N_IMPORT = int(os.environ.get("IMPORT_ROWS", "100000"))


def vm(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])  # kB
    return 0


def stream_get(port, key, path):
    """GETs `path`, reading the body in chunks (the client holds none of it); returns (status, bytes)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=3600)
    c.request("GET", path, headers={"Authorization": "Bearer " + key})
    r = c.getresponse()
    n = 0
    while True:
        chunk = r.read(1 << 20)
        if not chunk:
            break
        n += len(chunk)
    c.close()
    return r.status, n


def post_file(port, key, path, data, ctype):
    """POSTs `data`; returns (status, JSON answer). Waits as long as the import takes."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=3600)
    c.request("POST", path, body=data, headers={"Authorization": "Bearer " + key, "Content-Type": ctype})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, json.loads(body) if body else {}


def main():
    env = dict(ALLIED_RATE_KEY_PER_SECOND=0, ALLIED_RATE_TENANT_PER_SECOND=0, ALLIED_RATE_TENANT_PER_MINUTE=0,
               ALLIED_LOG="warn")
    with soaklib.server("dataio", **env) as srv:
        pid = srv.proc.pid
        tid, key = lib.new_tenant("data io soak")
        c = lib.Client(srv.port, key)
        partner = c.post("/v1/partners", {"name": "Bulk partner"}).json
        t0 = time.time()
        lib.psql("INSERT INTO referrals (tenant_id, id, partner_id, direction, prospect, prospect_email, "
                 "acknowledge_by, external_id) SELECT '%s', gen_random_uuid(), '%s', 'inbound', "
                 "jsonb_build_object('name', 'Prospect ' || i, 'email', 'p' || i || '@soak.example'), "
                 "'p' || i || '@soak.example', now() + interval '2 days', 'soak-' || i "
                 "FROM generate_series(1, %d) i" % (tid, partner["id"], N_EXPORT), timeout=3600)
        print("made %d referrals in SQL in %.1f s" % (N_EXPORT, time.time() - t0))
        c.get("/v1/partners")  # warm
        before_hwm, before_rss = vm(pid, "VmHWM"), vm(pid, "VmRSS")
        t0 = time.time()
        status, size = stream_get(srv.port, key, "/v1/export")
        took = time.time() - t0
        after_hwm = vm(pid, "VmHWM")
        print("export: status %d, %.1f MB in %.1f s (%.0f lines/s)" % (status, size / 1e6, took, (N_EXPORT + 2) / took))
        print("server peak RSS (VmHWM): %.1f MB before the export (RSS %.1f MB), %.1f MB after it"
              % (before_hwm / 1024, before_rss / 1024, after_hwm / 1024))

        csv = "name,email,external_id\n" + "".join(
            "Partner %d,p%d@import.example,imp-%d\n" % (i, i, i) for i in range(1, N_IMPORT + 1))
        t0 = time.time()
        status, j = post_file(srv.port, key, "/v1/imports/partners", csv.encode(), "text/csv")
        took = time.time() - t0
        print("import partners: status %d, %d created in %.1f s: %.0f rows/s"
              % (status, j.get("created", 0), took, N_IMPORT / took))
        csv = "partner_id,direction,external_id,prospect.name,prospect.email\n" + "".join(
            "%s,outbound,ri-%d,Prospect %d,r%d@import.example\n" % (partner["id"], i, i, i) for i in range(1, N_IMPORT + 1))
        t0 = time.time()
        status, j = post_file(srv.port, key, "/v1/imports/referrals", csv.encode(), "text/csv")
        took = time.time() - t0
        print("import referrals: status %d, %d created in %.1f s: %.0f rows/s"
              % (status, j.get("created", 0), took, N_IMPORT / took))
        print("server peak RSS (VmHWM) after the imports: %.1f MB" % (vm(pid, "VmHWM") / 1024))


if __name__ == "__main__":
    main()
