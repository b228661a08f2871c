#!/usr/bin/env python3
"""`make soak`: what a PostgreSQL outage costs a running server, and that it comes back by itself.

Starts a private PostgreSQL cluster (scripts/pg.sh) and `allied serve` with webhook dispatchers,
checks a webhook is delivered, stops PostgreSQL for OUTAGE_SECONDS (default 30), and prints the
server's CPU seconds and log lines per second during the outage (and while idle before it, for
comparison). Then it restarts PostgreSQL and shows the service recovers: an API request gets 200
and a new event is delivered to the webhook receiver again. Exits 1 when a bound is broken
(more than MAX_LINES_PER_S log lines per second or MAX_CPU_PERCENT of one core during the outage,
or no recovery). Bounded in time: at most about OUTAGE_SECONDS + 100 s. Not run by CI."""
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "http"))
from lib import free_port, wait_until  # noqa: E402

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(TOP, os.environ.get("BUILD", "build"), "allied")
OUTAGE = float(os.environ.get("OUTAGE_SECONDS", "30"))
WORKERS = os.environ.get("OUTAGE_WEBHOOK_WORKERS", "2")
MAX_LINES_PER_S = float(os.environ.get("MAX_LINES_PER_S", "1"))
MAX_CPU_PERCENT = float(os.environ.get("MAX_CPU_PERCENT", "2"))
TICK = os.sysconf("SC_CLK_TCK")


def pg(cmd, d):
    return subprocess.run(["sh", os.path.join(TOP, "scripts", "pg.sh"), cmd, d], check=True,
                          capture_output=True, text=True, timeout=120).stdout.strip()


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def log_lines(path):
    with open(path, "rb") as f:
        return f.read().count(b"\n")


