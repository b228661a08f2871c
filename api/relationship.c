/* Keeping the relationship healthy: commitments ("two qualified introductions next month", with
 * progress counted from the referrals) and check-ins (with when the next one is due). */
#include "api/api.h"
#include "api/partners.h"
#include "server/data/db.h"
#include "server/edge/json_in.h"
#include "server/edge/pagination.h"
#include "server/edge/list.h"
#include "server/edge/params.h"
#include "server/edge/reply.h"
#include "server/edge/resource.h"
#include "server/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const DIRECTIONS[] = {"inbound", "outbound", NULL};
static const char *const STATUSES[] = {"open", "at_risk", "met", "missed", NULL};

#define COMMITMENT_READONLY                                                                        \
    FIELD_READONLY("partner_id"), FIELD_READONLY("achieved"), FIELD_READONLY("status"),              \
        FIELDS_READONLY_RESOURCE
static const struct field COMMITMENT[] = {
    FIELD_ENUM("direction", F_REQUIRED, DIRECTIONS),
    FIELD_INT("target_count", F_REQUIRED, 1, 100000),
    FIELD_BOOL("qualified_only", 0),
    FIELD_DATE("period_start", F_REQUIRED),
    FIELD_DATE("period_end", F_REQUIRED),
    FIELD_TEXT("note", F_NULLABLE, 2000),
    COMMITMENT_READONLY,
};
static const struct field CHECK_IN[] = {
    FIELD_DATE("held_on", F_REQUIRED),
    FIELD_TEXT("notes", F_NULLABLE, 10000),
    FIELD_DATE("next_due_on", F_NULLABLE),
    FIELD_READONLY("id"), FIELD_READONLY("partner_id"), FIELD_READONLY("created_at"),
};
#define N(a) (int)(sizeof a / sizeof a[0])

DB_STMT(st_commit_insert,
        "INSERT INTO commitments AS c (tenant_id, id, partner_id, direction, target_count, qualified_only, "
        "  period_start, period_end, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
        "RETURNING commitment_json(c), c.version");
DB_STMT(st_commit_list,
        "SELECT commitment_json(c), c.created_at, c.id FROM commitments c "
        "WHERE c.tenant_id = $1 AND c.partner_id = $2 ORDER BY c.period_start DESC, c.id LIMIT 500");
DB_STMT(st_commit_get,
        "SELECT commitment_json(c), c.version FROM commitments c "
        "WHERE c.tenant_id = $1 AND c.partner_id = $2 AND c.id = $3");
DB_STMT(st_commit_update,
        "UPDATE commitments c SET direction = coalesce($5, c.direction), "
        "  target_count = coalesce($6::int, c.target_count), qualified_only = coalesce($7::boolean, c.qualified_only), "
        "  period_start = coalesce($8::date, c.period_start), period_end = coalesce($9::date, c.period_end), "
        "  note = CASE WHEN $10 THEN $11 ELSE c.note END, version = c.version + 1, updated_at = now() "
        "WHERE c.tenant_id = $1 AND c.partner_id = $2 AND c.id = $3 AND ($4::bigint IS NULL OR c.version = $4) "
        "RETURNING commitment_json(c), c.version");
DB_STMT(st_commit_delete,
        "DELETE FROM commitments WHERE tenant_id = $1 AND partner_id = $2 AND id = $3 "
        "AND ($4::bigint IS NULL OR version = $4) RETURNING id");
DB_STMT(st_commit_version,
        "SELECT version FROM commitments WHERE tenant_id = $1 AND partner_id = $2 AND id = $3");
/* GET /v1/commitments: $6 partner_id, $7 status (server/edge/list.h). */
LIST_SPEC(commitment_list,
          "SELECT j, c.created_at, c.id FROM commitments c, LATERAL commitment_json(c) j "
          "WHERE c.tenant_id = $1 AND ($5::uuid IS NULL OR c.partner_id = $5) "
          "  AND ($6::uuid IS NULL OR c.partner_id = $6) AND ($7::text IS NULL OR j->>'status' = $7)",
          "c.created_at, c.id",
          {"partner_id", LQ_UUID}, {"status", LQ_ENUM, STATUSES});
