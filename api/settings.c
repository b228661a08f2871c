/* /v1/settings: the tenant's own settings — the thresholds of its time-based events
 * (api/time_events.c). Stored on the tenant's row (migration 0023), each NULL = the instance's
 * option; the reply shows those defaults too. A change bumps the tenant's version (the ETag). */
#include "api/api.h"
#include "server/config.h"
#include "server/data/db.h"
#include "server/edge/json_in.h"
#include "server/edge/params.h"
#include "server/edge/reply.h"
#include "server/edge/resource.h"
#include <stdio.h>

static const struct field SETTINGS[] = {
    FIELD_INT("agreement_expiring_days", F_NULLABLE, 0, 3650),
    FIELD_INT("stalled_after_days", F_NULLABLE, 1, 3650),
    FIELD_INT("dormant_after_days", F_NULLABLE, 1, 3650),
    FIELD_READONLY("defaults"), FIELD_READONLY("version"), FIELD_READONLY("updated_at"),
};
#define NSETTINGS (int)(sizeof SETTINGS / sizeof SETTINGS[0])

/* A member present in the body is set (null clears it); an absent one is kept. */
#define SET(col) col " = CASE WHEN b ? '" col "' THEN (b->>'" col "')::int ELSE t." col " END"

DB_STMT(st_get, "SELECT settings_json(t, $2::json), t.version FROM tenants t WHERE t.id = $1");
DB_STMT(st_update,
        "UPDATE tenants t SET " SET("agreement_expiring_days") ", " SET("stalled_after_days") ", "
        "  " SET("dormant_after_days") ", version = t.version + 1, updated_at = now() "
        "FROM (SELECT $3::jsonb AS b) x "
        "WHERE t.id = $1 AND ($2::bigint IS NULL OR t.version = $2) RETURNING settings_json(t, $4::json), t.version");
DB_STMT(st_version, "SELECT version FROM tenants WHERE id = $1");

/* The instance's options, as the `defaults` object. */
static void defaults_json(char *buf, size_t len) {
    snprintf(buf, len, "{\"agreement_expiring_days\":%d,\"stalled_after_days\":%d,\"dormant_after_days\":%d}",
             cfg.expiring_days, cfg.stalled_days, cfg.dormant_days);
}

void api_settings_get(struct request *rq) {
    char defaults[128];
    defaults_json(defaults, sizeof defaults);
    const char *p[] = {rq->auth.tenant_id, defaults};
    PGresult *r = found_or_reply(rq, &st_get, 2, p, "tenant", rq->auth.tenant_id);
    if (!r) return;
    reply_resource(rq, 200, r);
    PQclear(r);
}

void api_settings_update(struct request *rq) {
    char version[24], defaults[128];
    if (if_match_or_reply(rq, version)) return;
    if (json_fields_or_reply(rq, rq->json, SETTINGS, NSETTINGS, true)) return;
    if (json_object_size(rq->json) == 0) {
        reply_field_error(rq, "body", "names no setting to change");
        return;
    }
    defaults_json(defaults, sizeof defaults);
    const char *p[] = {rq->auth.tenant_id, *version ? version : NULL, rq->body, defaults};
    PGresult *r = db_exec(rq, &st_update, 4, p);
    if (!r) return;
    if (PQntuples(r) == 0) {
        const char *vp[] = {rq->auth.tenant_id};
        reply_missing_or_stale(rq, &st_version, 1, vp, "settings", rq->auth.tenant_id);
    } else {
        reply_resource(rq, 200, r);
    }
    PQclear(r);
}
