"""Money and text that a hostile or unlucky tenant cannot use to break anyone's answers: amounts
stop at MONEY_MAX, report totals never overflow, text is cut on character boundaries, deletes
that would strand split credit are refused, and no database name reaches a client."""
import csv
import io
import re
import uuid
from lib import test, expect, expect_status, expect_problem, Client, parallel, psql
from test_money import Money

MONEY_MAX = 10**15
INT64_MAX = 2**63 - 1
JSON_SAFE = 2**53 - 1
# Names a database would use: constraints (..._fkey, ..._check, ..._max, ..._unique), SQLSTATEs.
SCHEMA_WORDS = re.compile(r"_(fkey|pkey|key|check|max|unique|fk)\b|\b(23\d{3}|constraint|violates|relation)\b")


def no_schema_names(r):
    """The problem's detail (and every string in it) names no constraint, table or SQLSTATE."""
    text = r.body.decode("utf-8")
    expect(not SCHEMA_WORDS.search(text), "a database identifier reached the client: %r", r)


def money_total(m):
    """The exact value of a report money object, whichever form it takes."""
    if m["amount"] is None:
        expect(isinstance(m.get("amount_string"), str) and re.fullmatch(r"-?\d+", m["amount_string"]) and
               abs(int(m["amount_string"])) > JSON_SAFE, "amount null needs an exact amount_string beyond 2^53-1: %r", m)
        return int(m["amount_string"])
    expect("amount_string" not in m and abs(m["amount"]) <= JSON_SAFE, "a JSON-safe amount comes alone: %r", m)
    return m["amount"]


def by_currency(lst):
    return {m["currency"]: money_total(m) for m in lst}


def partner_key(m, partner):
    return Client(m.c.port, m.c.post("/v1/api-keys", {"role": "partner", "partner_id": partner["id"]}).json["key"])


def outbound_win(m, partner, pk, amount, currency="EUR"):
    """An outbound referral (we introduce, the partner receives): the partner's own key wins it."""
    Money.n += 1
    r = m.c.post("/v1/referrals", {"partner_id": partner["id"], "direction": "outbound",
                                   "prospect": {"name": "Out", "email": "o%d@out%d.example" % (Money.n, Money.n)}})
    expect_status(r, 201)
    ref = r.json
    expect_status(pk.post("/v1/referrals/%s/acknowledge" % ref["id"]), 200)
    return ref, pk.post("/v1/referrals/%s/win" % ref["id"], {"deal": {"amount": amount, "currency": currency}})


@test
def amounts_above_money_max_are_refused_everywhere_they_enter(ctx):
    """deals, fixed commissions and caps above MONEY_MAX (10^15) are 400 naming the field, from a partner key too"""
    m = Money(ctx, "money max")
    pk = partner_key(m, m.p)
    m.agreement(m.p, {"model": "percentage", "rate_bps": 10000}, direction="outbound")
    ref, r = outbound_win(m, m.p, pk, MONEY_MAX + 1)
    expect_problem(r, 400, "validation-error", "deal.amount")
    expect("1000000000000000" in r.json["errors"][0]["message"], "the limit is named: %r", r.json)
    expect_problem(pk.post("/v1/referrals/%s/win" % ref["id"], {"deal": {"amount": INT64_MAX, "currency": "EUR"}}),
                   400, "validation-error", "deal.amount")
    expect_problem(pk.post("/v1/referrals/%s/win" % ref["id"], {"deal": {"amount": -1, "currency": "EUR"}}),
                   400, "validation-error", "deal.amount")
    r = pk.post("/v1/referrals/%s/win" % ref["id"], {"deal": {"amount": MONEY_MAX, "currency": "EUR"}})
    expect(r.status == 200 and r.json["deal"]["amount"] == MONEY_MAX, "MONEY_MAX itself is fine: %r", r)
    for comp, field in (({"model": "fixed", "amount": MONEY_MAX + 1, "currency": "EUR"}, "terms.compensation.amount"),
                        ({"model": "percentage", "rate_bps": 100, "cap": {"amount": MONEY_MAX + 1, "currency": "EUR"}},
                         "terms.compensation.cap.amount")):
        r = m.c.post("/v1/agreements", {"partner_id": m.q["id"], "direction": "inbound", "starts_on": "2026-01-01",
                                        "terms": {"compensation": comp}})
        expect_problem(r, 400, "validation-error", field)
    # The database holds the same line: a row written around the API is refused too.
    out = psql("UPDATE referrals SET deal_amount = %d WHERE id = '%s'" % (MONEY_MAX + 1, ref["id"]), check=False)
    expect(psql("SELECT deal_amount FROM referrals WHERE id = '%s'" % ref["id"]) == str(MONEY_MAX),
           "CHECK referrals_deal_amount_max holds: %r", out)


