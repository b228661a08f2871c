-- The operator: whoever runs this instance for its tenants (an agency hosting client businesses).
-- Operator keys are not bound to a tenant: they live in their own table, are minted only by
-- `allied key create --role operator`, and are found by allied_authenticate_operator below.
-- Tenants gain a status (suspend/resume), a version (If-Match), per-tenant limits, and
-- last_export_at (set by the export, GET /v1/export, through tenant_mark_exported()); usage is
-- rolled up per day in tenant_usage_daily by a background flush (server/edge/usage.c).

CREATE TABLE operator_keys (
  id           uuid PRIMARY KEY,
  name         text CHECK (length(name) <= 200),
  prefix       text NOT NULL UNIQUE CHECK (prefix ~ '^ak_[0-9a-f]{12}$'),
  secret_hash  text NOT NULL CHECK (secret_hash ~ '^[0-9a-f]{64}$'),
  created_at   timestamptz NOT NULL DEFAULT now(),
  revoked_at   timestamptz
);
COMMENT ON TABLE operator_keys IS 'Instance-level keys of role operator (tenant metadata and usage, never business records)';

-- The request path never reads it directly (only through allied_authenticate_operator).
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'allied_app') THEN
    REVOKE ALL ON operator_keys FROM allied_app;
  END IF;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'allied: cannot revoke operator_keys from allied_app';
END $$;

-- A change to an operator key is announced like one to a tenant key (0014): every instance's
-- key cache forgets it at once.
CREATE TRIGGER operator_keys_announce AFTER UPDATE OR DELETE ON operator_keys
  FOR EACH ROW EXECUTE FUNCTION api_keys_announce();

CREATE FUNCTION allied_authenticate_operator(p_prefix text, p_hash text)
RETURNS TABLE (key_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
  SELECT o.id FROM operator_keys o
  WHERE o.prefix = p_prefix AND o.revoked_at IS NULL AND o.secret_hash = p_hash
$$;
COMMENT ON FUNCTION allied_authenticate_operator(text, text) IS
  'Request-path lookup of an operator key: its id if prefix and secret hash match';
REVOKE ALL ON FUNCTION allied_authenticate_operator(text, text) FROM PUBLIC;
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'allied_app') THEN
    GRANT EXECUTE ON FUNCTION allied_authenticate_operator(text, text) TO allied_app;
  END IF;
END $$;

ALTER TABLE tenants
  ADD COLUMN status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
  ADD COLUMN suspended_at timestamptz,
  ADD COLUMN version bigint NOT NULL DEFAULT 1,
  ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now(),
  ADD COLUMN last_export_at timestamptz,
  ADD COLUMN rate_per_second int CHECK (rate_per_second BETWEEN 1 AND 1000000),
  ADD COLUMN max_partners int CHECK (max_partners >= 0),
  ADD COLUMN max_webhook_endpoints int CHECK (max_webhook_endpoints >= 0),
  ADD COLUMN max_rows bigint CHECK (max_rows >= 0);
COMMENT ON COLUMN tenants.status IS 'active, or suspended by the operator: keys refused (403 tenant-suspended), webhooks paused';
COMMENT ON COLUMN tenants.last_export_at IS 'When the tenant''s data was last exported (GET /v1/export); DELETE /v1/tenants/{id} requires one';
COMMENT ON COLUMN tenants.rate_per_second IS 'Requests per second on each instance; NULL = ALLIED_RATE_TENANT_PER_SECOND';
COMMENT ON COLUMN tenants.max_partners IS 'Partners the tenant may have; NULL = no limit';
COMMENT ON COLUMN tenants.max_webhook_endpoints IS 'Webhook endpoints the tenant may have; NULL = no limit';
COMMENT ON COLUMN tenants.max_rows IS 'Rows of business records (tenant_rows()) the tenant may have; NULL = no limit';
CREATE INDEX tenants_page ON tenants (created_at, id);

