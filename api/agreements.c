/* /v1/agreements: create (draft), list, get, PATCH (draft only), and the lifecycle actions
 * sign, suspend, resume, terminate and amend. Which of them an agreement allows, and where they
 * lead, is the table in api/agreement_states.c. Every change is appended to the feed. */
#include "api/agreement_states.h"
#include "api/api.h"
#include "api/feed.h"
#include "api/terms.h"
#include "server/data/db.h"
#include "server/edge/json_in.h"
#include "server/edge/list.h"
#include "server/edge/params.h"
#include "server/edge/reply.h"
#include "server/edge/resource.h"
#include "server/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const DIRECTIONS[] = {"inbound", "outbound", "reciprocal", NULL};
static const char *const STATUSES[] = {"draft",      "signed",     "active", "suspended", "expired",
                                       "terminated", "superseded", NULL};
static const char *const PARTIES[] = {"vendor", "partner", NULL};

#define READONLY_FIELDS                                                                            \
    FIELD_READONLY("status"), FIELD_READONLY("signatures"), FIELD_READONLY("activated_at"),          \
        FIELD_READONLY("termination"), FIELD_READONLY("supersedes_id"),                              \
        FIELD_READONLY("superseded_by_id"), FIELDS_READONLY_RESOURCE

/* The whole agreement as it must be after create, PATCH or amend. */
static const struct field AGREEMENT[] = {
    FIELD_UUID("partner_id", F_REQUIRED),
    FIELD_ENUM("direction", F_REQUIRED, DIRECTIONS),
    FIELD_OBJECT("terms", F_NULLABLE, 32768),
    FIELD_OBJECT("inbound_terms", F_NULLABLE, 32768),
    FIELD_OBJECT("outbound_terms", F_NULLABLE, 32768),
    FIELD_DATE("starts_on", F_REQUIRED),
    FIELD_DATE("ends_on", F_NULLABLE),
    FIELD_BOOL("auto_renew", 0),
    FIELD_INT("stalled_after_days", F_NULLABLE, 1, 3650),
    READONLY_FIELDS,
};
/* What PATCH and amend may change: everything but the partner. */
static const struct field CHANGES[] = {
    FIELD_READONLY("partner_id"),
    FIELD_ENUM("direction", 0, DIRECTIONS),
    FIELD_OBJECT("terms", F_NULLABLE, 32768),
    FIELD_OBJECT("inbound_terms", F_NULLABLE, 32768),
    FIELD_OBJECT("outbound_terms", F_NULLABLE, 32768),
    FIELD_DATE("starts_on", 0),
    FIELD_DATE("ends_on", F_NULLABLE),
    FIELD_BOOL("auto_renew", 0),
    FIELD_INT("stalled_after_days", F_NULLABLE, 1, 3650),
    READONLY_FIELDS,
};
#define N(a) (int)(sizeof a / sizeof a[0])

DB_STMT(st_insert,
        "INSERT INTO agreements AS a (tenant_id, id, partner_id, direction, terms, inbound_terms, "
        "  outbound_terms, starts_on, ends_on, auto_renew, supersedes_id, stalled_after_days) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
        "RETURNING agreement_json(a), a.version");
DB_STMT(st_get,
        "SELECT agreement_json(a), a.version FROM agreements a "
        "WHERE a.tenant_id = $1 AND a.id = $2 AND ($3::uuid IS NULL OR a.partner_id = $3)");
/* The editable state, locked for a read-modify-write. */
DB_STMT(st_lock,
        "SELECT json_build_object('partner_id', a.partner_id, 'direction', a.direction, "
        "  'terms', a.terms, 'inbound_terms', a.inbound_terms, 'outbound_terms', a.outbound_terms, "
        "  'starts_on', a.starts_on, 'ends_on', a.ends_on, 'auto_renew', a.auto_renew, "
        "  'stalled_after_days', a.stalled_after_days), "
        "  a.status, agreement_status(a), a.version, a.partner_id, a.supersedes_id, "
        "  a.vendor_signed_at IS NOT NULL, a.partner_signed_at IS NOT NULL, a.direction "
        "FROM agreements a WHERE a.tenant_id = $1 AND a.id = $2 "
        "  AND ($3::uuid IS NULL OR a.partner_id = $3) FOR UPDATE");
