"""Benchmark, one run: Allied, the Node peer (Fastify + node-postgres, tests/bench/peer.js) and
pgbench running the SQL the server sends (tests/bench/mirror.py), route by route; then the cost of
a request: statements sent to PostgreSQL (allied_db_statements_total) and instructions
(valgrind --tool=callgrind) per request.

Loopback only; every load run lasts BENCH_SECONDS (default 10) with BENCH_CONNECTIONS (32).
The first three rows (GET by id, the list page, POST partners) are measured in BENCH_ROUNDS (3)
rounds of BENCH_SECONDS / BENCH_ROUNDS each, Allied and the runs it is compared with side by side
in every round (in turn forwards and backwards): this VM's speed drifts by a third within minutes,
so a ratio is only worth its name between runs seconds apart. Each ratio is the median of the
rounds' ratios, printed with its range.
Knobs: BENCH_PEER=0 skips the peer, BENCH_CALLGRIND=0 skips callgrind, BENCH_SPREAD=0 skips the
submissions spread over several tenants, BENCH_PEER_CACHE is where
npm installs fastify@4 and pg@8 (default ~/.cache/allied-bench-peer, outside the repo),
ALLIED_THREADS / ALLIED_DB_POOL / ALLIED_TENANT_WORKERS are passed to the server.
Nothing here asserts: timings are printed, never tested."""
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "http"))
import lib  # noqa: E402
import mirror  # noqa: E402

SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
ROUNDS = max(1, int(os.environ.get("BENCH_ROUNDS", "3")))
ROUND_SECONDS = max(2, SECONDS // ROUNDS)
CONNS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
PGBENCH = shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"
URL = os.environ["DATABASE_URL"]
TMP = tempfile.mkdtemp(prefix="allied-bench-")
PEER_CACHE = os.environ.get("BENCH_PEER_CACHE", os.path.expanduser("~/.cache/allied-bench-peer"))
CG_GETS = int(os.environ.get("BENCH_CG_GETS", "2000"))
CG_WRITES = int(os.environ.get("BENCH_CG_WRITES", "200"))
SERVER_ENV = {k: os.environ[k] for k in ("ALLIED_THREADS", "ALLIED_DB_POOL", "ALLIED_TENANT_WORKERS")
              if k in os.environ}
# Capacity, not policy: the rate limiter stays in the path but no limit is reached.
SERVER_ENV.update({"ALLIED_RATE_KEY_PER_SECOND": "1000000", "ALLIED_RATE_KEY_BURST": "1000000",
                   "ALLIED_RATE_TENANT_PER_SECOND": "1000000", "ALLIED_RATE_TENANT_BURST": "1000000",
                   "ALLIED_RATE_TENANT_PER_MINUTE": "100000000"})
# pgbench opens as many connections as the server uses for one tenant (ALLIED_TENANT_WORKERS, by
# default the pool size less one): the same SQL at the same database concurrency, so the ratio is
# what HTTP, C and JSON cost. (32 sessions all queueing on one tenant's feed-counter row lock
# measure lock convoys instead.)
_POOL = int(SERVER_ENV.get("ALLIED_DB_POOL", "4"))
_TENANT = int(SERVER_ENV.get("ALLIED_TENANT_WORKERS", "0")) or max(1, _POOL - 1)
PG_CLIENTS = int(os.environ.get("BENCH_PGBENCH_CLIENTS", min(_POOL, _TENANT)))
BODY = '{"name":"Bench Partner","company":"Bench Co","tags":["a"]}'


def say(msg):
    print(msg, flush=True)


# ---------------------------------------------------------------- load generators
# wrk.format() replaces wrk.headers when given headers, so keep the -H Authorization ones.
WRK_HEADERS = """
function headers()
  local h = {}
  for k, v in pairs(wrk.headers) do h[k] = v end
  h["Content-Type"] = "application/json"
  return h
end
"""

# Submissions, each request for the next of KEYS (and its partner, PARTNERS): one tenant, or
# several round-robin (the feed-counter table below). RUN in each address: wrk's math.random
# repeats its sequence, so two runs would otherwise submit the same prospects (duplicates, 409).
WRK_SUBMIT = WRK_HEADERS + """
local counter = 0
local made = 0
function setup(thread) made = made + 1; thread:set("tid", made) end
function init(args) counter = 0 end
function request()
  counter = counter + 1
  local i = (counter + tid) % #KEYS + 1
  local h = headers()
  h["Authorization"] = "Bearer " .. KEYS[i]
  local body = string.format('{"partner_id":"%s","direction":"inbound","prospect":{"name":"Bench","email":"b@t%d-%d-%d.%s.bench"}}',
                             PARTNERS[i], tid, counter, math.random(1, 1000000000), RUN)
  return wrk.format("POST", "/v1/referrals", h, body)
end
"""


def submit_lua(run, group):
    """The submissions' script for `group`, [(pgbench variables, key)], in run `run`."""
    return lua_file("submit_" + run, 'RUN = "%s"\nKEYS = {%s}\nPARTNERS = {%s}\n' % (
        run, ", ".join('"%s"' % k for _, k in group), ", ".join('"%s"' % v["pid"] for v, _ in group)) + WRK_SUBMIT)


def submitted(run):
    """Referrals the submissions of run `run` have made so far."""
    return int(lib.psql("SELECT count(*) FROM referrals WHERE prospect_email LIKE '%%.%s.bench'" % run))


def check_submitted(run, res, made):
    """wrk sends plain GETs when its script fails: a submission run must have made its referrals."""
    if made < res["rps"] * SECONDS * 0.9:
        raise RuntimeError("submissions %s made %d referrals at %.0f r/s (%d non-2xx): not submissions"
                           % (run, made, res["rps"], res["bad"]))


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


def lua_file(name, text):
    f = os.path.join(TMP, name + ".lua")
    with open(f, "w") as fh:
        fh.write(text)
    return f


def wrk(port, path, key, lua=None, seconds=None):
    """-> dict(rps, p50, p99 in ms, bad = non-2xx/3xx count)."""
    seconds = seconds or SECONDS
    args = ["wrk", "-t2", "-c%d" % CONNS, "-d%ds" % seconds, "--latency", "-H", "Authorization: Bearer " + key]
    if lua:
        args += ["-s", lua]
    run = subprocess.run(args + ["http://127.0.0.1:%d%s" % (port, path)], capture_output=True, text=True,
                         timeout=seconds + 30)
    out = run.stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m:
        raise RuntimeError("wrk failed: " + out + run.stderr)

    def lat(p):
        m = re.search(r"\s%s%%\s+([\d.]+)(us|ms|s)\b" % p, out)
        v = float(m.group(1))
        return v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: (.*)", out)
    return {"rps": float(m.group(1)), "p50": lat(50), "p99": lat(99), "bad": int(bad.group(1)) if bad else 0,
            "errors": errs.group(1) if errs else ""}


def pgbench(steps, variables, one_read_tenant=None, seconds=None):
    """Runs the mirrored SQL as allied_app (the server's role; row-level security is FORCEd, so a
    superuser would measure something else). -> dict(rps = tps, p50, p99 in ms, bad = failed)."""
    seconds = seconds or SECONDS
    script = os.path.join(TMP, "script.sql")
    with open(script, "w") as fh:
        fh.write(mirror.pgbench_script(steps))
    logdir = os.path.join(TMP, "pglog")
    shutil.rmtree(logdir, ignore_errors=True)
    os.makedirs(logdir)
    args = [PGBENCH, "-n", "-M", "prepared", "-c", str(PG_CLIENTS), "-j", "2", "-T", str(seconds), "-f", script,
            "-l", "--log-prefix", os.path.join(logdir, "tx")]
    for k, v in variables.items():
        args += ["-D", "%s=%s" % (k, v)]
    opts = "-c role=allied_app"
    if one_read_tenant:  # a single statement cannot authenticate: the tenant is a session setting
        opts += " -c allied.tenant_id=" + one_read_tenant
    env = dict(os.environ, PGOPTIONS=opts)
    out = subprocess.run(args + [URL], capture_output=True, text=True, env=env, timeout=seconds + 60)
    m = re.search(r"tps = ([\d.]+)", out.stdout)
    if not m:
        raise RuntimeError("pgbench failed: " + out.stdout + out.stderr[-2000:])
    lat = []
    for f in os.listdir(logdir):
        with open(os.path.join(logdir, f)) as fh:
            for line in fh:
                parts = line.split()
                if len(parts) >= 3 and parts[2].isdigit():
                    lat.append(int(parts[2]))
    lat.sort()
    failed = re.search(r"number of failed transactions: (\d+)", out.stdout)

    def pct(p):
        return lat[min(len(lat) - 1, int(len(lat) * p / 100))] / 1000 if lat else 0.0
    return {"rps": float(m.group(1)), "p50": pct(50), "p99": pct(99), "bad": int(failed.group(1)) if failed else 0}


# ---------------------------------------------------------------- the peer
def start_peer():
    """The Node peer on a free port, or None (with the reason printed)."""
    if os.environ.get("BENCH_PEER", "1") == "0":
        say("peer: skipped (BENCH_PEER=0)")
        return None
    if not shutil.which("node"):
        say("peer: skipped (no node on PATH)")
        return None
    mods = os.path.join(PEER_CACHE, "node_modules")
    if not (os.path.isdir(os.path.join(mods, "fastify")) and os.path.isdir(os.path.join(mods, "pg"))):
        if not shutil.which("npm"):
            say("peer: skipped (no npm to install fastify@4 and pg@8)")
            return None
        os.makedirs(PEER_CACHE, exist_ok=True)
        pkg = os.path.join(PEER_CACHE, "package.json")
        if not os.path.exists(pkg):
            with open(pkg, "w") as fh:
                fh.write('{"name": "allied-bench-peer", "private": true}\n')
        say("peer: npm install fastify@4 pg@8 into %s" % PEER_CACHE)
        try:
            r = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error",
                                "fastify@4", "pg@8"], cwd=PEER_CACHE, capture_output=True, text=True, timeout=180)
        except subprocess.TimeoutExpired:
            r = None
        if r is None or r.returncode != 0:
            why = "timeout" if r is None else next((line for line in r.stderr.splitlines() if "code" in line),
                                                   (r.stderr.strip().splitlines() or ["?"])[0])
            say("peer: skipped (npm install failed or the registry is unreachable: %s)" % why.strip())
            return None
    port = lib.free_port()
    log = open(os.path.join(TMP, "peer.log"), "wb")
    # The peer connects as the database owner, as its author would: it has no tenant setting, so
    # under the server's role row-level security would hide every API key from it.
    env = dict(os.environ, PORT=str(port), NODE_PATH=mods, DATABASE_URL=URL)
    proc = subprocess.Popen(["node", os.path.join(HERE, "peer.js")], env=env, stdout=log, stderr=log,
                            stdin=subprocess.DEVNULL)
    deadline = time.time() + 20
    while time.time() < deadline:
        if proc.poll() is not None:
            break
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    proc.wait()
    say("peer: skipped (it did not start; see %s)" % os.path.join(TMP, "peer.log"))
    return None


