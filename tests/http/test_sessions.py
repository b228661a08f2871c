"""Signing people in without passwords (issue 15): one-time sign-in links, the session cookie the
API accepts exactly where it accepts a key of the same role, CSRF, rotation, expiry, sign-out."""
import uuid
from lib import test, expect, expect_status, expect_problem, Client, Server, psql, tenant_client, wait_until

UNKNOWN = "00000000-0000-4000-8000-000000000000"


def cookie_of(r):
    """The allied_session value a response sets: a string, "" when it clears it, None if it sets none."""
    sc = r.h("set-cookie")
    if not sc or not sc.startswith("allied_session="):
        return None
    value = sc.split(";", 1)[0].split("=", 1)[1]
    return "" if "Max-Age=0" in sc else value


class Browser:
    """What a browser keeps for one person: the session cookie (replaced by every Set-Cookie) and
    the CSRF token the pages send back on state-changing requests."""

    def __init__(self, port, cookie=None, csrf=None):
        self.port, self.cookie, self.csrf = port, cookie, csrf

    def req(self, method, path, body=None, headers=None, csrf=True, **kw):
        h = {}
        if self.cookie:
            h["Cookie"] = "allied_session=" + self.cookie
        if csrf and self.csrf and method not in ("GET", "HEAD"):
            h["X-CSRF-Token"] = self.csrf
        h.update(headers or {})
        r = Client(self.port).req(method, path, body, headers=h, **kw)
        got = cookie_of(r)
        if got is not None:
            self.cookie = got or None
        return r

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.req("POST", path, body, **kw)

    def delete(self, path, **kw):
        return self.req("DELETE", path, **kw)


def token_of(link):
    expect("/portal/sign-in#token=" in link["url"], "no sign-in url: %r", link)
    return link["url"].split("#token=", 1)[1]


def sign_in(port, link):
    """Follows a sign-in link as the sign-in page does; returns (browser, POST /v1/sessions reply)."""
    b = Browser(port)
    r = b.post("/v1/sessions", {"token": token_of(link)})
    expect_status(r, 201)
    expect(b.cookie, "no session cookie: %r", r.headers)
    b.csrf = r.json["csrf_token"]
    return b, r


def partner_world(port, name):
    """A tenant with partners A (with an e-mail) and B, one referral each; (admin, a, b, ref_a, ref_b)."""
    admin = tenant_client(name, port)
    a = admin.post("/v1/partners", {"name": "A", "email": "anna@a.example"}).json
    b = admin.post("/v1/partners", {"name": "B"}).json
    refs = []
    for p in (a, b):
        r = admin.post("/v1/referrals", {"partner_id": p["id"], "direction": "inbound", "prospect": {"name": "X " + p["name"]}})
        expect_status(r, 201)
        refs.append(r.json)
    return admin, a, b, refs[0], refs[1]


def partner_session(ctx, name):
    admin, a, b, ra, rb = partner_world(ctx.MAIN.port, name)
    link = admin.post("/v1/partners/%s/portal-links" % a["id"])
    expect_status(link, 201)
    browser, _ = sign_in(ctx.MAIN.port, link.json)
    return admin, browser, a, b, ra, rb


@test
def partner_link_signs_in_as_that_partner(ctx):
    """a partner's sign-in link becomes an HttpOnly SameSite=Lax session cookie that acts as a partner key of that partner: own referrals yes, another partner's 404, staff routes 403"""
    admin, a, b, ra, rb = partner_world(ctx.MAIN.port, "sessions-partner")
    r = admin.post("/v1/partners/%s/portal-links" % a["id"])
    expect_status(r, 201)
    link = r.json
    expect(link["role"] == "partner" and link["partner_id"] == a["id"] and link["email"] == "anna@a.example"
           and link["expires_at"] and link["url"].startswith("http://127.0.0.1:"), "link: %r", link)
    browser, s = sign_in(ctx.MAIN.port, link)
    sc = s.h("set-cookie")
    for part in ("Path=/", "HttpOnly", "SameSite=Lax", "Max-Age="):
        expect(part in sc, "%s missing from %r", part, sc)
    expect("Secure" not in sc, "Secure over plain HTTP without a proxy: %r", sc)
    j = s.json
    expect(j["role"] == "partner" and j["partner_id"] == a["id"] and j["partner_name"] == "A" and
           j["tenant_name"] == "sessions-partner" and j["email"] == "anna@a.example" and len(j["csrf_token"]) == 43
           and j["expires_at"] and j["idle_expires_at"], "session: %r", j)
    me = browser.get("/v1/session")
    expect_status(me, 200)
    expect(me.json["csrf_token"] == j["csrf_token"] and me.json["partner_id"] == a["id"], "GET /v1/session: %r", me.json)
    mine = browser.get("/v1/referrals")
    expect_status(mine, 200)
    expect([x["id"] for x in mine.json["data"]] == [ra["id"]], "partner sees: %r", mine.json)
    expect_status(browser.get("/v1/referrals/" + ra["id"]), 200)
    expect_problem(browser.get("/v1/referrals/" + rb["id"]), 404, "not-found")
    expect_problem(browser.get("/v1/api-keys"), 403, "forbidden")
    expect_problem(browser.post("/v1/partners", {"name": "C"}), 403, "forbidden")