DB_STMT(st_update,
        "UPDATE agreements a SET direction = $3, terms = $4, inbound_terms = $5, outbound_terms = $6, "
        "  starts_on = $7, ends_on = $8, auto_renew = $9, stalled_after_days = $10, vendor_signer = NULL, vendor_signed_at = NULL, "
        "  partner_signer = NULL, partner_signed_at = NULL, version = a.version + 1, updated_at = now() "
        "WHERE a.tenant_id = $1 AND a.id = $2 RETURNING agreement_json(a), a.version");
DB_STMT(st_sign,
        "UPDATE agreements a SET "
        "  vendor_signer = CASE WHEN $3 = 'vendor' THEN $4 ELSE vendor_signer END, "
        "  vendor_signed_at = CASE WHEN $3 = 'vendor' THEN now() ELSE vendor_signed_at END, "
        "  partner_signer = CASE WHEN $3 = 'partner' THEN $4 ELSE partner_signer END, "
        "  partner_signed_at = CASE WHEN $3 = 'partner' THEN now() ELSE partner_signed_at END, "
        "  version = a.version + 1, updated_at = now() "
        "WHERE a.tenant_id = $1 AND a.id = $2 "
        "RETURNING agreement_json(a), a.version, "
        "  a.vendor_signed_at IS NOT NULL AND a.partner_signed_at IS NOT NULL");
DB_STMT(st_lock_partner, "SELECT 1 FROM partners WHERE tenant_id = $1 AND id = $2 FOR UPDATE");
/* Another agreement of the partner that covers a shared direction on overlapping dates. */
DB_STMT(st_overlap,
        "SELECT o.id FROM agreements o, agreements a "
        "WHERE a.tenant_id = $1 AND a.id = $2 AND o.tenant_id = $1 AND o.partner_id = a.partner_id "
        "  AND o.id <> a.id AND o.id IS DISTINCT FROM a.supersedes_id "
        "  AND o.status IN ('active', 'suspended', 'terminated') "
        "  AND agreement_period(o) && agreement_period(a) "
        "  AND (o.direction = 'reciprocal' OR a.direction = 'reciprocal' OR o.direction = a.direction) "
        "LIMIT 1");
DB_STMT(st_supersede,
        "UPDATE agreements a SET status = $4, superseded_by_id = $3, "
        "  version = a.version + 1, updated_at = now() "
        "WHERE a.tenant_id = $1 AND a.id = $2 AND a.status IN ('active', 'suspended') "
        "RETURNING agreement_json(a), a.id, a.partner_id");
/* Stored-state changes for activate/suspend/resume/terminate. */
DB_STMT(st_set_status,
        "UPDATE agreements a SET status = $3, "
        "  activated_at = CASE WHEN $3 = 'active' AND a.activated_at IS NULL THEN now() ELSE a.activated_at END, "
        "  terminates_on = $4, termination_reason = $5, version = a.version + 1, updated_at = now() "
        "WHERE a.tenant_id = $1 AND a.id = $2 RETURNING agreement_json(a), a.version");

/* GET /v1/agreements: $6 partner_id, $7 status, $8 direction (server/edge/list.h). */
LIST_SPEC(agreement_list,
          "SELECT agreement_json(a), a.created_at, a.id FROM agreements a "
          "WHERE a.tenant_id = $1 AND ($5::uuid IS NULL OR a.partner_id = $5) "
          "  AND ($6::uuid IS NULL OR a.partner_id = $6) AND ($7::text IS NULL OR agreement_status(a) = $7) "
          "  AND ($8::text IS NULL OR a.direction = $8)",
          "a.created_at, a.id",
          {"partner_id", LQ_UUID}, {"status", LQ_ENUM, STATUSES}, {"direction", LQ_ENUM, DIRECTIONS});

