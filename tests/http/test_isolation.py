"""One tenant cannot see or starve another: row-level security as the runtime role, the
authentication function, statement/lock time limits, and the bounded, fair worker queue."""
import hashlib
import subprocess
import threading
import time
from lib import (test, expect, expect_status, expect_problem, new_tenant, Client, Server, psql, parallel, PSQL, tenant_client,
                 hold_lock, wait_for_session)
import os

TENANT_TABLES = ["api_keys", "idempotency_keys", "partners", "feed_counters", "feed_events", "agreements",
                 "referrals", "referral_events", "invoices", "invoice_counters", "commissions", "invoice_lines",
                 "webhook_endpoints", "webhook_deliveries", "webhook_attempts", "commitments", "check_ins",
                 "notifications"]


def as_app(sql, tenant=None):
    """Runs `sql` in one transaction as the server's runtime role, with `tenant` set the way a
    request sets it (transaction-locally)."""
    pre = "BEGIN; SET LOCAL ROLE allied_app; "
    if tenant:
        pre += "SET LOCAL allied.tenant_id = '%s'; " % tenant
    return psql(pre + sql + "; COMMIT;")


def two_busy_tenants(ctx):
    """Two tenants with a partner, a referral, an idempotent POST and a webhook endpoint each."""
    out = []
    for name in ("iso-a", "iso-b"):
        tid, key = new_tenant(name)
        c = Client(ctx.MAIN.port, key)
        p = c.post("/v1/partners", {"name": "P " + name}, headers={"Idempotency-Key": "k-" + name}).json
        expect_status(c.post("/v1/referrals", {"partner_id": p["id"], "direction": "inbound",
                                               "prospect": {"name": "X"}}), 201)
        out.append((tid, key, c, p))
    return out


def patch_stuck_on_lock(client, pid, seconds):
    """Holds partner `pid`'s row lock for `seconds` and starts a PATCH of it that waits for the lock
    (holding a database worker); returns (holder, thread) once the PATCH waits."""
    etag = client.get("/v1/partners/" + pid).h("etag")
    holder = hold_lock("SELECT 1 FROM partners WHERE id = '%s' FOR UPDATE" % pid, seconds)
    patch = threading.Thread(target=lambda: client.patch("/v1/partners/" + pid, {"name": "X"},
                                                         headers={"If-Match": etag}))
    patch.start()
    wait_for_lock_waiter()
    return holder, patch


@test
def forgotten_tenant_filter_still_sees_only_own_rows(ctx):
    """as the runtime role, a query with no tenant filter sees only the current tenant's rows, in every table"""
    (ta, _, _, _), (tb, _, _, _) = two_busy_tenants(ctx)
    counts = lambda cond: " UNION ALL ".join(  # noqa: E731
        "SELECT '%s', count(*) FROM %s%s" % (t, t, cond) for t in TENANT_TABLES)
    for tenant, cond in ((ta, " WHERE tenant_id <> '%s'" % ta), (None, "")):
        for line in as_app(counts(cond), tenant=tenant).splitlines():
            table, n = line.split("|")
            expect(n == "0", "%s: %s rows of another tenant visible (tenant set: %s)" % (table, n, bool(tenant)))
    expect(as_app("SELECT count(*) FROM %s WHERE tenant_id = '%s'" % ("partners", ta), tenant=ta) == "1",
           "tenant A's own partner is not visible")
    expect(as_app("SELECT string_agg(id::text, ',') FROM tenants", tenant=ta) == ta, "tenants leak")
    # Writing into another tenant is refused too.
    r = subprocess.run([PSQL, "-X", "-q", "-At", "-d", os.environ["DATABASE_URL"], "-c",
                        "BEGIN; SET LOCAL ROLE allied_app; SELECT set_config('allied.tenant_id', '%s', true); "
                        "INSERT INTO partners (tenant_id, id, name) VALUES ('%s', gen_random_uuid(), 'x'); COMMIT;"
                        % (ta, tb)], capture_output=True, text=True)
    expect(r.returncode != 0 and "row-level security" in r.stderr, "cross-tenant insert: %r" % r.stderr)


