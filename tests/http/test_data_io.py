"""Data in and out: the whole-tenant export, its restore into an empty tenant, CSV and NDJSON imports."""
import json
import time
from lib import test, expect, expect_status, expect_problem, new_tenant, Client, Server, psql, tenant_client
from test_money import Money

NDJSON = "application/x-ndjson"


def lines(resp):
    expect_status(resp, 200)
    expect((resp.h("content-type") or "").startswith(NDJSON), "content type %r", resp.h("content-type"))
    return [json.loads(x) for x in resp.body.decode().splitlines() if x]


def upload(c, path, text, ctype="text/csv", **kw):
    data = text.encode() if isinstance(text, str) else text
    return c.req("POST", path, raw=data, ctype=ctype, **kw)


def count(sql):
    return int(psql(sql))


@test
def export_restore_roundtrip(ctx):
    """a tenant export restored into an empty tenant reproduces its partners, agreements, referrals, history, commissions, invoices and contacts (compared export to export)"""
    m = Money(ctx, "export A")
    a_id = psql("SELECT tenant_id FROM partners WHERE id = '%s'" % m.p["id"])
    m.agreement(m.p, {"model": "fixed", "amount": 700, "currency": "EUR"})
    won, paid, open_ = m.referral(m.p), m.referral(m.p), m.referral(m.p, name="Still open")
    m.win(won, 1)
    m.win(paid, 1)
    cp = m.commissions(paid)
    m.mature(cp)
    inv = m.invoice(m.p, cp).json
    m.c.post("/v1/invoices/%s/approve" % inv["id"])
    m.c.post("/v1/invoices/%s/pay" % inv["id"], {"reference": "T1"})
    expect_status(m.c.post("/v1/commissions/%s/reverse" % cp[0]["id"], {"reason": "chargeback"}), 200)
    expect_status(m.c.post("/v1/referrals/%s/engage" % open_["id"], {"stage": "demo"}), 200)
    expect_status(m.c.post("/v1/partners/%s/commitments" % m.q["id"],
                           {"direction": "inbound", "target_count": 3, "period_start": "2026-01-01",
                            "period_end": "2026-12-31"}), 201)
    expect_status(m.c.post("/v1/partners/%s/check-ins" % m.q["id"], {"held_on": "2026-02-01", "notes": "fine"}), 201)
    expect_status(m.c.post("/v1/partners/%s/contacts" % m.q["id"],
                           {"name": "Ada", "email": "ada@q.example", "notifications": ["invoice.paid"]}), 201)
    expect_status(m.c.post("/v1/notification-contacts", {"name": "Finance", "email": "finance@a.example",
                                                          "role": "finance", "digest": "daily"}), 201)
    hook = m.c.post("/v1/webhook-endpoints", {"url": "https://hooks.example.com/allied"})
    expect_status(hook, 201)
    secret = hook.json["secret"]

    a = m.c.get("/v1/export")
    a_lines = lines(a)
    types = {x["type"] for x in a_lines}
    expect(types >= {"partner", "agreement", "referral", "referral_event", "commission", "invoice", "invoice_line",
                     "commitment", "check_in", "contact", "webhook_endpoint", "api_key"}, "types %r", types)
    expect(all(set(x) == {"type", "data", "row"} for x in a_lines), "every line is {type, data, row}")
    expect(secret not in a.body.decode() and "secret_hash" not in a.body.decode() and
           a_id not in a.body.decode(), "no secret and no tenant id in the export")
    expect(psql("SELECT last_export_at IS NOT NULL FROM tenants WHERE id = '%s'" % a_id) == "t",
           "the export is stamped on the tenant")

    held = tenant_client("restore C, holding a contact")
    expect_status(held.post("/v1/notification-contacts", {"name": "Finance", "email": "finance@a.example"}), 201)
    expect_problem(upload(held, "/v1/imports/export", a.body, NDJSON), 409, "conflict")
    b = tenant_client("restore B")
    r = upload(b, "/v1/imports/export", a.body, NDJSON)
    expect(r.status == 201 and r.json["created"]["partner"] == 3 and r.json["created"]["referral"] == 3 and
           r.json["created"]["contact"] == 2 and r.json["skipped"]["api_key"] == 1, "%r", r)
    expect_problem(upload(b, "/v1/imports/export", a.body, NDJSON), 409, "conflict")
    b_lines = lines(b.get("/v1/export"))

    def comparable(ls):
        out = []
        for x in ls:
            if x["type"] == "api_key":
                continue
            if x["type"] == "webhook_endpoint":  # restored disabled, with a new secret and no owner key
                for d in (x["data"], x["row"]):
                    for k in ("enabled", "api_key_id", "has_previous_secret"):
                        d.pop(k, None)
            out.append(x)
        return out
    expect(comparable(a_lines) == comparable(b_lines), "exports differ:\n%s\n%s",
           [x for x in comparable(a_lines) if x not in comparable(b_lines)][:3],
           [x for x in comparable(b_lines) if x not in comparable(a_lines)][:3])
    # The restored tenant keeps working: history continues, invoice numbers continue.
    expect_status(b.post("/v1/referrals/%s/win" % open_["id"], {"deal": {"amount": 1, "currency": "EUR"}}), 200)
    events = b.get("/v1/referrals/%s/events" % open_["id"]).json["data"]
    expect([e["type"] for e in events][-1] == "won" and len({e["id"] for e in events}) == len(events), "%r", events)
    cw = b.get("/v1/commissions?referral_id=" + open_["id"]).json["data"]
    m.mature(cw)
    inv2 = b.post("/v1/invoices", {"partner_id": m.p["id"], "commission_ids": [c["id"] for c in cw]})
    expect(inv2.status == 201 and inv2.json["number"] > inv["number"], "numbering continues: %r", inv2)