/* Validates a complete agreement object (after defaults/merges) and fills term defaults. */
static int agreement_valid_or_reply(struct request *rq, json_t *a) {
    json_t *errors = json_array();
    json_fields_collect(errors, NULL, a, AGREEMENT, N(AGREEMENT), false);
    const char *dir = json_string_value(json_object_get(a, "direction"));
    json_t *t = json_object_get(a, "terms"), *in = json_object_get(a, "inbound_terms"),
           *out = json_object_get(a, "outbound_terms");
    bool recip = dir && !strcmp(dir, "reciprocal");
    if (dir && recip) {
        if (!json_is_object(in)) json_array_append_new(errors, json_pack("{s:s,s:s}", "field", "inbound_terms", "message", "is required for a reciprocal agreement"));
        if (!json_is_object(out)) json_array_append_new(errors, json_pack("{s:s,s:s}", "field", "outbound_terms", "message", "is required for a reciprocal agreement"));
        if (t && !json_is_null(t)) json_array_append_new(errors, json_pack("{s:s,s:s}", "field", "terms", "message", "use inbound_terms and outbound_terms for a reciprocal agreement"));
    } else if (dir) {
        if (!json_is_object(t)) json_array_append_new(errors, json_pack("{s:s,s:s}", "field", "terms", "message", "is required"));
        if (in && !json_is_null(in)) json_array_append_new(errors, json_pack("{s:s,s:s}", "field", "inbound_terms", "message", "is only for a reciprocal agreement"));
        if (out && !json_is_null(out)) json_array_append_new(errors, json_pack("{s:s,s:s}", "field", "outbound_terms", "message", "is only for a reciprocal agreement"));
    }
    if (json_array_size(errors) == 0) {
        if (json_is_object(t)) terms_check(errors, "terms.", t);
        if (json_is_object(in)) terms_check(errors, "inbound_terms.", in);
        if (json_is_object(out)) terms_check(errors, "outbound_terms.", out);
        const char *s = json_string_value(json_object_get(a, "starts_on"));
        const char *e = json_string_value(json_object_get(a, "ends_on"));
        if (s && e && strcmp(e, s) <= 0)
            json_array_append_new(errors, json_pack("{s:s,s:s}", "field", "ends_on", "message", "must be after starts_on"));
    }
    return json_errors_or_ok(rq, errors);
}

/* Text of a JSON member for a SQL parameter: strings as-is, objects serialised, null/absent NULL.
 * Serialised strings are kept in `keep` and freed by the caller. */
static const char *member(json_t *a, const char *key, char **keep) {
    json_t *v = json_object_get(a, key);
    *keep = NULL;
    if (!v || json_is_null(v)) return NULL;
    if (json_is_string(v)) return json_string_value(v);
    if (json_is_boolean(v)) return json_is_true(v) ? "true" : "false";
    if (json_is_integer(v)) {
        *keep = malloc(24);
        if (*keep) snprintf(*keep, 24, "%lld", (long long)json_integer_value(v));
        return *keep;
    }
    *keep = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
    return *keep;
}

/* Inserts `a` (validated) as a new draft; replies 201. `supersedes` may be NULL. */
static void insert_draft(struct request *rq, json_t *a, const char *supersedes) {
    char id[37], *k1, *k2, *k3, *k4;
    uuid_new(id);
    const char *terms = member(a, "terms", &k1), *in = member(a, "inbound_terms", &k2),
               *out = member(a, "outbound_terms", &k3), *tmp;
    char *dummy;
    const char *p[] = {rq->auth.tenant_id,
                       id,
                       json_string_value(json_object_get(a, "partner_id")),
                       json_string_value(json_object_get(a, "direction")),
                       terms,
                       in,
                       out,
                       json_string_value(json_object_get(a, "starts_on")),
                       (tmp = member(a, "ends_on", &dummy)),
                       json_is_true(json_object_get(a, "auto_renew")) ? "true" : "false",
                       supersedes,
                       member(a, "stalled_after_days", &k4)};
    PGresult *r = db_exec(rq, &st_insert, 12, p);
    free(k4);
    free(k1);
    free(k2);
    free(k3);
    if (!r) {
        if (rq->db_fail == DBF_CONSTRAINT && strstr(rq->constraint, "partner"))
            reply_field_error(rq, "partner_id", "no such partner");
        return;
    }
    if (feed_append(rq, "agreement.created", "agreement", id, p[2], PQgetvalue(r, 0, 0))) {
        PQclear(r);
        return;
    }
    reply_created(rq, r, "/v1/agreements/%s", id);
    PQclear(r);
}

