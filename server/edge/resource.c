/* The replies every resource shares (see resource.h). */
#include "server/edge/resource.h"
#include "server/edge/params.h"
#include "server/edge/reply.h"
#include <stdlib.h>

void reply_resource(struct request *rq, int status, PGresult *r) {
    reply_json_text(rq, status, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
    reply_etag(rq, atoll(PQgetvalue(r, 0, 1)));
}

void reply_resource_by_id(struct request *rq, struct db_stmt *st, const char *kind) {
    const char *id = path_uuid_or_reply(rq, 0, "id");
    if (!id) return;
    const char *p[] = {rq->auth.tenant_id, id, partner_scope(rq)};
    PGresult *r = db_exec(rq, st, 3, p);
    if (!r) {
        db_reply_failure(rq);
        return;
    }
    if (PQntuples(r) == 0)
        reply_not_found(rq, kind, id);
    else
        reply_resource(rq, 200, r);
    PQclear(r);
}
