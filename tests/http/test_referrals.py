"""Referrals: submission, the workflow (table-driven), actors, duplicates, concurrency, the feed."""
import json
import os
import random
import re
import subprocess
import threading
from lib import (test, expect, expect_status, expect_problem, new_tenant, Client, parallel, psql, hold_lock,
                 Server, BIN)

WORKFLOW = None
# How to bring a fresh submitted referral into each status (through the API).
PATHS = {"submitted": [], "acknowledged": ["acknowledge"], "engaged": ["acknowledge", "engage"],
         "won": ["acknowledge", "win"], "lost": ["acknowledge", "lose"], "declined": ["decline"],
         "withdrawn": ["withdraw"]}
BODIES = {"acknowledge": None, "engage": {"stage": "demo"}, "update": {"note": "call booked"},
          "win": {"deal": {"amount": 1250000, "currency": "EUR"}}, "lose": {"reason": "budget"},
          "decline": {"reason": "not_a_fit"}, "withdraw": None}
COUNTER = [0]


def workflow():
    global WORKFLOW
    if WORKFLOW is None:
        WORKFLOW = json.loads(subprocess.run([BIN, "workflow", "referral"], capture_output=True, text=True).stdout)
    return WORKFLOW


class Env:
    """A tenant with a staff key, two partners, an active inbound agreement for the first, and keys."""
    def __init__(self, ctx, name="referrals"):
        self.c = Client(ctx.MAIN.port, new_tenant(name)[1])
        self.p = self.c.post("/v1/partners", {"name": "Pia"}).json
        self.q = self.c.post("/v1/partners", {"name": "Quinn"}).json
        a = self.c.post("/v1/agreements", {"partner_id": self.p["id"], "direction": "inbound", "starts_on": "2026-01-01",
                                           "terms": {"compensation": {"model": "percentage", "rate_bps": 1000},
                                                     "acknowledge_within_hours": 24, "protection_days": 60}}).json
        self.c.post("/v1/agreements/%s/sign" % a["id"], {"party": "vendor", "signer_name": "V"})
        self.c.post("/v1/agreements/%s/sign" % a["id"], {"party": "partner", "signer_name": "P"})
        self.agreement = a
        self.pk = self.key("partner", partner_id=self.p["id"])
        self.qk = self.key("partner", partner_id=self.q["id"])
        self.ro = self.key("readonly")

    def key(self, role, **extra):
        return Client(self.c.port, self.c.post("/v1/api-keys", dict(role=role, **extra)).json["key"])

    def referral(self, direction="inbound", partner=None, client=None, **prospect):
        COUNTER[0] += 1
        pr = {"name": "Prospect %d" % COUNTER[0], "email": "contact@r%d-%d.example" % (os.getpid(), COUNTER[0])}
        pr.update(prospect)
        r = (client or self.c).post("/v1/referrals", {"partner_id": (partner or self.p)["id"], "direction": direction,
                                                      "prospect": pr})
        expect_status(r, 201)
        return r.json

    def act(self, ref, action, client=None, body="default", **kw):
        return (client or self.c).post("/v1/referrals/%s/%s" % (ref["id"], action),
                                       BODIES[action] if body == "default" else body, **kw)

    def into(self, status, direction="inbound"):
        ref = self.referral(direction)
        for action in PATHS[status]:
            expect_status(self.act(ref, action), 200)
        return ref


