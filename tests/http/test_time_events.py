"""Time-based events: the scheduler announces deadlines once, with the test clock running ahead."""
import datetime
import os
import signal
import subprocess
import time
from lib import (BIN, test, expect, expect_status, expect_problem, new_tenant, cli, Client, Server, wait_until,
                 wait_for_session, hold_lock, psql, parallel, refused_at_start)

TODAY = datetime.date.today()
AHEAD_S = 3 * 86400  # the private schedulers' clock runs three days ahead
TIME_TYPES = ("referral.acknowledgement_overdue", "referral.stalled", "commission.payable", "invoice.overdue",
              "agreement.expiring", "agreement.expired", "commitment.at_risk", "commitment.missed", "check_in.due",
              "partner.dormant")
n = 0


def day(d):
    return (TODAY + datetime.timedelta(days=d)).isoformat()


def scheduler(**env):
    """A private server whose scheduler's clock runs AHEAD_S ahead and looks often."""
    e = {"ALLIED_TEST_MODE": "1", "ALLIED_TEST_CLOCK_OFFSET_S": str(AHEAD_S), "ALLIED_TIME_EVENTS_MAX_SLEEP_MS": "200",
         "ALLIED_STALLED_DAYS": "2"}
    e.update(env)
    return Server(**e)


class World:
    """A tenant with resources that qualify (due within the three days) and some that do not."""

    def __init__(self, port):
        global n
        self.tenant, key = new_tenant("time events")
        self.c = Client(port, key)
        self.due, self.not_due = [], []  # (type, resource_id)

    def partner(self, status=None):
        body = {"name": "Pia", "status": status} if status else {"name": "Pia"}
        r = self.c.post("/v1/partners", body)
        expect_status(r, 201)
        return r.json

    def agreement(self, partner, ends_on=None, **terms):
        t = {"compensation": {"model": "percentage", "rate_bps": 1000}}
        t.update(terms)
        body = {"partner_id": partner["id"], "direction": "inbound", "starts_on": "2026-01-01", "terms": t}
        if ends_on:
            body["ends_on"] = ends_on.isoformat()
        a = self.c.post("/v1/agreements", body)
        expect_status(a, 201)
        self.c.post("/v1/agreements/%s/sign" % a.json["id"], {"party": "vendor", "signer_name": "V"})
        r = self.c.post("/v1/agreements/%s/sign" % a.json["id"], {"party": "partner", "signer_name": "P"})
        expect(r.json["status"] == "active", "%r", r)
        return a.json

    def referral(self, partner, *actions):
        global n
        n += 1
        r = self.c.post("/v1/referrals", {"partner_id": partner["id"], "direction": "inbound",
                                          "prospect": {"name": "P", "email": "x@te%d.example" % n}})
        expect_status(r, 201)
        for a in actions:
            body = {"stage": "demo"} if a == "engage" else None
            expect_status(self.c.post("/v1/referrals/%s/%s" % (r.json["id"], a), body), 200)
        return r.json

    def build(self):
        p = self.partner()
        self.agreement(p, holding_days=1, payment_terms={"net_days": 1})
        self.due.append(("referral.acknowledgement_overdue", self.referral(p)["id"]))
        self.not_due.append(("referral.acknowledgement_overdue", self.referral(p, "acknowledge")["id"]))
        self.due.append(("referral.stalled", self.referral(p, "acknowledge", "engage")["id"]))
        won = self.referral(p, "acknowledge")
        expect_status(self.c.post("/v1/referrals/%s/win" % won["id"], {"deal": {"amount": 1000, "currency": "EUR"}}), 200)
        cs = self.c.get("/v1/commissions?referral_id=" + won["id"]).json["data"]
        self.due.append(("commission.payable", cs[0]["id"]))
        # an invoice needs a payable commission now: its holding period is made to have passed
        won2 = self.referral(p, "acknowledge")
        self.c.post("/v1/referrals/%s/win" % won2["id"], {"deal": {"amount": 2000, "currency": "EUR"}})
        cs2 = self.c.get("/v1/commissions?referral_id=" + won2["id"]).json["data"]
        psql("UPDATE commissions SET payable_at = now() - interval '1 second' WHERE id = '%s'" % cs2[0]["id"])
        inv = self.c.post("/v1/invoices", {"partner_id": p["id"], "commission_ids": [cs2[0]["id"]]})
        expect_status(inv, 201)
        self.due.append(("invoice.overdue", inv.json["id"]))
        # a commission still held long after the scheduler's clock: not payable
        q = self.partner()
        self.agreement(q, holding_days=30)
        won3 = self.referral(q, "acknowledge")
        self.c.post("/v1/referrals/%s/win" % won3["id"], {"deal": {"amount": 1000, "currency": "EUR"}})
        self.not_due.append(("commission.payable", self.c.get("/v1/commissions?referral_id=" + won3["id"]).json["data"][0]["id"]))
        soon = self.agreement(self.partner(), ends_on=TODAY + datetime.timedelta(days=20))
        self.due.append(("agreement.expiring", soon["id"]))
        self.not_due.append(("agreement.expired", soon["id"]))
        ended = self.agreement(self.partner(), ends_on=TODAY + datetime.timedelta(days=2))
        self.due.append(("agreement.expired", ended["id"]))
        far = self.agreement(self.partner(), ends_on=TODAY + datetime.timedelta(days=200))
        self.not_due += [("agreement.expiring", far["id"]), ("agreement.expired", far["id"])]
        # commitments of a partner without referrals: any begun period is behind schedule
        r = self.partner()
        url = "/v1/partners/%s/commitments" % r["id"]
        body = {"direction": "inbound", "target_count": 5}
        risky = self.c.post(url, dict(body, period_start=day(-1), period_end=day(8)))
        expect_status(risky, 201)
        self.due.append(("commitment.at_risk", risky.json["id"]))
        self.not_due.append(("commitment.missed", risky.json["id"]))
        missed = self.c.post(url, dict(body, period_start=day(-5), period_end=day(1))).json
        self.due.append(("commitment.missed", missed["id"]))
        future = self.c.post(url, dict(body, period_start=day(10), period_end=day(20))).json
        self.not_due += [("commitment.at_risk", future["id"]), ("commitment.missed", future["id"])]
        # check-ins: the latest one's next_due_on counts
        self.dormant(p)
        k = self.c.post("/v1/partners/%s/check-ins" % r["id"], {"held_on": day(-5), "next_due_on": day(2)})
        expect_status(k, 201)
        self.due.append(("check_in.due", k.json["id"]))
        s = self.partner()
        # the later one first: otherwise a scheduler pass between the two would rightly announce the older
        new = self.c.post("/v1/partners/%s/check-ins" % s["id"], {"held_on": day(-1), "next_due_on": day(30)}).json
        old = self.c.post("/v1/partners/%s/check-ins" % s["id"], {"held_on": day(-9), "next_due_on": day(1)}).json
        self.not_due += [("check_in.due", old["id"]), ("check_in.due", new["id"])]
        return self

    def dormant(self, prospect):
        """The tenant's dry spell is one day: its active partners are dormant three days ahead.
        The threshold is lowered last: a scheduler pass between the partner and its referral would
        otherwise rightly announce a first dry spell (since the partner was created) as well."""
        self.due.append(("partner.dormant", self.partner("active")["id"]))  # never a referral
        active = self.partner("active")
        self.referral(active)
        self.due.append(("partner.dormant", active["id"]))  # a day after its latest referral
        self.not_due += [("partner.dormant", self.partner("paused")["id"]), ("partner.dormant", prospect["id"])]
        expect_status(self.c.patch("/v1/settings", {"dormant_after_days": 1}), 200)

    def events(self):
        out, after = [], "0"
        while True:
            r = self.c.get("/v1/events?limit=1000&after=" + after)
            if r.status == 429:  # polled while waiting for a slow scheduler: the key's budget ran out
                time.sleep(float(r.headers.get("retry-after", "1")))
                continue
            expect_status(r, 200)
            out += r.json["data"]
            if not r.json["data"]:
                return out
            after = r.json["next_cursor"]

    def announced(self):
        return [(e["type"], e["resource_id"]) for e in self.events() if e["type"] in TIME_TYPES]

    def wait_all_due(self, timeout=30):
        seen = []

        def check():
            seen[:] = self.announced()
            return all(d in seen for d in self.due)
        wait_until(check, lambda: "expected %r, announced %r" % (self.due, seen), timeout)
        return seen


