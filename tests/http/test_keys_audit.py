"""Keys and accountability: API keys that expire, say when they were last used (written at most
once a minute) and rotate with an overlap; the per-tenant audit log of every state-changing request."""
import datetime
import re
import time
from lib import test, expect, expect_status, expect_problem, new_tenant, Client, Server, psql

UNKNOWN = "00000000-0000-4000-8000-000000000000"


def wait_for(cond, seconds=10):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return False


def utc(delta_seconds):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=delta_seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def key_id_of(admin_client, key):
    """The id of `key` (found by its prefix among the tenant's keys)."""
    for k in admin_client.get("/v1/api-keys?limit=100").json["data"]:
        if k["prefix"] == key[:15]:
            return k["id"]
    raise AssertionError("key not listed")


def round_trips(port):
    text = Client(port).get("/metrics").body.decode()
    return int(re.search(r"^allied_db_round_trips_total (\d+)", text, re.M).group(1))


def audit(client, query=""):
    r = client.get("/v1/audit-events" + query)
    expect_status(r, 200)
    return r.json["data"]


@test
def key_with_expires_at_stops_at_that_moment_even_when_cached(ctx):
    """a key created with expires_at works until then and gets 401 key-expired after it, even from a cache that would keep it an hour"""
    s = Server(ALLIED_KEY_CACHE_TTL_MS=3600000)
    try:
        _, admin = new_tenant("expiry")
        a = Client(s.port, admin)
        r = a.post("/v1/api-keys", {"role": "readonly", "expires_at": utc(2)})
        expect_status(r, 201)
        expect(r.json["expires_at"], "expires_at not shown: %r", r.json)
        c = Client(s.port, r.json["key"])
        expect_status(c.get("/v1/partners"), 200)  # verified, now cached
        expect_status(c.get("/v1/partners"), 200)
        expect(wait_for(lambda: c.get("/v1/partners").status == 401), "the key outlived its expiry")
        expect_problem(c.get("/v1/partners"), 401, "key-expired")
        got = a.get("/v1/api-keys/" + r.json["id"]).json
        expect(got["expires_at"] == r.json["expires_at"] and "key" not in got, "get: %r", got)
    finally:
        s.stop()


@test
def key_expired_in_the_database_fails_at_once(ctx):
    """a cached key whose expires_at is moved into the past gets 401 key-expired on the next request"""
    _, admin = new_tenant("expiry sql")
    a = Client(ctx.MAIN.port, admin)
    made = a.post("/v1/api-keys", {"role": "staff", "expires_at": utc(3600)}).json
    c = Client(ctx.MAIN.port, made["key"])
    expect_status(c.get("/v1/partners"), 200)
    expect_status(c.get("/v1/partners"), 200)
    psql("UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = '%s'" % made["id"])
    expect(wait_for(lambda: c.get("/v1/partners").status == 401), "expired key still served")
    r = c.post("/v1/partners", {"name": "late"})
    expect_problem(r, 401, "key-expired")
    expect(made["id"] in r.json["detail"], "detail does not name the key: %r", r.json)
    # an expired key cannot be rotated back to life
    expect_problem(a.post("/v1/api-keys/%s/rotate" % made["id"], {}), 409, "invalid-state")


@test
def expires_at_bad_inputs(ctx):
    """expires_at must be an RFC 3339 timestamp in the future: otherwise 400 naming the field"""
    _, admin = new_tenant("expiry input")
    a = Client(ctx.MAIN.port, admin)
    for bad in (utc(-60), "tomorrow", "2030-01-01", "2030-01-01T00:00:00", 12, True, ""):
        expect_problem(a.post("/v1/api-keys", {"role": "staff", "expires_at": bad}), 400, field="expires_at")
    for ro in ("last_used_at", "rotated_at", "previous_secret"):
        expect_problem(a.post("/v1/api-keys", {"role": "staff", ro: None}), 400, field=ro)
    r = a.post("/v1/api-keys", {"role": "staff", "expires_at": None})
    expect_status(r, 201)
    expect(r.json["expires_at"] is None, "%r", r.json)


