"""Background work while PostgreSQL is away: the webhook dispatcher backs off, logs the outage
once and the recovery once, burns no CPU, and resumes by itself. (`make soak` measures a 30 s
outage; these are the short versions that run in `make test`.)"""
import os
import subprocess
import time
from lib import test, expect, expect_status, free_port, wait_until, Client, Server
from test_webhooks import FAST, Receiver, setup, endpoint

TICK = os.sysconf("SC_CLK_TCK")
TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def dispatcher_lines(text, what):
    return [line for line in text.splitlines() if "webhook dispatcher: " + what in line]


@test
def dispatcher_without_database_logs_once(ctx):
    """a webhook dispatcher whose database is unreachable logs that once and uses almost no CPU"""
    dead = "postgresql://allied@127.0.0.1:%d/allied" % free_port()  # nothing listens there
    srv = Server(DATABASE_URL=dead, ALLIED_WEBHOOK_WORKERS=2, ALLIED_BACKOFF_MAX_MS=1000)
    try:
        c0 = cpu_seconds(srv.proc.pid)
        time.sleep(2.5)  # the subject: the CPU and log lines the dispatchers spend in 2.5 s without a database
        cpu = cpu_seconds(srv.proc.pid) - c0
    finally:
        rc = srv.stop()
    text = srv.log_text()
    lines = text.splitlines()
    # before the fix: tens of thousands of lines and a full core in 3 s
    expect(len(dispatcher_lines(text, "cannot connect")) == 1, "outage logged once:\n%s", text[-2000:])
    # one line each: the key cache, the dispatcher, the audit pruner, the time-event scheduler,
    # listening, draining, stopped
    # the time-event scheduler is a background loop too: its outage once as well (one line more)
    expect(len([x for x in lines if "time events: cannot connect" in x]) == 1, "scheduler outage logged once:\n%s",
           text[-2000:])
    # the mail sender: one line at start (here: ALLIED_SMTP_URL is not set, nothing is sent)
    expect(len(lines) <= 8, "%d log lines in 2.5 s:\n%s", len(lines), "\n".join(lines[:10]))
    expect(cpu < 0.5, "%.2f CPU seconds in 2.5 s", cpu)
    expect(rc == 0, "exit %d", rc)


def pg(cmd):
    return subprocess.run(["sh", os.path.join(TOP, "scripts", "pg.sh"), cmd, os.environ["ALLIED_TEST_PGDIR"]],
                          check=True, capture_output=True, text=True, timeout=120).stdout.strip()


@test
def outage_logged_once_and_deliveries_resume(ctx):
    """a PostgreSQL outage is logged once, costs no CPU, and webhook deliveries resume by themselves"""
    if not os.environ.get("ALLIED_TEST_PGDIR"):
        print("     (skipped: the tests run against an external DATABASE_URL they may not stop)")
        return
    rx = Receiver()
    srv = Server(**dict(FAST, ALLIED_WEBHOOK_WORKERS=2, ALLIED_BACKOFF_MAX_MS=500))
    stopped = False
    try:
        c, p = setup(srv, "outage")
        endpoint(c, rx.url("/ok"), ["referral.submitted"])
        c.post("/v1/referrals", {"partner_id": p["id"], "direction": "inbound", "prospect": {"name": "Before"}})
        rx.wait("/ok", 1)
        c0 = cpu_seconds(srv.proc.pid)
        pg("stop")
        stopped = True
        time.sleep(2.5)  # the subject: the CPU the dispatchers spend during a 2.5 s outage
        cpu = cpu_seconds(srv.proc.pid) - c0
        expect_status(c.get("/v1/partners"), 503)
        pg("start")
        stopped = False
        last = []

        def submitted():
            last[:] = [c.post("/v1/referrals", {"partner_id": p["id"], "direction": "inbound", "prospect": {"name": "After"}})]
            return last[0].status == 201
        wait_until(submitted, lambda: "no referral accepted after the restart: %r" % last)
        rx.wait("/ok", 2, timeout=10)
        text = srv.log_text()
        expect(len(dispatcher_lines(text, "cannot")) == 1, "outage logged once:\n%s",
               "\n".join(dispatcher_lines(text, "")))
        expect(len(dispatcher_lines(text, "the database is back")) == 1, "recovery logged once:\n%s",
               "\n".join(dispatcher_lines(text, "")))
        expect(cpu < 0.5, "%.2f CPU seconds during a 2.5 s outage", cpu)
    finally:
        if stopped:
            pg("start")
        srv.stop()
        rx.close()
    # the shared test server reconnects too
    expect_status(Client(ctx.MAIN.port, c.key).get("/v1/partners"), 200)
