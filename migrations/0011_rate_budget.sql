-- The per-tenant minute budget that every instance shares: each instance counts requests in
-- memory and about once a second adds its count to the tenant's row for the current minute,
-- reading back the sum of all instances (server/ratelimit.c).

CREATE TABLE rate_budget (
  tenant_id     uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  window_start  timestamptz NOT NULL CHECK (date_trunc('minute', window_start) = window_start),
  used          bigint NOT NULL DEFAULT 0 CHECK (used >= 0),
  PRIMARY KEY (tenant_id, window_start)
);
COMMENT ON TABLE rate_budget IS 'Requests per tenant per minute, summed over all instances (ALLIED_RATE_TENANT_PER_MINUTE)';
COMMENT ON COLUMN rate_budget.window_start IS 'Start of the minute (UTC) the count is for; older minutes are deleted by the next flush';
COMMENT ON COLUMN rate_budget.used IS 'Requests counted so far in this minute by every instance together';

-- Written only by the flush thread, which connects as the owner and sets allied.tenant_id for
-- each tenant's row, so it works with row-level security forced on or off.
ALTER TABLE rate_budget ENABLE ROW LEVEL SECURITY;
ALTER TABLE rate_budget FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON rate_budget USING (tenant_id = (SELECT allied_tenant()) OR (SELECT allied_unscoped()));

-- The request-serving role never needs it.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'allied_app') THEN
    REVOKE ALL ON rate_budget FROM allied_app;
  END IF;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'allied: cannot revoke rate_budget from allied_app';
END $$;
