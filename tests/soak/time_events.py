#!/usr/bin/env python3
"""`make soak`: what the scheduler of time-based events (api/time_events.c) costs when nothing is
due, and how long it takes to announce 100,000 due items. Figures for README "Time-based events".

On a private PostgreSQL cluster (pg_stat_statements preloaded), with some not-yet-due data
(NOT_DUE referrals and partners):
  1. idle, ALLIED_TIME_EVENTS=0, for IDLE_SECONDS (the baseline: every other background loop);
  2. idle, ALLIED_TIME_EVENTS=1, for IDLE_SECONDS: the difference is the scheduler's cost —
     the allied process's CPU seconds, statements (pg_stat_statements calls) and their database
     time, and transactions (pg_stat_database xact_commit), per minute;
  3. lag: DUE referrals inserted by SQL with acknowledge_by in the past, and for each a pending
     commission whose payable_at has passed, then a server started: seconds until all DUE
     referral.acknowledgement_overdue and all DUE commission.payable occurrences are recorded;
  4. idle again, the DUE referrals still `submitted` and the DUE commissions still `pending`
     (announced, still due: marked out of the scans' partial indexes, migrations 0027 and 0028).
Prints the figures; asserts nothing (bounded: about 3 x IDLE_SECONDS + LAG_TIMEOUT seconds).
Usage: python3 tests/soak/time_events.py  (IDLE_SECONDS=120 DUE=100000 NOT_DUE=10000 LAG_TIMEOUT=600
TOP_STATEMENTS=3)"""
import os
import sys
import time

os.environ.setdefault("PG_STAT_STATEMENTS", "1")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import soaklib  # noqa: E402
from soaklib import lib  # noqa: E402

IDLE = float(os.environ.get("IDLE_SECONDS", "120"))
DUE = int(os.environ.get("DUE", "100000"))
NOT_DUE = int(os.environ.get("NOT_DUE", "10000"))
LAG_TIMEOUT = float(os.environ.get("LAG_TIMEOUT", "600"))
TOP = int(os.environ.get("TOP_STATEMENTS", "3"))  # the costliest statements of each idle window, shown
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def counters():
    """(statements, their database milliseconds, committed transactions) so far."""
    row = lib.psql("SELECT (SELECT coalesce(sum(calls), 0) FROM pg_stat_statements), "
                   "(SELECT coalesce(sum(total_exec_time), 0) FROM pg_stat_statements), "
                   "(SELECT xact_commit FROM pg_stat_database WHERE datname = current_database())")
    s, ms, x = row.split("|")
    return int(s), float(ms), int(x)


def idle(label, **env):
    """Runs a server for IDLE seconds with nothing due; returns per-minute (cpu s, statements, db ms, xacts)."""
    with lib.Server(**env) as srv:
        time.sleep(2)  # start-up statements (migrations check, listeners) settle: not part of the idle cost
        lib.psql("SELECT pg_stat_statements_reset(), pg_stat_reset()")
        lib.psql("SELECT pg_stat_force_next_flush()", check=False)
        c0, n0 = cpu_seconds(srv.proc.pid), counters()
        time.sleep(IDLE)  # the measurement window itself
        c1, n1 = cpu_seconds(srv.proc.pid), counters()
        top = lib.psql("SELECT round(total_exec_time::numeric, 1) || ' ms, ' || calls || ' calls: ' || "
                       "left(regexp_replace(query, '\\s+', ' ', 'g'), 90) FROM pg_stat_statements "
                       "ORDER BY total_exec_time DESC LIMIT %d" % TOP)
    per_min = 60.0 / IDLE
    fig = ((c1 - c0) * per_min, (n1[0] - n0[0]) * per_min, (n1[1] - n0[1]) * per_min, (n1[2] - n0[2]) * per_min)
    print("%-44s cpu %.3f s/min, %.1f statements/min (%.1f ms db), %.1f transactions/min" % ((label,) + fig),
          flush=True)
    for line in top.splitlines():
        print("    " + line, flush=True)
    return fig


