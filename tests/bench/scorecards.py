"""Scorecards at scale: a generated tenant with BENCH_PARTNERS partners (default 1,000) and
BENCH_REFERRALS referrals (default 1,000,000) over two years, with commissions for the won ones;
then the year's tenant scorecard and single partners' scorecards are timed over HTTP on loopback.
Prints the timings and the plan's shape; asserts nothing (timings are not tests)."""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "http"))
import lib  # noqa: E402

PARTNERS = int(os.environ.get("BENCH_PARTNERS", "1000"))
REFERRALS = int(os.environ.get("BENCH_REFERRALS", "1000000"))

GENERATE = """
INSERT INTO partners (tenant_id, id, name, status)
  SELECT '{t}', gen_random_uuid(), 'Partner ' || lpad(g::text, 5, '0'), 'active' FROM generate_series(1, {np}) g;
CREATE TEMP TABLE ids AS SELECT array_agg(id ORDER BY name) AS a FROM partners WHERE tenant_id = '{t}';
INSERT INTO referrals (tenant_id, id, partner_id, direction, status, prospect, acknowledge_by, acknowledged_at,
    qualified_at, deal_amount, deal_currency, closed_at, created_at, updated_at)
  SELECT '{t}', gen_random_uuid(), ids.a[1 + (g * 7901) % {np}], CASE WHEN g % 3 = 0 THEN 'outbound' ELSE 'inbound' END,
    st, '{{"name": "Generated"}}', c + interval '48 hours',
    CASE WHEN st NOT IN ('submitted', 'withdrawn') THEN c + ((g * 13) % 97) * interval '1 hour' END,
    CASE WHEN st IN ('engaged', 'won') THEN c + interval '5 days' END,
    CASE WHEN st = 'won' THEN 10000 + (g * 31) % 990000 END,
    CASE WHEN st = 'won' THEN (ARRAY['EUR', 'USD', 'GBP'])[1 + (g * 17) % 3] END,
    CASE WHEN st IN ('won', 'lost', 'declined', 'withdrawn') THEN c + interval '20 days' END, c, c
  FROM generate_series(1::bigint, {nr}) g, ids,
  LATERAL (SELECT now() - ((g * 104729) % (730 * 86400)) * interval '1 second' AS c,
    (ARRAY['submitted', 'acknowledged', 'engaged', 'won', 'won', 'lost', 'declined', 'withdrawn'])[1 + (g * 7919) % 8] AS st) x;
INSERT INTO commissions (tenant_id, id, referral_id, partner_id, kind, type, amount, currency, share_bps, status,
    payable_at, created_at, updated_at)
  SELECT tenant_id, gen_random_uuid(), id, partner_id, CASE WHEN direction = 'inbound' THEN 'payable' ELSE 'receivable' END,
    'commission', deal_amount / 10 + 1, deal_currency, 10000,
    CASE WHEN closed_at < now() - interval '90 days' THEN 'paid' ELSE 'pending' END, closed_at + interval '30 days',
    closed_at, closed_at
  FROM referrals WHERE tenant_id = '{t}' AND status = 'won';
"""


def timed(c, path, n, headers=None):
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = c.get(path, headers=headers)
        out.append((time.perf_counter() - t0) * 1000)
        if r.status != 200:
            raise RuntimeError("%s: %r" % (path, r))
    return out


def show(name, ms):
    ms = sorted(ms)
    print("%-44s n=%-3d median %8.1f ms   p95 %8.1f ms   max %8.1f ms" %
          (name, len(ms), statistics.median(ms), ms[int(0.95 * (len(ms) - 1))], ms[-1]))


def main():
    tenant, key = lib.new_tenant("scorecard bench")
    t0 = time.time()
    lib.psql(GENERATE.format(t=tenant, np=PARTNERS, nr=REFERRALS), timeout=1800)
    lib.psql("VACUUM (ANALYZE) referrals", timeout=1800)
    lib.psql("VACUUM (ANALYZE) commissions")
    counts = lib.psql("SELECT (SELECT count(*) FROM referrals WHERE tenant_id = '%s') || ' referrals, ' || "
                      "(SELECT count(*) FROM commissions WHERE tenant_id = '%s') || ' commissions'" % (tenant, tenant))
    print("scorecards: %d partners, %s generated in %.0f s" % (PARTNERS, counts, time.time() - t0))
    srv = lib.Server(ALLIED_LOG="warn")
    try:
        c = lib.Client(srv.port, key)
        year = "from=%s&to=%s" % (time.strftime("%Y-%m-%d", time.gmtime(time.time() - 364 * 86400)),
                                 time.strftime("%Y-%m-%d", time.gmtime()))
        pids = [p for p in lib.psql("SELECT id FROM partners WHERE tenant_id = '%s' ORDER BY random() LIMIT 50"
                                    % tenant).split()]
        c.get("/v1/reports/partners?" + year)  # prepares the statement on each connection it reaches
        show("GET /v1/reports/partners (year, all)", timed(c, "/v1/reports/partners?" + year, 5))
        show("GET /v1/reports/partners (year, CSV)",
             timed(c, "/v1/reports/partners?" + year, 3, {"Accept": "text/csv"}))
        single = []
        for pid in pids:
            single += timed(c, "/v1/reports/partners/%s?%s" % (pid, year), 1)
        show("GET /v1/reports/partners/{id} (year)", single)
        show("GET /v1/reports/summary (year)", timed(c, "/v1/reports/summary?" + year, 5))
    finally:
        srv.stop()
    print("targets (issue 6): tenant year scorecard < 1000 ms, one partner < 50 ms")


if __name__ == "__main__":
    main()
