-- Announced rows leave the scheduler's partial index (api/time_events.c). An overdue referral
-- nobody acknowledges stays `submitted`: it stayed in referrals_ack_due after its event, and every
-- pass walked past it again (about 565 ms a pass with 100,000 such referrals). The scheduler now
-- marks a referral in the statement that claims it, and the index holds only unmarked rows.
-- Only referrals: a `submitted` referral has no amount, so the mark cannot trip a money CHECK that
-- older rows were let off (migration 0010's NOT VALID). Marking commissions the same way did: one
-- such row made every claim of its kind fail.

ALTER TABLE referrals ADD COLUMN ack_overdue_announced_for timestamptz;
COMMENT ON COLUMN referrals.ack_overdue_announced_for IS
  'The acknowledge_by whose referral.acknowledgement_overdue was announced (a new deadline is due again)';

-- What was announced before this migration.
UPDATE referrals r SET ack_overdue_announced_for = r.acknowledge_by FROM time_event_occurrences o
  WHERE o.tenant_id = r.tenant_id AND o.kind = 'referral.acknowledgement_overdue' AND o.resource_id = r.id
    AND o.occurrence_key = api_ts(r.acknowledge_by);

CREATE INDEX referrals_ack_unannounced ON referrals (acknowledge_by)
  WHERE status = 'submitted' AND ack_overdue_announced_for IS DISTINCT FROM acknowledge_by;
DROP INDEX referrals_ack_due;
