"""Pagination cursors are opaque: signed, bound to their list, and shared by every instance."""
import base64
import re
from lib import test, expect, expect_status, expect_problem, new_tenant, psql, Client, Server

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def tenant_with_partners(ctx, n=5):
    c = Client(ctx.MAIN.port, new_tenant("cursors")[1])
    ids = [c.post("/v1/partners", {"name": "P%d" % i}).json["id"] for i in range(n)]
    return c, ids


def walk_by_one(c, pages):
    """The ids of /v1/partners read one row a page, following next_cursor (at most `pages` pages)."""
    seen, path = [], "/v1/partners?limit=1"
    for _ in range(pages):
        r = c.get(path)
        expect_status(r, 200)
        seen += [p["id"] for p in r.json["data"]]
        if not r.json["next_cursor"]:
            break
        path = "/v1/partners?limit=1&cursor=" + r.json["next_cursor"]
    return seen


def first_cursor(c, path):
    r = c.get(path + ("&" if "?" in path else "?") + "limit=2")
    expect_status(r, 200)
    cur = r.json["next_cursor"]
    expect(isinstance(cur, str) and cur, "no next_cursor: %r", r)
    return cur


def edited(cur, i):
    """The cursor with character i replaced by another base64url character."""
    return cur[:i] + B64[(B64.index(cur[i]) + 1) % 64] + cur[i + 1:]


