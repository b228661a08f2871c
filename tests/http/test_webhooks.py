"""Webhooks: a real receiver on loopback; signatures checked by our verifier and by the
standardwebhooks npm package; retries, 410, hangs, crashes, two dispatchers, SSRF refusals."""
import base64
import hashlib
import hmac
import json
import os
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from lib import test, expect, expect_status, expect_problem, new_tenant, wait_until, Client, Server, psql

FAST = {"ALLIED_WEBHOOK_WORKERS": 1, "ALLIED_WEBHOOK_ALLOW_PRIVATE": 1, "ALLIED_WEBHOOK_RETRY_SCALE": 1,
        "ALLIED_WEBHOOK_TIMEOUT_MS": 2000}


class Receiver:
    """Records every POST; behaviour per path: /ok, /fail/N (N failures then 200), /gone (410),
    /hang (sleeps past the timeout), /slow (1.5 s then 200), /busy (429 Retry-After: 1 once)."""
    def __init__(self):
        self.calls = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                with receiver.lock:
                    receiver.calls.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                           "body": body, "at": time.time()})
                    seen = sum(1 for c in receiver.calls if c["path"] == self.path and
                               c["headers"]["webhook-id"] == self.headers["webhook-id"])
                code, extra = 200, {}
                if self.path.startswith("/fail/") and seen <= int(self.path.split("/")[2]):
                    code = 500
                elif self.path == "/gone":
                    code = 410
                elif self.path == "/hang":
                    time.sleep(5)  # the subject: a receiver slower than the dispatcher's timeout
                elif self.path == "/slow":
                    time.sleep(1.5)  # the subject: deliveries still in flight when the server is killed
                elif self.path == "/busy" and seen == 1:
                    code, extra = 429, {"Retry-After": "1"}
                try:
                    self.send_response(code)
                    for k, v in extra.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass
        class Server(ThreadingHTTPServer):
            request_queue_size = 256  # dispatchers open many connections at once; do not drop SYNs
            daemon_threads = True

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def on(self, path):
        with self.lock:
            return [c for c in self.calls if c["path"] == path]

    def wait(self, path, n, timeout=20):
        """Waits until `path` has had at least n calls; returns them."""
        return wait_until(lambda: len(self.on(path)) >= n and self.on(path),
                          lambda: "%s: got %d of %d calls" % (path, len(self.on(path)), n), timeout)

    def close(self):
        self.httpd.shutdown()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def verify(secret, call):
    """Our own Standard Webhooks verifier."""
    h = call["headers"]
    key = base64.b64decode(secret.split("_", 1)[1])
    msg = ("%s.%s.%s" % (h["webhook-id"], h["webhook-timestamp"], call["body"])).encode()
    want = base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(s.split(",", 1)[1], want) for s in h["webhook-signature"].split(" "))


def node_verify(items):
    d = os.path.join(os.path.dirname(__file__), "..", "webhooks")
    if not os.path.isdir(os.path.join(d, "node_modules", "standardwebhooks")):
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent"], cwd=d, check=True,
                       capture_output=True, timeout=300, stdin=subprocess.DEVNULL)
    out = subprocess.run(["node", "verify.js"], cwd=d, input=json.dumps(items), capture_output=True, text=True, timeout=60)
    return out.stdout.split("\n")[:len(items)]


def deliveries(c, ep):
    return c.get("/v1/webhook-endpoints/%s/deliveries" % ep["id"]).json["data"]


def wait_deliveries(c, ep, done, why, timeout=10):
    """Waits until done(the endpoint's deliveries) is true for a non-empty list; returns the list."""
    seen = []

    def check():
        seen[:] = deliveries(c, ep)
        return bool(seen) and bool(done(seen)) and list(seen)
    return wait_until(check, lambda: "%s: %r" % (why, seen), timeout)


def setup(srv, name="webhooks"):
    c = Client(srv.port, new_tenant(name)[1])
    p = c.post("/v1/partners", {"name": "Pia"}).json
    return c, p


def endpoint(c, url, events=None, client=None):
    body = {"url": url}
    if events:
        body["events"] = events
    r = (client or c).post("/v1/webhook-endpoints", body)
    expect_status(r, 201)
    return r.json


