/* The tenant's change feed: appended inside the writing transaction, read by GET /v1/events. */
#ifndef ALLIED_FEED_H
#define ALLIED_FEED_H
#include "server/edge/request.h"
#include <stddef.h>

/* Appends one event ("referral.acknowledged", ...) carrying `data` (the resource's JSON after the
 * change). Deferred (db_defer): it goes out with the request's COMMIT, in one round trip, so the
 * tenant's feed counter row is locked only for that trip; a failure is the commit's. Returns 0,
 * or -1 with rq->db_fail set when it had to be sent at once and failed (the caller replies). */
int feed_append(struct request *rq, const char *type, const char *resource_type,
                const char *resource_id, const char *partner_id, const char *data);

struct db_conn;
/* The same append on a background connection that is not a request's (the scheduler of
 * time-based events, api/time_events.c), inside the caller's transaction, for `tenant`. Returns
 * 0, or -1 with the error's first line in `err` (nothing logged). */
int feed_append_conn(struct db_conn *c, const char *tenant, const char *type, const char *resource_type,
                     const char *resource_id, const char *partner_id, const char *data, char *err,
                     size_t errlen);
#endif
