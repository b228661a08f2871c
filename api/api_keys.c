/* /v1/api-keys: create (the secret is returned once), list, get, revoke, rotate (the new secret is
 * returned once; the old one keeps working for the stated overlap). Admin keys only. */
#include "api/api.h"
#include "server/edge/auth_cache.h"
#include "server/edge/auth.h"
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

static const char *const ROLES[] = {"admin", "staff", "partner", "readonly", NULL};

static const char *check_timestamp(json_t *v) {
    return json_is_string(v) && timestamp_valid(json_string_value(v))
               ? NULL
               : "must be an RFC 3339 timestamp with an offset, e.g. 2027-01-31T00:00:00Z";
}

static const struct field KEY_FIELDS[] = {
    FIELD_ENUM("role", F_REQUIRED, ROLES),
    FIELD_UUID("partner_id", F_NULLABLE),
    FIELD_STRING("name", F_NULLABLE, 200),
    {"expires_at", FT_CHECK, F_NULLABLE, 0, 0, NULL, check_timestamp},
    FIELD_READONLY("id"), FIELD_READONLY("prefix"), FIELD_READONLY("key"), FIELD_READONLY("created_at"),
    FIELD_READONLY("revoked_at"), FIELD_READONLY("last_used_at"), FIELD_READONLY("rotated_at"),
    FIELD_READONLY("previous_secret"),
};
#define NKEY_FIELDS ((int)(sizeof KEY_FIELDS / sizeof KEY_FIELDS[0]))

/* Rotation: how long the replaced secret keeps working. */
#define OVERLAP_DEFAULT 3600
#define OVERLAP_MAX 604800
static const struct field ROTATE_FIELDS[] = {
    {"overlap_seconds", FT_INT, 0, OVERLAP_MAX, 0, NULL},
};

/* No row when expires_at is not in the future. */
DB_STMT(st_insert,
        "INSERT INTO api_keys AS k (tenant_id, id, role, partner_id, name, prefix, secret_hash, expires_at) "
        "SELECT $1, $2, $3, $4, $5, $6, $7, $8::timestamptz "
        "WHERE $8::timestamptz IS NULL OR $8::timestamptz > now() RETURNING api_key_json(k)");
/* The current secret becomes the previous one, working until now + overlap; a revoked or expired
 * key is not rotated (no row: st_state says why). */
DB_STMT(st_rotate,
        "UPDATE api_keys k SET previous_prefix = k.prefix, previous_secret_hash = k.secret_hash, "
        "  previous_until = now() + make_interval(secs => $5::int), prefix = $3, secret_hash = $4, "
        "  rotated_at = now() "
        "WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now()) "
        "RETURNING api_key_json(k)");
DB_STMT(st_state, "SELECT revoked_at IS NOT NULL FROM api_keys WHERE tenant_id = $1 AND id = $2");
DB_STMT(st_get, "SELECT api_key_json(k) FROM api_keys k WHERE tenant_id = $1 AND id = $2");
/* GET /v1/api-keys (admin keys only, so $5 is always NULL): $6 role, $7 revoked. */
LIST_SPEC(key_list,
          "SELECT api_key_json(k), k.created_at, k.id FROM api_keys k "
          "WHERE k.tenant_id = $1 AND $5::uuid IS NULL AND ($6::text IS NULL OR k.role = $6) "
          "  AND ($7::boolean IS NULL OR (k.revoked_at IS NOT NULL) = $7)",
          "k.created_at, k.id",
          {"role", LQ_ENUM, ROLES}, {"revoked", LQ_BOOL});

/* Revoking twice is harmless: the first revocation time stands. The webhook endpoints the key
 * registered stop receiving in the same statement (disabled, with the reason; a queued delivery
 * fails when it falls due), and cannot be re-enabled (api/webhooks.c). */
DB_STMT(st_revoke,
        "WITH k AS (UPDATE api_keys k SET revoked_at = coalesce(revoked_at, now()) "
        "  WHERE tenant_id = $1 AND id = $2 RETURNING k.tenant_id, k.id, api_key_json(k) AS j), "
        "w AS (UPDATE webhook_endpoints w SET enabled = false, version = w.version + 1, updated_at = now(), "
        "  disabled_reason = 'the partner key that registered it was revoked' "
        "  FROM k WHERE w.tenant_id = k.tenant_id AND w.api_key_id = k.id AND w.enabled) "
        "SELECT j FROM k");

