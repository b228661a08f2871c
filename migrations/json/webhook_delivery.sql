-- A webhook delivery with its attempt log.
-- The current definition, applied by `allied migrate` after the numbered migrations whenever this
-- file changes (see server/data/migrate.c). Edit it in place; never redefine these in a numbered migration.

CREATE OR REPLACE FUNCTION webhook_delivery_json(d webhook_deliveries) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT row_to_json(x) FROM (SELECT d.id, d.endpoint_id, d.type, d.feed_seq::text AS event_cursor, d.status,
    d.attempts, api_ts(d.next_attempt_at) AS next_attempt_at, d.last_status, d.last_error, d.last_latency_ms,
    api_ts(d.delivered_at) AS delivered_at,
    (SELECT coalesce(json_agg(json_build_object('attempt', a.attempt, 'status_code', a.status_code,
        'latency_ms', a.latency_ms, 'error', a.error, 'at', api_ts(a.at)) ORDER BY a.attempt), '[]')
     FROM webhook_attempts a WHERE a.tenant_id = d.tenant_id AND a.delivery_id = d.id) AS attempt_log,
    api_ts(d.created_at) AS created_at) x
$$;