-- The export stamps its tenant (the request's own, row-level security allows it).
CREATE FUNCTION tenant_mark_exported(t uuid) RETURNS void LANGUAGE sql AS $$
  UPDATE tenants SET last_export_at = now() WHERE id = t
$$;
COMMENT ON FUNCTION tenant_mark_exported(uuid) IS 'Records that tenant t was exported now (tenants.last_export_at)';

-- Suspending or resuming a tenant, or deleting it, changes what its keys may do: every instance's
-- key cache forgets them at once.
CREATE FUNCTION tenants_announce() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' OR OLD.status IS DISTINCT FROM NEW.status
     OR OLD.rate_per_second IS DISTINCT FROM NEW.rate_per_second THEN
    PERFORM pg_notify('allied_key_changes', k.id::text) FROM api_keys k WHERE k.tenant_id = OLD.id;
  END IF;
  RETURN NULL;
END $$;
COMMENT ON FUNCTION tenants_announce() IS 'NOTIFY allied_key_changes for every key of a tenant whose status or rate changed';
CREATE TRIGGER tenants_announce AFTER UPDATE OR DELETE ON tenants
  FOR EACH ROW EXECUTE FUNCTION tenants_announce();

-- The business records counted against max_rows, per resource (also the usage report's rows).
CREATE FUNCTION tenant_rows(t uuid) RETURNS TABLE (resource text, n bigint) LANGUAGE sql STABLE AS $$
  SELECT 'partners', count(*) FROM partners WHERE tenant_id = t
  UNION ALL SELECT 'agreements', count(*) FROM agreements WHERE tenant_id = t
  UNION ALL SELECT 'referrals', count(*) FROM referrals WHERE tenant_id = t
  UNION ALL SELECT 'commissions', count(*) FROM commissions WHERE tenant_id = t
  UNION ALL SELECT 'invoices', count(*) FROM invoices WHERE tenant_id = t
  UNION ALL SELECT 'webhook_endpoints', count(*) FROM webhook_endpoints WHERE tenant_id = t
  UNION ALL SELECT 'commitments', count(*) FROM commitments WHERE tenant_id = t
  UNION ALL SELECT 'check_ins', count(*) FROM check_ins WHERE tenant_id = t
$$;
COMMENT ON FUNCTION tenant_rows(uuid) IS 'Rows per business resource of tenant t, counted now';

-- Limits are checked where rows are made, in the inserting transaction: the tenant row is locked
-- (only when a limit is set), so concurrent creates cannot overshoot. A breach raises
-- check_violation with the constraint name tenant_limit_<limit>, answered 409 tenant-limit.
CREATE FUNCTION tenant_limits_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE lim record; used bigint;
BEGIN
  SELECT max_partners, max_webhook_endpoints, max_rows INTO lim FROM tenants WHERE id = NEW.tenant_id;
  IF lim.max_rows IS NULL AND NOT (TG_TABLE_NAME = 'partners' AND lim.max_partners IS NOT NULL)
     AND NOT (TG_TABLE_NAME = 'webhook_endpoints' AND lim.max_webhook_endpoints IS NOT NULL) THEN
    RETURN NEW;
  END IF;
  PERFORM 1 FROM tenants WHERE id = NEW.tenant_id FOR UPDATE;
  IF TG_TABLE_NAME = 'partners' AND lim.max_partners IS NOT NULL THEN
    SELECT count(*) INTO used FROM partners WHERE tenant_id = NEW.tenant_id;
    IF used >= lim.max_partners THEN
      RAISE EXCEPTION 'tenant limit partners (%) reached', lim.max_partners
        USING ERRCODE = 'check_violation', CONSTRAINT = 'tenant_limit_partners';
    END IF;
  END IF;
  IF TG_TABLE_NAME = 'webhook_endpoints' AND lim.max_webhook_endpoints IS NOT NULL THEN
    SELECT count(*) INTO used FROM webhook_endpoints WHERE tenant_id = NEW.tenant_id;
    IF used >= lim.max_webhook_endpoints THEN
      RAISE EXCEPTION 'tenant limit webhook_endpoints (%) reached', lim.max_webhook_endpoints
        USING ERRCODE = 'check_violation', CONSTRAINT = 'tenant_limit_webhook_endpoints';
    END IF;
  END IF;
  IF lim.max_rows IS NOT NULL THEN
    SELECT sum(r.n) INTO used FROM tenant_rows(NEW.tenant_id) r;
    IF used >= lim.max_rows THEN
      RAISE EXCEPTION 'tenant limit rows (%) reached', lim.max_rows
        USING ERRCODE = 'check_violation', CONSTRAINT = 'tenant_limit_rows';
    END IF;
  END IF;
  RETURN NEW;
END $$;
COMMENT ON FUNCTION tenant_limits_check() IS 'Refuses a new row beyond the tenant''s max_partners, max_webhook_endpoints or max_rows';
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['partners', 'agreements', 'referrals', 'commissions', 'invoices',
      'webhook_endpoints', 'commitments', 'check_ins'] LOOP
    EXECUTE format('CREATE TRIGGER tenant_limits BEFORE INSERT ON %I '
                   'FOR EACH ROW EXECUTE FUNCTION tenant_limits_check()', t);
  END LOOP;
END $$;

-- Removes a tenant and every row that belongs to it, in the caller's transaction: every table
-- with a tenant_id column, children before parents (found from the foreign keys, so tables added
-- later are covered too), then the tenant.
CREATE FUNCTION tenant_delete_all(p_id uuid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
SET allied.scope = 'all'
AS $$
DECLARE remaining text[]; t text; progress boolean;
BEGIN
  SELECT array_agg(c.relname::text) INTO remaining FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
    WHERE c.relkind IN ('r', 'p');
  WHILE coalesce(array_length(remaining, 1), 0) > 0 LOOP
    progress := false;
    FOREACH t IN ARRAY remaining LOOP
      IF NOT EXISTS (SELECT 1 FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
                     WHERE k.contype = 'f' AND k.confrelid = ('public.' || quote_ident(t))::regclass
                       AND k.conrelid <> k.confrelid AND c.relname::text = ANY (remaining)) THEN
        EXECUTE format('DELETE FROM public.%I WHERE tenant_id = $1', t) USING p_id;
        remaining := array_remove(remaining, t);
        progress := true;
      END IF;
    END LOOP;
    IF NOT progress THEN
      RAISE EXCEPTION 'tenant_delete_all: foreign keys form a cycle among %', remaining;
    END IF;
  END LOOP;
  DELETE FROM tenants WHERE id = p_id;
END $$;
COMMENT ON FUNCTION tenant_delete_all(uuid) IS 'Deletes tenant p_id and every row with its tenant_id, in one transaction';
REVOKE ALL ON FUNCTION tenant_delete_all(uuid) FROM PUBLIC;
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'allied_app') THEN
    GRANT EXECUTE ON FUNCTION tenant_delete_all(uuid) TO allied_app;
  END IF;
END $$;

-- Usage rolled up per tenant, day and counter: each instance counts in memory and adds its counts
-- every few seconds (server/edge/usage.c), so there is never a row per request.
CREATE TABLE tenant_usage_daily (
  tenant_id    uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  day          date NOT NULL,
  metric       text NOT NULL CHECK (metric IN ('requests', 'webhook_attempts', 'webhook_failures')),
  route_group  text NOT NULL DEFAULT '' CHECK (length(route_group) <= 64),
  n            bigint NOT NULL DEFAULT 0 CHECK (n >= 0),
  PRIMARY KEY (tenant_id, day, metric, route_group)
);
COMMENT ON TABLE tenant_usage_daily IS 'Requests (by route group) and webhook attempts/failures per tenant per UTC day, summed over instances';
COMMENT ON COLUMN tenant_usage_daily.route_group IS 'For requests: the first path segment after /v1 (partners, referrals, ...); else empty';
ALTER TABLE tenant_usage_daily ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_usage_daily FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON tenant_usage_daily
  USING (tenant_id = (SELECT allied_tenant()) OR (SELECT allied_unscoped()));
