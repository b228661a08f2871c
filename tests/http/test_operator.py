"""The operator API: operator keys (made only by `allied key create --role operator`), /v1/tenants
(create, list, get, PATCH, suspend, resume, delete after an export), per-tenant limits and usage."""
import subprocess
import time
import uuid
from lib import (test, expect, expect_status, expect_problem, new_tenant, cli, Client, Server, psql, BIN)
from test_webhooks import Receiver, FAST, endpoint

ZERO = "00000000-0000-4000-8000-000000000000"


def operator(port, name="ops"):
    made = cli("key", "create", "--role", "operator", "--name", name)
    expect(made["role"] == "operator" and made["key"].startswith("ak_") and made["name"] == name, "%r", made)
    return Client(port, made["key"]), made


def wait_for(cond, seconds=15):
    deadline = time.time() + seconds
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    return None


def new_via_api(op, name, **extra):
    body = dict({"name": name}, **extra)
    r = op.post("/v1/tenants", body)
    expect_status(r, 201)
    return r.json


@test
def operator_key_only_from_the_cli(ctx):
    """an operator key is made only by `allied key create --role operator`: the API refuses role operator and the CLI refuses a tenant or partner with it"""
    _, admin = new_tenant("op cli")
    a = Client(ctx.MAIN.port, admin)
    expect_problem(a.post("/v1/api-keys", {"role": "operator"}), 400, "validation-error", "role")
    for args in (["--role", "operator", "--tenant", ZERO], ["--role", "operator", "--partner", ZERO]):
        out = subprocess.run([BIN, "key", "create"] + args, capture_output=True, text=True)
        expect(out.returncode == 2 and "--role operator" in out.stderr and out.stderr.count("\n") == 1, "%r", out)
    op, made = operator(ctx.MAIN.port)
    expect_status(op.get("/v1/tenants"), 200)


@test
def operator_never_reads_tenant_records(ctx):
    """an operator key gets 403 on every tenant route (partners, referrals, keys, ...) and a tenant key gets 403 on every /v1/tenants route"""
    op, _ = operator(ctx.MAIN.port)
    _, admin = new_tenant("op isolation")
    a = Client(ctx.MAIN.port, admin)
    expect_status(a.post("/v1/partners", {"name": "Secret partner"}), 201)
    out = subprocess.run([BIN, "routes"], capture_output=True, text=True).stdout
    tenant_routes, operator_routes = [], []
    for line in out.splitlines():
        parts = line.split()
        if "public" in parts:
            continue
        method, path = parts[0], parts[1]
        for name in ("{id}", "{commitment_id}", "{external_id}"):
            path = path.replace(name, ZERO)
        (operator_routes if "operator" in parts[2:] else tenant_routes).append((method, path))
    expect(len(tenant_routes) > 40 and len(operator_routes) == 9, "%r", operator_routes)
    for method, path in tenant_routes:
        body = {} if method in ("POST", "PATCH", "PUT") else None
        r = op.req(method, path, body)
        expect_problem(r, 403, "forbidden")
        expect("operator" in r.json["detail"], "%r", r)
    for method, path in operator_routes:
        body = {} if method in ("POST", "PATCH", "DELETE") else None
        expect_problem(a.req(method, path, body), 403, "forbidden")
    # the data is there all the same
    expect(len(a.get("/v1/partners").json["data"]) == 1, "partner missing")


