-- A feed event as the feed and webhook payloads show it.
-- The current definition, applied by `allied migrate` after the numbered migrations whenever this
-- file changes (see server/data/migrate.c). Edit it in place; never redefine these in a numbered migration.

CREATE OR REPLACE FUNCTION feed_event_json(e feed_events) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT row_to_json(x) FROM (SELECT e.seq::text AS cursor, e.type, e.resource_type, e.resource_id,
    api_ts(e.at) AS at, e.data) x
$$;