@test
def invoice_totals_stop_at_money_max(ctx):
    """an invoice whose lines add up beyond MONEY_MAX is 422 invoice-invalid, not a 64-bit overflow or a 500"""
    m = Money(ctx, "invoice max")
    m.agreement(m.p, {"model": "percentage", "rate_bps": 10000})
    cs = []
    for _ in range(2):
        ref = m.referral(m.p)
        expect_status(m.win(ref, MONEY_MAX), 200)
        cs += m.commissions(ref)
    m.mature(cs)
    r = m.invoice(m.p, cs)
    expect_problem(r, 422, "invoice-invalid")
    expect("1000000000000000" in r.json["detail"], "%r", r.json)
    r = m.invoice(m.p, cs[:1])
    expect(r.status == 201 and r.json["total"] == {"amount": MONEY_MAX, "currency": "EUR"}, "%r", r)


@test
def reports_add_up_near_maximal_amounts_exactly(ctx):
    """reports over many near-maximal amounts answer 200 with exact totals; totals beyond 2^53-1 come as amount null + amount_string"""
    m = Money(ctx, "big sums")
    m.agreement(m.p, {"model": "percentage", "rate_bps": 10000})
    m.agreement(m.p, {"model": "percentage", "rate_bps": 10000}, direction="outbound")
    pk = partner_key(m, m.p)
    inbound = []
    for _ in range(10):  # 10 x 10^15 > 2^53 - 1
        ref = m.referral(m.p)
        expect_status(m.win(ref, MONEY_MAX), 200)
        inbound.append(ref)
    for _ in range(3):  # a partner key can make these (it receives outbound introductions)
        ref, r = outbound_win(m, m.p, pk, MONEY_MAX - 1)
        expect_status(r, 200)
    card = m.c.get("/v1/reports/partners/" + m.p["id"])
    expect_status(card, 200)
    j = card.json
    expect(by_currency(j["inbound"]["won_value"]) == {"EUR": 10 * MONEY_MAX}, "%r", j["inbound"])
    expect(j["inbound"]["won_value"][0]["amount"] is None and
           j["inbound"]["won_value"][0]["amount_string"] == "10000000000000000", "%r", j["inbound"]["won_value"])
    expect(by_currency(j["outbound"]["won_value"]) == {"EUR": 3 * (MONEY_MAX - 1)}, "%r", j["outbound"])
    com = j["commissions"]
    expect(by_currency(com["payable"]["owed"]) == {"EUR": 10 * MONEY_MAX} and
           by_currency(com["receivable"]["owed"]) == {"EUR": 3 * (MONEY_MAX - 1)}, "%r", com)
    expect(by_currency(j["net_balance"]) == {"EUR": 10 * MONEY_MAX - 3 * (MONEY_MAX - 1)}, "%r", j["net_balance"])

    # Rows from before migration 0010 may hold anything up to the int64 limit: the sums of several
    # of them pass 2^64, in either order of positive and negative, and reports still answer.
    ids = ",".join("'%s'" % r["id"] for r in inbound)
    psql("BEGIN; ALTER TABLE referrals DROP CONSTRAINT referrals_deal_amount_max; "
         "ALTER TABLE commissions DROP CONSTRAINT commissions_amount_max; "
         "UPDATE referrals SET deal_amount = %d WHERE id IN (%s); "
         "UPDATE commissions SET amount = %d WHERE referral_id IN (%s); "
         "ALTER TABLE referrals ADD CONSTRAINT referrals_deal_amount_max CHECK (deal_amount <= 1000000000000000) NOT VALID; "
         "ALTER TABLE commissions ADD CONSTRAINT commissions_amount_max "
         "  CHECK (amount BETWEEN -1000000000000000 AND 1000000000000000) NOT VALID; COMMIT"
         % (INT64_MAX, ids, INT64_MAX, ids))
    for path in ("/v1/reports/partners/" + m.p["id"], "/v1/reports/partners", "/v1/reports/summary"):
        r = m.c.get(path)
        expect(r.status == 200 and r.json is not None, "%s: %r", path, r)
        j = r.json["data"][0] if "data" in r.json else r.json
        expect(by_currency(j["inbound"]["won_value"]) == {"EUR": 10 * INT64_MAX}, "%s: %r", path, j["inbound"])
        expect(by_currency(j["commissions"]["payable"]["owed"]) == {"EUR": 10 * INT64_MAX}, "%s: %r", path, j)
        expect(by_currency(j["net_balance"]) == {"EUR": 10 * INT64_MAX - 3 * (MONEY_MAX - 1)}, "%s: %r", path, j)
    expect(by_currency(pk.get("/v1/reports/partners").json["data"][0]["net_balance"]) ==
           {"EUR": 10 * INT64_MAX - 3 * (MONEY_MAX - 1)}, "the partner's own view")
    r = m.c.get("/v1/reports/partners/" + m.p["id"], headers={"Accept": "text/csv"})
    expect_status(r, 200)
    row = list(csv.DictReader(io.StringIO(r.body.decode())))[0]
    expect(row["inbound_won_value"] == "922337203685477580.70 EUR" and
           row["payable_owed"] == "922337203685477580.70 EUR", "CSV formats the exact totals: %r", row)