@test
def tenant_create_get_list(ctx):
    """POST /v1/tenants returns the tenant and its first admin key once; the key works; GET and the cursor-paginated list (status filter) show it without the key"""
    op, _ = operator(ctx.MAIN.port)
    t = new_via_api(op, "Agency client A", limits={"partners": 10, "requests_per_second": 50})
    expect(t["status"] == "active" and t["version"] == 1 and t["limits"] == {
        "requests_per_second": 50, "partners": 10, "webhook_endpoints": None, "rows": None}, "%r", t)
    expect(t["api_key"]["role"] == "admin" and t["api_key"]["key"].startswith("ak_"), "%r", t)
    expect(t["last_export_at"] is None and t["suspended_at"] is None, "%r", t)
    admin = Client(ctx.MAIN.port, t["api_key"]["key"])
    expect_status(admin.post("/v1/partners", {"name": "First"}), 201)
    g = op.get("/v1/tenants/" + t["id"])
    expect_status(g, 200)
    expect(g.h("etag") == '"1"' and "api_key" not in g.json and g.json["name"] == "Agency client A", "%r", g)
    for i in range(3):
        new_via_api(op, "Paged %d" % i)
    seen, cursor = [], None
    while True:
        r = op.get("/v1/tenants?limit=2" + ("&cursor=" + cursor if cursor else ""))
        expect_status(r, 200)
        expect(len(r.json["data"]) <= 2, "%r", r)
        seen += [x["id"] for x in r.json["data"]]
        cursor = r.json["next_cursor"]
        if not cursor:
            break
    expect(t["id"] in seen and len(seen) == len(set(seen)), "pagination lost or repeated tenants")
    act = op.get("/v1/tenants?status=active&limit=100")
    expect_status(act, 200)
    expect(all(x["status"] == "active" for x in act.json["data"]), "%r", act)


@test
def tenant_bad_inputs(ctx):
    """bad tenant input gets 400/404/412 problems: bad ids, unknown and read-only fields, bad limits, bad filters and dates, stale If-Match"""
    op, _ = operator(ctx.MAIN.port)
    expect_problem(op.post("/v1/tenants", {}), 400, "validation-error", "name")
    expect_problem(op.post("/v1/tenants", {"name": ""}), 400, "validation-error", "name")
    expect_problem(op.post("/v1/tenants", {"name": "x" * 201}), 400, "validation-error", "name")
    expect_problem(op.post("/v1/tenants", {"name": "x", "colour": "red"}), 400, "validation-error", "colour")
    expect_problem(op.post("/v1/tenants", {"name": "x", "status": "suspended"}), 400, "validation-error", "status")
    expect_problem(op.post("/v1/tenants", {"name": "x", "limits": {"partners": -1}}), 400, "validation-error",
                   "limits.partners")
    expect_problem(op.post("/v1/tenants", {"name": "x", "limits": {"requests_per_second": 0}}), 400,
                   "validation-error", "limits.requests_per_second")
    expect_problem(op.post("/v1/tenants", {"name": "x", "limits": {"storage": 5}}), 400, "validation-error",
                   "limits.storage")
    expect_problem(op.post("/v1/tenants", {"name": "x", "limits": 5}), 400, "validation-error", "limits")
    expect_problem(op.post("/v1/tenants", raw=b"{", ctype="application/json"), 400, "malformed-json")
    expect_problem(op.get("/v1/tenants/not-a-uuid"), 400, "validation-error")
    expect_problem(op.get("/v1/tenants/" + ZERO), 404, "not-found")
    expect_problem(op.get("/v1/tenants?status=gone"), 400, "validation-error")
    expect_problem(op.get("/v1/tenants?colour=red"), 400)
    expect_problem(op.get("/v1/tenants?cursor=garbage"), 400)
    t = new_via_api(op, "Bad inputs")
    path = "/v1/tenants/" + t["id"]
    expect_problem(op.patch(path, {}), 400, "validation-error", "body")
    expect_problem(op.patch(path, {"id": ZERO}), 400, "validation-error", "id")
    expect_problem(op.patch(path, {"nme": "typo"}), 400, "validation-error", "nme")
    expect_problem(op.patch("/v1/tenants/" + ZERO, {"name": "y"}), 404, "not-found")
    expect_problem(op.patch("/v1/tenants/nope", {"name": "y"}), 400, "validation-error")
    expect_problem(op.patch(path, {"name": "y"}, headers={"If-Match": "bogus"}), 400)
    r = op.patch(path, {"name": "Renamed", "limits": {"rows": 1000}}, headers={"If-Match": '"1"'})
    expect_status(r, 200)
    expect(r.json["name"] == "Renamed" and r.json["version"] == 2 and r.json["limits"]["rows"] == 1000 and
           r.h("etag") == '"2"', "%r", r)
    stale = op.patch(path, {"name": "Again"}, headers={"If-Match": '"1"'})
    expect_problem(stale, 412, "stale-version")
    expect(stale.h("etag") == '"2"', "%r", stale)
    cleared = op.patch(path, {"limits": {"rows": None}})
    expect(cleared.json["limits"]["rows"] is None and cleared.json["version"] == 3, "%r", cleared)
    u = "/v1/tenants/%s/usage" % t["id"]
    for q in ("?from=yesterday", "?to=2026-13-01", "?from=2026-02-01&to=2026-01-01", "?from=2020-01-01&to=2026-01-01",
              "?colour=red"):
        expect_problem(op.get(u + q), 400)
    expect_problem(op.get("/v1/tenants/%s/usage" % ZERO), 404, "not-found")
    expect_problem(op.get("/v1/tenants/bad/usage"), 400)
    for action in ("suspend", "resume"):
        expect_problem(op.post("/v1/tenants/%s/%s" % (ZERO, action)), 404, "not-found")
        expect_problem(op.post("/v1/tenants/bad/%s" % action), 400)
        expect_problem(op.post("/v1/tenants/%s/%s" % (t["id"], action), {"why": 1}), 400, "validation-error")
    expect_problem(op.post("/v1/tenants/%s/resume" % t["id"]), 409, "invalid-state")
    expect_problem(op.post("/v1/tenants/%s/suspend" % t["id"], headers={"If-Match": '"1"'}), 412, "stale-version")


