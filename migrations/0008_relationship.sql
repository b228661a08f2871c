-- Keeping partnerships healthy: commitments, check-ins, qualification notes, and what the
-- scorecards need to stay fast on millions of referrals.

-- Set when a referral first reaches engaged or won (the workflow door does it), so a "qualified"
-- count needs no timeline scan.
ALTER TABLE referrals ADD COLUMN qualified_at timestamptz;
COMMENT ON COLUMN referrals.qualified_at IS 'First time the referral reached engaged or won (qualified introduction)';
UPDATE referrals r SET qualified_at = (SELECT min(e.at) FROM referral_events e WHERE e.tenant_id = r.tenant_id
  AND e.referral_id = r.id AND e.to_status IN ('engaged', 'won'));

-- Scorecards aggregate a period of referrals per partner: these indexes answer them by an
-- index-only scan of the period, without visiting the table. They replace the listing indexes of
-- 0005 (same keys, plus the INCLUDE columns), so a referral write maintains no extra index.
DROP INDEX referrals_page;
DROP INDEX referrals_partner;
CREATE INDEX referrals_page ON referrals (tenant_id, created_at, id)
  INCLUDE (partner_id, direction, status, acknowledged_at, qualified_at, deal_amount, deal_currency);
CREATE INDEX referrals_partner ON referrals (tenant_id, partner_id, created_at, id)
  INCLUDE (direction, status, acknowledged_at, qualified_at, deal_amount, deal_currency);
DROP INDEX commissions_page;
CREATE INDEX commissions_page ON commissions (tenant_id, created_at, id)
  INCLUDE (partner_id, kind, status, currency, amount);
CREATE INDEX commissions_partner_period ON commissions (tenant_id, partner_id, created_at)
  INCLUDE (kind, status, currency, amount);

ALTER TABLE partners ADD COLUMN qualification jsonb CHECK (qualification IS NULL OR jsonb_typeof(qualification) = 'object');
COMMENT ON COLUMN partners.qualification IS 'Checklist: shared_customers, shared_values, delivers_on_promises, refers_back, reachable (bool|null), notes';

-- 0..100: the share of the five checklist questions answered yes; NULL when none is answered.
CREATE FUNCTION qualification_score(q jsonb) RETURNS int LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN answered = 0 THEN NULL ELSE (100 * yes / 5) END FROM (
    SELECT count(*) FILTER (WHERE jsonb_typeof(q->k) = 'boolean') AS answered,
           count(*) FILTER (WHERE (q->>k)::boolean IS TRUE) AS yes
    FROM unnest(ARRAY['shared_customers', 'shared_values', 'delivers_on_promises', 'refers_back', 'reachable']) k) s
$$;

CREATE OR REPLACE FUNCTION partner_json(p partners) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT row_to_json(x) FROM (SELECT p.id, p.name, p.company, p.email, p.phone, p.website, p.kind,
    p.status, p.ideal_client, p.tags, p.external_id, p.metadata, p.qualification,
    qualification_score(p.qualification) AS qualification_score, p.version,
    api_ts(p.created_at) AS created_at, api_ts(p.updated_at) AS updated_at) x
$$;

CREATE TABLE commitments (
  tenant_id       uuid NOT NULL REFERENCES tenants(id),
  id              uuid NOT NULL,
  partner_id      uuid NOT NULL,
  direction       text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
  target_count    int NOT NULL CHECK (target_count BETWEEN 1 AND 100000),
  qualified_only  boolean NOT NULL DEFAULT false,
  period_start    date NOT NULL,
  period_end      date NOT NULL,
  note            text CHECK (length(note) <= 2000),
  version         bigint NOT NULL DEFAULT 1,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, partner_id) REFERENCES partners(tenant_id, id) ON DELETE CASCADE,
  CHECK (period_end >= period_start)
);
COMMENT ON TABLE commitments IS 'A concrete goal: "two qualified introductions next month"; progress counted from referrals';
CREATE INDEX commitments_partner ON commitments (tenant_id, partner_id, period_start);

