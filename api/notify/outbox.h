/* The e-mail outbox (migrations/0022_notifications.sql), from the event to the message:
 *   1. written — the statement that appends a feed event (api/feed.c) also inserts one row per
 *      contact who wants that kind and is on its side (NOTIFICATION_OUTBOX_INSERT below), in the
 *      event's transaction, never twice per (event, contact) (a unique key);
 *   2. claimed and sent — the mail sender (sender.c) takes due rows FOR UPDATE SKIP LOCKED,
 *      renders them (render.c) and sends them over SMTP (smtp.c), with retries and back-off;
 *   3. digest — a contact with digest = daily has its rows held and sent as one message a day.
 * The delivery log and the unsubscribe links are notifications.c and unsubscribe.c. */
#ifndef ALLIED_NOTIFY_OUTBOX_H
#define ALLIED_NOTIFY_OUTBOX_H
#include "api/notification_kinds.h"
#include "server/edge/request.h"

/* A CTE `n` (the last of the WITH list: no trailing comma) for the statement whose CTE `e` has just inserted a feed event
 * (seq), with $1 tenant, $2 event type, $5 the partner the event concerns. Each branch is one
 * probe of contacts_partner (tenant, partner) and runs only for a kind of its side, so a tenant
 * without contacts pays an empty index probe, and an event no contact may hear about none.
 * A daily-digest contact's row joins its open digest (due with its earliest held row) or opens
 * one due a day later. */
#define NOTIFICATION_OUTBOX_INSERT                                                                 \
    "n AS (INSERT INTO notifications (tenant_id, contact_id, partner_id, feed_seq, type, recipient, " \
    "  digest, next_attempt_at) "                                                                  \
    "SELECT $1, c.id, c.partner_id, e.seq, $2, c.email, c.digest = 'daily', "                      \
    "  CASE WHEN c.digest = 'daily' THEN coalesce((SELECT min(q.next_attempt_at) FROM notifications q " \
    "    WHERE q.tenant_id = $1 AND q.contact_id = c.id AND q.status = 'queued' AND q.digest), "   \
    "    now() + interval '1 day') ELSE now() END "                                                \
    "FROM e, (SELECT * FROM contacts WHERE tenant_id = $1 AND partner_id = $5::uuid "              \
    "    AND $2 = ANY (" NOTIFICATION_KINDS_SQL(NOTIFICATION_KINDS_PARTNER) ") "                                             \
    "  UNION ALL SELECT * FROM contacts WHERE tenant_id = $1 AND partner_id IS NULL "              \
    "    AND $2 = ANY (" NOTIFICATION_KINDS_SQL(NOTIFICATION_KINDS_TENANT) ")) c "                                           \
    "WHERE $2 = ANY (c.notifications) ON CONFLICT DO NOTHING) "

/* Queues a message to `to` in the request's transaction (it goes out only if the request
 * commits), sent by the same sender with the same retries: for messages that are not a contact's
 * notification, such as a portal sign-in link. `subject` is one line (CR and LF are replaced);
 * `text` is the plain-text body; `html` the HTML body or NULL for a text-only message — the
 * caller escapes what it interpolates. Not subject to unsubscribing; no List-Unsubscribe. The
 * row is in the delivery log as type "direct" with no contact. 0, or -1 when the statement
 * failed (the runner answers: the handler just returns). */
int notify_direct(struct request *rq, const char *to, const char *subject, const char *text,
                  const char *html);
#endif