@test
def suspended_tenant_refused_then_resumed(ctx):
    """a suspended tenant's keys get 403 tenant-suspended at once (even when cached), its data stays, and resume lets them in again"""
    op, _ = operator(ctx.MAIN.port)
    t = new_via_api(op, "Suspend me")
    admin = Client(ctx.MAIN.port, t["api_key"]["key"])
    expect_status(admin.post("/v1/partners", {"name": "Kept"}), 201)
    for _ in range(3):  # verified once, then served from the key cache
        expect_status(admin.get("/v1/partners"), 200)
    s = op.post("/v1/tenants/%s/suspend" % t["id"])
    expect_status(s, 200)
    expect(s.json["status"] == "suspended" and s.json["suspended_at"], "%r", s)
    for r in (admin.get("/v1/partners"), admin.post("/v1/partners", {"name": "No"})):
        expect_problem(r, 403, "tenant-suspended")
    expect_problem(op.post("/v1/tenants/%s/suspend" % t["id"]), 409, "invalid-state")
    susp = op.get("/v1/tenants?status=suspended&limit=100").json["data"]
    expect(t["id"] in [x["id"] for x in susp], "not listed as suspended")
    expect(psql("SELECT count(*) FROM partners WHERE tenant_id = '%s'" % t["id"]) == "1", "data changed")
    r = op.post("/v1/tenants/%s/resume" % t["id"], {})
    expect_status(r, 200)
    expect(r.json["status"] == "active" and r.json["suspended_at"] is None, "%r", r)
    got = admin.get("/v1/partners")
    expect_status(got, 200)
    expect([p["name"] for p in got.json["data"]] == ["Kept"], "%r", got)


def refer(c, name):
    """A referral (an event, so a webhook delivery) to a new partner."""
    p = c.post("/v1/partners", {"name": name})
    expect_status(p, 201)
    r = c.post("/v1/referrals", {"partner_id": p.json["id"], "direction": "outbound", "prospect": {"name": name}})
    expect_status(r, 201)


