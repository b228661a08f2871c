-- An e-mail notification: one row of the delivery log (GET /v1/notifications).
-- The current definition, applied by `allied migrate` after the numbered migrations whenever this
-- file changes (see server/data/migrate.c). Edit it in place; never redefine these in a numbered migration.

CREATE OR REPLACE FUNCTION notification_json(n notifications) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT row_to_json(x) FROM (SELECT n.id, n.contact_id, n.partner_id, n.recipient AS "to", n.type,
    n.feed_seq::text AS event_cursor, n.digest, n.status, n.attempts,
    CASE WHEN n.status = 'queued' THEN api_ts(n.next_attempt_at) END AS next_attempt_at,
    n.last_error, api_ts(n.created_at) AS created_at, api_ts(n.sent_at) AS sent_at) x
$$;