CREATE TABLE check_ins (
  tenant_id     uuid NOT NULL REFERENCES tenants(id),
  id            uuid NOT NULL,
  partner_id    uuid NOT NULL,
  held_on       date NOT NULL,
  notes         text CHECK (length(notes) <= 10000),
  next_due_on   date,
  actor_key_id  uuid,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, partner_id) REFERENCES partners(tenant_id, id) ON DELETE CASCADE,
  CHECK (next_due_on IS NULL OR next_due_on >= held_on)
);
COMMENT ON TABLE check_ins IS 'A regular partner meeting; the latest one''s next_due_on says when the next is due';
CREATE INDEX check_ins_partner ON check_ins (tenant_id, partner_id, held_on DESC, created_at DESC);

ALTER TABLE commitments ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON commitments USING (tenant_id = allied_tenant());
ALTER TABLE check_ins ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON check_ins USING (tenant_id = allied_tenant());

-- Progress of a commitment from the referrals themselves.
CREATE FUNCTION commitment_achieved(c commitments) RETURNS int LANGUAGE sql STABLE AS $$
  SELECT count(*)::int FROM referrals r
  WHERE r.tenant_id = c.tenant_id AND r.partner_id = c.partner_id AND r.direction = c.direction
    AND r.created_at >= c.period_start AND r.created_at < c.period_end + 1
    AND (NOT c.qualified_only OR r.qualified_at IS NOT NULL)
$$;

-- met / missed / at_risk (the elapsed share of the period exceeds the achieved share) / open.
CREATE FUNCTION commitment_status(c commitments, achieved int) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT CASE
    WHEN achieved >= c.target_count THEN 'met'
    WHEN current_date > c.period_end THEN 'missed'
    WHEN current_date >= c.period_start AND
         (current_date - c.period_start + 1)::numeric / (c.period_end - c.period_start + 1)
           > achieved::numeric / c.target_count THEN 'at_risk'
    ELSE 'open' END
$$;

CREATE FUNCTION commitment_json(c commitments) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT row_to_json(x) FROM (SELECT c.id, c.partner_id, c.direction, c.target_count, c.qualified_only,
    c.period_start, c.period_end, c.note, a.n AS achieved, commitment_status(c, a.n) AS status, c.version,
    api_ts(c.created_at) AS created_at, api_ts(c.updated_at) AS updated_at
    FROM (SELECT commitment_achieved(c) AS n) a) x
$$;

CREATE FUNCTION check_in_json(k check_ins) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT row_to_json(x) FROM (SELECT k.id, k.partner_id, k.held_on, k.notes, k.next_due_on,
    api_ts(k.created_at) AS created_at) x
$$;

-- Scorecards. A period is [lo, hi) in timestamptz (UTC days; the server sets TimeZone UTC).
-- One partner's side is an index-only range scan of referrals_partner; the tenant's side is one
-- of referrals_page. Functions (not one big statement) so that a partner's figures cost the same
-- whether asked alone or among a thousand.

-- One direction of a set of referrals, from its aggregates.
CREATE FUNCTION scorecard_side(n bigint, ack bigint, qual bigint, won bigint, lost bigint, med interval,
                               won_cur text[], won_amt bigint[])
RETURNS json LANGUAGE sql IMMUTABLE AS $$
  SELECT json_build_object('referrals', n, 'acknowledged', ack, 'qualified', qual, 'won', won, 'lost', lost,
    'conversion_rate', CASE WHEN n > 0 THEN round(won::numeric / n, 4) END,
    'median_hours_to_acknowledge', round(extract(epoch FROM med) / 3600, 2),
    'won_value', (SELECT coalesce(json_agg(json_build_object('amount', a, 'currency', c) ORDER BY c), '[]')
                  FROM (SELECT c, sum(a)::bigint AS a FROM unnest(won_cur, won_amt) u(c, a) GROUP BY c) v))
$$;

