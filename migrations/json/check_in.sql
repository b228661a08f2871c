-- A check-in.
-- The current definition, applied by `allied migrate` after the numbered migrations whenever this
-- file changes (see server/data/migrate.c). Edit it in place; never redefine these in a numbered migration.

CREATE OR REPLACE FUNCTION check_in_json(k check_ins) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT row_to_json(x) FROM (SELECT k.id, k.partner_id, k.held_on, k.notes, k.next_due_on,
    api_ts(k.created_at) AS created_at) x
$$;