@test
def session_writes_are_audited_as_the_session(ctx):
    """a write made with a session cookie is in the audit log as "session of <email>" with the session's role"""
    admin, browser, a, b, ra, rb = partner_session(ctx, "sessions-audit")
    r = browser.post("/v1/referrals", {"partner_id": a["id"], "direction": "inbound", "prospect": {"name": "Y"}})
    expect_status(r, 201)
    events = admin.get("/v1/audit-events?limit=100").json["data"]
    mine = [e for e in events if e["route"] == "/v1/referrals" and e["method"] == "POST" and e["key_role"] == "partner"]
    expect(mine and mine[0]["key_name"] == "session of anna@a.example", "audit: %r", events)
    signed_in = [e for e in events if e["route"] == "/v1/sessions"]
    expect(signed_in and signed_in[0]["key_name"] == "session of anna@a.example", "sign-in not audited: %r", events)


@test
def staff_link_signs_in_as_staff(ctx):
    """an admin's staff link becomes a staff session: staff routes work (with the CSRF token), admin-only routes are 403"""
    admin = tenant_client("sessions-staff", ctx.MAIN.port)
    r = admin.post("/v1/staff-links", {"email": "sam@biz.example", "role": "staff"})
    expect_status(r, 201)
    expect(r.json["role"] == "staff" and r.json["partner_id"] is None, "link: %r", r.json)
    browser, s = sign_in(ctx.MAIN.port, r.json)
    expect(s.json["role"] == "staff" and s.json["partner_id"] is None and s.json["partner_name"] is None, "%r", s.json)
    expect_status(browser.get("/v1/partners"), 200)
    expect_status(browser.post("/v1/partners", {"name": "From the inbox"}), 201)
    expect_problem(browser.get("/v1/api-keys"), 403, "forbidden")
    expect_problem(browser.post("/v1/staff-links", {"email": "x@biz.example", "role": "admin"}), 403, "forbidden")
    ad = admin.post("/v1/staff-links", {"email": "boss@biz.example", "role": "admin"})
    boss, _ = sign_in(ctx.MAIN.port, ad.json)
    expect_status(boss.get("/v1/api-keys"), 200)


@test
def used_expired_and_unknown_links_are_refused(ctx):
    """a sign-in link works once: used, expired or unknown tokens get 401 link-invalid saying which"""
    admin, a, b, ra, rb = partner_world(ctx.MAIN.port, "sessions-links")
    link = admin.post("/v1/partners/%s/portal-links" % a["id"]).json
    sign_in(ctx.MAIN.port, link)
    r = Client(ctx.MAIN.port).post("/v1/sessions", {"token": token_of(link)})
    expect_problem(r, 401, "link-invalid")
    expect("already used" in r.json["detail"] and not r.h("set-cookie"), "%r", r)
    old = admin.post("/v1/partners/%s/portal-links" % a["id"]).json
    psql("UPDATE portal_links SET expires_at = now() - interval '1 second' WHERE id = '%s'" % old["id"])
    r = Client(ctx.MAIN.port).post("/v1/sessions", {"token": token_of(old)})
    expect_problem(r, 401, "link-invalid")
    expect("expired" in r.json["detail"], "%r", r.json)
    for token in ("A" * 43, "short", "%" * 43):
        r = Client(ctx.MAIN.port).post("/v1/sessions", {"token": token})
        expect_problem(r, 401, "link-invalid")
        expect("unknown" in r.json["detail"], "%r", r.json)