void api_agreements_create(struct request *rq) {
    json_t *a = json_deep_copy(rq->json);
    if (agreement_valid_or_reply(rq, a) == JIN_OK) insert_draft(rq, a, NULL);
    json_decref(a);
}

void api_agreements_get(struct request *rq) {
    reply_resource_by_id(rq, &st_get, "agreement");
}

void api_agreements_list(struct request *rq) {
    list_reply(rq, &agreement_list);
}

/* The locked row of an agreement the caller may see. Replies 404/412 and returns NULL if not. */
struct locked {
    PGresult *r;
    json_t *state;  /* editable fields */
    const char *stored, *shown, *partner_id, *supersedes_id, *direction;
    bool vendor_signed, partner_signed;
    int st; /* the state the table looks it up by (agreement_state) */
};

static bool lock_or_reply(struct request *rq, const char *id, struct locked *l) {
    char version[24];
    if (if_match_or_reply(rq, version)) return false;
    const char *p[] = {rq->auth.tenant_id, id, partner_scope(rq)};
    if (!(l->r = found_or_reply(rq, &st_lock, 3, p, "agreement", id))) return false;
    if (!version_ok_or_reply(rq, "agreement", version, PQgetvalue(l->r, 0, 3))) {
        PQclear(l->r);
        return false;
    }
    json_error_t err;
    l->state = json_loads(PQgetvalue(l->r, 0, 0), 0, &err);
    l->stored = PQgetvalue(l->r, 0, 1);
    l->shown = PQgetvalue(l->r, 0, 2);
    l->partner_id = PQgetvalue(l->r, 0, 4);
    l->supersedes_id = PQgetisnull(l->r, 0, 5) ? NULL : PQgetvalue(l->r, 0, 5);
    l->vendor_signed = PQgetvalue(l->r, 0, 6)[0] == 't';
    l->partner_signed = PQgetvalue(l->r, 0, 7)[0] == 't';
    l->direction = PQgetvalue(l->r, 0, 8);
    l->st = agreement_state(l->stored, l->shown);
    return true;
}

static void unlock(struct locked *l) {
    json_decref(l->state);
    PQclear(l->r);
}

/* 409 invalid-state naming what the agreement's state allows. */
static void invalid_state(struct request *rq, const struct locked *l, const char *what) {
    reply_problem_extra(rq, P_INVALID_STATE,
                        json_pack("{s:o}", "allowed_actions", machine_allowed_json(&agreement_machine, l->st)),
                        "the agreement is %s and cannot be %s", l->shown, what);
}

/* The table's row for `action` from the agreement's state, or NULL. */
static const struct transition *legal(const struct locked *l, enum agr_action action) {
    return machine_find(&agreement_machine, l->st, action);
}

static const char *target(const struct transition *t) {
    return machine_state_name(&agreement_machine, t->to);
}

/* Applies `changes` (validated as CHANGES) onto the locked state; returns the merged object. */
static json_t *merged(struct request *rq, const struct locked *l, json_t *changes) {
    if (json_fields_or_reply(rq, changes, CHANGES, N(CHANGES), true) != JIN_OK) return NULL;
    json_t *m = json_deep_copy(l->state);
    json_object_update(m, changes);
    if (agreement_valid_or_reply(rq, m) != JIN_OK) {
        json_decref(m);
        return NULL;
    }
    return m;
}

/* The agreement in the path, locked, if the table allows `action` from its state; else NULL after
 * a 404, 412 or a 409 naming it `what` (and nothing is left to unlock). */
