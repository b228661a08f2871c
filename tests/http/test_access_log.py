"""Operations output: the access log (one JSON line per request, no secrets) and the metrics
beyond requests: allied_build_info, 429s by limit, statement/lock timeouts, webhook attempts."""
import json
import re
import time
import lib
from lib import test, expect, expect_status, expect_problem, new_tenant, hold_lock, Client, Server, BIN
import subprocess
from test_webhooks import FAST, Receiver, endpoint


def access_lines(srv):
    out = []
    for line in srv.log_text().splitlines():
        try:
            o = json.loads(line)
        except ValueError:
            continue
        if o.get("msg") == "request":
            out.append(o)
    return out


def wait_lines(srv, n, seconds=10):
    """The access lines once there are at least n (a line is written when the request completes)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        lines = access_lines(srv)
        if len(lines) >= n:
            return lines
        time.sleep(0.02)
    raise AssertionError("only %d access log lines, wanted %d" % (len(access_lines(srv)), n))


@test
def access_log_line_per_request(ctx):
    """each request writes one JSON access line: time, request id, key id, tenant, route pattern, method, status, bytes, duration; never the key or the query"""
    with Server() as srv:
        tenant, key = new_tenant("access log")
        c = Client(srv.port, key)
        p = c.post("/v1/partners", {"name": "Logged"})
        expect_status(p, 201)
        g = c.get("/v1/partners/%s?fields=x&api_key=%s" % (p.json["id"], key), headers={"X-Request-Id": "trace-me-1"})
        expect_problem(Client(srv.port).get("/v1/partners", key="ak_bad"), 401)
        expect_problem(Client(srv.port).get("/nowhere/at/all?token=s3cret"), 404)
        lines = wait_lines(srv, 4)
        text = srv.log_text()
        expect(key not in text and key[:15] not in text and "s3cret" not in text and "?" not in
               "".join(l["route"] for l in lines), "a secret or a query reached the log")
        created = [l for l in lines if l["method"] == "POST"][0]
        expect(created["route"] == "/v1/partners" and created["status"] == 201 and created["tenant"] == tenant and
               re.match(r"^[0-9a-f-]{36}$", created["key_id"] or "") and created["bytes"] == len(p.body) and
               created["duration_ms"] >= 0 and created["request_id"] == p.h("x-request-id") and
               created["level"] == "info", "%r", created)
        expect(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", created["ts"]), "ts %r", created["ts"])
        keys = psql_key_id(tenant)
        expect(created["key_id"] == keys, "key_id %r is not the key's id %r", created["key_id"], keys)
        got = [l for l in lines if l["request_id"] == "trace-me-1"]
        expect(len(got) == 1 and got[0]["route"] == "/v1/partners/{id}" and got[0]["status"] == g.status and
               got[0]["bytes"] == len(g.body), "%r", got)
        denied = [l for l in lines if l["status"] == 401][0]
        expect(denied["key_id"] is None and denied["tenant"] is None and denied["route"] == "/v1/partners", "%r", denied)
        lost = [l for l in lines if l["status"] == 404][0]
        expect(lost["route"] == "(unmatched)", "%r", lost)
        for l in lines:
            expect(set(l) >= {"ts", "level", "msg", "request_id", "key_id", "tenant", "method", "route", "status",
                              "bytes", "duration_ms"}, "fields %r", sorted(l))


def psql_key_id(tenant):
    return lib.psql("SELECT id FROM api_keys WHERE tenant_id = '%s'" % tenant)


@test
def access_log_can_be_off(ctx):
    """ALLIED_ACCESS_LOG=0 writes no access lines (other log lines stay)"""
    with Server(ALLIED_ACCESS_LOG=0) as srv:
        for _ in range(3):
            expect_status(Client(srv.port).get("/healthz"), 200)
    expect(not access_lines(srv), "access lines with ALLIED_ACCESS_LOG=0")
    expect("listening on" in srv.log_text(), "the other log lines are gone too")


def metric(port, name):
    text = Client(port).get("/metrics").body.decode()
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{") and line.split(" ")[0] == name:
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError("no %s in /metrics" % name)


@test
def build_info_metric(ctx):
    """/metrics has allied_build_info with this binary's version and schema, value 1"""
    version = subprocess.run([BIN, "version"], capture_output=True, text=True).stdout.split()[1]
    text = Client(ctx.MAIN.port).get("/metrics").body.decode()
    m = re.search(r'^allied_build_info\{version="([^"]+)",schema="(\d+)"\} 1$', text, re.M)
    expect(m and m.group(1) == version, "build_info %r for version %s", m and m.group(0), version)
    expect("# TYPE allied_build_info gauge" in text, "no TYPE line")


