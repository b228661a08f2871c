-- Announced payable commissions leave the scheduler's partial index (api/time_events.c), as overdue
-- referrals did in 0027. A payable commission stays `pending` until it is invoiced, which may be
-- months: every pass walked past it again.
-- The mark is an UPDATE, and an UPDATE checks the new row against every CHECK, including 0010's
-- commissions_amount_max, which older rows were let off (NOT VALID). Such a row is not marked
-- (the scheduler's claim and this backfill both leave it out by the same condition): it stays in
-- the index and is walked past as before, instead of making every claim of the kind fail.

ALTER TABLE commissions ADD COLUMN payable_announced boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN commissions.payable_announced IS
  'commission.payable was announced (once in a commission''s life); never set on a row outside commissions_amount_max';

-- What was announced before this migration.
UPDATE commissions c SET payable_announced = true FROM time_event_occurrences o
  WHERE o.tenant_id = c.tenant_id AND o.kind = 'commission.payable' AND o.resource_id = c.id
    AND c.amount BETWEEN -1000000000000000 AND 1000000000000000;

CREATE INDEX commissions_payable_unannounced ON commissions (payable_at)
  WHERE status = 'pending' AND type = 'commission' AND NOT payable_announced;
DROP INDEX commissions_payable_due;