@test
def time_events_announced_once(ctx):
    """each time-based event reaches the feed, the timeline and the webhook outbox once, and none for what is not due"""
    w = World(ctx.MAIN.port)
    ep = w.c.post("/v1/webhook-endpoints", {"url": "https://hooks.example.com/allied", "events": list(TIME_TYPES)})
    expect_status(ep, 201)
    with scheduler():
        w.build()
        seen = w.wait_all_due()
    for d in set(seen):
        expect(seen.count(d) == 1, "%r announced %d times", d, seen.count(d))
    for d in w.not_due:
        expect(d not in seen, "%r is not due yet but was announced", d)
    events = {(e["type"], e["resource_id"]): e for e in w.events()}
    ev = events[w.due[0]]
    expect(ev["resource_type"] == "referral" and ev["data"]["id"] == w.due[0][1], "%r", ev)
    tl = w.c.get("/v1/referrals/%s/events" % w.due[0][1]).json["data"]
    expect([e["type"] for e in tl] == ["submitted", "acknowledgement_overdue"], "the timeline: %r", tl)
    expect(tl[1]["from_status"] == tl[1]["to_status"] == "submitted" and tl[1]["actor"]["role"] == "system", "%r", tl[1])
    stalled = w.c.get("/v1/referrals/%s/events" % w.due[1][1]).json["data"]
    expect([e["type"] for e in stalled][-1] == "stalled", "the timeline: %r", stalled)
    deliveries = w.c.get("/v1/webhook-endpoints/%s/deliveries" % ep.json["id"]).json["data"]
    types = sorted(d["type"] for d in deliveries)
    expect(types == sorted(t for t, _ in seen), "one delivery per announced event: %r vs %r", types, seen)