@test
def authentication_function_is_narrow_and_transaction_local(ctx):
    """the runtime role reads api_keys only through allied_authenticate, which sets the tenant for one transaction"""
    tid, key = new_tenant("iso-auth")
    prefix = key[:15]
    good = hashlib.sha256(key.encode()).hexdigest()
    bad = hashlib.sha256(b"not the key").hexdigest()
    got = as_app("SELECT key_tenant FROM allied_authenticate('%s', '%s')" % (prefix, good))
    expect(got == tid, "right secret: %r" % got)
    wrong = as_app("SELECT count(*) FROM allied_authenticate('%s', '%s'); "
                   "SELECT coalesce(current_setting('allied.tenant_id', true), '')" % (prefix, bad))
    expect(wrong.split() == ["0"] or wrong.split("\n") == ["0", ""], "wrong secret: %r" % wrong)
    unknown = as_app("SELECT count(*) FROM allied_authenticate('ak_000000000000', '%s')" % bad)
    expect(unknown == "0", "unknown prefix: %r" % unknown)
    # Set inside one transaction, gone in the next one on the same session.
    out = psql("SET ROLE allied_app; BEGIN; SELECT key_tenant FROM allied_authenticate('%s', '%s'); COMMIT; "
               "SELECT coalesce(current_setting('allied.tenant_id', true), '') = '', "
               "(SELECT count(*) FROM api_keys)" % (prefix, good))
    expect(out.split("\n") == [tid, "t|0"], "tenant setting outlived its transaction: %r" % out)


@test
def wrong_secret_and_unknown_prefix_get_the_same_answer(ctx):
    """a live prefix with a wrong secret is answered exactly like an unknown prefix"""
    _, key = new_tenant("iso-401")
    c = Client(ctx.MAIN.port)
    wrong = key[:16] + ("A" if key[16] != "A" else "B") + key[17:]
    unknown = "ak_000000000000" + key[15:]
    r1, r2 = c.get("/v1/partners", key=wrong), c.get("/v1/partners", key=unknown)
    expect_problem(r1, 401)
    expect_problem(r2, 401)
    strip = lambda j: {k: v for k, v in j.items() if k not in ("instance", "request_id")}  # noqa: E731
    expect(strip(r1.json) == strip(r2.json), "answers differ: %r vs %r" % (r1.json, r2.json))
    expect_status(c.get("/v1/partners", key=key), 200)


def wait_for_lock_waiter():
    """Returns once some session waits for a lock (a request queued behind the holder)."""
    wait_for_session("wait_event_type = 'Lock'", "no request waits for the lock")


@test
def lock_and_statement_limits_answer_503_and_keep_the_connection(ctx):
    """a request stuck on a row lock or over its statement time gets 503 + Retry-After; the connection stays usable"""
    s = Server(ALLIED_DB_POOL=1, ALLIED_LOCK_TIMEOUT_MS=300, ALLIED_STATEMENT_TIMEOUT_MS=5000)
    t = Server(ALLIED_DB_POOL=1, ALLIED_LOCK_TIMEOUT_MS=5000, ALLIED_STATEMENT_TIMEOUT_MS=300)
    try:
        _, key = new_tenant("iso-lock")
        c = Client(s.port, key)
        p = c.post("/v1/partners", {"name": "Locked"}).json
        for srv, why in ((s, "lock"), (t, "statement")):
            holder = hold_lock("SELECT 1 FROM partners WHERE id = '%s' FOR UPDATE" % p["id"], 2)
            r = Client(srv.port, key).patch("/v1/partners/" + p["id"], {"name": "New"},
                                            headers={"If-Match": c.get("/v1/partners/" + p["id"]).h("etag")})
            expect_problem(r, 503, "service-unavailable")
            expect(r.h("retry-after"), "no Retry-After")
            expect(why in r.json["detail"], "detail %r does not say %s" % (r.json["detail"], why))
            # The same (only) connection answers the next request at once.
            expect_status(Client(srv.port, key).get("/v1/partners/" + p["id"]), 200)
            holder.wait()
        expect(Client(s.port, key).get("/v1/partners/" + p["id"]).json["name"] == "Locked", "timed-out write landed")
    finally:
        s.stop()
        t.stop()


@test
def reports_have_their_own_time_budget(ctx):
    """reports may run longer than ordinary requests (ALLIED_REPORT_TIMEOUT_MS)"""
    with Server(ALLIED_DB_POOL=2, ALLIED_STATEMENT_TIMEOUT_MS=300, ALLIED_REPORT_TIMEOUT_MS=10000,
               ALLIED_LOCK_TIMEOUT_MS=10000, ALLIED_TENANT_WORKERS=2) as s:
        c = tenant_client("iso-report", s.port)
        holder = hold_lock("LOCK TABLE commissions IN ACCESS EXCLUSIVE MODE", 1.5)
        r1, r2 = parallel(2, lambda i: c.get("/v1/reports/summary" if i == 0 else "/v1/commissions"))
        holder.wait()
        expect_status(r1, 200)
        expect_problem(r2, 503)


