"""Keeping the relationship healthy: commitments, check-ins, qualification notes, scorecards.
Scorecard figures are checked against fixtures computed by hand (see each comment)."""
import csv
import datetime
import io
from lib import test, expect, expect_status, expect_problem, new_tenant, Client, psql
from test_money import Money

TODAY = datetime.datetime.now(datetime.timezone.utc).date()


def day(offset):
    return (TODAY + datetime.timedelta(days=offset)).isoformat()


def backdate(ref, days_ago, ack_hours=None):
    """Moves a referral's creation `days_ago` days back (to the hour), acknowledged `ack_hours` later."""
    psql("UPDATE referrals SET created_at = date_trunc('hour', now()) - interval '%d days', "
         "acknowledged_at = CASE WHEN %s THEN date_trunc('hour', now()) - interval '%d days' "
         "+ interval '%s hours' END WHERE id = '%s'"
         % (days_ago, "true" if ack_hours is not None else "false", days_ago, ack_hours or 0, ref["id"]))


def money(**kw):
    return [{"amount": v, "currency": k} for k, v in sorted(kw.items())]


class Fixture:
    """Tenant with P (busy both ways), Q (one referral 400 days ago) and R (nothing, formula name).

    P inbound:  i1 won 1000.00 EUR ack 2h | i2 won 500.00 USD ack 4h | i3 lost ack 10h
                i4 submitted | i5 engaged ack 1h | i6 won 300.00 EUR ack 6h
      -> referrals 6, acknowledged 5, qualified 4 (i1 i2 i5 i6), won 3, lost 1, conversion 0.5,
         median ack of 1,2,4,6,10 h = 4.00, won value EUR 130000 + USD 50000
    P outbound: o1 won 200.00 EUR ack 3h | o2 submitted
      -> referrals 2, acknowledged 1, qualified 1, won 1, conversion 0.5, median 3.00, EUR 20000
    Commissions (10% inbound payable, 5% outbound receivable):
      i1 10000 EUR invoiced and paid, then reversed -> adjustment -10000 EUR owed
      i2 5000 USD reversed before payment -> not counted
      i6 3000 EUR owed;  o1 1000 EUR receivable owed
      -> payable owed EUR -7000, payable paid EUR 10000, receivable owed EUR 1000,
         net balance EUR -7000 - 1000 = -8000
    """
    _made = None

    @classmethod
    def get(cls, ctx):
        if cls._made is None:
            cls._made = cls(ctx)
        return cls._made

    def __init__(self, ctx):
        m = self.m = Money(ctx, "scorecards")
        c = self.c = m.c
        self.tenant_key = c.key
        self.p, self.q = m.p, m.q
        self.r = c.patch("/v1/partners/" + m.r["id"], {"name": "=HYPERLINK(\"x\")"},
                         headers={"If-Match": '"1"'}).json
        m.agreement(m.p, {"model": "percentage", "rate_bps": 1000})
        m.agreement(m.p, {"model": "percentage", "rate_bps": 500}, direction="outbound")
        i1, i2, i3, i5, i6 = (m.referral(m.p) for _ in range(5))
        i4 = c.post("/v1/referrals", {"partner_id": m.p["id"], "direction": "inbound", "prospect": {"name": "i4", "email": "i4@i4.example"}})
        expect_status(i4, 201)
        i4 = i4.json
        o1 = m.referral(m.p, direction="outbound")
        o2 = c.post("/v1/referrals", {"partner_id": m.p["id"], "direction": "outbound",
                                      "prospect": {"name": "o2", "email": "o2@o2.example"}})
        expect_status(o2, 201)
        o2 = o2.json
        expect_status(m.win(i1, 100000), 200)
        expect_status(m.win(i2, 50000, "USD"), 200)
        expect_status(c.post("/v1/referrals/%s/lose" % i3["id"], {"reason": "budget"}), 200)
        expect_status(c.post("/v1/referrals/%s/engage" % i5["id"], {"stage": "demo"}), 200)
        expect_status(m.win(i6, 30000), 200)
        expect_status(m.win(o1, 20000), 200)
        for ref, hours in ((i1, 2), (i2, 4), (i3, 10), (i4, None), (i5, 1), (i6, 6), (o1, 3), (o2, None)):
            backdate(ref, 30, hours)
        c1 = m.commissions(i1)[0]
        m.mature([c1])
        inv = m.invoice(m.p, [c1]).json
        expect_status(c.post("/v1/invoices/%s/approve" % inv["id"]), 200)
        expect_status(c.post("/v1/invoices/%s/pay" % inv["id"], {"reference": "BANK-1"}), 200)
        expect_status(c.post("/v1/commissions/%s/reverse" % c1["id"], {"reason": "refund"}), 200)
        c2 = m.commissions(i2)[0]
        expect_status(c.post("/v1/commissions/%s/reverse" % c2["id"], {"reason": "cancelled"}), 200)
        q1 = c.post("/v1/referrals", {"partner_id": m.q["id"], "direction": "inbound", "prospect": {"name": "old", "email": "old@old.example"}}).json
        backdate(q1, 400)
        self.pk = Client(c.port, c.post("/v1/api-keys", {"role": "partner", "partner_id": m.p["id"]}).json["key"])


