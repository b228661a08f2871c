/* /v1/referrals: submit (with duplicate protection), get, list, PATCH prospect details, and the
 * timeline. Workflow actions live in api/referral_actions.c. */
#include "api/api.h"
#include "api/contact.h"
#include "api/feed.h"
#include "api/prospect.h"
#include "api/referrals/referrals.h"
#include "server/edge/dispatch.h"
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
#include <strings.h>

static const char *const DIRECTIONS[] = {"inbound", "outbound", NULL};
static const char *const STATUSES[] = {"submitted", "acknowledged", "engaged", "won",
                                       "lost",      "declined",     "withdrawn", NULL};

static const struct field PROSPECT[] = {
    CONTACT_FIELDS,
    FIELD_TEXT("notes", F_NULLABLE, 5000),
};
#define READONLY_FIELDS                                                                            \
    FIELD_READONLY("client_discount_bps"), FIELD_READONLY("agreement_id"), FIELD_READONLY("status"),   \
        FIELD_READONLY("stage"), FIELD_READONLY("deal"), FIELD_READONLY("close_reason"),             \
        FIELD_READONLY("close_note"), FIELD_READONLY("acknowledge_by"),                              \
        FIELD_READONLY("acknowledged_at"), FIELD_READONLY("overdue"), FIELD_READONLY("closed_at"),   \
        FIELDS_READONLY_RESOURCE
static const struct field SHARE[] = {
    FIELD_UUID("partner_id", F_REQUIRED),
    FIELD_INT("share_bps", F_REQUIRED, 1, 10000),
};
static const struct field CREATE[] = {
    FIELD_UUID("partner_id", 0),
    FIELD_ENUM("direction", 0, DIRECTIONS),
    FIELD_OBJECT("prospect", F_REQUIRED, 16384),
    FIELD_STRING("external_id", F_NULLABLE, 200),
    FIELD_STRING("override_reason", F_NULLABLE, 1000),
    FIELD_READONLY("attributions"),
    READONLY_FIELDS,
};
static const struct field PATCH[] = {
    FIELD_OBJECT("prospect", 0, 16384),
    FIELD_ARRAY("attributions", F_NULLABLE, 16),
    FIELD_STRING("external_id", F_NULLABLE, 200),
    FIELD_READONLY("partner_id"),
    FIELD_READONLY("direction"),
    FIELD_READONLY("override_reason"),
    READONLY_FIELDS,
};
#define N(a) (int)(sizeof a / sizeof a[0])

DB_STMT(st_partner, "SELECT status FROM partners WHERE tenant_id = $1 AND id = $2");
/* Serialises submissions of the same prospect: taken before the duplicate check, held to commit. */
DB_STMT(st_dup_lock,
        "SELECT pg_advisory_xact_lock(hashtextextended($1 || ':email:' || $2, 0)) WHERE $2 <> '' "
        "UNION ALL "
        "SELECT pg_advisory_xact_lock(hashtextextended($1 || ':domain:' || $3, 0)) WHERE $3 <> ''");
/* An open or recently won referral of the same prospect inside its protection window. */
/* Also when it was introduced, by which partner, and until when it stays protected. */
DB_STMT(st_dup_find,
        "SELECT r.id, r.partner_id, api_ts(r.created_at), api_ts(coalesce(r.closed_at, r.created_at) + "
        "  make_interval(days => coalesce((agreement_terms(a, r.direction)->>'protection_days')::int, 90))) "
        "FROM referrals r LEFT JOIN agreements a "
        "  ON a.tenant_id = r.tenant_id AND a.id = r.agreement_id "
        "WHERE r.tenant_id = $1 AND ((r.prospect_email = $2 AND $2 <> '') "
        "                         OR (r.prospect_domain = $3 AND $3 <> '')) "
        "  AND r.status IN ('submitted', 'acknowledged', 'engaged', 'won') "
        "  AND coalesce(r.closed_at, r.created_at) >= now() - make_interval(days => "
        "      coalesce((agreement_terms(a, r.direction)->>'protection_days')::int, 90)) "
        "ORDER BY r.created_at LIMIT 1");