DB_STMT(st_checkin_insert,
        "INSERT INTO check_ins AS k (tenant_id, id, partner_id, held_on, notes, next_due_on, actor_key_id) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING check_in_json(k)");
DB_STMT(st_checkin_list,
        "SELECT check_in_json(k) FROM check_ins k WHERE k.tenant_id = $1 AND k.partner_id = $2 "
        "ORDER BY k.held_on DESC, k.created_at DESC LIMIT 500");
/* Partners whose latest check-in set a next date on or before $2. */
DB_STMT(st_checkins_due,
        "SELECT json_build_object('partner_id', p.id, 'partner_name', p.name, 'last_held_on', k.held_on, "
        "  'next_due_on', k.next_due_on, 'days_overdue', greatest(current_date - k.next_due_on, 0)) "
        "FROM partners p JOIN LATERAL (SELECT held_on, next_due_on FROM check_ins c "
        "  WHERE c.tenant_id = p.tenant_id AND c.partner_id = p.id "
        "  ORDER BY c.held_on DESC, c.created_at DESC LIMIT 1) k ON true "
        "WHERE p.tenant_id = $1 AND k.next_due_on <= $2::date AND ($3::uuid IS NULL OR p.id = $3) "
        "ORDER BY k.next_due_on, p.id LIMIT 1000");

void api_commitments_create(struct request *rq) {
    const char *pid = partner_in_path_or_reply(rq);
    if (!pid || json_fields_or_reply(rq, rq->json, COMMITMENT, N(COMMITMENT), false)) return;
    json_t *b = rq->json;
    const char *start = json_string_value(json_object_get(b, "period_start"));
    const char *end = json_string_value(json_object_get(b, "period_end"));
    if (strcmp(end, start) < 0) {
        reply_field_error(rq, "period_end", "must not be before period_start");
        return;
    }
    char id[37], target[16];
    uuid_new(id);
    snprintf(target, sizeof target, "%lld", (long long)json_integer_value(json_object_get(b, "target_count")));
    const char *p[] = {rq->auth.tenant_id, id, pid, json_string_value(json_object_get(b, "direction")), target,
                       json_is_true(json_object_get(b, "qualified_only")) ? "true" : "false", start, end,
                       json_string_value(json_object_get(b, "note"))};
    PGresult *r = db_exec(rq, &st_commit_insert, 9, p);
    if (!r) return;
    reply_created(rq, r, "/v1/partners/%s/commitments/%s", pid, id);
    PQclear(r);
}

/* Replies with the list `st` gives for the partner in the path ($1 tenant, $2 partner). */
static void reply_partner_list(struct request *rq, struct db_stmt *st) {
    const char *pid = partner_in_path_or_reply(rq);
    if (!pid) return;
    const char *p[] = {rq->auth.tenant_id, pid};
    PGresult *r = db_exec(rq, st, 2, p);
    if (!r) return;
    reply_list(rq, r);
    PQclear(r);
}

void api_commitments_list(struct request *rq) {
    reply_partner_list(rq, &st_commit_list);
}

void api_commitments_get(struct request *rq) {
    const char *pid = partner_in_path_or_reply(rq);
    const char *cid = pid ? path_uuid_or_reply(rq, 1, "commitment_id") : NULL;
    if (!cid) return;
    const char *p[] = {rq->auth.tenant_id, pid, cid};
    PGresult *r = found_or_reply(rq, &st_commit_get, 3, p, "commitment", cid);
    if (r) reply_resource(rq, 200, r);
    PQclear(r);
}

static void commitment_missing_or_stale(struct request *rq, const char *pid, const char *cid) {
    const char *p[] = {rq->auth.tenant_id, pid, cid};
    reply_missing_or_stale(rq, &st_commit_version, 3, p, "commitment", cid);
}

