/* /v1/tenants: the operator's view of the instance (operator keys only, see the route table).
 * Tenant metadata, limits and usage — never a tenant's business records. Operator requests run
 * across tenants (allied.scope, set by authentication), so every statement here names its tenant
 * by id; $1 of a list is the caller's tenant, always "" for an operator key. */
#include "api/api.h"
#include "server/data/db.h"
#include "server/edge/auth.h"
#include "server/edge/auth_cache.h"
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

static const char *const STATUSES[] = {"active", "suspended", NULL};

static const struct field TENANT_FIELDS[] = {
    FIELD_STRING("name", F_REQUIRED, 200),
    FIELD_OBJECT("limits", 0, 1024),
    FIELDS_READONLY_RESOURCE,
    FIELD_READONLY("status"), FIELD_READONLY("suspended_at"), FIELD_READONLY("last_export_at"),
    FIELD_READONLY("settings"), /* the tenant's own (GET/PATCH /v1/settings) */
};
#define NFIELDS (int)(sizeof TENANT_FIELDS / sizeof TENANT_FIELDS[0])

/* Each limit: a number, or null for none (the rate: the instance default). */
static const struct field LIMIT_FIELDS[] = {
    FIELD_INT("requests_per_second", F_NULLABLE, 1, 1000000),
    FIELD_INT("partners", F_NULLABLE, 0, 1000000000),
    FIELD_INT("webhook_endpoints", F_NULLABLE, 0, 1000000000),
    FIELD_INT("rows", F_NULLABLE, 0, 1000000000000LL),
};

static const struct field DELETE_FIELDS[] = {
    FIELD_STRING("confirm", F_REQUIRED, 200),
};

static int tenant_valid_or_reply(struct request *rq, bool partial) {
    json_t *errors = json_array();
    json_fields_collect(errors, NULL, rq->json, TENANT_FIELDS, NFIELDS, partial);
    json_t *l = json_object_get(rq->json, "limits");
    if (json_is_object(l)) json_fields_collect(errors, "limits.", l, LIMIT_FIELDS, 4, true);
    return json_errors_or_ok(rq, errors);
}

/* Limits are read from the validated body: b->'limits'->'x' present = set it (null clears). */
#define LIMIT_SET(col, key)                                                                        \
    col " = CASE WHEN b->'limits' ? '" key "' THEN (b->'limits'->>'" key "')::bigint ELSE t." col " END"

DB_STMT(st_insert,
        "INSERT INTO tenants AS t (id, name, rate_per_second, max_partners, max_webhook_endpoints, max_rows) "
        "SELECT $1, b->>'name', (b->'limits'->>'requests_per_second')::int, (b->'limits'->>'partners')::int, "
        "  (b->'limits'->>'webhook_endpoints')::int, (b->'limits'->>'rows')::bigint "
        "FROM (SELECT $2::jsonb AS b) x RETURNING tenant_json(t)");
DB_STMT(st_first_key,
        "INSERT INTO api_keys AS k (tenant_id, id, role, name, prefix, secret_hash) "
        "VALUES ($1, $2, 'admin', 'initial admin key', $3, $4) RETURNING api_key_json(k)");
DB_STMT(st_get, "SELECT tenant_json(t), t.version FROM tenants t "
                "WHERE $1::text = '' AND t.id = $2 AND $3::uuid IS NULL");
DB_STMT(st_update,
        "UPDATE tenants t SET name = CASE WHEN b ? 'name' THEN b->>'name' ELSE t.name END, "
        "  " LIMIT_SET("rate_per_second", "requests_per_second") ", " LIMIT_SET("max_partners", "partners") ", "
        "  " LIMIT_SET("max_webhook_endpoints", "webhook_endpoints") ", " LIMIT_SET("max_rows", "rows") ", "
        "  version = t.version + 1, updated_at = now() "
        "FROM (SELECT $3::jsonb AS b) x "
        "WHERE t.id = $1 AND ($2::bigint IS NULL OR t.version = $2) RETURNING tenant_json(t), t.version");
DB_STMT(st_version, "SELECT version FROM tenants WHERE id = $1");
/* suspend / resume: $2 the status to leave, $3 the one to enter. */
DB_STMT(st_set_status,
        "UPDATE tenants t SET status = $3, suspended_at = CASE WHEN $3 = 'suspended' THEN now() END, "
        "  version = t.version + 1, updated_at = now() "
        "WHERE t.id = $1 AND t.status = $2 AND ($4::bigint IS NULL OR t.version = $4) "
        "RETURNING tenant_json(t), t.version");
DB_STMT(st_state, "SELECT status, version FROM tenants WHERE id = $1");
DB_STMT(st_lock_for_delete,
        "SELECT name, last_export_at IS NOT NULL, version FROM tenants WHERE id = $1 FOR UPDATE");
