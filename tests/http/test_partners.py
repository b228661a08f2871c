"""Partners end to end: CRUD, validation, filters, pagination, If-Match, scopes, isolation, idempotency."""
import urllib.parse
from lib import test, expect, expect_status, expect_problem, new_tenant, psql, wait_until, Client

ZERO = "00000000-0000-0000-0000-000000000000"


def setup(ctx, name="partners"):
    return Client(ctx.MAIN.port, new_tenant(name)[1])


def key(c, role, **extra):
    return Client(c.port, c.post("/v1/api-keys", dict(role=role, **extra)).json["key"])


@test
def create_and_get(ctx):
    """a partner is created with defaults, ETag and Location, and reads back the same"""
    c = setup(ctx)
    body = {"name": "Ada Lovelace", "company": "Analytical Ltd", "email": "ada@analytical.example",
            "phone": "+44 20 7946 0000", "website": "https://analytical.example", "kind": "expert",
            "ideal_client": "Engine builders", "tags": ["uk", "math"], "external_id": "crm-1",
            "metadata": {"tier": "gold", "n": 3}}
    r = c.post("/v1/partners", body)
    expect_status(r, 201)
    p = r.json
    for k, v in body.items():
        expect(p[k] == v, "%s: %r != %r", k, p[k], v)
    expect(p["status"] == "prospect" and p["version"] == 1, "%r", p)
    expect(r.h("etag") == '"1"' and r.h("location") == "/v1/partners/" + p["id"], "%r", r.headers)
    g = c.get("/v1/partners/" + p["id"])
    expect_status(g, 200)
    expect(g.json == p and g.h("etag") == '"1"', "%r", g)
    m = c.post("/v1/partners", {"name": "Min"}).json
    expect(m["kind"] == "referral" and m["tags"] == [] and m["metadata"] == {} and m["email"] is None, "%r", m)


@test
def create_validation(ctx):
    """every bad partner field is a 400 naming the field"""
    c = setup(ctx)
    cases = [
        ({}, "name"), ({"name": ""}, "name"), ({"name": None}, "name"), ({"name": 5}, "name"),
        ({"name": "x" * 201}, "name"), ({"name": "a\nb"}, "name"),
        ({"name": "x", "email": "not-an-email"}, "email"), ({"name": "x", "email": 3}, "email"),
        ({"name": "x", "website": "ftp://x"}, "website"), ({"name": "x", "website": "https://"}, "website"),
        ({"name": "x", "kind": "friend"}, "kind"), ({"name": "x", "status": "gone"}, "status"),
        ({"name": "x", "kind": None}, "kind"), ({"name": "x", "tags": "a"}, "tags"),
        ({"name": "x", "tags": [1]}, "tags"), ({"name": "x", "tags": ["a", "a"]}, "tags"),
        ({"name": "x", "tags": [""]}, "tags"), ({"name": "x", "tags": ["t%d" % i for i in range(51)]}, "tags"),
        ({"name": "x", "metadata": []}, "metadata"), ({"name": "x", "metadata": "s"}, "metadata"),
        ({"name": "x", "metadata": None}, "metadata"),
        ({"name": "x", "metadata": {"k": "v" * 17000}}, "metadata"),
        ({"name": "x", "external_id": ""}, "external_id"), ({"name": "x", "external_id": 12}, "external_id"),
        ({"name": "x", "id": ZERO}, "id"), ({"name": "x", "version": 3}, "version"),
        ({"name": "x", "created_at": "2020-01-01T00:00:00Z"}, "created_at"),
        ({"name": "x", "tenant_id": ZERO}, "tenant_id"), ({"name": "x", "Name": "y"}, "Name"),
        ({"name": "x", "phone": "1" * 51}, "phone"), ({"name": "x", "company": True}, "company"),
    ]
    for body, field in cases:
        expect_problem(c.post("/v1/partners", body), 400, "validation-error", field)
    expect(c.get("/v1/partners").json["data"] == [], "a bad create stored something")


