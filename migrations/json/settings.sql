-- The tenant's own settings (GET/PATCH /v1/settings, api/settings.c): the thresholds of its
-- time-based events. Each is the tenant's number or null for the instance's default, which
-- `defaults` shows ($2: the instance's options, passed by the caller).
-- The current definition, applied by `allied migrate` after the numbered migrations whenever this
-- file changes (see server/data/migrate.c). Edit it in place; never redefine these in a numbered migration.

CREATE OR REPLACE FUNCTION settings_json(t tenants, defaults json) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT json_build_object('agreement_expiring_days', t.agreement_expiring_days,
    'stalled_after_days', t.stalled_after_days, 'dormant_after_days', t.dormant_after_days,
    'defaults', defaults, 'version', t.version, 'updated_at', api_ts(t.updated_at))
$$;
