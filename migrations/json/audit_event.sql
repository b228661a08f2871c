-- The API representation of an audit event.
-- The current definition, applied by `allied migrate` after the numbered migrations whenever this
-- file changes (see server/data/migrate.c). Edit it in place; never redefine these in a numbered migration.

CREATE OR REPLACE FUNCTION audit_event_json(e audit_events) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT row_to_json(x) FROM (SELECT e.id, api_ts(e.created_at) AS created_at, e.key_id, e.key_name,
    e.key_role, e.client_address, e.method, e.route, e.resource_id, e.status, e.request_id) x
$$;