@test
def edited_cursor_is_refused(ctx):
    """a hand-edited cursor is a 400 naming cursor, never a silently moved page"""
    c, ids = tenant_with_partners(ctx)
    cur = first_cursor(c, "/v1/partners")
    good = c.get("/v1/partners?limit=2&cursor=" + cur)
    expect_status(good, 200)
    expect([p["id"] for p in good.json["data"]] == ids[2:4], "%r", good)
    # Positions across the tag and the payload (the timestamp and the id), and the last one.
    for i in sorted({0, 5, 20, 30, len(cur) // 2, len(cur) - 10, len(cur) - 2}):
        expect_problem(c.get("/v1/partners?limit=2&cursor=" + edited(cur, i)), 400, "validation-error", "cursor")
    expect_problem(c.get("/v1/partners?cursor=" + cur[:-4]), 400, "validation-error", "cursor")
    expect_problem(c.get("/v1/partners?cursor=" + cur + "AAAA"), 400, "validation-error", "cursor")


@test
def forged_plain_cursor_is_refused(ctx):
    """a cursor built by hand from a row's created_at and id (the old unsigned form) is a 400"""
    c, ids = tenant_with_partners(ctx, 3)
    p = c.get("/v1/partners/" + ids[0]).json
    forged = base64.urlsafe_b64encode(("%s|%s" % (p["created_at"], p["id"])).encode()).decode().rstrip("=")
    expect_problem(c.get("/v1/partners?cursor=" + forged), 400, "validation-error", "cursor")


@test
def cursor_is_bound_to_its_list(ctx):
    """a cursor from one list is a 400 on another list, and on the same list of another tenant"""
    c, _ = tenant_with_partners(ctx)
    for i in range(3):
        c.post("/v1/api-keys", {"role": "readonly", "name": "k%d" % i})
    cur = first_cursor(c, "/v1/partners")
    keys_cur = first_cursor(c, "/v1/api-keys")
    expect_status(c.get("/v1/api-keys?limit=2&cursor=" + keys_cur), 200)
    expect_problem(c.get("/v1/api-keys?cursor=" + cur), 400, "validation-error", "cursor")
    expect_problem(c.get("/v1/partners?cursor=" + keys_cur), 400, "validation-error", "cursor")
    other, _ = tenant_with_partners(ctx, 3)
    expect_problem(other.get("/v1/partners?cursor=" + cur), 400, "validation-error", "cursor")
    # Filters may change between pages: the cursor binds the list, not the query.
    expect_status(c.get("/v1/partners?status=prospect&cursor=" + cur), 200)


@test
def cursor_works_on_another_instance(ctx):
    """a cursor made by one instance pages on to the next rows on another instance of the same database"""
    c, ids = tenant_with_partners(ctx)
    cur = first_cursor(c, "/v1/partners")
    second = Server()
    try:
        r = Client(second.port, c.key).get("/v1/partners?limit=2&cursor=" + cur)
        expect_status(r, 200)
        expect([p["id"] for p in r.json["data"]] == ids[2:4], "%r", r)
        back = first_cursor(Client(second.port, c.key), "/v1/partners")
        expect(back == cur, "the two instances sign differently: %r vs %r", back, cur)
    finally:
        expect(second.stop() == 0, "second server did not exit cleanly")


@test
def rotated_key_refuses_old_cursors(ctx):
    """after the cursor key in server_secrets is rotated, an instance started since refuses the old cursors"""
    c, ids = tenant_with_partners(ctx)
    cur = first_cursor(c, "/v1/partners")
    old = psql("SELECT encode(secret, 'hex') FROM server_secrets WHERE name = 'cursor'")
    psql("UPDATE server_secrets SET secret = sha256(convert_to(gen_random_uuid()::text, 'UTF8')) WHERE name = 'cursor'")
    try:
        fresh = Server()
        try:
            f = Client(fresh.port, c.key)
            expect_problem(f.get("/v1/partners?cursor=" + cur), 400, "validation-error", "cursor")
            new = first_cursor(f, "/v1/partners")
            expect(new != cur, "same cursor under a new key")
            r = f.get("/v1/partners?limit=2&cursor=" + new)
            expect(r.status == 200 and [p["id"] for p in r.json["data"]] == ids[2:4], "%r", r)
        finally:
            expect(fresh.stop() == 0, "fresh server did not exit cleanly")
    finally:
        psql("UPDATE server_secrets SET secret = decode('%s', 'hex') WHERE name = 'cursor'" % old)


@test
def a_walk_one_row_at_a_time_sees_every_row_once(ctx):
    """paging with limit=1 visits every row once in (created_at, id) order, through ties and times with no fraction of a second"""
    # Lists select created_at raw and only the cursor's row is put in the API's form
    # (page_ts_from_pg): PostgreSQL prints "…00:00:00+00" for a whole second and trims a fraction's
    # trailing zeros, so those shapes are made here on purpose.
    c, ids = tenant_with_partners(ctx, 6)
    stamps = ["2026-01-01 00:00:00+00", "2026-01-01 00:00:00+00", "2026-01-01 00:00:00.5+00",
              "2026-01-01 00:00:00.000001+00", "2026-01-01 00:00:00.12+00", "2026-01-01 00:00:00+00"]
    for pid, at in zip(ids, stamps):
        psql("UPDATE partners SET created_at = '%s' WHERE id = '%s'" % (at, pid))
    want = [row.split("|")[0] for row in psql(
        "SELECT id FROM partners WHERE id IN (%s) ORDER BY created_at, id" % ",".join("'%s'" % i for i in ids)
    ).split()]
    seen = walk_by_one(c, 10)
    expect(seen == want, "walked %r, expected %r", seen, want)
    # A page ending at each kind of time, in the API's form inside the (opaque) cursor.
    for limit in (1, 3, 4):
        cur = c.get("/v1/partners?limit=%d" % limit).json["next_cursor"]
        raw = base64.urlsafe_b64decode(cur + "=" * (-len(cur) % 4))[16:].decode()
        expect(raw.endswith("|" + want[limit - 1]) and raw[10] == "T" and raw[19] == "." and raw[26:27] == "Z",
               "cursor payload %r", raw)


@test
def a_database_with_other_date_settings_pages_the_same(ctx):
    """a database whose default DateStyle and TimeZone are not ISO and UTC pages the same: each connection sets its own (db_open)"""
    c, ids = tenant_with_partners(ctx, 3)
    db = psql("SELECT current_database()")
    psql("ALTER DATABASE \"%s\" SET DateStyle = 'SQL, DMY'" % db)
    psql("ALTER DATABASE \"%s\" SET TimeZone = 'America/New_York'" % db)
    try:
        with Server() as s:  # new connections, which get the database's defaults
            p = Client(s.port, c.key)
            seen = walk_by_one(p, 5)
            want = psql("SELECT string_agg(id::text, ' ' ORDER BY created_at, id) FROM partners WHERE id IN (%s)"
                        % ",".join("'%s'" % i for i in ids)).split()
            expect(seen == want, "walked %r, expected %r", seen, want)
            expect(p.get("/v1/partners/" + ids[0]).json["created_at"].endswith("Z"), "created_at in UTC")
    finally:
        psql("ALTER DATABASE \"%s\" RESET DateStyle" % db)
        psql("ALTER DATABASE \"%s\" RESET TimeZone" % db)


def _metric(port, name):
    text = Client(port).get("/metrics").body.decode()
    return int(re.search(r"^%s (\d+)" % name, text, re.M).group(1))


@test
def unfiltered_pages_bring_their_plan(ctx):
    """an unfiltered list page sends its plan settings (a generic plan, no sort: server/edge/list.c) in the same round trip, three statements; a filtered page and a partner key's page send two"""
    with Server() as s:
        c = Client(s.port, new_tenant("plans")[1])
        ids = [c.post("/v1/partners", {"name": "P%d" % i}).json["id"] for i in range(3)]
        k = c.post("/v1/api-keys", {"role": "partner", "partner_id": ids[0]})
        expect_status(k, 201)
        partner = Client(s.port, k.json["key"])
        cur = c.get("/v1/partners?limit=1").json["next_cursor"]
        paths = [(c, "/v1/partners?limit=1", 3), (c, "/v1/partners?limit=1&cursor=" + cur, 3),
                 (c, "/v1/partners?limit=1&status=prospect", 2), (partner, "/v1/referrals?limit=1", 2)]
        for _ in range(6):  # keys cached, statements prepared on every pooled connection
            for client, path, _n in paths:
                expect_status(client.get(path), 200)
        for client, path, n in paths:
            stmts, trips = _metric(s.port, "allied_db_statements_total"), _metric(s.port, "allied_db_round_trips_total")
            r = client.get(path)
            expect_status(r, 200)
            got = _metric(s.port, "allied_db_statements_total") - stmts
            expect(got == n, "%s: %d statements, expected %d", path, got, n)
            got = _metric(s.port, "allied_db_round_trips_total") - trips
            expect(got == 1, "%s: %d round trips", path, got)
