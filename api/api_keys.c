/* /v1/api-keys: create (the secret is returned once), list, get, revoke. Admin keys only. */
#include "api/api.h"
#include "server/edge/auth_cache.h"
#include "server/edge/auth.h"
#include "server/data/db.h"
#include "server/edge/json_in.h"
#include "server/edge/list.h"
#include "server/edge/params.h"
#include "server/edge/reply.h"
#include "server/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const ROLES[] = {"admin", "staff", "partner", "readonly", NULL};

static const struct field KEY_FIELDS[] = {
    {"role", FT_ENUM, F_REQUIRED, 0, 0, ROLES},
    {"partner_id", FT_UUID, F_NULLABLE, 0, 0, NULL},
    {"name", FT_STRING, F_NULLABLE, 200, 0, NULL},
    {"id", FT_UUID, F_READONLY, 0, 0, NULL},
    {"prefix", FT_STRING, F_READONLY, 0, 0, NULL},
    {"key", FT_STRING, F_READONLY, 0, 0, NULL},
    {"created_at", FT_STRING, F_READONLY, 0, 0, NULL},
    {"revoked_at", FT_STRING, F_READONLY, 0, 0, NULL},
};

DB_STMT(st_insert,
        "INSERT INTO api_keys AS k (tenant_id, id, role, partner_id, name, prefix, secret_hash) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING api_key_json(k)");
DB_STMT(st_get, "SELECT api_key_json(k) FROM api_keys k WHERE tenant_id = $1 AND id = $2");
/* GET /v1/api-keys (admin keys only, so $5 is always NULL): $6 role, $7 revoked. */
LIST_SPEC(key_list,
          "SELECT api_key_json(k), api_ts(k.created_at), k.id FROM api_keys k "
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

void api_keys_create(struct request *rq) {
    if (json_fields_or_reply(rq, rq->json, KEY_FIELDS, 8, false)) return;
    const char *role = json_string_value(json_object_get(rq->json, "role"));
    const char *partner = json_string_value(json_object_get(rq->json, "partner_id"));
    const char *name = json_string_value(json_object_get(rq->json, "name"));
    if ((strcmp(role, "partner") == 0) != (partner != NULL)) {
        reply_field_error(rq, "partner_id", partner ? "is only allowed for role partner"
                                                    : "is required for role partner");
        return;
    }
    char id[37], key[KEY_LEN + 1], prefix[KEY_PREFIX_LEN + 1], hash[65];
    uuid_new(id);
    auth_key_generate(key, prefix, hash);
    const char *p[] = {rq->auth.tenant_id, id, role, partner, name, prefix, hash};
    PGresult *r = db_exec(rq, &st_insert, 7, p);
    if (!r) {
        if (db_violated(rq, "api_keys_partner_fk"))
            reply_field_error(rq, "partner_id", "no such partner");
        return;
    }
    json_error_t err;
    json_t *o = json_loads(PQgetvalue(r, 0, 0), 0, &err);
    PQclear(r);
    /* An Idempotency-Key replay must not reveal the secret: only its hash is ever stored. */
    json_object_set_new(o, "key", json_null());
    free(rq->idem_body);
    rq->idem_body = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_object_set_new(o, "key", json_string(key));
    char loc[64];
    snprintf(loc, sizeof loc, "/v1/api-keys/%s", id);
    reply_json(rq, 201, o);
    reply_header(rq, "Location", loc);
}

void api_keys_list(struct request *rq) {
    list_reply(rq, &key_list);
}

void api_keys_get(struct request *rq) {
    const char *id = path_uuid_or_reply(rq, 0, "id");
    if (!id) return;
    const char *p[] = {rq->auth.tenant_id, id};
    PGresult *r = db_exec(rq, &st_get, 2, p);
    if (!r) return;
    if (PQntuples(r) == 0)
        reply_not_found(rq, "API key", id);
    else
        reply_json_text(rq, 200, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
    PQclear(r);
}

static void forget_revoked(struct request *rq) {
    auth_cache_forget(rq->after_commit_arg); /* other instances hear it through NOTIFY */
}

void api_keys_revoke(struct request *rq) {
    const char *id = path_uuid_or_reply(rq, 0, "id");
    if (!id) return;
    const char *p[] = {rq->auth.tenant_id, id};
    PGresult *r = db_exec(rq, &st_revoke, 2, p);
    if (!r) return;
    if (PQntuples(r) == 0) {
        reply_not_found(rq, "API key", id);
    } else {
        reply_json_text(rq, 200, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
        snprintf(rq->after_commit_arg, sizeof rq->after_commit_arg, "%s", id);
        rq->after_commit = forget_revoked;
    }
    PQclear(r);
}