DB_STMT(st_delete_all, "SELECT tenant_delete_all($1)");
DB_STMT(st_usage,
        "SELECT json_build_object('tenant_id', t.id, 'from', $2::date, 'to', $3::date, "
        "  'days', (SELECT json_agg(json_build_object('date', d.day, "
        "      'requests', coalesce((SELECT json_object_agg(u.route_group, u.n ORDER BY u.route_group) "
        "        FROM tenant_usage_daily u WHERE u.tenant_id = t.id AND u.day = d.day AND u.metric = 'requests'), '{}'), "
        "      'requests_total', (SELECT coalesce(sum(u.n), 0) FROM tenant_usage_daily u "
        "        WHERE u.tenant_id = t.id AND u.day = d.day AND u.metric = 'requests'), "
        "      'webhook_attempts', (SELECT coalesce(sum(u.n), 0) FROM tenant_usage_daily u "
        "        WHERE u.tenant_id = t.id AND u.day = d.day AND u.metric = 'webhook_attempts'), "
        "      'webhook_failures', (SELECT coalesce(sum(u.n), 0) FROM tenant_usage_daily u "
        "        WHERE u.tenant_id = t.id AND u.day = d.day AND u.metric = 'webhook_failures')) ORDER BY d.day) "
        "    FROM (SELECT g::date AS day FROM generate_series($2::date, $3::date, interval '1 day') g) d), "
        "  'rows', (SELECT json_object_agg(r.resource, r.n ORDER BY r.resource) FROM tenant_rows(t.id) r), "
        "  'rows_total', (SELECT sum(r.n) FROM tenant_rows(t.id) r)) "
        "FROM tenants t WHERE t.id = $1");

/* GET /v1/tenants: $6 status (server/edge/list.h; $1 is "" and $5 NULL for an operator key). */
LIST_SPEC(tenant_list,
          "SELECT tenant_json(t), t.created_at, t.id FROM tenants t "
          "WHERE $1::text = '' AND $5::uuid IS NULL AND ($6::text IS NULL OR t.status = $6)",
          "t.created_at, t.id", {"status", LQ_ENUM, STATUSES});

/* After a change of a tenant's status or limits: this instance forgets its keys at once (the
 * others hear it through NOTIFY allied_key_changes, migration 0017). */
static void forget_tenant_keys(struct request *rq) {
    auth_cache_forget_tenant(rq->after_commit_arg);
}

static void forget_after_commit(struct request *rq, const char *tenant) {
    snprintf(rq->after_commit_arg, sizeof rq->after_commit_arg, "%s", tenant);
    rq->after_commit = forget_tenant_keys;
}

void api_tenants_create(struct request *rq) {
    if (tenant_valid_or_reply(rq, false)) return;
    char id[37], key_id[37], key[KEY_LEN + 1], prefix[KEY_PREFIX_LEN + 1], hash[65];
    uuid_new(id);
    const char *p[] = {id, rq->body};
    PGresult *r = db_exec(rq, &st_insert, 2, p);
    if (!r) return;
    json_error_t err;
    json_t *o = json_loads(PQgetvalue(r, 0, 0), 0, &err);
    PQclear(r);
    uuid_new(key_id);
    auth_key_generate(key, prefix, hash);
    const char *kp[] = {id, key_id, prefix, hash};
    PGresult *k = db_exec(rq, &st_first_key, 4, kp);
    if (!k) {
        json_decref(o);
        return;
    }
    json_t *ko = json_loads(PQgetvalue(k, 0, 0), 0, &err);
    PQclear(k);
    json_object_set_new(ko, "key", json_string(key)); /* shown once: only its hash is stored */
    json_object_set_new(o, "api_key", ko);
    char loc[64];
    snprintf(loc, sizeof loc, "/v1/tenants/%s", id);
    reply_json(rq, 201, o);
    reply_etag(rq, 1);
    reply_header(rq, "Location", loc);
}

void api_tenants_list(struct request *rq) {
    list_reply(rq, &tenant_list);
}

void api_tenants_get(struct request *rq) {
    reply_resource_by_id(rq, &st_get, "tenant");
}

void api_tenants_update(struct request *rq) {
    char version[24];
    const char *id = path_uuid_or_reply(rq, 0, "id");
    if (!id || if_match_or_reply(rq, version)) return;
    if (tenant_valid_or_reply(rq, true)) return;
    if (json_object_size(rq->json) == 0) {
        reply_field_error(rq, "body", "names no field to change");
        return;
    }
    const char *p[] = {id, *version ? version : NULL, rq->body};
    PGresult *r = db_exec(rq, &st_update, 3, p);
    if (!r) return;
    if (PQntuples(r) == 0) {
        const char *vp[] = {id};
        reply_missing_or_stale(rq, &st_version, 1, vp, "tenant", id);
    } else {
        reply_resource(rq, 200, r);
        forget_after_commit(rq, id);
    }
    PQclear(r);
}