def seed(tenant):
    """A partner, NOT_DUE submitted referrals due in a week and NOT_DUE recent active partners."""
    partner = lib.psql("INSERT INTO partners (tenant_id, id, name, status) VALUES ('%s', gen_random_uuid(), "
                       "'soak', 'active') RETURNING id" % tenant)
    lib.psql("INSERT INTO referrals (tenant_id, id, partner_id, direction, prospect, acknowledge_by) "
             "SELECT '%s', gen_random_uuid(), '%s', 'inbound', '{\"name\": \"P\"}', now() + interval '7 days' "
             "FROM generate_series(1, %d)" % (tenant, partner, NOT_DUE))
    lib.psql("INSERT INTO partners (tenant_id, id, name, status) SELECT '%s', gen_random_uuid(), 'p' || g, 'active' "
             "FROM generate_series(1, %d) g" % (tenant, NOT_DUE))
    lib.psql("ANALYZE")
    return partner


def lag(tenant, partner):
    """Seconds from a server's start until all DUE overdue referrals and all DUE payable
    commissions are announced."""
    lib.psql("INSERT INTO referrals (tenant_id, id, partner_id, direction, prospect, acknowledge_by) "
             "SELECT '%s', gen_random_uuid(), '%s', 'inbound', '{\"name\": \"P\"}', "
             "now() - interval '1 hour' - g * interval '10 ms' FROM generate_series(1, %d) g" % (tenant, partner, DUE),
             timeout=600)
    lib.psql("INSERT INTO commissions (tenant_id, id, referral_id, partner_id, kind, type, amount, currency, "
             "share_bps, payable_at) SELECT tenant_id, gen_random_uuid(), id, partner_id, 'payable', 'commission', "
             "1000, 'EUR', 10000, acknowledge_by FROM referrals WHERE tenant_id = '%s' AND acknowledge_by < now()"
             % tenant, timeout=600)
    lib.psql("ANALYZE")
    announced = ("SELECT count(*) FILTER (WHERE kind = 'referral.acknowledgement_overdue'), "
                 "count(*) FILTER (WHERE kind = 'commission.payable') FROM time_event_occurrences "
                 "WHERE tenant_id = '%s'" % tenant)
    t0 = time.time()
    took = {}
    with lib.Server() as srv:
        started = time.time()
        c0 = cpu_seconds(srv.proc.pid)
        while len(took) < 2 and time.time() < started + LAG_TIMEOUT:
            time.sleep(1)  # the soak's poll interval: counting costs the database, so not more often
            for kind, n in zip(("referrals", "commissions"), lib.psql(announced).split("|")):
                if int(n) >= DUE and kind not in took:
                    took[kind] = time.time() - started
        done = time.time()
        cpu = cpu_seconds(srv.proc.pid) - c0
    for kind in ("referrals", "commissions"):
        print("lag: %d due %s announced %s after the server started" % (
            DUE, kind, "%.1f s" % took[kind] if kind in took else "not all (TIMED OUT)"), flush=True)
    n = int(lib.psql("SELECT count(*) FROM feed_events WHERE tenant_id = '%s' "
                     "AND type = 'referral.acknowledgement_overdue'" % tenant))
    n += int(lib.psql("SELECT count(*) FROM feed_events WHERE tenant_id = '%s' AND type = 'commission.payable'"
                      % tenant))
    print("lag: both kinds, %d due items announced %.1f s after the server started (%.1f s with its start), "
          "%.0f events/s, %d in the feed, allied cpu %.1f s%s" % (2 * DUE, done - started, done - t0,
                                                                 2 * DUE / (done - started), n, cpu,
                                                                 "" if n >= 2 * DUE else " (TIMED OUT)"),
          flush=True)


def main():
    with soaklib.server("time-events", ALLIED_TIME_EVENTS="0") as first:
        first.stop()
        lib.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        tenant = lib.cli("tenant", "create", "--name", "soak")["tenant_id"]
        partner = seed(tenant)
        base = idle("idle, scheduler off (baseline):", ALLIED_TIME_EVENTS="0")
        on = idle("idle, scheduler on:", ALLIED_TIME_EVENTS="1")
        d = [a - b for a, b in zip(on, base)]
        print("the scheduler's idle cost (on - off):          cpu %.3f s/min, %.1f statements/min (%.1f ms db), "
              "%.1f transactions/min" % tuple(d), flush=True)
        lag(tenant, partner)
        after = idle("idle, scheduler on, 2 x %d announced still due:" % DUE, ALLIED_TIME_EVENTS="1")
        d = [a - b for a, b in zip(after, base)]
        print("the scheduler's idle cost then (on - off):     cpu %.3f s/min, %.1f statements/min (%.1f ms db), "
              "%.1f transactions/min" % tuple(d), flush=True)


if __name__ == "__main__":
    main()