@test
def referral_submission(ctx):
    """a referral starts submitted, linked to the covering agreement, with its acknowledgement deadline"""
    e = Env(ctx)
    r = e.referral()
    expect(r["status"] == "submitted" and r["agreement_id"] == e.agreement["id"] and r["overdue"] is False and
           r["deal"] is None and r["version"] == 1, "%r", r)
    import datetime
    made = datetime.datetime.fromisoformat(r["created_at"].replace("Z", "+00:00"))
    due = datetime.datetime.fromisoformat(r["acknowledge_by"].replace("Z", "+00:00"))
    expect(due - made == datetime.timedelta(hours=24), "acknowledge_by from the agreement: %s", due - made)
    out = e.referral("outbound")
    expect(out["agreement_id"] is None, "no outbound agreement: a referral source earning nothing")
    noag = e.referral(partner=e.q)
    made = datetime.datetime.fromisoformat(noag["created_at"].replace("Z", "+00:00"))
    due = datetime.datetime.fromisoformat(noag["acknowledge_by"].replace("Z", "+00:00"))
    expect(due - made == datetime.timedelta(hours=48), "default 48 h")
    r = e.pk.post("/v1/referrals", {"prospect": {"name": "From partner"}})
    expect(r.status == 201 and r.json["partner_id"] == e.p["id"] and r.json["direction"] == "inbound", "%r", r)
    expect_problem(e.pk.post("/v1/referrals", {"direction": "outbound", "prospect": {"name": "x"}}), 403)
    expect_problem(e.pk.post("/v1/referrals", {"partner_id": e.q["id"], "prospect": {"name": "x"}}), 403)
    expect_problem(e.ro.post("/v1/referrals", {"partner_id": e.p["id"], "direction": "inbound", "prospect": {"name": "x"}}), 403)
    g = e.c.get("/v1/referrals/" + r.json["id"])
    expect(g.status == 200 and g.h("etag") == '"1"', "%r", g)


@test
def referral_validation(ctx):
    """bad referral bodies are 400s naming the field"""
    e = Env(ctx)
    base = {"partner_id": e.p["id"], "direction": "inbound", "prospect": {"name": "Ok"}}
    for change, field in (({"prospect": None}, "prospect"), ({"prospect": {}}, "prospect.name"),
                          ({"prospect": {"name": ""}}, "prospect.name"), ({"prospect": {"name": "x", "email": "no"}}, "prospect.email"),
                          ({"prospect": {"name": "x", "age": 3}}, "prospect.age"), ({"direction": "sideways"}, "direction"),
                          ({"direction": None}, "direction"), ({"partner_id": "nope"}, "partner_id"),
                          ({"partner_id": "00000000-0000-0000-0000-000000000000"}, "partner_id"),
                          ({"status": "won"}, "status"), ({"deal": {"amount": 1, "currency": "EUR"}}, "deal"),
                          ({"agreement_id": e.agreement["id"]}, "agreement_id"), ({"external_id": 5}, "external_id")):
        body = dict(base)
        body.update(change)
        expect_problem(e.c.post("/v1/referrals", body), 400, "validation-error", field)
    body = dict(base)
    del body["direction"]
    expect_problem(e.c.post("/v1/referrals", body), 400, "validation-error", "direction")
    e.c.patch("/v1/partners/" + e.q["id"], {"status": "ended"})
    expect_problem(e.c.post("/v1/referrals", dict(base, partner_id=e.q["id"])), 409, "invalid-state")


@test
def every_legal_path(ctx):
    """every transition in the workflow table works from its from-status and lands in its to-status"""
    e = Env(ctx)
    for t in workflow():
        ref = e.into(t["from"])
        r = e.act(ref, t["action"])
        expect(r.status == 200 and r.json["status"] == t["to"], "%s from %s: %r", t["action"], t["from"], r)
        ev = e.c.get("/v1/referrals/%s/events" % ref["id"]).json["data"]
        expect(ev[-1]["from_status"] == t["from"] and ev[-1]["to_status"] == t["to"] and
               ev[-1]["actor"]["role"] == "admin", "timeline %r", ev[-1])
        expect(len(ev) == len(PATHS[t["from"]]) + 2, "one event per change")


@test
def every_illegal_pair_is_409(ctx):
    """every status x action pair not in the table is 409 invalid-transition naming status and allowed actions"""
    e = Env(ctx)
    wf = workflow()
    actions = sorted({t["action"] for t in wf})
    checked = 0
    for status in PATHS:
        ref = e.into(status)
        allowed = sorted(t["action"] for t in wf if t["from"] == status)
        for action in actions:
            if action in allowed:
                continue
            r = e.act(ref, action)
            expect_problem(r, 409, "invalid-transition")
            expect(r.json["current_status"] == status and sorted(r.json["allowed_actions"]) == allowed,
                   "%s from %s: %r", action, status, r.json)
            checked += 1
        expect(e.c.get("/v1/referrals/" + ref["id"]).json["status"] == status, "an illegal action changed the status")
    expect(checked == 7 * 7 - len(wf), "checked %d pairs", checked)


