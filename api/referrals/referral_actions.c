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
#include "server/edge/resource.h"
#include "server/edge/router.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const DECLINE_REASONS[] = {"not_a_fit", "duplicate", "out_of_scope", "other", NULL};

#define NOTE FIELD_TEXT("note", F_NULLABLE, 5000)
#define STAGE FIELD_STRING("stage", F_NULLABLE, 100)
static const struct field ACK[] = {NOTE};
static const struct field ENGAGE[] = {STAGE, NOTE};
static const struct field UPDATE[] = {STAGE, FIELD_TEXT("note", F_REQUIRED, 5000)};
static const struct field WIN[] = {FIELD_OBJECT("deal", F_REQUIRED, 1024), NOTE};
static const struct field LOSE[] = {FIELD_STRING("reason", F_REQUIRED, 1000), NOTE};
static const struct field DECLINE[] = {FIELD_ENUM("reason", F_REQUIRED, DECLINE_REASONS), NOTE};
static const struct field WITHDRAW[] = {FIELD_STRING("reason", F_NULLABLE, 1000), NOTE};
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

/* One action on one referral, as this request reads and takes it. */
struct move {
    const char *id;
    enum ref_action act;
    enum ref_status from;
    char version[24], direction[16], partner[37]; /* as read, before the move */
    const struct transition *t;
    const char *note, *stage, *reason, *currency; /* from the body */
    json_t *deal;
    struct win_plan plan; /* for a win: what it earns */
};

/* Validates the body against the action's fields (and a win's deal); false after a 400. */
static bool body_ok_or_reply(struct request *rq, enum ref_action act) {
    json_t *body = rq->json ? rq->json : json_object();
    json_t *errors = json_array();
    json_fields_collect(errors, NULL, body, BODIES[act].fields, BODIES[act].n, false);
    json_t *deal = json_object_get(body, "deal");
    if (json_is_object(deal)) json_fields_collect(errors, "deal.", deal, DEAL, 2, false);
    if (!rq->json) json_decref(body);
    return json_errors_or_ok(rq, errors) == JIN_OK;
}

/* Reads the referral ($1 tenant, $2 id, $3 partner scope in `p`) into `m`; false after a 404. */
static bool read_or_reply(struct request *rq, const char *const *p, struct move *m) {
    PGresult *r = found_or_reply(rq, &st_read, 3, p, "referral", m->id);
    if (!r) return false;
    m->from = (enum ref_status)workflow_status_parse(PQgetvalue(r, 0, 0));
    snprintf(m->version, sizeof m->version, "%s", PQgetvalue(r, 0, 1));
    snprintf(m->direction, sizeof m->direction, "%s", PQgetvalue(r, 0, 2));
    snprintf(m->partner, sizeof m->partner, "%s", PQgetvalue(r, 0, 3));
    PQclear(r);
    return true;
}

/* Finds the table's row for the action into m->t if the caller's side may take it from the status
 * read, and If-Match names that version (or none); else replies 403, 409 or 412 and returns false. */
static bool allowed_or_reply(struct request *rq, struct move *m, const char *if_match) {
    bool staff = rq->auth.role == ROLE_ADMIN || rq->auth.role == ROLE_STAFF;
    bool owns = rq->auth.role == ROLE_PARTNER && !strcmp(m->partner, rq->auth.partner_id);
    enum ref_side side = workflow_side(m->act);
    if (!workflow_may_act(staff, owns, !strcmp(m->direction, "inbound"), side)) {
        reply_problem(rq, P_FORBIDDEN, "only the %s of this referral may %s it",
                      side == SIDE_RECEIVER ? "receiver" : "referrer", workflow_action_name(m->act));
        return false;
    }
    if (!(m->t = workflow_find(m->from, m->act))) {
        reply_invalid(rq, m->from, m->act);
        return false;
    }
    return version_ok_or_reply(rq, "referral", if_match, m->version);
}

/* The conditional UPDATE (status and version as read): the moved row, none if another request
 * moved it first, or NULL on a database failure. */
