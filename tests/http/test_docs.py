"""The API reference the binary serves: GET /openapi.yaml (the spec, byte for byte), GET /docs (a
Redoc page with a strict Content-Security-Policy) and its script, all public and compiled in; the
page renders in headless Chromium with every path of the spec on it and no console message."""
import os
import re
import shutil
import subprocess
import tempfile
import lib
from lib import test, expect, expect_status, expect_problem, Client

DOCS_CSP = ("default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src data:; "
            "connect-src 'self'; worker-src blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def spec_paths():
    return [m.group(1) for m in re.finditer(r"^  (/\S*):\s*$", open("openapi.yaml").read(), re.M)]


@test
def spec_is_served(ctx):
    """GET /openapi.yaml serves openapi.yaml as it is in the source, as application/yaml, with no key"""
    r = Client(ctx.MAIN.port).get("/openapi.yaml")
    expect_status(r, 200)
    expect((r.h("content-type") or "").startswith("application/yaml"), "content-type %r", r.h("content-type"))
    expect(r.body == open("openapi.yaml", "rb").read(), "the served spec differs from openapi.yaml")
    expect(r.h("x-request-id"), "no X-Request-Id")
    expect_problem(Client(ctx.MAIN.port).get("/openapi.yaml?x=1"), 400, "validation-error", "x")
    expect_problem(Client(ctx.MAIN.port).post("/openapi.yaml"), 405)


@test
def docs_page_is_self_contained(ctx):
    """GET /docs is an HTML page that loads only its script and the spec from this server, under a policy allowing just that"""
    c = Client(ctx.MAIN.port)
    r = c.get("/docs")
    expect_status(r, 200)
    expect((r.h("content-type") or "").startswith("text/html"), "content-type %r", r.h("content-type"))
    expect(r.h("content-security-policy") == DOCS_CSP, "CSP %r", r.h("content-security-policy"))
    expect(r.h("referrer-policy") == "no-referrer" and r.h("x-content-type-options") == "nosniff", "%r", r.headers)
    page = r.body.decode()
    expect(r.body == open("api/docs/index.html", "rb").read(), "the served page differs from api/docs/index.html")
    srcs = re.findall(r"""(?:src|href|spec-url)=["']([^"']*)["']""", page)
    expect(sorted(set(srcs)) == ["/docs/redoc.standalone.js", "/openapi.yaml", "data:,"], "the page refers to %r", srcs)
    expect(not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", page), "the page has an inline script")
    js = c.get("/docs/redoc.standalone.js")
    expect_status(js, 200)
    expect((js.h("content-type") or "").startswith("text/javascript"), "content-type %r", js.h("content-type"))
    expect(js.body == open("api/docs/redoc.standalone.js", "rb").read(), "the served script differs from the file")
    expect(b"cdn.redoc.ly" not in js.body, "the bundle still loads Redocly's logo from their CDN")
    expect(os.path.exists("api/docs/redoc.LICENSE"), "the bundle's licence is not beside it")
    expect_problem(c.get("/docs?x=1"), 400, "validation-error", "x")
    expect_problem(c.get("/docs/other.js"), 404)


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def render(browser, url, budget_ms):
    """The DOM after the page ran (for up to budget_ms of virtual time) and the console lines."""
    with tempfile.TemporaryDirectory(prefix="allied-chromium-") as profile:
        out = subprocess.run([browser] + CHROMIUM_FLAGS + ["--user-data-dir=" + profile, "--enable-logging=stderr",
                                                           "--v=0", "--virtual-time-budget=%d" % budget_ms,
                                                           "--dump-dom", url],
                             capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    console = [l for l in out.stderr.splitlines() if ":CONSOLE" in l]
    return out.stdout, console, out.returncode


@test
def docs_render_in_chromium(ctx):
    """/docs renders in headless Chromium from this server alone: every path of openapi.yaml is on the page and the console stays empty"""
    paths = spec_paths()
    expect(len(paths) > 10, "found only %d paths in openapi.yaml", len(paths))
    spec = Client(ctx.MAIN.port).get("/openapi.yaml").body.decode()
    missing = [p for p in paths if ("\n  %s:\n" % p) not in spec]
    expect(not missing, "the served spec lacks %r", missing)  # the static part: holds without a browser
    browser = chromium()
    if not browser:
        print("SKIP the browser part of docs_render_in_chromium: no chromium on PATH "
              "(scripts/deps.sh installs Debian's chromium); the served files were checked statically")
        return
    url = "http://127.0.0.1:%d/docs" % ctx.MAIN.port
    for budget in (15000, 60000):  # a slow machine gets a second, longer look
        dom, console, rc = render(browser, url, budget)
        missing = [p for p in paths if p not in dom]
        if not missing or console:
            break
    expect(rc == 0, "chromium exited %d", rc)
    expect(not console, "console messages: %s", "\n".join(console)[:3000])
    expect("redoc-wrap" in dom, "Redoc did not render (no redoc-wrap in the DOM)")
    expect("Something went wrong" not in dom, "Redoc shows an error")
    expect(not missing, "paths not on the rendered page: %r", missing)


@test
def docker_image_builds_the_reference_and_checks_health(ctx):
    """the Docker build copies every file the binary embeds, and the runtime image has curl for its HEALTHCHECK on /healthz"""
    docker = open("docker/Dockerfile").read()
    build, runtime = docker.split("\nFROM debian:12-slim\n", 1)
    copied = re.findall(r"^COPY (\S+)", build, re.M)
    make = open("Makefile").read()
    embedded = re.search(r"^EMBEDDED := (.*?)(?<!\\)\n", make, re.M | re.S).group(1)
    for path in re.findall(r"=(\S+)", embedded):
        expect(any(path == c.rstrip("/") or path.startswith(c) for c in copied), "the Docker build does not copy %s", path)
    expect(re.search(r"^HEALTHCHECK .*\n?.*curl [^\n]*/healthz", runtime, re.M), "no HEALTHCHECK probing /healthz")
    expect(re.search(r"apt-get install[^&]*\bcurl\b", runtime), "the runtime image does not install curl")
