"""Benchmark: wrk against `allied serve` and pgbench running the same SQL, side by side.
Loopback only; every run is bounded by BENCH_SECONDS (default 10)."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "http"))
import lib  # noqa: E402

SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
CONNS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
PGBENCH = shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"
URL = os.environ["DATABASE_URL"]
TMP = tempfile.mkdtemp(prefix="allied-bench-")

# The SQL the server runs for each request, statement for statement (server/auth.c, api/partners.c).
AUTH = ("SELECT k.id, k.tenant_id, k.role, coalesce(k.partner_id::text, ''), k.secret_hash, "
        "set_config('allied.tenant_id', coalesce(k.tenant_id::text, ''), false) "
        "FROM (SELECT 1) one LEFT JOIN api_keys k ON k.prefix = :prefix AND k.revoked_at IS NULL;\n")
READ = AUTH + ("SELECT partner_json(p), p.version FROM partners p WHERE p.tenant_id = :tenant "
               "AND p.id = :pid AND (NULL::uuid IS NULL OR p.id = NULL::uuid);\n")
WRITE = AUTH + ("BEGIN;\n"
                "INSERT INTO partners AS p (tenant_id, id, name, company, email, phone, website, kind, "
                "status, ideal_client, tags, external_id, metadata) SELECT :tenant, gen_random_uuid(), "
                "b->>'name', b->>'company', b->>'email', b->>'phone', b->>'website', "
                "coalesce(b->>'kind', 'referral'), coalesce(b->>'status', 'prospect'), b->>'ideal_client', "
                "ARRAY(SELECT jsonb_array_elements_text(b->'tags')), b->>'external_id', "
                "coalesce(b->'metadata', '{}') FROM (SELECT CAST(:body AS jsonb) AS b) x "
                "RETURNING partner_json(p), p.version;\nCOMMIT;\n")
BODY = '{"name":"Bench Partner","company":"Bench Co","tags":["a"]}'


def wrk(port, path, key, lua=None):
    args = ["wrk", "-t2", "-c%d" % CONNS, "-d%ds" % SECONDS, "--latency", "-H", "Authorization: Bearer " + key]
    if lua:
        args += ["-s", lua]
    out = subprocess.run(args + ["http://127.0.0.1:%d%s" % (port, path)], capture_output=True, text=True,
                         timeout=SECONDS + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def lat(p):
        m = re.search(r"\s%s%%\s+([\d.]+)(us|ms|s)\b" % p, out)
        v = float(m.group(1))
        return v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, lat(50), lat(99), int(bad.group(1)) if bad else 0


def pgbench(script, variables):
    f = os.path.join(TMP, "script.sql")
    open(f, "w").write(script)
    args = [PGBENCH, "-n", "-M", "prepared", "-c", str(CONNS), "-j", "2", "-T", str(SECONDS), "-f", f, "-d", URL]
    for k, v in variables.items():
        args += ["-D", "%s=%s" % (k, v)]
    env = dict(os.environ, PGOPTIONS="-c role=allied_app")
    out = subprocess.run(args, capture_output=True, text=True, env=env, timeout=SECONDS + 60)
    m = re.search(r"tps = ([\d.]+)", out.stdout)
    if not m:
        raise RuntimeError("pgbench failed: " + out.stdout + out.stderr)
    lat = re.search(r"latency average = ([\d.]+) ms", out.stdout)
    return float(m.group(1)), float(lat.group(1)) if lat else 0.0


def rss_kib(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def main():
    tenant, key = lib.new_tenant("bench")
    prefix = key[:15]
    env = {"ALLIED_LOG": "warn"}
    for k in ("ALLIED_THREADS", "ALLIED_DB_POOL"):
        if k in os.environ:
            env[k] = os.environ[k]
    srv = lib.Server(**env)
    c = lib.Client(srv.port, key)
    pid = c.post("/v1/partners", {"name": "Read Me", "company": "Bench Co", "tags": ["a"]}).json["id"]
    lua = os.path.join(TMP, "post.lua")
    open(lua, "w").write('wrk.method = "POST"\nwrk.body = %s\nwrk.headers["Content-Type"] = "application/json"\n'
                         % json.dumps(BODY))
    rows = []
    print("allied bench: %d connections, %ds per run, ALLIED_THREADS=%s ALLIED_DB_POOL=%s" %
          (CONNS, SECONDS, env.get("ALLIED_THREADS", "default"), env.get("ALLIED_DB_POOL", "default")))
    rps, p50, p99, bad = wrk(srv.port, "/v1/partners/" + pid, key)
    tps, _ = pgbench(READ, {"prefix": prefix, "tenant": tenant, "pid": pid})
    rows.append(("GET /v1/partners/{id}", rps, p50, p99, bad, tps))
    rps, p50, p99, bad = wrk(srv.port, "/v1/partners", key, lua)
    tps, _ = pgbench(WRITE, {"prefix": prefix, "tenant": tenant, "body": BODY})
    rows.append(("POST /v1/partners", rps, p50, p99, bad, tps))
    rss = rss_kib(srv.proc.pid)
    srv.stop()
    print("%-24s %10s %8s %8s %8s %12s %7s" % ("endpoint", "req/s", "p50 ms", "p99 ms", "non-2xx", "pgbench tps", "ratio"))
    for name, rps, p50, p99, bad, tps in rows:
        print("%-24s %10.0f %8.2f %8.2f %8d %12.0f %6.0f%%" % (name, rps, p50, p99, bad, tps, 100 * rps / tps))
    print("server peak RSS: %.1f MiB" % (rss / 1024))
    shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    main()