def drive_everything(c, p):
    """Produces every event type at least once."""
    a = c.post("/v1/agreements", {"partner_id": p["id"], "direction": "inbound", "starts_on": "2026-01-01",
                                  "terms": {"compensation": {"model": "fixed", "amount": 1000, "currency": "EUR"}}}).json
    c.patch("/v1/agreements/" + a["id"], {"auto_renew": True})
    c.post("/v1/agreements/%s/sign" % a["id"], {"party": "vendor", "signer_name": "V"})
    c.post("/v1/agreements/%s/sign" % a["id"], {"party": "partner", "signer_name": "P"})
    c.post("/v1/agreements/%s/suspend" % a["id"])
    c.post("/v1/agreements/%s/resume" % a["id"])
    new = c.post("/v1/agreements/%s/amend" % a["id"]).json
    c.post("/v1/agreements/%s/sign" % new["id"], {"party": "vendor", "signer_name": "V"})
    c.post("/v1/agreements/%s/sign" % new["id"], {"party": "partner", "signer_name": "P"})
    refs = [c.post("/v1/referrals", {"partner_id": p["id"], "direction": "inbound",
                                     "prospect": {"name": "R%d" % i, "email": "r@wh%d-%d.example" % (os.getpid(), i)}}).json
            for i in range(5)]
    r0, r1, r2, r3, r4 = refs
    c.patch("/v1/referrals/" + r0["id"], {"external_id": "wh-%d" % os.getpid()})
    for r in (r0, r1, r2):
        c.post("/v1/referrals/%s/acknowledge" % r["id"])
    c.post("/v1/referrals/%s/engage" % r0["id"])
    c.post("/v1/referrals/%s/update" % r0["id"], {"note": "demo"})
    c.post("/v1/referrals/%s/win" % r0["id"], {"deal": {"amount": 1, "currency": "EUR"}})
    c.post("/v1/referrals/%s/win" % r2["id"], {"deal": {"amount": 1, "currency": "EUR"}})
    c.post("/v1/referrals/%s/lose" % r1["id"], {"reason": "budget"})
    c.post("/v1/referrals/%s/decline" % r3["id"], {"reason": "other"})
    c.post("/v1/referrals/%s/withdraw" % r4["id"])
    cs = c.get("/v1/commissions?partner_id=" + p["id"]).json["data"]
    inv = c.post("/v1/invoices", {"partner_id": p["id"], "commission_ids": [cs[0]["id"]]}).json
    c.post("/v1/invoices/%s/approve" % inv["id"])
    c.post("/v1/invoices/%s/pay" % inv["id"], {"reference": "T"})
    c.post("/v1/commissions/%s/reverse" % cs[0]["id"], {"reason": "refund"})
    c.post("/v1/commissions/%s/reverse" % cs[1]["id"], {"reason": "refund"})
    inv2 = c.post("/v1/invoices", {"partner_id": p["id"], "commission_ids": [cs[0]["id"]]}).json
    del inv2
    b = c.post("/v1/agreements", {"partner_id": p["id"], "direction": "outbound", "starts_on": "2026-01-01",
                                  "terms": {"compensation": {"model": "none"}}}).json
    c.post("/v1/agreements/%s/sign" % b["id"], {"party": "vendor", "signer_name": "V"})
    c.post("/v1/agreements/%s/sign" % b["id"], {"party": "partner", "signer_name": "P"})
    c.post("/v1/agreements/%s/terminate" % b["id"], {"reason": "done"})
    ref = c.post("/v1/referrals", {"partner_id": p["id"], "direction": "inbound", "prospect": {"name": "Inv"}}).json
    c.post("/v1/referrals/%s/acknowledge" % ref["id"])
    c.post("/v1/referrals/%s/win" % ref["id"], {"deal": {"amount": 1, "currency": "EUR"}})
    more = [x for x in c.get("/v1/commissions?status=payable&partner_id=" + p["id"]).json["data"] if x["type"] == "commission"]
    i3 = c.post("/v1/invoices", {"partner_id": p["id"], "commission_ids": [more[0]["id"]]}).json
    c.post("/v1/invoices/%s/reject" % i3["id"], {"reason": "x"})
    i4 = c.post("/v1/invoices", {"partner_id": p["id"], "commission_ids": [more[0]["id"]]}).json
    c.post("/v1/invoices/%s/void" % i4["id"])


ALL_TYPES = {"agreement.created", "agreement.updated", "agreement.signed", "agreement.activated", "agreement.suspended",
             "agreement.resumed", "agreement.terminated", "agreement.superseded", "referral.submitted",
             "referral.acknowledged", "referral.engaged", "referral.updated", "referral.won", "referral.lost",
             "referral.declined", "referral.withdrawn", "referral.edited", "commission.created", "commission.reversed",
             "commission.clawed_back", "invoice.created", "invoice.approved", "invoice.paid", "invoice.rejected",
             "invoice.void"}


