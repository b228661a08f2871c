-- Announced rows leave the scheduler's partial indexes (api/time_events.c). An overdue referral
-- nobody acknowledges stays `submitted`, a payable commission nobody invoices stays `pending`:
-- both stayed in referrals_ack_due / commissions_payable_due after their event, and every pass
-- walked past them again (about 565 ms a pass with 100,000 such referrals). The scheduler now
-- marks a row in the statement that claims it, and the indexes hold only unmarked rows.

ALTER TABLE referrals ADD COLUMN ack_overdue_announced_for timestamptz;
COMMENT ON COLUMN referrals.ack_overdue_announced_for IS
  'The acknowledge_by whose referral.acknowledgement_overdue was announced (a new deadline is due again)';
ALTER TABLE commissions ADD COLUMN payable_announced boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN commissions.payable_announced IS 'commission.payable was announced (once in its life)';

-- What was announced before this migration.
UPDATE referrals r SET ack_overdue_announced_for = r.acknowledge_by FROM time_event_occurrences o
  WHERE o.tenant_id = r.tenant_id AND o.kind = 'referral.acknowledgement_overdue' AND o.resource_id = r.id
    AND o.occurrence_key = api_ts(r.acknowledge_by);
UPDATE commissions c SET payable_announced = true FROM time_event_occurrences o
  WHERE o.tenant_id = c.tenant_id AND o.kind = 'commission.payable' AND o.resource_id = c.id;

CREATE INDEX referrals_ack_unannounced ON referrals (acknowledge_by)
  WHERE status = 'submitted' AND ack_overdue_announced_for IS DISTINCT FROM acknowledge_by;
DROP INDEX referrals_ack_due;
CREATE INDEX commissions_payable_unannounced ON commissions (payable_at)
  WHERE status = 'pending' AND type = 'commission' AND NOT payable_announced;
DROP INDEX commissions_payable_due;