P_INBOUND = {"referrals": 6, "acknowledged": 5, "qualified": 4, "won": 3, "lost": 1, "conversion_rate": 0.5,
             "median_hours_to_acknowledge": 4.0, "won_value": money(EUR=130000, USD=50000)}
P_OUTBOUND = {"referrals": 2, "acknowledged": 1, "qualified": 1, "won": 1, "lost": 0, "conversion_rate": 0.5,
              "median_hours_to_acknowledge": 3.0, "won_value": money(EUR=20000)}
EMPTY_SIDE = {"referrals": 0, "acknowledged": 0, "qualified": 0, "won": 0, "lost": 0, "conversion_rate": None,
              "median_hours_to_acknowledge": None, "won_value": []}
EMPTY_COMMISSIONS = {"payable": {"owed": [], "paid": []}, "receivable": {"owed": [], "paid": []}}


@test
def scorecard_matches_hand_computed_fixture(ctx):
    """a partner's scorecard: both directions, two currencies, reversed commissions, net balance"""
    f = Fixture.get(ctx)
    r = f.c.get("/v1/reports/partners/" + f.p["id"])
    expect_status(r, 200)
    s = r.json
    expect(s["partner_id"] == f.p["id"] and s["from"] == day(-364) and s["to"] == day(0), "%r", s)
    expect(s["inbound"] == P_INBOUND, "inbound %r", s["inbound"])
    expect(s["outbound"] == P_OUTBOUND, "outbound %r", s["outbound"])
    expect(s["commissions"] == {"payable": {"owed": money(EUR=-7000), "paid": money(EUR=10000)},
                                "receivable": {"owed": money(EUR=1000), "paid": []}}, "commissions %r", s["commissions"])
    expect(s["net_balance"] == money(EUR=-8000), "net %r", s["net_balance"])
    expect(s["days_since_last_referral"] == 30, "days %r", s["days_since_last_referral"])
    expect(s["commitments"] == [], "%r", s["commitments"])


@test
def scorecards_of_quiet_partners_and_empty_periods(ctx):
    """partners with nothing in the period show zeros, null rates and empty money lists"""
    f = Fixture.get(ctx)
    r = f.c.get("/v1/reports/partners")
    expect_status(r, 200)
    by_id = {s["partner_id"]: s for s in r.json["data"]}
    expect(set(by_id) == {f.p["id"], f.q["id"], f.r["id"]}, "%r", list(by_id))
    q = by_id[f.q["id"]]
    expect(q["inbound"] == EMPTY_SIDE and q["outbound"] == EMPTY_SIDE, "%r", q)
    expect(q["days_since_last_referral"] == 400 and q["net_balance"] == [], "%r", q)
    expect(q["commissions"] == EMPTY_COMMISSIONS, "%r", q)
    expect(by_id[f.r["id"]]["days_since_last_referral"] is None, "%r", by_id[f.r["id"]])
    expect(by_id[f.p["id"]]["inbound"] == P_INBOUND, "%r", by_id[f.p["id"]])
    # a period before anything happened
    e = f.c.get("/v1/reports/partners/%s?from=2020-01-01&to=2020-01-31" % f.p["id"]).json
    expect(e["inbound"] == EMPTY_SIDE and e["outbound"] == EMPTY_SIDE and e["commissions"] == EMPTY_COMMISSIONS
           and e["net_balance"] == [] and e["from"] == "2020-01-01", "%r", e)
    # a period that holds only Q's old referral
    old = day(-400)
    e = f.c.get("/v1/reports/partners/%s?from=%s&to=%s" % (f.q["id"], old, old)).json
    expect(e["inbound"]["referrals"] == 1 and e["inbound"]["acknowledged"] == 0, "%r", e)