static PGresult *move_write(struct request *rq, const struct move *m) {
    char amount[24] = "", discount[12] = "";
    if (m->deal) snprintf(amount, sizeof amount, "%lld", (long long)json_integer_value(json_object_get(m->deal, "amount")));
    if (m->plan.has_discount) snprintf(discount, sizeof discount, "%d", m->plan.discount_bps);
    bool closing = workflow_terminal(m->t->to);
    const char *p[] = {rq->auth.tenant_id, m->id, workflow_status_name(m->from), m->version,
                       workflow_status_name(m->t->to), m->stage, m->deal ? amount : NULL, m->currency, m->reason,
                       closing ? m->note : NULL, closing ? "true" : "false", *discount ? discount : NULL};
    return db_exec(rq, &st_move, 12, p);
}

/* Another request changed the referral after we read it: 412 if If-Match named a version, 409
 * invalid-transition if the action no longer applies, else 409 conflict. */
static void reply_lost_race(struct request *rq, const char *const *p, enum ref_action act, const char *if_match) {
    PGresult *r = db_exec(rq, &st_read, 3, p);
    if (!r) return;
    enum ref_status now = (enum ref_status)workflow_status_parse(PQgetvalue(r, 0, 0));
    if (*if_match)
        reply_stale(rq, "referral", PQgetvalue(r, 0, 1));
    else if (!workflow_find(now, act))
        reply_invalid(rq, now, act);
    else
        reply_problem(rq, P_CONFLICT, "the referral changed while this request ran; read it and retry");
    PQclear(r);
}

/* What follows the move (`moved`: its row): the timeline event, a win's commissions, the feed
 * entry. False if one failed (a 409 if a win's attributions name a partner that is gone). The
 * feed appends come last: each locks the tenant's feed counter until the commit (api/feed.c), so
 * nothing else waits on that lock (for a win, the timeline insert used to run while holding it). */
static bool move_record(struct request *rq, struct move *m, PGresult *moved) {
    char type[40];
    snprintf(type, sizeof type, "referral.%s", workflow_event_type(m->act));
    if (referral_event_append(rq, m->id, workflow_event_type(m->act), workflow_status_name(m->from),
                              workflow_status_name(m->t->to), m->note ? m->note : m->reason, m->stage))
        return false;
    int made = m->act == RA_WIN ? commissions_create(rq, m->id, m->currency, &m->plan) : 0;
    if (made || feed_append(rq, type, "referral", m->id, m->partner, PQgetvalue(moved, 0, 0))) {
        if (made && rq->db_fail == DBF_CONSTRAINT && !strcmp(rq->sqlstate, "23503"))
            /* Only data from before partner deletes checked attributions can get here. */
            reply_problem(rq, P_CONFLICT, "a partner named in the referral's attributions no longer exists; "
                                          "set its attributions again before winning it");
        return false;
    }
    return true;
}

void api_referrals_act(struct request *rq) {
    struct move m = {.act = action_of(rq->route)};
    char if_match[24];
    m.id = path_id_if_match_or_reply(rq, if_match);
    if (!m.id || !body_ok_or_reply(rq, m.act)) return;
    const char *p[] = {rq->auth.tenant_id, m.id, partner_scope(rq)};
    if (!read_or_reply(rq, p, &m) || !allowed_or_reply(rq, &m, if_match)) return;
    json_t *b = rq->json;
    m.note = json_string_value(json_object_get(b, "note"));
    m.stage = json_string_value(json_object_get(b, "stage"));
    m.reason = json_string_value(json_object_get(b, "reason"));
    m.deal = json_object_get(b, "deal");
    m.currency = m.deal ? json_string_value(json_object_get(m.deal, "currency")) : NULL;
    /* What the win earns is settled before anything changes, so a mismatch is a clean 422. */
    if (m.act == RA_WIN &&
        win_plan_or_reply(rq, m.id, json_integer_value(json_object_get(m.deal, "amount")), m.currency, &m.plan)) {
        win_plan_free(&m.plan);
        return;
    }
    PGresult *r = move_write(rq, &m);
    if (r && PQntuples(r) == 0)
        reply_lost_race(rq, p, m.act, if_match);
    else if (r && move_record(rq, &m, r))
        reply_resource(rq, 200, r);
    win_plan_free(&m.plan);
    PQclear(r);
}
