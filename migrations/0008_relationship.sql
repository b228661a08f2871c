-- Keeping partnerships healthy: commitments, check-ins, qualification notes, and what the
-- scorecards need to stay fast on millions of referrals.

-- Set when a referral first reaches engaged or won (the workflow door does it), so a "qualified"
-- count needs no timeline scan.
ALTER TABLE referrals ADD COLUMN qualified_at timestamptz;
COMMENT ON COLUMN referrals.qualified_at IS 'First time the referral reached engaged or won (qualified introduction)';
UPDATE referrals r SET qualified_at = (SELECT min(e.at) FROM referral_events e WHERE e.tenant_id = r.tenant_id
  AND e.referral_id = r.id AND e.to_status IN ('engaged', 'won'));

-- Scorecards aggregate a period of referrals per partner: this index answers them by an
-- index-only scan of the period, without visiting the table.
CREATE INDEX referrals_scorecard ON referrals (tenant_id, created_at)
  INCLUDE (partner_id, direction, status, acknowledged_at, qualified_at, deal_amount, deal_currency);
CREATE INDEX referrals_partner_scorecard ON referrals (tenant_id, partner_id, created_at)
  INCLUDE (direction, status, acknowledged_at, qualified_at, deal_amount, deal_currency);

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

-- One direction of a scorecard.
CREATE FUNCTION scorecard_side(n bigint, ack bigint, qual bigint, won bigint, lost bigint, med numeric, val json)
RETURNS json LANGUAGE sql IMMUTABLE AS $$
  SELECT json_build_object('referrals', coalesce(n, 0), 'acknowledged', coalesce(ack, 0),
    'qualified', coalesce(qual, 0), 'won', coalesce(won, 0), 'lost', coalesce(lost, 0),
    'conversion_rate', CASE WHEN n > 0 THEN round(won::numeric / n, 4) END,
    'median_hours_to_acknowledge', med, 'won_value', coalesce(val, '[]'::json))
$$;
