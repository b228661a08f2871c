"""Authentication, API keys and roles."""
from lib import test, expect, expect_status, expect_problem, new_tenant, Client


def setup(ctx):
    tid, key = new_tenant("keys")
    return Client(ctx.MAIN.port, key)


@test
def missing_key(ctx):
    """a request without a key is 401 with WWW-Authenticate"""
    r = Client(ctx.MAIN.port).get("/v1/partners")
    expect_problem(r, 401, "unauthorized")
    expect(r.h("www-authenticate", ).startswith("Bearer"), "%r", r.headers)


@test
def bad_keys(ctx):
    """malformed, unknown and wrong-secret keys are all 401"""
    c = setup(ctx)
    good = c.key
    for k in ["nope", "ak_", good[:-1], good + "x", good[:16] + "A" * 43, "ak_000000000000_" + good[16:],
              good.replace("ak_", "AK_")]:
        expect_problem(Client(ctx.MAIN.port).get("/v1/partners", key=k), 401, "unauthorized")
    r = Client(ctx.MAIN.port).get("/v1/partners", headers={"Authorization": "Basic " + good})
    expect_problem(r, 401)
    expect_status(c.get("/v1/partners"), 200)


@test
def key_lifecycle(ctx):
    """an admin creates a key (secret shown once), lists and reads it, revokes it, and it fails at once"""
    c = setup(ctx)
    r = c.post("/v1/api-keys", {"role": "staff", "name": "crm sync"})
    expect_status(r, 201)
    k = r.json
    expect(k["key"].startswith(k["prefix"] + "_") and k["role"] == "staff" and k["revoked_at"] is None, "%r", k)
    expect(r.h("location") == "/v1/api-keys/" + k["id"], "%r", r.headers)
    staff = Client(ctx.MAIN.port, k["key"])
    expect_status(staff.get("/v1/partners"), 200)
    g = c.get("/v1/api-keys/" + k["id"])
    expect_status(g, 200)
    expect("key" not in g.json and "secret_hash" not in g.json, "secret leaked: %r", g.json)
    ids = [x["id"] for x in c.get("/v1/api-keys").json["data"]]
    expect(k["id"] in ids, "not listed")
    d = c.delete("/v1/api-keys/" + k["id"])
    expect_status(d, 200)
    expect(d.json["revoked_at"] is not None, "%r", d.json)
    expect_problem(staff.get("/v1/partners"), 401, "unauthorized")
    again = c.delete("/v1/api-keys/" + k["id"])
    expect(again.json["revoked_at"] == d.json["revoked_at"], "revocation time moved")
    revoked = c.get("/v1/api-keys?revoked=true").json["data"]
    expect([x["id"] for x in revoked] == [k["id"]], "%r", revoked)


@test
def key_validation(ctx):
    """key creation rejects unknown roles, fields, and partner/role mismatches"""
    c = setup(ctx)
    expect_problem(c.post("/v1/api-keys", {"role": "root"}), 400, "validation-error", "role")
    expect_problem(c.post("/v1/api-keys", {}), 400, "validation-error", "role")
    expect_problem(c.post("/v1/api-keys", {"role": "staff", "extra": 1}), 400, "validation-error", "extra")
    expect_problem(c.post("/v1/api-keys", {"role": "staff", "key": "x"}), 400, "validation-error", "key")
    expect_problem(c.post("/v1/api-keys", {"role": "partner"}), 400, "validation-error", "partner_id")
    expect_problem(c.post("/v1/api-keys", {"role": "partner", "partner_id": "nope"}), 400, "validation-error", "partner_id")
    expect_problem(c.post("/v1/api-keys", {"role": "partner", "partner_id": "00000000-0000-0000-0000-000000000000"}),
                   400, "validation-error", "partner_id")
    p = c.post("/v1/partners", {"name": "P"}).json
    expect_problem(c.post("/v1/api-keys", {"role": "staff", "partner_id": p["id"]}), 400, "validation-error", "partner_id")
    expect_problem(c.post("/v1/api-keys", {"role": 5}), 400, "validation-error", "role")
    expect_problem(c.get("/v1/api-keys/not-a-uuid"), 400, "validation-error", "id")
    expect_problem(c.get("/v1/api-keys/00000000-0000-0000-0000-000000000000"), 404, "not-found")
    expect_problem(c.get("/v1/api-keys?role=god"), 400, "validation-error", "role")
    expect_problem(c.get("/v1/api-keys?color=red"), 400, "validation-error", "color")


@test
def only_admin_manages_keys(ctx):
    """staff, partner and readonly keys get 403 on every API key route"""
    c = setup(ctx)
    p = c.post("/v1/partners", {"name": "P"}).json
    for role, extra in (("staff", {}), ("readonly", {}), ("partner", {"partner_id": p["id"]})):
        k = Client(ctx.MAIN.port, c.post("/v1/api-keys", dict(role=role, **extra)).json["key"])
        expect_problem(k.post("/v1/api-keys", {"role": "admin"}), 403, "forbidden")
        expect_problem(k.get("/v1/api-keys"), 403, "forbidden")
        expect_problem(k.get("/v1/api-keys/00000000-0000-0000-0000-000000000000"), 403)
        expect_problem(k.delete("/v1/api-keys/00000000-0000-0000-0000-000000000000"), 403)


@test
def keys_are_tenant_scoped(ctx):
    """another tenant's key ids are 404 and never listed"""
    a, b = setup(ctx), setup(ctx)
    ka = a.post("/v1/api-keys", {"role": "staff"}).json
    expect_problem(b.get("/v1/api-keys/" + ka["id"]), 404, "not-found")
    expect_problem(b.delete("/v1/api-keys/" + ka["id"]), 404, "not-found")
    expect(ka["id"] not in [x["id"] for x in b.get("/v1/api-keys?limit=200").json["data"]], "leaked in list")
    expect_status(Client(ctx.MAIN.port, ka["key"]).get("/v1/partners"), 200)
    pa = a.post("/v1/partners", {"name": "A's partner"}).json
    expect_problem(b.post("/v1/api-keys", {"role": "partner", "partner_id": pa["id"]}), 400, "validation-error", "partner_id")


@test
def key_list_pagination(ctx):
    """API keys page with limit and cursor, each key once"""
    c = setup(ctx)
    made = [c.post("/v1/api-keys", {"role": "readonly", "name": "k%d" % i}).json["id"] for i in range(5)]
    seen, cursor = [], None
    while True:
        r = c.get("/v1/api-keys?limit=2" + ("&cursor=" + cursor if cursor else ""))
        expect_status(r, 200)
        seen += [x["id"] for x in r.json["data"]]
        cursor = r.json["next_cursor"]
        if not cursor:
            break
    expect(len(seen) == 6 and set(made) <= set(seen), "%r", seen)
