-- The API representation of a key (never the secret or its hash).
-- The current definition, applied by `allied migrate` after the numbered migrations whenever this
-- file changes (see server/data/migrate.c). Edit it in place; never redefine these in a numbered migration.

CREATE OR REPLACE FUNCTION api_key_json(k api_keys) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT row_to_json(x) FROM (SELECT k.id, k.role, k.partner_id, k.name, k.prefix,
    api_ts(k.created_at) AS created_at, api_ts(k.revoked_at) AS revoked_at) x
$$;