@test
def suspended_tenant_webhooks_pause(ctx):
    """a suspended tenant's webhook deliveries wait while another tenant's go out, and are delivered after resume; usage counts the attempts"""
    rx = Receiver()
    api = Server(ALLIED_WEBHOOK_ALLOW_PRIVATE=1)  # sends nothing: ALLIED_WEBHOOK_WORKERS=0
    op, _ = operator(api.port)
    a = new_via_api(op, "Paused hooks")
    b = new_via_api(op, "Running hooks")
    ca, cb = Client(api.port, a["api_key"]["key"]), Client(api.port, b["api_key"]["key"])
    endpoint(ca, rx.url("/paused"), client=ca)
    endpoint(cb, rx.url("/running"), client=cb)
    # both deliveries stay queued until the sender below starts
    refer(ca, "Queued")
    refer(cb, "Goes out")
    expect_status(op.post("/v1/tenants/%s/suspend" % a["id"]), 200)
    sender = Server(**FAST)
    try:
        rx.wait("/running", 1)
        refer(cb, "Goes out too")
        rx.wait("/running", 2)  # the sender has polled at least once more since
        expect(rx.on("/paused") == [], "a suspended tenant's webhook went out")
        pending = psql("SELECT count(*) FROM webhook_deliveries WHERE tenant_id = '%s' AND status = 'pending'" % a["id"])
        expect(pending == "1", "delivery not kept pending: %s", pending)
        expect_status(op.post("/v1/tenants/%s/resume" % a["id"]), 200)
        calls = rx.wait("/paused", 1)
        expect("referral.submitted" in calls[0]["body"] and "Queued" in calls[0]["body"], "%r", calls[0])
        usage = wait_for(lambda: (lambda u: u if u["days"][-1]["webhook_attempts"] >= 1 else None)(
            op.get("/v1/tenants/%s/usage" % a["id"]).json))
        expect(usage, "webhook attempts not counted")
    finally:
        sender.stop()
        api.stop()
        rx.close()


@test
def tenant_limits_enforced(ctx):
    """the operator's limits are enforced: partners, webhook endpoints and rows with 409 tenant-limit naming the limit, the request rate with 429"""
    op, _ = operator(ctx.MAIN.port)
    t = new_via_api(op, "Limited", limits={"partners": 2, "webhook_endpoints": 0})
    c = Client(ctx.MAIN.port, t["api_key"]["key"])
    for i in range(2):
        expect_status(c.post("/v1/partners", {"name": "P%d" % i}), 201)
    r = c.post("/v1/partners", {"name": "One too many"})
    expect_problem(r, 409, "tenant-limit")
    expect(r.json["limit"] == "partners", "%r", r)
    r = c.post("/v1/webhook-endpoints", {"url": "https://example.com/hook"})
    expect_problem(r, 409, "tenant-limit")
    expect(r.json["limit"] == "webhook_endpoints", "%r", r)
    # rows: 2 partners stored; room for one more row of any resource
    expect_status(op.patch("/v1/tenants/" + t["id"], {"limits": {"partners": None, "rows": 3}}), 200)
    pid = c.get("/v1/partners").json["data"][0]["id"]
    expect_status(c.post("/v1/partners/%s/check-ins" % pid, {"held_on": "2026-01-05", "notes": "called"}), 201)
    r = c.post("/v1/partners", {"name": "Over rows"})
    expect_problem(r, 409, "tenant-limit")
    expect(r.json["limit"] == "rows", "%r", r)
    expect_status(op.patch("/v1/tenants/" + t["id"], {"limits": {"rows": None}}), 200)
    expect_status(c.post("/v1/partners", {"name": "Room again"}), 201)
    # rate: one request a second for this tenant, whatever the instance default
    expect_status(op.patch("/v1/tenants/" + t["id"], {"limits": {"requests_per_second": 1}}), 200)
    statuses = [c.get("/v1/partners") for _ in range(5)]
    limited = [r for r in statuses if r.status == 429]
    expect(limited, "no 429 at 1 request per second: %r", [r.status for r in statuses])
    expect_problem(limited[0], 429, "rate-limited")
    expect('"tenant";q=1;' in (limited[0].h("ratelimit-policy") or ""), "%r", limited[0].headers)
    expect(limited[0].h("retry-after"), "no Retry-After")
    other = Client(ctx.MAIN.port, new_tenant("unlimited")[1])
    expect(all(other.get("/v1/partners").status == 200 for _ in range(5)), "another tenant was limited")


