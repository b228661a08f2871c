"""Test harness: real `allied serve` processes on loopback, a tiny HTTP client, assertions."""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

BIN = os.environ.get("ALLIED_BIN", "build/allied")
LOGDIR = os.environ.get("ALLIED_TEST_LOGDIR", "build/test-logs")
TESTS = []
# Every (method, request target, status) a test saw, for the contract test (test_contract.py),
# which maps each target to its route pattern and checks the status is in openapi.yaml.
OBSERVED = []


def observe(method, target, status):
    OBSERVED.append((method, target, status))  # list.append is atomic: threads may call it


def test(fn):
    """Registers a test; its name is its docstring (a sentence) or function name."""
    TESTS.append(fn)
    return fn


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    """One `allied serve` on a free loopback port, logging to a file."""
    count = 0

    def __init__(self, **env):
        Server.count += 1
        self.port = free_port()
        os.makedirs(LOGDIR, exist_ok=True)
        self.log_path = os.path.join(LOGDIR, "server-%d-%d.log" % (os.getpid(), Server.count))
        e = dict(os.environ)
        e.update({"ALLIED_LISTEN": "127.0.0.1:%d" % self.port, "ALLIED_LOG": "info",
                  "ALLIED_WEBHOOK_WORKERS": "0",  # webhook tests start their own dispatchers
                  "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=23",
                  "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1:exitcode=24"})
        e.update({k: str(v) for k, v in env.items()})
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([BIN, "serve"], env=e, stdout=self.log, stderr=self.log,
                                     stdin=subprocess.DEVNULL)
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)  # the poll interval while waiting for the port (bounded above)
        raise RuntimeError("server did not start; see " + self.log_path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.log.close()
        if rc != 0 and sig == signal.SIGTERM:
            # Rare under a loaded machine so far: say why, so the next one can be diagnosed.
            sys.stderr.write("server on port %d exited %d; the end of %s:\n%s\n"
                             % (self.port, rc, self.log_path, self.log_text()[-3000:]))
        return rc

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def h(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return "<%d %s>" % (self.status, self.body[:300])


class Client:
    def __init__(self, port, key=None):
        self.port = port
        self.key = key

    def req(self, method, path, body=None, headers=None, key=None, raw=None, ctype="application/json"):
        h = {}
        k = key if key is not None else self.key
        if k:
            h["Authorization"] = "Bearer " + k
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None and ctype:
            h["Content-Type"] = ctype
        h.update(headers or {})
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            resp = Resp(r.status, r.getheaders(), r.read())
            observe(method, path, resp.status)
            return resp
        finally:
            c.close()

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.req("POST", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.req("PATCH", path, body, **kw)

    def delete(self, path, **kw):
        return self.req("DELETE", path, **kw)


def raw_http(port, data, timeout=5):
    """Sends raw bytes, returns everything the server sends back until it closes or times out.
    Returns (bytes, closed) where closed says the server closed the connection."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered early and closed; read what it said
    out = b""
    closed = False
    try:
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                closed = True
                break
            out += chunk
    except socket.timeout:
        pass
    s.close()
    # The first request line and the first status line, if both are there.
    req = data.split(b"\r\n", 1)[0].split(b" ")
    status = out.split(b"\r\n", 1)[0].split(b" ")
    if len(req) == 3 and len(status) >= 2 and status[0].startswith(b"HTTP/") and status[1].isdigit():
        observe(req[0].decode("latin-1"), req[1].decode("latin-1"), int(status[1]))
    return out, closed


def expect_refused(port, data, status, timeout=5):
    """Sends raw bytes and expects the answer `status` and the connection closed after it."""
    out, closed = raw_http(port, data, timeout)
    expect(out.startswith(b"HTTP/1.1 %d" % status), "%r", out[:300])
    expect(closed, "connection left open")
    return out


def cli(*args):
    out = subprocess.run([BIN] + list(args), capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise RuntimeError("allied %s failed: %s" % (" ".join(args), out.stderr))
    return json.loads(out.stdout)


def new_tenant(name="test tenant"):
    """Returns (tenant_id, admin_key)."""
    t = cli("tenant", "create", "--name", name)
    return t["tenant_id"], t["api_key"]["key"]


def tenant_client(name, port=None):
    """A Client with the admin key of a new tenant named `name`, on `port` (the main server's)."""
    return Client(port or MAIN.port, new_tenant(name)[1])


PSQL = shutil.which("psql") or "/usr/lib/postgresql/15/bin/psql"


def psql(sql, url=None, check=True, timeout=60):
    """Runs SQL as the database owner (tests use it only to simulate the passage of time)."""
    out = subprocess.run([PSQL, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", url or os.environ["DATABASE_URL"],
                          "-c", sql], capture_output=True, text=True, timeout=timeout)
    if check and out.returncode != 0:
        raise RuntimeError(out.stderr)
    return out.stdout.strip()


def hold_lock(lock_sql, seconds):
    """Starts psql holding a lock (`lock_sql`) for `seconds`; returns the process once the lock is held."""
    p = subprocess.Popen([PSQL, "-X", "-q", "-d", os.environ["DATABASE_URL"], "-c",
                          "BEGIN; %s; SELECT pg_sleep(%s); COMMIT;" % (lock_sql, seconds)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_session("wait_event = 'PgSleep'", "the lock holder did not start")
    return p


def refused_at_start(**settings):
    """Runs `allied serve` with `settings` and without ALLIED_TEST_MODE; expects it to refuse to
    start. -> its stderr lines (a test-only setting names itself and ALLIED_TEST_MODE in one)."""
    env = dict(os.environ, ALLIED_LISTEN="127.0.0.1:1", **settings)
    env.pop("ALLIED_TEST_MODE", None)
    out = subprocess.run([BIN, "serve"], env=env, capture_output=True, text=True, timeout=30)
    expect(out.returncode != 0, "started: %r", out)
    return out.stderr.strip().splitlines()


def wait_until(predicate, why, timeout=10):
    """Waits until predicate() returns something true and returns that; raises AssertionError(why)
    if it has not by `timeout` seconds (`why` may be a function, called then, to describe what was
    seen). The way tests wait for something to happen: on the condition itself, never a fixed sleep."""
    deadline = time.time() + timeout
    while True:
        got = predicate()
        if got:
            return got
        if time.time() > deadline:
            raise AssertionError("%s (waited %g s)" % (why() if callable(why) else why, timeout))
        time.sleep(0.02)  # the poll interval, not a wait for anything


def wait_for_session(condition, why, seconds=10):
    """Waits until some session in pg_stat_activity matches `condition` (e.g. a request waiting for a lock)."""
    wait_until(lambda: psql("SELECT count(*) FROM pg_stat_activity WHERE " + condition) != "0", why, seconds)


def accept_queue(server):
    """How many connections to `server` the kernel has completed that the server has not accepted
    yet (the backlog of its listening socket, from /proc/net/tcp): 0 means every connection made
    so far has reached the server."""
    listening, waiting = False, 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            col = row.split()
            # local_address HEXIP:HEXPORT, state 0A = LISTEN, tx_queue:rx_queue (rx = the backlog)
            if col[3] == "0A" and int(col[1].rsplit(":", 1)[1], 16) == server.port:
                listening, waiting = True, waiting + int(col[4].split(":")[1], 16)
    if not listening:
        raise AssertionError("no listening socket on port %d" % server.port)
    return waiting


def expect(cond, msg="", *args):
    if not cond:
        raise AssertionError((msg % args) if args else msg)


def expect_status(r, status):
    expect(r.status == status, "expected %d, got %r", status, r)


def expect_problem(r, status, slug=None, field=None):
    """The response is an RFC 9457 problem of `status` (and type slug / errors field)."""
    expect_status(r, status)
    ct = r.h("content-type") or ""
    expect(ct.startswith("application/problem+json"), "content-type %r for %r", ct, r)
    j = r.json
    expect(isinstance(j, dict) and j.get("status") == status and j.get("title") and
           j.get("type", "").startswith("https://allied.dev/problems/"), "not a problem: %r", r)
    if slug:
        expect(j["type"].endswith("/" + slug), "expected type %s, got %s", slug, j["type"])
    if field:
        fields = [e.get("field") for e in j.get("errors", [])]
        expect(field in fields, "expected error on %s, got %r", field, j)
    expect(r.h("x-request-id"), "no X-Request-Id")


def parallel(n, fn):
    """Runs fn(i) for i in range(n) on n threads released together; returns results in order."""
    results = [None] * n
    barrier = threading.Barrier(n)

    def run(i):
        barrier.wait()
        try:
            results[i] = fn(i)
        except Exception as e:  # noqa: BLE001 - reported by the caller
            results[i] = e
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results