@test
def actors(ctx):
    """receivers acknowledge, referrers withdraw; partner keys act only on their own side of their own referrals"""
    e = Env(ctx)
    inbound = e.referral()
    expect_problem(e.act(inbound, "acknowledge", e.pk), 403, "forbidden")
    expect_problem(e.act(inbound, "withdraw", e.qk), 404, "not-found")
    expect_problem(e.act(inbound, "acknowledge", e.ro), 403, "forbidden")
    expect(e.act(inbound, "withdraw", e.pk).json["status"] == "withdrawn", "partner withdraws its own inbound")
    outbound = e.referral("outbound")
    expect_problem(e.act(outbound, "withdraw", e.pk), 403, "forbidden")
    expect_problem(e.act(outbound, "acknowledge", e.qk), 404)
    for action in ("acknowledge", "engage", "update", "win"):
        r = e.act(outbound, action, e.pk)
        expect(r.status == 200, "partner as receiver %s: %r", action, r)
    ev = e.pk.get("/v1/referrals/%s/events" % outbound["id"]).json["data"]
    expect(ev[-1]["actor"]["role"] == "partner" and ev[-1]["type"] == "won", "%r", ev[-1])
    expect_problem(e.qk.get("/v1/referrals/%s/events" % outbound["id"]), 404)
    expect([x["id"] for x in e.qk.get("/v1/referrals").json["data"]] == [], "another partner's referrals leak")
    staff = e.key("staff")
    expect_status(e.act(e.referral(), "acknowledge", staff), 200)
    expect_status(e.act(e.referral("outbound"), "withdraw", staff), 200)


@test
def action_bodies(ctx):
    """actions validate their bodies: win needs an integer deal, lose a reason, decline a known reason"""
    e = Env(ctx)
    ref = e.into("acknowledged")
    for action, body, field in (("win", None, "deal"), ("win", {}, "deal"), ("win", {"deal": {"amount": 10.5, "currency": "EUR"}}, "deal.amount"),
                                ("win", {"deal": {"amount": "10", "currency": "EUR"}}, "deal.amount"),
                                ("win", {"deal": {"amount": -1, "currency": "EUR"}}, "deal.amount"),
                                ("win", {"deal": {"amount": 9007199254740993, "currency": "JPY"}}, "deal.amount"),  # > MONEY_MAX
                                ("win", {"deal": {"amount": 10, "currency": "Euro"}}, "deal.currency"),
                                ("win", {"deal": {"amount": 10}}, "deal.currency"),
                                ("win", {"deal": {"amount": 10, "currency": "EUR", "fx": 1}}, "deal.fx"),
                                ("lose", {}, "reason"), ("decline", {"reason": "meh"}, "reason"),
                                ("update", {"stage": "x"}, "note"), ("acknowledge", {"bogus": 1}, "bogus"),
                                ("engage", {"stage": 5}, "stage")):
        expect_problem(e.act(ref, action, body=body), 400, "validation-error", field)
    expect_problem(e.c.post("/v1/referrals/%s/win" % ref["id"], raw=b"[1]"), 400, "malformed-json")
    expect_problem(e.c.post("/v1/referrals/%s/acknowledge" % ref["id"], raw=b"{}", ctype="text/plain"), 415)
    expect_problem(e.c.post("/v1/referrals/nope/acknowledge"), 400, "validation-error", "id")
    expect_problem(e.c.post("/v1/referrals/00000000-0000-0000-0000-000000000000/acknowledge"), 404)
    r = e.act(ref, "win", body={"deal": {"amount": 999999999999999, "currency": "JPY"}, "note": "signed!"})
    expect(r.status == 200 and r.json["deal"] == {"amount": 999999999999999, "currency": "JPY"} and
           r.json["close_note"] == "signed!" and r.json["closed_at"], "%r", r)


@test
def action_if_match(ctx):
    """actions honour If-Match: a stale version is 412 and changes nothing"""
    e = Env(ctx)
    ref = e.referral()
    expect_problem(e.act(ref, "acknowledge", headers={"If-Match": '"7"'}), 412, "stale-version")
    r = e.act(ref, "acknowledge", headers={"If-Match": '"1"'})
    expect(r.status == 200 and r.h("etag") == '"2"', "%r", r)
    expect_problem(e.act(ref, "engage", headers={"If-Match": '"1"'}), 412)