@test
def usage_counts_requests_and_rows(ctx):
    """GET /v1/tenants/{id}/usage reports requests per day by route group (flushed in the background) and rows per resource counted now"""
    op, _ = operator(ctx.MAIN.port)
    t = new_via_api(op, "Usage")
    c = Client(ctx.MAIN.port, t["api_key"]["key"])
    for i in range(3):
        expect_status(c.post("/v1/partners", {"name": "U%d" % i}), 201)
    expect_status(c.get("/v1/referrals"), 200)
    u = "/v1/tenants/%s/usage" % t["id"]

    def counted():
        r = op.get(u)
        expect_status(r, 200)
        day = r.json["days"][-1]
        return r.json if day["requests"].get("partners") == 3 and day["requests"].get("referrals") == 1 else None
    got = wait_for(counted)
    expect(got, "usage not flushed: %r", op.get(u).json["days"][-1])
    expect(len(got["days"]) == 30 and got["rows"]["partners"] == 3 and got["rows_total"] == 3, "%r", got["rows"])
    day = got["days"][-1]
    expect(day["requests_total"] == 4 and day["webhook_attempts"] == 0 and day["webhook_failures"] == 0, "%r", day)
    today = day["date"]
    one = op.get(u + "?from=%s&to=%s" % (today, today))
    expect_status(one, 200)
    expect(len(one.json["days"]) == 1 and one.json["from"] == today, "%r", one)
    expect(psql("SELECT count(*) FROM tenant_usage_daily WHERE tenant_id = '%s'" % t["id"]) == "2",
           "one row per day and route group, not per request")


@test
def tenant_delete_needs_export_and_confirmation(ctx):
    """DELETE /v1/tenants/{id} needs the tenant's name as confirm and an export first (409 export-required), then removes every row of that tenant in one go"""
    op, _ = operator(ctx.MAIN.port)
    t = new_via_api(op, "Leaving client")
    keep = new_via_api(op, "Staying client")
    c = Client(ctx.MAIN.port, t["api_key"]["key"])
    k = Client(ctx.MAIN.port, keep["api_key"]["key"])
    p = c.post("/v1/partners", {"name": "Gone soon"}).json
    expect_status(c.post("/v1/partners/%s/check-ins" % p["id"], {"held_on": "2026-01-05", "notes": "hi"}), 201)
    expect_status(c.post("/v1/api-keys", {"role": "staff"}), 201)
    expect_status(c.post("/v1/referrals", {"partner_id": p["id"], "direction": "outbound",
                                           "prospect": {"name": "Prospect"}}), 201)
    expect_status(k.post("/v1/partners", {"name": "Stays"}), 201)
    path = "/v1/tenants/" + t["id"]
    expect_problem(op.req("DELETE", path), 400)  # no body: no confirmation
    expect_problem(op.req("DELETE", path, {}), 400, "validation-error", "confirm")
    expect_problem(op.req("DELETE", path, {"confirm": "leaving client"}), 400, "validation-error", "confirm")
    expect_problem(op.req("DELETE", path, {"confirm": "Leaving client", "force": True}), 400, "validation-error", "force")
    expect_problem(op.req("DELETE", "/v1/tenants/" + ZERO, {"confirm": "x"}), 404, "not-found")
    expect_problem(op.req("DELETE", "/v1/tenants/bad", {"confirm": "x"}), 400)
    expect_problem(op.req("DELETE", path, {"confirm": "Leaving client"}), 409, "export-required")
    psql("SELECT tenant_mark_exported('%s')" % t["id"])  # what GET /v1/export does when it is done
    expect(op.get(path).json["last_export_at"], "last_export_at not shown")
    expect_problem(op.req("DELETE", path, {"confirm": "Leaving client"}, headers={"If-Match": '"7"'}), 412)
    expect_status(op.req("DELETE", path, {"confirm": "Leaving client"}), 204)
    expect_problem(op.get(path), 404)
    expect_problem(c.get("/v1/partners"), 401)
    counts = psql("SELECT c.relname || '=' || (xpath('/row/n/text()', query_to_xml(format("
                  "'SELECT count(*) AS n FROM %%I WHERE tenant_id = %%L', c.relname, '%s'), false, true, '')))[1]::text "
                  "FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace "
                  "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' "
                  "WHERE s.nspname = 'public' AND c.relkind = 'r'" % t["id"]).split()
    expect(len(counts) > 15, "%r", counts)
    left = [x for x in counts if not x.endswith("=0")]
    expect(not left, "rows of the deleted tenant are left: %r", left)
    expect(len(k.get("/v1/partners").json["data"]) == 1, "another tenant lost data")