@test
def invoice_lines_cut_long_non_ascii_names_on_character_boundaries(ctx):
    """an invoice for a prospect whose 200-character name is non-ASCII is created, its line text valid UTF-8"""
    m = Money(ctx, "utf8 names")
    m.agreement(m.p, {"model": "percentage", "rate_bps": 1000})

    def invoiced_line(name):
        ref = m.referral(m.p, name=name)
        m.win(ref, 100000)
        cs = m.commissions(ref)
        m.mature(cs)
        r = m.invoice(m.p, cs)
        expect_status(r, 201)
        return r.json["lines"][0]["description"]

    name = "a" + "\u00e9" * 199  # byte 200 falls inside an é
    desc = invoiced_line(name)
    expect(desc.startswith("Commission: a\u00e9") and name.startswith(desc[len("Commission: "):]), "%r", desc)
    expect(len(desc.encode()) <= 299, "cut to the buffer: %d bytes", len(desc.encode()))
    for emoji in ("\U0001F600" * 100, "\u20ac" * 200):  # 4-byte and 3-byte characters
        d = invoiced_line(emoji)
        expect(d.startswith("Commission: ") and len(d) > 12 and emoji.startswith(d[12:]), "%r", d)


@test
def long_non_ascii_unknown_keys_are_still_reported(ctx):
    """an unknown JSON key too long for the error's field buffer is cut on a character boundary and still refused"""
    m = Money(ctx, "utf8 keys")
    key = "\u00fc" * 200  # byte 255 falls inside a ü
    r = m.c.post("/v1/partners", {"name": "Keyed", key: 1})
    expect_problem(r, 400, "validation-error")
    field = r.json["errors"][0]["field"]
    expect(key.startswith(field) and len(field.encode()) <= 255 and r.json["detail"], "%r", r.json)


