-- One entry of a referral's history.
-- The current definition, applied by `allied migrate` after the numbered migrations whenever this
-- file changes (see server/data/migrate.c). Edit it in place; never redefine these in a numbered migration.

CREATE OR REPLACE FUNCTION referral_event_json(e referral_events) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT row_to_json(x) FROM (SELECT e.id, e.referral_id, e.type, e.from_status, e.to_status, e.note,
    e.stage, json_build_object('key_id', e.actor_key_id, 'role', e.actor_role) AS actor,
    api_ts(e.at) AS at) x
$$;
