"""Agreements: drafts, terms validation, signatures, activation conflicts, lifecycle, amendments."""
import datetime
import json
import subprocess
from lib import test, expect, expect_status, expect_problem, new_tenant, Client, BIN

TODAY = datetime.date.today()
PCT = {"compensation": {"model": "percentage", "rate_bps": 1000}}


def setup(ctx, name="agreements"):
    c = Client(ctx.MAIN.port, new_tenant(name)[1])
    p = c.post("/v1/partners", {"name": "Partner"}).json
    return c, p


def partner_key(c, partner_id):
    return Client(c.port, c.post("/v1/api-keys", {"role": "partner", "partner_id": partner_id}).json["key"])


def draft(c, partner_id, **kw):
    body = {"partner_id": partner_id, "direction": "inbound", "starts_on": "2026-01-01", "terms": PCT}
    body.update(kw)
    r = c.post("/v1/agreements", body)
    expect_status(r, 201)
    return r.json


def activate(c, a):
    expect_status(c.post("/v1/agreements/%s/sign" % a["id"], {"party": "vendor", "signer_name": "Vera"}), 200)
    r = c.post("/v1/agreements/%s/sign" % a["id"], {"party": "partner", "signer_name": "Paul"})
    return r


@test
def agreement_draft_defaults(ctx):
    """a draft agreement stores validated terms with their defaults"""
    c, p = setup(ctx)
    a = draft(c, p["id"])
    expect(a["status"] == "draft" and a["signatures"] == {"vendor": None, "partner": None}, "%r", a)
    t = a["terms"]
    expect(t["holding_days"] == 0 and t["acknowledge_within_hours"] == 48 and t["protection_days"] == 90 and
           t["client_discount_bps"] == 0 and t["disclosure_required"] is False and
           t["payment_terms"] == {"net_days": 30}, "defaults %r", t)
    expect_status(c.get("/v1/agreements/" + a["id"]), 200)
    full = {"scope": "Web design leads", "compensation": {"model": "fixed", "amount": 50000, "currency": "EUR"},
            "client_discount_bps": 500, "payment_terms": {"net_days": 45, "method": "bank transfer"},
            "holding_days": 30, "acknowledge_within_hours": 24, "protection_days": 180,
            "guidelines": "Introduce by email", "termination": {"notice_days": 30, "conditions": "Either side"},
            "disclosure_required": True}
    b = draft(c, p["id"], terms=full, ends_on="2027-01-01", auto_renew=True)
    expect(b["terms"] == full and b["ends_on"] == "2027-01-01" and b["auto_renew"] is True, "%r", b)
    r = draft(c, p["id"], direction="reciprocal", terms=None, inbound_terms=PCT,
              outbound_terms={"compensation": {"model": "none"}, "client_discount_bps": 1000})
    expect(r["inbound_terms"]["compensation"]["rate_bps"] == 1000 and r["terms"] is None, "%r", r)


