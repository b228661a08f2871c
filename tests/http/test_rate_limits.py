"""Rate limits per key and per tenant, the minute budget shared by instances, and the throttle on
failed authentication. Each test starts its own server with tiny limits (ALLIED_RATE_* and
ALLIED_AUTH_FAILURES_* environment variables), so the shared test server is not disturbed."""
import os
import re
import subprocess
import time

from lib import test, expect, expect_status, expect_problem, new_tenant, psql, hold_lock, wait_until, Client, Server, PSQL, BIN

# Limits no test reaches (failure throttles off), except the one a test sets.
WIDE = {"ALLIED_RATE_KEY_PER_SECOND": 1000, "ALLIED_RATE_KEY_BURST": 10000,
        "ALLIED_RATE_TENANT_PER_SECOND": 1000, "ALLIED_RATE_TENANT_BURST": 10000,
        "ALLIED_RATE_TENANT_PER_MINUTE": 1000000, "ALLIED_AUTH_FAILURES_PER_ADDRESS": 0,
        "ALLIED_AUTH_FAILURES_PER_PREFIX": 0}

ITEM = re.compile(r'^"([a-z-]+)"((?:;[a-z]+=[0-9]+)+)$')


def sf_list(value):
    """Parses a RateLimit / RateLimit-Policy structured-field list: {name: {param: int}}."""
    out = {}
    for item in value.split(","):
        m = ITEM.match(item.strip())
        expect(m, "not a structured-field item: %r in %r", item, value)
        out[m.group(1)] = {k: int(v) for k, v in (p.split("=") for p in m.group(2)[1:].split(";"))}
    return out


def server(**limits):
    env = dict(WIDE)
    env.update(limits)
    return Server(**env)


def staff_key(c):
    r = c.post("/v1/api-keys", {"role": "staff", "name": "second"})
    expect_status(r, 201)
    return r.json["key"]


def expect_429(r, slug):
    expect_problem(r, 429, slug)
    ra = r.h("retry-after")
    expect(ra and ra.isdigit() and int(ra) >= 1, "Retry-After %r", ra)
    return int(ra)


def outside_minute_edge():
    """Budget tests count within one wall-clock minute: do not start in its last seconds."""
    left = 60 - time.time() % 60
    if left < 8:
        time.sleep(left + 0.2)  # the subject is the wall-clock minute: start the test in the next one


@test
def rate_headers_everywhere(ctx):
    """every authenticated response carries RateLimit-Policy and RateLimit (errors too); 401 and public endpoints do not"""
    with Server() as srv:  # the defaults
        headers_on_every_response(srv)


def headers_on_every_response(srv):
    outside_minute_edge()
    c = Client(srv.port, new_tenant("rl headers")[1])
    r = c.get("/v1/partners")
    expect_status(r, 200)
    pol = sf_list(r.h("ratelimit-policy") or "")
    expect(pol == {"key": {"q": 100, "w": 2}, "tenant": {"q": 200, "w": 2},
                   "tenant-minute": {"q": 6000, "w": 60}}, "defaults: %r", pol)
    now = sf_list(r.h("ratelimit") or "")
    expect(set(now) == set(pol), "%r", now)
    expect(now["key"]["r"] == 99 and 0 <= now["key"]["t"] <= 1, "%r", now)
    expect(now["tenant"]["r"] == 199, "%r", now)
    expect(now["tenant-minute"]["r"] <= 5999 and 1 <= now["tenant-minute"]["t"] <= 60, "%r", now)
    ro = c.post("/v1/api-keys", {"role": "readonly"}).json["key"]
    for resp in (c.get("/v1/partners/00000000-0000-0000-0000-000000000000"),  # 404
                 c.post("/v1/partners", {"nope": 1}),                          # 400
                 Client(srv.port, ro).post("/v1/partners", {"name": "No"}),    # 403
                 c.post("/v1/partners", {"name": "Counted"})):                 # 201
        expect(resp.status in (201, 400, 403, 404), "%r", resp)
        expect(resp.h("ratelimit-policy") and resp.h("ratelimit"), "no headers on %r: %r", resp, resp.headers)
    later = sf_list(c.get("/v1/partners").h("ratelimit"))
    # the buckets refill at 50/s and 100/s, so only the minute budget surely went down by now
    expect(later["tenant-minute"]["r"] == now["tenant-minute"]["r"] - 6, "%r then %r", now, later)
    for resp in (Client(srv.port).get("/v1/partners"), Client(srv.port).get("/healthz")):
        expect(resp.h("ratelimit") is None and resp.h("ratelimit-policy") is None, "%r", resp.headers)


