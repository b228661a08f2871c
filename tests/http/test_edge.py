"""The HTTP edge: connection pressure, slow clients, early answers, ambiguous heads, NUL bytes,
security headers. Malformed HTTP is sent on raw sockets."""
import http.client
import json
import socket
import time
from lib import test, expect, expect_status, expect_problem, raw_http, new_tenant, accept_queue, wait_until, Client, Server, expect_refused

_T = {}


def admin(ctx):
    if "key" not in _T:
        _T["tenant"], _T["key"] = new_tenant("http edge")
    return Client(ctx.MAIN.port, _T["key"])


def parse(out):
    """(status, headers dict, body bytes) of one raw HTTP response."""
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and lines[0].startswith("HTTP/") else 0
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


def raw_problem(out, status, detail_part=None):
    st, h, body = parse(out)
    expect(st == status, "expected %d, got %r", status, out[:300])
    expect(h.get("content-type", "").startswith("application/problem+json"), "not problem+json: %r", out[:300])
    j = json.loads(body)
    expect(j["status"] == status, "%r", j)
    if detail_part:
        expect(detail_part in j.get("detail", ""), "detail %r", j)
    return j


def closed_within(s, seconds):
    """Reads until the server closes `s`; returns (seconds it took, bytes read) or (None, bytes)."""
    t0 = time.time()
    out = b""
    s.settimeout(0.2)
    while time.time() - t0 < seconds:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return time.time() - t0, out
        if not chunk:
            return time.time() - t0, out
        out += chunk
    return None, out


# --- 1. connection pressure ------------------------------------------------------------------

@test
def idle_sockets_cannot_lock_out_a_new_client(ctx):
    """with every connection slot held by idle sockets, a new client still gets 200 at once"""
    srv = Server(ALLIED_MAX_CONNECTIONS=40)
    socks = []
    try:
        for i in range(40):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            if i % 2:  # half are keep-alive connections that already made a request
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                s.recv(4096)
            socks.append(s)
            # each connection accepted before the next is opened, so they are idle for different times
            wait_until(lambda: accept_queue(srv) == 0, "the server did not accept connection %d" % i)
        for n in range(5):
            t0 = time.time()
            c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)  # locked out = no answer
            c.request("GET", "/healthz")
            r = c.getresponse()
            r.read()
            c.close()
            took = time.time() - t0
            expect(r.status == 200, "new client %d: %d after %.2fs", n, r.status, took)
        # The connections idle the longest made room; the newest are still served.
        t, _ = closed_within(socks[0], 2)
        expect(t is not None, "the oldest idle connection was not closed")
        socks[-1].sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        socks[-1].settimeout(3)
        expect(socks[-1].recv(4096).startswith(b"HTTP/1.1 200"), "the newest connection is served")
        expect("connection pressure" in srv.log_text(), "shedding is logged")
    finally:
        for s in socks:
            s.close()
        srv.stop()


@test
def idle_sockets_from_several_addresses_cannot_lock_out_another(ctx):
    """4 addresses holding every slot under their per-address cap do not lock a 5th address out"""
    srv = Server(ALLIED_MAX_CONNECTIONS=40, ALLIED_PER_IP_CONNECTIONS=10)
    socks = []
    try:
        for a in range(2, 6):
            for _ in range(10):
                socks.append(socket.create_connection(("127.0.0.1", srv.port), timeout=5,
                                                      source_address=("127.0.0.%d" % a, 0)))
        wait_until(lambda: accept_queue(srv) == 0, lambda: "%d connections not accepted" % accept_queue(srv))
        t0 = time.time()
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10, source_address=("127.0.0.6", 0))
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        out = s.recv(4096)
        s.close()
        expect(out.startswith(b"HTTP/1.1 200"), "6th address: %r after %.2fs",
               out[:60], time.time() - t0)
    finally:
        for x in socks:
            x.close()
        srv.stop()


# --- 2. slow clients -------------------------------------------------------------------------

def dribble(s, byte, pause):
    """Sends `byte` every `pause` seconds (the slow client is the test's subject) until the server
    closes the connection, for at most 8 s: (seconds until it closed or None, what it answered)."""
    t0 = time.time()
    out = b""
    while time.time() - t0 < 8:
        try:
            s.sendall(byte)
        except (BrokenPipeError, ConnectionResetError):
            return time.time() - t0, out
        t, got = closed_within(s, pause)
        out += got
        if t is not None:
            return time.time() - t0, out
    return None, out


@test
def slow_request_head_is_cut_off(ctx):
    """a request head sent one byte at a time is cut off with 408 at ALLIED_HEAD_TIMEOUT, while an idle keep-alive connection stays"""
    with Server(ALLIED_HEAD_TIMEOUT=2, ALLIED_CONN_TIMEOUT=30) as srv:
        idle = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        closed_after, out = dribble(s, b"a", 0.4)
        expect(closed_after is not None, "slow head survived %s s", closed_after)  # else: until the 30 s idle timeout
        expect(closed_after >= 1.5, "cut off too early: %.2fs", closed_after)
        raw_problem(out, 408, "head")
        # The idle connection (no byte sent) is not a slow head: it still serves a request.
        idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        expect(idle.recv(4096).startswith(b"HTTP/1.1 200"), "idle keep-alive connection was cut")
        idle.close()
        s.close()


