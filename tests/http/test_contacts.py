"""Contacts: the people Allied notifies — a partner's contacts (/v1/partners/{id}/contacts) and the
tenant's own notification contacts (/v1/notification-contacts)."""
from lib import test, expect, expect_status, expect_problem, tenant_client, psql, Client

PARTNER_KINDS = ["referral.acknowledged", "referral.engaged", "referral.updated", "referral.won", "referral.lost",
                 "referral.declined", "commission.payable", "invoice.paid"]
TENANT_KINDS = ["referral.submitted", "referral.acknowledgement_overdue", "referral.stalled", "invoice.created",
                "invoice.overdue", "agreement.expiring", "commitment.at_risk"]
NOBODY = "00000000-0000-4000-8000-000000000000"


class Setup:
    """A tenant with partners P and Q, a key bound to P, a readonly key, and another tenant."""

    def __init__(self, name):
        self.c = tenant_client("contacts " + name)
        self.p = self.c.post("/v1/partners", {"name": "P"}).json
        self.q = self.c.post("/v1/partners", {"name": "Q"}).json
        self.pkey = self.c.post("/v1/api-keys", {"role": "partner", "partner_id": self.p["id"]}).json["key"]
        self.ro = self.c.post("/v1/api-keys", {"role": "readonly"}).json["key"]
        self.other = tenant_client("contacts other " + name)

    def under(self, partner, tail=""):
        return "/v1/partners/%s/contacts%s" % (partner["id"], tail)


@test
def partner_contacts_crud(ctx):
    """a partner's contacts are created with defaults (every partner kind), listed, read, changed with If-Match and deleted"""
    s = Setup("crud")
    c = s.c
    r = c.post(s.under(s.p), {"name": "Ada", "email": "ada@partner.example"})
    expect_status(r, 201)
    ada = r.json
    expect(r.h("location") == s.under(s.p, "/" + ada["id"]) and r.h("etag") == '"1"', "%r", r)
    expect(ada["partner_id"] == s.p["id"] and ada["role"] == "primary" and ada["digest"] == "off" and
           ada["notifications"] == PARTNER_KINDS and ada["version"] == 1 and
           set(ada) == {"id", "partner_id", "name", "email", "role", "notifications", "digest", "version",
                        "created_at", "updated_at"}, "%r", ada)
    bob = c.post(s.under(s.p), {"name": "Bob", "email": "bob@partner.example", "role": "billing",
                                "notifications": ["invoice.paid", "commission.payable"], "digest": "daily"})
    expect(bob.status == 201 and bob.json["notifications"] == ["invoice.paid", "commission.payable"] and
           bob.json["digest"] == "daily" and bob.json["role"] == "billing", "%r", bob)
    none = c.post(s.under(s.p), {"name": "Quiet", "email": "quiet@partner.example", "notifications": []})
    expect(none.status == 201 and none.json["notifications"] == [], "an empty list asks for nothing: %r", none)
    lst = c.get(s.under(s.p))
    expect(lst.status == 200 and [x["id"] for x in lst.json["data"]] == [ada["id"], bob.json["id"], none.json["id"]],
           "%r", lst)
    page = c.get(s.under(s.p, "?limit=2"))
    expect(len(page.json["data"]) == 2 and page.json["next_cursor"], "%r", page)
    rest = c.get(s.under(s.p, "?limit=2&cursor=" + page.json["next_cursor"]))
    expect([x["id"] for x in rest.json["data"]] == [none.json["id"]], "%r", rest)
    expect([x["id"] for x in c.get(s.under(s.p, "?role=billing")).json["data"]] == [bob.json["id"]], "role filter")
    expect(c.get(s.under(s.q)).json["data"] == [], "Q has none")
    g = c.get(s.under(s.p, "/" + ada["id"]))
    expect(g.status == 200 and g.json == ada and g.h("etag") == '"1"', "%r", g)
    u = c.patch(s.under(s.p, "/" + ada["id"]), {"name": "Ada L.", "notifications": ["referral.won"]},
                headers={"If-Match": '"1"'})
    expect(u.status == 200 and u.json["version"] == 2 and u.json["name"] == "Ada L." and
           u.json["email"] == ada["email"] and u.json["notifications"] == ["referral.won"], "%r", u)
    expect_problem(c.patch(s.under(s.p, "/" + ada["id"]), {"name": "X"}, headers={"If-Match": '"1"'}), 412,
                   "stale-version")
    expect_problem(c.delete(s.under(s.p, "/" + ada["id"]), headers={"If-Match": '"1"'}), 412, "stale-version")
    expect_status(c.delete(s.under(s.p, "/" + ada["id"]), headers={"If-Match": '"2"'}), 204)
    expect_problem(c.get(s.under(s.p, "/" + ada["id"])), 404, "not-found")
    expect_problem(c.delete(s.under(s.p, "/" + ada["id"])), 404, "not-found")
    expect_problem(c.get(s.under(s.q, "/" + bob.json["id"])), 404, "not-found")  # under the wrong partner
    audited = psql("SELECT count(*) FROM audit_events WHERE route LIKE '/v1/partners/{id}/contacts%%' "
                   "AND status < 300 AND resource_id IN ('%s', '%s')" % (ada["id"], s.p["id"]))
    expect(int(audited) >= 3, "create, update and delete are audited: %s", audited)