@test
def every_event_arrives_signed(ctx):
    """every event type arrives, signed so that our verifier and the standardwebhooks package both accept it"""
    with Receiver() as rx, Server(**FAST) as srv:
        c, p = setup(srv)
        ep = endpoint(c, rx.url("/ok"))
        expect(ep["secret"].startswith("whsec_") and ep["events"] == ["*"] and ep["enabled"], "%r", ep)
        expect("secret" not in c.get("/v1/webhook-endpoints/" + ep["id"]).json, "secret shown again")
        drive_everything(c, p)
        # the schedulers may still append time-based events (a commission payable at once is
        # `commission.payable`): the feed is read again until it and the calls agree
        feed = []

        def all_delivered():
            feed[:] = c.get("/v1/events?limit=1000").json["data"]
            return len(rx.wait("/ok", len(feed))) == len(feed)
        wait_until(all_delivered, lambda: "%d events, %d calls" % (len(feed), len(rx.on("/ok"))))
        total, calls = len(feed), rx.on("/ok")
        types = {json.loads(x["body"])["type"] for x in calls}
        expect(types >= ALL_TYPES, "missing %r", ALL_TYPES - types)
        expect(all(verify(ep["secret"], x) for x in calls), "our verifier rejected a signature")
        results = node_verify([{"secret": ep["secret"], "headers": x["headers"], "body": x["body"]} for x in calls[:40]])
        expect(results == ["ok"] * min(40, len(calls)), "standardwebhooks: %r", results[:3])
        tampered = dict(calls[0], body=calls[0]["body"].replace('"', "'", 1))
        verdict = node_verify([{"secret": ep["secret"], "headers": tampered["headers"], "body": tampered["body"]}])[0]
        expect(verdict.startswith("fail "), "a tampered body must not verify: %r", verdict)
        body = json.loads(calls[0]["body"])
        expect(set(body) == {"type", "timestamp", "data"} and calls[0]["headers"]["content-type"] == "application/json", "%r", body)
        ids = [x["headers"]["webhook-id"] for x in calls]
        expect(len(set(ids)) == len(ids) == total, "each event delivered once: %d ids, %d events", len(set(ids)), total)


@test
def retries_keep_the_webhook_id(ctx):
    """a receiver that fails 3 times then succeeds gets the same webhook-id each time; the log shows every attempt"""
    with Receiver() as rx, Server(**FAST) as srv:
        c, p = setup(srv)
        ep = endpoint(c, rx.url("/fail/3"), ["agreement.created"])
        c.post("/v1/agreements", {"partner_id": p["id"], "direction": "inbound", "starts_on": "2026-01-01",
                                  "terms": {"compensation": {"model": "none"}}})
        calls = rx.wait("/fail/3", 4, timeout=30)
        expect(len({x["headers"]["webhook-id"] for x in calls}) == 1, "webhook-id changed across retries")
        d = wait_deliveries(c, ep, lambda d: d[0]["status"] != "pending", "the fourth attempt was not recorded")
        expect(len(d) == 1 and d[0]["status"] == "succeeded" and d[0]["attempts"] == 4 and
               [a["status_code"] for a in d[0]["attempt_log"]] == [500, 500, 500, 200] and d[0]["id"] ==
               calls[0]["headers"]["webhook-id"], "%r", d)
        gaps = [calls[i + 1]["at"] - calls[i]["at"] for i in range(3)]
        expect(gaps[0] < gaps[2], "backoff grows: %r", gaps)
        r = c.post("/v1/webhook-deliveries/%s/retry" % d[0]["id"])
        expect(r.status == 202 and r.json["status"] == "pending", "%r", r)
        rx.wait("/fail/3", 5)
        expect_problem(c.post("/v1/webhook-deliveries/00000000-0000-0000-0000-000000000000/retry"), 404)