@test
def announced_rows_leave_the_scan(ctx):
    """an announced overdue referral is marked in the claim and leaves the scan's partial index (migration 0027), without a new version; a new acknowledge_by is due again"""
    w = World(ctx.MAIN.port)
    p = w.partner()
    w.agreement(p)
    ref = w.referral(p)
    w.due = [("referral.acknowledgement_overdue", ref["id"])]
    unmarked = ("SELECT count(*) FROM referrals WHERE id = '%s' AND status = 'submitted' "
                "AND ack_overdue_announced_for IS DISTINCT FROM acknowledge_by" % ref["id"])
    expect(psql(unmarked) == "1", "marked before any scheduler ran")
    with scheduler():
        w.wait_all_due()
        expect(psql(unmarked) == "0", "announced but not marked")
        expect(w.c.get("/v1/referrals/" + ref["id"]).json["version"] == ref["version"], "the mark is not a change")
        psql("UPDATE referrals SET acknowledge_by = acknowledge_by + interval '1 second' WHERE id = '%s'" % ref["id"])
        wait_until(lambda: w.announced().count(w.due[0]) == 2, "the new deadline was not announced")


@test
def announced_commissions_leave_the_scan(ctx):
    """an announced payable commission is marked in the claim and leaves the scan's partial index (migration 0028), without a new version; one over the money limit from before migration 0010 is announced once, left unmarked, and blocks nothing"""
    w = World(ctx.MAIN.port)
    p = w.partner()
    w.agreement(p, holding_days=1)  # payable tomorrow: due for the schedulers three days ahead only

    def won(amount):
        ref = w.referral(p, "acknowledge")
        expect_status(w.c.post("/v1/referrals/%s/win" % ref["id"], {"deal": {"amount": amount, "currency": "EUR"}}), 200)
        return w.c.get("/v1/commissions?referral_id=" + ref["id"]).json["data"][0]
    legacy, fine = won(1000), won(2000)
    # a row the mark's UPDATE would be refused for (commissions_amount_max is NOT VALID)
    psql("BEGIN; ALTER TABLE commissions DROP CONSTRAINT commissions_amount_max; "
         "UPDATE commissions SET amount = 9223372036854775807 WHERE id = '%s'; "
         "ALTER TABLE commissions ADD CONSTRAINT commissions_amount_max "
         "  CHECK (amount BETWEEN -1000000000000000 AND 1000000000000000) NOT VALID; COMMIT" % legacy["id"])
    w.due = [("commission.payable", legacy["id"]), ("commission.payable", fine["id"])]
    marks = ("SELECT string_agg(payable_announced::text, ',' ORDER BY amount) FROM commissions "
             "WHERE id IN ('%s', '%s')" % (fine["id"], legacy["id"]))
    expect(psql(marks) == "false,false", "marked before any scheduler ran")
    with scheduler():
        w.wait_all_due()
        expect(psql(marks) == "true,false", "the fine one marked, the legacy one not: %r", psql(marks))
        expect(w.c.get("/v1/commissions/" + fine["id"]).json["version"] == fine["version"], "the mark is not a change")
        later = won(3000)  # the unmarked row in the scan does not stop the kind
        wait_until(lambda: ("commission.payable", later["id"]) in w.announced(), "a later commission was not announced")
        # the passes went on past the legacy row: each announced once
        seen = w.announced()
    for d in w.due + [("commission.payable", later["id"])]:
        expect(seen.count(d) == 1, "%r announced %d times", d, seen.count(d))