@test
def concurrent_acknowledge(ctx):
    """20 concurrent acknowledges of one referral: exactly one 200, the rest 409"""
    e = Env(ctx)
    ref = e.referral()
    res = parallel(20, lambda i: e.act(ref, "acknowledge"))
    codes = sorted(r.status for r in res)
    expect(codes.count(200) == 1 and codes.count(409) == 19, "%r", codes)
    ev = e.c.get("/v1/referrals/%s/events" % ref["id"]).json["data"]
    expect([x["type"] for x in ev] == ["submitted", "acknowledged"], "%r", ev)


@test
def duplicates(ctx):
    """a protected prospect (same email any case, or same company domain) is 409 with the first referral's id"""
    e = Env(ctx)
    first = e.referral(email="Ada@Lovelace-Corp.example", name="Ada")
    r = e.c.post("/v1/referrals", {"partner_id": e.q["id"], "direction": "inbound",
                                   "prospect": {"name": "Ada again", "email": "ada@lovelace-corp.EXAMPLE"}})
    expect_problem(r, 409, "duplicate-referral")
    expect(r.json["existing_referral_id"] == first["id"], "%r", r.json)
    expect_problem(e.c.post("/v1/referrals", {"partner_id": e.q["id"], "direction": "inbound",
                                              "prospect": {"name": "Colleague", "email": "bob@lovelace-corp.example"}}), 409)
    rp = e.qk.post("/v1/referrals", {"prospect": {"name": "x", "email": "ada@lovelace-corp.example"}})
    expect_problem(rp, 409, "duplicate-referral")
    expect("existing_referral_id" not in rp.json and "introduced_at" not in rp.json,
           "a partner must not learn another partner's referral id: %r", rp.json)
    expect(rp.json["introduced_by_you"] is False and rp.json["protected_until"] > first["created_at"], "%r", rp.json)
    mine = e.qk.post("/v1/referrals", {"prospect": {"name": "Own", "email": "own@own-firm.example"}})
    again = e.qk.post("/v1/referrals", {"prospect": {"name": "Own again", "email": "own@own-firm.example"}})
    expect_problem(again, 409, "duplicate-referral")
    expect(again.json["introduced_by_you"] is True and again.json["existing_referral_id"] == mine.json["id"]
           and again.json["introduced_at"] == mine.json["created_at"], "a partner sees its own earlier one: %r", again.json)
    e.referral(email="one@gmail.com")
    e.referral(email="two@gmail.com")  # free-mail domains say nothing about the company
    ok = e.c.post("/v1/referrals", {"partner_id": e.q["id"], "direction": "inbound", "override_reason": "Different division",
                                    "prospect": {"name": "Ada", "email": "ada@lovelace-corp.example"}})
    expect(ok.status == 201 and ok.json["override_reason"] == "Different division", "%r", ok)
    ev = e.c.get("/v1/referrals/%s/events" % ok.json["id"]).json["data"]
    expect(ev[0]["note"] == "Different division", "override kept on the timeline: %r", ev)
    gone = e.referral(email="gone@withdrawn.example")
    e.act(gone, "withdraw")
    e.referral(email="gone@withdrawn.example")  # a withdrawn introduction protects nobody
    old = e.referral(email="old@stale.example")
    psql("UPDATE referrals SET created_at = now() - interval '61 days' WHERE id = '%s'" % old["id"])
    e.referral(email="old@stale.example")  # outside the agreement's 60 protection days


@test
def concurrent_duplicates(ctx):
    """simultaneous submissions of one prospect: exactly one 201, the rest 409"""
    e = Env(ctx)
    res = parallel(10, lambda i: e.c.post("/v1/referrals", {"partner_id": (e.p if i % 2 else e.q)["id"], "direction": "inbound",
                                                           "prospect": {"name": "Race %d" % i, "email": "race@samecorp.example"}}))
    codes = sorted(r.status for r in res)
    expect(codes.count(201) == 1 and codes.count(409) == 9, "%r", codes)