/* The agreement active for the partner and direction now is the one the referral earns under. */
DB_STMT(st_insert,
        "WITH ag AS (SELECT a.id, (agreement_terms(a, $4)->>'acknowledge_within_hours')::int AS hours "
        "  FROM agreements a WHERE a.tenant_id = $1 AND a.partner_id = $3 "
        "  AND (a.direction = $4 OR a.direction = 'reciprocal') AND agreement_status(a) = 'active' "
        "  ORDER BY a.activated_at DESC LIMIT 1) "
        "INSERT INTO referrals AS r (tenant_id, id, partner_id, agreement_id, direction, prospect, "
        "  prospect_email, prospect_domain, external_id, override_reason, acknowledge_by) "
        "SELECT $1, $2, $3, (SELECT id FROM ag), $4, $5::jsonb, nullif($6, ''), nullif($7, ''), $8, $9, "
        "  now() + make_interval(hours => coalesce((SELECT hours FROM ag), 48)) "
        "RETURNING referral_json(r), r.version");
DB_STMT(st_event,
        "INSERT INTO referral_events (tenant_id, referral_id, type, from_status, to_status, note, "
        "  stage, actor_key_id, actor_role) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");
DB_STMT(st_get,
        "SELECT referral_json(r), r.version FROM referrals r "
        "WHERE r.tenant_id = $1 AND r.id = $2 AND ($3::uuid IS NULL OR r.partner_id = $3)");
DB_STMT(st_update,
        "UPDATE referrals r SET prospect = CASE WHEN $4::jsonb IS NULL THEN r.prospect "
        "    ELSE jsonb_strip_nulls(r.prospect || $4::jsonb) END, "
        "  prospect_email = CASE WHEN $4::jsonb ? 'email' THEN nullif($5, '') ELSE r.prospect_email END, "
        "  prospect_domain = CASE WHEN $4::jsonb ? 'email' THEN nullif($6, '') ELSE r.prospect_domain END, "
        "  external_id = CASE WHEN $7 THEN $8 ELSE r.external_id END, "
        "  attributions = CASE WHEN $10 THEN $11::jsonb ELSE r.attributions END, "
        "  version = r.version + 1, updated_at = now() "
        "WHERE r.tenant_id = $1 AND r.id = $2 AND ($3::bigint IS NULL OR r.version = $3) "
        "  AND ($9::uuid IS NULL OR r.partner_id = $9) "
        "  AND (NOT $10 OR r.status IN ('submitted', 'acknowledged', 'engaged')) "
        "RETURNING referral_json(r), r.version, r.status, r.partner_id");
/* FOR KEY SHARE: a partner named in attributions cannot be deleted until this commits (the
 * partner delete locks the row, then looks for attributions naming it). */
DB_STMT(st_known_partners,
        "SELECT count(*) FROM (SELECT 1 FROM partners WHERE tenant_id = $1 AND id = ANY($2::uuid[]) "
        "FOR KEY SHARE) k");
DB_STMT(st_exists,
        "SELECT version, status FROM referrals WHERE tenant_id = $1 AND id = $2 "
        "AND ($3::uuid IS NULL OR partner_id = $3)");
DB_STMT(st_events,
        "SELECT referral_event_json(e), e.id FROM referral_events e "
        "WHERE e.tenant_id = $1 AND e.referral_id = $2 AND e.id > $3 ORDER BY e.id LIMIT $4");

/* GET /v1/referrals: $6 status, $7 partner_id, $8 direction, $9 external_id, $10 updated_since,
 * $11 overdue (server/edge/list.h). */