@test
def tenant_contacts_crud(ctx):
    """the tenant's notification contacts are created with every tenant kind by default, listed, read, changed and deleted"""
    s = Setup("tenant crud")
    c = s.c
    r = c.post("/v1/notification-contacts", {"name": "Sales owner", "email": "Sales@Tenant.example", "role": "sales"})
    expect_status(r, 201)
    t = r.json
    expect(r.h("location") == "/v1/notification-contacts/" + t["id"] and t["partner_id"] is None and
           t["notifications"] == TENANT_KINDS and t["email"] == "Sales@Tenant.example", "%r", r)
    f = c.post("/v1/notification-contacts", {"name": "Finance", "email": "finance@tenant.example", "role": "finance",
                                             "notifications": ["invoice.created", "invoice.overdue"]}).json
    expect([x["id"] for x in c.get("/v1/notification-contacts").json["data"]] == [t["id"], f["id"]], "list")
    expect([x["id"] for x in c.get("/v1/notification-contacts?role=finance").json["data"]] == [f["id"]], "filter")
    expect(c.get(s.under(s.p)).json["data"] == [], "the tenant's contacts are not a partner's")
    expect_problem(c.get(s.under(s.p, "/" + t["id"])), 404, "not-found")
    expect_problem(c.get("/v1/notification-contacts/" + c.post(s.under(s.p), {"name": "A", "email": "a@p.example"}).json["id"]),
                   404, "not-found")
    g = c.get("/v1/notification-contacts/" + t["id"])
    expect(g.status == 200 and g.json == t, "%r", g)
    u = c.patch("/v1/notification-contacts/" + t["id"], {"digest": "daily", "role": "owner"})
    expect(u.status == 200 and u.json["digest"] == "daily" and u.json["role"] == "owner" and u.json["version"] == 2 and
           u.h("etag") == '"2"', "%r", u)
    expect_problem(c.patch("/v1/notification-contacts/" + t["id"], {"digest": "off"}, headers={"If-Match": '"1"'}),
                   412, "stale-version")
    expect_status(c.delete("/v1/notification-contacts/" + t["id"]), 204)
    expect_problem(c.get("/v1/notification-contacts/" + t["id"]), 404, "not-found")
    ro = c.get("/v1/notification-contacts", key=s.ro)
    expect(ro.status == 200 and [x["id"] for x in ro.json["data"]] == [f["id"]], "readonly reads: %r", ro)
    expect_status(c.get("/v1/notification-contacts/" + f["id"], key=s.ro), 200)