@test
def referral_list_filters(ctx):
    """the referral list filters by status, partner, direction, external_id, updated_since and overdue"""
    e = Env(ctx)
    a = e.referral()
    b = e.referral("outbound", partner=e.q)
    e.act(b, "acknowledge")
    e.c.patch("/v1/referrals/" + a["id"], {"external_id": "crm-77"})

    def ids(q, client=e.c):
        r = client.get("/v1/referrals?" + q)
        expect_status(r, 200)
        return [x["id"] for x in r.json["data"]]
    expect(ids("status=acknowledged") == [b["id"]], "status")
    expect(ids("partner_id=" + e.q["id"]) == [b["id"]], "partner")
    expect(ids("direction=inbound") == [a["id"]], "direction")
    expect(ids("external_id=crm-77") == [a["id"]], "external_id")
    expect(ids("overdue=true") == [], "nothing overdue yet")
    psql("UPDATE referrals SET acknowledge_by = now() - interval '1 hour' WHERE id = '%s'" % a["id"])
    expect(ids("overdue=true") == [a["id"]] and e.c.get("/v1/referrals/" + a["id"]).json["overdue"], "overdue")
    expect(ids("overdue=false") == [b["id"]], "not overdue")
    expect(ids("", e.pk) == [a["id"]], "partner scope")
    for bad in ("status=x", "overdue=yes", "direction=reciprocal", "partner_id=1", "updated_since=now", "limit=0", "x=1"):
        expect_problem(e.c.get("/v1/referrals?" + bad), 400, "validation-error")


@test
def referral_patch(ctx):
    """PATCH changes prospect details and external_id only, with If-Match, and lands on the timeline"""
    e = Env(ctx)
    r = e.referral(company="Old Co")
    u = e.c.patch("/v1/referrals/" + r["id"], {"prospect": {"company": "New Co", "phone": "+1 555"}},
                  headers={"If-Match": '"1"'})
    expect(u.status == 200 and u.json["prospect"]["company"] == "New Co" and u.json["prospect"]["name"] == r["prospect"]["name"]
           and u.json["version"] == 2, "%r", u)
    u = e.c.patch("/v1/referrals/" + r["id"], {"prospect": {"phone": None}})
    expect("phone" not in u.json["prospect"], "null removes a prospect field")
    expect_problem(e.c.patch("/v1/referrals/" + r["id"], {"status": "won"}), 400, "validation-error", "status")
    expect_problem(e.c.patch("/v1/referrals/" + r["id"], {"prospect": {"name": None}}), 400, "validation-error", "prospect.name")
    expect_problem(e.c.patch("/v1/referrals/" + r["id"], {"external_id": "x"}, headers={"If-Match": '"1"'}), 412)
    expect_status(e.pk.patch("/v1/referrals/" + r["id"], {"external_id": "mine"}), 200)
    expect_problem(e.qk.patch("/v1/referrals/" + r["id"], {"external_id": "theirs"}), 404)
    e.c.patch("/v1/referrals/" + e.referral()["id"], {"external_id": "taken"})
    expect_problem(e.c.patch("/v1/referrals/" + r["id"], {"external_id": "taken"}), 409, "external-id-conflict")
    types = [x["type"] for x in e.c.get("/v1/referrals/%s/events" % r["id"]).json["data"]]
    expect(types == ["submitted", "edited", "edited", "edited"], "%r", types)


@test
def referral_tenant_isolation(ctx):
    """another tenant's referral is 404 on every referral route"""
    e = Env(ctx, "ref iso A")
    r = e.referral()
    other = Client(ctx.MAIN.port, new_tenant("ref iso B")[1])
    url = "/v1/referrals/" + r["id"]
    expect_problem(other.get(url), 404)
    expect_problem(other.patch(url, {"external_id": "x"}), 404)
    expect_problem(other.get(url + "/events"), 404)
    for action in BODIES:
        expect_problem(other.post(url + "/" + action, BODIES[action]), 404, "not-found")
    expect(other.get("/v1/referrals").json["data"] == [] and other.get("/v1/events").json["data"] == [], "leak")
    expect(e.c.get(url).json["version"] == 1, "changed by another tenant")