void api_commitments_update(struct request *rq) {
    char version[24];
    const char *pid = partner_in_path_or_reply(rq);
    const char *cid = pid ? path_uuid_or_reply(rq, 1, "commitment_id") : NULL;
    if (!cid || if_match_or_reply(rq, version) ||
        json_fields_or_reply(rq, rq->json, COMMITMENT, N(COMMITMENT), true))
        return;
    if (json_object_size(rq->json) == 0) {
        reply_field_error(rq, "body", "names no field to change");
        return;
    }
    json_t *b = rq->json, *note = json_object_get(b, "note"), *q = json_object_get(b, "qualified_only");
    char target[16] = "";
    if (json_object_get(b, "target_count"))
        snprintf(target, sizeof target, "%lld", (long long)json_integer_value(json_object_get(b, "target_count")));
    const char *p[] = {rq->auth.tenant_id, pid, cid, *version ? version : NULL,
                       json_string_value(json_object_get(b, "direction")), *target ? target : NULL,
                       q ? (json_is_true(q) ? "true" : "false") : NULL,
                       json_string_value(json_object_get(b, "period_start")),
                       json_string_value(json_object_get(b, "period_end")), note ? "true" : "false",
                       json_string_value(note)};
    PGresult *r = db_exec(rq, &st_commit_update, 11, p);
    if (!r) {
        if (rq->db_fail == DBF_CONSTRAINT && !strcmp(rq->sqlstate, "23514"))
            reply_field_error(rq, "period_end", "must not be before period_start");
    } else if (PQntuples(r) == 0)
        commitment_missing_or_stale(rq, pid, cid);
    else
        reply_resource(rq, 200, r);
    PQclear(r);
}

void api_commitments_delete(struct request *rq) {
    char version[24];
    const char *pid = partner_in_path_or_reply(rq);
    const char *cid = pid ? path_uuid_or_reply(rq, 1, "commitment_id") : NULL;
    if (!cid || if_match_or_reply(rq, version)) return;
    const char *p[] = {rq->auth.tenant_id, pid, cid, *version ? version : NULL};
    PGresult *r = db_exec(rq, &st_commit_delete, 4, p);
    if (!r) return;
    if (PQntuples(r) == 0)
        commitment_missing_or_stale(rq, pid, cid);
    else
        reply_no_content(rq);
    PQclear(r);
}

void api_commitments_all(struct request *rq) {
    list_reply(rq, &commitment_list);
}

void api_checkins_create(struct request *rq) {
    const char *pid = partner_in_path_or_reply(rq);
    if (!pid || json_fields_or_reply(rq, rq->json, CHECK_IN, N(CHECK_IN), false)) return;
    const char *held = json_string_value(json_object_get(rq->json, "held_on"));
    const char *next = json_string_value(json_object_get(rq->json, "next_due_on"));
    if (next && strcmp(next, held) < 0) {
        reply_field_error(rq, "next_due_on", "must not be before held_on");
        return;
    }
    char id[37];
    uuid_new(id);
    const char *p[] = {rq->auth.tenant_id, id, pid, held, json_string_value(json_object_get(rq->json, "notes")),
                       next, rq->auth.key_id};
    PGresult *r = db_exec(rq, &st_checkin_insert, 7, p);
    if (!r) return;
    reply_json_text(rq, 201, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
    PQclear(r);
}

void api_checkins_list(struct request *rq) {
    reply_partner_list(rq, &st_checkin_list);
}

void api_checkins_due(struct request *rq) {
    static const char *const allowed[] = {"before", NULL};
    if (query_known_or_reply(rq, allowed)) return;
    const char *before = req_query(rq, "before");
    char today[11];
    time_t now = time(NULL);
    struct tm tm;
    strftime(today, sizeof today, "%Y-%m-%d", gmtime_r(&now, &tm));
    if (before && !date_valid(before)) {
        reply_field_error(rq, "before", "must be a date YYYY-MM-DD");
        return;
    }
    const char *p[] = {rq->auth.tenant_id, before ? before : today, partner_scope(rq)};
    PGresult *r = db_exec(rq, &st_checkins_due, 3, p);
    if (!r) return;
    reply_list(rq, r);
    PQclear(r);
}