@test
def stolen_cookie_is_refused_after_sign_out(ctx):
    """DELETE /v1/session signs out server-side and clears the cookie: a copy of the cookie taken before gets 401"""
    admin, browser, a, b, ra, rb = partner_session(ctx, "sessions-signout")
    stolen = Browser(ctx.MAIN.port, browser.cookie)
    expect_status(stolen.get("/v1/referrals"), 200)
    r = browser.delete("/v1/session")
    expect_status(r, 204)
    expect(cookie_of(r) == "", "sign-out does not clear the cookie: %r", r.headers)
    r = stolen.get("/v1/referrals")
    expect_problem(r, 401, "unauthorized")
    expect("signed out" in r.json["detail"] and cookie_of(r) == "", "%r %r", r, r.headers)
    expect_problem(admin.delete("/v1/session"), 400, "bad-request")


@test
def cookie_writes_need_the_csrf_token(ctx):
    """a state-changing request with the session cookie needs X-CSRF-Token: missing or wrong is 403 csrf, the right one works"""
    admin, browser, a, b, ra, rb = partner_session(ctx, "sessions-csrf")
    body = {"partner_id": a["id"], "direction": "inbound", "prospect": {"name": "Z"}}
    r = browser.post("/v1/referrals", body, csrf=False)
    expect_problem(r, 403, "csrf")
    r = browser.post("/v1/referrals", body, headers={"X-CSRF-Token": "x" * 43})
    expect_problem(r, 403, "csrf")
    r = browser.post("/v1/referrals", body, headers={"X-CSRF-Token": browser.csrf[:-1]})
    expect_problem(r, 403, "csrf")
    expect_problem(browser.delete("/v1/session", csrf=False), 403, "csrf")
    expect_status(browser.post("/v1/referrals", body), 201)
    n = admin.get("/v1/referrals?partner_id=" + a["id"]).json["data"]
    expect(len(n) == 2, "refused writes changed something: %r", n)


@test
def bearer_requests_ignore_the_cookie(ctx):
    """a request with Authorization: Bearer is authenticated by its key alone: no CSRF token needed, a bad cookie beside it changes nothing"""
    admin, browser, a, b, ra, rb = partner_session(ctx, "sessions-bearer")
    for cookie in (browser.cookie, "garbage"):
        r = admin.post("/v1/partners", {"name": "K"}, headers={"Cookie": "allied_session=" + cookie})
        expect_status(r, 201)
        expect(cookie_of(r) is None, "a key request touched the cookie: %r", r.headers)
    me = admin.get("/v1/session")
    expect_status(me, 200)
    expect(me.json["role"] == "admin" and me.json["csrf_token"] is None and me.json["tenant_name"] == "sessions-bearer",
           "GET /v1/session with a key: %r", me.json)


@test
def idle_and_old_sessions_expire(ctx):
    """a session unused for longer than its idle time, or older than its absolute lifetime, gets 401 and its cookie cleared"""
    admin, browser, a, b, ra, rb = partner_session(ctx, "sessions-idle")
    expect_status(browser.get("/v1/referrals"), 200)
    psql("UPDATE portal_sessions SET last_seen_at = now() - interval '31 minutes' WHERE email = 'anna@a.example' "
         "AND tenant_id = (SELECT id FROM tenants WHERE name = 'sessions-idle')")
    r = browser.get("/v1/referrals")
    expect_problem(r, 401, "unauthorized")
    expect("without use" in r.json["detail"] and browser.cookie is None, "%r", r.json)
    link = admin.post("/v1/partners/%s/portal-links" % a["id"]).json
    old, s = sign_in(ctx.MAIN.port, link)
    psql("UPDATE portal_sessions SET expires_at = now() - interval '1 second' WHERE id = '%s'" % s.json["id"])
    r = old.get("/v1/referrals")
    expect_problem(r, 401, "unauthorized")
    expect("maximum age" in r.json["detail"], "%r", r.json)
    expect_problem(Browser(ctx.MAIN.port, "not-a-session").get("/v1/referrals"), 401, "unauthorized")


