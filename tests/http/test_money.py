"""Commissions, split credit, clawbacks and invoices: every figure exact, nothing paid twice."""
import datetime
import re
from lib import test, expect, expect_status, expect_problem, new_tenant, Client, parallel, psql

TODAY = datetime.date.today()


class Money:
    """A tenant with partners P and Q, and helpers to make agreements and won referrals."""
    n = 0

    def __init__(self, ctx, name="money"):
        self.c = Client(ctx.MAIN.port, new_tenant(name)[1])
        self.p = self.c.post("/v1/partners", {"name": "Pia"}).json
        self.q = self.c.post("/v1/partners", {"name": "Quinn"}).json
        self.r = self.c.post("/v1/partners", {"name": "Rae"}).json

    def agreement(self, partner, compensation, direction="inbound", **terms):
        t = {"compensation": compensation}
        t.update(terms)
        a = self.c.post("/v1/agreements", {"partner_id": partner["id"], "direction": direction,
                                           "starts_on": "2026-01-01", "terms": t}).json
        self.c.post("/v1/agreements/%s/sign" % a["id"], {"party": "vendor", "signer_name": "V"})
        r = self.c.post("/v1/agreements/%s/sign" % a["id"], {"party": "partner", "signer_name": "P"})
        expect(r.json["status"] == "active", "%r", r)
        return a

    def referral(self, partner, direction="inbound", attributions=None, name="Prospect"):
        Money.n += 1
        r = self.c.post("/v1/referrals", {"partner_id": partner["id"], "direction": direction,
                                          "prospect": {"name": name, "email": "x@m%d.example" % Money.n}}).json
        if attributions:
            expect_status(self.c.patch("/v1/referrals/" + r["id"], {"attributions": attributions}), 200)
        expect_status(self.c.post("/v1/referrals/%s/acknowledge" % r["id"]), 200)
        return r

    def win(self, ref, amount, currency="EUR"):
        return self.c.post("/v1/referrals/%s/win" % ref["id"], {"deal": {"amount": amount, "currency": currency}})

    def commissions(self, ref):
        return self.c.get("/v1/commissions?referral_id=" + ref["id"]).json["data"]

    def mature(self, commissions):
        psql("UPDATE commissions SET payable_at = now() - interval '1 second' WHERE id IN (%s)" %
             ",".join("'%s'" % c["id"] for c in commissions))

    def invoice(self, partner, commissions, client=None):
        return (client or self.c).post("/v1/invoices", {"partner_id": partner["id"],
                                                        "commission_ids": [c["id"] for c in commissions]})


def refused(r, allowed):
    """A 409 invalid-state whose allowed_actions are `allowed` (what the state table allows)."""
    expect_problem(r, 409, "invalid-state")
    expect(sorted(r.json.get("allowed_actions", ["missing"])) == sorted(allowed), "allowed_actions %r", r.json)