@test
def contacts_refuse_bad_input(ctx):
    """contacts refuse malformed JSON, wrong types, unknown and read-only fields, bad e-mails, unknown or other-side kinds, repeats and empty patches (400)"""
    s = Setup("bad input")
    c = s.c
    for path in (s.under(s.p), "/v1/notification-contacts"):
        expect_problem(c.req("POST", path, raw=b'{"name": "A",'), 400, "malformed-json")
        expect_problem(c.req("POST", path, raw=b'["x"]'), 400, "malformed-json")
        expect_problem(c.req("POST", path, raw=b'{"name": "A"}', ctype="text/plain"), 415, "unsupported-media-type")
        expect_problem(c.post(path, {}), 400, "validation-error", "name")
        expect_problem(c.post(path, {"name": "A"}), 400, "validation-error", "email")
        for bad in ({"name": 7, "email": "a@b.example"}, {"name": "", "email": "a@b.example"}):
            expect_problem(c.post(path, bad), 400, "validation-error", "name")
        for body, field in (({"role": "boss"}, "role"), ({"digest": "weekly"}, "digest"), ({"digest": None}, "digest"),
                            ({"colour": "red"}, "colour"), ({"id": NOBODY}, "id"), ({"partner_id": s.q["id"]}, "partner_id"),
                            ({"version": 3}, "version"), ({"notifications": "referral.won"}, "notifications"),
                            ({"notifications": [1]}, "notifications"), ({"notifications": None}, "notifications"),
                            ({"notifications": ["nope"]}, "notifications"),
                            ({"notifications": ["x"] * 33}, "notifications")):
            expect_problem(c.post(path, dict({"name": "A", "email": "a@b.example"}, **body)), 400, "validation-error", field)
        for email in ("a", "a@b", "@b.example", "a@@b.example", "a b@c.example", "a@b..example", "a@.b.example",
                      "a@b.example.", "<a@b.example>", "a,b@c.example", "\"a\"@b.example", "a@b_c.example",
                      "a@1.2.3.4", "a@b.example\r\nBcc: x@y.example", "a" * 65 + "@b.example", 42, None):
            r = c.post(path, {"name": "A", "email": email})
            expect_problem(r, 400, "validation-error", "email")
        expect(c.get(path).json["data"] == [], "nothing was created at %s", path)
    r = c.post(s.under(s.p), {"name": "A", "email": "a@b.example", "notifications": ["referral.won", "referral.won"]})
    expect_problem(r, 400, "validation-error", "notifications")
    expect(r.json["errors"][0]["message"] == "items must be distinct", "%r", r.json)
    r = c.post(s.under(s.p), {"name": "A", "email": "a@b.example", "notifications": ["referral.submitted"]})
    expect_problem(r, 400, "validation-error", "notifications")
    expect("not a partner's" in r.json["errors"][0]["message"], "a tenant kind on a partner's contact: %r", r.json)
    r = c.post("/v1/notification-contacts", {"name": "A", "email": "a@b.example", "notifications": ["referral.won"]})
    expect_problem(r, 400, "validation-error", "notifications")
    expect("not the tenant's" in r.json["errors"][0]["message"], "a partner kind on the tenant's contact: %r", r.json)
    r = c.post("/v1/notification-contacts", {"name": "A", "email": "a@b.example", "notifications": ["\u00e9" * 300]})
    expect(r.json["errors"][0]["message"] == "item 0 is not a notification kind", "%r", r.json)
    ok = c.post("/v1/notification-contacts", {"name": "A", "email": "a@b.example"}).json
    pc = c.post(s.under(s.p), {"name": "A", "email": "a@b.example"}).json
    for path in ("/v1/notification-contacts/" + ok["id"], s.under(s.p, "/" + pc["id"])):
        expect_problem(c.patch(path, {}), 400, "validation-error", "body")
        expect_problem(c.patch(path, {"email": "nope"}), 400, "validation-error", "email")
        expect_problem(c.patch(path, {"name": None}), 400, "validation-error", "name")
        expect_problem(c.patch(path, {"created_at": "2026-01-01T00:00:00Z"}), 400, "validation-error", "created_at")
        expect_problem(c.patch(path, {"name": "B"}, headers={"If-Match": "one"}), 400)
        expect_problem(c.patch(path, {"name": "B"}, headers={"If-Match": '"9"'}), 412, "stale-version")
        expect_problem(c.delete(path, headers={"If-Match": '"9"'}), 412, "stale-version")
    expect_problem(c.patch("/v1/notification-contacts/" + ok["id"], {"notifications": ["invoice.paid"]}), 400,
                   "validation-error", "notifications")
    expect_problem(c.patch(s.under(s.p, "/" + pc["id"]), {"notifications": ["invoice.created"]}), 400,
                   "validation-error", "notifications")
    expect(c.get("/v1/notification-contacts/" + ok["id"]).json["version"] == 1, "refused patches change nothing")
    expect_problem(c.get(s.under(s.p, "?colour=red")), 400, "validation-error")
    expect_problem(c.get(s.under(s.p, "?role=boss")), 400, "validation-error", "role")
    expect_problem(c.get("/v1/notification-contacts?limit=0"), 400, "validation-error", "limit")
    expect_problem(c.get("/v1/notification-contacts?cursor=junk"), 400)


