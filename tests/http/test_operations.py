"""Operations: the route table matches openapi.yaml, migrations under concurrency, row-level
security, graceful drain, and recovery when PostgreSQL restarts. Runs last (it restarts the DB)."""
import os
import re
import shutil
import subprocess
import threading
import time
from lib import (test, expect, expect_status, expect_problem, new_tenant, psql, wait_for_session, wait_until, Client,
                 Server, BIN, refused_at_start)

PSQL = shutil.which("psql") or "/usr/lib/postgresql/15/bin/psql"
URL = os.environ.get("DATABASE_URL", "")


def psql(sql, url=URL, check=True):
    out = subprocess.run([PSQL, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
                         capture_output=True, text=True, timeout=60)
    if check and out.returncode != 0:
        raise RuntimeError(out.stderr)
    return out.stdout.strip()


def openapi_routes():
    lines = open("openapi.yaml").read().splitlines()
    routes, path, in_paths = set(), None, False
    for line in lines:
        if re.match(r"^paths:\s*$", line):
            in_paths = True
            continue
        if in_paths and re.match(r"^\S", line):
            in_paths = False
        if not in_paths:
            continue
        m = re.match(r"^  (/\S*):\s*$", line)
        if m:
            path = m.group(1).strip("'\"")
            continue
        m = re.match(r"^    (get|post|put|patch|delete):\s*$", line)
        if m and path:
            routes.add((m.group(1).upper(), path))
    return routes


@test
def routes_match_openapi(ctx):
    """every route is in openapi.yaml and every openapi.yaml operation is routed"""
    out = subprocess.run([BIN, "routes"], capture_output=True, text=True).stdout
    table = {tuple(l.split()[:2]) for l in out.splitlines() if l.strip()}
    spec = openapi_routes()
    expect(table == spec, "only in code: %r; only in openapi.yaml: %r", sorted(table - spec), sorted(spec - table))


@test
def concurrent_migrations(ctx):
    """four `allied migrate` at once on a fresh database apply each migration exactly once"""
    if "/allied?" not in URL:
        return  # an external DATABASE_URL: we do not create databases on it
    db = "allied_mig_%d" % os.getpid()
    psql("CREATE DATABASE " + db)
    try:
        url = URL.replace("/allied?", "/%s?" % db)
        env = dict(os.environ, DATABASE_URL=url)
        procs = [subprocess.Popen([BIN, "migrate"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                 for _ in range(4)]
        rcs = [p.wait(60) for p in procs]
        expect(rcs == [0, 0, 0, 0], "exit codes %r", rcs)
        n = psql("SELECT count(*), count(DISTINCT version) FROM schema_migrations", url)
        files = len([f for f in os.listdir("migrations") if f.endswith(".sql")])
        expect(n == "%d|%d" % (files, files), "schema_migrations %s for %d files", n, files)
        shapes = len([f for f in os.listdir("migrations/json") if f.endswith(".sql")])
        n = psql("SELECT count(*) FROM schema_json_shapes", url)
        expect(n == str(shapes), "schema_json_shapes %s for %d files", n, shapes)
    finally:
        psql("DROP DATABASE " + db + " WITH (FORCE)", check=False)


# The last numbered migration that defines a JSON function or row type; since then they live only
# in migrations/json/<resource>.sql (one CREATE OR REPLACE file each, reapplied when changed).
JSON_BASELINE = 15
JSON_DEFINITION = re.compile(r"\b(?:FUNCTION|TYPE)\s+(\w+_json|\w+_doc|api_ts|qualification_score)\b", re.I)


def shape_definitions(url):
    """Every function and composite type of the public schema, as PostgreSQL prints it."""
    return psql("SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p "
                "WHERE p.pronamespace = 'public'::regnamespace AND p.prokind = 'f' ORDER BY 1, 2", url) + \
        psql("SELECT t.typname, string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' "
             "ORDER BY a.attnum) FROM pg_type t JOIN pg_class c ON c.oid = t.typrelid AND c.relkind = 'c' "
             "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
             "WHERE t.typnamespace = 'public'::regnamespace GROUP BY 1 ORDER BY 1", url)


@test
def json_shapes_remigrated(ctx):
    """a fresh database and one migrated, then re-migrated after its JSON shapes changed, have the same functions and types"""
    if "/allied?" not in URL:
        return  # an external DATABASE_URL: we do not create databases on it
    shapes = len([f for f in os.listdir("migrations/json") if f.endswith(".sql")])
    dbs = ["allied_shape_a_%d" % os.getpid(), "allied_shape_b_%d" % os.getpid()]
    urls = [URL.replace("/allied?", "/%s?" % db) for db in dbs]

    def migrate(url):
        out = subprocess.run([BIN, "migrate"], env=dict(os.environ, DATABASE_URL=url), capture_output=True,
                             text=True, timeout=120)
        expect(out.returncode == 0, "migrate failed: %s", out.stderr)
        return out.stderr.count("applied JSON shape ")
    try:
        for db in dbs:
            psql("CREATE DATABASE " + db)
        fresh, old = urls
        expect(migrate(fresh) == shapes, "a fresh database did not get every JSON shape")
        migrate(old)
        expect(migrate(old) == 0, "an unchanged JSON shape was applied again")
        # A database migrated before migrations/json/ existed: the numbered migrations alone.
        psql("DROP TABLE schema_json_shapes", old)
        expect(migrate(old) == shapes, "the JSON shapes were not applied to a database without them")
        # Every file edited (partner.sql and referral.sql drop and re-create their row types).
        psql("UPDATE schema_json_shapes SET sha256 = 'edited'", old)
        expect(migrate(old) == shapes, "changed JSON shapes were not applied again")
        expect(migrate(old) == 0, "JSON shapes were applied again without a change")
        a, b = shape_definitions(fresh), shape_definitions(old)
        expect("partner_doc" in a and "referral_json" in a, "definitions missing: %s", a[:200])
        expect(a == b, "definitions differ between a fresh and a re-migrated database")
        row = ("SELECT partner_json(json_populate_record(null::partners, '{\"id\": \"%s\", \"name\": \"N\", "
               "\"tags\": [\"t\"], \"qualification\": {\"reachable\": true}, \"version\": 2, "
               "\"created_at\": \"2026-01-02T03:04:05.123456Z\"}'))" % "7d0b2f7e-8d2c-4a57-9a0e-1b2c3d4e5f60")
        expect(psql(row, fresh) == psql(row, old), "partner_json differs")
    finally:
        for db in dbs:
            psql("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)", check=False)


@test
def json_shapes_defined_once(ctx):
    """after the baseline migration each JSON function and row type is defined only in its migrations/json/ file"""
    defined = {}
    for f in sorted(os.listdir("migrations/json")):
        for name in JSON_DEFINITION.findall(open(os.path.join("migrations/json", f)).read()):
            defined.setdefault(name.lower(), set()).add(f)
    twice = {n: sorted(fs) for n, fs in defined.items() if len(fs) > 1}
    expect(not twice, "defined in more than one migrations/json/ file: %r", twice)
    for f in sorted(os.listdir("migrations")):
        m = re.match(r"^(\d+)_.*\.sql$", f)
        if not m:
            continue
        names = {n.lower() for n in JSON_DEFINITION.findall(open(os.path.join("migrations", f)).read())}
        if int(m.group(1)) > JSON_BASELINE:
            expect(not names, "%s defines %s: edit migrations/json/ instead", f, sorted(names))
        else:
            missing = sorted(names - set(defined))
            expect(not missing, "%s defines %s, which has no migrations/json/ file", f, missing)


@test
def row_level_security(ctx):
    """as allied_app, tenant rows are invisible without the tenant setting and scoped with it"""
    if psql("SELECT count(*) FROM pg_roles WHERE rolname = 'allied_app'") != "1":
        return  # deployment without the role: nothing to check
    ta, ka = new_tenant("rls A")
    tb, kb = new_tenant("rls B")
    Client(ctx.MAIN.port, ka).post("/v1/partners", {"name": "A"})
    Client(ctx.MAIN.port, kb).post("/v1/partners", {"name": "B"})
    expect(psql("SET ROLE allied_app; SELECT count(*) FROM partners") == "0", "rows visible with no tenant")
    got = psql("SET ROLE allied_app; SELECT set_config('allied.tenant_id', '%s', false); "
               "SELECT string_agg(DISTINCT tenant_id::text, ',') FROM partners" % ta).splitlines()[-1]
    expect(got == ta, "saw tenants %r", got)
    out = subprocess.run([PSQL, "-X", "-At", "-d", URL, "-c", "SET ROLE allied_app; DROP TABLE partners"],
                         capture_output=True, text=True)
    expect(out.returncode != 0, "allied_app could drop a table")


def lock_partner_row(pid):
    """psql holding partner `pid`'s row lock until release_partner_rows(): a request on the row stays
    in flight for as long as a test needs, however slow the machine."""
    locker = subprocess.Popen([PSQL, "-X", "-q", "-d", URL, "-c",
                               "BEGIN; SELECT 1 FROM partners WHERE id = '%s' FOR UPDATE; SELECT pg_sleep(60); COMMIT;" % pid],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_session("wait_event = 'PgSleep'", "the lock holder did not start")
    return locker


def release_partner_rows():
    psql("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE wait_event = 'PgSleep' "
         "AND query LIKE '%FOR UPDATE%'")


@test
def graceful_drain(ctx):
    """SIGTERM stops accepting, lets the in-flight request finish, and exits 0"""
    srv = Server(ALLIED_DRAIN_SECONDS=20)
    c = Client(srv.port, new_tenant("drain")[1])
    p = c.post("/v1/partners", {"name": "Locked"}).json
    locker = lock_partner_row(p["id"])
    result = {}
    t = threading.Thread(target=lambda: result.update(r=c.patch("/v1/partners/" + p["id"], {"name": "after"})))
    try:
        t.start()
        wait_for_session("wait_event_type = 'Lock'", "the PATCH is not waiting for the lock")
        srv.proc.send_signal(15)

        def refused():
            try:
                Client(srv.port).get("/healthz")
                return False
            except OSError:
                return True
        wait_until(refused, "new connections were still accepted while draining")
        expect("r" not in result and t.is_alive(), "the PATCH finished before the lock was released: %r", result)
    finally:
        release_partner_rows()
    if t.is_alive():
        t.join(30)
    locker.wait(30)
    rc = srv.stop()
    expect(result.get("r") is not None and result["r"].status == 200, "in-flight PATCH: %r", result.get("r"))
    expect(rc == 0, "exit code %d", rc)


@test
def drain_time_out_with_requests_in_workers(ctx):
    """when the drain time runs out, queued requests get 503 and the one a worker runs finishes before the daemon stops; exit 0"""
    # The daemon frees every connection's request when it stops, so it may stop only after the
    # workers have let go of theirs (a request freed under a worker was a use-after-free).
    srv = Server(ALLIED_DRAIN_SECONDS=0, ALLIED_DB_POOL=2, ALLIED_LOCK_TIMEOUT_MS=20000)
    c = Client(srv.port, new_tenant("drain-out")[1])
    p = c.post("/v1/partners", {"name": "Locked"}).json
    locker = lock_partner_row(p["id"])
    result = {}

    def call(name, fn):
        try:
            result[name] = fn()
        except OSError as e:  # the daemon may close a connection it had not answered yet
            result[name] = e
    patch = threading.Thread(target=call, args=("patch", lambda: c.patch("/v1/partners/" + p["id"], {"name": "after"})))
    queued = threading.Thread(target=call, args=("get", lambda: c.get("/v1/partners/" + p["id"])))
    try:
        patch.start()
        wait_for_session("wait_event_type = 'Lock'", "the PATCH is not waiting for the lock")
        queued.start()  # the tenant's one worker (pool 2, one spare) is taken: this one queues
        wait_until(lambda: "allied_db_queue_depth 1" in Client(srv.port).get("/metrics").body.decode(),
                   "the GET did not queue")
        srv.proc.send_signal(15)
        queued.join(30)
        expect(patch.is_alive(), "the PATCH ended before its lock was released: %r", result.get("patch"))
    finally:
        release_partner_rows()
    patch.join(30)
    locker.wait(30)
    rc = srv.stop()
    got = result.get("get")
    expect(not isinstance(got, OSError) and got.status == 503 and "shutting down" in got.json["detail"],
           "queued GET: %r", got)
    expect_problem(got, 503, "service-unavailable")
    expect(got.h("retry-after"), "no Retry-After on the shutdown's 503")
    expect(rc == 0, "exit code %d", rc)
    expect("holding a database connection" not in srv.log_text(), "a request completed under a worker")


@test
def survives_postgres_restart(ctx):
    """when PostgreSQL restarts, requests get 503 problem+json during the outage and the server recovers"""
    pgdir = os.environ.get("ALLIED_TEST_PGDIR")
    if not pgdir:
        return  # external database: we do not restart it
    c = Client(ctx.MAIN.port, new_tenant("restart")[1])
    p = c.post("/v1/partners", {"name": "Durable"}).json
    for _ in range(10):  # warm every worker's connection
        c.get("/v1/partners/" + p["id"])
    subprocess.run(["sh", "scripts/pg.sh", "stop", pgdir], check=True, capture_output=True)
    try:
        for _ in range(5):
            r = c.get("/v1/partners/" + p["id"])
            expect_problem(r, 503, "service-unavailable")
            expect(r.h("retry-after"), "no Retry-After")
        expect_problem(Client(ctx.MAIN.port).get("/readyz"), 503)
        expect_status(Client(ctx.MAIN.port).get("/healthz"), 200)
    finally:
        subprocess.run(["sh", "scripts/pg.sh", "start", pgdir], check=True, capture_output=True)
    deadline = time.time() + 20
    ok = 0
    while time.time() < deadline and ok < 20:
        r = c.get("/v1/partners/" + p["id"])
        ok = ok + 1 if r.status == 200 else 0
        if r.status not in (200, 503):
            raise AssertionError("unexpected %r" % r)
    expect(ok >= 20, "did not recover")
    expect_status(c.post("/v1/partners", {"name": "after restart"}), 201)
    expect_status(Client(ctx.MAIN.port).get("/readyz"), 200)


@test
def inline_db_measurement_mode(ctx):
    """ALLIED_BENCH_INLINE_DB (measurement only) is refused at start without ALLIED_TEST_MODE=1, and with it the server answers reads and writes as the pooled one does"""
    lines = refused_at_start(ALLIED_BENCH_INLINE_DB="1")
    expect(len(lines) == 1 and "ALLIED_BENCH_INLINE_DB" in lines[0] and "ALLIED_TEST_MODE" in lines[0], "%r", lines)
    key = new_tenant("inline")[1]
    with Server(ALLIED_TEST_MODE="1", ALLIED_BENCH_INLINE_DB="1") as s:
        c = Client(s.port, key)
        made = [c.post("/v1/partners", {"name": "In %d" % i}) for i in range(3)]
        for r in made:
            expect_status(r, 201)
        expect_status(c.get("/v1/partners/" + made[0].json["id"]), 200)
        page = c.get("/v1/partners?limit=2")
        expect(page.status == 200 and len(page.json["data"]) == 2 and page.json["next_cursor"], "%r", page)
        expect_problem(c.get("/v1/partners/" + made[0].json["id"][:-1] + "x"), 400, "validation-error")
        expect_problem(Client(s.port, key[:-2] + "zz").get("/v1/partners"), 401, "unauthorized")
    expect(s.proc.returncode == 0, "exit %r", s.proc.returncode)