/* suspend (from active) or resume (from suspended); the other state is 409 invalid-state. */
static void set_status(struct request *rq, const char *from, const char *to) {
    char version[24];
    const char *id = path_uuid_or_reply(rq, 0, "id");
    if (!id || if_match_or_reply(rq, version)) return;
    if (rq->json && json_fields_or_reply(rq, rq->json, NULL, 0, true)) return; /* an empty object only */
    const char *p[] = {id, from, to, *version ? version : NULL};
    PGresult *r = db_exec(rq, &st_set_status, 4, p);
    if (!r) return;
    if (PQntuples(r) == 1) {
        reply_resource(rq, 200, r);
        forget_after_commit(rq, id);
        PQclear(r);
        return;
    }
    PQclear(r);
    const char *ip[] = {id};
    PGresult *s = db_exec(rq, &st_state, 1, ip);
    if (!s) return;
    if (PQntuples(s) == 0) {
        reply_not_found(rq, "tenant", id);
    } else if (strcmp(PQgetvalue(s, 0, 0), from) != 0) {
        reply_problem(rq, P_INVALID_STATE, "the tenant is already %s", PQgetvalue(s, 0, 0));
    } else {
        reply_stale(rq, "tenant", PQgetvalue(s, 0, 1));
    }
    PQclear(s);
}

void api_tenants_suspend(struct request *rq) {
    set_status(rq, "active", "suspended");
}

void api_tenants_resume(struct request *rq) {
    set_status(rq, "suspended", "active");
}

void api_tenants_delete(struct request *rq) {
    char version[24];
    const char *id = path_uuid_or_reply(rq, 0, "id");
    if (!id || if_match_or_reply(rq, version)) return;
    if (json_fields_or_reply(rq, rq->json, DELETE_FIELDS, 1, false)) return;
    const char *confirm = json_string_value(json_object_get(rq->json, "confirm"));
    const char *p[] = {id};
    PGresult *r = db_exec(rq, &st_lock_for_delete, 1, p);
    if (!r) return;
    if (PQntuples(r) == 0) {
        reply_not_found(rq, "tenant", id);
    } else if (!version_ok_or_reply(rq, "tenant", version, PQgetvalue(r, 0, 2))) {
        /* 412 */
    } else if (strcmp(confirm, PQgetvalue(r, 0, 0)) != 0) {
        reply_field_error(rq, "confirm", "must be the tenant's name, exactly");
    } else if (PQgetvalue(r, 0, 1)[0] != 't') {
        reply_problem(rq, P_EXPORT_REQUIRED,
                      "this tenant's data was never exported; export it (GET /v1/export with its admin key) "
                      "before deleting it");
    } else {
        PGresult *d = db_exec(rq, &st_delete_all, 1, p);
        if (d) {
            reply_no_content(rq);
            forget_after_commit(rq, id);
        }
        PQclear(d);
    }
    PQclear(r);
}

/* ?from=&to= (YYYY-MM-DD, UTC days, both included): default the last 30 days up to today. */
#define USAGE_MAX_DAYS 366
/* A UTC day as time_t, and back: `days` after the day `ymd` into `out` (11 bytes). */
static time_t day_of(const char *ymd) {
    struct tm t = {0};
    t.tm_year = atoi(ymd) - 1900;
    t.tm_mon = atoi(ymd + 5) - 1;
    t.tm_mday = atoi(ymd + 8);
    return timegm(&t);
}

static void day_text(time_t day, char out[11]) {
    struct tm tm;
    gmtime_r(&day, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

/* Reads ?from=&to= into from/to (defaults: the 30 days up to `to`, which defaults to today).
 * 0, or -1 after a 400 naming the parameter. */
static int usage_period_or_reply(struct request *rq, char from[11], char to[11]) {
    const char *qf, *qt;
    if (query_date_or_reply(rq, "from", &qf) || query_date_or_reply(rq, "to", &qt)) return -1;
    if (qt)
        snprintf(to, 11, "%s", qt);
    else
        day_text(time(NULL), to);
    if (qf)
        snprintf(from, 11, "%s", qf);
    else
        day_text(day_of(to) - 29 * 86400, from);
    if (strcmp(from, to) > 0) {
        reply_field_error(rq, "from", "must not be after to");
        return -1;
    }
    if ((day_of(to) - day_of(from)) / 86400 + 1 > USAGE_MAX_DAYS) {
        reply_field_error(rq, "to", "the period may span at most 366 days");
        return -1;
    }
    return 0;
}

void api_tenants_usage(struct request *rq) {
    static const char *const allowed[] = {"from", "to", NULL};
    char from[11], to[11];
    const char *id = path_uuid_or_reply(rq, 0, "id");
    if (!id || query_known_or_reply(rq, allowed) != JIN_OK || usage_period_or_reply(rq, from, to)) return;
    const char *p[] = {id, from, to};
    PGresult *r = found_or_reply(rq, &st_usage, 3, p, "tenant", id);
    if (!r) return;
    reply_json_text(rq, 200, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
    PQclear(r);
}