@test
def last_used_at_is_written_at_most_once_a_minute(ctx):
    """last_used_at is set on first use and then not rewritten for a minute (the row's xmin stays), with or without the key cache"""
    for env in ({}, {"ALLIED_KEY_CACHE_SIZE": 0}):
        s = Server(**env)
        try:
            _, admin = new_tenant("last used")
            a = Client(s.port, admin)
            made = a.post("/v1/api-keys", {"role": "readonly"}).json
            expect(made["last_used_at"] is None, "unused key has last_used_at: %r", made)
            c = Client(s.port, made["key"])
            expect_status(c.get("/v1/partners"), 200)
            row = "SELECT xmin::text || ' ' || last_used_at FROM api_keys WHERE id = '%s'" % made["id"]
            first = psql(row)
            expect(first.split(" ", 1)[1], "last_used_at not written on first use")
            for _ in range(15):
                expect_status(c.get("/v1/partners"), 200)
            expect_status(c.post("/v1/partners", {"name": "x"}), 403)
            expect(psql(row) == first, "the key row was written again within a minute: %s vs %s", psql(row), first)
            used = a.get("/v1/api-keys/" + made["id"]).json["last_used_at"]
            expect(used and used.startswith(first.split(" ", 1)[1][:10]), "API shows %r", used)
            if env:  # without a cache every request asks the database, whose guard is the minute
                psql("UPDATE api_keys SET last_used_at = now() - interval '2 minutes' WHERE id = '%s'" % made["id"])
                before = psql(row)
                expect_status(c.get("/v1/partners"), 200)
                after = psql(row)
                expect(after != before, "a key last used two minutes ago was not marked used")
                expect_status(c.get("/v1/partners"), 200)
                expect(psql(row) == after, "marked used twice within a minute")
        finally:
            s.stop()


@test
def warm_get_gains_no_round_trip(ctx):
    """a warm GET with a cached key costs the same database round trips as before keys knew their last use (one)"""
    s = Server()
    try:
        _, admin = new_tenant("round trips")
        c = Client(s.port, admin)
        for _ in range(3):
            expect_status(c.get("/v1/partners/" + UNKNOWN), 404)
        before = round_trips(s.port)
        for _ in range(10):
            expect_status(c.get("/v1/partners/" + UNKNOWN), 404)
        spent = round_trips(s.port) - before
        expect(spent == 10, "10 warm GETs took %d round trips", spent)
    finally:
        s.stop()


@test
def marking_a_cached_key_used_costs_no_round_trip(ctx):
    """when a cached key is due to be marked used, the write goes out with the request's first statement: a GET still costs one round trip"""
    s = Server(ALLIED_KEY_USED_EVERY_MS=100)
    try:
        _, admin = new_tenant("touch due")
        c = Client(s.port, admin)
        kid = key_id_of(c, admin)
        for _ in range(3):
            expect_status(c.get("/v1/partners/" + UNKNOWN), 404)
        psql("UPDATE api_keys SET last_used_at = now() - interval '2 minutes' WHERE id = '%s'" % kid)
        old = psql("SELECT last_used_at FROM api_keys WHERE id = '%s'" % kid)

        def marked():  # each try is one GET of one round trip, due or not
            before = round_trips(s.port)
            expect_status(c.get("/v1/partners/" + UNKNOWN), 404)
            spent = round_trips(s.port) - before
            expect(spent == 1, "a warm GET took %d round trips", spent)
            return psql("SELECT last_used_at FROM api_keys WHERE id = '%s'" % kid) != old
        expect(wait_for(marked), "the cached key was never marked used")
    finally:
        s.stop()