@test
def key_rate_limit(ctx):
    """a key over its rate limit gets 429 rate-limited with Retry-After and RateLimit r=0; another key of the tenant is unaffected"""
    with server(ALLIED_RATE_KEY_PER_SECOND=1, ALLIED_RATE_KEY_BURST=3) as srv:
        c = Client(srv.port, new_tenant("rl key")[1])
        other = Client(srv.port, staff_key(c))  # the admin key's first request
        seen = [c.get("/v1/partners") for _ in range(4)]
        expect([r.status for r in seen[:2]] == [200, 200], "%r", seen)
        r = seen[-1] if seen[-1].status == 429 else c.get("/v1/partners")
        expect_429(r, "rate-limited")
        expect(sf_list(r.h("ratelimit-policy"))["key"] == {"q": 3, "w": 3}, "%r", r.headers)
        state = sf_list(r.h("ratelimit"))
        expect(state["key"]["r"] == 0 and state["key"]["t"] >= 1, "%r", state)
        expect(set(state) == {"key", "tenant", "tenant-minute"}, "policies on the 429: %r", state)
        expect("detail" in r.json and "API key" in r.json["detail"], "%r", r.json)
        expect_status(other.get("/v1/partners"), 200)
        time.sleep(int(r.h("retry-after")) + 0.1)  # the subject: once Retry-After has passed, the key may call again
        expect_status(c.get("/v1/partners"), 200)


@test
def tenant_rate_limit(ctx):
    """a tenant over its rate limit gets 429 on all its keys while another tenant is unaffected"""
    with server(ALLIED_RATE_TENANT_PER_SECOND=1, ALLIED_RATE_TENANT_BURST=4) as srv:
        a = Client(srv.port, new_tenant("rl tenant a")[1])
        a2 = Client(srv.port, staff_key(a))  # 1 of 4
        b = Client(srv.port, new_tenant("rl tenant b")[1])
        got = [x.get("/v1/partners").status for x in (a, a2, a, a2, a, a2)]
        expect(got.count(429) >= 2 and got[0] == 200, "%r", got)
        r = a2.get("/v1/partners")
        expect_429(r, "rate-limited")
        expect(sf_list(r.h("ratelimit"))["tenant"]["r"] == 0, "%r", r.headers)
        expect(sf_list(r.h("ratelimit-policy"))["tenant"] == {"q": 4, "w": 4}, "%r", r.headers)
        for _ in range(3):
            expect_status(b.get("/v1/partners"), 200)