@test
def cookie_value_rotates_with_a_grace(ctx):
    """once the rotation time has passed the next success sets a new cookie value; the old one works until the new one is used, then for the grace only"""
    admin, browser, a, b, ra, rb = partner_session(ctx, "sessions-rotate")
    sid = browser.get("/v1/session").json["id"]
    first = browser.cookie
    expect_status(browser.get("/v1/referrals"), 200)
    expect(browser.cookie == first, "rotated before its time")
    psql("UPDATE portal_sessions SET rotated_at = now() - interval '16 minutes' WHERE id = '%s'" % sid)
    r = browser.get("/v1/referrals/" + rb["id"])  # a failure sets no cookie: the old value keeps working
    expect_status(r, 404)
    expect(cookie_of(r) is None and browser.cookie == first, "a failure set a cookie: %r", r.headers)
    psql("UPDATE portal_sessions SET rotated_at = now() - interval '16 minutes' WHERE id = '%s'" % sid)
    r = browser.get("/v1/referrals")
    expect_status(r, 200)
    second = browser.cookie
    expect(second and second != first, "no new cookie value: %r", r.headers)
    old = Browser(ctx.MAIN.port, first)
    expect_status(old.get("/v1/referrals"), 200)  # the new value was never presented yet
    expect_status(browser.get("/v1/referrals"), 200)  # now it was: the old one has the grace only
    grace = "SELECT previous_until > now() AND previous_until < now() + interval '61 seconds' FROM portal_sessions WHERE id = '%s'" % sid
    wait_until(lambda: psql(grace) == "t", "the grace did not start")  # a read's touch commits after its answer
    expect_status(old.get("/v1/referrals"), 200)
    psql("UPDATE portal_sessions SET previous_until = now() - interval '1 second' WHERE id = '%s'" % sid)
    expect_problem(old.get("/v1/referrals"), 401, "unauthorized")
    expect_status(browser.get("/v1/referrals"), 200)


@test
def links_only_for_the_callers_partners_and_contacts(ctx):
    """a link for another tenant's partner is 404; a contact_id must be that partner's contact, whose e-mail the link then uses"""
    admin, a, b, ra, rb = partner_world(ctx.MAIN.port, "sessions-scope")
    other = tenant_client("sessions-scope-other", ctx.MAIN.port)
    expect_problem(other.post("/v1/partners/%s/portal-links" % a["id"]), 404, "not-found")
    tid = psql("SELECT id FROM tenants WHERE name = 'sessions-scope'")
    cid, cid_b = str(uuid.uuid4()), str(uuid.uuid4())
    psql("INSERT INTO contacts (tenant_id, id, partner_id, name, email) VALUES "
         "('%s', '%s', '%s', 'Carla', 'carla@a.example'), ('%s', '%s', '%s', 'Ben', 'ben@b.example')"
         % (tid, cid, a["id"], tid, cid_b, b["id"]))
    r = admin.post("/v1/partners/%s/portal-links" % a["id"], {"contact_id": cid})
    expect_status(r, 201)
    expect(r.json["email"] == "carla@a.example" and r.json["contact_id"] == cid, "%r", r.json)
    expect_problem(admin.post("/v1/partners/%s/portal-links" % a["id"], {"contact_id": cid_b}), 400, "validation-error", "contact_id")
    r = admin.post("/v1/partners/%s/portal-links" % a["id"], {"email": "someone@a.example"})
    expect(r.status == 201 and r.json["email"] == "someone@a.example", "%r", r)
    expect_problem(admin.post("/v1/partners/%s/portal-links" % b["id"]), 400, "validation-error", "email")


