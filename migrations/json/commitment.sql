-- A commitment (achieved and status from commitment_achieved() and commitment_status(), migration 0008).
-- The current definition, applied by `allied migrate` after the numbered migrations whenever this
-- file changes (see server/data/migrate.c). Edit it in place; never redefine these in a numbered migration.

CREATE OR REPLACE FUNCTION commitment_json(c commitments) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT row_to_json(x) FROM (SELECT c.id, c.partner_id, c.direction, c.target_count, c.qualified_only,
    c.period_start, c.period_end, c.note, a.n AS achieved, commitment_status(c, a.n) AS status, c.version,
    api_ts(c.created_at) AS created_at, api_ts(c.updated_at) AS updated_at
    FROM (SELECT commitment_achieved(c) AS n) a) x
$$;
