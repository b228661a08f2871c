"""Concurrency: parallel writes on one record, parallel idempotent POSTs, several instances."""
from lib import test, expect, expect_status, new_tenant, Client, Server, parallel


@test
def parallel_patch_one_winner(ctx):
    """20 parallel PATCHes with the same If-Match: exactly one 200, the rest 412"""
    c = Client(ctx.MAIN.port, new_tenant("race")[1])
    p = c.post("/v1/partners", {"name": "Race"}).json
    res = parallel(20, lambda i: c.patch("/v1/partners/" + p["id"], {"name": "w%d" % i}, headers={"If-Match": '"1"'}))
    codes = sorted(r.status for r in res)
    expect(codes.count(200) == 1 and codes.count(412) == 19, "%r", codes)
    expect(c.get("/v1/partners/" + p["id"]).json["version"] == 2, "version")


@test
def parallel_idempotent_posts_one_row(ctx):
    """20 parallel POSTs with one Idempotency-Key create exactly one partner, all answering it"""
    c = Client(ctx.MAIN.port, new_tenant("idem race")[1])
    res = parallel(20, lambda i: c.post("/v1/partners", {"name": "Once"}, headers={"Idempotency-Key": "same"}))
    expect(all(r.status == 201 for r in res), "%r", [r.status for r in res])
    expect(len({r.json["id"] for r in res}) == 1, "different ids")
    expect(sum(1 for r in res if r.h("idempotent-replayed")) == 19, "replays")
    expect(len(c.get("/v1/partners").json["data"]) == 1, "rows")


@test
def two_instances_one_database(ctx):
    """two server instances on one database: parallel PATCHes split between them still have one winner"""
    other = Server()
    try:
        key = new_tenant("two instances")[1]
        c1, c2 = Client(ctx.MAIN.port, key), Client(other.port, key)
        p = c1.post("/v1/partners", {"name": "Shared"}).json
        expect_status(c2.get("/v1/partners/" + p["id"]), 200)
        res = parallel(20, lambda i: (c1 if i % 2 else c2).patch(
            "/v1/partners/" + p["id"], {"name": "w%d" % i}, headers={"If-Match": '"1"'}))
        codes = sorted(r.status for r in res)
        expect(codes.count(200) == 1 and codes.count(412) == 19, "%r", codes)
        res = parallel(10, lambda i: (c1 if i % 2 else c2).post(
            "/v1/partners", {"name": "Once"}, headers={"Idempotency-Key": "across"}))
        expect(all(r.status == 201 for r in res) and len({r.json["id"] for r in res}) == 1, "%r", res)
    finally:
        expect(other.stop() == 0, "second instance did not exit 0")


@test
def parallel_creates_all_land(ctx):
    """50 parallel creates each land exactly once"""
    c = Client(ctx.MAIN.port, new_tenant("bulk")[1])
    res = parallel(50, lambda i: c.post("/v1/partners", {"name": "N%d" % i, "external_id": "e%d" % i}))
    expect(all(r.status == 201 for r in res), "%r", [r.status for r in res])
    got = c.get("/v1/partners?limit=200").json["data"]
    expect(sorted(x["external_id"] for x in got) == sorted("e%d" % i for i in range(50)), "rows")


@test
def parallel_same_external_id(ctx):
    """parallel creates with one external_id: exactly one 201, the rest 409"""
    c = Client(ctx.MAIN.port, new_tenant("ext race")[1])
    res = parallel(10, lambda i: c.post("/v1/partners", {"name": "N%d" % i, "external_id": "dup"}))
    codes = sorted(r.status for r in res)
    expect(codes.count(201) == 1 and codes.count(409) == 9, "%r", codes)