@test
def gone_disables_and_429_waits(ctx):
    """410 Gone disables the endpoint and says why; 429 is retried after Retry-After"""
    with Receiver() as rx, Server(**FAST) as srv:
        c, p = setup(srv)
        gone = endpoint(c, rx.url("/gone"), ["referral.submitted"])
        busy = endpoint(c, rx.url("/busy"), ["referral.submitted"])
        c.post("/v1/referrals", {"partner_id": p["id"], "direction": "inbound", "prospect": {"name": "G"}})
        rx.wait("/gone", 1)
        calls = rx.wait("/busy", 2, timeout=10)
        expect(calls[1]["at"] - calls[0]["at"] >= 0.9, "Retry-After honoured: %.2f", calls[1]["at"] - calls[0]["at"])
        d = wait_deliveries(c, gone, lambda d: d[0]["status"] != "pending", "the 410 was not recorded")
        expect(len(d) == 1 and d[0]["status"] == "failed" and d[0]["last_status"] == 410, "%r", d)
        g = c.get("/v1/webhook-endpoints/" + gone["id"]).json
        expect(g["enabled"] is False and "410" in g["disabled_reason"] and g["version"] == gone["version"] + 1, "%r", g)
        # a 429 is a reason to wait, not to give up: delivered at the second attempt, the endpoint stays enabled
        d = wait_deliveries(c, busy, lambda d: d[0]["status"] != "pending", "the second attempt was not recorded")
        expect(len(d) == 1 and d[0]["status"] == "succeeded" and
               [a["status_code"] for a in d[0]["attempt_log"]] == [429, 200], "%r", d)
        b = c.get("/v1/webhook-endpoints/" + busy["id"]).json
        expect(b["enabled"] is True and b["disabled_reason"] is None and b["version"] == busy["version"], "%r", b)
        c.post("/v1/referrals", {"partner_id": p["id"], "direction": "inbound", "prospect": {"name": "H"}})
        # the deliveries are written with the event: none for the disabled endpoint, one for the other,
        # and once that one has arrived the event has been dispatched
        expect(len(deliveries(c, gone)) == 1, "a delivery for a disabled endpoint: %r", deliveries(c, gone))
        rx.wait("/busy", 3)
        expect(len(rx.on("/gone")) == 1, "a disabled endpoint gets nothing")
        r = c.patch("/v1/webhook-endpoints/" + gone["id"], {"enabled": True})
        expect(r.json["enabled"] and r.json["disabled_reason"] is None, "%r", r.json)


@test
def hanging_receiver_does_not_stall(ctx):
    """a receiver that hangs does not delay deliveries to another"""
    with Receiver() as rx, Server(**FAST) as srv:
        c, p = setup(srv)
        hang = endpoint(c, rx.url("/hang"), ["referral.submitted"])
        endpoint(c, rx.url("/ok"), ["referral.submitted"])
        t0 = time.time()
        c.post("/v1/referrals", {"partner_id": p["id"], "direction": "inbound", "prospect": {"name": "S"}})
        fast = rx.wait("/ok", 1)
        expect(fast[0]["at"] - t0 < 1.5, "delivery waited for the hanging one: %.2fs", fast[0]["at"] - t0)
        rx.wait("/hang", 1)
        # an event committed while the hanging attempt is still in flight is not held behind it
        t1 = time.time()
        c.post("/v1/referrals", {"partner_id": p["id"], "direction": "inbound", "prospect": {"name": "T"}})
        second = rx.wait("/ok", 2)[1]
        expect(second["at"] - t1 < 1.0, "the next delivery waited for the hanging one: %.2fs", second["at"] - t1)
        # while that attempt is in flight, a manual retry would send it twice at once
        rx.wait("/hang", 2)
        d = c.get("/v1/webhook-endpoints/%s/deliveries" % hang["id"]).json["data"][-1]
        expect_problem(c.post("/v1/webhook-deliveries/%s/retry" % d["id"]), 409, "invalid-state")


@test
def crash_mid_delivery_loses_nothing(ctx):
    """kill -9 the server while deliveries are in flight, restart: every committed event is delivered"""
    rx = Receiver()
    srv = Server(**dict(FAST, ALLIED_WEBHOOK_TIMEOUT_MS=3000))
    try:
        c, p = setup(srv)
        endpoint(c, rx.url("/slow"), ["referral.submitted"])
        ids = [c.post("/v1/referrals", {"partner_id": p["id"], "direction": "inbound",
                                        "prospect": {"name": "K%d" % i}}).json["id"] for i in range(20)]
        rx.wait("/slow", 1)
        srv.proc.send_signal(signal.SIGKILL)
        srv.stop()
        srv = Server(**dict(FAST, ALLIED_WEBHOOK_TIMEOUT_MS=3000))
        def got():
            return {json.loads(x["body"])["data"]["id"] for x in rx.on("/slow")}
        wait_until(lambda: got() >= set(ids), lambda: "undelivered: %d of %d" % (len(set(ids) - got()), len(ids)), 40)
    finally:
        srv.stop()
        rx.close()


