-- A webhook endpoint (never its secret).
-- The current definition, applied by `allied migrate` after the numbered migrations whenever this
-- file changes (see server/data/migrate.c). Edit it in place; never redefine these in a numbered migration.

CREATE OR REPLACE FUNCTION webhook_endpoint_json(w webhook_endpoints) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT row_to_json(x) FROM (SELECT w.id, w.url, w.events, w.description, w.enabled, w.partner_id,
    w.disabled_reason, api_ts(w.failing_since) AS failing_since,
    api_ts(w.previous_secret_until) AS previous_secret_until, w.version,
    api_ts(w.created_at) AS created_at, api_ts(w.updated_at) AS updated_at) x
$$;