@test
def full_money_path(ctx):
    """submit, win, pending, payable, invoice, approve, pay: every status and total checked"""
    m = Money(ctx)
    m.agreement(m.p, {"model": "percentage", "rate_bps": 1000}, holding_days=14, payment_terms={"net_days": 45})
    ref = m.referral(m.p)
    r = m.win(ref, 250000)
    expect(r.status == 200 and r.json["status"] == "won" and r.json["deal"] == {"amount": 250000, "currency": "EUR"}, "%r", r)
    cs = m.commissions(ref)
    expect(len(cs) == 1, "%r", cs)
    c = cs[0]
    expect(c["amount"] == 25000 and c["currency"] == "EUR" and c["kind"] == "payable" and c["status"] == "pending" and
           c["partner_id"] == m.p["id"] and c["share_bps"] == 10000 and c["type"] == "commission", "%r", c)
    due = datetime.datetime.fromisoformat(c["payable_at"].replace("Z", "+00:00")) - \
        datetime.datetime.fromisoformat(r.json["closed_at"].replace("Z", "+00:00"))
    expect(due == datetime.timedelta(days=14), "payable_at = won + holding_days: %s", due)
    expect_problem(m.invoice(m.p, cs), 409, "invalid-state")
    m.mature(cs)
    expect(m.c.get("/v1/commissions/" + c["id"]).json["status"] == "payable", "payable after the holding period")
    expect([x["id"] for x in m.c.get("/v1/commissions?status=payable").json["data"]] == [c["id"]], "status filter")
    inv = m.invoice(m.p, cs)
    expect_status(inv, 201)
    i = inv.json
    year = TODAY.year
    expect(re.fullmatch(r"INV-%d-000001" % year, i["number"]) and i["status"] == "submitted" and
           i["total"] == {"amount": 25000, "currency": "EUR"} and i["kind"] == "payable" and
           i["issued_on"] == str(TODAY) and i["due_on"] == str(TODAY + datetime.timedelta(days=45)) and
           len(i["lines"]) == 1 and i["lines"][0]["amount"]["amount"] == 25000, "%r", i)
    expect(m.c.get("/v1/commissions/" + c["id"]).json["status"] == "invoiced", "invoiced")
    expect_problem(m.invoice(m.p, cs), 409, "invalid-state")
    url = "/v1/invoices/" + i["id"]
    refused(m.c.post(url + "/pay", {"reference": "x"}), ["approve", "reject", "void"])
    expect(m.c.post(url + "/approve").json["status"] == "approved", "approve")
    refused(m.c.post(url + "/approve"), ["pay", "void"])
    refused(m.c.post(url + "/reject", {"reason": "x"}), ["pay", "void"])
    for bad, field in (({}, "reference"), ({"reference": "x", "paid_at": "yesterday"}, "paid_at"), ({"reference": 5}, "reference")):
        expect_problem(m.c.post(url + "/pay", bad), 400, "validation-error", field)
    p = m.c.post(url + "/pay", {"reference": "BANK-42", "paid_at": "2026-11-20T10:00:00Z"})
    expect(p.status == 200 and p.json["status"] == "paid" and p.json["payment_reference"] == "BANK-42" and
           p.json["paid_at"] == "2026-11-20T10:00:00.000000Z", "%r", p)
    expect(m.c.get("/v1/commissions/" + c["id"]).json["status"] == "paid", "paid")
    refused(m.c.post(url + "/void"), [])
    # commission.payable is the scheduler's, whenever it looks: not part of what the requests appended
    types = [e["type"] for e in m.c.get("/v1/events?limit=1000").json["data"]
             if e["resource_type"] in ("commission", "invoice") and e["type"] != "commission.payable"]
    expect(types == ["commission.created", "invoice.created", "invoice.approved", "invoice.paid"], "%r", types)


@test
def rounding_and_currencies(ctx):
    """percentage rounds half-up per currency exponent; caps apply; fixed and cap must match the deal's currency"""
    m = Money(ctx)
    m.agreement(m.p, {"model": "percentage", "rate_bps": 1250, "cap": {"amount": 5000, "currency": "JPY"}})
    ref = m.referral(m.p)
    expect_status(m.win(ref, 36004, "JPY"), 200)     # 4500.5 JPY -> 4501
    expect(m.commissions(ref)[0]["amount"] == 4501, "%r", m.commissions(ref))
    ref = m.referral(m.p)
    expect_status(m.win(ref, 1000000, "JPY"), 200)   # 125000 capped at 5000
    expect(m.commissions(ref)[0]["amount"] == 5000, "cap")
    ref = m.referral(m.p)
    r = m.win(ref, 1000, "EUR")
    expect_problem(r, 422, "currency-mismatch")
    expect(m.c.get("/v1/referrals/" + ref["id"]).json["status"] == "acknowledged" and m.commissions(ref) == [],
           "a refused win changes nothing")
    m.agreement(m.q, {"model": "fixed", "amount": 12345, "currency": "KWD"})
    ref = m.referral(m.q)
    expect_problem(m.win(ref, 999, "USD"), 422, "currency-mismatch")
    expect_status(m.win(ref, 999, "KWD"), 200)
    c = m.commissions(ref)[0]
    expect(c["amount"] == 12345 and c["currency"] == "KWD", "%r", c)
    m.agreement(m.r, {"model": "percentage", "rate_bps": 3333})
    ref = m.referral(m.r)
    m.win(ref, 15, "USD")                            # 4.9995 -> 5
    expect(m.commissions(ref)[0]["amount"] == 5, "%r", m.commissions(ref))
    ref = m.referral(m.r)
    m.win(ref, 1, "USD")                             # 0.3333 -> 0: nothing to pay, no commission row
    expect(m.commissions(ref) == [], "zero commissions are not created")
    ref = m.referral(m.r)
    expect_problem(m.win(ref, 9223372036854775807, "USD"), 400, "validation-error", "deal.amount")  # above MONEY_MAX
    m.win(ref, 10**15 - 1, "USD")
    expect(m.commissions(ref)[0]["amount"] == 333300000000000, "MONEY_MAX - 1 deal: %r", m.commissions(ref))  # ...999.6667