@test
def tenant_summary_adds_up(ctx):
    """the tenant summary totals the period across partners"""
    f = Fixture.get(ctx)
    s = f.c.get("/v1/reports/summary").json
    expect(s["partners"] == 3 and s["inbound"] == P_INBOUND and s["outbound"] == P_OUTBOUND, "%r", s)
    expect(s["net_balance"] == money(EUR=-8000), "%r", s)
    expect(s["overdue_acknowledgements"] >= 0 and s["commitments_at_risk"] == 0, "%r", s)
    e = f.c.get("/v1/reports/summary?from=2020-01-01&to=2020-12-31").json
    expect(e["inbound"] == EMPTY_SIDE and e["commissions"] == EMPTY_COMMISSIONS, "%r", e)


@test
def scorecards_as_csv(ctx):
    """Accept: text/csv gives one row per partner; names that look like formulas are defused"""
    f = Fixture.get(ctx)
    r = f.c.get("/v1/reports/partners", headers={"Accept": "text/csv"})
    expect_status(r, 200)
    expect(r.h("content-type").startswith("text/csv"), "%r", r.h("content-type"))
    rows = list(csv.DictReader(io.StringIO(r.body.decode())))
    by_id = {row["partner_id"]: row for row in rows}
    p = by_id[f.p["id"]]
    expect(p["inbound_referrals"] == "6" and p["inbound_won"] == "3" and p["outbound_referrals"] == "2", "%r", p)
    expect(p["inbound_won_value"] == "1300.00 EUR; 500.00 USD" and p["net_balance"] == "-80.00 EUR", "%r", p)
    expect(p["inbound_median_hours_to_acknowledge"] == "4.0000", "%r", p)
    expect(by_id[f.r["id"]]["partner_name"] == "'=HYPERLINK(\"x\")", "%r", by_id[f.r["id"]])
    expect(f.c.patch("/v1/partners/" + f.r["id"], {"name": "-1+1"}).status == 200, "rename")
    r2 = f.c.get("/v1/reports/partners/" + f.r["id"], headers={"Accept": "text/csv"})
    expect(list(csv.DictReader(io.StringIO(r2.body.decode())))[0]["partner_name"] == "'-1+1", "%r", r2.body)
    f.c.patch("/v1/partners/" + f.r["id"], {"name": "=HYPERLINK(\"x\")"})
    one = f.c.get("/v1/reports/partners/" + f.q["id"], headers={"Accept": "text/csv"})
    expect(len(one.body.decode().strip().split("\r\n")) == 2, "%r", one)
    s = f.c.get("/v1/reports/summary", headers={"Accept": "text/csv"})
    lines = dict(row for row in csv.reader(io.StringIO(s.body.decode())))
    expect(lines["inbound_referrals"] == "6" and lines["partners"] == "3", "%r", lines)


@test
def scorecards_are_scoped(ctx):
    """a partner key sees its own scorecard only; another tenant sees none of them"""
    f = Fixture.get(ctx)
    r = f.pk.get("/v1/reports/partners")
    expect(r.status == 200 and [s["partner_id"] for s in r.json["data"]] == [f.p["id"]], "%r", r)
    expect(f.pk.get("/v1/reports/partners/" + f.p["id"]).json["inbound"] == P_INBOUND, "own")
    expect_problem(f.pk.get("/v1/reports/partners/" + f.q["id"]), 404, "not-found")
    expect_problem(f.pk.get("/v1/reports/summary"), 403, "forbidden")
    other = Client(f.c.port, new_tenant("other scorecards")[1])
    expect_problem(other.get("/v1/reports/partners/" + f.p["id"]), 404, "not-found")
    expect(other.get("/v1/reports/partners").json["data"] == [], "other tenant lists nothing")
    s = other.get("/v1/reports/summary").json
    expect(s["inbound"] == EMPTY_SIDE and s["partners"] == 0, "%r", s)


