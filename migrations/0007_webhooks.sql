-- Webhooks: endpoints, and the transactional outbox of deliveries (written in the same statement
-- as the feed event they announce), with a log of every attempt.

CREATE TABLE webhook_endpoints (
  tenant_id              uuid NOT NULL REFERENCES tenants(id),
  id                     uuid NOT NULL,
  url                    text NOT NULL CHECK (length(url) <= 2048),
  events                 text[] NOT NULL DEFAULT '{*}',
  description            text CHECK (length(description) <= 500),
  enabled                boolean NOT NULL DEFAULT true,
  partner_id             uuid,
  secret                 text NOT NULL,
  previous_secret        text,
  previous_secret_until  timestamptz,
  disabled_reason        text,
  failing_since          timestamptz,
  version                bigint NOT NULL DEFAULT 1,
  created_at             timestamptz NOT NULL DEFAULT now(),
  updated_at             timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, partner_id) REFERENCES partners(tenant_id, id)
);
COMMENT ON TABLE webhook_endpoints IS 'Where to POST change events (Standard Webhooks signatures)';
COMMENT ON COLUMN webhook_endpoints.partner_id IS 'Registered by a partner key: receives only events about that partner';
COMMENT ON COLUMN webhook_endpoints.secret IS 'whsec_<base64 key>; shown once at creation or rotation';
COMMENT ON COLUMN webhook_endpoints.previous_secret IS 'After a rotation, also signed with until previous_secret_until';
COMMENT ON COLUMN webhook_endpoints.failing_since IS 'First failure of the current failing streak; disabled after ~3 days';
CREATE INDEX webhook_endpoints_page ON webhook_endpoints (tenant_id, created_at, id);

CREATE TABLE webhook_deliveries (
  tenant_id        uuid NOT NULL REFERENCES tenants(id),
  id               uuid NOT NULL,
  endpoint_id      uuid NOT NULL,
  feed_seq         bigint NOT NULL,
  type             text NOT NULL,
  payload          text NOT NULL,
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
  attempts         int NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_status      int,
  last_error       text,
  last_latency_ms  int,
  delivered_at     timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, endpoint_id) REFERENCES webhook_endpoints(tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE webhook_deliveries IS 'Outbox: one row per (event, endpoint); id is the stable webhook-id';
COMMENT ON COLUMN webhook_deliveries.next_attempt_at IS 'Due time; while an attempt is in flight, the lease expiry';
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (tenant_id, endpoint_id, created_at, id);

CREATE TABLE webhook_attempts (
  tenant_id    uuid NOT NULL,
  delivery_id  uuid NOT NULL,
  attempt      int NOT NULL,
  status_code  int,
  latency_ms   int NOT NULL,
  error        text,
  at           timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, delivery_id, attempt),
  FOREIGN KEY (tenant_id, delivery_id) REFERENCES webhook_deliveries(tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE webhook_attempts IS 'Every delivery attempt: status code, latency, error';

ALTER TABLE webhook_endpoints ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON webhook_endpoints USING (tenant_id = allied_tenant());
ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON webhook_deliveries USING (tenant_id = allied_tenant());
ALTER TABLE webhook_attempts ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON webhook_attempts USING (tenant_id = allied_tenant());

CREATE FUNCTION webhook_endpoint_json(w webhook_endpoints) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT row_to_json(x) FROM (SELECT w.id, w.url, w.events, w.description, w.enabled, w.partner_id,
    w.disabled_reason, api_ts(w.failing_since) AS failing_since,
    api_ts(w.previous_secret_until) AS previous_secret_until, w.version,
    api_ts(w.created_at) AS created_at, api_ts(w.updated_at) AS updated_at) x
$$;

-- webhook_delivery_json(): defined once, in migrations/json/webhook_delivery.sql (applied after the numbered migrations).