# ---------------------------------------------------------------- cost counters
def metrics(port):
    """(statements sent to PostgreSQL, round trips or None, requests answered other than /metrics)
    from /metrics. allied_db_round_trips_total is for when statements are pipelined; until the
    server has it, every statement is its own round trip."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    m = re.search(r"^allied_db_statements_total (\d+)", text, re.M)
    rt = re.search(r"^allied_db_round_trips_total (\d+)", text, re.M)
    reqs = sum(int(v) for route, v in re.findall(r'^allied_http_requests_total\{[^}]*route="([^"]*)"[^}]*\} (\d+)',
                                                  text, re.M) if route != "/metrics")
    return (int(m.group(1)) if m else None), (int(rt.group(1)) if rt else None), reqs


def pgss_ready():
    """pg_stat_statements, where the cluster preloads it (make bench's own cluster does)."""
    try:
        if "pg_stat_statements" not in lib.psql("SHOW shared_preload_libraries"):
            return False
        lib.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements; SELECT count(*) FROM pg_stat_statements")
        return True
    except RuntimeError:
        return False


# PostgreSQL 15's pg_stat_statements counts a prepared BEGIN/COMMIT only on its first execution
# per connection, so those are left out on purpose: this is the time spent executing the rest.
PGSS_EXEC = ("SELECT coalesce(sum(total_exec_time), 0) FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid "
             "WHERE r.rolname = 'allied_app' AND s.query NOT IN ('BEGIN', 'BEGIN READ ONLY', 'COMMIT', 'ROLLBACK')")


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


# ---------------------------------------------------------------- callgrind
class Keepalive:
    """One keep-alive HTTP/1.1 connection; the server under callgrind is slow, so no short timeouts."""

    def __init__(self, port, key):
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.h = {"Authorization": "Bearer " + key, "Content-Type": "application/json"}

    def req(self, method, path, body=None):
        self.c.request(method, path, body=body, headers=self.h)
        r = self.c.getresponse()
        data = r.read()
        if r.status >= 300:
            raise RuntimeError("%s %s -> %d %s" % (method, path, r.status, data[:200]))
        return data


def callgrind(key, pid):
    """Instructions per request of the whole server process (every thread, libpq, libc, ...), by
    route: warm up, zero the counters, then one dump per route. -> ([(route, n, instr/request)], text)."""
    if os.environ.get("BENCH_CALLGRIND", "1") == "0":
        return None, "callgrind: skipped (BENCH_CALLGRIND=0)"
    if not shutil.which("valgrind") or not shutil.which("callgrind_control"):
        return None, "callgrind: skipped (valgrind is not installed)"
    port = lib.free_port()
    out = os.path.join(TMP, "cg.out")
    env = dict(os.environ, ALLIED_LISTEN="127.0.0.1:%d" % port, ALLIED_LOG="warn", ALLIED_WEBHOOK_WORKERS="0",
               **SERVER_ENV)
    log = open(os.path.join(TMP, "callgrind.log"), "wb")
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
                             os.environ.get("ALLIED_BIN", "build/allied"), "serve"],
                            env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    started = time.time()
    try:
        deadline = time.time() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    return None, "callgrind: the server did not start under valgrind"
                time.sleep(0.2)
        c = Keepalive(port, key)
        ids, made = [], [0]

        def submit(i):
            made[0] += 1
            body = json.dumps({"partner_id": pid, "direction": "inbound",
                               "prospect": {"name": "CG", "email": "cg%d@cg%d-%d.bench" % (made[0], made[0], started)}})
            ids.append(json.loads(c.req("POST", "/v1/referrals", body))["id"])
        mix = [("GET /v1/partners/{id}", CG_GETS, lambda i: c.req("GET", "/v1/partners/" + pid)),
               ("GET /v1/partners?limit=50", CG_WRITES, lambda i: c.req("GET", "/v1/partners?limit=50")),
               ("POST /v1/partners", CG_WRITES, lambda i: c.req("POST", "/v1/partners", BODY)),
               ("POST /v1/referrals", CG_WRITES, submit),
               ("POST .../acknowledge", CG_WRITES, lambda i: c.req("POST", "/v1/referrals/%s/acknowledge" % ids[i]))]
        # Warm-up: every pooled connection prepares its statements on first use.
        for name, n, fn in mix:
            for i in range(12):
                fn(i)
        ids.clear()
        subprocess.run(["callgrind_control", "-z", str(proc.pid)], capture_output=True, timeout=60)
        rows = []
        for k, (name, n, fn) in enumerate(mix):
            for i in range(n):
                fn(i)
            subprocess.run(["callgrind_control", "--dump=" + re.sub(r"\W+", "_", name), str(proc.pid)],
                           capture_output=True, timeout=60)
            rows.append((name, n))
        dumps = sorted((f for f in os.listdir(TMP) if f.startswith("cg.out.")),
                       key=lambda f: int(f.rsplit(".", 1)[1]) if f.rsplit(".", 1)[1].isdigit() else 0)
        dumps = [f for f in dumps if f.rsplit(".", 1)[1].isdigit() and int(f.rsplit(".", 1)[1]) > 0]
        result, text = [], []
        for (name, n), f in zip(rows, dumps[-len(rows):]):
            with open(os.path.join(TMP, f)) as fh:
                total = next((int(line.split()[1]) for line in fh if line.startswith(("summary:", "totals:"))), 0)
            result.append((name, n, total / n))
        # Where the instructions go: the top functions of the GET-by-id dump and of the POST one.
        for (name, n), f in list(zip(rows, dumps[-len(rows):]))[0:3:2]:
            ann = subprocess.run(["callgrind_annotate", "--inclusive=no", "--threshold=100", os.path.join(TMP, f)],
                                 capture_output=True, text=True, timeout=120).stdout
            text.append("callgrind, %s: top functions by own instructions per request (of %s)" %
                        (name, "{:,.0f}".format(next(r[2] for r in result if r[0] == name))))
            shown = 0
            for line in ann.splitlines():
                m = re.match(r"\s*([\d,]+) \(\s*([\d.]+)%\)\s+(.*?):(\S+) \[(.*)\]$", line)
                if not m or m.group(4) in ("clone", "start_thread") or shown == 12:
                    continue
                shown += 1
                lib_name = os.path.basename(m.group(5)).split(".so")[0]
                text.append("  %9s %5s%%  %s [%s]" % ("{:,.0f}".format(int(m.group(1).replace(",", "")) / n),
                                                       m.group(2), m.group(4), lib_name))
        return result, "\n".join(text)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