@test
def update_with_if_match(ctx):
    """PATCH changes only the given fields, bumps the version, honours If-Match and clears with null"""
    c = setup(ctx)
    p = c.post("/v1/partners", {"name": "A", "company": "Co", "tags": ["x"]}).json
    r = c.patch("/v1/partners/" + p["id"], {"status": "active", "company": None}, headers={"If-Match": '"1"'})
    expect_status(r, 200)
    expect(r.json["status"] == "active" and r.json["company"] is None and r.json["name"] == "A" and
           r.json["tags"] == ["x"] and r.json["version"] == 2 and r.h("etag") == '"2"', "%r", r)
    expect(r.json["updated_at"] >= p["updated_at"] and r.json["created_at"] == p["created_at"], "%r", r.json)
    stale = c.patch("/v1/partners/" + p["id"], {"name": "B"}, headers={"If-Match": '"1"'})
    expect_problem(stale, 412, "stale-version")
    expect(stale.h("etag") == '"2"', "412 should carry the current ETag")
    expect_status(c.patch("/v1/partners/" + p["id"], {"name": "B"}), 200)
    expect_status(c.patch("/v1/partners/" + p["id"], {"name": "C"}, headers={"If-Match": "*"}), 200)
    for bad in ("1", "W/\"3\"", '"x"', '"-1"', ""):
        expect_problem(c.patch("/v1/partners/" + p["id"], {"name": "D"}, headers={"If-Match": bad}),
                       400, "validation-error", "If-Match")
    expect_problem(c.patch("/v1/partners/" + p["id"], {"name": None}), 400, "validation-error", "name")
    expect_problem(c.patch("/v1/partners/" + p["id"], {}), 400, "validation-error")
    expect_problem(c.patch("/v1/partners/" + p["id"], {"id": ZERO}), 400, "validation-error", "id")
    expect_problem(c.patch("/v1/partners/" + ZERO, {"name": "x"}), 404, "not-found")
    expect_problem(c.patch("/v1/partners/nope", {"name": "x"}), 400, "validation-error", "id")
    expect(c.get("/v1/partners/" + p["id"]).json["version"] == 4, "bad PATCHes changed the version")


@test
def external_id_unique(ctx):
    """external_id is unique per tenant (409 on create and on update) but free across tenants"""
    c, other = setup(ctx), setup(ctx)
    c.post("/v1/partners", {"name": "A", "external_id": "ext-1"})
    expect_problem(c.post("/v1/partners", {"name": "B", "external_id": "ext-1"}), 409, "external-id-conflict")
    b = c.post("/v1/partners", {"name": "B", "external_id": "ext-2"}).json
    expect_problem(c.patch("/v1/partners/" + b["id"], {"external_id": "ext-1"}), 409, "external-id-conflict")
    expect_status(other.post("/v1/partners", {"name": "A", "external_id": "ext-1"}), 201)
    r = c.get("/v1/partners?external_id=ext-2")
    expect([x["id"] for x in r.json["data"]] == [b["id"]], "%r", r)


@test
def delete_rules(ctx):
    """DELETE removes an unreferenced partner (204), honours If-Match, and refuses a referenced one (409)"""
    c = setup(ctx)
    p = c.post("/v1/partners", {"name": "Gone"}).json
    expect_problem(c.delete("/v1/partners/" + p["id"], headers={"If-Match": '"7"'}), 412, "stale-version")
    expect_status(c.delete("/v1/partners/" + p["id"], headers={"If-Match": '"1"'}), 204)
    expect_problem(c.get("/v1/partners/" + p["id"]), 404, "not-found")
    expect_problem(c.delete("/v1/partners/" + p["id"]), 404, "not-found")
    q = c.post("/v1/partners", {"name": "Keyed"}).json
    k = c.post("/v1/api-keys", {"role": "partner", "partner_id": q["id"]}).json
    expect_problem(c.delete("/v1/partners/" + q["id"]), 409, "resource-in-use")
    expect_status(c.get("/v1/partners/" + q["id"]), 200)
    c.delete("/v1/api-keys/" + k["id"])
    expect_status(c.delete("/v1/partners/" + q["id"]), 204)