-- The median of a year of a busy tenant sorts ~10^6 values: enough memory to do it in RAM.
CREATE FUNCTION tenant_referral_side(t uuid, dir text, lo timestamptz, hi timestamptz)
RETURNS json LANGUAGE sql STABLE SET work_mem = '64MB' AS $$
  SELECT scorecard_side(count(*), count(acknowledged_at), count(qualified_at),
    count(*) FILTER (WHERE status = 'won'), count(*) FILTER (WHERE status = 'lost'),
    percentile_cont(0.5) WITHIN GROUP (ORDER BY acknowledged_at - created_at),
    array_agg(deal_currency) FILTER (WHERE status = 'won'), array_agg(deal_amount) FILTER (WHERE status = 'won'))
  FROM referrals WHERE tenant_id = t AND direction = dir AND created_at >= lo AND created_at < hi
$$;

-- {commissions: {payable|receivable: {owed, paid}}, net_balance} from rows grouped by kind, paid,
-- currency. Owed = not yet paid (pending or invoiced, including negative adjustments); reversed
-- commissions count nowhere. Net balance = payable owed - receivable owed, per currency.
CREATE FUNCTION commission_figures(g json) RETURNS json LANGUAGE sql IMMUTABLE AS $$
  WITH com AS (SELECT * FROM json_to_recordset(coalesce(g, '[]')) AS x(kind text, paid boolean, currency text, amount bigint))
  SELECT json_build_object('commissions', json_build_object(
      'payable', json_build_object(
        'owed', coalesce(json_agg(json_build_object('amount', amount, 'currency', currency) ORDER BY currency)
                FILTER (WHERE kind = 'payable' AND NOT paid), '[]'),
        'paid', coalesce(json_agg(json_build_object('amount', amount, 'currency', currency) ORDER BY currency)
                FILTER (WHERE kind = 'payable' AND paid), '[]')),
      'receivable', json_build_object(
        'owed', coalesce(json_agg(json_build_object('amount', amount, 'currency', currency) ORDER BY currency)
                FILTER (WHERE kind = 'receivable' AND NOT paid), '[]'),
        'paid', coalesce(json_agg(json_build_object('amount', amount, 'currency', currency) ORDER BY currency)
                FILTER (WHERE kind = 'receivable' AND paid), '[]'))),
    'net_balance', (SELECT coalesce(json_agg(json_build_object('amount', net, 'currency', currency) ORDER BY currency), '[]')
      FROM (SELECT currency, sum(CASE WHEN kind = 'payable' THEN amount ELSE -amount END)::bigint AS net
            FROM com WHERE NOT paid GROUP BY currency) n))
  FROM com
$$;

CREATE FUNCTION tenant_commission_figures(t uuid, lo timestamptz, hi timestamptz)
RETURNS json LANGUAGE sql STABLE AS $$
  SELECT commission_figures(json_agg(x)) FROM (SELECT kind, status = 'paid' AS paid, currency, sum(amount) AS amount
    FROM commissions WHERE tenant_id = t AND created_at >= lo AND created_at < hi
      AND status <> 'reversed' GROUP BY 1, 2, 3) x
$$;