@test
def agreement_validation(ctx):
    """bad terms, dates and directions are 400s naming the nested field"""
    c, p = setup(ctx)
    base = {"partner_id": p["id"], "direction": "inbound", "starts_on": "2026-01-01", "terms": PCT}

    def bad(field, **change):
        body = dict(base)
        body.update(change)
        expect_problem(c.post("/v1/agreements", body), 400, "validation-error", field)

    def comp(field, **c2):
        bad(field, terms={"compensation": c2})
    comp("terms.compensation.rate_bps", model="percentage")
    comp("terms.compensation.rate_bps", model="percentage", rate_bps=10001)
    comp("terms.compensation.rate_bps", model="percentage", rate_bps=-1)
    comp("terms.compensation.rate_bps", model="percentage", rate_bps=12.5)
    comp("terms.compensation.rate_bps", model="percentage", rate_bps="100")
    comp("terms.compensation.amount", model="fixed", currency="EUR")
    comp("terms.compensation.currency", model="fixed", amount=100)
    comp("terms.compensation.currency", model="fixed", amount=100, currency="eur")
    comp("terms.compensation.currency", model="fixed", amount=100, currency="XYZ")
    comp("terms.compensation.amount", model="fixed", amount=-1, currency="EUR")
    comp("terms.compensation.amount", model="fixed", amount=1.5, currency="EUR")
    comp("terms.compensation.amount", model="fixed", amount="100", currency="EUR")
    comp("terms.compensation.rate_bps", model="fixed", amount=1, currency="EUR", rate_bps=5)
    comp("terms.compensation.cap", model="none", cap={"amount": 1, "currency": "EUR"})
    comp("terms.compensation.cap.currency", model="percentage", rate_bps=1, cap={"amount": 1})
    comp("terms.compensation.model", model="barter")
    comp("terms.compensation.bogus", model="none", bogus=1)
    bad("terms.compensation", terms={})
    bad("terms.holding_days", terms=dict(PCT, holding_days=366))
    bad("terms.acknowledge_within_hours", terms=dict(PCT, acknowledge_within_hours=0))
    bad("terms.protection_days", terms=dict(PCT, protection_days=-5))
    bad("terms.client_discount_bps", terms=dict(PCT, client_discount_bps=10001))
    bad("terms.payment_terms.net_days", terms=dict(PCT, payment_terms={"net_days": 400}))
    bad("terms.payment_terms.net_days", terms=dict(PCT, payment_terms={"method": "cash"}))
    bad("terms.termination.notice_days", terms=dict(PCT, termination={"notice_days": "30"}))
    bad("terms.disclosure_required", terms=dict(PCT, disclosure_required="yes"))
    bad("terms.extra", terms=dict(PCT, extra=1))
    bad("terms", terms=None)
    bad("terms", terms="10%")
    bad("inbound_terms", direction="reciprocal", terms=None, outbound_terms=PCT)
    bad("terms", direction="reciprocal", inbound_terms=PCT, outbound_terms=PCT)
    bad("inbound_terms", inbound_terms=PCT)
    bad("ends_on", ends_on="2025-12-31")
    bad("ends_on", ends_on="2026-01-01")
    bad("starts_on", starts_on="2026-02-30")
    bad("direction", direction="sideways")
    bad("partner_id", partner_id="00000000-0000-0000-0000-000000000000")
    bad("status", status="active")
    bad("signatures", signatures={})
    other = Client(ctx.MAIN.port, new_tenant("other")[1]).post("/v1/partners", {"name": "X"}).json
    bad("partner_id", partner_id=other["id"])


@test
def agreement_signing_activates(ctx):
    """both signatures activate a started agreement; signing twice, after activation, or as the wrong party fails"""
    c, p = setup(ctx)
    a = draft(c, p["id"])
    pk = partner_key(c, p["id"])
    expect_problem(pk.post("/v1/agreements/%s/sign" % a["id"], {"party": "vendor", "signer_name": "x"}), 403, "forbidden")
    r = c.post("/v1/agreements/%s/sign" % a["id"], {"party": "vendor", "signer_name": "Vera"})
    expect(r.status == 200 and r.json["status"] == "draft" and r.json["signatures"]["vendor"]["signer_name"] == "Vera", "%r", r)
    expect_problem(c.post("/v1/agreements/%s/sign" % a["id"], {"party": "vendor", "signer_name": "V2"}), 409, "invalid-state")
    expect_problem(pk.post("/v1/agreements/%s/sign" % a["id"], {"party": "partner", "signer_name": "P"},
                           headers={"If-Match": '"1"'}), 412, "stale-version")
    r = pk.post("/v1/agreements/%s/sign" % a["id"], {"party": "partner", "signer_name": "Paul"})
    expect(r.status == 200 and r.json["status"] == "active" and r.json["activated_at"], "%r", r)
    expect_problem(c.post("/v1/agreements/%s/sign" % a["id"], {"party": "partner", "signer_name": "P"}), 409, "invalid-state")
    expect_problem(c.patch("/v1/agreements/" + a["id"], {"auto_renew": True}), 409, "invalid-state")
    for body, field in (({}, "party"), ({"party": "vendor"}, "signer_name"), ({"party": "both", "signer_name": "x"}, "party")):
        expect_problem(c.post("/v1/agreements/%s/sign" % a["id"], body), 400, "validation-error", field)
    future = draft(c, p["id"], direction="outbound", starts_on=str(TODAY + datetime.timedelta(days=30)))
    expect(activate(c, future).json["status"] == "signed", "a future agreement is signed, not active")
    past = draft(c, p["id"], direction="outbound", starts_on="2020-01-01", ends_on="2020-12-31")
    expect(activate(c, past).json["status"] == "expired", "an agreement past ends_on is expired")