LIST_SPEC(referral_list,
          "SELECT referral_json(r), r.created_at, r.id FROM referrals r "
          "WHERE r.tenant_id = $1 AND ($5::uuid IS NULL OR r.partner_id = $5) "
          "  AND ($6::text IS NULL OR r.status = $6) AND ($7::uuid IS NULL OR r.partner_id = $7) "
          "  AND ($8::text IS NULL OR r.direction = $8) AND ($9::text IS NULL OR r.external_id = $9) "
          "  AND ($10::timestamptz IS NULL OR r.updated_at >= $10) "
          "  AND ($11::boolean IS NULL OR (r.status = 'submitted' AND r.acknowledge_by < now()) = $11)",
          "r.created_at, r.id",
          {"status", LQ_ENUM, STATUSES}, {"partner_id", LQ_UUID}, {"direction", LQ_ENUM, DIRECTIONS},
          {"external_id", LQ_TEXT, NULL, 200}, {"updated_since", LQ_TIMESTAMP}, {"overdue", LQ_BOOL});

int referral_event_append(struct request *rq, const char *referral_id, const char *type,
                          const char *from, const char *to, const char *note, const char *stage) {
    const char *p[] = {rq->auth.tenant_id, referral_id, type, from, to, note, stage,
                       rq->auth.key_id, role_name(rq->auth.role)};
    PGresult *r = db_exec(rq, &st_event, 9, p);
    PQclear(r);
    return r ? 0 : -1;
}

void referral_fields_collect(json_t *errors, json_t *obj) {
    json_fields_collect(errors, NULL, obj, CREATE, N(CREATE), false);
    json_t *prospect = json_object_get(obj, "prospect");
    if (json_is_object(prospect)) json_fields_collect(errors, "prospect.", prospect, PROSPECT, N(PROSPECT), false);
}

/* Validates the body of a create and the partner it names; fills partner/direction. */
static int create_valid_or_reply(struct request *rq, const char **partner, const char **direction) {
    json_t *errors = json_array();
    referral_fields_collect(errors, rq->json);
    if (json_errors_or_ok(rq, errors) != JIN_OK) return JIN_REPLIED;
    *partner = json_string_value(json_object_get(rq->json, "partner_id"));
    *direction = json_string_value(json_object_get(rq->json, "direction"));
    if (rq->auth.role == ROLE_PARTNER) {
        /* A partner introduces clients to us, for itself. */
        if (*partner && strcmp(*partner, rq->auth.partner_id) != 0) {
            reply_problem(rq, P_FORBIDDEN, "a partner key submits referrals only for its own partner");
            return JIN_REPLIED;
        }
        if (*direction && strcmp(*direction, "inbound") != 0) {
            reply_problem(rq, P_FORBIDDEN, "a partner key submits only inbound referrals");
            return JIN_REPLIED;
        }
        if (json_object_get(rq->json, "override_reason")) {
            reply_problem(rq, P_FORBIDDEN, "only staff may override duplicate protection");
            return JIN_REPLIED;
        }
        *partner = rq->auth.partner_id;
        if (!*direction) *direction = "inbound";
    } else if (!*partner || !*direction) {
        reply_field_error(rq, *partner ? "direction" : "partner_id", "is required");
        return JIN_REPLIED;
    }
    return JIN_OK;
}

/* The prospect's duplicate-protection keys: its email and its email's domain ("" if none). */
struct prospect_keys {
    char email[256], domain[256];
};

static void prospect_keys(json_t *prospect, struct prospect_keys *k) {
    const char *email = json_string_value(json_object_get(prospect, "email"));
    prospect_email_key(email, k->email, sizeof k->email);
    prospect_domain_key(email, k->domain, sizeof k->domain);
}

/* A write tripped over another referral's external id: 409 in the API's words. */
static void write_failed(struct request *rq) {
    if (db_violated(rq, "referrals_external_id_unique"))
        reply_problem(rq, P_EXTERNAL_ID_TAKEN, "another referral already has this external_id");
}

