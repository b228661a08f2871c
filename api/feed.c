/* GET /v1/events and the append used by every writer of agreements and referrals. */
#include "api/feed.h"
#include "api/api.h"
#include "server/data/db.h"
#include "server/edge/json_in.h"
#include "server/edge/params.h"
#include "server/edge/reply.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The counter row lock orders the tenant's events by commit (see migrations/0003_feed.sql). */
/* The same statement writes the webhook outbox: one delivery per subscribed, enabled endpoint
 * (a partner's endpoint only for its own events), so no committed change goes unannounced. */
DB_STMT(st_append,
        "WITH s AS (INSERT INTO feed_counters AS f (tenant_id, last_seq) VALUES ($1, 1) "
        "  ON CONFLICT (tenant_id) DO UPDATE SET last_seq = f.last_seq + 1 RETURNING last_seq), "
        "e AS (INSERT INTO feed_events (tenant_id, seq, type, resource_type, resource_id, partner_id, data) "
        "  SELECT $1, s.last_seq, $2, $3, $4, $5, $6::json FROM s RETURNING seq, at) "
        "INSERT INTO webhook_deliveries (tenant_id, id, endpoint_id, feed_seq, type, payload) "
        "SELECT $1, gen_random_uuid(), w.id, e.seq, $2, "
        "  json_build_object('type', $2, 'timestamp', api_ts(e.at), 'data', $6::json)::text "
        "FROM e JOIN webhook_endpoints w ON w.tenant_id = $1 AND w.enabled "
        "  AND ('*' = ANY (w.events) OR $2 = ANY (w.events)) "
        "  AND (w.partner_id IS NULL OR w.partner_id = $5::uuid)");
DB_STMT(st_head, "SELECT coalesce((SELECT last_seq FROM feed_counters WHERE tenant_id = $1), 0)");
DB_STMT(st_read,
        "SELECT feed_event_json(e), e.seq FROM feed_events e WHERE e.tenant_id = $1 AND e.seq > $2 "
        "AND ($3::uuid IS NULL OR e.partner_id = $3) ORDER BY e.seq LIMIT $4");

int feed_append(struct request *rq, const char *type, const char *resource_type,
                const char *resource_id, const char *partner_id, const char *data) {
    const char *p[] = {rq->auth.tenant_id, type, resource_type, resource_id, partner_id, data};
    PGresult *r = db_exec(rq, &st_append, 6, p);
    PQclear(r);
    return r ? 0 : -1;
}

void api_events_list(struct request *rq) {
    static const char *const allowed[] = {"after", "limit", NULL};
    if (query_known_or_reply(rq, allowed)) return;
    const char *after = req_query(rq, "after"), *limit = req_query(rq, "limit");
    char *end;
    long long a = 0;
    long l = 100;
    if (after) {
        a = strtoll(after, &end, 10);
        if (*after < '0' || *after > '9' || *end || a < 0 || strlen(after) > 18) {
            reply_field_error(rq, "after", "must be a cursor from this feed (a non-negative integer)");
            return;
        }
    }
    if (limit) {
        l = strtol(limit, &end, 10);
        if (*limit < '0' || *limit > '9' || *end || l < 1 || l > 1000) {
            reply_field_error(rq, "limit", "must be an integer from 1 to 1000");
            return;
        }
    }
    char as[24], ls[16];
    snprintf(as, sizeof as, "%lld", a);
    snprintf(ls, sizeof ls, "%ld", l + 1);
    const char *p[] = {rq->auth.tenant_id, as, partner_scope(rq), ls};
    PGresult *r = db_exec(rq, &st_read, 4, p);
    if (!r) return;
    int rows = PQntuples(r), shown = rows > l ? (int)l : rows;
    if (rows == 0 && a > 0) {
        /* Nothing after the cursor: fine if it is the head, an error if it is beyond it. */
        const char *hp[] = {rq->auth.tenant_id};
        PGresult *h = db_exec(rq, &st_head, 1, hp);
        if (!h) {
            PQclear(r);
            return;
        }
        bool ahead = a > atoll(PQgetvalue(h, 0, 0));
        PQclear(h);
        if (ahead) {
            PQclear(r);
            reply_field_error(rq, "after", "is ahead of the feed; use a cursor this feed returned");
            return;
        }
    }
    size_t cap = 96;
    for (int i = 0; i < shown; i++) cap += (size_t)PQgetlength(r, i, 0) + 1;
    char *buf = malloc(cap), *w = buf;
    if (!buf) abort();
    w += sprintf(w, "{\"data\":[");
    for (int i = 0; i < shown; i++) {
        if (i) *w++ = ',';
        memcpy(w, PQgetvalue(r, i, 0), (size_t)PQgetlength(r, i, 0));
        w += PQgetlength(r, i, 0);
    }
    /* next_cursor is always the position to poll from, even when nothing new has arrived. */
    w += sprintf(w, "],\"next_cursor\":\"%s\",\"has_more\":%s}", shown ? PQgetvalue(r, shown - 1, 1) : as,
                 rows > l ? "true" : "false");
    reply_json_text(rq, 200, buf, (size_t)(w - buf));
    free(buf);
    PQclear(r);
}
