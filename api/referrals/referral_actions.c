/* POST /v1/referrals/{id}/{action}: the one door through which a referral changes status.
 * The transition comes from the pure table in api/referrals/workflow.c; the write is a conditional UPDATE
 * on the status and version that were read, in the same transaction as the timeline event and
 * the feed entry — so of two concurrent actions exactly one succeeds. */
#include "api/api.h"
#include "api/money/commissions.h"
#include "api/feed.h"
#include "api/referrals/referrals.h"
#include "api/referrals/workflow.h"
#include "server/data/db.h"
#include "server/edge/json_in.h"
#include "api/money/money.h"
#include "server/edge/params.h"
#include "server/edge/reply.h"
#include "server/edge/router.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const DECLINE_REASONS[] = {"not_a_fit", "duplicate", "out_of_scope", "other", NULL};

#define NOTE {"note", FT_TEXT, F_NULLABLE, 5000, 0, NULL}
#define STAGE {"stage", FT_STRING, F_NULLABLE, 100, 0, NULL}
static const struct field ACK[] = {NOTE};
static const struct field ENGAGE[] = {STAGE, NOTE};
static const struct field UPDATE[] = {STAGE, {"note", FT_TEXT, F_REQUIRED, 5000, 0, NULL}};
static const struct field WIN[] = {{"deal", FT_OBJECT, F_REQUIRED, 1024, 0, NULL}, NOTE};
static const struct field LOSE[] = {{"reason", FT_STRING, F_REQUIRED, 1000, 0, NULL}, NOTE};
static const struct field DECLINE[] = {{"reason", FT_ENUM, F_REQUIRED, 0, 0, DECLINE_REASONS}, NOTE};
static const struct field WITHDRAW[] = {{"reason", FT_STRING, F_NULLABLE, 1000, 0, NULL}, NOTE};
static const struct field DEAL[] = {FIELD_AMOUNT("amount", F_REQUIRED),
                                    FIELD_CURRENCY("currency", F_REQUIRED)};

static const struct {
    const struct field *fields;
    int n;
} BODIES[RA_COUNT] = {
    [RA_ACKNOWLEDGE] = {ACK, 1}, [RA_ENGAGE] = {ENGAGE, 2}, [RA_UPDATE] = {UPDATE, 2},
    [RA_WIN] = {WIN, 2},         [RA_LOSE] = {LOSE, 2},     [RA_DECLINE] = {DECLINE, 2},
    [RA_WITHDRAW] = {WITHDRAW, 2},
};

DB_STMT(st_read,
        "SELECT status, version, direction, partner_id FROM referrals "
        "WHERE tenant_id = $1 AND id = $2 AND ($3::uuid IS NULL OR partner_id = $3)");
/* The door: $3 status and $4 version are what this request read; zero rows = someone else won. */
DB_STMT(st_move,
        "UPDATE referrals r SET status = $5, version = r.version + 1, updated_at = now(), "
        "  stage = coalesce($6, r.stage), "
        "  deal_amount = coalesce($7::bigint, r.deal_amount), deal_currency = coalesce($8, r.deal_currency), "
        "  close_reason = coalesce($9, r.close_reason), close_note = CASE WHEN $11 THEN $10 ELSE r.close_note END, "
        "  acknowledged_at = CASE WHEN $5 = 'acknowledged' AND r.acknowledged_at IS NULL "
        "                         THEN now() ELSE r.acknowledged_at END, "
        "  closed_at = CASE WHEN $11 THEN now() ELSE r.closed_at END, "
        "  client_discount_bps = coalesce($12::int, r.client_discount_bps), "
        "  qualified_at = CASE WHEN $5 IN ('engaged', 'won') THEN coalesce(r.qualified_at, now()) "
        "                      ELSE r.qualified_at END "
        "WHERE r.tenant_id = $1 AND r.id = $2 AND r.status = $3 AND r.version = $4 "
        "RETURNING referral_json(r), r.version");

/* 409 invalid-transition naming the current status and what is allowed from it. */
static void reply_invalid(struct request *rq, enum ref_status st, enum ref_action act) {
    json_t *list = machine_allowed_json(&referral_machine, (int)st);
    reply_problem_extra(rq, P_INVALID_TRANSITION,
                        json_pack("{s:s, s:o}", "current_status", workflow_status_name(st), "allowed_actions", list),
                        "cannot %s a referral that is %s", workflow_action_name(act), workflow_status_name(st));
}

static enum ref_action action_of(const struct route *r) {
    return (enum ref_action)workflow_action_parse(strrchr(r->pattern, '/') + 1);
}