/* The partner may receive referrals: it exists (else 400) and has not ended (else 409). */
static bool partner_open_or_reply(struct request *rq, const char *partner) {
    const char *pp[] = {rq->auth.tenant_id, partner};
    PGresult *r = db_exec(rq, &st_partner, 2, pp);
    if (!r) return false;
    bool known = PQntuples(r) == 1, ended = known && !strcmp(PQgetvalue(r, 0, 0), "ended");
    PQclear(r);
    if (!known)
        reply_field_error(rq, "partner_id", "no such partner");
    else if (ended)
        reply_problem(rq, P_INVALID_STATE, "the partnership has ended; referrals cannot be submitted");
    return known && !ended;
}

/* No other referral holds the credit for this prospect (unless staff override it); else 409.
 * Takes the prospect's lock first, held to commit. */
static bool not_duplicate_or_reply(struct request *rq, const struct prospect_keys *k, const char *override) {
    if (!*k->email) return true;
    const char *dp[] = {rq->auth.tenant_id, k->email, k->domain};
    PGresult *r = db_exec(rq, &st_dup_lock, 3, dp);
    if (!r) return false;
    PQclear(r);
    if (!(r = db_exec(rq, &st_dup_find, 3, dp))) return false;
    bool duplicate = PQntuples(r) && !override;
    if (duplicate) {
        /* Staff may see which referral holds the credit; a partner learns until when it is
         * protected, and which one it is only when the partner made it itself. */
        bool own = rq->auth.role == ROLE_PARTNER && !strcmp(PQgetvalue(r, 0, 1), rq->auth.partner_id);
        json_t *extra = json_pack("{s:s, s:b}", "protected_until", PQgetvalue(r, 0, 3), "introduced_by_you", own);
        if (rq->auth.role != ROLE_PARTNER || own) {
            json_object_set_new(extra, "existing_referral_id", json_string(PQgetvalue(r, 0, 0)));
            json_object_set_new(extra, "introduced_at", json_string(PQgetvalue(r, 0, 2)));
        }
        reply_problem_extra(rq, P_DUPLICATE_REFERRAL, extra,
                            "this prospect was already introduced and is still protected%s",
                            rq->auth.role == ROLE_PARTNER ? "" : "; staff may override with override_reason");
    }
    PQclear(r);
    return !duplicate;
}

/* Inserts the referral with its first timeline event and feed entry; replies 201. */
static void referral_insert(struct request *rq, const char *partner, const char *direction,
                            const struct prospect_keys *k, const char *override) {
    char id[37];
    uuid_new(id);
    char *ptext = json_dumps(json_object_get(rq->json, "prospect"), JSON_COMPACT | JSON_PRESERVE_ORDER);
    const char *p[] = {rq->auth.tenant_id, id, partner, direction, ptext, k->email, k->domain,
                       json_string_value(json_object_get(rq->json, "external_id")), override};
    PGresult *r = db_exec(rq, &st_insert, 9, p);
    free(ptext);
    if (!r)
        write_failed(rq);
    else if (!referral_event_append(rq, id, "submitted", NULL, "submitted", override, NULL) &&
             !feed_append(rq, "referral.submitted", "referral", id, partner, PQgetvalue(r, 0, 0)))
        reply_created(rq, r, "/v1/referrals/%s", id);
    PQclear(r);
}

void api_referrals_create(struct request *rq) {
    const char *partner, *direction;
    if (create_valid_or_reply(rq, &partner, &direction) != JIN_OK || !partner_open_or_reply(rq, partner)) return;
    const char *override = json_string_value(json_object_get(rq->json, "override_reason"));
    struct prospect_keys k;
    prospect_keys(json_object_get(rq->json, "prospect"), &k);
    if (not_duplicate_or_reply(rq, &k, override)) referral_insert(rq, partner, direction, &k, override);
}

void api_referrals_get(struct request *rq) {
    reply_resource_by_id(rq, &st_get, "referral");
}

void api_referrals_list(struct request *rq) {
    list_reply(rq, &referral_list);
}

/* Checks split credit: distinct partners whose shares sum to 10000. Appends errors; writes the
 * partner ids as a SQL array into `ids`. */
