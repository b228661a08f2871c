-- A contact: a person Allied notifies (partner_id null: the tenant's own notification contact).
-- The current definition, applied by `allied migrate` after the numbered migrations whenever this
-- file changes (see server/data/migrate.c). Edit it in place; never redefine these in a numbered migration.

CREATE OR REPLACE FUNCTION contact_json(c contacts) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT row_to_json(x) FROM (SELECT c.id, c.partner_id, c.name, c.email, c.role, c.notifications, c.digest,
    c.version, api_ts(c.created_at) AS created_at, api_ts(c.updated_at) AS updated_at) x
$$;
