/* Webhooks, from the change that causes one to its last attempt:
 *   1. written — the statement that appends a feed event (api/feed.c) also inserts one delivery per
 *      subscribed, enabled endpoint (WEBHOOK_OUTBOX_INSERT below), in the request's transaction;
 *   2. claimed — a sender thread (deliver.c) takes due deliveries with FOR UPDATE SKIP LOCKED;
 *   3. guarded — the URL's host and every address it resolves to pass the SSRF guard (guard.c);
 *   4. signed and sent — Standard Webhooks headers (signing.c), POSTed by libcurl off-transaction;
 *   5. recorded — each attempt's result, then a retry with back-off or done (deliver.c).
 * Endpoints themselves (CRUD, secrets, the delivery log and manual retry) are endpoints.c. */
#ifndef ALLIED_WEBHOOKS_H
#define ALLIED_WEBHOOKS_H

/* The outbox writer: SQL completing a statement whose CTE `e` has just inserted a feed event
 * (seq, at), with $1 tenant, $2 event type, $5 the partner the event concerns, $6 its data. A
 * partner's endpoint receives only that partner's events. */
#define WEBHOOK_OUTBOX_INSERT                                                                      \
    "INSERT INTO webhook_deliveries (tenant_id, id, endpoint_id, feed_seq, type, payload) "        \
    "SELECT $1, gen_random_uuid(), w.id, e.seq, $2, "                                              \
    "  json_build_object('type', $2, 'timestamp', api_ts(e.at), 'data', $6::json)::text "          \
    "FROM e JOIN webhook_endpoints w ON w.tenant_id = $1 AND w.enabled "                           \
    "  AND ('*' = ANY (w.events) OR $2 = ANY (w.events)) "                                         \
    "  AND (w.partner_id IS NULL OR w.partner_id = $5::uuid)"
#endif
