/* /v1/commissions: what won referrals earn. Created atomically with the `win` transition, pending
 * until payable_at (derived at read time), invoiced/paid through invoices, reversed on clawback
 * (a paid one stays paid and gains a negative adjustment). The lifecycle is the table in
 * api/money/commission_states.c. */
#include "api/money/commissions.h"
#include "api/api.h"
#include "api/money/commission_calc.h"
#include "api/money/commission_states.h"
#include "api/feed.h"
#include "server/data/db.h"
#include "server/edge/json_in.h"
#include "server/log.h"
#include "api/money/money.h"
#include "server/edge/list.h"
#include "server/edge/params.h"
#include "server/edge/reply.h"
#include "server/edge/resource.h"
#include "server/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const STATUSES[] = {"pending", "payable", "invoiced", "paid", "reversed", NULL};
static const char *const KINDS[] = {"payable", "receivable", NULL};

DB_STMT(st_plan,
        "SELECT r.agreement_id, agreement_terms(a, r.direction)::text, r.attributions::text, r.direction, "
        "  r.partner_id "
        "FROM referrals r LEFT JOIN agreements a ON a.tenant_id = r.tenant_id AND a.id = r.agreement_id "
        "WHERE r.tenant_id = $1 AND r.id = $2");
DB_STMT(st_insert,
        "INSERT INTO commissions AS c (tenant_id, id, referral_id, partner_id, agreement_id, kind, type, "
        "  amount, currency, share_bps, payable_at) "
        "SELECT $1, u.id, $2, u.partner_id, $3, $4, 'commission', u.amount, $5, u.share, "
        "  now() + make_interval(days => $6::int) "
        "FROM unnest($7::uuid[], $8::uuid[], $9::bigint[], $10::int[]) AS u(id, partner_id, amount, share) "
        "RETURNING commission_json(c), c.id, c.partner_id");
DB_STMT(st_get,
        "SELECT commission_json(c), c.version FROM commissions c "
        "WHERE c.tenant_id = $1 AND c.id = $2 AND ($3::uuid IS NULL OR c.partner_id = $3)");
DB_STMT(st_lock,
        "SELECT commission_status(c), c.type, c.version, c.amount, c.partner_id, c.reversed_by_id IS NOT NULL "
        "FROM commissions c WHERE c.tenant_id = $1 AND c.id = $2 FOR UPDATE");
DB_STMT(st_reverse,
        "UPDATE commissions c SET status = 'reversed', reversal_reason = $3, reversed_at = now(), "
        "  version = c.version + 1, updated_at = now() "
        "WHERE c.tenant_id = $1 AND c.id = $2 RETURNING commission_json(c), c.version, c.partner_id");
/* Clawback of a paid commission: a negative adjustment, payable at once; the paid row only links it. */
DB_STMT(st_adjust,
        "WITH adj AS (INSERT INTO commissions AS n (tenant_id, id, referral_id, partner_id, agreement_id, kind, "
        "    type, amount, currency, share_bps, payable_at, reverses_id) "
        "  SELECT c.tenant_id, $3, c.referral_id, c.partner_id, c.agreement_id, c.kind, 'adjustment', -c.amount, "
        "    c.currency, c.share_bps, now(), c.id FROM commissions c WHERE c.tenant_id = $1 AND c.id = $2 "
        "  RETURNING commission_json(n) AS doc) "
        "UPDATE commissions c SET reversed_by_id = $3, reversal_reason = $4, reversed_at = now(), "
        "  version = c.version + 1, updated_at = now() "
        "WHERE c.tenant_id = $1 AND c.id = $2 "
        "RETURNING commission_json(c), c.version, c.partner_id, (SELECT doc FROM adj)");

/* GET /v1/commissions: $6 partner_id, $7 status, $8 kind, $9 currency, $10 referral_id. */
LIST_SPEC(commission_list,
          "SELECT commission_json(c), c.created_at, c.id FROM commissions c "
          "WHERE c.tenant_id = $1 AND ($5::uuid IS NULL OR c.partner_id = $5) "
          "  AND ($6::uuid IS NULL OR c.partner_id = $6) AND ($7::text IS NULL OR commission_status(c) = $7) "
          "  AND ($8::text IS NULL OR c.kind = $8) AND ($9::text IS NULL OR c.currency = $9) "
          "  AND ($10::uuid IS NULL OR c.referral_id = $10)",
          "c.created_at, c.id",
          {"partner_id", LQ_UUID}, {"status", LQ_ENUM, STATUSES}, {"kind", LQ_ENUM, KINDS},
          {"currency", LQ_TEXT, NULL, 3}, {"referral_id", LQ_UUID});

