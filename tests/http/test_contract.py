"""The contract: every status the tests saw an operation answer is documented in openapi.yaml.
Registered last in run.py, so it sees what every other test observed (lib.OBSERVED)."""
import re
import urllib.parse
import lib
from lib import test, expect, new_tenant, raw_http, Client, Server

METHODS = ("get", "post", "put", "patch", "delete")


def openapi_statuses(path="openapi.yaml"):
    """{(METHOD, path pattern): (operationId, {status, ...})} from the spec's paths section.
    A small line parser (no PyYAML): the spec is block-style YAML with two-space indents."""
    ops, where, op_id, in_paths, in_resp = {}, None, None, False, False
    for line in open(path).read().splitlines():
        if re.match(r"^paths:\s*$", line):
            in_paths = True
            continue
        if in_paths and re.match(r"^\S", line):
            break
        if not in_paths:
            continue
        m = re.match(r"^  (/\S*):\s*$", line)
        if m:
            pattern, where, in_resp = m.group(1).strip("'\""), None, False
            continue
        m = re.match(r"^    (\w+):\s*$", line)
        if m:
            in_resp = False
            where = (m.group(1).upper(), pattern) if m.group(1) in METHODS else None
            if where:
                ops[where] = [None, set()]
            continue
        if not where:
            continue
        m = re.match(r"^      operationId:\s*(\S+)", line)
        if m:
            ops[where][0] = m.group(1)
            continue
        if re.match(r"^      responses:\s*$", line):
            in_resp = True
            continue
        if re.match(r"^      \S", line):
            in_resp = False
            continue
        m = re.match(r"""^        ['"]?(\d{3}|[1-5]XX)['"]?:""", line)
        if in_resp and m:
            ops[where][1].add(m.group(1))
    return {k: (v[0], v[1]) for k, v in ops.items()}


def route_of(method, target, patterns):
    """The path pattern the server routes (method, target) to, or None. The path is
    percent-decoded as the server does; a literal segment beats a {parameter}."""
    path = urllib.parse.unquote(target.split("?", 1)[0], errors="replace")
    segs = path.split("/")
    best, best_literals = None, -1
    for pattern in patterns:
        psegs = pattern.split("/")
        if len(psegs) != len(segs):
            continue
        literals = 0
        for p, s in zip(psegs, segs):
            if p.startswith("{") and p.endswith("}"):
                if not s:
                    break
            elif p != s:
                break
            else:
                literals += 1
        else:
            if literals > best_literals:
                best, best_literals = pattern, literals
    return best


def documented(status, statuses):
    return str(status) in statuses or ("%dXX" % (status // 100)) in statuses


ZERO = "00000000-0000-0000-0000-000000000000"


def concrete(pattern, value):
    return re.sub(r"\{[^}]+\}", value, pattern)


@test
def spec_parser_reads_every_operation(ctx):
    """the contract test's openapi.yaml reader finds every operation and its statuses (checked against PyYAML when installed)"""
    spec = openapi_statuses()
    expect(len(spec) >= 60 and all(op and statuses for op, statuses in spec.values()),
           "operations without an operationId or responses: %r",
           sorted(k for k, (op, st) in spec.items() if not op or not st))
    try:
        import yaml  # Debian's python3-yaml; optional
    except ImportError:
        return
    doc = yaml.safe_load(open("openapi.yaml"))
    full = {(m.upper(), p): (op.get("operationId"), {str(k) for k in op.get("responses", {})})
            for p, item in doc["paths"].items() for m, op in item.items() if m in METHODS}
    expect(full == spec, "the line parser disagrees with PyYAML on: %r",
           sorted(k for k in set(full) | set(spec) if full.get(k) != spec.get(k)))


@test
def probe_every_operation(ctx):
    """every operation is probed with the generic mistakes (no key, readonly key, bad ids, bad headers, oversized body)"""
    spec = openapi_statuses()
    _, admin = new_tenant("contract probe")
    # Its own server, so the probe's hundreds of mistakes count against no other test's budget.
    srv = Server()
    try:
        c = Client(srv.port, admin)
        ro = Client(srv.port, c.post("/v1/api-keys", {"role": "readonly"}).json["key"])
        for (method, pattern) in sorted(spec):
            body = {} if method in ("POST", "PUT", "PATCH") else None
            target = concrete(pattern, ZERO)
            c.req(method, target, body, key="")
            ro.req(method, target, body)
            c.req(method, concrete(pattern, "not-a-uuid"), body)
            c.req(method, target, body)
            c.req(method, target + "?unknown=1", body)
            c.req(method, target, raw=b"{}", ctype="text/plain")
            c.req(method, target, raw=b"{not json")
            c.req(method, target, body, headers={"If-Match": "bogus", "Idempotency-Key": " "})
            # A declared body over the limit is answered on the headers, before auth.
            raw_http(srv.port, ("%s %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                                "Content-Type: application/json\r\nContent-Length: 99999999\r\n\r\n"
                                % (method, target, admin)).encode(), timeout=2)
    finally:
        expect(srv.stop() == 0, "probe server did not exit cleanly")


@test
def observed_statuses_are_documented(ctx):
    """every status an operation answered in these tests is listed for it in openapi.yaml"""
    spec = openapi_statuses()
    patterns = sorted({p for (_, p) in spec})
    missing = {}
    for method, target, status in list(lib.OBSERVED):
        pattern = route_of(method, target, patterns)
        if pattern is None or (method, pattern) not in spec:
            continue  # no such operation: 404/405 from the route table, nothing to document
        op_id, statuses = spec[(method, pattern)]
        if not documented(status, statuses):
            missing.setdefault((op_id or method + " " + pattern, status), target)
    expect(not missing, "%d undocumented (operation, status) pairs, e.g. request: %s",
           len(missing), "; ".join("%s %d (%s)" % (op, st, t) for (op, st), t in sorted(missing.items())))