@test
def restore_refuses_bad_input(ctx):
    """a restore takes only an export file: wrong type 415, empty 400, a bad line 400 naming it, nothing kept"""
    c = tenant_client("restore bad")
    expect_problem(upload(c, "/v1/imports/export", "x", "text/csv"), 415, "unsupported-media-type")
    expect_problem(upload(c, "/v1/imports/export", "", NDJSON), 400, "bad-request")
    good = '{"type":"partner","data":{},"row":{"id":"6f1f4f53-3c4b-4b0c-9d55-0d9d8bd0a6a1","name":"X","kind":"referral",' \
           '"status":"prospect","tags":[],"metadata":{},"version":1,"created_at":"2026-01-01T00:00:00Z",' \
           '"updated_at":"2026-01-01T00:00:00Z"}}'
    for bad, why in (("not json", "not JSON"), ('{"type":"spaceship","data":{},"row":{}}', "unknown type"),
                     ('{"type":"partner"}', "not an export line"),
                     ('{"type":"partner","data":{},"row":{"id":"x"}}', "invalid")):
        r = upload(c, "/v1/imports/export", good + "\n" + bad + "\n", NDJSON)
        expect_problem(r, 400, "bad-request")
        expect(r.json["line"] == 2 and why in r.json["detail"], "%r", r)
    expect(c.get("/v1/partners").json["data"] == [], "nothing was kept")
    r = upload(c, "/v1/imports/export", good + "\n" + good + "\n", NDJSON)
    expect_problem(r, 400, "bad-request")
    expect(r.json["line"] == 2, "the duplicate line is named: %r", r)
    expect_status(upload(c, "/v1/imports/export", good + "\n", NDJSON), 201)


