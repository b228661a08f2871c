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

# Referral submission and the workflow steps (api/referrals.c, api/referral_actions.c, api/feed.c).
EVENT = ("INSERT INTO referral_events (tenant_id, referral_id, type, from_status, to_status, note, stage, "
         "actor_key_id, actor_role) VALUES (:tenant, :rid, '{t}', {f}, '{to}', NULL, NULL, :keyid, 'admin');\n")
FEED = ("WITH s AS (INSERT INTO feed_counters AS f (tenant_id, last_seq) VALUES (:tenant, 1) "
        "ON CONFLICT (tenant_id) DO UPDATE SET last_seq = f.last_seq + 1 RETURNING last_seq) "
        "INSERT INTO feed_events (tenant_id, seq, type, resource_type, resource_id, partner_id, data) "
        "SELECT :tenant, s.last_seq, 'referral.{t}', 'referral', :rid, :pid, CAST(:doc AS json) FROM s;\n")
SUBMIT = (AUTH + "BEGIN;\n"
          "SELECT status FROM partners WHERE tenant_id = :tenant AND id = :pid;\n"
          "\\set n random(1, 2000000000)\n"
          "SELECT pg_advisory_xact_lock(hashtextextended(CAST(:tenant AS text) || E'\\072email\\072' || 'b@' || CAST(:n AS text) || '.pg', 0)) "
          "UNION ALL SELECT pg_advisory_xact_lock(hashtextextended(CAST(:tenant AS text) || E'\\072domain\\072' || CAST(:n AS text) || '.pg', 0));\n"
          "SELECT r.id FROM referrals r LEFT JOIN agreements a ON a.tenant_id = r.tenant_id AND a.id = r.agreement_id "
          "WHERE r.tenant_id = :tenant AND ((r.prospect_email = 'b@' || CAST(:n AS text) || '.pg') OR (r.prospect_domain = CAST(:n AS text) || '.pg')) "
          "AND r.status IN ('submitted', 'acknowledged', 'engaged', 'won') AND coalesce(r.closed_at, r.created_at) >= "
          "now() - make_interval(days => coalesce((agreement_terms(a, r.direction)->>'protection_days')::int, 90)) "
          "ORDER BY r.created_at LIMIT 1;\n"
          "SELECT gen_random_uuid() AS rid \\gset\n"
          "WITH ag AS (SELECT a.id, (agreement_terms(a, 'inbound')->>'acknowledge_within_hours')::int AS hours "
          "FROM agreements a WHERE a.tenant_id = :tenant AND a.partner_id = :pid AND a.direction IN ('inbound', 'reciprocal') "
          "AND agreement_status(a) = 'active' ORDER BY a.activated_at DESC LIMIT 1) "
          "INSERT INTO referrals AS r (tenant_id, id, partner_id, agreement_id, direction, prospect, prospect_email, "
          "prospect_domain, external_id, override_reason, acknowledge_by) SELECT :tenant, :rid, :pid, (SELECT id FROM ag), "
          "'inbound', CAST('{\"name\":\"B\"}' AS jsonb), 'b@' || CAST(:n AS text) || '.pg', :n || '.pg', NULL, NULL, "
          "now() + make_interval(hours => coalesce((SELECT hours FROM ag), 48)) RETURNING referral_json(r) AS doc \\gset\n"
          + EVENT.format(t="submitted", f="NULL", to="submitted") + FEED.format(t="submitted") + "COMMIT;\n")


def step(action, frm, to, extra=""):
    return (AUTH + "BEGIN;\n"
            "SELECT status, version, direction, partner_id FROM referrals WHERE tenant_id = :tenant AND id = :rid "
            "AND (NULL::uuid IS NULL OR partner_id = NULL::uuid);\n"
            "UPDATE referrals r SET status = '%s', version = r.version + 1, updated_at = now() %s "
            "WHERE r.tenant_id = :tenant AND r.id = :rid AND r.status = '%s' RETURNING referral_json(r) AS doc \\gset\n"
            % (to, extra, frm) + EVENT.format(t=action, f="'%s'" % frm, to=to) + FEED.format(t=action) + "COMMIT;\n")


WORKFLOW = (SUBMIT + step("acknowledged", "submitted", "acknowledged", ", acknowledged_at = now()")
            + step("engaged", "acknowledged", "engaged")
            + step("won", "engaged", "won", ", deal_amount = 100000, deal_currency = 'EUR', closed_at = now()"))


# wrk.format() replaces wrk.headers when given headers, so keep the -H Authorization ones.
WRK_HEADERS = """
function headers()
  local h = {}
  for k, v in pairs(wrk.headers) do h[k] = v end
  h["Content-Type"] = "application/json"
  return h
end
"""

WRK_SUBMIT = WRK_HEADERS + """
local counter = 0
local made = 0
function setup(thread) made = made + 1; thread:set("tid", made) end
function init(args) counter = 0 end
function request()
  counter = counter + 1
  local body = string.format('{"partner_id":"%s","direction":"inbound","prospect":{"name":"Bench","email":"b@t%d-%d-%d.bench"}}',
                             PARTNER, tid, counter, math.random(1, 1000000000))
  return wrk.format("POST", "/v1/referrals", headers(), body)
end
"""