def request(port, key, method, path, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        h = {"Authorization": "Bearer " + key}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        return r.status, r.read()
    except OSError as e:
        return 0, str(e).encode()
    finally:
        c.close()


class Receiver:
    def __init__(self):
        self.calls = []
        calls = self.calls

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                calls.append(time.time())
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d/hook" % self.httpd.server_address[1]

    def wait(self, n, timeout):
        try:
            wait_until(lambda: len(self.calls) >= n, "", timeout)
            return True
        except AssertionError:
            return False


def main():
    pgdir = os.path.join(TOP, ".pg", "soak-%d" % os.getpid())
    logpath = os.path.join(TOP, os.environ.get("BUILD", "build"), "soak-outage-%d.log" % os.getpid())
    srv = None
    rx = Receiver()
    ok = True
    try:
        url = pg("start", pgdir)
        env = dict(os.environ, DATABASE_URL=url)
        subprocess.run([BIN, "migrate"], env=env, check=True, capture_output=True, timeout=120)
        key = json.loads(subprocess.run([BIN, "tenant", "create", "--name", "soak"], env=env, check=True,
                                        capture_output=True, text=True, timeout=30).stdout)["api_key"]["key"]
        port = free_port()
        env.update({"ALLIED_LISTEN": "127.0.0.1:%d" % port, "ALLIED_LOG": "info",
                    "ALLIED_WEBHOOK_WORKERS": WORKERS, "ALLIED_WEBHOOK_ALLOW_PRIVATE": "1"})
        log = open(logpath, "wb")
        srv = subprocess.Popen([BIN, "serve"], env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        wait_until(lambda: request(port, key, "GET", "/v1/partners")[0] == 200, "the server did not start")
        p = json.loads(request(port, key, "POST", "/v1/partners", {"name": "Soak"})[1])
        status, body = request(port, key, "POST", "/v1/webhook-endpoints", {"url": rx.url, "events": ["*"]})
        assert status == 201, status
        ep = json.loads(body)
        request(port, key, "POST", "/v1/referrals", {"partner_id": p["id"], "direction": "inbound",
                                                     "prospect": {"name": "Before"}})
        assert rx.wait(1, 15), "no delivery before the outage"

        # an idle baseline to compare with (5 s), once every delivery so far is recorded as done
        def delivered():
            status, body = request(port, key, "GET", "/v1/webhook-endpoints/%s/deliveries" % ep["id"])
            d = json.loads(body)["data"] if status == 200 else []
            return d and all(x["status"] == "succeeded" for x in d)
        wait_until(delivered, "the delivery before the outage was not recorded")
        c0, l0, t0 = cpu_seconds(srv.pid), log_lines(logpath), time.time()
        time.sleep(5)  # the subject: what an idle server costs in 5 s
        idle_cpu, idle_lines, idle_s = cpu_seconds(srv.pid) - c0, log_lines(logpath) - l0, time.time() - t0

        c0, l0, t0 = cpu_seconds(srv.pid), log_lines(logpath), time.time()
        pg("stop", pgdir)
        time.sleep(max(0.0, OUTAGE - (time.time() - t0)))  # the subject: what the outage costs
        out_cpu, out_lines, out_s = cpu_seconds(srv.pid) - c0, log_lines(logpath) - l0, time.time() - t0
        mid_status = request(port, key, "GET", "/v1/partners")[0]  # after the measurement: it logs

        pg("start", pgdir)
        t_up = time.time()
        try:
            wait_until(lambda: request(port, key, "GET", "/v1/partners")[0] == 200, "", 30)
            api_back = time.time() - t_up
        except AssertionError:
            api_back = None
        n = len(rx.calls)
        request(port, key, "POST", "/v1/referrals", {"partner_id": p["id"], "direction": "inbound",
                                                     "prospect": {"name": "After"}})
        t_ev = time.time()
        hooks_back = time.time() - t_ev if rx.wait(n + 1, 45) else None

        with open(logpath, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        outage_logged = text.count("webhook dispatcher: cannot")
        recovery_logged = text.count("webhook dispatcher: the database is back")
        print("PostgreSQL outage of %.1f s under `allied serve` (%s webhook dispatcher threads, 4 database workers)"
              % (out_s, WORKERS))
        print("  idle before:     %.3f CPU s in %.1f s (%.2f %% of a core), %.2f log lines/s"
              % (idle_cpu, idle_s, 100 * idle_cpu / idle_s, idle_lines / idle_s))
        print("  during outage:   %.3f CPU s in %.1f s (%.2f %% of a core), %d log lines = %.2f log lines/s"
              % (out_cpu, out_s, 100 * out_cpu / out_s, out_lines, out_lines / out_s))
        print("  dispatcher logged the outage %d time(s) and the recovery %d time(s)" % (outage_logged, recovery_logged))
        print("  API during the outage: GET /v1/partners -> %d" % mid_status)
        print("  API after PostgreSQL restart: %s" % ("200 after %.2f s" % api_back if api_back is not None else "NO 200 within 30 s"))
        print("  webhooks after restart: %s" % ("new event delivered %.2f s after it was committed" % hooks_back
                                               if hooks_back is not None else "NOT delivered within 45 s"))
        if out_lines / out_s > MAX_LINES_PER_S or 100 * out_cpu / out_s > MAX_CPU_PERCENT:
            print("FAIL: the outage costs more than %.1f log lines/s or %.1f %% CPU" % (MAX_LINES_PER_S, MAX_CPU_PERCENT))
            ok = False
        if api_back is None or hooks_back is None or outage_logged != 1 or recovery_logged != 1:
            print("FAIL: no clean recovery (see %s)" % logpath)
            ok = False
    finally:
        if srv:
            srv.terminate()
            try:
                srv.wait(30)
            except subprocess.TimeoutExpired:
                srv.kill()
        try:
            pg("stop", pgdir)
        except Exception:  # noqa: BLE001
            pass
        subprocess.run(["rm", "-rf", pgdir])
        rx.httpd.shutdown()
    print("ok" if ok else "soak failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