@test
def two_dispatchers_never_double_send(ctx):
    """two instances dispatching from one database never send one attempt twice"""
    rx = Receiver()
    a, b = Server(**FAST), Server(**FAST)
    try:
        c, p = setup(a)
        endpoint(c, rx.url("/ok"), ["referral.submitted"])
        cb = Client(b.port, c.key)
        for i in range(60):
            (c if i % 2 else cb).post("/v1/referrals", {"partner_id": p["id"], "direction": "inbound",
                                                        "prospect": {"name": "D%d" % i}})
        calls = rx.wait("/ok", 60)
        ids = [x["headers"]["webhook-id"] for x in rx.on("/ok")]
        inlist = ",".join("'%s'" % i for i in ids)
        wait_until(lambda: psql("SELECT count(*) FROM webhook_deliveries WHERE status = 'succeeded' "
                                "AND id IN (%s)" % inlist) == "60", "not every delivery was recorded as succeeded")
        # Only a pending delivery can be claimed, and a claim counts an attempt before anything is sent:
        # with all 60 succeeded, the attempt counts checked below are final, whatever is still in flight.
        ids = [x["headers"]["webhook-id"] for x in rx.on("/ok")]
        expect(len(ids) == 60 and len(set(ids)) == 60, "%d calls, %d distinct; attempts of the repeated: %s",
               len(ids), len(set(ids)), psql("SELECT string_agg(attempt || ':' || coalesce(status_code, 0) || ':' || "
                                             "coalesce(error, '') || ':' || latency_ms, ' ') FROM webhook_attempts "
                                             "WHERE delivery_id IN (%s) AND delivery_id IN (SELECT delivery_id FROM "
                                             "webhook_attempts GROUP BY 1 HAVING count(*) > 1)" % inlist))
        n = psql("SELECT count(*), sum(attempts) FROM webhook_deliveries WHERE id IN (%s)" % inlist)
        expect(n == "60|60", "deliveries|attempts: %s", n)
        del calls
    finally:
        a.stop()
        b.stop()
        rx.close()


@test
def ssrf_refusals(ctx):
    """loopback, private, link-local and metadata URLs are refused at registration and at send time"""
    c = Client(ctx.MAIN.port, new_tenant("ssrf")[1])
    for url in ("http://127.0.0.1:9/x", "http://localhost/x", "http://10.1.2.3/", "http://172.16.0.1/",
                "http://192.168.1.1/", "http://169.254.169.254/latest/meta-data", "http://[::1]/",
                "http://[fd00::1]/", "http://0.0.0.0/", "http://100.64.0.1/", "ftp://example.com/", "http:///x",
                # IPv6 forms that embed or stand for another address, and IPv4 spelt otherwise
                "http://[::127.0.0.1]/", "http://[::ffff:127.0.0.1]/", "http://[::ffff:10.0.0.1]/",
                "http://[64:ff9b::a9fe:a9fe]/", "http://[2002:a9fe:a9fe::1]/", "http://[fec0::1]/",
                "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "http://127.1/", "http://2130706433/",
                "http://0x7f000001/", "http://localhost./", "http://api.LOCALHOST/"):
        expect_problem(c.post("/v1/webhook-endpoints", {"url": url}), 400, "validation-error", "url")
    rx = Receiver()
    lax = Server(**FAST)
    strict = None
    try:
        cl = Client(lax.port, c.key)
        p = cl.post("/v1/partners", {"name": "P"}).json
        ep = endpoint(cl, rx.url("/ok"), ["referral.submitted"])
        # the same loopback receiver as an IPv4-mapped and an IPv4-compatible IPv6 address
        mapped = endpoint(cl, "http://[::ffff:127.0.0.1]:%d/mapped" % rx.port, ["referral.submitted"])
        compat = endpoint(cl, "http://[::127.0.0.1]:%d/compat" % rx.port, ["referral.submitted"])
        lax.stop()
        strict = Server(ALLIED_WEBHOOK_WORKERS=1, ALLIED_WEBHOOK_RETRY_SCALE=1, ALLIED_WEBHOOK_TIMEOUT_MS=2000)
        Client(strict.port, c.key).post("/v1/referrals", {"partner_id": p["id"], "direction": "inbound", "prospect": {"name": "S"}})
        cs = Client(strict.port, c.key)
        for e, path in ((ep, "/ok"), (mapped, "/mapped"), (compat, "/compat")):
            # an attempt is recorded after it was made: then the receiver would have seen it
            d = wait_deliveries(cs, e, lambda d: len(d[0]["attempt_log"]) >= 1, "no attempt to " + path)
            expect("private" in (d[0]["last_error"] or "") and rx.on(path) == [], "send-time refusal of %s: %r", path, d)
    finally:
        if strict:
            strict.stop()
        rx.close()