void win_plan_free(struct win_plan *plan) {
    free(plan->attributions);
    plan->attributions = NULL;
}

int win_plan_or_reply(struct request *rq, const char *referral_id, int64_t deal, const char *currency,
                      struct win_plan *plan) {
    memset(plan, 0, sizeof *plan);
    const char *p[] = {rq->auth.tenant_id, referral_id};
    PGresult *r = db_exec(rq, &st_plan, 2, p);
    if (!r) return -1;
    if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0)) { /* no agreement: a referral source earns nothing */
        PQclear(r);
        return 0;
    }
    json_error_t err;
    json_t *terms = json_loads(PQgetvalue(r, 0, 1), 0, &err);
    enum calc c = commission_calc(terms, deal, currency, &plan->amount, &plan->discount_bps);
    plan->holding_days = (int)json_integer_value(json_object_get(terms, "holding_days"));
    json_decref(terms);
    snprintf(plan->agreement_id, sizeof plan->agreement_id, "%s", PQgetvalue(r, 0, 0));
    snprintf(plan->kind, sizeof plan->kind, "%s",
             !strcmp(PQgetvalue(r, 0, 3), "inbound") ? "payable" : "receivable");
    snprintf(plan->partner_id, sizeof plan->partner_id, "%s", PQgetvalue(r, 0, 4));
    if (!PQgetisnull(r, 0, 2)) plan->attributions = strdup(PQgetvalue(r, 0, 2));
    PQclear(r);
    if (c == CALC_CURRENCY_MISMATCH) {
        reply_problem(rq, P_CURRENCY_MISMATCH,
                      "the agreement's fixed amount or cap is not in %s, the deal's currency", currency);
        return -1;
    }
    plan->has_discount = c == CALC_NONE;
    plan->earns = c == CALC_AMOUNT && plan->amount > 0;
    return 0;
}

/* Appends "{a,b,c}" array text. */
static void array_add(char *buf, size_t cap, const char *item) {
    size_t n = strlen(buf);
    snprintf(buf + n, cap - n, "%s%s", n > 1 ? "," : "", item);
}

int commissions_create(struct request *rq, const char *referral_id, const char *currency,
                       const struct win_plan *plan) {
    if (!plan->earns) return 0;
    int shares[16], n = 0;
    char partners[16][37];
    json_error_t err;
    json_t *att = plan->attributions ? json_loads(plan->attributions, 0, &err) : NULL;
    if (json_array_size(att) > 0) {
        size_t i;
        json_t *a;
        json_array_foreach(att, i, a) {
            if (n == 16) break;
            shares[n] = (int)json_integer_value(json_object_get(a, "share_bps"));
            snprintf(partners[n], 37, "%s", json_string_value(json_object_get(a, "partner_id")));
            n++;
        }
    } else {
        shares[0] = 10000;
        snprintf(partners[0], 37, "%s", plan->partner_id);
        n = 1;
    }
    json_decref(att);
    int64_t parts[16];
    if (!money_split(plan->amount, shares, n, parts)) {
        LOG_BUG_RQ(rq, "stored attributions do not sum to 10000");
        rq->db_fail = DBF_HARD;
        return -1;
    }
    char ids[16 * 38 + 3] = "{", ps[16 * 38 + 3] = "{", amounts[16 * 21 + 3] = "{", sh[16 * 7 + 3] = "{";
    for (int i = 0; i < n; i++) {
        if (parts[i] == 0) continue; /* a zero share of a small amount earns nothing */
        char id[37], num[24];
        uuid_new(id);
        array_add(ids, sizeof ids, id);
        array_add(ps, sizeof ps, partners[i]);
        snprintf(num, sizeof num, "%lld", (long long)parts[i]);
        array_add(amounts, sizeof amounts, num);
        snprintf(num, sizeof num, "%d", shares[i]);
        array_add(sh, sizeof sh, num);
    }
    strcat(ids, "}");
    strcat(ps, "}");
    strcat(amounts, "}");
    strcat(sh, "}");
    char hold[12];
    snprintf(hold, sizeof hold, "%d", plan->holding_days);
    const char *p[] = {rq->auth.tenant_id, referral_id, plan->agreement_id, plan->kind, currency, hold,
                       ids, ps, amounts, sh};
    PGresult *r = db_exec(rq, &st_insert, 10, p);
    if (!r) return -1;
    for (int i = 0; i < PQntuples(r); i++)
        if (feed_append(rq, "commission.created", "commission", PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
                        PQgetvalue(r, i, 0))) {
            PQclear(r);
            return -1;
        }
    PQclear(r);
    return 0;
}