@test
def non_monetary_and_outbound(ctx):
    """model none records the client discount and pays nothing; outbound wins are receivable; no agreement earns nothing"""
    m = Money(ctx)
    m.agreement(m.p, {"model": "none"}, client_discount_bps=1500)
    ref = m.referral(m.p)
    r = m.win(ref, 50000)
    expect(r.json["client_discount_bps"] == 1500 and m.commissions(ref) == [], "%r", r.json)
    m.agreement(m.q, {"model": "percentage", "rate_bps": 500}, direction="outbound")
    out = m.c.post("/v1/referrals", {"partner_id": m.q["id"], "direction": "outbound", "prospect": {"name": "Out"}}).json
    m.c.post("/v1/referrals/%s/acknowledge" % out["id"])
    m.win(out, 100000)
    c = m.commissions(out)[0]
    expect(c["kind"] == "receivable" and c["amount"] == 5000, "%r", c)
    loose = m.referral(m.r)
    m.win(loose, 100000)
    expect(m.commissions(loose) == [], "a referral without an agreement earns nothing")


@test
def split_credit(ctx):
    """attributions of three unequal shares split by largest remainder and sum exactly"""
    m = Money(ctx)
    m.agreement(m.p, {"model": "percentage", "rate_bps": 1000})
    shares = [{"partner_id": m.p["id"], "share_bps": 3334}, {"partner_id": m.q["id"], "share_bps": 3333},
              {"partner_id": m.r["id"], "share_bps": 3333}]
    ref = m.referral(m.p, attributions=shares)
    m.win(ref, 1001)  # 100.1 -> 100, split 33.34 / 33.33 / 33.33 -> 34 / 33 / 33
    got = {c["partner_id"]: c["amount"] for c in m.commissions(ref)}
    expect(got == {m.p["id"]: 34, m.q["id"]: 33, m.r["id"]: 33}, "%r", got)
    uneven = [{"partner_id": m.p["id"], "share_bps": 5001}, {"partner_id": m.q["id"], "share_bps": 2999},
              {"partner_id": m.r["id"], "share_bps": 2000}]
    ref = m.referral(m.p, attributions=uneven)
    m.win(ref, 999999)  # 100000 -> 50010 / 29990 / 20000
    cs = m.commissions(ref)
    expect(sum(c["amount"] for c in cs) == 100000 and sorted(c["amount"] for c in cs) == [20000, 29990, 50010], "%r", cs)
    qk = Client(m.c.port, m.c.post("/v1/api-keys", {"role": "partner", "partner_id": m.q["id"]}).json["key"])
    mine = qk.get("/v1/commissions").json["data"]
    expect({c["partner_id"] for c in mine} == {m.q["id"]} and len(mine) == 2, "a partner sees its own shares: %r", mine)