@test
def endpoint_api(ctx):
    """endpoints validate their fields, rotate secrets (both signatures for 24 h), and are scoped per tenant and partner"""
    with Receiver() as rx, Server(**FAST) as srv:
        c, p = setup(srv)
        for body, field in (({}, "url"), ({"url": "nope"}, "url"), ({"url": rx.url("/ok"), "events": []}, "events"),
                            ({"url": rx.url("/ok"), "events": ["referral.exploded"]}, "events"),
                            ({"url": rx.url("/ok"), "events": "*"}, "events"),
                            ({"url": rx.url("/ok"), "events": ["referral.submitted"] * 200}, "events"), ({"url": rx.url("/ok"), "secret": "x"}, "secret"),
                            ({"url": rx.url("/ok"), "enabled": "yes"}, "enabled")):
            expect_problem(c.post("/v1/webhook-endpoints", body), 400, "validation-error", field)
        ep = endpoint(c, rx.url("/ok"), ["referral.submitted"])
        r = c.post("/v1/webhook-endpoints/%s/rotate-secret" % ep["id"])
        expect(r.status == 200 and r.json["secret"] != ep["secret"] and r.json["previous_secret_until"], "%r", r)
        c.post("/v1/referrals", {"partner_id": p["id"], "direction": "inbound", "prospect": {"name": "Rot"}})
        call = rx.wait("/ok", 1)[0]
        expect(len(call["headers"]["webhook-signature"].split(" ")) == 2, "two signatures during rotation")
        expect(verify(ep["secret"], call) and verify(r.json["secret"], call), "old and new secrets both verify")
        q = c.post("/v1/partners", {"name": "Q"}).json
        pk = Client(srv.port, c.post("/v1/api-keys", {"role": "partner", "partner_id": q["id"]}).json["key"])
        mine = endpoint(c, rx.url("/partner"), ["*"], client=pk)
        expect(mine["partner_id"] == q["id"], "%r", mine)
        c.post("/v1/referrals", {"partner_id": p["id"], "direction": "inbound", "prospect": {"name": "NotQ"}})
        c.post("/v1/referrals", {"partner_id": q["id"], "direction": "inbound", "prospect": {"name": "ForQ"}})
        calls = rx.wait("/partner", 1)
        # the deliveries are written with the events (both committed by now): one, the partner's own
        d = wait_deliveries(c, mine, lambda d: all(x["status"] != "pending" for x in d), "not all delivered")
        expect(len(d) == 1 and d[0]["status"] == "succeeded", "%r", d)
        names = [json.loads(x["body"])["data"].get("prospect", {}).get("name") for x in rx.on("/partner")]
        expect(names == ["ForQ"], "a partner endpoint gets only its own events: %r", names)
        expect([x["id"] for x in pk.get("/v1/webhook-endpoints").json["data"]] == [mine["id"]], "partner list scope")
        expect_problem(pk.get("/v1/webhook-endpoints/" + ep["id"]), 404)
        expect_problem(c.patch("/v1/webhook-endpoints/" + ep["id"], {"url": rx.url("/x")}, headers={"If-Match": '"1"'}), 412)
        expect_status(c.patch("/v1/webhook-endpoints/" + ep["id"], {"description": "CRM"}), 200)
        other = Client(srv.port, new_tenant("wh other")[1])
        for method, url in (("GET", "/v1/webhook-endpoints/" + ep["id"]), ("DELETE", "/v1/webhook-endpoints/" + ep["id"]),
                            ("GET", "/v1/webhook-endpoints/%s/deliveries" % ep["id"]),
                            ("POST", "/v1/webhook-endpoints/%s/rotate-secret" % ep["id"])):
            expect_problem(other.req(method, url), 404)
        expect_status(c.delete("/v1/webhook-endpoints/" + ep["id"]), 204)
        expect_problem(c.get("/v1/webhook-endpoints/" + ep["id"]), 404)
        del calls


