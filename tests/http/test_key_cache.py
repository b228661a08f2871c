"""Verified keys are cached in each instance and forgotten the moment they change, on every
instance (NOTIFY allied_key_changes), never only when the cache's time limit runs out."""
from lib import test, expect, expect_status, expect_problem, new_tenant, wait_until, Client, Server, psql, tenant_client


@test
def revoked_cached_key_fails_at_once_on_every_instance(ctx):
    """a cached key revoked on one instance gets 401 on that instance's very next request and on another instance soon after"""
    with Server(ALLIED_KEY_CACHE_TTL_MS=3600000) as other:
        a = tenant_client("cache revoke")
        made = a.post("/v1/api-keys", {"role": "staff", "name": "cached"}).json
        key = made["key"]
        here, there = Client(ctx.MAIN.port, key), Client(other.port, key)
        for _ in range(3):  # verified once, then served from each instance's cache
            expect_status(here.get("/v1/partners"), 200)
            expect_status(there.get("/v1/partners"), 200)
        expect_status(a.delete("/v1/api-keys/" + made["id"]), 200)
        expect_problem(here.get("/v1/partners"), 401)
        wait_until(lambda: there.get("/v1/partners").status == 401, "the other instance kept serving a revoked key")


@test
def key_changed_in_the_database_is_forgotten(ctx):
    """a key revoked directly in the database (not through the API) is forgotten by the cache too"""
    a = tenant_client("cache sql")
    made = a.post("/v1/api-keys", {"role": "readonly"}).json
    c = Client(ctx.MAIN.port, made["key"])
    expect_status(c.get("/v1/partners"), 200)
    expect_status(c.get("/v1/partners"), 200)
    psql("UPDATE api_keys SET revoked_at = now() WHERE id = '%s'" % made["id"])
    wait_until(lambda: c.get("/v1/partners").status == 401, "revoked key still served from the cache")


@test
def cache_off_still_authenticates(ctx):
    """with ALLIED_KEY_CACHE_SIZE=0 every request looks its key up and behaves the same"""
    with Server(ALLIED_KEY_CACHE_SIZE=0) as s:
        _, admin = new_tenant("cache off")
        c = Client(s.port, admin)
        for _ in range(3):
            expect_status(c.get("/v1/partners"), 200)
        expect_problem(c.get("/v1/partners", key=admin[:-1] + ("A" if admin[-1] != "A" else "B")), 401)


def _statements(port):
    import re
    text = Client(port).get("/metrics").body.decode()
    return int(re.search(r"^allied_db_statements_total (\d+)", text, re.M).group(1))


@test
def cold_key_is_one_statement(ctx):
    """a key the instance has not seen costs one statement more than a cached one, tenant key or operator key (the key, its tenant's state and operator keys in one lookup)"""
    from lib import cli
    with Server(ALLIED_KEY_CACHE_TTL_MS=3600000) as s:
        tenant = Client(s.port, new_tenant("cold key")[1])
        operator = Client(s.port, cli("key", "create", "--role", "operator", "--name", "cold")["key"])
        for _ in range(8):  # every pooled connection used once (prepared, settled) by another key first
            expect_status(Client(s.port, new_tenant("cold key warm-up")[1]).get("/v1/partners?limit=1"), 200)
        for c, path in ((tenant, "/v1/partners?limit=1"), (operator, "/v1/tenants?limit=1")):
            costs = []
            for _ in range(2):  # the first request verifies the key, the second is served from the cache
                before = _statements(s.port)
                expect_status(c.get(path), 200)
                costs.append(_statements(s.port) - before)
            expect(costs[0] == costs[1] + 1, "statements of a cold and a warm request to %s: %r", path, costs)