@test
def list_filters(ctx):
    """the list filters by status, kind, external_id, updated_since and q"""
    c = setup(ctx)
    a = c.post("/v1/partners", {"name": "Alpha Consulting", "kind": "expert", "status": "active"}).json
    b = c.post("/v1/partners", {"name": "Beta", "company": "Alphabet Soup", "kind": "referral"}).json
    d = c.post("/v1/partners", {"name": "100% Delta_", "kind": "referral", "status": "paused"}).json

    def ids(q):
        r = c.get("/v1/partners?" + q)
        expect_status(r, 200)
        return [x["id"] for x in r.json["data"]]
    expect(ids("status=active") == [a["id"]], "status")
    expect(ids("kind=referral") == [b["id"], d["id"]], "kind")
    expect(ids("q=alpha") == [a["id"], b["id"]], "q matches name or company, case-insensitively")
    expect(ids("q=" + urllib.parse.quote("100%")) == [d["id"]], "q treats % literally")
    expect(ids("q=_") == [d["id"]], "q treats _ literally")
    expect(ids("status=paused&kind=referral") == [d["id"]], "combined")
    # the PATCH's timestamp must come after every earlier write's: wait until the database clock has passed them
    wait_until(lambda: psql("SELECT clock_timestamp() > '%s'::timestamptz" % d["updated_at"]) == "t",
               "the database clock did not move past the last write")
    mark = c.patch("/v1/partners/" + b["id"], {"ideal_client": "x"}).json["updated_at"]
    expect(ids("updated_since=" + urllib.parse.quote(mark)) == [b["id"]], "updated_since")
    expect(ids("updated_since=2000-01-01T00:00:00%2B02:00") == [a["id"], b["id"], d["id"]], "offset form")
    for bad, field in (("status=gone", "status"), ("kind=x", "kind"), ("updated_since=yesterday", "updated_since"),
                       ("updated_since=2026-02-30T00:00:00Z", "updated_since"), ("limit=0", "limit"),
                       ("limit=201", "limit"), ("limit=abc", "limit"), ("limit=%2B5", "limit"),
                       ("limit=%205", "limit"), ("limit=5x", "limit"), ("cursor=abc", "cursor"),
                       ("cursor=", "cursor"), ("sort=name", "sort"), ("q=", "q")):
        expect_problem(c.get("/v1/partners?" + bad), 400, "validation-error", field)


@test
def pagination_is_stable(ctx):
    """keyset pages list every partner exactly once even while new ones are inserted"""
    c = setup(ctx)
    made = [c.post("/v1/partners", {"name": "P%02d" % i}).json["id"] for i in range(23)]
    seen, cursor, pages = [], None, 0
    while True:
        r = c.get("/v1/partners?limit=5" + ("&cursor=" + cursor if cursor else ""))
        expect_status(r, 200)
        seen += [x["id"] for x in r.json["data"]]
        pages += 1
        if pages == 2:
            c.post("/v1/partners", {"name": "late arrival"})
        cursor = r.json["next_cursor"]
        if not cursor:
            break
    expect(seen[:23] == made and len(seen) == 24 and len(set(seen)) == 24, "pages: %r", seen)