@test
def a_partner_named_in_attributions_cannot_be_deleted(ctx):
    """deleting a partner that a referral's attributions name is 409 resource-in-use listing the referrals; the win still works"""
    m = Money(ctx, "attributions")
    m.agreement(m.p, {"model": "percentage", "rate_bps": 1000})
    shares = [{"partner_id": m.p["id"], "share_bps": 5000}, {"partner_id": m.q["id"], "share_bps": 5000}]
    refs = [m.referral(m.p, attributions=shares) for _ in range(2)]
    r = m.c.delete("/v1/partners/" + m.q["id"])
    expect_problem(r, 409, "resource-in-use")
    expect(sorted(r.json["referral_ids"]) == sorted(x["id"] for x in refs) and r.json["more"] is False, "%r", r.json)
    no_schema_names(r)
    expect_status(m.c.get("/v1/partners/" + m.q["id"]), 200)
    expect_status(m.win(refs[0], 1000), 200)
    expect(sorted(c["amount"] for c in m.commissions(refs[0])) == [50, 50], "the split still pays both")
    # Once no referral names it (and nothing else refers to it), the partner can go.
    lone = m.c.post("/v1/partners", {"name": "Lone"}).json
    ref = m.referral(m.p, attributions=[{"partner_id": m.p["id"], "share_bps": 9000},
                                        {"partner_id": lone["id"], "share_bps": 1000}])
    expect_problem(m.c.delete("/v1/partners/" + lone["id"]), 409, "resource-in-use")
    expect_status(m.c.patch("/v1/referrals/" + ref["id"], {"attributions": None}), 200)
    expect_status(m.c.delete("/v1/partners/" + lone["id"]), 204)


@test
def a_partner_delete_racing_an_attribution_change_never_strands_the_credit(ctx):
    """a DELETE of a partner racing a PATCH that names it in attributions: one of them wins, never both"""
    m = Money(ctx, "attribution race")
    outcomes = set()
    for _ in range(8):
        victim = m.c.post("/v1/partners", {"name": "Racer"}).json
        ref = m.referral(m.p)
        shares = [{"partner_id": m.p["id"], "share_bps": 5000}, {"partner_id": victim["id"], "share_bps": 5000}]
        patch, delete = parallel(2, lambda i: m.c.patch("/v1/referrals/" + ref["id"], {"attributions": shares})
                                 if i == 0 else m.c.delete("/v1/partners/" + victim["id"]))
        outcomes.add((patch.status, delete.status))
        expect((patch.status, delete.status) in ((200, 409), (400, 204)), "both or neither: %r %r", patch, delete)
        if delete.status == 204:
            expect(m.c.get("/v1/referrals/" + ref["id"]).json["attributions"] is None, "no stranded credit")


@test
def stale_attributions_and_constraint_failures_leak_no_database_names(ctx):
    """a win whose attributions name a partner that is gone is a 409 in the API's words; so is any other constraint failure"""
    m = Money(ctx, "no leaks")
    m.agreement(m.p, {"model": "percentage", "rate_bps": 1000})
    ref = m.referral(m.p, attributions=[{"partner_id": m.p["id"], "share_bps": 5000},
                                        {"partner_id": m.q["id"], "share_bps": 5000}])
    # As data from before deletes checked attributions: a partner id nothing stands behind.
    gone = str(uuid.uuid4())
    psql("UPDATE referrals SET attributions = jsonb_set(attributions, '{1,partner_id}', '\"%s\"') WHERE id = '%s'"
         % (gone, ref["id"]))
    r = m.win(ref, 1000)
    expect_problem(r, 409, "conflict")
    no_schema_names(r)
    expect("attributions" in r.json["detail"], "%r", r.json)
    expect(m.c.get("/v1/referrals/" + ref["id"]).json["status"] == "acknowledged", "nothing changed")
    # A CHECK failure on the generic path: clawing back a pre-0010 commission above MONEY_MAX
    # would write an adjustment the database refuses.
    ref = m.referral(m.p)
    m.win(ref, 100000)
    cs = m.commissions(ref)
    m.mature(cs)
    inv = m.invoice(m.p, cs).json
    m.c.post("/v1/invoices/%s/approve" % inv["id"])
    expect_status(m.c.post("/v1/invoices/%s/pay" % inv["id"], {"reference": "B-1"}), 200)
    psql("BEGIN; ALTER TABLE commissions DROP CONSTRAINT commissions_amount_max; "
         "UPDATE commissions SET amount = %d WHERE id = '%s'; "
         "ALTER TABLE commissions ADD CONSTRAINT commissions_amount_max "
         "  CHECK (amount BETWEEN -1000000000000000 AND 1000000000000000) NOT VALID; COMMIT" % (INT64_MAX, cs[0]["id"]))
    r = m.c.post("/v1/commissions/%s/reverse" % cs[0]["id"], {"reason": "refund"})
    expect_problem(r, 409, "conflict")
    no_schema_names(r)