@test
def agreement_patch_resets_signatures(ctx):
    """PATCH edits a draft, re-validates it whole, and voids earlier signatures"""
    c, p = setup(ctx)
    a = draft(c, p["id"])
    c.post("/v1/agreements/%s/sign" % a["id"], {"party": "vendor", "signer_name": "Vera"})
    r = c.patch("/v1/agreements/" + a["id"], {"terms": {"compensation": {"model": "none"}}})
    expect(r.status == 200 and r.json["signatures"]["vendor"] is None and r.json["version"] == 3, "%r", r)
    expect_problem(c.patch("/v1/agreements/" + a["id"], {"direction": "reciprocal"}), 400, "validation-error", "inbound_terms")
    expect_problem(c.patch("/v1/agreements/" + a["id"], {"partner_id": p["id"]}), 400, "validation-error", "partner_id")
    expect_problem(c.patch("/v1/agreements/" + a["id"], {"ends_on": "2025-01-01"}), 400, "validation-error", "ends_on")
    expect_problem(c.patch("/v1/agreements/" + a["id"], {}), 400, "validation-error")
    expect_problem(c.patch("/v1/agreements/" + a["id"], {"auto_renew": True}, headers={"If-Match": '"2"'}), 412)
    expect_status(c.patch("/v1/agreements/" + a["id"], {"auto_renew": True}, headers={"If-Match": '"3"'}), 200)


@test
def one_active_agreement_per_direction(ctx):
    """activating a second agreement for the same partner, direction and dates is 409; others are fine"""
    c, p = setup(ctx)
    first = draft(c, p["id"], ends_on="2026-12-31")
    expect_status(activate(c, first), 200)
    clash = draft(c, p["id"], starts_on="2026-06-01")
    r = activate(c, clash)
    expect_problem(r, 409, "agreement-conflict")
    expect(first["id"] in r.json["detail"], "names the other agreement: %r", r.json)
    expect(c.get("/v1/agreements/" + clash["id"]).json["status"] == "draft", "the clash stays a draft")
    expect_problem(activate(c, draft(c, p["id"], direction="reciprocal", terms=None, inbound_terms=PCT,
                                     outbound_terms=PCT)), 409, "agreement-conflict")
    expect_status(activate(c, draft(c, p["id"], direction="outbound")), 200)
    later = draft(c, p["id"], starts_on="2027-01-01")
    expect(activate(c, later).json["status"] in ("active", "signed"), "non-overlapping dates are fine")