@test
def rotation_keeps_the_old_secret_for_the_overlap(ctx):
    """rotate returns a new secret once; the old one works during the overlap and gets 401 key-rotated after it"""
    _, admin = new_tenant("rotate")
    a = Client(ctx.MAIN.port, admin)
    made = a.post("/v1/api-keys", {"role": "staff", "name": "ci"}).json
    old = Client(ctx.MAIN.port, made["key"])
    expect_status(old.get("/v1/partners"), 200)  # cached
    r = a.post("/v1/api-keys/%s/rotate" % made["id"], {"overlap_seconds": 600})
    expect_status(r, 200)
    rot = r.json
    expect(rot["key"] and rot["key"] != made["key"] and rot["id"] == made["id"], "%r", rot)
    expect(rot["prefix"] == rot["key"][:15] and rot["rotated_at"], "%r", rot)
    expect(rot["previous_secret"]["prefix"] == made["prefix"] and rot["previous_secret"]["overlap_until"], "%r", rot)
    new = Client(ctx.MAIN.port, rot["key"])
    expect_status(old.get("/v1/partners"), 200)
    expect_status(new.get("/v1/partners"), 200)
    expect_status(old.post("/v1/partners", {"name": "during overlap"}), 201)
    got = a.get("/v1/api-keys/" + made["id"]).json
    expect("key" not in got and got["previous_secret"] == rot["previous_secret"], "get: %r", got)
    listed = [k for k in a.get("/v1/api-keys").json["data"] if k["id"] == made["id"]][0]
    expect(listed == got, "list %r vs get %r", listed, got)
    psql("UPDATE api_keys SET previous_until = now() - interval '1 second' WHERE id = '%s'" % made["id"])
    expect(wait_for(lambda: old.get("/v1/partners").status == 401), "the old secret outlived its overlap")
    expect_problem(old.get("/v1/partners"), 401, "key-rotated")
    expect_status(new.get("/v1/partners"), 200)
    # rotating again forgets the first secret entirely
    again = a.post("/v1/api-keys/%s/rotate" % made["id"]).json
    expect(again["previous_secret"]["prefix"] == rot["prefix"], "%r", again)
    expect_problem(old.get("/v1/partners"), 401, "unauthorized")
    expect_status(new.get("/v1/partners"), 200)
    expect_status(Client(ctx.MAIN.port, again["key"]).get("/v1/partners"), 200)


@test
def rotation_with_no_overlap_ends_the_old_secret_at_once(ctx):
    """with overlap_seconds 0 the old (cached) secret gets 401 on the very next request on the instance that rotated it"""
    _, admin = new_tenant("rotate now")
    a = Client(ctx.MAIN.port, admin)
    made = a.post("/v1/api-keys", {"role": "staff"}).json
    old = Client(ctx.MAIN.port, made["key"])
    for _ in range(2):
        expect_status(old.get("/v1/partners"), 200)
    rot = a.post("/v1/api-keys/%s/rotate" % made["id"], {"overlap_seconds": 0})
    expect_status(rot, 200)
    expect_problem(old.get("/v1/partners"), 401, "key-rotated")
    expect_status(Client(ctx.MAIN.port, rot.json["key"]).get("/v1/partners"), 200)


@test
def rotation_bad_inputs(ctx):
    """rotate refuses bad ids, unknown keys, unknown fields, an overlap out of range, revoked keys and non-admin keys"""
    _, admin = new_tenant("rotate input")
    a = Client(ctx.MAIN.port, admin)
    made = a.post("/v1/api-keys", {"role": "staff"}).json
    path = "/v1/api-keys/%s/rotate" % made["id"]
    expect_problem(a.post("/v1/api-keys/not-a-uuid/rotate", {}), 400, field="id")
    expect_problem(a.post("/v1/api-keys/%s/rotate" % UNKNOWN, {}), 404, "not-found")
    expect_problem(a.post(path, {"overlap": 5}), 400, field="overlap")
    for bad in (-1, 604801, "60", 1.5, None):
        expect_problem(a.post(path, {"overlap_seconds": bad}), 400, field="overlap_seconds")
    expect_problem(a.post(path, raw=b"[1]"), 400)
    expect_problem(Client(ctx.MAIN.port, made["key"]).post(path, {}), 403, "forbidden")
    expect_status(a.delete("/v1/api-keys/" + made["id"]), 200)
    expect_problem(a.post(path, {}), 409, "invalid-state")
    r = a.post("/v1/api-keys/%s/rotate" % key_id_of(a, admin), {"overlap_seconds": 604800})
    expect_status(r, 200)  # an admin may rotate its own key; the old secret works on during the overlap
    expect_status(a.get("/v1/api-keys"), 200)


