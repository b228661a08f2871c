"""The partner portal and the staff inbox (issue 15): the pages api/portal/ holds, served under
/portal/ with a strict policy, and the whole partner/staff flow in headless Chromium (puppeteer-core
and axe-core from the npm registry, installed outside the repo by this test: ALLIED_NPM_CACHE,
default ~/.cache/allied-portal-npm)."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import lib
from lib import test, expect, expect_status, expect_problem, Client, new_tenant

PORTAL_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
              "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
HERE = os.path.dirname(os.path.abspath(__file__))
PORTAL = os.path.join(HERE, "..", "..", "api", "portal")
NPM_CACHE = os.environ.get("ALLIED_NPM_CACHE", os.path.expanduser("~/.cache/allied-portal-npm"))
NPM_PACKAGES = ["puppeteer-core@24", "axe-core@4"]
PAGES = ["index", "sign-in", "introduce", "referral", "money", "agreement", "inbox", "partner"]


def portal_files():
    return sorted(f for f in os.listdir(PORTAL) if f.endswith((".html", ".js", ".css")))


def page_weight(page):
    """Bytes a page loads before images: its HTML, its stylesheet and every module it imports."""
    html = open(os.path.join(PORTAL, page + ".html"), encoding="utf-8").read()
    todo = re.findall(r'(?:src|href)="([\w.-]+\.(?:js|css))"', html)
    seen, total = set(), len(html.encode())
    while todo:
        f = todo.pop()
        if f in seen:
            continue
        seen.add(f)
        text = open(os.path.join(PORTAL, f), encoding="utf-8").read()
        total += len(text.encode())
        todo += re.findall(r"from '\./([\w.-]+\.js)'", text) + re.findall(r"import\('\./([\w.-]+\.js)'\)", text)
    return total, seen


@test
def portal_pages_are_served(ctx):
    """every page and file of api/portal/ is served under /portal/ as it is, with its type, a strict policy, an ETag answered with 304, and no-cache"""
    c = Client(ctx.MAIN.port)
    types = {"html": "text/html", "js": "text/javascript", "css": "text/css"}
    for f in portal_files():
        target = "/portal/" + (f[:-5] if f.endswith(".html") else f)
        if f == "index.html":
            target = "/portal/"
        r = c.get(target)
        expect_status(r, 200)
        expect(r.body == open(os.path.join(PORTAL, f), "rb").read(), "%s differs from api/portal/%s", target, f)
        expect((r.h("content-type") or "").startswith(types[f.rsplit(".", 1)[1]]), "%s: content-type %r", target, r.h("content-type"))
        expect(r.h("content-security-policy") == PORTAL_CSP, "%s: CSP %r", target, r.h("content-security-policy"))
        expect(r.h("x-content-type-options") == "nosniff" and r.h("referrer-policy") == "no-referrer", "%s: %r", target, r.headers)
        expect(r.h("cache-control") == "no-cache" and re.fullmatch(r'"[0-9a-f]{16}"', r.h("etag") or ""), "%s: %r", target, r.headers)
        again = c.get(target, headers={"If-None-Match": r.h("etag")})
        expect(again.status == 304 and again.body == b"" and again.h("etag") == r.h("etag"), "%s revalidated: %r", target, again)
        if f.endswith(".html"):
            expect(not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", r.body.decode()), "%s has an inline script", f)
            expect(not re.search(r"\sstyle=|<style", r.body.decode()), "%s has inline style", f)
            expect(not re.search(r"(?:src|href)=\"(?:https?:)?//", r.body.decode()), "%s loads from another origin", f)
    expect_status(c.get("/portal/?id=x"), 200)  # a page reads which record it shows from ?id=


@test
def portal_refuses_what_it_does_not_hold(ctx):
    """/portal/ answers 404 problem+json for unknown files, other types or paths, 400 for unknown query parameters, and /portal redirects to /portal/"""
    c = Client(ctx.MAIN.port)
    for target in ("/portal/nope", "/portal/nope.js", "/portal/index.exe", "/portal/.hidden", "/portal/a..b",
                   "/portal/screenshot-home.png", "/portal/%2e%2e%2fMakefile", "/portal/money.html.bak"):
        expect_problem(c.get(target), 404, "not-found")
    expect_problem(c.get("/portal/money?x=1"), 400, "validation-error", "x")
    expect_problem(c.get("/portal/?x=1"), 400, "validation-error", "x")
    expect_problem(c.post("/portal/money"), 405)
    r = c.get("/portal")
    expect(r.status == 308 and r.h("location") == "/portal/", "%r %r", r, r.headers)


@test
def portal_pages_are_small_and_self_contained(ctx):
    """each portal page is under 100 KB with everything it loads, its scripts are ES modules with no eval or inline handlers, and it loads nothing from elsewhere"""
    for page in PAGES:
        size, files = page_weight(page)
        expect(size < 100 * 1024, "%s weighs %d bytes", page, size)
        expect(any(f.endswith(".css") for f in files), "%s has no stylesheet", page)
    for f in portal_files():
        text = open(os.path.join(PORTAL, f), encoding="utf-8").read()
        expect(not re.search(r"https?://", text.replace("http://www.w3.org", "")), "%s names another origin", f)
        if f.endswith(".js"):
            expect(not re.search(r"\beval\(|new Function\(|\.innerHTML\s*=|insertAdjacentHTML|document\.write", text),
                   "%s builds code or HTML from strings", f)
            expect(not re.search(r"\.style\.|setAttribute\('style'", text), "%s sets inline style (the CSP forbids it)", f)


# ------------------------------------------------------------------ the browser part
def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


OFFLINE = ("ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ETIMEDOUT", "ECONNRESET", "ENETUNREACH", "network")


def npm_modules():
    """NODE_PATH with puppeteer-core and axe-core, installing them once into NPM_CACHE; or
    (None, why) when that is impossible because this machine is offline."""
    mods = os.path.join(NPM_CACHE, "node_modules")
    if all(os.path.isdir(os.path.join(mods, p.rsplit("@", 1)[0])) for p in NPM_PACKAGES):
        return mods, None
    expect(shutil.which("npm"), "no npm to install %s (scripts/deps.sh installs nodejs and npm)", NPM_PACKAGES)
    os.makedirs(NPM_CACHE, exist_ok=True)
    pkg = os.path.join(NPM_CACHE, "package.json")
    if not os.path.exists(pkg):
        with open(pkg, "w") as fh:
            fh.write('{"name": "allied-portal-test", "private": true}\n')
    try:
        r = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"] + NPM_PACKAGES,
                           cwd=NPM_CACHE, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None, "npm install timed out (offline?)"
    if r.returncode != 0:
        if any(m in r.stderr for m in OFFLINE):
            return None, "npm could not reach the registry: " + r.stderr.strip().splitlines()[0]
        expect(False, "npm install %s failed: %s", NPM_PACKAGES, r.stderr[-2000:])
    return mods, None


def fixture(c, port):
    """A tenant whose partner has a draft agreement signed by the vendor (10 %, 30 days' holding),
    a partner sign-in link and a staff sign-in link (the pages' real way in)."""
    p = c.post("/v1/partners", {"name": "Lovelace Advisory", "company": "Lovelace Advisory Ltd",
                                "email": "pat@lovelace-advisory.example", "kind": "referral"}).json
    a = c.post("/v1/agreements", {"partner_id": p["id"], "direction": "inbound", "starts_on": "2026-01-01", "terms": {
        "scope": "Introductions of companies needing a software audit in the United Kingdom.",
        "compensation": {"model": "percentage", "rate_bps": 1000, "cap": {"amount": 500000, "currency": "EUR"}},
        "payment_terms": {"net_days": 30, "method": "bank transfer"}, "holding_days": 30, "protection_days": 90,
        "acknowledge_within_hours": 48, "guidelines": "Introduce by e-mail; never promise prices.",
        "termination": {"notice_days": 30, "conditions": "Either side, in writing."}}}).json
    expect_status(c.post("/v1/agreements/%s/sign" % a["id"], {"party": "vendor", "signer_name": "Vera Vendor"}), 200)
    # Another partner's introduction, past its acknowledgement deadline: the inbox lists it first.
    b = c.post("/v1/partners", {"name": "Babbage Partners"}).json
    late = c.post("/v1/referrals", {"partner_id": b["id"], "direction": "inbound",
                                    "prospect": {"name": "Charles Late", "email": "charles@late-engines.example"}})
    expect_status(late, 201)
    lib.psql("UPDATE referrals SET acknowledge_by = now() - interval '1 hour' WHERE id = '%s'" % late.json["id"])
    return {"partner_id": p["id"], "partner_name": p["name"], "agreement_id": a["id"], "late_name": "Charles Late"}


def sign_in_links(c, fix):
    pl = c.post("/v1/partners/%s/portal-links" % fix["partner_id"], {})
    expect_status(pl, 201)
    sl = c.post("/v1/staff-links", {"email": "sam@acme-law.example", "role": "staff"})
    expect_status(sl, 201)
    fix.update(partner_link=pl.json["url"], staff_link=sl.json["url"])


@test
def portal_flow_in_a_browser(ctx):
    """in headless Chromium a partner signs in by link, signs, introduces a client (a second try is a duplicate in words), staff acknowledge and win it, the partner bills the payable commission, staff approve and pay, the partner sees it paid — axe-clean, no console error, screenshots saved"""
    browser = chromium()
    if not browser:
        print("SKIP portal_flow_in_a_browser: no chromium on PATH (scripts/deps.sh installs Debian's chromium)")
        return
    expect(shutil.which("node"), "no node on PATH (scripts/deps.sh installs nodejs)")
    mods, why = npm_modules()
    if not mods:
        print("SKIP portal_flow_in_a_browser: offline, %s" % why)
        return
    tenant, key = new_tenant("Acme Law")
    c = Client(ctx.MAIN.port, key)
    fix = fixture(c, ctx.MAIN.port)
    sign_in_links(c, fix)
    fix.update(tenant_id=tenant, psql=lib.PSQL, database_url=os.environ["DATABASE_URL"])
    shots = os.path.join(os.path.dirname(os.path.abspath(lib.BIN)), "portal-screenshots")
    shutil.rmtree(shots, ignore_errors=True)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(fix, fh)
    try:
        env = dict(os.environ, PORTAL_BASE="http://127.0.0.1:%d" % ctx.MAIN.port, PORTAL_FIXTURE=fh.name,
                   PORTAL_SHOTS=shots, CHROMIUM=browser, NODE_PATH=mods)
        out = subprocess.run(["node", os.path.join(HERE, "..", "portal", "flow.mjs")], env=env, capture_output=True,
                             text=True, timeout=300, stdin=subprocess.DEVNULL)
    finally:
        os.unlink(fh.name)
    expect(out.returncode == 0 and out.stdout.rstrip().endswith("ok"),
           "the browser flow failed (exit %d):\n%s\n%s", out.returncode, out.stdout[-3000:], out.stderr[-4000:])
    names = sorted(os.listdir(shots))
    expect(len(names) >= 20 and all(n.endswith(("-phone.png", "-desktop.png")) for n in names), "screenshots: %r", names)