@test
def waiting_for_a_worker_is_bounded(ctx):
    """a request that cannot get a database worker in ALLIED_QUEUE_TIMEOUT_MS gets 503; a full queue refuses at once"""
    with Server(ALLIED_DB_POOL=1, ALLIED_LOCK_TIMEOUT_MS=3000, ALLIED_QUEUE_TIMEOUT_MS=300, ALLIED_QUEUE_MAX=3) as s:
        c = tenant_client("iso-queue", s.port)
        p = c.post("/v1/partners", {"name": "Busy"}).json
        holder, first = patch_stuck_on_lock(c, p["id"], 2)  # it holds the only worker
        rs = parallel(7, lambda i: c.get("/v1/partners"))
        holder.wait()
        first.join()
        waited = [r for r in rs if r.status == 503]
        expect(len(waited) == 7, "statuses %r" % [r.status for r in rs])
        for r in waited:
            expect_problem(r, 503, "service-unavailable")
            expect(r.h("retry-after"), "no Retry-After")
        details = " ".join(r.json["detail"] for r in waited)
        expect("too many requests are waiting" in details and "within 300 ms" in details, details)
        expect_status(c.get("/v1/partners"), 200)


@test
def one_tenant_stuck_on_locks_cannot_starve_another(ctx):
    """while tenant A's requests wait on a lock and fill the queue, tenant B is answered before the lock is released"""
    with Server(ALLIED_DB_POOL=2, ALLIED_LOCK_TIMEOUT_MS=4000) as s:
        _, ka = new_tenant("iso-a-flood")
        _, kb = new_tenant("iso-b-calm")
        a, b = Client(s.port, ka), Client(s.port, kb)
        p = a.post("/v1/partners", {"name": "Hot"}).json
        expect_status(b.get("/v1/partners"), 200)
        etag = a.get("/v1/partners/" + p["id"]).h("etag")
        holder = hold_lock("SELECT 1 FROM partners WHERE id = '%s' FOR UPDATE" % p["id"], 3)
        flood = [threading.Thread(target=lambda: a.patch("/v1/partners/" + p["id"], {"name": "Y"},
                                                         headers={"If-Match": etag})) for _ in range(6)]
        for f in flood:
            f.start()
        wait_for_lock_waiter()
        r = b.get("/v1/partners")
        still_locked = holder.poll() is None
        holder.wait()
        for f in flood:
            f.join()
        expect_status(r, 200)
        expect(still_locked, "tenant B was answered only after tenant A's lock went away")


@test
def a_job_held_back_by_its_tenants_cap_runs_when_a_slot_frees(ctx):
    """with one worker per tenant, a tenant's queued requests run as its slot frees (no wake-up lost), while other tenants use the spare workers"""
    # The pool wakes a worker only for a job its lane can run now; a job held back by the cap is
    # taken by the worker that finishes the lane's running job. A lost wake-up would leave a job
    # queued until ALLIED_QUEUE_TIMEOUT_MS and answer 503.
    with Server(ALLIED_DB_POOL=3, ALLIED_TENANT_WORKERS=1, ALLIED_LOCK_TIMEOUT_MS=5000,
                ALLIED_QUEUE_TIMEOUT_MS=4000) as s:
        _, ka = new_tenant("iso-cap-a")
        _, kb = new_tenant("iso-cap-b")
        a, b = Client(s.port, ka), Client(s.port, kb)
        p = a.post("/v1/partners", {"name": "Held"}).json
        q = b.post("/v1/partners", {"name": "Free"}).json
        holder, first = patch_stuck_on_lock(a, p["id"], 1.5)  # tenant A's one slot is taken
        held = [None] * 4
        queued = [threading.Thread(target=lambda i=i: held.__setitem__(i, a.get("/v1/partners"))) for i in range(4)]
        for t in queued:
            t.start()
        rs = parallel(4, lambda i: b.get("/v1/partners"))
        answered_while_locked = holder.poll() is None
        holder.wait()
        first.join()
        for t in queued:
            t.join()
        expect([r.status for r in rs] == [200] * 4, "tenant B: %r" % [r.status for r in rs])
        expect(answered_while_locked, "tenant B was answered only after tenant A's lock went away")
        expect([r.status for r in held] == [200] * 4, "tenant A's held-back requests: %r" % [r.status for r in held])
        # Many rounds of both tenants at once: every request is answered, none waits out the queue.
        for _ in range(5):
            rs = parallel(24, lambda i: a.get("/v1/partners/" + p["id"]) if i % 3 else b.get("/v1/partners/" + q["id"]))
            expect([r.status for r in rs] == [200] * 24, "statuses %r" % [r.status for r in rs])