@test
def contacts_bad_ids_and_other_tenants(ctx):
    """contact paths refuse ids that are not UUIDs (400) and answer 404 for unknown ids and another tenant's partners and contacts"""
    s = Setup("ids")
    c, o = s.c, s.other
    pc = c.post(s.under(s.p), {"name": "A", "email": "a@p.example"}).json
    tc = c.post("/v1/notification-contacts", {"name": "T", "email": "t@t.example"}).json
    expect_problem(c.get("/v1/partners/nope/contacts"), 400, "validation-error", "id")
    expect_problem(c.post("/v1/partners/nope/contacts", {"name": "A", "email": "a@b.example"}), 400, "validation-error", "id")
    expect_problem(c.get(s.under(s.p, "/nope")), 400, "validation-error", "contact_id")
    expect_problem(c.patch(s.under(s.p, "/nope"), {"name": "B"}), 400, "validation-error", "contact_id")
    expect_problem(c.delete(s.under(s.p, "/nope")), 400, "validation-error", "contact_id")
    expect_problem(c.get("/v1/notification-contacts/nope"), 400, "validation-error", "id")
    expect_problem(c.patch("/v1/notification-contacts/nope", {"name": "B"}), 400, "validation-error", "id")
    expect_problem(c.delete("/v1/notification-contacts/nope"), 400, "validation-error", "id")
    expect_problem(c.get("/v1/partners/%s/contacts" % NOBODY), 404, "not-found")
    expect_problem(c.post("/v1/partners/%s/contacts" % NOBODY, {"name": "A", "email": "a@b.example"}), 404, "not-found")
    expect_problem(c.get(s.under(s.p, "/" + NOBODY)), 404, "not-found")
    expect_problem(c.patch(s.under(s.p, "/" + NOBODY), {"name": "B"}), 404, "not-found")
    expect_problem(c.get("/v1/notification-contacts/" + NOBODY), 404, "not-found")
    expect_problem(c.patch("/v1/notification-contacts/" + NOBODY, {"name": "B"}), 404, "not-found")
    expect_problem(c.delete("/v1/notification-contacts/" + NOBODY), 404, "not-found")
    # another tenant sees none of it
    expect_problem(o.get(s.under(s.p)), 404, "not-found")
    expect_problem(o.post(s.under(s.p), {"name": "X", "email": "x@x.example"}), 404, "not-found")
    expect_problem(o.get(s.under(s.p, "/" + pc["id"])), 404, "not-found")
    expect_problem(o.patch(s.under(s.p, "/" + pc["id"]), {"name": "X"}), 404, "not-found")
    expect_problem(o.delete(s.under(s.p, "/" + pc["id"])), 404, "not-found")
    expect_problem(o.get("/v1/notification-contacts/" + tc["id"]), 404, "not-found")
    expect_problem(o.patch("/v1/notification-contacts/" + tc["id"], {"name": "X"}), 404, "not-found")
    expect_problem(o.delete("/v1/notification-contacts/" + tc["id"]), 404, "not-found")
    expect(o.get("/v1/notification-contacts").json["data"] == [], "another tenant's list is its own")
    expect(c.get(s.under(s.p, "/" + pc["id"])).json["version"] == 1 and
           c.get("/v1/notification-contacts/" + tc["id"]).json["version"] == 1, "nothing changed")