@test
def sync_partners_by_external_id(ctx):
    """PUT /v1/partners/by-external-id creates, then updates, and a repeat changes nothing"""
    c = Client(ctx.MAIN.port, new_tenant("sync")[1])
    url = "/v1/partners/by-external-id/crm-42"
    r = c.req("PUT", url, {"name": "Ada", "company": "A Ltd"})
    expect(r.status == 201 and r.json["external_id"] == "crm-42" and r.json["version"] == 1 and r.h("location"), "%r", r)
    again = c.req("PUT", url, {"name": "Ada", "company": "A Ltd"})
    expect(again.status == 200 and again.json == r.json, "a repeat is a no-op: %r", again)
    upd = c.req("PUT", url, {"name": "Ada L", "external_id": "crm-42"})
    expect(upd.status == 200 and upd.json["version"] == 2 and upd.json["company"] is None and upd.json["id"] == r.json["id"],
           "PUT replaces: %r", upd)
    expect_problem(c.req("PUT", url, {"name": "x", "external_id": "other"}), 400, "validation-error", "external_id")
    expect_problem(c.req("PUT", url, {"company": "no name"}), 400, "validation-error", "name")
    expect_problem(c.req("PUT", url, {"name": "B"}, headers={"If-Match": '"1"'}), 412)
    expect_status(c.req("PUT", url, {"name": "Ada M"}, headers={"If-Match": '"2"'}), 200)
    expect_problem(c.req("PUT", "/v1/partners/by-external-id/crm-new", {"name": "N"}, headers={"If-Match": '"1"'}),
                   412, "stale-version")
    expect_status(c.get("/v1/partners?external_id=crm-new"), 200)
    expect(c.get("/v1/partners?external_id=crm-new").json["data"] == [], "If-Match never creates")
    expect_status(Client(ctx.MAIN.port, new_tenant("sync 2")[1]).req("PUT", url, {"name": "Other tenant"}), 201)
    expect(len(c.get("/v1/partners?external_id=crm-42").json["data"]) == 1, "one partner")
    expect_problem(c.get(url), 405)


@test
def sync_referrals_by_external_id(ctx):
    """PUT /v1/referrals/by-external-id submits once, then replaces the prospect; concurrent PUTs make one referral"""
    from lib import parallel
    c = Client(ctx.MAIN.port, new_tenant("sync ref")[1])
    p = c.post("/v1/partners", {"name": "P"}).json
    url = "/v1/referrals/by-external-id/deal-7"
    body = {"partner_id": p["id"], "direction": "inbound", "prospect": {"name": "Zoe", "email": "zoe@zoe-co.example"}}
    r = c.req("PUT", url, body)
    expect(r.status == 201 and r.json["external_id"] == "deal-7" and r.json["status"] == "submitted", "%r", r)
    same = c.req("PUT", url, body)
    expect(same.status == 200 and same.json["version"] == 1, "repeat: %r", same)
    body["prospect"]["company"] = "Zoe Co"
    upd = c.req("PUT", url, body)
    expect(upd.status == 200 and upd.json["version"] == 2 and upd.json["prospect"]["company"] == "Zoe Co", "%r", upd)
    types = [e["type"] for e in c.get("/v1/referrals/%s/events" % r.json["id"]).json["data"]]
    expect(types == ["submitted", "edited"], "%r", types)
    expect_problem(c.req("PUT", url, dict(body, direction="outbound")), 409, "invalid-state")
    expect_problem(c.req("PUT", url, body, headers={"If-Match": '"1"'}), 412, "stale-version")
    body["prospect"]["company"] = "Zoe Company"
    expect(c.req("PUT", url, body, headers={"If-Match": '"2"'}).json["version"] == 3, "If-Match current")
    expect_problem(c.req("PUT", "/v1/referrals/by-external-id/deal-new", body, headers={"If-Match": '"1"'}), 412)
    res = parallel(10, lambda i: c.req("PUT", "/v1/referrals/by-external-id/race-1",
                                       {"partner_id": p["id"], "direction": "inbound", "prospect": {"name": "Race"}}))
    codes = sorted(x.status for x in res)
    expect(codes.count(201) == 1 and codes.count(200) == 9, "%r", codes)
    expect(len(c.get("/v1/referrals?external_id=race-1").json["data"]) == 1, "one referral")
    p2 = c.post("/v1/partners", {"name": "P2"}).json
    pk2 = Client(c.port, c.post("/v1/api-keys", {"role": "partner", "partner_id": p2["id"]}).json["key"])
    taken = pk2.req("PUT", url, {"partner_id": p2["id"], "direction": "inbound", "prospect": {"name": "Mine"}})
    expect_problem(taken, 409, "external-id-conflict")
    expect(r.json["id"] not in taken.body.decode(), "another partner's referral id is not shown")
    # with an email too (the duplicate-prospect check must not turn the losers into 409s)
    res = parallel(10, lambda i: c.req("PUT", "/v1/referrals/by-external-id/race-2",
                                       {"partner_id": p["id"], "direction": "inbound",
                                        "prospect": {"name": "Race", "email": "race@race-two.example"}}))
    codes = sorted(x.status for x in res)
    expect(codes.count(201) == 1 and codes.count(200) == 9, "%r", codes)