@test
def failed_auth_throttled_per_address(ctx):
    """after N failed authentications from one address it gets 429 auth-throttled without a database lookup, but a key that authenticated recently still works"""
    srv = server(ALLIED_AUTH_FAILURES_PER_ADDRESS=5, ALLIED_KEY_CACHE_SIZE=0,  # every good key is looked up
                 ALLIED_LOCK_TIMEOUT_MS=10000)
    locker = None
    try:
        good = new_tenant("rl address")[1]
        expect_status(Client(srv.port, good).get("/v1/partners"), 200)
        for i in range(5):
            expect_problem(Client(srv.port, "ak_%012x_%s" % (i, "A" * 43)).get("/v1/partners"), 401, "unauthorized")
        # While api_keys is locked a key lookup would wait: the throttled answers must all come
        # while the lock is still held (ordering, not timing).
        locker = hold_lock("LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE", 3)
        for i in range(20):
            r = Client(srv.port, "ak_%012x_%s" % (100 + i, "B" * 43)).get("/v1/partners")
            ra = expect_429(r, "auth-throttled")
            expect(ra <= 60, "Retry-After %d", ra)
        expect_429(Client(srv.port, "garbage").get("/v1/partners"), "auth-throttled")
        expect(locker.poll() is None, "the throttled answers came only after the lock was released")
        # the lock was real: the known key's lookup waits for it, and it is not held back
        r = Client(srv.port, good).get("/v1/partners")
        expect_status(r, 200)
        # (the holder's lock, not its process: psql may still be exiting after its COMMIT)
        held = psql("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                    "WHERE c.relname = 'api_keys' AND l.mode = 'AccessExclusiveLock' AND l.granted")
        expect(held == "0", "the lookup did not wait for the lock: the proof above proves nothing")
        # without a key there is nothing to guess: still a plain 401
        expect_problem(Client(srv.port).get("/v1/partners"), 401, "unauthorized")
    finally:
        if locker:
            locker.wait(30)
        srv.stop()


@test
def failed_auth_throttled_per_prefix(ctx):
    """after N wrong secrets for one key prefix that prefix gets 429 auth-throttled; other keys are unaffected"""
    with server(ALLIED_AUTH_FAILURES_PER_PREFIX=3) as srv:
        admin = Client(srv.port, new_tenant("rl prefix")[1])
        victim = staff_key(admin)
        for i in range(3):
            expect_problem(Client(srv.port, victim[:16] + "%043d" % i).get("/v1/partners"), 401, "unauthorized")
        r = Client(srv.port, victim[:16] + "%043d" % 9).get("/v1/partners")
        expect_429(r, "auth-throttled")
        expect("key" in r.json.get("detail", ""), "%r", r.json)
        # the prefix is held back whatever the secret (a guesser learns nothing), other keys are not
        expect_429(Client(srv.port, victim).get("/v1/partners"), "auth-throttled")
        expect_status(admin.get("/v1/partners"), 200)


# For shared_minute_budget: which session wrote which count (each instance flushes on its own
# connection), so the test can wait for the flush it needs instead of sleeping. Removed afterwards.
BUDGET_LOG = """
CREATE TABLE test_rate_budget_log (tenant_id uuid, pid int, old_used bigint, new_used bigint);
CREATE FUNCTION test_rate_budget_log() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
  INSERT INTO test_rate_budget_log VALUES (NEW.tenant_id, pg_backend_pid(), OLD.used, NEW.used);
  RETURN NULL;
END $$;
CREATE TRIGGER test_rate_budget_log AFTER UPDATE ON rate_budget FOR EACH ROW EXECUTE FUNCTION test_rate_budget_log();
"""


@test
def shared_minute_budget(ctx):
    """two instances on one database share a tenant's minute budget: once the sum is used up both refuse it until the minute ends"""
    outside_minute_edge()
    env = {"ALLIED_RATE_TENANT_PER_MINUTE": 10, "ALLIED_RATE_FLUSH_MS": 100}
    psql(BUDGET_LOG)
    s1, s2 = server(**env), server(**env)
    try:
        tid, key = new_tenant("rl budget")
        b_tid, b_key = new_tenant("rl budget other")
        a, b = Client(s1.port, key), Client(s2.port, key)

        def used():
            return int(psql("SELECT set_config('allied.tenant_id', '%s', false); SELECT coalesce(sum(used), 0) "
                            "FROM rate_budget WHERE tenant_id = '%s'" % (tid, tid)).splitlines()[-1])
        for _ in range(6):
            expect_status(a.get("/v1/partners"), 200)
        wait_until(lambda: used() == 6, lambda: "instance 1 did not flush its 6: %d" % used())
        expect_status(b.get("/v1/partners"), 200)  # 7: instance 2 then learns the sum
        # a flush adds its count and reads back the sum in one statement: 7 is instance 2's flush
        wait_until(lambda: used() == 7, lambda: "instance 2 did not flush its 1: %d" % used())
        statuses = [b.get("/v1/partners").status for _ in range(4)]
        expect(statuses == [200, 200, 200, 429], "instance 2 after 7 of 10: %r", statuses)
        # instance 1 learns the sum by flushing a count of 0: wait for one of its flushes that read 10
        # (each flush's session is in the log: the one that brought the sum to 10 was instance 2's)
        wait_until(lambda: psql("SELECT count(*) FROM test_rate_budget_log WHERE tenant_id = '%s' AND old_used = 10 "
                                "AND new_used = 10 AND pid NOT IN (SELECT pid FROM test_rate_budget_log WHERE "
                                "tenant_id = '%s' AND old_used < 10 AND new_used = 10)" % (tid, tid)) != "0",
                   lambda: "instance 1 did not read the sum back: %s" %
                   psql("SELECT string_agg(pid || ':' || old_used || '->' || new_used, ' ') FROM test_rate_budget_log"))
        r = a.get("/v1/partners")  # instance 1 counted only 6 itself
        ra = expect_429(r, "rate-limited")
        expect(ra <= 60, "Retry-After %d", ra)
        state = sf_list(r.h("ratelimit"))
        expect(state["tenant-minute"]["r"] == 0 and 1 <= state["tenant-minute"]["t"] <= 60, "%r", state)
        expect(sf_list(r.h("ratelimit-policy"))["tenant-minute"] == {"q": 10, "w": 60}, "%r", r.headers)
        expect(used() == 10, "rate_budget says %d", used())
        expect_status(Client(s2.port, b_key).get("/v1/partners"), 200)  # another tenant
    finally:
        s1.stop()
        s2.stop()
        psql("DROP TRIGGER test_rate_budget_log ON rate_budget; DROP FUNCTION test_rate_budget_log(); "
             "DROP TABLE test_rate_budget_log")


@test
def budget_flush_backs_off(ctx):
    """with PostgreSQL down the budget flush logs the outage once, backs off, and logs the recovery once"""
    pgdir = os.environ.get("ALLIED_TEST_PGDIR")
    if not pgdir:
        return  # external database: we do not stop it
    with server(ALLIED_RATE_FLUSH_MS=50) as srv:
        c = Client(srv.port, new_tenant("rl outage")[1])
        expect_status(c.get("/v1/partners"), 200)
        subprocess.run(["sh", "scripts/pg.sh", "stop", pgdir], check=True, capture_output=True)
        try:
            time.sleep(3)  # the subject: an outage many flush intervals long, to see the flush log it once
        finally:
            subprocess.run(["sh", "scripts/pg.sh", "start", pgdir], check=True, capture_output=True)

        def recovered():
            c.get("/v1/partners")  # something to flush
            return "counts are shared again" in srv.log_text()
        wait_until(recovered, "the budget flush did not log its recovery", 20)
        log = srv.log_text()
        down = log.count("rate budget: cannot reach the database")
        up = log.count("counts are shared again")
        expect(down == 1 and up == 1, "outage logged %d times, recovery %d times", down, up)


@test
def rate_limits_documented(ctx):
    """README lists every rate-limit variable with the default `allied --help` prints"""
    out = subprocess.run([BIN, "--help"], capture_output=True, text=True, timeout=30).stdout
    opts = re.findall(r"^  (ALLIED_(?:RATE|AUTH_FAILURES)_[A-Z_]+) .*\(default: ([^)]*)\)$", out, re.M)
    expect(len(opts) == 8, "options in --help: %r", opts)
    readme = open("README.md").read()
    section = readme.split("## Running a shared instance safely", 1)[-1].split("\n## ", 1)[0]
    expect("### Rate limits" in section, "no Rate limits subsection")
    for name, default in opts:
        expect("| `%s` | `%s` |" % (name, default) in readme, "README configuration table: %s %s", name, default)
        expect("`%s`" % name in section, "not in Running a shared instance safely: %s", name)