static void attributions_check(json_t *errors, json_t *att, char *ids, size_t cap) {
    size_t i, j;
    json_t *a;
    int sum = 0;
    strcpy(ids, "{");
    if (json_array_size(att) == 0) {
        json_array_append_new(errors, json_pack("{s:s,s:s}", "field", "attributions", "message", "must not be empty; use null to clear"));
        return;
    }
    json_array_foreach(att, i, a) {
        char prefix[48];
        snprintf(prefix, sizeof prefix, "attributions[%zu].", i);
        if (!json_is_object(a)) {
            json_array_append_new(errors, json_pack("{s:s,s:s}", "field", "attributions", "message", "items must be objects"));
            return;
        }
        size_t before = json_array_size(errors);
        json_fields_collect(errors, prefix, a, SHARE, N(SHARE), false);
        if (json_array_size(errors) != before) return;
        sum += (int)json_integer_value(json_object_get(a, "share_bps"));
        const char *pid = json_string_value(json_object_get(a, "partner_id"));
        for (j = 0; j < i; j++)
            if (!strcasecmp(pid, json_string_value(json_object_get(json_array_get(att, j), "partner_id")))) {
                json_array_append_new(errors, json_pack("{s:s,s:s}", "field", "attributions", "message", "names a partner twice"));
                return;
            }
        size_t n = strlen(ids);
        snprintf(ids + n, cap - n, "%s%s", i ? "," : "", pid);
    }
    strcat(ids, "}");
    if (sum != 10000)
        json_array_append_new(errors, json_pack("{s:s,s:s}", "field", "attributions", "message", "shares must sum to 10000 bps"));
}

/* Validates a PATCH body (prospect fields, split credit) and who may send it; the attributed
 * partners' ids go to `att_ids` as a SQL array. False after a 400 or 403. */
static bool patch_valid_or_reply(struct request *rq, char *att_ids, size_t cap) {
    json_t *errors = json_array();
    json_fields_collect(errors, NULL, rq->json, PATCH, N(PATCH), true);
    json_t *prospect = json_object_get(rq->json, "prospect");
    if (json_is_object(prospect)) json_fields_collect(errors, "prospect.", prospect, PROSPECT, N(PROSPECT), true);
    json_t *att = json_object_get(rq->json, "attributions");
    if (json_is_array(att)) attributions_check(errors, att, att_ids, cap);
    if (json_errors_or_ok(rq, errors) != JIN_OK) return false;
    if (json_object_size(rq->json) == 0) {
        reply_field_error(rq, "body", "names no field to change");
        return false;
    }
    if (att && rq->auth.role == ROLE_PARTNER) {
        reply_problem(rq, P_FORBIDDEN, "only staff may set attributions");
        return false;
    }
    return true;
}

/* Every partner the attributions name exists (and is locked FOR KEY SHARE); else 400. */
static bool attributed_exist_or_reply(struct request *rq, json_t *att, const char *att_ids) {
    if (!json_is_array(att)) return true;
    const char *kp[] = {rq->auth.tenant_id, att_ids};
    PGresult *k = db_exec(rq, &st_known_partners, 2, kp);
    if (!k) return false;
    bool all = atoi(PQgetvalue(k, 0, 0)) == (int)json_array_size(att);
    PQclear(k);
    if (!all) reply_field_error(rq, "attributions", "names a partner that does not exist");
    return all;
}