@test
def revoked_operator_key_fails_at_once(ctx):
    """an operator key revoked in the database gets 401 right away even though it was cached"""
    op, made = operator(ctx.MAIN.port)
    for _ in range(3):
        expect_status(op.get("/v1/tenants?limit=1"), 200)
    psql("UPDATE operator_keys SET revoked_at = now() WHERE id = '%s'" % made["id"])
    expect(wait_for(lambda: op.get("/v1/tenants?limit=1").status == 401), "revoked operator key still served")
    expect_problem(op.get("/v1/tenants"), 401, "unauthorized")


@test
def concurrent_creates_cannot_overshoot_a_limit(ctx):
    """twenty partners created at once under a limit of five: exactly five are made, the rest get 409 tenant-limit"""
    from lib import parallel
    op, _ = operator(ctx.MAIN.port)
    t = new_via_api(op, "Race", limits={"partners": 5})
    c = Client(ctx.MAIN.port, t["api_key"]["key"])
    results = parallel(20, lambda i: c.post("/v1/partners", {"name": "Racer %d" % i}))
    codes = sorted(r.status for r in results)
    expect(codes.count(201) == 5 and codes.count(409) == 15, "%r", codes)
    for r in results:
        if r.status == 409:
            expect_problem(r, 409, "tenant-limit")
    expect(psql("SELECT count(*) FROM partners WHERE tenant_id = '%s'" % t["id"]) == "5", "overshot")


@test
def operator_exports_a_whole_tenant(ctx):
    """an operator key exports one whole tenant (the NDJSON its admin gets), which then allows deleting it; a tenant key may not, unknown and bad ids are 404 and 400"""
    import json
    op, _ = operator(ctx.MAIN.port)
    t = new_via_api(op, "Exported by the operator")
    c = Client(ctx.MAIN.port, t["api_key"]["key"])
    expect_status(c.post("/v1/partners", {"name": "In the export"}), 201)

    def records(resp):
        expect_status(resp, 200)
        expect((resp.h("content-type") or "").startswith("application/x-ndjson"), "%r", resp.headers)
        return sorted(x for x in resp.body.decode().splitlines() if x and json.loads(x)["type"] != "api_key")

    theirs = records(op.get("/v1/tenants/%s/export" % t["id"]))
    expect(theirs == records(c.get("/v1/export")) and any('"In the export"' in x for x in theirs),
           "the operator's export differs from the tenant's: %r", theirs[:3])
    expect_problem(c.get("/v1/tenants/%s/export" % t["id"]), 403)
    expect_problem(op.get("/v1/tenants/%s/export" % ZERO), 404, "not-found")
    expect_problem(op.get("/v1/tenants/bad/export"), 400)
    gone = new_via_api(op, "Exported then deleted")
    expect_problem(op.req("DELETE", "/v1/tenants/" + gone["id"], {"confirm": "Exported then deleted"}), 409,
                   "export-required")
    expect_status(op.get("/v1/tenants/%s/export" % gone["id"]), 200)
    expect_status(op.req("DELETE", "/v1/tenants/" + gone["id"], {"confirm": "Exported then deleted"}), 204)
