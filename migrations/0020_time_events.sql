-- Time-based events (api/time_events.c): what the calendar makes happen, announced once.

-- One row per occurrence announced: written in the transaction that appends its feed event, so a
-- second scheduler (or a retry after a crash) finds it and announces nothing twice.
CREATE TABLE time_event_occurrences (
  tenant_id       uuid NOT NULL REFERENCES tenants(id),
  kind            text NOT NULL,
  resource_id     uuid NOT NULL,
  occurrence_key  text NOT NULL,
  at              timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, kind, resource_id, occurrence_key)
);
COMMENT ON TABLE time_event_occurrences IS 'Time-based events already announced (kind, resource, the due moment as key)';
COMMENT ON COLUMN time_event_occurrences.occurrence_key IS 'The moment that made it due (e.g. acknowledge_by), so a new deadline is a new occurrence';
ALTER TABLE time_event_occurrences ENABLE ROW LEVEL SECURITY;
ALTER TABLE time_event_occurrences FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON time_event_occurrences
  USING (tenant_id = (SELECT allied_tenant()) OR (SELECT allied_unscoped()));

-- The scans run across tenants, ordered by the due moment: one partial index per kind, holding
-- only what can still become due.
CREATE INDEX referrals_ack_due ON referrals (acknowledge_by) WHERE status = 'submitted';
CREATE INDEX referrals_engaged_since ON referrals (updated_at) WHERE status = 'engaged';
CREATE INDEX commissions_payable_due ON commissions (payable_at) WHERE status = 'pending' AND type = 'commission';
CREATE INDEX invoices_overdue_due ON invoices (due_on) WHERE status IN ('submitted', 'approved');
CREATE INDEX agreements_end_due ON agreements (ends_on)
  WHERE ends_on IS NOT NULL AND NOT auto_renew AND status IN ('active', 'suspended');

ALTER TABLE feed_events DROP CONSTRAINT feed_events_resource_type_check;
ALTER TABLE feed_events ADD CONSTRAINT feed_events_resource_type_check
  CHECK (resource_type IN ('agreement', 'referral', 'commission', 'invoice', 'partner', 'commitment', 'check_in'));

-- The scorecards' commitment rule on a given day; commitment_status() is this rule on today, so
-- the scheduler (which passes its own "now") and the scorecards cannot disagree.
CREATE FUNCTION commitment_status_on(c commitments, achieved int, day date) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT CASE
    WHEN achieved >= c.target_count THEN 'met'
    WHEN day > c.period_end THEN 'missed'
    WHEN day >= c.period_start AND
         (day - c.period_start + 1)::numeric / (c.period_end - c.period_start + 1)
           > achieved::numeric / c.target_count THEN 'at_risk'
    ELSE 'open' END
$$;
CREATE OR REPLACE FUNCTION commitment_status(c commitments, achieved int) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT commitment_status_on(c, achieved, current_date)
$$;
CREATE INDEX commitments_period_end ON commitments (period_end);
CREATE INDEX check_ins_next_due ON check_ins (next_due_on) WHERE next_due_on IS NOT NULL;