@test
def poison_row_set_aside(ctx):
    """a resource whose announcement fails every time is set aside (its occurrence recorded with the error, logged, nothing announced) and silences neither its kind nor the kinds scanned after it, for its tenant or another"""
    a, b = World(ctx.MAIN.port), World(ctx.MAIN.port)
    pa = a.partner()
    a.agreement(pa)
    bad, good = a.referral(pa), a.referral(pa)
    pb = b.partner()
    b.agreement(pb)
    other = b.referral(pb)
    ended = b.agreement(b.partner(), ends_on=TODAY + datetime.timedelta(days=2))  # a kind scanned later
    a.due = [("referral.acknowledgement_overdue", good["id"])]
    b.due = [("referral.acknowledgement_overdue", other["id"]), ("agreement.expired", ended["id"])]
    aside = "SELECT set_aside FROM time_event_occurrences WHERE resource_id = '%s'" % bad["id"]
    # every feed append for `bad` now fails, as a row breaking a constraint of the feed would
    psql("ALTER TABLE feed_events ADD CONSTRAINT test_poison CHECK (resource_id <> '%s') NOT VALID" % bad["id"])
    try:
        with scheduler() as s:
            a.wait_all_due()
            b.wait_all_due()
            wait_until(lambda: psql(aside), "the failing referral was not set aside")
            log = s.log_text()
            metrics = Client(s.port).get("/metrics").body.decode()
    finally:
        psql("ALTER TABLE feed_events DROP CONSTRAINT IF EXISTS test_poison")
    expect("test_poison" in psql(aside), "the set-aside row names the error: %r", psql(aside))
    expect(("referral.acknowledgement_overdue", bad["id"]) not in a.announced(), "the failing one was announced")
    tl = a.c.get("/v1/referrals/%s/events" % bad["id"]).json["data"]
    expect([e["type"] for e in tl] == ["submitted"], "nothing of the failed announcement stays: %r", tl)
    line = [l for l in log.splitlines() if "set aside" in l]
    expect(len(line) == 1 and bad["id"] in line[0] and "test_poison" in line[0], "one log line for it: %r", line)
    expect("\nallied_time_events_set_aside_total 1\n" in metrics, "counted: %r",
           [l for l in metrics.splitlines() if "set_aside" in l])
    for w in (a, b):
        seen = w.announced()
        for d in w.due:
            expect(seen.count(d) == 1, "%r announced %d times", d, seen.count(d))