static const char *lock_for_or_reply(struct request *rq, struct locked *l, enum agr_action action,
                                     const char *what) {
    const char *id = path_uuid_or_reply(rq, 0, "id");
    if (!id || !lock_or_reply(rq, id, l)) return NULL;
    if (legal(l, action)) return id;
    invalid_state(rq, l, what);
    unlock(l);
    return NULL;
}

/* Writes the merged agreement `m` over draft `id`, clearing its signatures. NULL on failure. */
static PGresult *update_write(struct request *rq, const char *id, json_t *m) {
    char *k1, *k2, *k3, *k4, *k5;
    const char *p[] = {rq->auth.tenant_id, id, json_string_value(json_object_get(m, "direction")),
                       member(m, "terms", &k1), member(m, "inbound_terms", &k2),
                       member(m, "outbound_terms", &k3),
                       json_string_value(json_object_get(m, "starts_on")), member(m, "ends_on", &k4),
                       json_is_true(json_object_get(m, "auto_renew")) ? "true" : "false",
                       member(m, "stalled_after_days", &k5)};
    PGresult *r = db_exec(rq, &st_update, 10, p);
    free(k5);
    free(k1);
    free(k2);
    free(k3);
    free(k4);
    return r;
}

void api_agreements_update(struct request *rq) {
    struct locked l;
    const char *id = lock_for_or_reply(rq, &l, AA_UPDATE, "changed; amend it instead");
    if (!id) return;
    json_t *m = NULL;
    if (json_object_size(rq->json) == 0)
        reply_field_error(rq, "body", "names no field to change");
    else if ((m = merged(rq, &l, rq->json))) {
        PGresult *r = update_write(rq, id, m);
        if (r && !feed_append(rq, "agreement.updated", "agreement", id, l.partner_id, PQgetvalue(r, 0, 0)))
            reply_resource(rq, 200, r);
        PQclear(r);
    }
    json_decref(m);
    unlock(&l);
}

/* Changes the stored status and appends `event`; replies 200 with the agreement. */
static bool set_status(struct request *rq, const char *id, const char *partner_id, const char *status,
                       const char *terminates_on, const char *reason, const char *event) {
    const char *p[] = {rq->auth.tenant_id, id, status, terminates_on, reason};
    PGresult *r = db_exec(rq, &st_set_status, 5, p);
    if (!r || feed_append(rq, event, "agreement", id, partner_id, PQgetvalue(r, 0, 0))) {
        PQclear(r);
        return false;
    }
    reply_resource(rq, 200, r);
    PQclear(r);
    return true;
}

/* Both parties have signed: check for an overlapping agreement, retire the one this amends,
 * and activate. */
static void activate(struct request *rq, const char *id, const struct locked *l) {
    const char *p[] = {rq->auth.tenant_id, l->partner_id};
    PGresult *r = db_exec(rq, &st_lock_partner, 2, p);
    if (!r) return;
    PQclear(r);
    const char *q[] = {rq->auth.tenant_id, id};
    r = db_exec(rq, &st_overlap, 2, q);
    if (!r) return;
    if (PQntuples(r)) {
        reply_problem(rq, P_AGREEMENT_CONFLICT,
                      "agreement %s already covers this partner and direction on overlapping dates",
                      PQgetvalue(r, 0, 0));
        PQclear(r);
        return;
    }
    PQclear(r);
    if (l->supersedes_id) {
        /* Whether running (active, suspended, expired), it becomes what the table says. */
        const char *s[] = {rq->auth.tenant_id, l->supersedes_id, id,
                           target(machine_find(&agreement_machine, AS_ACTIVE, AA_SUPERSEDE))};
        r = db_exec(rq, &st_supersede, 4, s);
        if (!r) return;
        bool fail = PQntuples(r) && feed_append(rq, "agreement.superseded", "agreement",
                                                PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2),
                                                PQgetvalue(r, 0, 0));
        PQclear(r);
        if (fail) return;
    }
    set_status(rq, id, l->partner_id, target(legal(l, AA_SIGN)), NULL, NULL, "agreement.activated");
}