@test
def random_walks_match_the_model(ctx):
    """long random action sequences by random actors: the server's status always matches the model"""
    e = Env(ctx)
    wf = workflow()
    seed = int(os.environ.get("MODEL_SEED", random.randrange(1 << 30)))
    rnd = random.Random(seed)
    actors = {"staff": e.c, "own partner": e.pk, "other partner": e.qk, "readonly": e.ro}
    refs = []
    for i in range(6):
        d = rnd.choice(["inbound", "outbound"])
        refs.append([e.referral(d), "submitted", d])
    for step in range(250):
        item = rnd.choice(refs)
        ref, status, d = item
        action = rnd.choice(list(BODIES))
        who = rnd.choice(list(actors))
        r = e.act(ref, action, actors[who])
        legal = [t for t in wf if t["from"] == status and t["action"] == action]
        side = "referrer" if action == "withdraw" else "receiver"
        partner_side = "referrer" if d == "inbound" else "receiver"
        if who == "other partner":
            want = 404
        elif who == "readonly":
            want = 403
        elif who == "own partner" and side != partner_side:
            want = 403
        elif not legal:
            want = 409
        else:
            want = 200
        expect(r.status == want, "seed %d step %d: %s by %s on %s %s -> %r (wanted %d)", seed, step, action, who, d, status, r, want)
        if want == 200:
            item[1] = legal[0]["to"]
        got = e.c.get("/v1/referrals/" + ref["id"]).json["status"]
        expect(got == item[1], "seed %d step %d: server %s, model %s", seed, step, got, item[1])
        if item[1] in ("won", "lost", "declined", "withdrawn") and rnd.random() < 0.3:
            nd = rnd.choice(["inbound", "outbound"])
            item[:] = [e.referral(nd), "submitted", nd]


@test
def feed_exactly_once_in_order(ctx):
    """the event feed lists every change exactly once, in order, with concurrent writers"""
    e = Env(ctx)
    start = e.c.get("/v1/events?limit=1000").json["next_cursor"]
    refs = [e.referral() for _ in range(8)]
    results = []
    lock = threading.Lock()

    def work(i):
        ref = refs[i % len(refs)]
        out = []
        for action in ("acknowledge", "engage", "update", "update", "win"):
            r = e.act(ref, action)
            out.append((ref["id"], r.status, r.json.get("version") if r.status == 200 else None))
        with lock:
            results.extend(out)
    parallel(16, work)
    ok = [(rid, v) for rid, s, v in results if s == 200]
    seen, cursor = [], start
    while True:
        page = e.c.get("/v1/events?limit=7&after=" + cursor).json
        seen += [x for x in page["data"] if x["resource_type"] == "referral"]
        last_page = page
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    seqs = [int(x["cursor"]) for x in seen]
    expect(seqs == sorted(seqs) and len(set(seqs)) == len(seqs), "strictly increasing: %r", seqs[:20])
    everything = []
    cur = start
    while True:
        page = e.c.get("/v1/events?limit=1000&after=" + cur).json
        everything += [int(x["cursor"]) for x in page["data"]]
        cur = page["next_cursor"]
        if not page["has_more"]:
            break
    expect(everything == list(range(int(start) + 1, int(start) + 1 + len(everything))), "gapless: %r", everything[:20])
    changes = [(x["resource_id"], x["data"]["version"]) for x in seen if x["type"] != "referral.submitted"]
    expect(sorted(changes) == sorted(ok), "every successful change exactly once (%d vs %d)", len(changes), len(ok))
    for rid in {x["resource_id"] for x in seen}:
        versions = [x["data"]["version"] for x in seen if x["resource_id"] == rid]
        expect(versions == sorted(versions), "per-referral order %r", versions)
    again = e.c.get("/v1/events?after=" + cursor).json
    expect(again["data"] == [] and again["next_cursor"] == cursor and again["has_more"] is False, "%r", again)
    pk_types = {x["resource_id"] for x in e.pk.get("/v1/events?limit=1000&after=" + start).json["data"]
                if x["resource_type"] == "referral"}
    expect(pk_types <= {r["id"] for r in refs}, "partner feed scope")
    expect(e.qk.get("/v1/events?limit=1000&after=" + start).json["data"] == [], "other partner sees nothing")
    for bad in ("after=-1", "after=x", "limit=0", "limit=1001", "cursor=1", "after=999999999"):
        expect_problem(e.c.get("/v1/events?" + bad), 400, "validation-error")