-- The scorecards of a tenant's partners (or of one) for the days d_from..d_to (inclusive), by
-- name. Per partner: one index-only range scan of referrals_partner for both directions, one of
-- commissions_partner_period, one backward probe for the last referral.
CREATE FUNCTION partner_scorecards(t uuid, d_from date, d_to date, only_partner uuid) RETURNS SETOF json
LANGUAGE sql STABLE AS $$
  SELECT json_build_object('partner_id', p.id, 'partner_name', p.name, 'from', d_from, 'to', d_to,
    'inbound', scorecard_side(s.n_i, s.ack_i, s.qual_i, s.won_i, s.lost_i, s.med_i, s.cur_i, s.amt_i),
    'outbound', scorecard_side(s.n_o, s.ack_o, s.qual_o, s.won_o, s.lost_o, s.med_o, s.cur_o, s.amt_o),
    'commissions', f.f->'commissions', 'net_balance', f.f->'net_balance',
    'days_since_last_referral', current_date - (SELECT max(x.created_at) FROM referrals x
      WHERE x.tenant_id = t AND x.partner_id = p.id)::date,
    'commitments', (SELECT coalesce(json_agg(commitment_json(c) ORDER BY c.period_start, c.id), '[]')
      FROM commitments c WHERE c.tenant_id = t AND c.partner_id = p.id
        AND c.period_start <= d_to AND c.period_end >= d_from))
  FROM partners p
  CROSS JOIN LATERAL (SELECT
      count(*) FILTER (WHERE r.direction = 'inbound') AS n_i,
      count(r.acknowledged_at) FILTER (WHERE r.direction = 'inbound') AS ack_i,
      count(r.qualified_at) FILTER (WHERE r.direction = 'inbound') AS qual_i,
      count(*) FILTER (WHERE r.direction = 'inbound' AND r.status = 'won') AS won_i,
      count(*) FILTER (WHERE r.direction = 'inbound' AND r.status = 'lost') AS lost_i,
      percentile_cont(0.5) WITHIN GROUP (ORDER BY r.acknowledged_at - r.created_at)
        FILTER (WHERE r.direction = 'inbound') AS med_i,
      array_agg(r.deal_currency) FILTER (WHERE r.direction = 'inbound' AND r.status = 'won') AS cur_i,
      array_agg(r.deal_amount) FILTER (WHERE r.direction = 'inbound' AND r.status = 'won') AS amt_i,
      count(*) FILTER (WHERE r.direction = 'outbound') AS n_o,
      count(r.acknowledged_at) FILTER (WHERE r.direction = 'outbound') AS ack_o,
      count(r.qualified_at) FILTER (WHERE r.direction = 'outbound') AS qual_o,
      count(*) FILTER (WHERE r.direction = 'outbound' AND r.status = 'won') AS won_o,
      count(*) FILTER (WHERE r.direction = 'outbound' AND r.status = 'lost') AS lost_o,
      percentile_cont(0.5) WITHIN GROUP (ORDER BY r.acknowledged_at - r.created_at)
        FILTER (WHERE r.direction = 'outbound') AS med_o,
      array_agg(r.deal_currency) FILTER (WHERE r.direction = 'outbound' AND r.status = 'won') AS cur_o,
      array_agg(r.deal_amount) FILTER (WHERE r.direction = 'outbound' AND r.status = 'won') AS amt_o
    FROM referrals r WHERE r.tenant_id = t AND r.partner_id = p.id
      AND r.created_at >= d_from::timestamptz AND r.created_at < (d_to + 1)::timestamptz) s
  CROSS JOIN LATERAL (SELECT commission_figures(json_agg(g)) AS f FROM (SELECT c.kind, c.status = 'paid' AS paid,
      c.currency, sum(c.amount) AS amount FROM commissions c WHERE c.tenant_id = t AND c.partner_id = p.id
      AND c.created_at >= d_from::timestamptz AND c.created_at < (d_to + 1)::timestamptz AND c.status <> 'reversed'
      GROUP BY 1, 2, 3) g) f
  WHERE p.tenant_id = t AND (only_partner IS NULL OR p.id = only_partner)
  ORDER BY p.name, p.id
$$;

-- The tenant's summary for the days d_from..d_to (inclusive).
CREATE FUNCTION tenant_summary(t uuid, d_from date, d_to date) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT json_build_object('from', d_from, 'to', d_to,
    'partners', (SELECT count(*) FROM partners WHERE tenant_id = t),
    'active_partners', (SELECT count(*) FROM partners WHERE tenant_id = t AND status = 'active'),
    'inbound', tenant_referral_side(t, 'inbound', d_from::timestamptz, (d_to + 1)::timestamptz),
    'outbound', tenant_referral_side(t, 'outbound', d_from::timestamptz, (d_to + 1)::timestamptz),
    'commissions', f->'commissions', 'net_balance', f->'net_balance',
    'overdue_acknowledgements', (SELECT count(*) FROM referrals WHERE tenant_id = t AND status = 'submitted'
      AND acknowledge_by < now()),
    'commitments_at_risk', (SELECT count(*) FROM commitments c WHERE c.tenant_id = t
      AND current_date BETWEEN c.period_start AND c.period_end AND commitment_status(c, commitment_achieved(c)) = 'at_risk'))
  FROM (SELECT tenant_commission_figures(t, d_from::timestamptz, (d_to + 1)::timestamptz) AS f) x
$$;
