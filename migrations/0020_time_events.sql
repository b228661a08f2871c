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