# ---------------------------------------------------------------- the run
def bench_tenant(port, name, listed=0):
    """A tenant with a partner under an active agreement (referrals can be submitted for it) and
    `listed` more partners. -> pgbench variables (tenant, pid, keyid, ...) and the key."""
    tenant, key = lib.new_tenant(name)
    prefix = key[:15]
    c = lib.Client(port, key)
    pid = c.post("/v1/partners", {"name": "Read Me", "company": "Bench Co", "tags": ["a"]}).json["id"]
    for i in range(listed):
        c.post("/v1/partners", {"name": "Listed %d" % i, "company": "Bench Co", "tags": ["a"]})
    a = c.post("/v1/agreements", {"partner_id": pid, "direction": "inbound", "starts_on": "2026-01-01",
                                  "terms": {"compensation": {"model": "percentage", "rate_bps": 1000}}}).json
    c.post("/v1/agreements/%s/sign" % a["id"], {"party": "vendor", "signer_name": "V"})
    c.post("/v1/agreements/%s/sign" % a["id"], {"party": "partner", "signer_name": "P"})
    keyid = lib.psql("SELECT id FROM api_keys WHERE prefix = '%s'" % prefix)
    return {"prefix": prefix, "hash": hashlib.sha256(key.encode()).hexdigest(), "tenant": tenant, "pid": pid,
            "keyid": keyid, "body": BODY, "limit": "51"}, key


