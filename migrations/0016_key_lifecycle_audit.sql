-- Keys and accountability: API keys that expire, say when they were last used and can be rotated
-- with an overlap; and an audit log per tenant of every state-changing request.

ALTER TABLE api_keys
  ADD COLUMN expires_at           timestamptz,
  ADD COLUMN last_used_at         timestamptz,
  ADD COLUMN rotated_at           timestamptz,
  ADD COLUMN previous_prefix      text UNIQUE CHECK (previous_prefix ~ '^ak_[0-9a-f]{12}$'),
  ADD COLUMN previous_secret_hash text CHECK (previous_secret_hash ~ '^[0-9a-f]{64}$'),
  ADD COLUMN previous_until       timestamptz,
  ADD CONSTRAINT api_keys_previous_whole
    CHECK ((previous_prefix IS NULL) = (previous_secret_hash IS NULL)
       AND (previous_prefix IS NULL) = (previous_until IS NULL));
COMMENT ON COLUMN api_keys.expires_at IS 'After this the key (every secret of it) gets 401 key-expired; NULL = never';
COMMENT ON COLUMN api_keys.last_used_at IS 'Last authenticated use, written at most once a minute per key';
COMMENT ON COLUMN api_keys.rotated_at IS 'When the secret was last replaced (POST /v1/api-keys/{id}/rotate)';
COMMENT ON COLUMN api_keys.previous_prefix IS 'Lookup prefix of the secret replaced by the last rotation';
COMMENT ON COLUMN api_keys.previous_secret_hash IS 'Hex SHA-256 of the secret replaced by the last rotation';
COMMENT ON COLUMN api_keys.previous_until IS 'The replaced secret works until then (the overlap), then gets 401 key-rotated';

-- Marks a key used, at most once a minute: a row written within the last minute, or locked by
-- someone else right now (a concurrent touch or a revocation), is left alone without waiting.
CREATE FUNCTION allied_key_touch(p_key uuid) RETURNS void
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
SET allied.scope = 'all'
AS $$
  UPDATE api_keys SET last_used_at = now()
   WHERE id = (SELECT id FROM api_keys WHERE id = p_key
                 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
               FOR UPDATE SKIP LOCKED)
$$;
COMMENT ON FUNCTION allied_key_touch(uuid) IS 'Sets last_used_at = now() unless written within the last minute';
REVOKE ALL ON FUNCTION allied_key_touch(uuid) FROM PUBLIC;

-- allied_authenticate (0009) now also finds a rotated key by its previous secret during the
-- overlap, says until when the identity it answers holds (the key cache must not keep it
-- longer), and answers state 'expired' / 'rotated' (with the key id, but without setting the
-- tenant) for a right secret that is past its time, so the client learns why.
DROP FUNCTION allied_authenticate(text, text);
CREATE FUNCTION allied_authenticate(p_prefix text, p_hash text)
RETURNS TABLE (key_id uuid, key_tenant uuid, key_role text, key_partner uuid, key_valid_until timestamptz,
               key_state text)
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
  RETURN NEXT;
END $$;
COMMENT ON FUNCTION allied_authenticate(text, text) IS
  'Request-path key lookup: the key''s identity and how long it holds if prefix and secret hash match (or '
  'state expired/rotated); marks the key used; sets the tenant transaction-locally';
REVOKE ALL ON FUNCTION allied_authenticate(text, text) FROM PUBLIC;
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'allied_app') THEN
    GRANT EXECUTE ON FUNCTION allied_authenticate(text, text) TO allied_app;
    GRANT EXECUTE ON FUNCTION allied_key_touch(uuid) TO allied_app;
  END IF;
END $$;

-- Marking a key used changes nothing any cache holds: only other changes are announced.
CREATE OR REPLACE FUNCTION api_keys_announce() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND (to_jsonb(NEW) - 'last_used_at') = (to_jsonb(OLD) - 'last_used_at') THEN
    RETURN NULL;
  END IF;
  PERFORM pg_notify('allied_key_changes', OLD.id::text);
  RETURN NULL;
END $$;

CREATE TABLE audit_events (
  tenant_id      uuid NOT NULL REFERENCES tenants(id),
  id             uuid NOT NULL DEFAULT gen_random_uuid(),
  created_at     timestamptz NOT NULL DEFAULT now(),
  key_id         uuid NOT NULL,
  key_name       text,
  key_role       text NOT NULL,
  client_address text NOT NULL CHECK (length(client_address) <= 64),
  method         text NOT NULL CHECK (method IN ('POST', 'PUT', 'PATCH', 'DELETE')),
  route          text NOT NULL CHECK (length(route) <= 200),
  resource_id    text CHECK (length(resource_id) <= 200),
  status         integer NOT NULL CHECK (status BETWEEN 100 AND 599),
  request_id     text NOT NULL CHECK (length(request_id) <= 130),
  PRIMARY KEY (tenant_id, id)
);
COMMENT ON TABLE audit_events IS 'Who did what and when: one row per state-changing request, success or refusal';
COMMENT ON COLUMN audit_events.created_at IS 'When the request ran (its transaction''s start)';
COMMENT ON COLUMN audit_events.key_id IS 'The API key that made the request (no foreign key: the log outlives changes to keys)';
COMMENT ON COLUMN audit_events.key_name IS 'The key''s name at the time';
COMMENT ON COLUMN audit_events.key_role IS 'The key''s role at the time';
COMMENT ON COLUMN audit_events.client_address IS 'The peer address of the HTTP connection';
COMMENT ON COLUMN audit_events.route IS 'The route pattern, e.g. /v1/partners/{id}';
COMMENT ON COLUMN audit_events.resource_id IS 'The path id, or the created resource''s id (from Location)';
COMMENT ON COLUMN audit_events.status IS 'The HTTP status answered';
COMMENT ON COLUMN audit_events.request_id IS 'X-Request-Id of the request';
CREATE INDEX audit_events_page ON audit_events (tenant_id, created_at, id);
CREATE INDEX audit_events_age ON audit_events (created_at);

ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON audit_events USING
  (tenant_id = (SELECT allied_tenant()) OR (SELECT allied_unscoped()));