@test
def unusable_secret_never_sends_unsigned(ctx):
    """a delivery whose secret cannot sign is recorded as not sent, and nothing goes out unsigned"""
    with Receiver() as rx, Server(**FAST) as srv:
        c, p = setup(srv, "bad secret")
        ep = endpoint(c, rx.url("/ok"), ["referral.submitted"])
        psql("UPDATE webhook_endpoints SET secret = 'whsec_***' WHERE id = '%s'" % ep["id"])  # a corrupted row
        c.post("/v1/referrals", {"partner_id": p["id"], "direction": "inbound", "prospect": {"name": "U"}})
        # an attempt is recorded after it would have been sent: three recorded, and the receiver saw none
        d = wait_deliveries(c, ep, lambda d: len(d[0]["attempt_log"]) >= 3, "fewer than three attempts recorded")
        expect("secret is unusable" in (d[0]["last_error"] or "") and d[0]["status"] == "pending", "%r", d)
        expect(all(a["status_code"] is None for a in d[0]["attempt_log"]), "%r", d)
        expect(rx.on("/ok") == [], "sent without a signature: %r", rx.on("/ok"))


@test
def partner_key_endpoints_die_with_key_or_partner(ctx):
    """endpoints a partner key registered stop receiving when the key is revoked, and go when the partner is deleted"""
    with Receiver() as rx, Server(**FAST) as srv:
        c, _ = setup(srv, "partner hooks")
        q = c.post("/v1/partners", {"name": "Q"}).json
        made = c.post("/v1/api-keys", {"role": "partner", "partner_id": q["id"]}).json
        pk = Client(srv.port, made["key"])
        failing = endpoint(c, rx.url("/fail/100"), ["referral.submitted"], client=pk)  # keeps retrying
        staff = endpoint(c, rx.url("/staff"), ["referral.submitted"])
        c.post("/v1/referrals", {"partner_id": q["id"], "direction": "inbound", "prospect": {"name": "Q1"}})
        rx.wait("/fail/100", 2)
        expect_status(c.delete("/v1/api-keys/" + made["id"]), 200)
        ep = c.get("/v1/webhook-endpoints/" + failing["id"]).json
        expect(ep["enabled"] is False and "revoked" in ep["disabled_reason"] and ep["version"] == failing["version"] + 1,
               "%r", ep)
        # its next attempt finds the endpoint disabled: the delivery fails, that attempt sends nothing
        d = wait_deliveries(c, failing, lambda d: d[0]["status"] != "pending", "the delivery was not given up")
        expect(len(d) == 1 and d[0]["status"] == "failed" and d[0]["last_error"] == "the endpoint is disabled" and
               d[0]["attempt_log"][-1]["status_code"] is None, "%r", d)
        n = len(rx.on("/fail/100"))  # an attempt is recorded after its call: none can still arrive
        c.post("/v1/referrals", {"partner_id": q["id"], "direction": "inbound", "prospect": {"name": "Q2"}})
        rx.wait("/staff", 2)  # Q2 has been dispatched
        expect(len(deliveries(c, failing)) == 1 and len(rx.on("/fail/100")) == n,
               "still receiving after the key was revoked: %d -> %d, %r", n, len(rx.on("/fail/100")), deliveries(c, failing))
        expect_problem(c.patch("/v1/webhook-endpoints/" + failing["id"], {"enabled": True}), 409, "invalid-state")
        expect_status(c.patch("/v1/webhook-endpoints/" + failing["id"], {"description": "kept"}), 200)
        expect_status(c.patch("/v1/webhook-endpoints/" + staff["id"], {"enabled": True}), 200)
        # deleting the partner (its keys revoked) deletes its endpoints, also one that did not record its key
        r = c.post("/v1/partners", {"name": "R"}).json
        made2 = c.post("/v1/api-keys", {"role": "partner", "partner_id": r["id"]}).json
        pk2 = Client(srv.port, made2["key"])
        mine = endpoint(c, rx.url("/r"), ["*"], client=pk2)
        legacy = endpoint(c, rx.url("/r-legacy"), ["*"], client=pk2)
        psql("UPDATE webhook_endpoints SET api_key_id = NULL WHERE id = '%s'" % legacy["id"])  # as before 0012
        expect_problem(c.delete("/v1/partners/" + r["id"]), 409, "resource-in-use")  # a live key
        expect_status(c.delete("/v1/api-keys/" + made2["id"]), 200)
        expect(c.get("/v1/webhook-endpoints/" + mine["id"]).json["enabled"] is False, "disabled with the key")
        expect_status(c.delete("/v1/partners/" + r["id"]), 204)
        expect_problem(c.get("/v1/webhook-endpoints/" + mine["id"]), 404)
        expect_problem(c.get("/v1/webhook-endpoints/" + legacy["id"]), 404)
        expect(rx.on("/r") == [] and rx.on("/r-legacy") == [], "nothing sent")