@test
def export_is_the_callers_tenant_only(ctx):
    """an export holds only the caller's tenant, needs an admin key, and cannot name another tenant"""
    ta, ka = new_tenant("iso export A")
    tb, kb = new_tenant("iso export B")
    a, b = Client(ctx.MAIN.port, ka), Client(ctx.MAIN.port, kb)
    pa = a.post("/v1/partners", {"name": "Only A"}).json
    staff = a.post("/v1/api-keys", {"role": "staff"}).json["key"]
    b.post("/v1/partners", {"name": "Only B"})
    out = b.get("/v1/export")
    expect(pa["id"] not in out.body.decode() and ta not in out.body.decode(), "A's records are not in B's export")
    expect([x["data"]["name"] for x in lines(out) if x["type"] == "partner"] == ["Only B"], "only B's partner")
    expect_problem(b.get("/v1/export?tenant_id=" + ta), 400)
    expect_problem(a.get("/v1/export", key=staff), 403, "forbidden")
    expect_problem(Client(ctx.MAIN.port).get("/v1/export"), 401)


@test
def import_bad_inputs(ctx):
    """every bad import input is a 4xx problem: media type, query, empty body, header, quoting, rows"""
    c = tenant_client("import bad")
    P = "/v1/imports/partners"
    expect_problem(upload(c, P, "name\nA\n", "application/json"), 415, "unsupported-media-type")
    expect_problem(upload(c, P, "name\nA\n", None), 415, "unsupported-media-type")
    expect_problem(upload(c, P + "?dry_run=maybe", "name\nA\n"), 400, "validation-error", "dry_run")
    expect_problem(upload(c, P + "?mode=yolo", "name\nA\n"), 400, "validation-error", "mode")
    expect_problem(upload(c, P + "?color=red", "name\nA\n"), 400)
    expect_problem(upload(c, P, ""), 400, "bad-request")
    expect_problem(upload(c, P, "\n"), 400, "bad-request")
    r = upload(c, P, "name,favourite_colour\nA,red\n")
    expect_problem(r, 400, "bad-request")
    expect("favourite_colour" in r.json["detail"], "%r", r)
    expect_problem(upload(c, P, "name,name\nA,B\n"), 400, "bad-request")
    r = upload(c, P, "email\na@b.example\n")
    expect(r.status == 400 and '"name"' in r.json["detail"], "a missing required column: %r", r)
    for text, line in (('name\nA\n"B\n', 3), ('name\nA\nB"x"\n', 3), ('name\n"A"x\n', 2), ('"name\n', 1)):
        r = upload(c, P, text)
        expect_problem(r, 400, "bad-request")
        expect(r.json["line"] == line, "bad quoting names line %d: %r", line, r)
    r = upload(c, P, 'name,email,kind,tags\nGood,g@x.example,,\nBad mail,nope,,\n"Bad kind",,alien,\n'
                     'Too,many,fields,here,x\n' + "L" * 201 + ",,,\n")
    expect_problem(r, 422, "import-refused")
    j = r.json
    expect(j["rows"] == 5 and j["refused"] == 4 and j["created"] == 0, "%r", j)
    expect([(e["row"], e["field"]) for e in j["errors"]] ==
           [(2, "email"), (3, "kind"), (4, "row"), (5, "name")], "%r", j["errors"])
    expect(c.get("/v1/partners").json["data"] == [], "an atomic import with a refused row keeps nothing")
    nd = '{"name":"A"}\nnot json\n[1]\n{"name":"B","id":"x"}\n{"name":"C","shoe_size":9}\n'
    r = upload(c, P, nd, NDJSON)
    expect_problem(r, 422, "import-refused")
    expect([(e["row"], e["field"]) for e in r.json["errors"]] == [(2, "row"), (3, "row"), (4, "id"), (5, "shoe_size")],
           "%r", r.json)
    r = upload(c, P + "?mode=best_effort", nd, NDJSON)
    expect(r.status == 200 and r.json["created"] == 1 and r.json["refused"] == 4, "%r", r)
    staff = c.post("/v1/api-keys", {"role": "readonly"}).json["key"]
    expect_problem(upload(c, P, "name\nA\n", key=staff), 403, "forbidden")
    R = "/v1/imports/referrals"
    r = upload(c, R, "partner_id,direction,prospect.name\n%s,inbound,X\n" % "6f1f4f53-3c4b-4b0c-9d55-0d9d8bd0a6a1")
    expect_problem(r, 422, "import-refused")
    expect(r.json["errors"][0]["field"] == "partner_id" and r.json["errors"][0]["message"] == "no such partner", "%r", r)
    expect_problem(upload(c, R, "partner_id,prospect.name\nx,y\n"), 400, "bad-request")


