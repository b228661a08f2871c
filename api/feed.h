/* The tenant's change feed: appended inside the writing transaction, read by GET /v1/events. */
#ifndef ALLIED_FEED_H
#define ALLIED_FEED_H
#include "server/edge/request.h"

/* Appends one event ("referral.acknowledged", ...) carrying `data` (the resource's JSON after the
 * change). Call it as the last statement before commit: it holds the tenant's feed counter lock
 * until then. Returns 0, or -1 with rq->db_fail set (the caller replies). */
int feed_append(struct request *rq, const char *type, const char *resource_type,
                const char *resource_id, const char *partner_id, const char *data);
#endif
