-- Partners: the businesses and people who refer clients to us or receive ours.

CREATE TABLE partners (
  tenant_id     uuid NOT NULL REFERENCES tenants(id),
  id            uuid NOT NULL,
  name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  company       text CHECK (length(company) <= 200),
  email         text CHECK (length(email) <= 254),
  phone         text CHECK (length(phone) <= 50),
  website       text CHECK (length(website) <= 2048),
  kind          text NOT NULL DEFAULT 'referral' CHECK (kind IN
                  ('referral', 'promotional', 'collaboration', 'extension', 'expert', 'joint_venture')),
  status        text NOT NULL DEFAULT 'prospect' CHECK (status IN ('prospect', 'active', 'paused', 'ended')),
  ideal_client  text CHECK (length(ideal_client) <= 5000),
  tags          text[] NOT NULL DEFAULT '{}',
  external_id   text CHECK (length(external_id) BETWEEN 1 AND 200),
  metadata      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
  version       bigint NOT NULL DEFAULT 1,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  CONSTRAINT partners_external_id_unique UNIQUE (tenant_id, external_id)
);
COMMENT ON TABLE partners IS 'A referral partner of one tenant';
COMMENT ON COLUMN partners.external_id IS 'The CRM''s id for this partner, unique per tenant';
COMMENT ON COLUMN partners.version IS 'Bumped on every change; the ETag';
COMMENT ON COLUMN partners.metadata IS 'Free-form object owned by the client';
CREATE INDEX partners_page ON partners (tenant_id, created_at, id);
CREATE INDEX partners_updated ON partners (tenant_id, updated_at);

ALTER TABLE partners ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON partners USING (tenant_id = allied_tenant());

-- A partner key acts for one partner of its own tenant; the partner cannot be deleted under it.
ALTER TABLE api_keys ADD CONSTRAINT api_keys_partner_fk
  FOREIGN KEY (tenant_id, partner_id) REFERENCES partners(tenant_id, id);

-- The API representation of a partner, built where the data is.
CREATE FUNCTION partner_json(p partners) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT row_to_json(x) FROM (SELECT p.id, p.name, p.company, p.email, p.phone, p.website, p.kind,
    p.status, p.ideal_client, p.tags, p.external_id, p.metadata, p.version,
    api_ts(p.created_at) AS created_at, api_ts(p.updated_at) AS updated_at) x
$$;