@test
def contacts_by_key_role(ctx):
    """a partner key manages its own partner's contacts only (another's 404, the tenant's 403); readonly keys read and cannot write (403)"""
    s = Setup("roles")
    c = s.c
    qc = c.post(s.under(s.q), {"name": "Q1", "email": "q1@q.example"}).json
    tc = c.post("/v1/notification-contacts", {"name": "T", "email": "t@t.example"}).json
    k = s.pkey
    mine = c.post(s.under(s.p), {"name": "Me", "email": "me@p.example", "notifications": ["referral.won"]}, key=k)
    expect_status(mine, 201)
    mid = mine.json["id"]
    expect([x["id"] for x in c.get(s.under(s.p), key=k).json["data"]] == [mid], "lists its own")
    expect_status(c.get(s.under(s.p, "/" + mid), key=k), 200)
    expect_status(c.patch(s.under(s.p, "/" + mid), {"digest": "daily"}, key=k), 200)
    expect_problem(c.get(s.under(s.q), key=k), 404, "not-found")
    expect_problem(c.post(s.under(s.q), {"name": "X", "email": "x@x.example"}, key=k), 404, "not-found")
    expect_problem(c.get(s.under(s.q, "/" + qc["id"]), key=k), 404, "not-found")
    expect_problem(c.patch(s.under(s.q, "/" + qc["id"]), {"name": "X"}, key=k), 404, "not-found")
    expect_problem(c.delete(s.under(s.q, "/" + qc["id"]), key=k), 404, "not-found")
    expect_problem(c.get(s.under(s.p, "/" + qc["id"]), key=k), 404, "not-found")  # Q's contact under P's path
    for r in (c.get("/v1/notification-contacts", key=k), c.get("/v1/notification-contacts/" + tc["id"], key=k),
              c.post("/v1/notification-contacts", {"name": "X", "email": "x@x.example"}, key=k),
              c.patch("/v1/notification-contacts/" + tc["id"], {"name": "X"}, key=k),
              c.delete("/v1/notification-contacts/" + tc["id"], key=k)):
        expect_problem(r, 403, "forbidden")
    expect_status(c.delete(s.under(s.p, "/" + mid), key=k), 204)
    ro = s.ro
    expect_status(c.get(s.under(s.q), key=ro), 200)
    expect_status(c.get(s.under(s.q, "/" + qc["id"]), key=ro), 200)
    for r in (c.post(s.under(s.q), {"name": "X", "email": "x@x.example"}, key=ro),
              c.patch(s.under(s.q, "/" + qc["id"]), {"name": "X"}, key=ro),
              c.delete(s.under(s.q, "/" + qc["id"]), key=ro),
              c.post("/v1/notification-contacts", {"name": "X", "email": "x@x.example"}, key=ro),
              c.patch("/v1/notification-contacts/" + tc["id"], {"name": "X"}, key=ro),
              c.delete("/v1/notification-contacts/" + tc["id"], key=ro)):
        expect_problem(r, 403, "forbidden")
    staff = c.post("/v1/api-keys", {"role": "staff"}).json["key"]
    expect_status(c.patch("/v1/notification-contacts/" + tc["id"], {"name": "T2"}, key=staff), 200)
    expect_status(c.patch(s.under(s.q, "/" + qc["id"]), {"name": "Q2"}, key=staff), 200)


