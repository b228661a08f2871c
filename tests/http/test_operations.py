"""Operations: the route table matches openapi.yaml, migrations under concurrency, row-level
security, graceful drain, and recovery when PostgreSQL restarts. Runs last (it restarts the DB)."""
import os
import re
import shutil
import subprocess
import threading
import time
from lib import test, expect, expect_status, expect_problem, new_tenant, psql, wait_for_session, wait_until, Client, Server, BIN

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
    finally:
        psql("DROP DATABASE " + db + " WITH (FORCE)", check=False)


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


@test
def graceful_drain(ctx):
    """SIGTERM stops accepting, lets the in-flight request finish, and exits 0"""
    srv = Server(ALLIED_DRAIN_SECONDS=20)
    c = Client(srv.port, new_tenant("drain")[1])
    p = c.post("/v1/partners", {"name": "Locked"}).json
    # the row stays locked until this test lets go (it cancels the holder), so the PATCH below is
    # in flight for as long as the test needs, however slow the machine
    locker = subprocess.Popen([PSQL, "-X", "-q", "-d", URL, "-c",
                               "BEGIN; SELECT 1 FROM partners WHERE id = '%s' FOR UPDATE; SELECT pg_sleep(60); COMMIT;" % p["id"]],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    result = {}
    t = threading.Thread(target=lambda: result.update(r=c.patch("/v1/partners/" + p["id"], {"name": "after"})))
    try:
        wait_for_session("wait_event = 'PgSleep'", "the lock holder did not start")
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
        psql("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE wait_event = 'PgSleep' "
             "AND query LIKE '%FOR UPDATE%'")  # lets go of the row
    if t.is_alive():
        t.join(30)
    locker.wait(30)
    rc = srv.stop()
    expect(result.get("r") is not None and result["r"].status == 200, "in-flight PATCH: %r", result.get("r"))
    expect(rc == 0, "exit code %d", rc)


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