@test
def attribution_validation(ctx):
    """attributions must name distinct known partners summing to 10000, be set by staff, and only before the outcome"""
    m = Money(ctx)
    ref = m.c.post("/v1/referrals", {"partner_id": m.p["id"], "direction": "inbound", "prospect": {"name": "A"}}).json
    url = "/v1/referrals/" + ref["id"]
    for att, field in (([{"partner_id": m.p["id"], "share_bps": 9999}], "attributions"),
                       ([], "attributions"), ("half", "attributions"), ([1], "attributions"),
                       ([{"partner_id": m.p["id"], "share_bps": 5000}, {"partner_id": m.p["id"], "share_bps": 5000}], "attributions"),
                       ([{"partner_id": m.p["id"], "share_bps": 0}, {"partner_id": m.q["id"], "share_bps": 10000}], "attributions[0].share_bps"),
                       ([{"partner_id": m.p["id"], "share_bps": 10000.0}], "attributions[0].share_bps"),
                       ([{"partner_id": "x", "share_bps": 10000}], "attributions[0].partner_id"),
                       ([{"partner_id": m.p["id"]}], "attributions[0].share_bps"),
                       ([{"partner_id": m.p["id"], "share_bps": 10000, "note": 1}], "attributions[0].note"),
                       ([{"partner_id": "00000000-0000-0000-0000-000000000000", "share_bps": 10000}], "attributions")):
        expect_problem(m.c.patch(url, {"attributions": att}), 400, "validation-error", field)
    other = Client(m.c.port, new_tenant("other")[1]).post("/v1/partners", {"name": "X"}).json
    expect_problem(m.c.patch(url, {"attributions": [{"partner_id": other["id"], "share_bps": 10000}]}), 400, "validation-error")
    pk = Client(m.c.port, m.c.post("/v1/api-keys", {"role": "partner", "partner_id": m.p["id"]}).json["key"])
    expect_problem(pk.patch(url, {"attributions": [{"partner_id": m.p["id"], "share_bps": 10000}]}), 403)
    expect_status(m.c.patch(url, {"attributions": None}), 200)
    m.c.post(url + "/decline", {"reason": "other"})
    expect_problem(m.c.patch(url, {"attributions": [{"partner_id": m.p["id"], "share_bps": 10000}]}), 409, "invalid-state")


@test
def concurrent_invoices_one_commission(ctx):
    """two concurrent invoices claiming the same commission: exactly one succeeds"""
    m = Money(ctx)
    m.agreement(m.p, {"model": "fixed", "amount": 1000, "currency": "EUR"})
    refs = [m.referral(m.p) for _ in range(3)]
    for ref in refs:
        m.win(ref, 1, "EUR")
    cs = [m.commissions(ref)[0] for ref in refs]
    res = parallel(2, lambda i: m.invoice(m.p, cs if i else cs[::-1]))
    codes = sorted(r.status for r in res)
    expect(codes == [201, 409], "%r", res)
    invoices = m.c.get("/v1/invoices").json["data"]
    expect(len(invoices) == 1 and invoices[0]["total"]["amount"] == 3000, "%r", invoices)


@test
def gapless_numbers(ctx):
    """50 concurrent invoice creations get unique, gapless numbers"""
    m = Money(ctx)
    m.agreement(m.p, {"model": "fixed", "amount": 100, "currency": "EUR"})
    cs = []
    for _ in range(50):
        ref = m.referral(m.p)
        m.win(ref, 1)
        cs += m.commissions(ref)
    res = parallel(50, lambda i: m.invoice(m.p, [cs[i]]))
    expect(all(r.status == 201 for r in res), "%r", [r.status for r in res if r.status != 201][:3])
    numbers = sorted(r.json["number"] for r in res)
    expect(numbers == ["INV-%d-%06d" % (TODAY.year, n) for n in range(1, 51)], "%r", numbers[:5])
    bad = m.invoice(m.p, [{"id": "00000000-0000-0000-0000-000000000000"}])
    expect_problem(bad, 422, "invoice-invalid")
    ref = m.referral(m.p)
    m.win(ref, 1)
    expect(m.invoice(m.p, m.commissions(ref)).json["number"] == "INV-%d-000051" % TODAY.year, "a failed create leaves no gap")