/* Replies `status` with the key row (column 0 of `r`, which this frees) and the one-time secret `key`. */
static void reply_with_secret(struct request *rq, PGresult *r, const char *key, int status) {
    json_error_t err;
    json_t *o = json_loads(PQgetvalue(r, 0, 0), 0, &err);
    PQclear(r);
    /* An Idempotency-Key replay must not reveal the secret: only its hash is ever stored. */
    json_object_set_new(o, "key", json_null());
    free(rq->idem_body);
    rq->idem_body = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_object_set_new(o, "key", json_string(key));
    reply_json(rq, status, o);
}

void api_keys_create(struct request *rq) {
    if (json_fields_or_reply(rq, rq->json, KEY_FIELDS, NKEY_FIELDS, false)) return;
    const char *role = json_string_value(json_object_get(rq->json, "role"));
    const char *partner = json_string_value(json_object_get(rq->json, "partner_id"));
    const char *name = json_string_value(json_object_get(rq->json, "name"));
    const char *expires = json_string_value(json_object_get(rq->json, "expires_at"));
    if ((strcmp(role, "partner") == 0) != (partner != NULL)) {
        reply_field_error(rq, "partner_id", partner ? "is only allowed for role partner"
                                                    : "is required for role partner");
        return;
    }
    char id[37], key[KEY_LEN + 1], prefix[KEY_PREFIX_LEN + 1], hash[65];
    uuid_new(id);
    auth_key_generate(key, prefix, hash);
    const char *p[] = {rq->auth.tenant_id, id, role, partner, name, prefix, hash, expires};
    PGresult *r = db_exec(rq, &st_insert, 8, p);
    if (!r) {
        if (db_violated(rq, "api_keys_partner_fk"))
            reply_field_error(rq, "partner_id", "no such partner");
        return;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        reply_field_error(rq, "expires_at", "must be in the future");
        return;
    }
    reply_with_secret(rq, r, key, 201);
    char loc[64];
    snprintf(loc, sizeof loc, "/v1/api-keys/%s", id);
    reply_header(rq, "Location", loc);
}

void api_keys_list(struct request *rq) {
    list_reply(rq, &key_list);
}

void api_keys_get(struct request *rq) {
    const char *id = path_uuid_or_reply(rq, 0, "id");
    if (!id) return;
    const char *p[] = {rq->auth.tenant_id, id};
    PGresult *r = found_or_reply(rq, &st_get, 2, p, "API key", id);
    if (!r) return;
    reply_json_text(rq, 200, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
    PQclear(r);
}

static void forget_key(struct request *rq) {
    auth_cache_forget(rq->after_commit_arg); /* other instances hear it through NOTIFY */
}

/* A revoked or rotated key is forgotten here as soon as the change commits. */
static void forget_after_commit(struct request *rq, const char *id) {
    snprintf(rq->after_commit_arg, sizeof rq->after_commit_arg, "%s", id);
    rq->after_commit = forget_key;
}

void api_keys_revoke(struct request *rq) {
    const char *id = path_uuid_or_reply(rq, 0, "id");
    if (!id) return;
    const char *p[] = {rq->auth.tenant_id, id};
    PGresult *r = found_or_reply(rq, &st_revoke, 2, p, "API key", id);
    if (!r) return;
    reply_json_text(rq, 200, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
    forget_after_commit(rq, id);
    PQclear(r);
}

void api_keys_rotate(struct request *rq) {
    const char *id = path_uuid_or_reply(rq, 0, "id");
    if (!id) return;
    json_t *body = rq->json ? rq->json : json_object();
    int rc = json_fields_or_reply(rq, body, ROTATE_FIELDS, 1, false);
    json_t *ov = json_object_get(body, "overlap_seconds");
    long long overlap = ov ? json_integer_value(ov) : OVERLAP_DEFAULT;
    if (!rq->json) json_decref(body);
    if (rc) return;
    char key[KEY_LEN + 1], prefix[KEY_PREFIX_LEN + 1], hash[65], secs[24];
    auth_key_generate(key, prefix, hash);
    snprintf(secs, sizeof secs, "%lld", overlap);
    const char *p[] = {rq->auth.tenant_id, id, prefix, hash, secs};
    PGresult *r = db_exec(rq, &st_rotate, 5, p);
    if (!r) return;
    if (PQntuples(r) == 0) {
        PQclear(r);
        if (!(r = found_or_reply(rq, &st_state, 2, p, "API key", id))) return;
        reply_problem(rq, P_INVALID_STATE, "API key %s is %s and cannot be rotated", id,
                      *PQgetvalue(r, 0, 0) == 't' ? "revoked" : "expired");
        PQclear(r);
        return;
    }
    reply_with_secret(rq, r, key, 200);
    forget_after_commit(rq, id);
}