@test
def roles_on_partners(ctx):
    """readonly keys read but never write; staff write; partner keys see only their own partner"""
    c = setup(ctx)
    mine = c.post("/v1/partners", {"name": "Mine"}).json
    other = c.post("/v1/partners", {"name": "Other"}).json
    ro, staff = key(c, "readonly"), key(c, "staff")
    pk = key(c, "partner", partner_id=mine["id"])
    expect_status(ro.get("/v1/partners/" + mine["id"]), 200)
    expect_problem(ro.post("/v1/partners", {"name": "x"}), 403, "forbidden")
    expect_problem(ro.patch("/v1/partners/" + mine["id"], {"name": "x"}), 403, "forbidden")
    expect_problem(ro.delete("/v1/partners/" + other["id"]), 403, "forbidden")
    expect_status(staff.post("/v1/partners", {"name": "by staff"}), 201)
    expect_status(staff.patch("/v1/partners/" + other["id"], {"name": "Other 2"}), 200)
    expect_status(pk.get("/v1/partners/" + mine["id"]), 200)
    expect_problem(pk.get("/v1/partners/" + other["id"]), 404, "not-found")
    expect([x["id"] for x in pk.get("/v1/partners").json["data"]] == [mine["id"]], "partner list scope")
    expect(pk.get("/v1/partners?q=Other").json["data"] == [], "partner q scope")
    expect_problem(pk.post("/v1/partners", {"name": "x"}), 403, "forbidden")
    expect_problem(pk.patch("/v1/partners/" + mine["id"], {"name": "x"}), 403, "forbidden")
    expect_problem(pk.delete("/v1/partners/" + mine["id"]), 403, "forbidden")


@test
def tenant_isolation_partners(ctx):
    """another tenant's partner is 404 on every route and method, and never listed"""
    a, b = setup(ctx, "tenant A"), setup(ctx, "tenant B")
    pa = a.post("/v1/partners", {"name": "Secret", "external_id": "same"}).json
    b.post("/v1/partners", {"name": "Bee", "external_id": "same"})
    url = "/v1/partners/" + pa["id"]
    expect_problem(b.get(url), 404, "not-found")
    expect_problem(b.patch(url, {"name": "pwned"}), 404, "not-found")
    expect_problem(b.patch(url, {"name": "pwned"}, headers={"If-Match": '"1"'}), 404, "not-found")
    expect_problem(b.delete(url), 404, "not-found")
    for q in ("", "?q=Secret", "?external_id=same", "?limit=200"):
        expect(pa["id"] not in [x["id"] for x in b.get("/v1/partners" + q).json["data"]], "leaked via %s", q)
    bro, bpk = key(b, "readonly"), None
    expect_problem(bro.get(url), 404)
    bp = b.get("/v1/partners").json["data"][0]
    bpk = key(b, "partner", partner_id=bp["id"])
    expect_problem(bpk.get(url), 404)
    got = a.get(url).json
    expect(got["name"] == "Secret" and got["version"] == 1, "tenant B changed tenant A's partner: %r", got)


@test
def idempotent_create(ctx):
    """the same Idempotency-Key and body replays the first response; another body is 422"""
    c = setup(ctx)
    h = {"Idempotency-Key": "create-ada-1"}
    r1 = c.post("/v1/partners", {"name": "Ada"}, headers=h)
    r2 = c.post("/v1/partners", {"name": "Ada"}, headers=h)
    expect_status(r1, 201)
    expect_status(r2, 201)
    expect(r1.json == r2.json and r2.h("idempotent-replayed") == "true" and r2.h("etag") == r1.h("etag") and
           r2.h("location") == r1.h("location"), "%r / %r", r1.headers, r2.headers)
    expect(len(c.get("/v1/partners").json["data"]) == 1, "two rows")
    expect_problem(c.post("/v1/partners", {"name": "Bob"}, headers=h), 422, "idempotency-key-reused")
    other = key(c, "staff")
    r3 = other.post("/v1/partners", {"name": "Ada"}, headers=h)
    expect(r3.status == 201 and r3.json["id"] != r1.json["id"] and not r3.h("idempotent-replayed"),
           "keys are scoped per API key: %r", r3)
    bad = c.post("/v1/partners", {"name": "x"}, headers={"Idempotency-Key": "x" * 256})
    expect_problem(bad, 400, "validation-error", "Idempotency-Key")
    failed = c.post("/v1/partners", {"name": ""}, headers={"Idempotency-Key": "k-fail"})
    expect_problem(failed, 400)
    expect_status(c.post("/v1/partners", {"name": ""}, headers={"Idempotency-Key": "k-fail"}), 400)
    k1 = c.post("/v1/api-keys", {"role": "readonly"}, headers={"Idempotency-Key": "k-key"})
    expect_status(k1, 201)
    rk = c.post("/v1/api-keys", {"role": "readonly"}, headers={"Idempotency-Key": "k-key"})
    expect(rk.status == 201 and rk.h("idempotent-replayed") == "true" and rk.json["id"] == k1.json["id"],
           "api-keys POST replays too: %r", rk)
    expect(rk.json["key"] is None, "a replay must not reveal the secret again (it is never stored)")