@test
def clawbacks(ctx):
    """reversal before payment voids the commission; after payment it adds a negative adjustment the next invoice nets off"""
    m = Money(ctx)
    m.agreement(m.p, {"model": "fixed", "amount": 700, "currency": "EUR"})
    a, b, d = m.referral(m.p), m.referral(m.p), m.referral(m.p)
    for ref in (a, b, d):
        m.win(ref, 1)
    ca, cb, cd = m.commissions(a)[0], m.commissions(b)[0], m.commissions(d)[0]
    expect_problem(m.c.post("/v1/commissions/%s/reverse" % ca["id"], {}), 400, "validation-error", "reason")
    r = m.c.post("/v1/commissions/%s/reverse" % ca["id"], {"reason": "client refunded"})
    expect(r.status == 200 and r.json["status"] == "reversed" and r.json["reversal_reason"] == "client refunded", "%r", r)
    refused(m.c.post("/v1/commissions/%s/reverse" % ca["id"], {"reason": "again"}), [])
    expect_problem(m.invoice(m.p, [ca]), 409, "invalid-state")
    inv = m.invoice(m.p, [cb]).json
    refused(m.c.post("/v1/commissions/%s/reverse" % cb["id"], {"reason": "x"}), [])  # invoiced: its invoice moves it
    m.c.post("/v1/invoices/%s/approve" % inv["id"])
    m.c.post("/v1/invoices/%s/pay" % inv["id"], {"reference": "T1"})
    r = m.c.post("/v1/commissions/%s/reverse" % cb["id"], {"reason": "chargeback"})
    expect(r.status == 200 and r.json["status"] == "paid" and r.json["reversed_by_id"], "paid stays paid: %r", r)
    adj = m.c.get("/v1/commissions/" + r.json["reversed_by_id"]).json
    expect(adj["type"] == "adjustment" and adj["amount"] == -700 and adj["status"] == "payable" and
           adj["reverses_id"] == cb["id"], "%r", adj)
    refused(m.c.post("/v1/commissions/%s/reverse" % cb["id"], {"reason": "x"}), [])  # clawed back once
    refused(m.c.post("/v1/commissions/%s/reverse" % adj["id"], {"reason": "x"}), [])  # an adjustment
    expect_problem(m.invoice(m.p, [adj]), 422, "invoice-invalid")
    net = m.invoice(m.p, [cd, adj])
    expect(net.status == 201 and net.json["total"]["amount"] == 0 and len(net.json["lines"]) == 2, "%r", net)
    paid_inv = m.c.get("/v1/invoices/" + inv["id"]).json
    expect(paid_inv["status"] == "paid" and paid_inv["total"]["amount"] == 700, "paid history is never rewritten")


@test
def reject_and_void_release(ctx):
    """rejected and voided invoices release their commissions to be invoiced again"""
    m = Money(ctx)
    m.agreement(m.p, {"model": "fixed", "amount": 500, "currency": "EUR"})
    ref = m.referral(m.p)
    m.win(ref, 1)
    cs = m.commissions(ref)
    inv = m.invoice(m.p, cs).json
    expect_problem(m.c.post("/v1/invoices/%s/reject" % inv["id"], {}), 400, "validation-error", "reason")
    r = m.c.post("/v1/invoices/%s/reject" % inv["id"], {"reason": "wrong PO"})
    expect(r.json["status"] == "rejected" and r.json["rejection_reason"] == "wrong PO", "%r", r)
    c = m.c.get("/v1/commissions/" + cs[0]["id"]).json
    expect(c["status"] == "payable" and c["invoice_id"] is None, "%r", c)
    inv2 = m.invoice(m.p, cs).json
    m.c.post("/v1/invoices/%s/approve" % inv2["id"])
    expect(m.c.post("/v1/invoices/%s/void" % inv2["id"]).json["status"] == "void", "void")
    expect(m.c.get("/v1/commissions/" + cs[0]["id"]).json["status"] == "payable", "released")
    refused(m.c.post("/v1/invoices/%s/approve" % inv2["id"]), [])
    refused(m.c.post("/v1/invoices/%s/void" % inv["id"]), [])  # rejected
    expect_problem(m.c.post("/v1/invoices/%s/void" % inv2["id"], {"x": 1}), 400, "validation-error", "x")
    expect_status(m.invoice(m.p, cs), 201)
    stale = m.c.post("/v1/invoices/%s/approve" % inv2["id"], headers={"If-Match": '"1"'})
    expect_problem(stale, 412)


