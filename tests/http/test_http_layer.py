"""HTTP layer: routing, framing, bodies, JSON strictness, request ids, operations endpoints."""
import json
from lib import test, expect, expect_status, expect_problem, raw_http, new_tenant, wait_until, Client, expect_refused

_T = {}


def admin(ctx):
    if "key" not in _T:
        _T["tenant"], _T["key"] = new_tenant("http layer")
    return Client(ctx.MAIN.port, _T["key"])


@test
def healthz(ctx):
    """GET /healthz answers 200 {"status":"ok"} without a key"""
    r = Client(ctx.MAIN.port).get("/healthz")
    expect_status(r, 200)
    expect(r.json == {"status": "ok"}, "%r", r)


@test
def readyz(ctx):
    """GET /readyz answers 200 with the schema version when migrated"""
    r = Client(ctx.MAIN.port).get("/readyz")
    expect_status(r, 200)
    expect(r.json["status"] == "ready" and r.json["schema_version"] >= 2, "%r", r)


@test
def metrics(ctx):
    """GET /metrics is Prometheus text with requests, latency, pool and DB error series"""
    c = Client(ctx.MAIN.port)
    c.get("/healthz")
    r = c.get("/metrics")
    expect_status(r, 200)
    expect(r.h("content-type").startswith("text/plain"), "ctype %s", r.h("content-type"))
    text = r.body.decode()
    for series in ('allied_http_requests_total{method="GET",route="/healthz",status="200"}',
                   'allied_http_request_duration_seconds_bucket{method="GET",route="/healthz",le="+Inf"}',
                   'allied_db_pool_connections{state="in_use"}', 'allied_db_pool_connections{state="idle"}',
                   "allied_db_errors_total", "allied_db_statements_total", "allied_db_round_trips_total",
                   "allied_db_queue_refused_total", "allied_db_queue_expired_total"):
        expect(series in text, "missing %s", series)


@test
def unknown_path(ctx):
    """an unknown path is a 404 problem"""
    expect_problem(Client(ctx.MAIN.port).get("/v1/nothing-here"), 404, "not-found")
    expect_problem(Client(ctx.MAIN.port).get("/v1/partners/"), 404, "not-found")


@test
def wrong_method(ctx):
    """a known path with another method is a 405 problem with Allow"""
    r = Client(ctx.MAIN.port).req("PUT", "/v1/partners")
    expect_problem(r, 405, "method-not-allowed")
    expect(set(r.h("allow").split(", ")) == {"GET", "POST"}, "Allow %r", r.h("allow"))
    r = Client(ctx.MAIN.port).req("POST", "/v1/partners/00000000-0000-0000-0000-000000000000")
    expect(set(r.h("allow").split(", ")) == {"GET", "PATCH", "DELETE"}, "Allow %r", r.h("allow"))


@test
def request_id_echo(ctx):
    """a sane X-Request-Id is echoed; an insane one is replaced"""
    c = Client(ctx.MAIN.port)
    r = c.get("/healthz", headers={"X-Request-Id": "abc-123.DEF:9"})
    expect(r.h("x-request-id") == "abc-123.DEF:9", "%r", r.headers)
    r = c.get("/healthz", headers={"X-Request-Id": "bad id with spaces"})
    expect(r.h("x-request-id") != "bad id with spaces" and len(r.h("x-request-id")) == 36, "%r", r.headers)
    r = c.get("/healthz", headers={"X-Request-Id": "x" * 200})
    expect(len(r.h("x-request-id")) == 36, "long id not replaced")


@test
def body_too_large_declared(ctx):
    """a body declared larger than ALLIED_MAX_BODY_BYTES is 413 before it is read"""
    data = (b"POST /v1/partners HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + admin(ctx).key.encode() +
            b"\r\nContent-Type: application/json\r\nContent-Length: 5000000\r\n\r\n{")
    out, closed = raw_http(ctx.MAIN.port, data)
    expect(out.startswith(b"HTTP/1.1 413"), "%r", out[:200])
    expect(b"application/problem+json" in out, "not problem+json")
    expect(closed, "connection left open")


@test
def body_too_large_sent(ctx):
    """a body larger than the limit is 413 and the server stays healthy"""
    big = b'{"name":"' + b"a" * (1024 * 1024 + 10) + b'"}'
    data = (b"POST /v1/partners HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + admin(ctx).key.encode() +
            b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(big) + big)
    out, closed = raw_http(ctx.MAIN.port, data)
    expect(out.startswith(b"HTTP/1.1 413"), "%r", out[:200])
    expect_status(Client(ctx.MAIN.port).get("/healthz"), 200)
    just_fits = b'{"name":"x","ideal_client":"' + b"a" * 4000 + b'"}'
    expect_status(admin(ctx).post("/v1/partners", raw=just_fits), 201)


@test
def large_request_head(ctx):
    """a request head of 9 KB is served; one of 64 KB is 431 and the server stays healthy"""
    key = admin(ctx).key.encode()

    def head(n, path=b"/v1/partners?limit=1"):  # the 431 on a path no operation has: openapi lists none
        return (b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key +
                b"\r\nX-Padding: " + b"a" * n + b"\r\nConnection: close\r\n\r\n")
    out, _ = raw_http(ctx.MAIN.port, head(9000))
    expect(out.startswith(b"HTTP/1.1 200"), "%r", out[:200])
    out, _ = raw_http(ctx.MAIN.port, head(64000, b"/no-such-path"))
    expect(out.startswith(b"HTTP/1.1 431"), "%r", out[:200])
    expect_status(admin(ctx).get("/v1/partners?limit=1"), 200)