/* The conditional UPDATE of the PATCH: the changed row, none, or NULL on a database failure. */
static PGresult *patch_write(struct request *rq, const char *id, const char *version) {
    json_t *prospect = json_object_get(rq->json, "prospect"), *att = json_object_get(rq->json, "attributions");
    struct prospect_keys k = {"", ""};
    if (prospect) prospect_keys(prospect, &k);
    char *ptext = prospect ? json_dumps(prospect, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_t *ext = json_object_get(rq->json, "external_id");
    char *att_text = json_is_array(att) ? json_dumps(att, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    const char *p[] = {rq->auth.tenant_id, id, *version ? version : NULL, ptext, k.email, k.domain,
                       ext ? "true" : "false", json_string_value(ext), partner_scope(rq),
                       att ? "true" : "false", att_text};
    PGresult *r = db_exec(rq, &st_update, 11, p);
    free(ptext);
    free(att_text);
    return r;
}

/* The PATCH matched nothing: 404, 412 (stale If-Match) or 409 (attributions of a closed one). */
static void reply_not_patched(struct request *rq, const char *id, const char *version) {
    const char *q[] = {rq->auth.tenant_id, id, partner_scope(rq)};
    PGresult *r = db_exec(rq, &st_exists, 3, q);
    if (!r) return;
    if (PQntuples(r) == 0)
        reply_not_found(rq, "referral", id);
    else if (version_ok_or_reply(rq, "referral", version, PQgetvalue(r, 0, 0)))
        reply_problem(rq, P_INVALID_STATE, "attributions cannot change once a referral is %s", PQgetvalue(r, 0, 1));
    PQclear(r);
}

/* The referral `id` was edited (`r`: its row, status, partner): the timeline event and the feed
 * entry, then 200 with it. */
static void reply_edited(struct request *rq, const char *id, PGresult *r) {
    const char *status = PQgetvalue(r, 0, 2);
    if (!referral_event_append(rq, id, "edited", status, status, NULL, NULL) &&
        !feed_append(rq, "referral.edited", "referral", id, PQgetvalue(r, 0, 3), PQgetvalue(r, 0, 0)))
        reply_resource(rq, 200, r);
}

void api_referrals_update(struct request *rq) {
    char version[24], att_ids[16 * 38 + 3] = "{}";
    const char *id = path_id_if_match_or_reply(rq, version);
    if (!id || !patch_valid_or_reply(rq, att_ids, sizeof att_ids) ||
        !attributed_exist_or_reply(rq, json_object_get(rq->json, "attributions"), att_ids))
        return;
    PGresult *r = patch_write(rq, id, version);
    if (!r)
        write_failed(rq);
    else if (PQntuples(r) == 0)
        reply_not_patched(rq, id, version);
    else
        reply_edited(rq, id, r);
    PQclear(r);
}

void api_referrals_events(struct request *rq) {
    static const char *const allowed[] = {"limit", "after", NULL};
    struct timeline t;
    const char *id = path_uuid_or_reply(rq, 0, "id");
    if (!id || query_known_or_reply(rq, allowed) || timeline_params_or_reply(rq, "timeline", 500, &t)) return;
    const char *q[] = {rq->auth.tenant_id, id, partner_scope(rq)};
    PGresult *r = found_or_reply(rq, &st_exists, 3, q, "referral", id);
    if (!r) return;
    PQclear(r);
    const char *p[] = {rq->auth.tenant_id, id, t.after_text, t.limit_plus_one};
    if (!(r = db_exec(rq, &st_events, 4, p))) return;
    reply_timeline(rq, r, &t, false);
    PQclear(r);
}

/* Serialises PUTs of one external id, so the second of two concurrent ones finds the first's
 * referral (and updates it) instead of tripping over it as a duplicate prospect. */
DB_STMT(st_lock_external,
        "SELECT pg_advisory_xact_lock(hashtextextended($1::text || ':referral-external-id:' || $2, 0))");
DB_STMT(st_find_external,
        "SELECT id, partner_id, direction, version FROM referrals "
        "WHERE tenant_id = $1 AND external_id = $2 FOR UPDATE");
DB_STMT(st_replace_prospect,
        "UPDATE referrals r SET prospect = $3::jsonb, prospect_email = nullif($4, ''), "
        "  prospect_domain = nullif($5, ''), version = r.version + 1, updated_at = now() "
        "WHERE r.tenant_id = $1 AND r.id = $2 AND r.prospect IS DISTINCT FROM $3::jsonb "
        "RETURNING referral_json(r), r.version, r.status, r.partner_id");

/* The referral PUT names and whoever may see it: locked (FOR UPDATE) behind the external id's
 * own lock. NULL on a database failure. */
static PGresult *find_external(struct request *rq, const char *ext) {
    const char *f[] = {rq->auth.tenant_id, ext};
    PGresult *r = db_exec(rq, &st_lock_external, 2, f);
    if (!r) return NULL;
    PQclear(r);
    return db_exec(rq, &st_find_external, 2, f);
}

/* First PUT of this external id: submits it as POST would (not under If-Match: 412). */
static void put_create(struct request *rq, const char *ext, const char *version) {
    if (*version || if_match_any(rq)) { /* If-Match: only an existing one */
        reply_problem(rq, P_PRECONDITION_FAILED, "no referral has this external_id, so If-Match cannot match");
        return;
    }
    json_object_set_new(rq->json, "external_id", json_string(ext));
    api_referrals_create(rq);
    /* Another PUT created it meanwhile: run again, now as an update. */
    if (rq->status == 409 && db_violated(rq, "referrals_external_id_unique")) rq->db_fail = DBF_RETRY;
}

/* The found referral (`r`: id, partner, direction, version) may be replaced by this PUT: it is
 * the caller's to see (else 409, its id hidden), at the If-Match version (else 412), and of the
 * same partner and direction (else 409). Copies its id into `id`. */
static bool replaceable_or_reply(struct request *rq, PGresult *r, const char *version, const char *partner,
                                 const char *direction, char id[37]) {
    if (partner_scope(rq) && strcmp(PQgetvalue(r, 0, 1), partner_scope(rq)) != 0) {
        reply_problem(rq, P_EXTERNAL_ID_TAKEN, "another referral already has this external_id");
        return false;
    }
    snprintf(id, 37, "%s", PQgetvalue(r, 0, 0));
    bool same = !strcmp(PQgetvalue(r, 0, 1), partner) && !strcmp(PQgetvalue(r, 0, 2), direction);
    if (!version_ok_or_reply(rq, "referral", version, PQgetvalue(r, 0, 3))) return false; /* locked: no race */
    if (!same) reply_problem(rq, P_INVALID_STATE, "referral %s has another partner or direction; those never change", id);
    return same;
}

/* Replaces the prospect of referral `id`; replies 200 with it, edited or (if the same) as it was. */
static void replace_prospect(struct request *rq, const char *id) {
    json_t *prospect = json_object_get(rq->json, "prospect");
    struct prospect_keys k;
    prospect_keys(prospect, &k);
    char *ptext = json_dumps(prospect, JSON_COMPACT | JSON_PRESERVE_ORDER);
    const char *u[] = {rq->auth.tenant_id, id, ptext, k.email, k.domain};
    PGresult *r = db_exec(rq, &st_replace_prospect, 5, u);
    free(ptext);
    if (r && PQntuples(r) == 0) { /* nothing changed */
        PQclear(r);
        const char *g[] = {rq->auth.tenant_id, id, NULL};
        if ((r = db_exec(rq, &st_get, 3, g))) reply_resource(rq, 200, r);
    } else if (r)
        reply_edited(rq, id, r);
    PQclear(r);
}

/* PUT /v1/referrals/by-external-id/{external_id}: submits the referral the first time (with every
 * rule of POST), afterwards replaces its prospect details; repeating it changes nothing. */
void api_referrals_put(struct request *rq) {
    char version[24], id[37];
    const char *partner, *direction;
    const char *ext = path_external_id_or_reply(rq);
    if (!ext || !body_external_id_ok_or_reply(rq, ext) || if_match_or_reply(rq, version) ||
        create_valid_or_reply(rq, &partner, &direction) != JIN_OK)
        return;
    PGresult *r = find_external(rq, ext);
    if (!r) return;
    bool found = PQntuples(r) > 0, replace = found && replaceable_or_reply(rq, r, version, partner, direction, id);
    PQclear(r);
    if (!found)
        put_create(rq, ext, version);
    else if (replace)
        replace_prospect(rq, id);
}