@test
def time_events_two_schedulers(ctx):
    """two instances scheduling on one database announce each occurrence exactly once"""
    with scheduler() as a, scheduler():
        w = World(a.port).build()
        seen = w.wait_all_due()
        # both keep scanning a while: wait until each has scanned after everything was announced
        marker = w.referral(w.partner())
        wait_until(lambda: ("referral.acknowledgement_overdue", marker["id"]) in w.announced(),
                   "a later referral is announced too")
        seen = w.announced()
    for d in set(seen):
        expect(seen.count(d) == 1, "%r announced %d times by two schedulers", d, seen.count(d))


@test
def time_events_crash_before_commit(ctx):
    """a scheduler killed (-9) between claiming an occurrence and committing it loses nothing and doubles nothing"""
    w = World(ctx.MAIN.port)
    ref = w.referral(w.partner())  # overdue for the schedulers three days ahead only
    # the tenant's feed counter held elsewhere: the scheduler claims, records the occurrence and waits
    # for it inside its transaction, i.e. between claim and commit
    holder = hold_lock("SELECT 1 FROM feed_counters WHERE tenant_id = '%s' FOR UPDATE" % w.tenant, 4)
    a = scheduler()
    wait_for_session("wait_event_type = 'Lock' AND query LIKE '%%INSERT INTO feed_counters%%'",
                     "the scheduler did not reach the feed append")
    a.stop(signal.SIGKILL)
    holder.wait(30)  # the holder commits when its time is up; the killed scheduler's transaction then fails
    expect(("referral.acknowledgement_overdue", ref["id"]) not in w.announced(), "committed by a killed scheduler")
    with scheduler():
        wait_until(lambda: ("referral.acknowledgement_overdue", ref["id"]) in w.announced(),
                   "the next scheduler announces what the killed one claimed", 30)
    seen = w.announced()
    expect(seen.count(("referral.acknowledgement_overdue", ref["id"])) == 1, "%r", seen)
    tl = w.c.get("/v1/referrals/%s/events" % ref["id"]).json["data"]
    expect([e["type"] for e in tl] == ["submitted", "acknowledgement_overdue"], "the timeline: %r", tl)


@test
def time_events_nothing_without_clock(ctx):
    """the real clock announces nothing that is not due yet"""
    w = World(ctx.MAIN.port)
    p = w.partner()
    w.agreement(p, ends_on=TODAY + datetime.timedelta(days=200))
    ref = w.referral(p)
    # a scheduler with the real clock has scanned after the referral existed once the marker (already
    # overdue, moved into the past as if time had passed) is announced
    marker = w.referral(p)
    psql("UPDATE referrals SET acknowledge_by = now() - interval '1 hour' WHERE id = '%s'" % marker["id"])
    with Server(ALLIED_TIME_EVENTS_MAX_SLEEP_MS="200"):
        wait_until(lambda: ("referral.acknowledgement_overdue", marker["id"]) in w.announced(), "the marker")
        seen = w.announced()
    expect(("referral.acknowledgement_overdue", ref["id"]) not in seen, "announced before its moment: %r", seen)
    expect(not any(t.startswith("agreement.") for t, _ in seen), "%r", seen)