@test
def report_parameters_are_validated(ctx):
    """bad dates, reversed periods, unknown parameters and bad ids are 400"""
    f = Fixture.get(ctx)
    for q, field in (("from=2025-13-01", "from"), ("to=yesterday", "to"), ("from=2025-02-30", "from"),
                     ("from=2025-06-01&to=2025-01-01", "from")):
        expect_problem(f.c.get("/v1/reports/partners?" + q), 400, "validation-error", field)
        expect_problem(f.c.get("/v1/reports/summary?" + q), 400, "validation-error", field)
    expect_problem(f.c.get("/v1/reports/partners?partner=x"), 400)
    alone = f.c.get("/v1/reports/partners/%s?to=2025-03-31" % f.p["id"]).json
    expect(alone["from"] == "2024-04-01" and alone["to"] == "2025-03-31", "from follows to: %r", alone)
    expect_problem(f.c.get("/v1/reports/partners/not-a-uuid"), 400)
    expect_problem(f.c.get("/v1/reports/partners/00000000-0000-4000-8000-000000000000"), 404, "not-found")
    expect_problem(f.c.get("/v1/reports/summary", key="nope"), 401)


def commitment(c, partner, **kw):
    body = {"direction": "inbound", "target_count": 2, "period_start": day(-10), "period_end": day(9)}
    body.update(kw)
    return c.post("/v1/partners/%s/commitments" % partner["id"], body)


@test
def commitment_progress_and_status(ctx):
    """progress is counted from the referrals; met, missed, at_risk and open as the brief defines them"""
    m = Money(ctx, "commitments")
    c = m.c
    # P: two qualified inbound referrals and one unqualified, 5 days ago; one outbound now
    for i in range(3):
        ref = m.referral(m.p)
        if i < 2:
            expect_status(c.post("/v1/referrals/%s/engage" % ref["id"], {"stage": "call"}), 200)
        backdate(ref, 5, 1)
    c.post("/v1/referrals", {"partner_id": m.p["id"], "direction": "outbound",
                             "prospect": {"name": "o", "email": "o@outbound.example"}})
    met = commitment(c, m.p, qualified_only=True, target_count=2)
    expect_status(met, 201)
    expect(met.json["achieved"] == 2 and met.json["status"] == "met" and met.h("location").endswith(met.json["id"]),
           "%r", met)
    # 20-day period, day 11 of 20 elapsed (55%) and 3 of 5 (60%) achieved: open; 3 of 6 (50%): at risk
    expect(commitment(c, m.p, target_count=5).json["status"] == "open", "3/5 on day 11/20")
    risky = commitment(c, m.p, target_count=6).json
    expect(risky["status"] == "at_risk" and risky["achieved"] == 3, "%r", risky)
    missed = commitment(c, m.p, period_start=day(-60), period_end=day(-31), target_count=1).json
    expect(missed["status"] == "missed" and missed["achieved"] == 0, "%r", missed)
    future = commitment(c, m.p, period_start=day(1), period_end=day(30)).json
    expect(future["status"] == "open" and future["achieved"] == 0, "%r", future)
    out = commitment(c, m.p, direction="outbound", target_count=1).json
    expect(out["status"] == "met" and out["achieved"] == 1, "%r", out)
    # the tenant-wide list filters by status and partner
    all_risk = c.get("/v1/commitments?status=at_risk").json["data"]
    expect([x["id"] for x in all_risk] == [risky["id"]], "%r", all_risk)
    expect({x["id"] for x in c.get("/v1/commitments?status=missed").json["data"]} == {missed["id"]}, "missed")
    expect(len(c.get("/v1/commitments?partner_id=" + m.p["id"]).json["data"]) == 6, "by partner")
    expect(c.get("/v1/commitments?partner_id=" + m.q["id"]).json["data"] == [], "other partner")
    page = c.get("/v1/commitments?limit=4").json
    rest = c.get("/v1/commitments?limit=4&cursor=" + page["next_cursor"]).json
    expect(len(page["data"]) == 4 and len(rest["data"]) == 2 and rest["next_cursor"] is None, "%r", rest)
    expect(c.get("/v1/reports/summary").json["commitments_at_risk"] == 1, "summary counts the risky one")
    # progress follows the referrals: a fourth referral makes 4 of 6 (67%) ahead of 55% elapsed
    m.referral(m.p)
    now = {x["id"]: x for x in c.get("/v1/partners/%s/commitments" % m.p["id"]).json["data"]}[risky["id"]]
    expect(now["achieved"] == 4 and now["status"] == "open", "counted live: %r", now)
    # the scorecard lists the commitments of the period
    card = c.get("/v1/reports/partners/" + m.p["id"]).json
    expect(len(card["commitments"]) == 5, "%r", card["commitments"])  # the future one starts in the period too
    expect(c.get("/v1/reports/summary").json["commitments_at_risk"] == 0, "summary")