@test
def invoice_validation(ctx):
    """an invoice carries one partner, kind and currency of payable commissions; offenders are named"""
    m = Money(ctx)
    m.agreement(m.p, {"model": "fixed", "amount": 100, "currency": "EUR"})
    m.agreement(m.q, {"model": "fixed", "amount": 100, "currency": "USD"})
    m.agreement(m.p, {"model": "fixed", "amount": 100, "currency": "USD"}, direction="outbound")
    rp, rq = m.referral(m.p), m.referral(m.q)
    m.win(rp, 1, "EUR")
    m.win(rq, 1, "USD")
    out = m.c.post("/v1/referrals", {"partner_id": m.p["id"], "direction": "outbound", "prospect": {"name": "O"}}).json
    m.c.post("/v1/referrals/%s/acknowledge" % out["id"])
    m.win(out, 1, "USD")
    cp, cq, co = m.commissions(rp)[0], m.commissions(rq)[0], m.commissions(out)[0]
    r = m.invoice(m.p, [cp, cq])
    expect_problem(r, 422, "invoice-invalid")
    expect(r.json["other_partner_commission_ids"] == [cq["id"]], "%r", r.json)
    expect_problem(m.invoice(m.p, [cp, co]), 422, "invoice-invalid")
    r = m.invoice(m.p, [cp, {"id": "00000000-0000-0000-0000-000000000001"}])
    expect(r.json.get("unknown_commission_ids") == ["00000000-0000-0000-0000-000000000001"], "%r", r.json)
    for body, field in (({"partner_id": m.p["id"]}, "commission_ids"), ({"commission_ids": [cp["id"]]}, "partner_id"),
                        ({"partner_id": m.p["id"], "commission_ids": []}, "commission_ids"),
                        ({"partner_id": m.p["id"], "commission_ids": ["x"]}, "commission_ids"),
                        ({"partner_id": m.p["id"], "commission_ids": [cp["id"], cp["id"]]}, "commission_ids"),
                        ({"partner_id": m.p["id"], "commission_ids": cp["id"]}, "commission_ids"),
                        ({"partner_id": m.p["id"], "commission_ids": [cp["id"]], "total": 5}, "total")):
        expect_problem(m.c.post("/v1/invoices", body), 400, "validation-error", field)
    for q in ("status=open", "kind=x", "overdue=maybe", "partner_id=1", "foo=1"):
        expect_problem(m.c.get("/v1/invoices?" + q), 400, "validation-error")
    for q in ("status=due", "kind=x", "currency=EURO", "referral_id=1", "foo=1"):
        expect_problem(m.c.get("/v1/commissions?" + q), 400, "validation-error")