@test
def agreement_lifecycle(ctx):
    """suspend, resume and terminate follow the lifecycle; anything else is 409"""
    c, p = setup(ctx)
    a = draft(c, p["id"])
    url = "/v1/agreements/" + a["id"]
    expect_problem(c.post(url + "/suspend"), 409, "invalid-state")
    expect_problem(c.post(url + "/terminate", {"reason": "x"}), 409, "invalid-state")
    activate(c, a)
    expect(c.post(url + "/suspend").json["status"] == "suspended", "suspend")
    expect_problem(c.post(url + "/suspend"), 409, "invalid-state")
    expect(c.post(url + "/resume", {}).json["status"] == "active", "resume")
    expect_problem(c.post(url + "/resume"), 409, "invalid-state")
    expect_problem(c.post(url + "/suspend", {"why": 1}), 400, "validation-error", "why")
    expect_problem(c.post(url + "/terminate", {}), 400, "validation-error", "reason")
    expect_problem(c.post(url + "/terminate", {"reason": "x", "effective_on": "2020-01-01"}), 400, "validation-error", "effective_on")
    later = str(TODAY + datetime.timedelta(days=30))
    r = c.post(url + "/terminate", {"reason": "moving on", "effective_on": later})
    expect(r.status == 200 and r.json["status"] == "active" and r.json["termination"] ==
           {"reason": "moving on", "effective_on": later}, "notice period keeps it active: %r", r)
    b = draft(c, p["id"], direction="outbound")
    activate(c, b)
    r = c.post("/v1/agreements/%s/terminate" % b["id"], {"reason": "done"})
    expect(r.json["status"] == "terminated", "%r", r)
    expect_problem(c.post("/v1/agreements/%s/resume" % b["id"]), 409)
    pk = partner_key(c, p["id"])
    expect_problem(pk.post(url + "/suspend"), 403, "forbidden")
    future = draft(c, p["id"], direction="outbound", starts_on=str(TODAY + datetime.timedelta(days=10)), ends_on="2030-01-01")
    expect_status(activate(c, future), 200)
    r = c.post("/v1/agreements/%s/terminate" % future["id"], {"reason": "never started"})
    expect(r.status == 200 and r.json["status"] == "terminated", "terminating before the start: %r", r)
    later = draft(c, p["id"], direction="outbound", starts_on=str(TODAY + datetime.timedelta(days=10)))
    activate(c, later)
    r = c.post("/v1/agreements/%s/terminate" % later["id"], {"reason": "x", "effective_on": str(TODAY + datetime.timedelta(days=20))})
    expect(r.json["status"] == "signed", "notice period before the start shows signed: %r", r.json)
    expect_problem(c.delete("/v1/partners/" + p["id"]), 409, "resource-in-use")


@test
def agreement_amendment_supersedes(ctx):
    """amend makes a linked draft; once both sign it, it is active and the old one superseded"""
    c, p = setup(ctx)
    a = draft(c, p["id"])
    expect_problem(c.post("/v1/agreements/%s/amend" % a["id"]), 409, "invalid-state")
    activate(c, a)
    r = c.post("/v1/agreements/%s/amend" % a["id"], {"terms": {"compensation": {"model": "percentage", "rate_bps": 1500}}})
    expect_status(r, 201)
    new = r.json
    expect(new["supersedes_id"] == a["id"] and new["status"] == "draft" and
           new["terms"]["compensation"]["rate_bps"] == 1500, "%r", new)
    expect_problem(c.post("/v1/agreements/%s/amend" % a["id"], {"partner_id": p["id"]}), 400, "validation-error", "partner_id")
    expect(activate(c, new).json["status"] == "active", "amendment active")
    old = c.get("/v1/agreements/" + a["id"]).json
    expect(old["status"] == "superseded" and old["superseded_by_id"] == new["id"], "%r", old)
    expect_status(c.post("/v1/agreements/%s/amend" % a["id"]), 409)
    same = c.post("/v1/agreements/%s/amend" % new["id"]).json
    expect(same["terms"] == new["terms"], "an amendment without changes copies the terms")


@test
def agreement_list_and_scope(ctx):
    """the list filters by partner, status and direction; a partner key sees only its own"""
    c, p = setup(ctx)
    q = c.post("/v1/partners", {"name": "Q"}).json
    a1 = draft(c, p["id"])
    activate(c, a1)
    a2 = draft(c, q["id"], direction="outbound")

    def ids(query, client=c):
        r = client.get("/v1/agreements?" + query)
        expect_status(r, 200)
        return [x["id"] for x in r.json["data"]]
    expect(ids("partner_id=" + q["id"]) == [a2["id"]], "partner filter")
    expect(ids("status=active") == [a1["id"]], "status filter")
    expect(ids("status=draft&direction=outbound") == [a2["id"]], "combined")
    pk = partner_key(c, q["id"])
    expect(ids("", pk) == [a2["id"]], "partner scope")
    expect_problem(pk.get("/v1/agreements/" + a1["id"]), 404)
    expect_problem(pk.post("/v1/agreements/%s/sign" % a1["id"], {"party": "partner", "signer_name": "x"}), 404)
    expect_status(pk.post("/v1/agreements/%s/sign" % a2["id"], {"party": "partner", "signer_name": "Q"}), 200)
    expect_problem(pk.post("/v1/agreements", {"partner_id": q["id"]}), 403)
    for bad in ("status=gone", "direction=up", "partner_id=x", "color=1"):
        expect_problem(c.get("/v1/agreements?" + bad), 400, "validation-error")


