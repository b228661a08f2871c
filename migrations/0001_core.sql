-- Tenants, API keys, idempotency keys, and the non-owner role the server runs as.

-- The server switches to allied_app (SET ROLE) so it cannot alter the schema and so that
-- row-level security applies to it. Where the deployment may not create roles, this is skipped
-- and the server runs as the connecting user.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'allied_app') THEN
    CREATE ROLE allied_app NOLOGIN;
  END IF;
  EXECUTE format('GRANT allied_app TO %I', current_user);
  ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO allied_app;
  ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO allied_app;
  GRANT USAGE ON SCHEMA public TO allied_app;
  GRANT SELECT ON schema_migrations TO allied_app;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'allied: cannot create or grant role allied_app; the server will run as %', current_user;
END $$;

-- The caller's tenant for row-level security: set per request by the API key lookup.
CREATE FUNCTION allied_tenant() RETURNS uuid LANGUAGE sql STABLE AS
$$ SELECT nullif(current_setting('allied.tenant_id', true), '')::uuid $$;
COMMENT ON FUNCTION allied_tenant() IS 'Tenant of the current request (row-level security), NULL outside one';

-- Timestamps in API output: RFC 3339, UTC, microseconds (also the pagination cursor format).
CREATE FUNCTION api_ts(t timestamptz) RETURNS text LANGUAGE sql STABLE AS
$$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') $$;

CREATE TABLE tenants (
  id          uuid PRIMARY KEY,
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE tenants IS 'A business using this instance; every other row belongs to one';

CREATE TABLE api_keys (
  tenant_id    uuid NOT NULL REFERENCES tenants(id),
  id           uuid NOT NULL,
  role         text NOT NULL CHECK (role IN ('admin', 'staff', 'partner', 'readonly')),
  partner_id   uuid,
  name         text CHECK (length(name) <= 200),
  prefix       text NOT NULL UNIQUE CHECK (prefix ~ '^ak_[0-9a-f]{12}$'),
  secret_hash  text NOT NULL CHECK (secret_hash ~ '^[0-9a-f]{64}$'),
  created_at   timestamptz NOT NULL DEFAULT now(),
  revoked_at   timestamptz,
  PRIMARY KEY (tenant_id, id),
  UNIQUE (id),
  CHECK ((role = 'partner') = (partner_id IS NOT NULL))
);
COMMENT ON TABLE api_keys IS 'API keys; the secret is never stored, only its SHA-256';
COMMENT ON COLUMN api_keys.prefix IS 'Public lookup part of the key (ak_ + 12 hex)';
COMMENT ON COLUMN api_keys.secret_hash IS 'Hex SHA-256 of the whole key';
COMMENT ON COLUMN api_keys.partner_id IS 'For role partner: the only partner this key acts for';
CREATE INDEX api_keys_page ON api_keys (tenant_id, created_at, id);

CREATE TABLE idempotency_keys (
  tenant_id     uuid NOT NULL REFERENCES tenants(id),
  api_key_id    uuid NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
  idem_key      text NOT NULL CHECK (length(idem_key) BETWEEN 1 AND 255),
  request_hash  text NOT NULL,
  status        int,
  body          text,
  content_type  text,
  etag          text,
  location      text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (api_key_id, idem_key)
);
COMMENT ON TABLE idempotency_keys IS 'Responses to POSTs sent with Idempotency-Key, replayed for 24 h';
COMMENT ON COLUMN idempotency_keys.request_hash IS 'SHA-256 of method, path and body: same key + other request = 422';
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);

ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON idempotency_keys USING (tenant_id = allied_tenant());

-- The API representation of a key (never the secret or its hash).
CREATE FUNCTION api_key_json(k api_keys) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT row_to_json(x) FROM (SELECT k.id, k.role, k.partner_id, k.name, k.prefix,
    api_ts(k.created_at) AS created_at, api_ts(k.revoked_at) AS revoked_at) x
$$;