def main():
    srv = lib.Server(ALLIED_LOG="warn", **SERVER_ENV)
    pv, key = bench_tenant(srv.port, "bench", listed=59)  # a full list page
    # Statistics, as every database in use has (autovacuum analyses a table after its first fifty
    # or so changes, maybe in the middle of a run): a table never analysed is planned otherwise
    # (a list page's statement got generic plans before its first ANALYZE, custom ones after).
    lib.psql("ANALYZE")
    tenant, pid = pv["tenant"], pv["pid"]
    c = lib.Client(srv.port, key)
    peer = start_peer()
    if peer and c.get("/v1/partners/" + pid).status == 200:
        r = lib.Client(peer[1], key).get("/v1/partners/" + pid)
        if r.status != 200:
            say("peer: skipped (GET answered %d: %s)" % (r.status, r.body[:200]))
            peer[0].kill()
            peer = None
    say("allied bench: wrk %d connections, pgbench %d clients, %ds per run (the first three rows: %d rounds of %ds), "
        "ALLIED_THREADS=%s ALLIED_DB_POOL=%s ALLIED_TENANT_WORKERS=%s; peer %s" % (
            CONNS, PG_CLIENTS, SECONDS, ROUNDS, ROUND_SECONDS, SERVER_ENV.get("ALLIED_THREADS", "default"),
            SERVER_ENV.get("ALLIED_DB_POOL", "default"), SERVER_ENV.get("ALLIED_TENANT_WORKERS", "default"),
            "on" if peer else "off"))

    # Warm-up, not recorded: pools connect, Node compiles its hot paths.
    for port in [srv.port] + ([peer[1]] if peer else []):
        wrk(port, "/v1/partners/" + pid, key, seconds=min(2, SECONDS))
    rows = []
    pgss = pgss_ready()

    def allied(path, lua=None, seconds=None):
        if pgss:
            lib.psql("SELECT pg_stat_statements_reset()")
        s0, t0, r0 = metrics(srv.port)
        res = wrk(srv.port, path, key, lua, seconds)
        s1, t1, r1 = metrics(srv.port)
        res["stmts"] = (s1 - s0) / (r1 - r0) if s0 is not None and r1 > r0 else None
        res["trips"] = (t1 - t0) / (r1 - r0) if t0 is not None and r1 > r0 else res["stmts"]
        res["exec_ms"] = float(lib.psql(PGSS_EXEC)) / (r1 - r0) if pgss and r1 > r0 else None
        return res

    def row(name, a_res, peer_res, pg_res, one_res, mirror_steps):
        rows.append({"name": name, "allied": a_res, "peer": peer_res, "pg": pg_res, "one": one_res,
                     "mirror": mirror.statements(mirror_steps) if mirror_steps else None})
        say("  done: %s" % name)

    post_lua = lua_file("post", 'wrk.method = "POST"\nwrk.body = %s\nwrk.headers["Content-Type"] = "application/json"\n'
                        % json.dumps(BODY))
    r = ROUND_SECONDS
    one = ("one read", lambda: pgbench(mirror.ONE_READ, pv, one_read_tenant=tenant, seconds=r))
    get = "/v1/partners/" + pid
    got = paired([("allied", lambda: allied(get, seconds=r))]
                 + ([("peer", lambda: wrk(peer[1], get, key, seconds=r))] if peer else [])
                 + [("pgbench", lambda: pgbench(mirror.GET_PARTNER, pv, seconds=r)), one])
    row("GET /v1/partners/{id}", got["allied"], got.get("peer"), got["pgbench"], got["one read"], mirror.GET_PARTNER)
    got = paired([("allied", lambda: allied("/v1/partners?limit=50", seconds=r)),
                  ("pgbench", lambda: pgbench(mirror.LIST_PARTNERS, pv, seconds=r)), one])
    row("GET /v1/partners?limit=50", got["allied"], None, got["pgbench"], got["one read"], mirror.LIST_PARTNERS)
    got = paired([("allied", lambda: allied("/v1/partners", post_lua, seconds=r))]
                 + ([("peer", lambda: wrk(peer[1], "/v1/partners", key, post_lua, seconds=r))] if peer else [])
                 + [("pgbench", lambda: pgbench(mirror.POST_PARTNER, pv, seconds=r))])
    row("POST /v1/partners", got["allied"], got.get("peer"), got["pgbench"], None, mirror.POST_PARTNER)

    # Referrals: submissions, then each workflow step over the submitted ones.
    submit = allied("/v1/referrals", submit_lua("main", [(pv, key)]))
    check_submitted("main", submit, submitted("main"))
    row("POST /v1/referrals", submit, None, pgbench(mirror.SUBMIT, pv), None, mirror.SUBMIT)
    step_rates = [submit["rps"]]
    for action, body, steps, status in (("acknowledge", "nil", mirror.ACKNOWLEDGE, "submitted"),
                                        ("engage", "'{\"stage\":\"demo\"}'", mirror.ENGAGE, "acknowledged"),
                                        ("win", "'{\"deal\":{\"amount\":100000,\"currency\":\"EUR\"}}'", mirror.WIN,
                                         "engaged")):
        # Only the referrals the previous step reached: each request is a real transition.
        ids = os.path.join(TMP, action + ".ids")
        with open(ids, "w") as fh:
            fh.write(lib.psql("SELECT id FROM referrals WHERE tenant_id = '%s' AND status = '%s' ORDER BY id"
                              % (tenant, status)) + "\n")
        res = allied("/v1/referrals", lua_file(action, 'IDS = "%s"\n' % ids + WRK_ACTION % (action, body)))
        row("POST .../%s" % action, res, None, None, None, steps)
        step_rates.append(res["rps"])
    wf = {"rps": 1 / sum(1 / r for r in step_rates), "p50": None, "p99": None, "bad": 0,
          "stmts": sum(r["allied"]["stmts"] or 0 for r in rows[-4:]),
          "trips": sum(r["allied"]["trips"] or 0 for r in rows[-4:]),
          "exec_ms": sum(r["allied"]["exec_ms"] or 0 for r in rows[-4:]) if pgss else None}
    row("workflow (4 requests)", wf, None, pgbench(mirror.WORKFLOW, pv), None, mirror.WORKFLOW)
    spread = feed_counter_spread(srv, pv, key) if os.environ.get("BENCH_SPREAD", "1") != "0" else None
    rss = rss_kib(srv.proc.pid)
    srv.stop()
    if peer:
        peer[0].send_signal(signal.SIGTERM)
        peer[0].wait(10)

    say("measuring instructions per request under callgrind ...")
    cg, cg_text = callgrind(key, pid)
    report(rows, rss, cg, cg_text)
    report_spread(spread)
    shutil.rmtree(TMP, ignore_errors=True)