void api_agreements_sign(struct request *rq) {
    static const struct field SIGN[] = {FIELD_ENUM("party", F_REQUIRED, PARTIES),
                                        FIELD_STRING("signer_name", F_REQUIRED, 200)};
    struct locked l;
    const char *id = path_uuid_or_reply(rq, 0, "id");
    if (!id || json_fields_or_reply(rq, rq->json, SIGN, N(SIGN), false) || !lock_or_reply(rq, id, &l))
        return;
    const char *party = json_string_value(json_object_get(rq->json, "party"));
    const char *signer = json_string_value(json_object_get(rq->json, "signer_name"));
    bool as_vendor = !strcmp(party, "vendor");
    if (rq->auth.role == ROLE_PARTNER && as_vendor)
        reply_problem(rq, P_FORBIDDEN, "a partner key may only sign as the partner");
    else if (!legal(&l, AA_SIGN))
        invalid_state(rq, &l, "signed");
    else if (as_vendor ? l.vendor_signed : l.partner_signed)
        reply_problem_extra(rq, P_INVALID_STATE,
                            json_pack("{s:o}", "allowed_actions", machine_allowed_json(&agreement_machine, l.st)),
                            "the %s has already signed this agreement", party);
    else {
        const char *p[] = {rq->auth.tenant_id, id, party, signer};
        PGresult *r = db_exec(rq, &st_sign, 4, p);
        bool written = r && !feed_append(rq, "agreement.signed", "agreement", id, l.partner_id, PQgetvalue(r, 0, 0));
        if (written && PQgetvalue(r, 0, 2)[0] == 't')
            activate(rq, id, &l);
        else if (written)
            reply_resource(rq, 200, r);
        PQclear(r);
    }
    unlock(&l);
}

/* A bodiless action (suspend, resume): the table says whether and where; `what` names it in a 409. */
static void bodiless_action(struct request *rq, enum agr_action action, const char *what, const char *event) {
    struct locked l;
    const char *id = path_uuid_or_reply(rq, 0, "id");
    if (!id || (rq->json && json_fields_or_reply(rq, rq->json, NULL, 0, false)) || !lock_or_reply(rq, id, &l))
        return;
    const struct transition *t = legal(&l, action);
    if (!t)
        invalid_state(rq, &l, what);
    else
        set_status(rq, id, l.partner_id, target(t), NULL, NULL, event);
    unlock(&l);
}

void api_agreements_suspend(struct request *rq) {
    bodiless_action(rq, AA_SUSPEND, "suspended", "agreement.suspended");
}

void api_agreements_resume(struct request *rq) {
    bodiless_action(rq, AA_RESUME, "resumed", "agreement.resumed");
}

void api_agreements_terminate(struct request *rq) {
    static const struct field TERMINATE[] = {FIELD_STRING("reason", F_REQUIRED, 1000),
                                             FIELD_DATE("effective_on", 0)};
    struct locked l;
    const char *id = path_uuid_or_reply(rq, 0, "id");
    if (!id || json_fields_or_reply(rq, rq->json, TERMINATE, N(TERMINATE), false) ||
        !lock_or_reply(rq, id, &l))
        return;
    char today[11];
    time_t now = time(NULL);
    struct tm tm;
    strftime(today, sizeof today, "%Y-%m-%d", gmtime_r(&now, &tm));
    const char *on = json_string_value(json_object_get(rq->json, "effective_on"));
    if (!on) on = today;
    const struct transition *t = legal(&l, AA_TERMINATE);
    if (strcmp(on, today) < 0)
        reply_field_error(rq, "effective_on", "must be today or later");
    else if (!t)
        invalid_state(rq, &l, "terminated");
    else
        set_status(rq, id, l.partner_id, target(t), on,
                   json_string_value(json_object_get(rq->json, "reason")), "agreement.terminated");
    unlock(&l);
}

void api_agreements_amend(struct request *rq) {
    struct locked l;
    const char *id = lock_for_or_reply(rq, &l, AA_AMEND, "amended");
    if (!id) return;
    json_t *none = json_object();
    json_t *m = merged(rq, &l, rq->json ? rq->json : none);
    if (m) insert_draft(rq, m, id);
    json_decref(none);
    json_decref(m);
    unlock(&l);
}