@test
def test_clock_needs_test_mode(ctx):
    """the test clock is refused at start without ALLIED_TEST_MODE=1, with a one-line error"""
    lines = refused_at_start(ALLIED_TEST_CLOCK_OFFSET_S="60")
    expect(len(lines) == 1 and "ALLIED_TEST_CLOCK_OFFSET_S" in lines[0] and "ALLIED_TEST_MODE" in lines[0], "%r", lines)


@test
def partner_dormant_once_per_dry_spell(ctx):
    """partner.dormant counts from the partner's latest referral (kept in the referral's transaction), once per dry spell, by the tenant's threshold"""
    w = World(ctx.MAIN.port)
    expect_status(w.c.patch("/v1/settings", {"dormant_after_days": 2}), 200)
    p = w.partner("active")
    first = w.referral(p)
    at = psql("SELECT api_ts(last_referral_at) FROM partners WHERE id = '%s'" % p["id"])
    expect(at == first["created_at"], "last_referral_at %r, the referral %r", at, first["created_at"])
    # another tenant keeps the instance's default (60 days): its partner is not dormant three days ahead
    other = World(ctx.MAIN.port)
    quiet = other.partner("active")
    dormant = ("partner.dormant", p["id"])
    with scheduler():
        wait_until(lambda: dormant in w.announced(), "the partner's first dry spell")
        second = w.referral(p)  # a new referral, then a new dry spell: a new occurrence
        wait_until(lambda: w.announced().count(dormant) == 2, lambda: "a second dry spell: %r" % w.announced())
        marker = other.referral(other.partner())
        psql("UPDATE referrals SET acknowledge_by = now() - interval '1 hour' WHERE id = '%s'" % marker["id"])
        wait_until(lambda: ("referral.acknowledgement_overdue", marker["id"]) in other.announced(), "the marker")
    expect(w.announced().count(dormant) == 2, "%r", w.announced())
    expect(("partner.dormant", quiet["id"]) not in other.announced(), "announced before its threshold")
    keys = psql("SELECT string_agg(occurrence_key, ',' ORDER BY occurrence_key) FROM time_event_occurrences "
                "WHERE kind = 'partner.dormant' AND resource_id = '%s'" % p["id"])
    expect(keys == "%s,%s" % (first["created_at"], second["created_at"]), "occurrence keys %r", keys)


@test
def concurrent_referrals_one_partner(ctx):
    """concurrent referral creates for one partner all succeed and leave its last_referral_at at the latest"""
    w = World(ctx.MAIN.port)
    p = w.partner("active")

    def submit(i):
        return w.c.post("/v1/referrals", {"partner_id": p["id"], "direction": "inbound",
                                          "prospect": {"name": "P", "email": "c%d@conc%d.example" % (i, i)}})
    got = parallel(8, submit)
    for r in got:
        expect(not isinstance(r, Exception) and r.status == 201, "%r", r)
    latest = psql("SELECT max(created_at) = (SELECT last_referral_at FROM partners WHERE id = '%s') FROM referrals "
                  "WHERE partner_id = '%s'" % (p["id"], p["id"]))
    expect(latest == "t", "last_referral_at is not the latest referral's created_at")


@test
def time_events_thresholds_per_tenant_and_agreement(ctx):
    """agreement.expiring uses the tenant's days, referral.stalled the agreement's days, else the tenant's, else the instance's"""
    w = World(ctx.MAIN.port)
    s = w.c.patch("/v1/settings", {"agreement_expiring_days": 10, "stalled_after_days": 5})
    expect_status(s, 200)
    near = w.agreement(w.partner(), ends_on=TODAY + datetime.timedelta(days=12))
    far = w.agreement(w.partner(), ends_on=TODAY + datetime.timedelta(days=20))  # the instance's 30 would
    quick = w.partner()
    w.agreement(quick)
    tenant_days = w.referral(quick, "acknowledge", "engage")  # 5 days: not stalled three days ahead
    fast = w.partner()
    a = w.c.post("/v1/agreements", {"partner_id": fast["id"], "direction": "inbound", "starts_on": "2026-01-01",
                                    "stalled_after_days": 1, "terms": {"compensation": {"model": "percentage", "rate_bps": 1000}}})
    expect_status(a, 201)
    expect(a.json["stalled_after_days"] == 1, "%r", a.json)
    w.c.post("/v1/agreements/%s/sign" % a.json["id"], {"party": "vendor", "signer_name": "V"})
    expect_status(w.c.post("/v1/agreements/%s/sign" % a.json["id"], {"party": "partner", "signer_name": "P"}), 200)
    agreement_days = w.referral(fast, "acknowledge", "engage")
    with scheduler():
        w.due = [("agreement.expiring", near["id"]), ("referral.stalled", agreement_days["id"])]
        seen = w.wait_all_due()
    expect(("agreement.expiring", far["id"]) not in seen, "expiring by the instance's days: %r", seen)
    expect(("referral.stalled", tenant_days["id"]) not in seen, "stalled before the tenant's days: %r", seen)


