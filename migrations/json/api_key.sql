-- The API representation of a key (never the secret or its hash). `previous_secret` describes the
-- secret replaced by the last rotation while it still matters (its prefix and until when it works).
-- The current definition, applied by `allied migrate` after the numbered migrations whenever this
-- file changes (see server/data/migrate.c). Edit it in place; never redefine these in a numbered migration.

CREATE OR REPLACE FUNCTION api_key_json(k api_keys) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT row_to_json(x) FROM (SELECT k.id, k.role, k.partner_id, k.name, k.prefix,
    api_ts(k.created_at) AS created_at, api_ts(k.revoked_at) AS revoked_at,
    api_ts(k.expires_at) AS expires_at, api_ts(k.last_used_at) AS last_used_at,
    api_ts(k.rotated_at) AS rotated_at,
    CASE WHEN k.previous_prefix IS NOT NULL THEN
      json_build_object('prefix', k.previous_prefix, 'overlap_until', api_ts(k.previous_until))
    END AS previous_secret) x
$$;
