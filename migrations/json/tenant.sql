-- The API representation of a tenant (GET /v1/tenants/{id}, operator keys only).
-- The current definition, applied by `allied migrate` after the numbered migrations whenever this
-- file changes (see server/data/migrate.c). Edit it in place; never redefine these in a numbered migration.

CREATE OR REPLACE FUNCTION tenant_json(t tenants) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT json_build_object('id', t.id, 'name', t.name, 'status', t.status,
    'limits', json_build_object('requests_per_second', t.rate_per_second, 'partners', t.max_partners,
                                'webhook_endpoints', t.max_webhook_endpoints, 'rows', t.max_rows),
    'settings', json_build_object('agreement_expiring_days', t.agreement_expiring_days,
                                  'stalled_after_days', t.stalled_after_days, 'dormant_after_days', t.dormant_after_days),
    'suspended_at', api_ts(t.suspended_at), 'last_export_at', api_ts(t.last_export_at),
    'version', t.version, 'created_at', api_ts(t.created_at), 'updated_at', api_ts(t.updated_at))
$$;