@test
def stored_document_follows_writes(ctx):
    """partners.doc, what reads return, equals partner_json after every kind of write, in every tenant"""
    c = setup(ctx, "stored doc")
    p = c.post("/v1/partners", {"name": "Doc", "tags": ["x"], "qualification": {"reachable": True}}).json
    same = "SELECT doc = partner_json(p)::text FROM partners p WHERE id = '%s'" % p["id"]
    expect(psql(same) == "t", "insert: stored document differs")
    u = c.patch("/v1/partners/" + p["id"], {"company": "Co", "status": "active", "metadata": {"a": 1},
                                            "qualification": {"reachable": False, "refers_back": True}})
    expect_status(u, 200)
    expect(psql(same) == "t", "update: stored document differs")
    expect(c.get("/v1/partners/" + p["id"]).json == u.json, "GET differs from the PATCH's answer")
    put = c.req("PUT", "/v1/partners/by-external-id/doc-1", {"name": "Upserted", "kind": "expert"}).json
    expect(psql("SELECT doc = partner_json(p)::text FROM partners p WHERE id = '%s'" % put["id"]) == "t",
           "upsert: stored document differs")
    # A referral sets the partner's last_referral_at, which the document does not show: the trigger
    # is not on that column (nor on tenant_id or doc); every other column is one the shape shows.
    before = psql("SELECT doc FROM partners WHERE id = '%s'" % p["id"])
    expect_status(c.post("/v1/referrals", {"partner_id": p["id"], "direction": "inbound",
                                           "prospect": {"name": "P", "email": "p@doc.example"}}), 201)
    expect(psql("SELECT last_referral_at IS NOT NULL FROM partners WHERE id = '%s'" % p["id"]) == "t",
           "last_referral_at not kept")
    expect(psql("SELECT doc FROM partners WHERE id = '%s'" % p["id"]) == before, "document changed by a referral")
    unwatched = psql("SELECT string_agg(a.attname, ',' ORDER BY a.attname) FROM pg_attribute a "
                     "JOIN pg_trigger t ON t.tgrelid = a.attrelid AND t.tgname = 'partners_doc' "
                     "WHERE a.attrelid = 'partners'::regclass AND a.attnum > 0 AND NOT a.attisdropped "
                     "AND NOT a.attnum = ANY (t.tgattr::int2[])")
    expect(unwatched == "doc,last_referral_at,tenant_id",
           "partners_doc's UPDATE OF list leaves out %s: a column the shape shows must be in it", unwatched)
    # A write outside the API (an operator's SQL) keeps it too.
    psql("UPDATE partners SET name = 'By hand' WHERE id = '%s'" % p["id"])
    expect(c.get("/v1/partners/" + p["id"]).json["name"] == "By hand", "SQL update not in the stored document")
    bad = psql("SELECT count(*) FROM partners p WHERE doc IS DISTINCT FROM partner_json(p)::text")
    expect(bad == "0", "%s partners in the database have a stale stored document", bad)
