/* GET /v1/events and the append used by every writer of agreements and referrals (and, on its
 * own connection, by the scheduler of time-based events). */
#include "api/feed.h"
#include "api/api.h"
#include "api/notify/outbox.h"
#include "api/webhooks/webhooks.h"
#include "server/data/db.h"
#include "server/edge/json_in.h"
#include "server/edge/list.h"
#include "server/edge/params.h"
#include "server/edge/reply.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The counter row lock orders the tenant's events by commit (see migrations/0003_feed.sql). */
/* The same statement writes the e-mail outbox (api/notify/outbox.h) and the webhook outbox
 * (api/webhooks/webhooks.h), so no committed change goes unannounced. */
DB_STMT(st_append,
        "WITH s AS (INSERT INTO feed_counters AS f (tenant_id, last_seq) VALUES ($1, 1) "
        "  ON CONFLICT (tenant_id) DO UPDATE SET last_seq = f.last_seq + 1 RETURNING last_seq), "
        "e AS (INSERT INTO feed_events (tenant_id, seq, type, resource_type, resource_id, partner_id, data) "
        "  SELECT $1, s.last_seq, $2, $3, $4, $5, $6::json FROM s RETURNING seq, at), "
        NOTIFICATION_OUTBOX_INSERT WEBHOOK_OUTBOX_INSERT);
DB_STMT(st_head, "SELECT coalesce((SELECT last_seq FROM feed_counters WHERE tenant_id = $1), 0)");
DB_STMT(st_read,
        "SELECT feed_event_json(e), e.seq FROM feed_events e WHERE e.tenant_id = $1 AND e.seq > $2 "
        "AND ($3::uuid IS NULL OR e.partner_id = $3) ORDER BY e.seq LIMIT $4");

int feed_append(struct request *rq, const char *type, const char *resource_type,
                const char *resource_id, const char *partner_id, const char *data) {
    const char *p[] = {rq->auth.tenant_id, type, resource_type, resource_id, partner_id, data};
    /* Sent with the COMMIT: the counter row below is locked for that one round trip only. */
    return db_defer(rq, &st_append, 6, p);
}

int feed_append_conn(struct db_conn *c, const char *tenant, const char *type, const char *resource_type,
                     const char *resource_id, const char *partner_id, const char *data, char *err,
                     size_t errlen) {
    const char *p[] = {tenant, type, resource_type, resource_id, partner_id, data};
    PGresult *r = db_try_conn(c, &st_append, 6, p, err, errlen);
    PQclear(r);
    return r ? 0 : -1;
}

/* Nothing after the cursor: fine if it is the head, a 400 if it is beyond it. True after replying
 * (or when the runner must answer a database failure). */
static bool feed_ahead_or_reply(struct request *rq, long long after) {
    const char *hp[] = {rq->auth.tenant_id};
    PGresult *h = db_exec(rq, &st_head, 1, hp);
    if (!h) return true;
    bool ahead = after > atoll(PQgetvalue(h, 0, 0));
    PQclear(h);
    if (ahead) reply_field_error(rq, "after", "is ahead of the feed; use a cursor this feed returned");
    return ahead;
}

void api_events_list(struct request *rq) {
    static const char *const allowed[] = {"after", "limit", NULL};
    struct timeline t;
    if (query_known_or_reply(rq, allowed) || timeline_params_or_reply(rq, "feed", 1000, &t)) return;
    const char *p[] = {rq->auth.tenant_id, t.after_text, partner_scope(rq), t.limit_plus_one};
    PGresult *r = db_exec(rq, &st_read, 4, p);
    if (!r) return;
    if (PQntuples(r) == 0 && t.after > 0 && feed_ahead_or_reply(rq, t.after)) {
        PQclear(r);
        return;
    }
    reply_timeline(rq, r, &t, true);
    PQclear(r);
}