@test
def bad_sign_in_inputs_are_problems(ctx):
    """malformed JSON, unknown fields, bad e-mail, bad role, bad uuid, both contact and e-mail, wrong roles: 4xx problem+json"""
    admin, a, b, ra, rb = partner_world(ctx.MAIN.port, "sessions-bad")
    links = "/v1/partners/%s/portal-links" % a["id"]
    expect_problem(admin.post(links, raw=b"{nope"), 400, "malformed-json")
    expect_problem(admin.post(links, {"name": "x"}), 400, "validation-error", "name")
    expect_problem(admin.post(links, {"email": "not-an-email"}), 400, "validation-error", "email")
    expect_problem(admin.post(links, {"contact_id": "nope"}), 400, "validation-error", "contact_id")
    expect_problem(admin.post(links, {"contact_id": UNKNOWN, "email": "a@b.example"}), 400, "validation-error", "email")
    expect_problem(admin.post("/v1/partners/nope/portal-links"), 400)
    expect_problem(admin.post("/v1/partners/%s/portal-links" % UNKNOWN), 404, "not-found")
    expect_problem(admin.post("/v1/staff-links", {"email": "a@b.example", "role": "partner"}), 400, "validation-error", "role")
    expect_problem(admin.post("/v1/staff-links", {"email": "a@b.example", "role": "operator"}), 400, "validation-error", "role")
    expect_problem(admin.post("/v1/staff-links", {"email": "nope", "role": "staff"}), 400, "validation-error", "email")
    expect_problem(admin.post("/v1/staff-links", {"role": "staff"}), 400, "validation-error", "email")
    expect_problem(admin.post("/v1/staff-links", raw=b"[1]"), 400)
    anon = Client(ctx.MAIN.port)
    expect_problem(anon.post("/v1/sessions", {}), 400, "validation-error", "token")
    expect_problem(anon.post("/v1/sessions", {"token": 5}), 400, "validation-error", "token")
    expect_problem(anon.post("/v1/sessions", {"token": "x", "role": "admin"}), 400, "validation-error", "role")
    expect_problem(anon.post("/v1/sessions", raw=b"{"), 400, "malformed-json")
    expect_problem(anon.get("/v1/session"), 401, "unauthorized")
    ro = admin.post("/v1/api-keys", {"role": "readonly"}).json["key"]
    expect_problem(Client(ctx.MAIN.port, ro).post(links), 403, "forbidden")
    staff = admin.post("/v1/api-keys", {"role": "staff"}).json["key"]
    expect_status(Client(ctx.MAIN.port, staff).post(links), 201)
    expect_problem(Client(ctx.MAIN.port, staff).post("/v1/staff-links", {"email": "a@b.example", "role": "staff"}), 403, "forbidden")


@test
def link_replay_does_not_reveal_the_token(ctx):
    """an Idempotency-Key replay of a link creation answers the same link without its url (the token is stored only as a hash)"""
    admin, a, b, ra, rb = partner_world(ctx.MAIN.port, "sessions-replay")
    h = {"Idempotency-Key": "link-1"}
    first = admin.post("/v1/partners/%s/portal-links" % a["id"], headers=h)
    again = admin.post("/v1/partners/%s/portal-links" % a["id"], headers=h)
    expect_status(first, 201)
    expect(again.status == 201 and again.json["id"] == first.json["id"] and again.json["url"] is None, "%r", again)
    stored = psql("SELECT count(*) FROM portal_links WHERE token_hash = encode(sha256('%s'::bytea), 'hex')" % token_of(first.json))
    expect(stored == "1", "the token is not stored as its SHA-256: %r", stored)


@test
def secure_cookie_and_https_links_behind_a_tls_proxy(ctx):
    """behind a trusted proxy that says X-Forwarded-Proto: https the link is https and the cookie Secure; from an untrusted peer the header is ignored"""
    with Server(ALLIED_TRUSTED_PROXIES="127.0.0.1") as s:
        admin = tenant_client("sessions-tls", s.port)
        p = admin.post("/v1/partners", {"name": "T", "email": "t@t.example"}).json
        tls = {"X-Forwarded-Proto": "https", "Host": "allied.example"}
        link = admin.post("/v1/partners/%s/portal-links" % p["id"], headers=tls).json
        expect(link["url"].startswith("https://allied.example/portal/sign-in#token="), "%r", link)
        r = Client(s.port).post("/v1/sessions", {"token": token_of(link)}, headers=tls)
        expect_status(r, 201)
        expect("; Secure" in r.h("set-cookie"), "not Secure: %r", r.h("set-cookie"))
    admin, a, b, ra, rb = partner_world(ctx.MAIN.port, "sessions-notls")
    link = admin.post("/v1/partners/%s/portal-links" % a["id"], headers={"X-Forwarded-Proto": "https"}).json
    expect(link["url"].startswith("http://"), "an untrusted peer chose the scheme: %r", link)
    r = Client(ctx.MAIN.port).post("/v1/sessions", {"token": token_of(link)}, headers={"X-Forwarded-Proto": "https"})
    expect("Secure" not in r.h("set-cookie"), "%r", r.h("set-cookie"))


@test
def sessions_count_against_the_tenant_rate_limits(ctx):
    """a session's requests carry the same RateLimit headers as a key's: its own bucket and its tenant's"""
    admin, browser, a, b, ra, rb = partner_session(ctx, "sessions-rate")
    by_key = admin.get("/v1/referrals")
    by_cookie = browser.get("/v1/referrals")
    expect(by_cookie.h("ratelimit-policy") == by_key.h("ratelimit-policy"), "%r vs %r",
           by_cookie.h("ratelimit-policy"), by_key.h("ratelimit-policy"))
