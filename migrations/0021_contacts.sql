-- People Allied tells (issue 14): a partner's contacts and the tenant's own notification contacts.
-- One table for both: partner_id NULL is the tenant's contact (the sales owner, the finance address).

CREATE TABLE contacts (
  tenant_id     uuid NOT NULL REFERENCES tenants(id),
  id            uuid NOT NULL,
  partner_id    uuid,
  name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  email         text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
  role          text NOT NULL DEFAULT 'primary' CHECK (role IN ('primary', 'billing', 'sales', 'finance', 'owner', 'other')),
  notifications text[] NOT NULL DEFAULT '{}',
  digest        text NOT NULL DEFAULT 'off' CHECK (digest IN ('off', 'daily')),
  version       bigint NOT NULL DEFAULT 1,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, partner_id) REFERENCES partners (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE contacts IS 'A person Allied notifies: a partner''s contact, or the tenant''s own when partner_id is NULL';
COMMENT ON COLUMN contacts.notifications IS 'Event types this contact is told about by e-mail (a subset of the kinds its side may hear)';
COMMENT ON COLUMN contacts.digest IS 'off: one message per event; daily: one summary a day';
-- Fan-out looks contacts up by (tenant, partner); a tenant's own contacts have partner_id NULL.
CREATE INDEX contacts_partner ON contacts (tenant_id, partner_id, created_at, id);
CREATE UNIQUE INDEX contacts_email_once ON contacts (tenant_id, coalesce(partner_id, '00000000-0000-0000-0000-000000000000'::uuid), lower(email));
ALTER TABLE contacts ENABLE ROW LEVEL SECURITY;
ALTER TABLE contacts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON contacts
  USING (tenant_id = (SELECT allied_tenant()) OR (SELECT allied_unscoped()));
