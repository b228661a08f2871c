/* GET /v1/notifications: the e-mail delivery log (staff and read-only keys see the tenant's; a
 * partner key sees only messages to its own partner's contacts). */
#include "api/notify/notify_api.h"
#include "server/edge/list.h"

static const char *const STATUSES[] = {"queued", "sent", "failed", "skipped", NULL};

/* $6 status, $7 contact_id, $8 type. */
LIST_SPEC(notification_list,
          "SELECT notification_json(n), n.created_at, n.id FROM notifications n "
          "WHERE n.tenant_id = $1 AND ($5::uuid IS NULL OR n.partner_id = $5) "
          "  AND ($6::text IS NULL OR n.status = $6) AND ($7::uuid IS NULL OR n.contact_id = $7) "
          "  AND ($8::text IS NULL OR n.type = $8)",
          "n.created_at, n.id",
          {"status", LQ_ENUM, STATUSES}, {"contact_id", LQ_UUID}, {"type", LQ_TEXT, NULL, 100});

void api_notifications_list(struct request *rq) {
    list_reply(rq, &notification_list);
}