# Each thread walks its own slice of the referral ids, one action per id.
WRK_ACTION = WRK_HEADERS + """
local ids = {}
local made = 0
function setup(thread) made = made + 1; thread:set("tid", made) end
function init(args)
  local n = 0
  for line in io.lines(IDS) do
    n = n + 1
    if n %% 2 == tid - 1 then ids[#ids + 1] = line end
  end
  pos = 0
end
function response(status, headers, body)
  if pos >= #ids then wrk.thread:stop() end
end
function request()
  pos = pos + 1
  local id = ids[pos] or ids[#ids]
  return wrk.format("POST", "/v1/referrals/" .. id .. "/%s", headers(), %s)
end
"""


def wrk(port, path, key, lua=None):
    args = ["wrk", "-t2", "-c%d" % CONNS, "-d%ds" % SECONDS, "--latency", "-H", "Authorization: Bearer " + key]
    if lua:
        args += ["-s", lua]
    run = subprocess.run(args + ["http://127.0.0.1:%d%s" % (port, path)], capture_output=True, text=True,
                         timeout=SECONDS + 30)
    out = run.stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m:
        raise RuntimeError("wrk failed: " + out + run.stderr)
    rps = float(m.group(1))

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
    # Capacity, not policy: the limiter stays in the path but no limit is reached.
    env = {"ALLIED_LOG": "warn", "ALLIED_RATE_KEY_PER_SECOND": "1000000", "ALLIED_RATE_KEY_BURST": "1000000",
           "ALLIED_RATE_TENANT_PER_SECOND": "1000000", "ALLIED_RATE_TENANT_BURST": "1000000",
           "ALLIED_RATE_TENANT_PER_MINUTE": "100000000"}
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

    # Referrals: an active inbound agreement for the partner, then submissions and the workflow.
    a = c.post("/v1/agreements", {"partner_id": pid, "direction": "inbound", "starts_on": "2026-01-01",
                                  "terms": {"compensation": {"model": "percentage", "rate_bps": 1000}}}).json
    c.post("/v1/agreements/%s/sign" % a["id"], {"party": "vendor", "signer_name": "V"})
    c.post("/v1/agreements/%s/sign" % a["id"], {"party": "partner", "signer_name": "P"})
    lua = os.path.join(TMP, "submit.lua")
    open(lua, "w").write('PARTNER = "%s"\n' % pid + WRK_SUBMIT)
    keyid = lib.psql("SELECT id FROM api_keys WHERE prefix = '%s'" % prefix)
    pv = {"prefix": prefix, "tenant": tenant, "pid": pid, "keyid": keyid, "doc": '{"name":"x"}'}
    rps, p50, p99, bad = wrk(srv.port, "/v1/referrals", key, lua)
    tps, _ = pgbench(SUBMIT, pv)
    rows.append(("POST /v1/referrals", rps, p50, p99, bad, tps))
    step_rates = [rps]
    ids = os.path.join(TMP, "ids.txt")
    open(ids, "w").write(lib.psql("SELECT id FROM referrals WHERE tenant_id = '%s' AND status = 'submitted' "
                                  "ORDER BY id" % tenant) + "\n")
    for action, body in (("acknowledge", "nil"), ("engage", "'{\"stage\":\"demo\"}'"),
                         ("win", "'{\"deal\":{\"amount\":100000,\"currency\":\"EUR\"}}'")):
        lua = os.path.join(TMP, action + ".lua")
        open(lua, "w").write('IDS = "%s"\n' % ids + WRK_ACTION % (action, body))
        rps, p50, p99, bad = wrk(srv.port, "/v1/referrals", key, lua)
        rows.append(("POST .../%s" % action, rps, p50, p99, bad, None))
        step_rates.append(rps)
    wf = 1 / sum(1 / r for r in step_rates)
    tps, _ = pgbench(WORKFLOW, pv)
    rows.append(("workflow (4 requests)", wf, 0, 0, 0, tps))
    rss = rss_kib(srv.proc.pid)
    srv.stop()
    print("%-24s %10s %8s %8s %8s %12s %7s" % ("endpoint", "req/s", "p50 ms", "p99 ms", "non-2xx", "pgbench tps", "ratio"))
    for name, rps, p50, p99, bad, tps in rows:
        if tps is None:
            print("%-24s %10.0f %8.2f %8.2f %8d %12s %7s" % (name, rps, p50, p99, bad, "-", "-"))
        elif p50 == 0:
            print("%-24s %10.0f %8s %8s %8s %12.0f %6.0f%%" % (name, rps, "-", "-", "-", tps, 100 * rps / tps))
        else:
            print("%-24s %10.0f %8.2f %8.2f %8d %12.0f %6.0f%%" % (name, rps, p50, p99, bad, tps, 100 * rps / tps))
    print("workflow = 1 / (sum of 1/rate of its four steps); pgbench runs the four transactions as one script")
    print("server peak RSS: %.1f MiB" % (rss / 1024))
    shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    main()
