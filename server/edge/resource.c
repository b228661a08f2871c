/* The replies every resource shares (see resource.h). */
#include "server/edge/resource.h"
#include "server/edge/params.h"
#include "server/edge/reply.h"
#include "server/util.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void reply_resource(struct request *rq, int status, PGresult *r) {
    reply_json_text(rq, status, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
    reply_etag(rq, atoll(PQgetvalue(r, 0, 1)));
}

/* A row or a 404: `r` from the statement, kept (NULL after the 404 or a failure). */
static PGresult *found_in_or_reply(struct request *rq, PGresult *r, const char *kind, const char *id) {
    if (r && PQntuples(r) == 0) {
        PQclear(r);
        reply_not_found(rq, kind, id);
        return NULL;
    }
    return r;
}

PGresult *found_or_reply(struct request *rq, struct db_stmt *st, int n, const char *const *params, const char *kind,
                         const char *id) {
    return found_in_or_reply(rq, db_exec(rq, st, n, params), kind, id);
}

void reply_resource_by_id(struct request *rq, struct db_stmt *st, const char *kind) {
    const char *id = path_uuid_or_reply(rq, 0, "id");
    if (!id) return;
    const char *p[] = {rq->auth.tenant_id, id, partner_scope(rq)};
    PGresult *r = found_in_or_reply(rq, db_exec_final(rq, st, 3, p), kind, id); /* its only statement */
    if (r) reply_resource(rq, 200, r);
    PQclear(r);
}

const char *path_id_if_match_or_reply(struct request *rq, char version[24]) {
    const char *id = path_uuid_or_reply(rq, 0, "id");
    return id && if_match_or_reply(rq, version) == 0 ? id : NULL;
}

static void location_v(struct request *rq, const char *fmt, va_list ap) {
    char loc[256];
    vsnprintf(loc, sizeof loc, fmt, ap);
    reply_header(rq, "Location", loc);
}

void reply_location(struct request *rq, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    location_v(rq, fmt, ap);
    va_end(ap);
}

void reply_created(struct request *rq, PGresult *r, const char *fmt, ...) {
    reply_resource(rq, 201, r);
    va_list ap;
    va_start(ap, fmt);
    location_v(rq, fmt, ap);
    va_end(ap);
}

void reply_stale(struct request *rq, const char *kind, const char *current) {
    reply_problem(rq, P_PRECONDITION_FAILED, "the %s is at version %s", kind, current);
    reply_etag(rq, atoll(current));
}

bool version_ok_or_reply(struct request *rq, const char *kind, const char *wanted, const char *current) {
    if (!*wanted || !strcmp(wanted, current)) return true;
    reply_stale(rq, kind, current);
    return false;
}

void reply_missing_or_stale(struct request *rq, struct db_stmt *st, int n, const char *const *params,
                            const char *kind, const char *id) {
    PGresult *r = db_exec(rq, st, n, params);
    if (!r) return;
    if (PQntuples(r) == 0)
        reply_not_found(rq, kind, id);
    else
        reply_stale(rq, kind, PQgetvalue(r, 0, 0));
    PQclear(r);
}

const char *path_external_id_or_reply(struct request *rq) {
    const char *ext = rq->params[0];
    if (strlen(ext) > 200 || !printable_ascii(ext, 200)) {
        reply_field_error(rq, "external_id", "must be 1 to 200 printable characters");
        return NULL;
    }
    return ext;
}

bool body_external_id_ok_or_reply(struct request *rq, const char *ext) {
    json_t *body_ext = json_object_get(rq->json, "external_id");
    if (body_ext && (!json_is_string(body_ext) || strcmp(json_string_value(body_ext), ext) != 0)) {
        reply_field_error(rq, "external_id", "must match the external_id in the path (or be left out)");
        return false;
    }
    return true;
}