# ---------------------------------------------------------------- one tenant or several
# Submissions (each appends to the tenant's feed, whose counter row is locked from the append to
# the commit) by the same connections, all for one tenant or spread over SPREAD tenants round-robin.
SPREAD = PG_CLIENTS


def pgbench_each(steps, tenants):
    """One single-client pgbench per entry of `tenants` (pgbench variables), all at once: the same
    database concurrency however many tenants they name. -> the summed tps."""
    script = os.path.join(TMP, "spread.sql")
    with open(script, "w") as fh:
        fh.write(mirror.pgbench_script(steps))
    procs = []
    for v in tenants:
        args = [PGBENCH, "-n", "-M", "prepared", "-c", "1", "-T", str(SECONDS), "-f", script]
        for k, val in v.items():
            args += ["-D", "%s=%s" % (k, val)]
        procs.append(subprocess.Popen(args + [URL], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                      env=dict(os.environ, PGOPTIONS="-c role=allied_app")))
    tps = 0.0
    for p in procs:
        out, err = p.communicate(timeout=SECONDS + 60)
        m = re.search(r"tps = ([\d.]+)", out)
        if not m:
            raise RuntimeError("pgbench failed: " + out + err[-2000:])
        tps += float(m.group(1))
    return tps


def feed_counter_spread(srv, pv, key):
    """-> {"one": (allied r/s, allied non-2xx, pgbench tps), "spread": (...)}: submissions for one
    tenant, then spread over SPREAD tenants."""
    others = [bench_tenant(srv.port, "bench spread %d" % i) for i in range(SPREAD - 1)]
    out = {}
    for name, group in (("one", [(pv, key)] * SPREAD), ("spread", [(pv, key)] + others)):
        a = wrk(srv.port, "/v1/referrals", key, submit_lua(name, group))
        check_submitted(name, a, submitted(name))
        out[name] = (a["rps"], a["bad"], pgbench_each(mirror.SUBMIT, [v for v, _ in group]))
        say("  done: submissions, %s" % ("one tenant" if name == "one" else "%d tenants" % SPREAD))
    return out


