"""Allied behind a TLS-terminating reverse proxy: nginx with exactly the server block that
docker/nginx.conf documents, in front of a real `allied serve`, answering HTTP/2 over TLS."""
import os
import shutil
import subprocess
import tempfile
import time

import lib
from lib import expect, new_tenant, test

MAIN_CONF = """daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
worker_processes 1;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    include {d}/allied.conf;
}}
"""


class Nginx:
    """nginx on a free loopback port, TLS with a throwaway self-signed certificate."""

    def __init__(self, upstream_port):
        self.dir = tempfile.mkdtemp(prefix="allied-nginx-")
        os.chmod(self.dir, 0o755)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=localhost", "-keyout", self.dir + "/privkey.pem",
                        "-out", self.dir + "/fullchain.pem"], check=True, capture_output=True)
        self.port = lib.free_port()
        snippet = open("docker/nginx.conf").read()
        snippet = (snippet.replace("@UPSTREAM@", "127.0.0.1:%d" % upstream_port)
                   .replace("@LISTEN@", "127.0.0.1:%d" % self.port).replace("@CERT_DIR@", self.dir))
        open(self.dir + "/allied.conf", "w").write(snippet)
        open(self.dir + "/nginx.conf", "w").write(MAIN_CONF.format(d=self.dir))
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.makedirs(os.path.join(self.dir, sub), mode=0o777, exist_ok=True)
            os.chmod(os.path.join(self.dir, sub), 0o777)  # nginx's workers drop root
        self.proc = subprocess.Popen([shutil.which("nginx") or "/usr/sbin/nginx", "-c", self.dir + "/nginx.conf",
                                     "-p", self.dir], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.curl("/healthz", check=False)[0] == 200:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("nginx did not start: %s" % open(self.dir + "/error.log").read())

    def curl(self, path, method="GET", key=None, body=None, headers=(), check=True):
        """(status, http version, headers text, body) of one request over HTTP/2 + TLS."""
        cmd = ["curl", "-sk", "--http2", "-X", method, "-D", "-", "-o", self.dir + "/out",
               "-w", "\n%{http_code} %{http_version}", "https://127.0.0.1:%d%s" % (self.port, path)]
        if key:
            cmd += ["-H", "Authorization: Bearer " + key]
        for h in headers:
            cmd += ["-H", h]
        if body is not None:
            cmd += ["-H", "Content-Type: application/json", "--data-binary", "@-"]
        out = subprocess.run(cmd, input=body.encode() if isinstance(body, str) else body,
                             capture_output=True, check=check)
        text = out.stdout.decode(errors="replace")
        if not text.strip():
            return 0, "", "", b""
        head, _, last = text.rpartition("\n")
        status, version = last.split()
        if int(status) == 0:  # no answer (not listening yet)
            return 0, "", "", b""
        return int(status), version, head.lower(), open(self.dir + "/out", "rb").read()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


@test
def allied_behind_nginx_speaks_http2_over_tls(ctx):
    """behind nginx with docker/nginx.conf: HTTP/2 over TLS, keys, writes, request ids and Allied's own 413 all pass through"""
    _, key = new_tenant("behind a proxy")
    proxy = Nginx(lib.MAIN.port)
    try:
        status, version, _, _ = proxy.curl("/healthz")
        expect(status == 200 and version == "2", "healthz via nginx: %s over HTTP/%s", status, version)
        status, _, head, body = proxy.curl("/v1/partners", "POST", key, '{"name": "Via TLS"}')
        expect(status == 201 and b'"Via TLS"' in body and "location: /v1/partners/" in head,
               "create via nginx: %s %r", status, body[:200])
        status, _, head, _ = proxy.curl("/v1/partners?limit=1", key=key, headers=["X-Request-Id: proxy-check-1"])
        expect(status == 200 and "x-request-id: proxy-check-1" in head, "request id passed through: %s %s",
               status, head)
        status, _, _, body = proxy.curl("/v1/partners", key="ak_wrong.secret")
        expect(status == 401 and b'"status":401' in body,
               "Allied's own 401 comes through: %s %r", status, body[:200])
        big = '{"name": "%s"}' % ("x" * (2 << 20))  # over ALLIED_MAX_BODY_BYTES, under nginx's cap
        status, _, head, body = proxy.curl("/v1/partners", "POST", key, big)
        expect(status == 413 and "application/problem+json" in head, "Allied's 413 through nginx: %s %s",
               status, head)
    finally:
        proxy.stop()


def bad_key_from(srv, i, forwarded_for):
    r = lib.Client(srv.port, "ak_%012x_%s" % (i, "C" * 43)).get("/v1/partners",
                                                                  headers={"X-Forwarded-For": forwarded_for})
    return r.status


@test
def trusted_proxy_forwarded_address_is_the_client(ctx):
    """behind a trusted proxy (ALLIED_TRUSTED_PROXIES) the per-address throttle counts each forwarded client; from anyone else X-Forwarded-For is ignored"""
    limits = {"ALLIED_AUTH_FAILURES_PER_ADDRESS": 3, "ALLIED_AUTH_FAILURES_PER_PREFIX": 0}
    with lib.Server(ALLIED_TRUSTED_PROXIES="127.0.0.1, ::1", **limits) as srv:
        seen = [bad_key_from(srv, i, "203.0.113.1") for i in range(5)]
        expect(seen[:3] == [401] * 3 and seen[3:] == [429] * 2, "client 1: %r", seen)
        # another client behind the same proxy is not held back by the first one's failures;
        # entries left of it (which the client wrote itself) and trusted hops right of it are skipped
        r = bad_key_from(srv, 10, "198.51.100.7, 203.0.113.2, 127.0.0.1")
        expect(r == 401, "client 2 throttled with client 1: %s", r)
        garbled = bad_key_from(srv, 11, "not-an-address")  # ignored: the peer (the proxy) counts
        expect(garbled == 401, "garbled X-Forwarded-For: %s", garbled)
    with lib.Server(**limits) as srv:  # no trusted proxy: the header is the client's word, worth nothing
        seen = [bad_key_from(srv, i, "203.0.113.%d" % i) for i in range(5)]
        expect(seen[:3] == [401] * 3 and seen[3:] == [429] * 2, "untrusted X-Forwarded-For: %r", seen)


@test
def trusted_proxies_setting_is_checked_at_start(ctx):
    """a malformed ALLIED_TRUSTED_PROXIES stops `allied serve` at start with a one-line error"""
    env = dict(os.environ, ALLIED_TRUSTED_PROXIES="10.0.0.0/8, 300.1.2.3", ALLIED_LISTEN="127.0.0.1:%d" % lib.free_port())
    out = subprocess.run([lib.BIN, "serve"], env=env, capture_output=True, text=True, timeout=30)
    expect(out.returncode == 2 and "300.1.2.3" in out.stderr and out.stderr.count("\n") == 1,
           "rc %s: %r", out.returncode, out.stderr)