@test
def settings_api(ctx):
    """GET/PATCH /v1/settings: the tenant's thresholds (null = the instance's, shown as defaults), admin only to change, bad values 400, stale If-Match 412, and the operator sees them"""
    tenant, key = new_tenant("settings")
    c = Client(ctx.MAIN.port, key)
    g = c.get("/v1/settings")
    expect_status(g, 200)
    expect(g.json["dormant_after_days"] is None and g.json["defaults"]["dormant_after_days"] == 60
           and g.json["defaults"]["agreement_expiring_days"] == 30 and g.json["defaults"]["stalled_after_days"] == 14, "%r", g.json)
    r = c.patch("/v1/settings", {"dormant_after_days": 45, "agreement_expiring_days": 0})
    expect_status(r, 200)
    expect(r.json["dormant_after_days"] == 45 and r.json["agreement_expiring_days"] == 0
           and r.json["stalled_after_days"] is None and r.json["version"] == g.json["version"] + 1, "%r", r.json)
    expect(r.h("etag") == '"%d"' % r.json["version"], "%r", r.headers)
    r = c.patch("/v1/settings", {"dormant_after_days": None}, headers={"If-Match": r.h("etag")})
    expect_status(r, 200)
    expect(r.json["dormant_after_days"] is None and r.json["agreement_expiring_days"] == 0, "%r", r.json)
    expect_problem(c.patch("/v1/settings", {"stalled_after_days": 7}, headers={"If-Match": '"1"'}), 412)
    for body, field in (({"dormant_after_days": 0}, "dormant_after_days"), ({"stalled_after_days": "3"}, "stalled_after_days"),
                        ({"agreement_expiring_days": 3651}, "agreement_expiring_days"), ({"colour": 1}, "colour"),
                        ({"version": 3}, "version"), ({}, "body")):
        expect_problem(c.patch("/v1/settings", body), 400, "validation-error", field)
    staff = c.post("/v1/api-keys", {"role": "staff", "name": "s"}).json["key"]
    expect_status(c.get("/v1/settings", key=staff), 200)
    expect_problem(c.patch("/v1/settings", {"dormant_after_days": 3}, key=staff), 403)
    p = c.post("/v1/partners", {"name": "P"}).json
    pk = c.post("/v1/api-keys", {"role": "partner", "partner_id": p["id"], "name": "p"}).json["key"]
    expect_problem(c.get("/v1/settings", key=pk), 403)
    op = cli("key", "create", "--role", "operator", "--name", "settings")["key"]
    t = Client(ctx.MAIN.port, op).get("/v1/tenants/" + tenant)
    expect_status(t, 200)
    expect(t.json["settings"] == {"agreement_expiring_days": 0, "stalled_after_days": None, "dormant_after_days": None},
           "%r", t.json)


