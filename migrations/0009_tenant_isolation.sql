-- Defence in depth: every tenant-scoped table is under FORCEd row-level security, the request
-- path finds its API key only through one narrow SECURITY DEFINER function, and the tenant is a
-- transaction-local setting, so a pooled connection can never carry one request's tenant into
-- the next and a handler that forgets its tenant filter still sees only its own tenant's rows.

-- Connections that legitimately work across tenants (migrations, the CLI, the webhook
-- dispatcher, background jobs) say so explicitly with the session setting allied.scope = 'all'.
-- The request path never sets it.
CREATE FUNCTION allied_unscoped() RETURNS boolean LANGUAGE sql STABLE AS
$$ SELECT coalesce(current_setting('allied.scope', true), '') = 'all' $$;
COMMENT ON FUNCTION allied_unscoped() IS 'True on system connections (allied.scope = all): migrations, CLI, background work';

-- Every policy has the same shape; the sub-selects make PostgreSQL evaluate the settings once
-- per statement (an init plan) instead of once per row.
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['api_keys', 'idempotency_keys', 'partners', 'feed_counters', 'feed_events',
      'agreements', 'referrals', 'referral_events', 'invoices', 'invoice_counters', 'commissions',
      'invoice_lines', 'webhook_endpoints', 'webhook_deliveries', 'webhook_attempts', 'commitments',
      'check_ins'] LOOP
    EXECUTE format('DROP POLICY IF EXISTS tenant_only ON %I', t);
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_only ON %I USING '
                   '(tenant_id = (SELECT allied_tenant()) OR (SELECT allied_unscoped()))', t);
  END LOOP;
END $$;

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON tenants USING (id = (SELECT allied_tenant()) OR (SELECT allied_unscoped()));

-- The only way the request path reads api_keys before it knows the tenant. It answers the key's
-- identity only when the prefix is live AND the secret's hash matches, so a live prefix with a
-- wrong secret and an unknown prefix take the same path; on success it sets the tenant for the
-- rest of this transaction (and only this transaction).
CREATE FUNCTION allied_authenticate(p_prefix text, p_hash text)
RETURNS TABLE (key_id uuid, key_tenant uuid, key_role text, key_partner uuid)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
SET allied.scope = 'all'
AS $$
DECLARE k record;
BEGIN
  SELECT a.id, a.tenant_id, a.role, a.partner_id INTO k FROM api_keys a
    WHERE a.prefix = p_prefix AND a.revoked_at IS NULL AND a.secret_hash = p_hash;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  PERFORM set_config('allied.tenant_id', k.tenant_id::text, true);
  key_id := k.id; key_tenant := k.tenant_id; key_role := k.role; key_partner := k.partner_id;
  RETURN NEXT;
END $$;
COMMENT ON FUNCTION allied_authenticate(text, text) IS
  'Request-path key lookup: the key''s identity if prefix and secret hash match; sets the tenant transaction-locally';
REVOKE ALL ON FUNCTION allied_authenticate(text, text) FROM PUBLIC;
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'allied_app') THEN
    GRANT EXECUTE ON FUNCTION allied_authenticate(text, text) TO allied_app;
  END IF;
END $$;