@test
def contacts_one_address_once(ctx):
    """an e-mail address is one contact per partner and one among the tenant's own, in any case (409), and may repeat across them"""
    s = Setup("once")
    c = s.c
    expect_status(c.post(s.under(s.p), {"name": "A", "email": "Ada@Example.com"}), 201)
    r = c.post(s.under(s.p), {"name": "A again", "email": "ada@example.COM"})
    expect_problem(r, 409, "conflict")
    expect("already one of this partner's contacts" in r.json["detail"], "%r", r.json)
    expect_status(c.post(s.under(s.q), {"name": "A at Q", "email": "ada@example.com"}), 201)
    expect_status(c.post("/v1/notification-contacts", {"name": "A here", "email": "ada@example.com"}), 201)
    r = c.post("/v1/notification-contacts", {"name": "A twice", "email": "ADA@example.com"})
    expect_problem(r, 409, "conflict")
    expect("the tenant's notification contacts" in r.json["detail"], "%r", r.json)
    expect_status(s.other.post("/v1/notification-contacts", {"name": "A elsewhere", "email": "ada@example.com"}), 201)
    b = c.post(s.under(s.p), {"name": "B", "email": "b@example.com"}).json
    expect_problem(c.patch(s.under(s.p, "/" + b["id"]), {"email": "ADA@example.com"}), 409, "conflict")
    expect(c.get(s.under(s.p, "/" + b["id"])).json["email"] == "b@example.com", "unchanged")
    expect(len(c.get(s.under(s.p)).json["data"]) == 2, "no second Ada at P")


@test
def contacts_go_with_their_partner(ctx):
    """deleting a partner removes its contacts and leaves the tenant's own"""
    s = Setup("cascade")
    c = s.c
    gone = c.post("/v1/partners", {"name": "Gone"}).json
    pc = c.post(s.under(gone), {"name": "A", "email": "a@gone.example"}).json
    tc = c.post("/v1/notification-contacts", {"name": "T", "email": "t@t.example"}).json
    expect_status(c.delete("/v1/partners/" + gone["id"]), 204)
    expect(psql("SELECT count(*) FROM contacts WHERE id = '%s'" % pc["id"]) == "0", "the partner's contact is gone")
    expect_status(c.get("/v1/notification-contacts/" + tc["id"]), 200)


@test
def contacts_count_against_rows_limit(ctx):
    """contacts count against the operator's rows limit (409 tenant-limit naming rows) and appear in the usage report's rows"""
    from test_operator import operator, new_via_api
    op, _ = operator(ctx.MAIN.port, "contacts ops")
    t = new_via_api(op, "Contacts limited", limits={"rows": 2})
    c = Client(ctx.MAIN.port, t["api_key"]["key"])
    p = c.post("/v1/partners", {"name": "P"}).json
    expect_status(c.post("/v1/partners/%s/contacts" % p["id"], {"name": "A", "email": "a@p.example"}), 201)
    for r in (c.post("/v1/partners/%s/contacts" % p["id"], {"name": "B", "email": "b@p.example"}),
              c.post("/v1/notification-contacts", {"name": "T", "email": "t@t.example"})):
        expect_problem(r, 409, "tenant-limit")
        expect(r.json["limit"] == "rows", "%r", r.json)
    usage = op.get("/v1/tenants/%s/usage" % t["id"])
    expect(usage.status == 200 and usage.json["rows"]["contacts"] == 1 and usage.json["rows_total"] == 2, "%r", usage)
