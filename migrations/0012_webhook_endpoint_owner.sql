-- Webhook endpoints registered with a partner key live only as long as that key and its partner:
-- revoking the key disables them (api/api_keys.c, in the revoking statement), deleting the key or
-- the partner deletes them (the foreign keys below).

ALTER TABLE webhook_endpoints ADD COLUMN api_key_id uuid;
COMMENT ON COLUMN webhook_endpoints.api_key_id IS
  'The partner API key that registered the endpoint (NULL for staff/admin keys): revoking it disables the endpoint';
ALTER TABLE webhook_endpoints ADD CONSTRAINT webhook_endpoints_api_key_fk
  FOREIGN KEY (tenant_id, api_key_id) REFERENCES api_keys(tenant_id, id) ON DELETE CASCADE;

-- A partner's endpoints go with the partner (they could only ever receive that partner's events).
ALTER TABLE webhook_endpoints DROP CONSTRAINT webhook_endpoints_tenant_id_partner_id_fkey;
ALTER TABLE webhook_endpoints ADD CONSTRAINT webhook_endpoints_partner_fk
  FOREIGN KEY (tenant_id, partner_id) REFERENCES partners(tenant_id, id) ON DELETE CASCADE;

-- Endpoints registered by a partner key before this migration did not record the key: tie each
-- to its partner's oldest live partner key, and disable those whose partner has none left.
-- Row-level security, if forced on these tables by then, would hide every row from this
-- tenant-less session: lift it for these two statements only.
DO $$
DECLARE
  forced_w boolean;
  forced_k boolean;
BEGIN
  SELECT relforcerowsecurity INTO forced_w FROM pg_class WHERE oid = 'webhook_endpoints'::regclass;
  SELECT relforcerowsecurity INTO forced_k FROM pg_class WHERE oid = 'api_keys'::regclass;
  IF forced_w THEN ALTER TABLE webhook_endpoints NO FORCE ROW LEVEL SECURITY; END IF;
  IF forced_k THEN ALTER TABLE api_keys NO FORCE ROW LEVEL SECURITY; END IF;
  UPDATE webhook_endpoints w SET api_key_id =
    (SELECT k.id FROM api_keys k WHERE k.tenant_id = w.tenant_id AND k.partner_id = w.partner_id
       AND k.revoked_at IS NULL ORDER BY k.created_at, k.id LIMIT 1)
  WHERE w.partner_id IS NOT NULL AND w.api_key_id IS NULL;
  UPDATE webhook_endpoints SET enabled = false, version = version + 1, updated_at = now(),
    disabled_reason = 'the partner key that registered it was revoked'
  WHERE partner_id IS NOT NULL AND api_key_id IS NULL AND enabled;
  IF forced_w THEN ALTER TABLE webhook_endpoints FORCE ROW LEVEL SECURITY; END IF;
  IF forced_k THEN ALTER TABLE api_keys FORCE ROW LEVEL SECURITY; END IF;
END $$;
