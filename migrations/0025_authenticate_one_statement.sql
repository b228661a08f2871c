-- A cold key is one statement (issue 12). allied_authenticate (0016) now also answers the key's
-- tenant state (suspended, its own request rate), which the request path read with a second
-- statement, and finds operator keys (0017), which an unknown prefix looked up with a second
-- function: it answers role 'operator' with no tenant for those. The columns of 0016 keep their
-- names and order (two are added at the end), so an instance still running the previous release
-- reads what it read before for tenant keys; an operator key's first request on such an instance
-- fails (500) until it runs this release (it would read the operator row as a tenant key's).
-- allied_authenticate_operator (0017) is left in place. Tenant keys are looked at first, as before.
DROP FUNCTION allied_authenticate(text, text);
CREATE FUNCTION allied_authenticate(p_prefix text, p_hash text)
RETURNS TABLE (key_id uuid, key_tenant uuid, key_role text, key_partner uuid, key_valid_until timestamptz,
               key_state text, tenant_suspended boolean, tenant_rate integer)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
SET allied.scope = 'all'
AS $$
DECLARE k record;
BEGIN
  SELECT a.id, a.tenant_id, a.role, a.partner_id, a.expires_at AS until, 'ok' AS state,
         a.expires_at IS NOT NULL AND a.expires_at <= now() AS expired INTO k FROM api_keys a
    WHERE a.prefix = p_prefix AND a.revoked_at IS NULL AND a.secret_hash = p_hash;
  IF NOT FOUND THEN
    SELECT a.id, a.tenant_id, a.role, a.partner_id, least(a.expires_at, a.previous_until) AS until,
           'previous' AS state, a.expires_at IS NOT NULL AND a.expires_at <= now() AS expired INTO k
      FROM api_keys a
      WHERE a.previous_prefix = p_prefix AND a.revoked_at IS NULL AND a.previous_secret_hash = p_hash;
    IF NOT FOUND THEN
      SELECT o.id INTO key_id FROM operator_keys o
        WHERE o.prefix = p_prefix AND o.revoked_at IS NULL AND o.secret_hash = p_hash;
      IF FOUND THEN
        key_role := 'operator'; key_state := 'ok';
        RETURN NEXT;
      END IF;
      RETURN;
    END IF;
  END IF;
  key_id := k.id;
  IF k.expired THEN
    key_state := 'expired';
    RETURN NEXT;
    RETURN;
  END IF;
  IF k.until IS NOT NULL AND k.until <= now() THEN
    key_state := 'rotated';
    RETURN NEXT;
    RETURN;
  END IF;
  PERFORM allied_key_touch(k.id);
  PERFORM set_config('allied.tenant_id', k.tenant_id::text, true);
  key_tenant := k.tenant_id; key_role := k.role; key_partner := k.partner_id;
  key_valid_until := k.until; key_state := 'ok';
  SELECT t.status = 'suspended', coalesce(t.rate_per_second, 0) INTO tenant_suspended, tenant_rate
    FROM tenants t WHERE t.id = k.tenant_id;
  RETURN NEXT;
END $$;
COMMENT ON FUNCTION allied_authenticate(text, text) IS
  'Request-path key lookup, tenant and operator keys: the key''s identity and how long it holds if prefix and '
  'secret hash match (or state expired/rotated), and its tenant''s state; marks the key used; sets the tenant '
  'transaction-locally';
REVOKE ALL ON FUNCTION allied_authenticate(text, text) FROM PUBLIC;
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'allied_app') THEN
    GRANT EXECUTE ON FUNCTION allied_authenticate(text, text) TO allied_app;
  END IF;
END $$;