@test
def import_body_limit(ctx):
    """an import body above ALLIED_IMPORT_MAX_BYTES is 413 while JSON bodies keep their own limit"""
    with Server(ALLIED_IMPORT_MAX_BYTES=4096, ALLIED_MAX_BODY_BYTES=2048) as s:
        c = tenant_client("import limit", s.port)
        body = "name\n" + "".join("P%d\n" % i for i in range(600))
        expect(2048 < len(body) < 4096, "the body sits between the two limits")
        expect_status(upload(c, "/v1/imports/partners", body), 200)
        expect_problem(c.post("/v1/partners", {"name": "x" * 3000}), 413, "body-too-large")
        big = "name\n" + "".join("P%d\n" % i for i in range(2000))
        expect_problem(upload(c, "/v1/imports/partners", big), 413, "body-too-large")


@test
def import_dry_run_and_update(ctx):
    """a dry run reports what would happen and changes nothing; a second import updates by external_id"""
    c = tenant_client("import dry")
    csv = 'name,email,external_id,tags,metadata\nAcme,a@acme.example,crm-1,"gold; eu","{""tier"":1}"\n"Beta, Inc.",,crm-2,,\n'
    r = upload(c, "/v1/imports/partners?dry_run=true", csv)
    expect(r.status == 200 and r.json["dry_run"] is True and r.json["created"] == 2, "%r", r)
    expect(c.get("/v1/partners").json["data"] == [], "a dry run changes nothing")
    r = upload(c, "/v1/imports/partners", csv)
    expect(r.status == 200 and r.json["created"] == 2 and r.json["updated"] == 0, "%r", r)
    ps = {p["external_id"]: p for p in c.get("/v1/partners").json["data"]}
    expect(ps["crm-1"]["tags"] == ["gold", "eu"] and ps["crm-1"]["metadata"] == {"tier": 1} and
           ps["crm-2"]["name"] == "Beta, Inc.", "%r", ps)
    r = upload(c, "/v1/imports/partners", csv.replace("Acme", "Acme Two"))
    expect(r.status == 200 and r.json["created"] == 0 and r.json["updated"] == 2 and
           r.json["results"][0] == {"row": 1, "action": "updated", "id": ps["crm-1"]["id"]}, "%r", r)
    expect(c.get("/v1/partners/" + ps["crm-1"]["id"]).json["name"] == "Acme Two", "updated by external_id")
    pid = ps["crm-1"]["id"]
    refs = "partner_id,direction,external_id,prospect.name,prospect.email\n%s,inbound,r-1,Pat,pat@client.example\n" \
           "%s,outbound,r-2,Sam,\n" % (pid, pid)
    r = upload(c, "/v1/imports/referrals?dry_run=true", refs)
    expect(r.status == 200 and r.json["created"] == 2, "%r", r)
    expect(c.get("/v1/referrals").json["data"] == [], "a dry run changes nothing")
    r = upload(c, "/v1/imports/referrals", refs)
    expect(r.status == 200 and r.json["created"] == 2, "%r", r)
    rs = {x["external_id"]: x for x in c.get("/v1/referrals").json["data"]}
    expect(rs["r-1"]["status"] == "submitted" and rs["r-1"]["prospect"]["email"] == "pat@client.example", "%r", rs)
    ev = c.get("/v1/referrals/%s/events" % rs["r-1"]["id"]).json["data"]
    expect([e["type"] for e in ev] == ["submitted"], "the timeline starts: %r", ev)
    nd = json.dumps({"partner_id": pid, "direction": "inbound", "external_id": "r-1", "prospect": {"name": "Pat Jr"}})
    r = upload(c, "/v1/imports/referrals", nd + "\n", NDJSON)
    expect(r.status == 200 and r.json["updated"] == 1, "%r", r)
    expect(c.get("/v1/referrals/" + rs["r-1"]["id"]).json["prospect"]["name"] == "Pat Jr", "updated by external_id")