@test
def rate_limit_and_timeout_metrics(ctx):
    """each 429 counts in allied_rate_limited_total by its limit, each lock or statement timeout in allied_db_timeouts_total"""
    with Server(ALLIED_RATE_KEY_PER_SECOND=1, ALLIED_RATE_KEY_BURST=2, ALLIED_LOCK_TIMEOUT_MS=200,
                 ALLIED_STATEMENT_TIMEOUT_MS=300) as srv:
        c = Client(srv.port, new_tenant("metrics limits")[1])
        statuses = [c.get("/v1/partners").status for _ in range(6)]
        refused = statuses.count(429)
        expect(refused >= 1, "no 429 in %r", statuses)
        expect(metric(srv.port, 'allied_rate_limited_total{limit="key"}') == refused, "429s %d", refused)
        expect(metric(srv.port, 'allied_rate_limited_total{limit="tenant"}') == 0, "tenant 429s")
        slow = Client(srv.port, new_tenant("metrics timeouts")[1])
        p = slow.post("/v1/partners", {"name": "Locked"}).json
        holder = hold_lock("SELECT 1 FROM partners WHERE id = '%s' FOR UPDATE" % p["id"], 5)
        try:
            expect_problem(slow.patch("/v1/partners/" + p["id"], {"name": "waits"}), 503)
        finally:
            holder.terminate()
            holder.wait(10)
        expect(metric(srv.port, 'allied_db_timeouts_total{kind="lock"}') == 1, "lock timeouts")
        expect(metric(srv.port, 'allied_db_timeouts_total{kind="statement"}') == 0, "statement timeouts")


@test
def webhook_attempt_metrics(ctx):
    """allied_webhook_attempts_total counts every delivery attempt and allied_webhook_attempt_failures_total the failed ones"""
    rx, srv = Receiver(), Server(**FAST)
    try:
        # A fresh dispatcher may already be sending what other tests left due in the shared
        # database, so everything below is counted from this baseline, as at least.
        a0 = metric(srv.port, "allied_webhook_attempts_total")
        f0 = metric(srv.port, "allied_webhook_attempt_failures_total")
        c = Client(srv.port, new_tenant("metrics webhooks")[1])
        p = c.post("/v1/partners", {"name": "Hooked"}).json
        endpoint(c, rx.url("/fail/1"), ["agreement.created"])
        c.post("/v1/agreements", {"partner_id": p["id"], "direction": "inbound", "starts_on": "2026-01-01",
                                  "terms": {"compensation": {"model": "none"}}})
        rx.wait("/fail/1", 2, timeout=30)
        # At least this endpoint's: 2 attempts, the first failed.
        deadline = time.time() + 10
        while True:
            attempts = metric(srv.port, "allied_webhook_attempts_total")
            failures = metric(srv.port, "allied_webhook_attempt_failures_total")
            ok = attempts - a0 >= 2 and failures - f0 >= 1 and failures < attempts
            if ok or time.time() > deadline:
                break
            time.sleep(0.05)
        expect(ok, "attempts %r (from %r), failures %r (from %r)", attempts, a0, failures, f0)
    finally:
        srv.stop()
        rx.close()