void api_referrals_act(struct request *rq) {
    enum ref_action act = action_of(rq->route);
    char version[24];
    const char *id = path_uuid_or_reply(rq, 0, "id");
    if (!id || if_match_or_reply(rq, version)) return;
    json_t *body = rq->json ? rq->json : json_object();
    json_t *errors = json_array();
    json_fields_collect(errors, NULL, body, BODIES[act].fields, BODIES[act].n, false);
    json_t *deal = json_object_get(body, "deal");
    if (json_is_object(deal)) json_fields_collect(errors, "deal.", deal, DEAL, 2, false);
    if (!rq->json) json_decref(body);
    if (json_errors_or_ok(rq, errors) != JIN_OK) return;

    const char *p[] = {rq->auth.tenant_id, id, partner_scope(rq)};
    PGresult *r = db_exec(rq, &st_read, 3, p);
    if (!r) return;
    if (PQntuples(r) == 0) {
        PQclear(r);
        reply_not_found(rq, "referral", id);
        return;
    }
    enum ref_status from = (enum ref_status)workflow_status_parse(PQgetvalue(r, 0, 0));
    char read_version[24], direction[16];
    snprintf(read_version, sizeof read_version, "%s", PQgetvalue(r, 0, 1));
    snprintf(direction, sizeof direction, "%s", PQgetvalue(r, 0, 2));
    char partner[37];
    snprintf(partner, sizeof partner, "%s", PQgetvalue(r, 0, 3));
    PQclear(r);

    bool staff = rq->auth.role == ROLE_ADMIN || rq->auth.role == ROLE_STAFF;
    bool owns = rq->auth.role == ROLE_PARTNER && !strcmp(partner, rq->auth.partner_id);
    enum ref_side side = workflow_side(act);
    if (!workflow_may_act(staff, owns, !strcmp(direction, "inbound"), side)) {
        reply_problem(rq, P_FORBIDDEN, "only the %s of this referral may %s it",
                      side == SIDE_RECEIVER ? "receiver" : "referrer", workflow_action_name(act));
        return;
    }
    const struct transition *t = workflow_find(from, act);
    if (!t) {
        reply_invalid(rq, from, act);
        return;
    }
    if (*version && strcmp(version, read_version) != 0) {
        reply_problem(rq, P_PRECONDITION_FAILED, "the referral is at version %s", read_version);
        reply_etag(rq, atoll(read_version));
        return;
    }
    json_t *b = rq->json;
    const char *note = json_string_value(json_object_get(b, "note"));
    const char *stage = json_string_value(json_object_get(b, "stage"));
    const char *reason = json_string_value(json_object_get(b, "reason"));
    char amount[24] = "";
    if (deal) snprintf(amount, sizeof amount, "%lld", (long long)json_integer_value(json_object_get(deal, "amount")));
    bool closing = workflow_terminal(t->to);
    const char *currency = deal ? json_string_value(json_object_get(deal, "currency")) : NULL;
    /* What the win earns is settled before anything changes, so a mismatch is a clean 422. */
    struct win_plan plan = {0};
    char discount[12] = "";
    if (act == RA_WIN) {
        if (win_plan_or_reply(rq, id, json_integer_value(json_object_get(deal, "amount")), currency, &plan)) return;
        if (plan.has_discount) snprintf(discount, sizeof discount, "%d", plan.discount_bps);
    }
    const char *m[] = {rq->auth.tenant_id, id, workflow_status_name(from), read_version,
                       workflow_status_name(t->to), stage, deal ? amount : NULL, currency, reason,
                       closing ? note : NULL, closing ? "true" : "false", *discount ? discount : NULL};
    if (!(r = db_exec(rq, &st_move, 12, m))) {
        win_plan_free(&plan);
        return;
    }
    if (PQntuples(r) == 0) {
        /* Another request changed the referral after we read it. */
        PQclear(r);
        win_plan_free(&plan);
        if (!(r = db_exec(rq, &st_read, 3, p))) return;
        enum ref_status now = (enum ref_status)workflow_status_parse(PQgetvalue(r, 0, 0));
        if (*version) {
            reply_problem(rq, P_PRECONDITION_FAILED, "the referral is at version %s", PQgetvalue(r, 0, 1));
            reply_etag(rq, atoll(PQgetvalue(r, 0, 1)));
        }
        else if (!workflow_find(now, act))
            reply_invalid(rq, now, act);
        else
            reply_problem(rq, P_CONFLICT, "the referral changed while this request ran; read it and retry");
        PQclear(r);
        return;
    }
    char type[40];
    snprintf(type, sizeof type, "referral.%s", workflow_event_type(act));
    int made = act == RA_WIN ? commissions_create(rq, id, currency, &plan) : 0;
    win_plan_free(&plan);
    if (made || referral_event_append(rq, id, workflow_event_type(act), workflow_status_name(from),
                              workflow_status_name(t->to), note ? note : reason, stage) ||
        feed_append(rq, type, "referral", id, partner, PQgetvalue(r, 0, 0))) {
        PQclear(r);
        if (made && rq->db_fail == DBF_CONSTRAINT && !strcmp(rq->sqlstate, "23503"))
            /* Only data from before partner deletes checked attributions can get here. */
            reply_problem(rq, P_CONFLICT, "a partner named in the referral's attributions no longer exists; "
                                          "set its attributions again before winning it");
        return;
    }
    reply_json_text(rq, 200, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
    reply_etag(rq, atoll(PQgetvalue(r, 0, 1)));
    PQclear(r);
}