@test
def audit_log_records_successes_and_refusals(ctx):
    """every state-changing request leaves an audit event: who (key id, name, role, address), what (method, route, resource id, status), when; reads leave none"""
    _, admin = new_tenant("audit")
    a = Client(ctx.MAIN.port, admin)
    admin_id = key_id_of(a, admin)
    ro = a.post("/v1/api-keys", {"role": "readonly", "name": "viewer"}).json
    p = a.post("/v1/partners", {"name": "Audited"})
    expect_status(p, 201)
    pid = p.json["id"]
    expect_status(a.patch("/v1/partners/" + pid, {"name": "Audited 2"}), 200)
    expect_problem(a.post("/v1/partners", {"name": ""}), 400)
    expect_problem(Client(ctx.MAIN.port, ro["key"]).post("/v1/partners", {"name": "nope"}), 403)
    expect_problem(a.patch("/v1/partners/" + UNKNOWN, {"name": "x"}), 404)
    expect_status(a.get("/v1/partners/" + pid), 200)
    expect_problem(Client(ctx.MAIN.port, "ak_000000000000_" + "A" * 43).post("/v1/partners", {}), 401)
    ev = audit(a)
    got = [(e["method"], e["route"], e["status"]) for e in ev]
    want = [("POST", "/v1/api-keys", 201), ("POST", "/v1/partners", 201), ("PATCH", "/v1/partners/{id}", 200),
            ("POST", "/v1/partners", 400), ("POST", "/v1/partners", 403), ("PATCH", "/v1/partners/{id}", 404)]
    expect(got == want, "audit events %r", got)
    created = ev[1]
    expect(created["resource_id"] == pid and created["key_id"] == admin_id and created["key_role"] == "admin",
           "%r", created)
    expect(ev[0]["resource_id"] == ro["id"], "the created key's id: %r", ev[0])
    expect(ev[2]["resource_id"] == pid and ev[5]["resource_id"] == UNKNOWN, "%r", ev)
    expect(ev[3]["resource_id"] is None, "%r", ev[3])
    refused = ev[4]
    expect(refused["key_id"] == ro["id"] and refused["key_name"] == "viewer" and refused["key_role"] == "readonly",
           "%r", refused)
    for e in ev:
        expect(e["client_address"] == "127.0.0.1" and e["created_at"] and e["request_id"] and e["id"], "%r", e)
    # the audit row commits with the change: the partner and its event are both there
    n = psql("SELECT count(*) FROM audit_events WHERE resource_id = '%s' AND status = 201" % pid)
    expect(n == "1", "audit rows for the partner: %s", n)