@test
def slow_body_is_cut_off(ctx):
    """a body slower than ALLIED_MIN_BODY_RATE after ALLIED_BODY_TIMEOUT is cut off with 408; a normal body is not"""
    with Server(ALLIED_BODY_TIMEOUT=1, ALLIED_MIN_BODY_RATE=1000) as srv:
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        s.sendall(b"POST /v1/partners HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 50000\r\n\r\n{")
        closed_after, out = dribble(s, b" ", 0.3)
        expect(closed_after is not None, "slow body survived %s s", closed_after)
        raw_problem(out, 408, "body")
        s.close()
        big = {"name": "n", "ideal_client": "x" * 200000}
        r = Client(srv.port, new_tenant("edge body")[1]).post("/v1/partners", big)
        expect(r.status in (201, 400), "a normal body is read: %r", r)


# --- 3. the 413 reaches the client -----------------------------------------------------------

@test
def too_large_body_without_expect_reads_413(ctx):
    """a 2 MB body sent without Expect: 100-continue reads a 413 problem every time (11 of 11)"""
    key = admin(ctx).key
    big = b'{"name":"' + b"a" * (2 * 1024 * 1024) + b'"}'
    got = []
    for _ in range(11):
        c = http.client.HTTPConnection("127.0.0.1", ctx.MAIN.port, timeout=10)
        try:
            c.request("POST", "/v1/partners", body=big,
                      headers={"Content-Type": "application/json", "Authorization": "Bearer " + key})
            r = c.getresponse()
            body = r.read()
            got.append((r.status, r.getheader("content-type"), json.loads(body)["status"]))
        except (BrokenPipeError, ConnectionResetError) as e:
            got.append(repr(e))
        finally:
            c.close()
    expect(all(g == (413, "application/problem+json", 413) for g in got), "%r", got)
    expect_status(Client(ctx.MAIN.port).get("/healthz"), 200)


@test
def too_large_body_with_expect_is_refused_before_it_is_sent(ctx):
    """with Expect: 100-continue a too-large body is refused with 413 at once, without 100 Continue"""
    data = (b"POST /v1/partners HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Expect: 100-continue\r\nContent-Length: 2000000\r\n\r\n")
    expect_refused(ctx.MAIN.port, data, 413, timeout=3)


@test
def endless_too_large_chunked_body_is_cut_off(ctx):
    """a too-large chunked body is read and dropped only up to ALLIED_DISCARD_BODY_BYTES, then the connection closes"""
    with Server(ALLIED_MAX_BODY_BYTES=1024, ALLIED_DISCARD_BODY_BYTES=65536) as srv:
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        s.sendall(b"POST /v1/partners HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n%s\r\n" % (16384, b"a" * 16384)
        sent, cut = 0, False
        t0 = time.time()
        while sent < 64 * 1024 * 1024 and time.time() - t0 < 10:
            try:
                s.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError, socket.timeout):
                cut = True
                break
            sent += len(chunk)
        s.close()
        expect(cut, "the server read %d bytes of an endless body", sent)
        expect_status(Client(srv.port).get("/healthz"), 200)


# --- 4. ambiguous heads ----------------------------------------------------------------------

@test
def host_header_required_once(ctx):
    """an HTTP/1.1 request without Host, or with two, is a 400 problem (RFC 9112 section 3.2)"""
    for req in (b"GET /healthz HTTP/1.1\r\n\r\n", b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
                b"POST /v1/partners HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"):
        out, closed = raw_http(ctx.MAIN.port, req, timeout=3)
        raw_problem(out, 400, "Host")
        expect(closed, "the connection stays open after an ambiguous head")
    out, closed = raw_http(ctx.MAIN.port, b"GET /healthz HTTP/1.0\r\n\r\n", timeout=3)
    expect(closed, "HTTP/1.0 is not kept alive")
    expect(parse(out)[0] == 200, "HTTP/1.0 needs no Host: %r", out[:200])


@test
def ambiguous_or_dirty_authorization(ctx):
    """two Authorization headers are 400; a key followed by a NUL or control byte is 401, never 200"""
    key = admin(ctx).key.encode()

    def get(auth_lines, after=b"X-After: 1\r\n"):
        out, closed = raw_http(ctx.MAIN.port, b"GET /v1/partners HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" +
                               auth_lines + after + b"\r\n", timeout=3)
        expect(closed, "the connection stays open")
        return out
    expect(parse(get(b"Authorization: Bearer " + key + b"\r\n"))[0] == 200, "the clean key works")
    expect(parse(get(b"Authorization: Bearer " + key + b"\r\n", after=b""))[0] == 200, "as the last header too")
    raw_problem(get(b"Authorization: Bearer " + key + b"\r\nAuthorization: Bearer " + key + b"\r\n"), 400,
                "Authorization")
    for junk in (b"\x00", b"\x00junk", b"\x00\x00", b"\x01", b"\x7f", b"\x00 "):
        for after in (b"X-After: 1\r\n", b""):
            out = get(b"Authorization: Bearer " + key + junk + b"\r\n", after=after)
            st, h, _ = parse(out)
            expect(st == 401, "junk %r (last header: %s): %r", junk, not after, out[:200])
            raw_problem(out, 401)
            expect(h.get("www-authenticate", "").startswith("Bearer"), "no WWW-Authenticate")