@test
def agreement_stalled_after_days_field(ctx):
    """an agreement's stalled_after_days is set at create, changed by PATCH of a draft, null by default, and 1..3650"""
    w = World(ctx.MAIN.port)
    p = w.partner()
    body = {"partner_id": p["id"], "direction": "inbound", "starts_on": "2026-01-01",
            "terms": {"compensation": {"model": "percentage", "rate_bps": 1000}}}
    a = w.c.post("/v1/agreements", body)
    expect_status(a, 201)
    expect(a.json["stalled_after_days"] is None, "%r", a.json)
    r = w.c.patch("/v1/agreements/" + a.json["id"], {"stalled_after_days": 21})
    expect_status(r, 200)
    expect(r.json["stalled_after_days"] == 21, "%r", r.json)
    for v in (0, 3651, "7", 1.5):
        expect_problem(w.c.post("/v1/agreements", dict(body, stalled_after_days=v)), 400, "validation-error", "stalled_after_days")
        expect_problem(w.c.patch("/v1/agreements/" + a.json["id"], {"stalled_after_days": v}), 400, "validation-error",
                       "stalled_after_days")


@test
def time_events_at_the_moment(ctx):
    """a deadline is not announced by a scheduler two minutes short of it, and is by one just past it"""
    w = World(ctx.MAIN.port)
    expect_status(w.c.patch("/v1/settings", {"dormant_after_days": 1}), 200)
    p = w.partner("active")
    psql("UPDATE partners SET created_at = now() - interval '23 hours' WHERE id = '%s'" % p["id"])
    ref = w.referral(w.partner())
    psql("UPDATE referrals SET acknowledge_by = now() + interval '1 hour' WHERE id = '%s'" % ref["id"])
    due = [("referral.acknowledgement_overdue", ref["id"]), ("partner.dormant", p["id"])]  # both in ~1 h
    marker = w.referral(w.partner())
    psql("UPDATE referrals SET acknowledge_by = now() - interval '1 hour' WHERE id = '%s'" % marker["id"])
    old = w.partner("active")  # the markers are due already: once both are announced, both kinds were scanned
    psql("UPDATE partners SET created_at = now() - interval '25 hours' WHERE id = '%s'" % old["id"])
    markers = [("referral.acknowledgement_overdue", marker["id"]), ("partner.dormant", old["id"])]
    with scheduler(ALLIED_TEST_CLOCK_OFFSET_S="3480"):  # 58 minutes ahead: two minutes short
        wait_until(lambda: all(m in w.announced() for m in markers), "the markers")
    seen = w.announced()
    expect(not any(d in seen for d in due), "announced before the moment: %r", seen)
    with scheduler(ALLIED_TEST_CLOCK_OFFSET_S="3660"):  # one minute past it
        w.due = due
        seen = w.wait_all_due()
    for d in due:
        expect(seen.count(d) == 1, "%r announced %d times", d, seen.count(d))


@test
def time_events_drain_many(ctx):
    """more due than one batch (450 overdue referrals, two schedulers draining at once): each announced exactly once"""
    w = World(ctx.MAIN.port)
    p = w.partner()
    psql("INSERT INTO referrals (tenant_id, id, partner_id, direction, prospect, acknowledge_by) "
         "SELECT '%s', gen_random_uuid(), '%s', 'inbound', '{\"name\": \"P\"}', now() - g * interval '1 second' "
         "FROM generate_series(1, 450) g" % (w.tenant, p["id"]))
    count = ("SELECT count(*) FROM time_event_occurrences WHERE tenant_id = '%s' "
             "AND kind = 'referral.acknowledgement_overdue'" % w.tenant)
    with Server(ALLIED_TIME_EVENTS_MAX_SLEEP_MS="200"), Server(ALLIED_TIME_EVENTS_MAX_SLEEP_MS="200"):
        wait_until(lambda: psql(count) == "450", lambda: "announced %s of 450" % psql(count), 60)
    seen = [d for d in w.announced() if d[0] == "referral.acknowledgement_overdue"]
    expect(len(seen) == 450 and len(set(seen)) == 450, "%d events, %d distinct", len(seen), len(set(seen)))