@test
def commitment_edits_and_errors(ctx):
    """commitments validate their fields, use If-Match versions, and are scoped per tenant and partner"""
    m = Money(ctx, "commitment edits")
    c = m.c
    url = "/v1/partners/%s/commitments" % m.p["id"]
    for body, field in (({"target_count": 0}, "target_count"), ({"target_count": "2"}, "target_count"),
                        ({"direction": "sideways"}, "direction"), ({"period_start": "2026-02-30"}, "period_start"),
                        ({"period_end": day(-20)}, "period_end"), ({"colour": "red"}, "colour"),
                        ({"note": 5}, "note"), ({"qualified_only": "yes"}, "qualified_only")):
        b = {"direction": "inbound", "target_count": 2, "period_start": day(-10), "period_end": day(9)}
        b.update(body)
        expect_problem(c.post(url, b), 400, "validation-error", field)
    expect_problem(c.post(url, {"direction": "inbound"}), 400, "validation-error", "target_count")
    expect_problem(c.post(url, raw=b"{", ctype="application/json"), 400)
    created = commitment(c, m.p, note="two qualified intros")
    cid = created.json["id"]
    expect(created.h("etag") == '"1"', "%r", created.headers)
    one = url + "/" + cid
    got = c.get(created.h("location"))
    expect(got.status == 200 and got.json == created.json and got.h("etag") == '"1"', "%r", got)
    expect_problem(c.get(url + "/nope"), 400, "validation-error", "commitment_id")
    r = c.patch(one, {"target_count": 1, "note": None}, headers={"If-Match": '"1"'})
    expect(r.status == 200 and r.json["target_count"] == 1 and r.json["note"] is None and r.json["version"] == 2,
           "%r", r)
    expect_problem(c.patch(one, {"target_count": 3}, headers={"If-Match": '"1"'}), 412, "stale-version")
    expect_problem(c.patch(one, {"period_end": day(-30)}), 400, "validation-error", "period_end")
    expect_problem(c.patch(one, {}), 400, "validation-error")
    expect_problem(c.patch(url + "/00000000-0000-4000-8000-000000000000", {"target_count": 3}), 404, "not-found")
    expect_problem(c.patch("/v1/partners/%s/commitments/%s" % (m.q["id"], cid), {"target_count": 3}), 404)
    # partner keys read their own, write nothing; other tenants see nothing
    pk = Client(c.port, c.post("/v1/api-keys", {"role": "partner", "partner_id": m.p["id"]}).json["key"])
    expect([x["id"] for x in pk.get(url).json["data"]] == [cid], "partner reads its own")
    expect(pk.get(one).status == 200, "partner reads one of its own")
    expect_problem(pk.get("/v1/partners/%s/commitments/%s" % (m.q["id"], cid)), 404)
    expect([x["id"] for x in pk.get("/v1/commitments").json["data"]] == [cid], "partner list")
    expect_problem(pk.get("/v1/partners/%s/commitments" % m.q["id"]), 404, "not-found")
    expect_problem(pk.post(url, {"direction": "inbound"}), 403, "forbidden")
    other = Client(c.port, new_tenant("other commitments")[1])
    expect_problem(other.get(url), 404, "not-found")
    expect_problem(other.delete(one), 404, "not-found")
    expect(other.get("/v1/commitments").json["data"] == [], "other tenant")
    expect_problem(c.get("/v1/commitments?status=late"), 400, "validation-error", "status")
    expect_problem(c.get("/v1/commitments?partner_id=nope"), 400, "validation-error", "partner_id")
    expect_problem(c.delete(one, headers={"If-Match": '"1"'}), 412, "stale-version")
    expect_status(c.delete(one, headers={"If-Match": '"2"'}), 204)
    expect_problem(c.delete(one), 404, "not-found")