# --- 5. NUL in the target, If-Match: * -------------------------------------------------------

@test
def percent_00_in_a_path_is_refused(ctx):
    """%00 anywhere in the request target is 400, and never touches the record named before it"""
    c = Client(ctx.MAIN.port, new_tenant("edge nul")[1])
    a = c.req("PUT", "/v1/partners/by-external-id/a", {"name": "A"})
    expect_status(a, 201)
    for url in ("/v1/partners/by-external-id/a%00b", "/v1/partners/by-external-id/a%00"):
        expect_problem(c.req("PUT", url, {"name": "overwritten"}), 400, "bad-request")
    expect(c.get("/v1/partners/" + a.json["id"]).json["name"] == "A", "record a untouched")
    expect_problem(c.get("/v1/partners/%s%%00x" % a.json["id"]), 400, "bad-request")
    expect_problem(c.get("/v1/partners?external_id=a%00b"), 400, "bad-request")
    expect_status(c.get("/v1/partners?external_id=a%2500"), 200)  # an escaped percent is just text


@test
def if_match_star_never_creates(ctx):
    """If-Match: * on PUT by external id updates an existing record and is 412 for a missing one"""
    c = Client(ctx.MAIN.port, new_tenant("edge star")[1])
    star = {"If-Match": "*"}
    expect_problem(c.req("PUT", "/v1/partners/by-external-id/none", {"name": "N"}, headers=star), 412, "stale-version")
    expect(c.get("/v1/partners?external_id=none").json["data"] == [], "If-Match: * created a partner")
    expect_status(c.req("PUT", "/v1/partners/by-external-id/some", {"name": "S"}), 201)
    r = c.req("PUT", "/v1/partners/by-external-id/some", {"name": "S2"}, headers=star)
    expect(r.status == 200 and r.json["name"] == "S2", "%r", r)
    p = c.post("/v1/partners", {"name": "P"}).json
    body = {"partner_id": p["id"], "direction": "inbound", "prospect": {"name": "Zed"}}
    expect_problem(c.req("PUT", "/v1/referrals/by-external-id/none", body, headers=star), 412, "stale-version")
    expect(c.get("/v1/referrals?external_id=none").json["data"] == [], "If-Match: * created a referral")
    expect_status(c.req("PUT", "/v1/referrals/by-external-id/r1", body), 201)
    expect_status(c.req("PUT", "/v1/referrals/by-external-id/r1", body, headers=star), 200)


# --- 6. security headers ---------------------------------------------------------------------

@test
def json_answers_are_nosniff(ctx):
    """JSON and problem answers carry X-Content-Type-Options: nosniff"""
    c = admin(ctx)
    for r in (c.get("/v1/partners"), c.get("/v1/nothing"), Client(ctx.MAIN.port).get("/v1/partners")):
        expect(r.h("x-content-type-options") == "nosniff", "%r %r", r, r.headers)


@test
def html_invoice_has_a_strict_content_security_policy(ctx):
    """the printable invoice carries a CSP allowing only its own style by hash, nosniff and Referrer-Policy"""
    import base64
    import hashlib
    import re
    from test_money import Money
    m = Money(ctx, "edge html")
    m.agreement(m.p, {"model": "percentage", "rate_bps": 1000})
    ref = m.referral(m.p)
    expect_status(m.win(ref, 10000), 200)
    cs = m.commissions(ref)
    m.mature(cs)
    inv = m.invoice(m.p, cs)
    expect_status(inv, 201)
    r = m.c.get("/v1/invoices/" + inv.json["id"], headers={"Accept": "text/html"})
    expect(r.status == 200 and r.h("content-type").startswith("text/html"), "%r", r)
    csp = r.h("content-security-policy") or ""
    expect("default-src 'none'" in csp and "unsafe-inline" not in csp and "script-src" not in csp and
           "frame-ancestors 'none'" in csp, "CSP %r", csp)
    style = re.search(rb"<style>(.*?)</style>", r.body, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(style).digest()).decode()
    expect("style-src 'sha256-%s'" % digest in csp, "the page's style is not allowed by %r", csp)
    expect(b"<script" not in r.body, "inline script in the page")
    expect(r.h("x-content-type-options") == "nosniff", "%r", r.headers)
    expect(r.h("referrer-policy") == "no-referrer", "%r", r.headers)