@test
def a_mixed_invoice_names_the_commissions_that_do_not_fit(ctx):
    """an invoice over mixed currencies or kinds is 422 naming each commission that differs from the majority"""
    m = Money(ctx, "mixed invoice")
    m.agreement(m.p, {"model": "percentage", "rate_bps": 1000})
    m.agreement(m.p, {"model": "percentage", "rate_bps": 1000}, direction="outbound")
    cs = []
    for cur in ("EUR", "EUR", "USD", "EUR"):
        ref = m.referral(m.p)
        m.win(ref, 10000, cur)
        cs += m.commissions(ref)
    out = m.c.post("/v1/referrals", {"partner_id": m.p["id"], "direction": "outbound", "prospect": {"name": "Out"}}).json
    m.c.post("/v1/referrals/%s/acknowledge" % out["id"])
    m.win(out, 10000)
    rec = m.commissions(out)
    m.mature(cs + rec)
    r = m.invoice(m.p, cs + rec)
    expect_problem(r, 422, "invoice-invalid")
    got = sorted((x["id"], x["kind"], x["currency"]) for x in r.json["mismatched_commissions"])
    expect(got == sorted([(cs[2]["id"], "payable", "USD"), (rec[0]["id"], "receivable", "EUR")]) and
           r.json["kind"] == "payable" and r.json["currency"] == "EUR", "%r", r.json)
    expect("2 of them" in r.json["detail"], "%r", r.json)
    # A tie goes to the kind and currency of the commission listed first.
    r = m.invoice(m.p, [cs[2], cs[0]])
    expect(r.status == 422 and [x["id"] for x in r.json["mismatched_commissions"]] == [cs[0]["id"]] and
           r.json["currency"] == "USD", "%r", r.json)
    expect_status(m.invoice(m.p, [cs[0], cs[1], cs[3]]), 201)


@test
def csv_reports_are_downloads(ctx):
    """every CSV report carries Content-Disposition: attachment with a .csv filename"""
    m = Money(ctx, "csv download")
    ref = m.referral(m.p)
    m.win(ref, 1000)
    for path, stem in (("/v1/reports/partners?from=2026-01-01&to=2026-12-31", "allied-partner-scorecards"),
                       ("/v1/reports/partners/%s?from=2026-01-01&to=2026-12-31" % m.p["id"],
                        "allied-partner-scorecard-" + m.p["id"]),
                       ("/v1/reports/summary?from=2026-01-01&to=2026-12-31", "allied-summary")):
        r = m.c.get(path, headers={"Accept": "text/csv"})
        expect_status(r, 200)
        expect(r.h("content-disposition") == 'attachment; filename="%s-2026-01-01-2026-12-31.csv"' % stem,
               "%s: %r", path, r.h("content-disposition"))
        expect(r.h("content-type").startswith("text/csv"), "%r", r.h("content-type"))
        j = m.c.get(path)
        expect(j.status == 200 and j.h("content-disposition") is None, "JSON stays inline: %r", j.headers)
