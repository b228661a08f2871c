-- Referrals: every introduction and where it stands in the workflow (api/workflow.c), with its timeline.

CREATE TABLE referrals (
  tenant_id         uuid NOT NULL REFERENCES tenants(id),
  id                uuid NOT NULL,
  partner_id        uuid NOT NULL,
  agreement_id      uuid,
  direction         text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
  status            text NOT NULL DEFAULT 'submitted' CHECK (status IN
                      ('submitted', 'acknowledged', 'engaged', 'won', 'lost', 'declined', 'withdrawn')),
  prospect          jsonb NOT NULL CHECK (jsonb_typeof(prospect) = 'object' AND prospect ? 'name'),
  prospect_email    text,
  prospect_domain   text,
  stage             text,
  deal_amount       bigint CHECK (deal_amount >= 0),
  deal_currency     text CHECK (deal_currency ~ '^[A-Z]{3}$'),
  close_reason      text,
  close_note        text,
  override_reason   text,
  external_id       text CHECK (length(external_id) BETWEEN 1 AND 200),
  acknowledge_by    timestamptz NOT NULL,
  acknowledged_at   timestamptz,
  closed_at         timestamptz,
  version           bigint NOT NULL DEFAULT 1,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, partner_id) REFERENCES partners(tenant_id, id),
  FOREIGN KEY (tenant_id, agreement_id) REFERENCES agreements(tenant_id, id),
  CONSTRAINT referrals_external_id_unique UNIQUE (tenant_id, external_id),
  CHECK ((deal_amount IS NULL) = (deal_currency IS NULL)),
  CHECK ((status = 'won') <= (deal_amount IS NOT NULL))
);
COMMENT ON TABLE referrals IS 'An introduction of a prospect by a partner (inbound) or to a partner (outbound)';
COMMENT ON COLUMN referrals.agreement_id IS 'Agreement active for this partner and direction at submission; NULL = earns nothing';
COMMENT ON COLUMN referrals.status IS 'Workflow state; changed only by the conditional UPDATE in api/referral_actions.c';
COMMENT ON COLUMN referrals.prospect_email IS 'lower(prospect.email), for duplicate detection';
COMMENT ON COLUMN referrals.prospect_domain IS 'Company domain of prospect.email (free-mail providers excluded)';
COMMENT ON COLUMN referrals.close_reason IS 'lose/decline/withdraw reason';
COMMENT ON COLUMN referrals.acknowledge_by IS 'Submission time + acknowledge_within_hours (default 48)';
CREATE INDEX referrals_page ON referrals (tenant_id, created_at, id);
CREATE INDEX referrals_partner ON referrals (tenant_id, partner_id, created_at, id);
CREATE INDEX referrals_email ON referrals (tenant_id, prospect_email) WHERE prospect_email IS NOT NULL;
CREATE INDEX referrals_domain ON referrals (tenant_id, prospect_domain) WHERE prospect_domain IS NOT NULL;
CREATE INDEX referrals_overdue ON referrals (tenant_id, acknowledge_by) WHERE status = 'submitted';
CREATE INDEX referrals_updated ON referrals (tenant_id, updated_at);

ALTER TABLE referrals ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON referrals USING (tenant_id = allied_tenant());

CREATE TABLE referral_events (
  tenant_id     uuid NOT NULL REFERENCES tenants(id),
  id            bigint GENERATED ALWAYS AS IDENTITY,
  referral_id   uuid NOT NULL,
  type          text NOT NULL,
  from_status   text,
  to_status     text NOT NULL,
  note          text,
  stage         text,
  actor_key_id  uuid,
  actor_role    text,
  at            timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, referral_id) REFERENCES referrals(tenant_id, id)
);
COMMENT ON TABLE referral_events IS 'Append-only timeline: one row per transition or update, written with the change';
CREATE INDEX referral_events_referral ON referral_events (tenant_id, referral_id, id);

ALTER TABLE referral_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON referral_events USING (tenant_id = allied_tenant());

CREATE FUNCTION referral_json(r referrals) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT row_to_json(x) FROM (SELECT r.id, r.partner_id, r.agreement_id, r.direction, r.status,
    r.prospect, r.stage,
    CASE WHEN r.deal_amount IS NULL THEN NULL ELSE
      json_build_object('amount', r.deal_amount, 'currency', r.deal_currency) END AS deal,
    r.close_reason, r.close_note, r.override_reason, r.external_id,
    api_ts(r.acknowledge_by) AS acknowledge_by, api_ts(r.acknowledged_at) AS acknowledged_at,
    (r.status = 'submitted' AND r.acknowledge_by < now()) AS overdue,
    api_ts(r.closed_at) AS closed_at, r.version,
    api_ts(r.created_at) AS created_at, api_ts(r.updated_at) AS updated_at) x
$$;

CREATE FUNCTION referral_event_json(e referral_events) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT row_to_json(x) FROM (SELECT e.id, e.referral_id, e.type, e.from_status, e.to_status, e.note,
    e.stage, json_build_object('key_id', e.actor_key_id, 'role', e.actor_role) AS actor,
    api_ts(e.at) AS at) x
$$;