void api_commissions_list(struct request *rq) {
    list_reply(rq, &commission_list);
}

void api_commissions_get(struct request *rq) {
    reply_resource_by_id(rq, &st_get, "commission");
}

/* The table's row for reversing a commission shown as `status`; else replies 409 with what is
 * allowed (nothing, for an adjustment or a paid commission already clawed back) and returns NULL. */
static const struct transition *reversal_or_reply(struct request *rq, const char *status, bool adjustment,
                                                  bool clawed) {
    int st = machine_state(&commission_machine, status);
    const struct transition *t = machine_find(&commission_machine, st, CA_REVERSE);
    if (t && !adjustment && !clawed) return t;
    json_t *allowed = adjustment || clawed ? json_array() : machine_allowed_json(&commission_machine, st);
    reply_problem_extra(rq, P_INVALID_STATE, json_pack("{s:o}", "allowed_actions", allowed), "%s",
                        adjustment            ? "an adjustment cannot be reversed"
                        : st == CS_INVOICED   ? "the commission is on an open invoice; reject or void it first"
                                              : "the commission was already reversed");
    return NULL;
}

/* The locked commission as the reversal reads it. */
struct locked {
    char status[16], partner[37];
    bool adjustment, clawed;
};

/* Locks commission `id`; false after a 404 or a 412 (If-Match named another `version`). */
static bool lock_or_reply(struct request *rq, const char *id, const char *version, struct locked *l) {
    const char *p[] = {rq->auth.tenant_id, id};
    PGresult *r = found_or_reply(rq, &st_lock, 2, p, "commission", id);
    if (!r) return false;
    snprintf(l->status, sizeof l->status, "%s", PQgetvalue(r, 0, 0));
    l->adjustment = !strcmp(PQgetvalue(r, 0, 1), "adjustment");
    snprintf(l->partner, sizeof l->partner, "%s", PQgetvalue(r, 0, 4));
    l->clawed = PQgetvalue(r, 0, 5)[0] == 't';
    bool ok = version_ok_or_reply(rq, "commission", version, PQgetvalue(r, 0, 2));
    PQclear(r);
    return ok;
}

/* Paid stays paid: a negative adjustment claws it back. The written row, or NULL. */
static PGresult *claw_back(struct request *rq, const char *id, const char *partner, const char *reason) {
    char adj[37];
    uuid_new(adj);
    const char *a[] = {rq->auth.tenant_id, id, adj, reason};
    PGresult *r = db_exec(rq, &st_adjust, 4, a);
    if (r && (feed_append(rq, "commission.created", "commission", adj, partner, PQgetvalue(r, 0, 3)) ||
              feed_append(rq, "commission.clawed_back", "commission", id, partner, PQgetvalue(r, 0, 0)))) {
        PQclear(r);
        return NULL;
    }
    return r;
}

/* Not yet paid: the commission is reversed. The written row, or NULL. */
static PGresult *reverse(struct request *rq, const char *id, const char *partner, const char *reason) {
    const char *a[] = {rq->auth.tenant_id, id, reason};
    PGresult *r = db_exec(rq, &st_reverse, 3, a);
    if (r && feed_append(rq, "commission.reversed", "commission", id, partner, PQgetvalue(r, 0, 0))) {
        PQclear(r);
        return NULL;
    }
    return r;
}

void api_commissions_reverse(struct request *rq) {
    static const struct field REVERSE[] = {FIELD_STRING("reason", F_REQUIRED, 1000)};
    char version[24];
    struct locked l;
    const char *id = path_id_if_match_or_reply(rq, version);
    if (!id || json_fields_or_reply(rq, rq->json, REVERSE, 1, false) ||
        !lock_or_reply(rq, id, version, &l))
        return;
    const char *reason = json_string_value(json_object_get(rq->json, "reason"));
    const struct transition *t = reversal_or_reply(rq, l.status, l.adjustment, l.clawed);
    if (!t) return;
    PGresult *r = t->to == t->from ? claw_back(rq, id, l.partner, reason) : reverse(rq, id, l.partner, reason);
    if (r) reply_resource(rq, 200, r);
    PQclear(r);
}