def report_spread(spread):
    if not spread:
        return
    say("")
    say("Submissions (each appends to its tenant's feed) by the same clients: one tenant, or %d tenants round-robin"
        % SPREAD)
    head = "%-12s | %9s %9s | %9s" % ("tenants", "allied", "non-2xx", "pgbench")
    say(head)
    say("-" * len(head))
    for name in ("one", "spread"):
        a, bad, g = spread[name]
        say("%-12s | %9.0f %9d | %9.0f" % ("1" if name == "one" else str(SPREAD), a, bad, g))
    say("allied: wrk %d connections, each request with the next tenant's key; pgbench: %d single-client runs at once "
        "of the submission's SQL (tests/bench/mirror.py), each for its tenant. spread/one: allied %.2f, pgbench %.2f"
        % (CONNS, SPREAD, spread["spread"][0] / spread["one"][0], spread["spread"][2] / spread["one"][2]))


def paired(contenders):
    """Runs each (name, run) of `contenders` once per round, the order reversed every other round
    (a drift then weighs on both sides alike). -> {name: the rounds' results combined}."""
    got = {name: [] for name, _ in contenders}
    for i in range(ROUNDS):
        for name, run in (contenders if i % 2 == 0 else contenders[::-1]):
            got[name].append(run())
    return {name: combine(results) for name, results in got.items()}


def combine(results):
    """Rounds of one contender: medians of r/s and latencies, non-2xx summed, costs averaged; the
    rounds' r/s kept in "rounds" for the paired ratios."""
    out = {"rps": statistics.median(r["rps"] for r in results), "p50": statistics.median(r["p50"] for r in results),
           "p99": statistics.median(r["p99"] for r in results), "bad": sum(r["bad"] for r in results),
           "errors": "; ".join(r["errors"] for r in results if r.get("errors")), "rounds": [r["rps"] for r in results]}
    for k in ("stmts", "trips", "exec_ms"):
        vals = [r[k] for r in results if r.get(k) is not None]
        out[k] = sum(vals) / len(vals) if vals else None
    return out


def ratios(a, x):
    """Allied's rate over x's: per round when both ran in rounds -> (median, lowest, highest)."""
    if not x or not x.get("rps"):
        return None
    if a.get("rounds") and x.get("rounds") and len(a["rounds"]) == len(x["rounds"]):
        per = [ai / xi for ai, xi in zip(a["rounds"], x["rounds"]) if xi]
        return statistics.median(per), min(per), max(per)
    return a["rps"] / x["rps"], None, None


def fmt(v, spec="%.0f"):
    return "-" if v is None else spec % v