@test
def import_hundred_thousand_rows(ctx):
    """a 100,000-row CSV with one bad row is refused whole naming that row; best_effort creates the other 99,999"""
    tid, k = new_tenant("import 100k")
    c = Client(ctx.MAIN.port, k)
    bad = 57123
    rows = ["name,email,external_id"]
    for i in range(1, 100001):
        rows.append("Partner %d,%s,ext-%d" % (i, "not-an-email" if i == bad else "p%d@bulk.example" % i, i))
    body = "\n".join(rows) + "\n"
    t0 = time.time()
    r = upload(c, "/v1/imports/partners", body)
    t1 = time.time()
    expect_problem(r, 422, "import-refused")
    expect(r.json["refused"] == 1 and r.json["errors"][0]["row"] == bad and "57123" in r.json["detail"], "%r", r)
    expect(count("SELECT count(*) FROM partners WHERE tenant_id = '%s'" % tid) == 0, "nothing was imported")
    r = upload(c, "/v1/imports/partners?mode=best_effort", body)
    t2 = time.time()
    expect(r.status == 200 and r.json["created"] == 99999 and r.json["refused"] == 1 and
           len(r.json["results"]) == 100 and r.json["errors"][0]["row"] == bad, "%r", r)
    expect(count("SELECT count(*) FROM partners WHERE tenant_id = '%s'" % tid) == 99999, "the rest was imported")
    print("    100k rows: refused in %.1fs, best_effort in %.1fs" % (t1 - t0, t2 - t1))


@test
def import_idempotency_key(ctx):
    """an import repeated with its Idempotency-Key is answered from the first run; another file under the same key is 422"""
    c = tenant_client("import idem")
    h = {"Idempotency-Key": "import-1"}
    first = upload(c, "/v1/imports/partners", "name\nOnce\n", headers=h)
    again = upload(c, "/v1/imports/partners", "name\nOnce\n", headers=h)
    expect(first.status == 200 and again.status == 200 and first.json == again.json, "%r %r", first, again)
    expect(len(c.get("/v1/partners").json["data"]) == 1, "imported once")
    expect_problem(upload(c, "/v1/imports/partners", "name\nTwice\n", headers=h), 422, "idempotency-key-reused")


@test
def import_csv_rfc4180(ctx):
    """a CSV with a byte-order mark, CRLF line ends and quoted commas, quotes and line breaks is read as RFC 4180; a NUL byte is refused"""
    c = tenant_client("import rfc4180")
    csv = '\ufeffname,ideal_client,external_id\r\n"Smith, ""Jo""","line one\r\nline two",q-1\r\n\r\nPlain,,q-2\r\n'
    r = upload(c, "/v1/imports/partners", csv)
    expect(r.status == 200 and r.json["created"] == 2 and r.json["rows"] == 2, "%r", r)
    ps = {p["external_id"]: p for p in c.get("/v1/partners").json["data"]}
    expect(ps["q-1"]["name"] == 'Smith, "Jo"' and ps["q-1"]["ideal_client"] == "line one\r\nline two", "%r", ps)
    r = upload(c, "/v1/imports/partners", b"name\nA\x00B\n")
    expect_problem(r, 422, "import-refused")
    expect(r.json["errors"][0]["field"] == "name" and "NUL" in r.json["errors"][0]["message"], "%r", r)
    r = upload(c, "/v1/imports/partners", b"name\n\xff\xfe\n")
    expect_problem(r, 422, "import-refused")
    expect("UTF-8" in r.json["errors"][0]["message"], "%r", r)