@test
def body_too_large_chunked(ctx):
    """a chunked body beyond the limit is 413"""
    key = admin(ctx).key.encode()
    chunk = b"a" * 65536
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(20)) + b"0\r\n\r\n"
    data = (b"POST /v1/partners HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key +
            b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
    out, _ = raw_http(ctx.MAIN.port, data)
    expect(out.startswith(b"HTTP/1.1 413"), "%r", out[:200])


@test
def framing_duplicate_content_length(ctx):
    """two Content-Length headers are refused with 400 and the connection closes"""
    data = (b"POST /v1/partners HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}")
    expect_refused(ctx.MAIN.port, data, 400)


@test
def framing_cl_and_te(ctx):
    """Content-Length together with Transfer-Encoding is refused with 400"""
    data = (b"POST /v1/partners HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    expect_refused(ctx.MAIN.port, data, 400)


@test
def framing_unsupported_te(ctx):
    """an unsupported Transfer-Encoding is refused with 400, never a hang"""
    for te in (b"gzip", b"gzip, chunked", b"identity"):
        data = (b"POST /v1/partners HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: " + te + b"\r\n\r\n{}")
        out, closed = raw_http(ctx.MAIN.port, data)
        expect(out.startswith(b"HTTP/1.1 400"), "TE %r: %r", te, out[:300])


@test
def garbage_request_line(ctx):
    """garbage instead of HTTP gets an error or a closed connection, and the server lives"""
    out, closed = raw_http(ctx.MAIN.port, b"GARBAGE\r\n\r\n", timeout=3)
    expect(closed, "%r", out[:100])
    out, closed = raw_http(ctx.MAIN.port, b"GET / HTTP/9.9\r\n\r\n", timeout=3)
    expect(out.startswith(b"HTTP/1.1 505") and closed, "%r", out[:100])
    raw_http(ctx.MAIN.port, b"\x00\x01\x02 hello\r\n\r\n", timeout=0.5)  # held until the idle timeout
    expect_status(Client(ctx.MAIN.port).get("/healthz"), 200)


@test
def content_type_required(ctx):
    """a body without Content-Type: application/json is 415"""
    c = admin(ctx)
    expect_problem(c.post("/v1/partners", raw=b'{"name":"x"}', ctype="text/plain"), 415, "unsupported-media-type")
    expect_problem(c.post("/v1/partners", raw=b'{"name":"x"}', ctype=None), 415, "unsupported-media-type")
    expect_problem(c.post("/v1/partners", raw=b'{"name":"x"}', ctype="application/json; charset=latin1"), 415)
    expect_status(c.post("/v1/partners", raw=b'{"name":"x"}', ctype="application/json; charset=utf-8"), 201)


@test
def malformed_json(ctx):
    """malformed JSON, non-objects, duplicate keys, NUL and deep nesting are 400 malformed-json"""
    c = admin(ctx)
    bad = [b"{", b'{"name": }', b"[]", b'"text"', b"42", b"null", b'{"name":"a","name":"b"}',
           b'{"name":"a\\u0000b"}', b'{"name":"x"} trailing', b"\xff\xfe{}",
           b'{"name":"x","metadata":' + b'{"a":' * 40 + b"1" + b"}" * 40 + b"}",
           b'{"a":' * 5000 + b"1" + b"}" * 5000]
    for body in bad:
        expect_problem(c.post("/v1/partners", raw=body), 400, "malformed-json")


@test
def query_on_routes_without_parameters(ctx):
    """query parameters on a route that takes none are 400"""
    c = admin(ctx)
    p = c.post("/v1/partners", {"name": "Q"}).json
    expect_problem(c.get("/v1/partners/" + p["id"] + "?expand=all"), 400, "validation-error", "expand")
    expect_problem(c.delete("/v1/partners/" + p["id"] + "?force=1"), 400, "validation-error", "force")
    expect_status(c.get("/v1/partners/" + p["id"]), 200)


@test
def empty_body(ctx):
    """a POST that needs a body and has none is 400"""
    expect_problem(admin(ctx).post("/v1/partners", raw=b""), 400, "bad-request")


@test
def body_on_bodiless_route(ctx):
    """a body on a route that takes none is 400"""
    c = admin(ctx)
    expect_problem(c.req("DELETE", "/v1/api-keys/00000000-0000-0000-0000-000000000000", raw=b"{}"), 400)


@test
def access_log_lines(ctx):
    """every request writes one JSON access-log line with method, route, status, duration, tenant, request id"""
    c = admin(ctx)
    c.get("/v1/partners", headers={"X-Request-Id": "log-check-1"})

    def logged():
        try:
            return [json.loads(l) for l in ctx.MAIN.log_text().splitlines() if "log-check-1" in l]
        except ValueError:
            return None  # a line still being written
    wait_until(logged, "no access-log line for the request")
    lines = logged()
    expect(len(lines) == 1, "expected one line, got %r", lines)
    l = lines[0]
    expect(l["method"] == "GET" and l["route"] == "/v1/partners" and l["status"] == 200 and
           l["tenant"] == _T["tenant"] and l["duration_ms"] >= 0 and l["request_id"] == "log-check-1", "%r", l)
