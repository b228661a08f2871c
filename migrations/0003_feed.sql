-- The tenant's ordered change feed (GET /v1/events), and later the webhook outbox's source.

-- One counter row per tenant. Taking the next number locks the row until commit, so a tenant's
-- sequence numbers are assigned in commit order: a reader that has seen N never later finds a
-- newly committed event below N.
CREATE TABLE feed_counters (
  tenant_id  uuid PRIMARY KEY REFERENCES tenants(id),
  last_seq   bigint NOT NULL
);
COMMENT ON TABLE feed_counters IS 'Last feed sequence number per tenant (row lock orders commits)';

CREATE TABLE feed_events (
  tenant_id      uuid NOT NULL REFERENCES tenants(id),
  seq            bigint NOT NULL,
  type           text NOT NULL,
  resource_type  text NOT NULL CHECK (resource_type IN ('agreement', 'referral')),
  resource_id    uuid NOT NULL,
  partner_id     uuid,
  data           json NOT NULL,
  at             timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, seq)
);
COMMENT ON TABLE feed_events IS 'Every create, transition and update of agreements and referrals, with the new state';
COMMENT ON COLUMN feed_events.seq IS 'Gapless, strictly increasing per tenant in commit order; the feed cursor';
COMMENT ON COLUMN feed_events.partner_id IS 'The partner the resource belongs to: a partner key sees only its own';
CREATE INDEX feed_events_partner ON feed_events (tenant_id, partner_id, seq);

ALTER TABLE feed_counters ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON feed_counters USING (tenant_id = allied_tenant());
ALTER TABLE feed_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON feed_events USING (tenant_id = allied_tenant());

CREATE FUNCTION feed_event_json(e feed_events) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT row_to_json(x) FROM (SELECT e.seq::text AS cursor, e.type, e.resource_type, e.resource_id,
    api_ts(e.at) AS at, e.data) x
$$;
