"""Inputs the fuzzers (make fuzz) found, replayed against the real server."""
import json
from lib import test, expect, expect_problem, new_tenant, Client


@test
def long_non_ascii_unknown_key_is_refused(ctx):
    """an unknown JSON key of 200 two-byte characters is a 400 naming it, not silently accepted"""
    c = Client(ctx.MAIN.port, new_tenant("fuzz regressions")[1])
    key = "\u00e9" * 200
    r = c.post("/v1/partners", raw=json.dumps({"name": "x", key: 1}, ensure_ascii=False).encode())
    expect_problem(r, 400, "validation-error")
    fields = [e["field"] for e in r.json["errors"]]
    # The name is cut to fit (on a character boundary), so it is a prefix of the key.
    expect(len(fields) == 1 and key.startswith(fields[0]) and len(fields[0]) >= 100, "%r", fields)
    expect(c.get("/v1/partners").json["data"] == [], "the partner was created")