@test
def audit_events_filters_and_pagination(ctx):
    """audit events are cursor-paginated and filter by key, method, status, status class, route, resource and time"""
    _, admin = new_tenant("audit filters")
    a = Client(ctx.MAIN.port, admin)
    admin_id = key_id_of(a, admin)
    staff = a.post("/v1/api-keys", {"role": "staff"}).json
    s = Client(ctx.MAIN.port, staff["key"])
    ids = [s.post("/v1/partners", {"name": "P%d" % i}).json["id"] for i in range(4)]
    d = s.delete("/v1/partners/" + ids[0])
    expect(d.status < 300, "delete %r", d)
    expect_problem(s.post("/v1/partners", {}), 400)
    everything = audit(a, "?limit=100")
    expect(len(everything) == 7, "events %r", [(e["method"], e["status"]) for e in everything])
    # pages of 2 give the same events in the same order
    seen, cursor = [], None
    while True:
        r = a.get("/v1/audit-events?limit=2" + ("&cursor=" + cursor if cursor else ""))
        expect_status(r, 200)
        expect(len(r.json["data"]) <= 2, "page too long")
        seen += r.json["data"]
        cursor = r.json["next_cursor"]
        if not cursor:
            break
    expect([e["id"] for e in seen] == [e["id"] for e in everything], "pages differ from the whole")
    expect([e["key_id"] for e in audit(a, "?key_id=" + admin_id)] == [admin_id], "key_id filter")
    expect(len(audit(a, "?key_id=" + staff["id"])) == 6, "staff key filter")
    expect([e["method"] for e in audit(a, "?method=DELETE")] == ["DELETE"], "method filter")
    expect([e["status"] for e in audit(a, "?status=400")] == [400], "status filter")
    expect([e["status"] for e in audit(a, "?status_class=4xx")] == [400], "status class filter")
    expect(len(audit(a, "?status_class=2xx")) == 6, "2xx filter")
    expect(len(audit(a, "?route=/v1/partners/%7Bid%7D")) == 1, "route filter")
    expect(len(audit(a, "?route=/v1/partners&method=POST")) == 5, "route + method filter")
    expect([e["method"] for e in audit(a, "?resource_id=" + ids[0])] == ["POST", "DELETE"], "resource filter")
    mid = everything[3]["created_at"]
    expect(audit(a, "?since=" + mid)[0]["id"] == everything[3]["id"], "since filter")
    expect(audit(a, "?until=" + mid)[-1]["created_at"] < mid, "until filter")
    expect(audit(a, "?since=2999-01-01T00:00:00Z") == [], "since in the future")


@test
def audit_events_admin_only_and_bad_inputs(ctx):
    """only admin keys read the audit log; bad filters are 400 naming the parameter; another tenant's events are invisible"""
    _, admin = new_tenant("audit access")
    a = Client(ctx.MAIN.port, admin)
    for role in ("staff", "readonly"):
        k = a.post("/v1/api-keys", {"role": role}).json["key"]
        expect_problem(Client(ctx.MAIN.port, k).get("/v1/audit-events"), 403, "forbidden")
    expect_problem(Client(ctx.MAIN.port).get("/v1/audit-events"), 401)
    for q, field in (("key_id=nope", "key_id"), ("method=GET", "method"), ("status=abc", "status"),
                     ("status=99", "status"), ("status=600", "status"), ("status_class=6xx", "status_class"),
                     ("since=yesterday", "since"), ("until=2030-01-01", "until"), ("limit=0", "limit"),
                     ("cursor=zzz", "cursor"), ("colour=red", "colour"), ("route=" + "x" * 201, "route")):
        expect_problem(a.get("/v1/audit-events?" + q), 400, field=field)
    _, other = new_tenant("audit other")
    o = Client(ctx.MAIN.port, other)
    o.post("/v1/partners", {"name": "theirs"})
    mine = {e["id"] for e in audit(a, "?limit=100")}
    theirs = {e["id"] for e in audit(o, "?limit=100")}
    expect(mine and theirs and not (mine & theirs), "tenants share audit events")


@test
def audit_events_are_pruned_after_retention(ctx):
    """events older than ALLIED_AUDIT_RETENTION_DAYS are removed in the background; newer ones stay"""
    s = Server(ALLIED_AUDIT_RETENTION_DAYS=2, ALLIED_AUDIT_PRUNE_MS=100)
    try:
        tid, admin = new_tenant("audit prune")
        a = Client(s.port, admin)
        for i in range(3):
            expect_status(a.post("/v1/partners", {"name": "old %d" % i}), 201)
        expect_status(a.post("/v1/partners", {"name": "new"}), 201)
        psql("UPDATE audit_events SET created_at = now() - interval '3 days' WHERE tenant_id = '%s' "
             "AND id IN (SELECT id FROM audit_events WHERE tenant_id = '%s' ORDER BY created_at, id LIMIT 3)"
             % (tid, tid))
        count = "SELECT count(*) FROM audit_events WHERE tenant_id = '%s'" % tid
        expect(wait_for(lambda: psql(count) == "1"), "old events were not pruned: %s left", psql(count))
        expect(len(audit(a)) == 1, "the new event went too")
    finally:
        s.stop()