@test
def readme_state_machines_are_the_tables(ctx):
    """README's state machines section is exactly `allied workflow --markdown`, and `allied workflow` holds every table"""
    md = subprocess.run([BIN, "workflow", "--markdown"], capture_output=True, text=True, check=True).stdout
    readme = open(os.path.join(os.path.dirname(__file__), "..", "..", "README.md"), encoding="utf-8").read()
    begin = "<!-- BEGIN allied workflow --markdown (generated: do not edit) -->\n"
    end = "<!-- END allied workflow --markdown -->"
    expect(begin in readme and end in readme, "README has no generated state machines section")
    section = readme.split(begin, 1)[1].split(end, 1)[0]
    expect(section == md, "README's state machines differ from `allied workflow --markdown`; paste its output")
    tables = json.loads(subprocess.run([BIN, "workflow"], capture_output=True, text=True, check=True).stdout)
    expect(sorted(tables) == ["agreement", "commission", "invoice", "referral"] and tables["referral"] == workflow(),
           "%r", sorted(tables))
    bad = subprocess.run([BIN, "workflow", "nonsense"], capture_output=True, text=True)
    expect(bad.returncode == 2 and "nonsense" in bad.stderr, "unknown table: %r", bad)


@test
def referral_timeline_pages_and_refuses_bad_parameters(ctx):
    """a referral's timeline pages with after/limit (next_cursor null at the end); bad after, limit or names are 400 naming them"""
    e = Env(ctx)
    ref = e.into("engaged")
    url = "/v1/referrals/%s/events" % ref["id"]
    whole = e.c.get(url).json
    expect(len(whole["data"]) == 3 and whole["next_cursor"] is None, "%r", whole)
    seen, cursor = [], None
    while True:
        page = e.c.get(url + "?limit=1" + ("&after=" + cursor if cursor else "")).json
        seen += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    expect(seen == whole["data"], "paging lost or repeated events: %r", seen)
    for q, field in (("after=-1", "after"), ("after=x", "after"), ("after=1234567890123456789", "after"),
                     ("limit=0", "limit"), ("limit=501", "limit"), ("limit=1.5", "limit")):
        expect_problem(e.c.get(url + "?" + q), 400, "validation-error", field)
    expect_problem(e.c.get(url + "?cursor=1"), 400)


def round_trips(port):
    text = Client(port).get("/metrics").body.decode()
    return int(re.search(r"^allied_db_round_trips_total (\d+)", text, re.M).group(1))


@test
def feed_append_goes_with_the_commit(ctx):
    """a write's feed append goes out with its COMMIT (an acknowledgement costs 4 round trips); if it fails there (the feed counter held past the lock timeout) the answer is 503 and nothing of the change stays"""
    e = Env(ctx, "deferred feed")
    refs = [e.referral() for _ in range(2)]
    tenant = psql("SELECT tenant_id FROM referrals WHERE id = '%s'" % refs[0]["id"])
    with Server(ALLIED_LOCK_TIMEOUT_MS=300) as s:
        c = Client(s.port, e.c.key)
        expect_status(c.get("/v1/partners"), 200)  # the key is now in this instance's cache
        before = round_trips(s.port)
        expect_status(e.act(refs[0], "acknowledge", client=c), 200)
        spent = round_trips(s.port) - before
        expect(spent == 4, "an acknowledgement took %d round trips (BEGIN+read, move, timeline, feed+audit+COMMIT)", spent)
        types = [x["type"] for x in e.c.get("/v1/events?limit=1000").json["data"] if x["resource_id"] == refs[0]["id"]]
        expect(types == ["referral.submitted", "referral.acknowledged"], "feed %r", types)
        holder = hold_lock("SELECT 1 FROM feed_counters WHERE tenant_id = '%s' FOR UPDATE" % tenant, 3)
        try:
            expect_problem(e.act(refs[1], "acknowledge", client=c), 503)
        finally:
            holder.wait(30)
        r = c.get("/v1/referrals/" + refs[1]["id"]).json
        expect(r["status"] == "submitted" and r["version"] == refs[1]["version"], "the change stayed: %r", r)
        timeline = [x["type"] for x in c.get("/v1/referrals/%s/events" % refs[1]["id"]).json["data"]]
        expect("acknowledged" not in timeline, "timeline %r", timeline)
        expect_status(e.act(refs[1], "acknowledge", client=c), 200)
        types = [x["type"] for x in e.c.get("/v1/events?limit=1000").json["data"] if x["resource_id"] == refs[1]["id"]]
        expect(types == ["referral.submitted", "referral.acknowledged"], "feed %r", types)