def report(rows, rss, cg, cg_text):
    say("")
    say("Throughput and latency (r/s; p50 and p99 in ms; pgbench's r/s is transactions/s of the mirrored SQL)")
    head = "%-26s | %7s %6s %6s | %7s %6s %6s | %7s %6s %6s | %8s %8s %8s" % (
        "route", "allied", "p50", "p99", "peer", "p50", "p99", "pgbench", "p50", "p99", "A/peer", "A/pgb", "A/1read")
    say(head)
    say("-" * len(head))
    for r in rows:
        a, p, g, o = r["allied"], r["peer"] or {}, r["pg"] or {}, r["one"] or {}
        ratio = lambda x: "%.2f" % ratios(a, x)[0] if x.get("rps") else "-"  # noqa: E731
        say("%-26s | %7.0f %6s %6s | %7s %6s %6s | %7s %6s %6s | %8s %8s %8s" % (
            r["name"], a["rps"], fmt(a["p50"], "%.2f"), fmt(a["p99"], "%.2f"),
            fmt(p.get("rps")), fmt(p.get("p50"), "%.2f"), fmt(p.get("p99"), "%.2f"),
            fmt(g.get("rps")), fmt(g.get("p50"), "%.2f"), fmt(g.get("p99"), "%.2f"),
            ratio(p), ratio(g), ratio(o)))
    bad = ["%s: allied %d%s%s" % (r["name"], r["allied"]["bad"],
                                  ", peer %d" % r["peer"]["bad"] if r["peer"] else "",
                                  ", pgbench failed %d" % r["pg"]["bad"] if r["pg"] else "")
           for r in rows if r["allied"]["bad"] or (r["peer"] or {}).get("bad") or (r["pg"] or {}).get("bad")]
    if bad:
        say("non-2xx answers / failed transactions: " + "; ".join(bad))
    one = rows[0]["one"]
    say("A/1read: Allied over pgbench running the handler's single SELECT alone (%.0f tps, p50 %.2f ms)" %
        (one["rps"], one["p50"]) if one else "")
    say("workflow = 1 / (sum of 1/rate of its four steps); pgbench runs the four transactions as one script")
    say("Rows measured in %d rounds of %d s (r/s and latencies: the rounds' medians; each ratio: the median of "
        "the rounds' ratios, lowest-highest):" % (ROUNDS, ROUND_SECONDS))
    for r in rows:
        if not r["allied"].get("rounds"):
            continue
        parts = []
        for label, x in (("A/peer", r["peer"]), ("A/pgb", r["pg"]), ("A/1read", r["one"])):
            q = ratios(r["allied"], x)
            if q and q[1] is not None:
                parts.append("%s %.2f (%.2f-%.2f)" % (label, q[0], q[1], q[2]))
        say("  %-26s %s; allied r/s by round %s" % (r["name"], ", ".join(parts),
                                                     " ".join("%.0f" % v for v in r["allied"]["rounds"])))
    say("Allied peak RSS (VmHWM): %.1f MiB" % (rss / 1024))
    say("")
    say("Cost per request")
    cgd = {name: (n, ins) for name, n, ins in (cg or [])}
    head = "%-26s | %9s %9s %7s | %9s | %12s" % ("route", "trips/req", "stmts/req", "mirror", "db ms/req",
                                                  "instr/req")
    say(head)
    say("-" * len(head))
    for r in rows:
        ins = cgd.get(r["name"])
        say("%-26s | %9s %9s %7s | %9s | %12s" % (r["name"], fmt(r["allied"]["trips"], "%.2f"),
                                                  fmt(r["allied"]["stmts"], "%.2f"), fmt(r["mirror"], "%d"),
                                              fmt(r["allied"]["exec_ms"], "%.3f"),
                                              "{:,.0f}".format(ins[1]) if ins else "-"))
    say("trips/req, stmts/req: round trips to PostgreSQL and statements sent per request under load (the "
        "allied_db_round_trips_total and allied_db_statements_total counters over allied_http_requests_total; "
        "without a round-trip counter every statement is its own round trip). mirror: statements in the pgbench "
        "script (tests/bench/mirror.py); a difference from stmts/req means the mirror is stale.")
    say("db ms/req: PostgreSQL's execution time per request under load, from pg_stat_statements (top level, "
        "BEGIN/COMMIT left out: PostgreSQL 15 counts a prepared one only once per connection)")
    if cg:
        say("instr/req: valgrind --tool=callgrind, whole server process, one keep-alive client, after a warm-up: "
            + ", ".join("%s x%d" % (name, n) for name, n, _ in cg) + "; mix total %s per request" %
            "{:,.0f}".format(sum(n * i for _, n, i in cg) / sum(n for _, n, _ in cg)))
    say(cg_text)


if __name__ == "__main__":
    main()