@test
def check_ins_and_what_is_due(ctx):
    """the latest check-in of each partner says when the next is due; overdue ones are listed"""
    m = Money(ctx, "check-ins")
    c = m.c
    url = "/v1/partners/%s/check-ins"
    r = c.post(url % m.p["id"], {"held_on": day(-60), "notes": "kick-off", "next_due_on": day(-30)})
    expect(r.status == 201 and r.json["next_due_on"] == day(-30) and r.json["partner_id"] == m.p["id"], "%r", r)
    c.post(url % m.p["id"], {"held_on": day(-32), "notes": "quarterly", "next_due_on": day(-2)})
    c.post(url % m.q["id"], {"held_on": day(-5), "next_due_on": day(25)})
    c.post(url % m.r["id"], {"held_on": day(-5)})
    due = c.get("/v1/check-ins/due").json["data"]
    expect([(d["partner_id"], d["days_overdue"], d["last_held_on"]) for d in due] == [(m.p["id"], 2, day(-32))],
           "%r", due)
    later = c.get("/v1/check-ins/due?before=" + day(30)).json["data"]
    expect([d["partner_id"] for d in later] == [m.p["id"], m.q["id"]], "%r", later)
    listed = c.get(url % m.p["id"]).json["data"]
    expect([x["notes"] for x in listed] == ["quarterly", "kick-off"], "%r", listed)
    for body, field in (({"held_on": "soon"}, "held_on"), ({}, "held_on"),
                        ({"held_on": day(0), "next_due_on": day(-1)}, "next_due_on"),
                        ({"held_on": day(0), "mood": "good"}, "mood"), ({"held_on": day(0), "notes": 1}, "notes")):
        expect_problem(c.post(url % m.p["id"], body), 400, "validation-error", field)
    expect_problem(c.get("/v1/check-ins/due?before=tomorrow"), 400, "validation-error", "before")
    expect_problem(c.post(url % "00000000-0000-4000-8000-000000000000", {"held_on": day(0)}), 404)
    pk = Client(c.port, c.post("/v1/api-keys", {"role": "partner", "partner_id": m.q["id"]}).json["key"])
    expect(len(pk.get(url % m.q["id"]).json["data"]) == 1, "partner reads its own")
    expect_problem(pk.get(url % m.p["id"]), 404)
    expect_problem(pk.post(url % m.q["id"], {"held_on": day(0)}), 403)
    expect_problem(pk.get("/v1/check-ins/due"), 403)
    other = Client(c.port, new_tenant("other check-ins")[1])
    expect(other.get("/v1/check-ins/due?before=" + day(30)).json["data"] == [], "other tenant")
    expect_problem(other.get(url % m.p["id"]), 404)


@test
def partner_qualification_checklist(ctx):
    """the qualification checklist is validated field by field and scored 0-100"""
    m = Money(ctx, "qualification")
    c = m.c
    q = {"shared_customers": True, "shared_values": True, "delivers_on_promises": False, "refers_back": None,
         "notes": "met at the chamber"}
    r = c.patch("/v1/partners/" + m.p["id"], {"qualification": q}, headers={"If-Match": '"1"'})
    expect(r.status == 200 and r.json["qualification"] == q and r.json["qualification_score"] == 40, "%r", r)
    expect(c.get("/v1/partners/" + m.p["id"]).json["qualification_score"] == 40, "stored")
    p2 = c.post("/v1/partners", {"name": "All yes", "qualification": {k: True for k in (
        "shared_customers", "shared_values", "delivers_on_promises", "refers_back", "reachable")}}).json
    expect(p2["qualification_score"] == 100, "%r", p2)
    p3 = c.post("/v1/partners", {"name": "Unknown", "qualification": {"notes": "not asked yet"}}).json
    expect(p3["qualification_score"] is None and m.q["qualification"] is None, "%r", p3)
    for bad, field in (({"reachable": "yes"}, "qualification.reachable"), ({"vibes": True}, "qualification.vibes"),
                       ({"notes": 3}, "qualification.notes")):
        expect_problem(c.post("/v1/partners", {"name": "x", "qualification": bad}), 400, "validation-error", field)
    expect_problem(c.post("/v1/partners", {"name": "x", "qualification": [True]}), 400, "validation-error",
                   "qualification")
    cleared = c.patch("/v1/partners/" + m.p["id"], {"qualification": None}).json
    expect(cleared["qualification"] is None and cleared["qualification_score"] is None, "%r", cleared)