@test
def partner_scope_and_isolation_for_money(ctx):
    """partner keys see and invoice only what they are owed; other tenants see nothing"""
    m = Money(ctx)
    m.agreement(m.p, {"model": "fixed", "amount": 100, "currency": "EUR"})
    m.agreement(m.q, {"model": "fixed", "amount": 100, "currency": "EUR"})
    rp, rq = m.referral(m.p, name="<script>x</script>"), m.referral(m.q)
    m.win(rp, 1)
    m.win(rq, 1)
    cp, cq = m.commissions(rp)[0], m.commissions(rq)[0]
    pk = Client(m.c.port, m.c.post("/v1/api-keys", {"role": "partner", "partner_id": m.p["id"]}).json["key"])
    expect([c["id"] for c in pk.get("/v1/commissions").json["data"]] == [cp["id"]], "partner commission scope")
    expect_problem(pk.get("/v1/commissions/" + cq["id"]), 404)
    expect_problem(m.invoice(m.q, [cq], pk), 403)
    inv = m.invoice(m.p, [cp], pk)
    expect_status(inv, 201)
    expect_problem(pk.post("/v1/invoices/%s/approve" % inv.json["id"]), 403)
    expect_problem(pk.post("/v1/commissions/%s/reverse" % cp["id"], {"reason": "x"}), 403)
    qinv = m.invoice(m.q, [cq]).json
    expect([i["id"] for i in pk.get("/v1/invoices").json["data"]] == [inv.json["id"]], "partner invoice scope")
    expect_problem(pk.get("/v1/invoices/" + qinv["id"]), 404)
    html = pk.get("/v1/invoices/" + inv.json["id"], headers={"Accept": "text/html"})
    expect(html.status == 200 and html.h("content-type").startswith("text/html"), "%r", html.headers)
    page = html.body.decode()
    expect(inv.json["number"] in page and "1.00 EUR" in page and "&lt;script&gt;" in page and "<script>" not in page,
           "printable page: %s", page[:400])
    expect(pk.get("/v1/invoices/" + inv.json["id"], headers={"Accept": "application/json"}).json["id"] == inv.json["id"], "json")
    other = Client(m.c.port, new_tenant("money other")[1])
    for url in ("/v1/commissions/" + cp["id"], "/v1/invoices/" + inv.json["id"]):
        expect_problem(other.get(url), 404)
    expect_problem(other.post("/v1/commissions/%s/reverse" % cp["id"], {"reason": "x"}), 404)
    for action, body in (("approve", None), ("pay", {"reference": "x"}), ("reject", {"reason": "x"}), ("void", None)):
        expect_problem(other.post("/v1/invoices/%s/%s" % (inv.json["id"], action), body), 404, "not-found")
    expect(other.get("/v1/commissions").json["data"] == [] and other.get("/v1/invoices").json["data"] == [], "leak")
    op = other.post("/v1/partners", {"name": "O"}).json
    expect_problem(other.post("/v1/invoices", {"partner_id": op["id"], "commission_ids": [cp["id"]]}), 422, "invoice-invalid")
    psql("UPDATE invoices SET due_on = current_date - 1 WHERE id = '%s'" % inv.json["id"])
    expect([i["id"] for i in m.c.get("/v1/invoices?overdue=true").json["data"]] == [inv.json["id"]], "overdue filter")


@test
def self_billing_follows_the_agreement(ctx):
    """payment_terms.self_billing false: the partner's key gets 403 billing those commissions, the business's key bills them; true or absent lets the partner bill"""
    m = Money(ctx)
    payment = {"net_days": 14, "self_billing": False}
    a = m.agreement(m.p, {"model": "fixed", "amount": 250, "currency": "EUR"}, payment_terms=payment)
    expect(m.c.get("/v1/agreements/" + a["id"]).json["terms"]["payment_terms"] == payment, "terms kept as given")
    m.agreement(m.q, {"model": "fixed", "amount": 100, "currency": "EUR"},
                payment_terms={"net_days": 30, "self_billing": True})
    rp, rq = m.referral(m.p), m.referral(m.q)
    m.win(rp, 1)
    m.win(rq, 1)
    cp, cq = m.commissions(rp)[0], m.commissions(rq)[0]
    pk = Client(m.c.port, m.c.post("/v1/api-keys", {"role": "partner", "partner_id": m.p["id"]}).json["key"])
    qk = Client(m.c.port, m.c.post("/v1/api-keys", {"role": "partner", "partner_id": m.q["id"]}).json["key"])
    r = m.invoice(m.p, [cp], pk)
    expect_problem(r, 403, "forbidden")
    expect("self_billing" in r.json["detail"], "detail %r", r.json)
    expect(m.c.get("/v1/commissions/" + cp["id"]).json["status"] == "payable", "still payable after the refusal")
    inv = m.invoice(m.p, [cp])
    expect_status(inv, 201)
    expect(inv.json["total"]["amount"] == 250 and inv.json["due_on"] == str(TODAY + datetime.timedelta(days=14)),
           "%r", inv.json)
    expect_status(m.invoice(m.q, [cq], qk), 201)
    for bad in ("yes", 1, None):
        r = m.c.post("/v1/agreements", {"partner_id": m.r["id"], "direction": "inbound", "starts_on": "2026-01-01",
                                        "terms": {"compensation": {"model": "none"},
                                                  "payment_terms": {"net_days": 30, "self_billing": bad}}})
        expect_problem(r, 400, "validation-error", "terms.payment_terms.self_billing")