@test
def agreement_tenant_isolation(ctx):
    """another tenant's agreement is 404 on every agreement route"""
    c, p = setup(ctx, "iso A")
    a = draft(c, p["id"])
    other = Client(ctx.MAIN.port, new_tenant("iso B")[1])
    url = "/v1/agreements/" + a["id"]
    expect_problem(other.get(url), 404)
    expect_problem(other.patch(url, {"auto_renew": True}), 404)
    for action, body in (("sign", {"party": "vendor", "signer_name": "x"}), ("suspend", None), ("resume", None),
                         ("terminate", {"reason": "x"}), ("amend", None)):
        expect_problem(other.post(url + "/" + action, body), 404, "not-found")
    expect(other.get("/v1/agreements").json["data"] == [], "listed across tenants")
    expect(c.get(url).json["version"] == 1, "changed by another tenant")


# How to bring a fresh agreement (of a fresh partner, so nothing overlaps) into each state of the table.
def into(c, state):
    p = c.post("/v1/partners", {"name": "P " + state}).json
    if state == "expired":
        a = draft(c, p["id"], starts_on="2020-01-01", ends_on="2020-06-01")
    else:
        a = draft(c, p["id"])
    if state != "draft":
        expect_status(activate(c, a), 200)
    url = "/v1/agreements/" + a["id"]
    if state == "suspended":
        expect_status(c.post(url + "/suspend"), 200)
    elif state == "terminated":
        expect_status(c.post(url + "/terminate", {"reason": "done"}), 200)
    elif state == "superseded":
        expect_status(activate(c, c.post(url + "/amend").json), 200)
    expect(c.get(url).json["status"] == state, "into %s: %r", state, c.get(url).json)
    return url


AGREEMENT_ACTIONS = {"update": ("PATCH", "", {"auto_renew": True}), "sign": ("POST", "/sign", {"party": "vendor", "signer_name": "V"}),
                     "suspend": ("POST", "/suspend", None), "resume": ("POST", "/resume", None),
                     "terminate": ("POST", "/terminate", {"reason": "x"}), "amend": ("POST", "/amend", None)}


def act(c, url, action):
    method, tail, body = AGREEMENT_ACTIONS[action]
    return c.req(method, url + tail, body)


@test
def agreement_every_state_and_action(ctx):
    """every agreement state x action is legal exactly when `allied workflow agreement` says; the rest are 409 with allowed_actions"""
    c, _ = setup(ctx)
    table = json.loads(subprocess.run([BIN, "workflow", "agreement"], capture_output=True, text=True).stdout)
    states = sorted({t["from"] for t in table} | {t["to"] for t in table})
    expect(set(AGREEMENT_ACTIONS) | {"supersede"} == {t["action"] for t in table}, "actions %r", table)
    for state in states:
        rows = {t["action"]: t for t in table if t["from"] == state}
        allowed = sorted(a for a in rows if a in AGREEMENT_ACTIONS)
        url = into(c, state)
        for action in AGREEMENT_ACTIONS:
            if action in rows:
                r = act(c, into(c, state), action)
                expect(r.status in (200, 201), "%s from %s: %r", action, state, r)
                continue
            r = act(c, url, action)
            expect_problem(r, 409, "invalid-state")
            expect(sorted(r.json["allowed_actions"]) == allowed, "%s from %s: %r", action, state, r.json)
        expect(c.get(url).json["status"] == state, "an illegal action changed %s", state)
