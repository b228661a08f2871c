/* Operations endpoints: liveness, readiness (database + schema), Prometheus metrics. */
#include "api/api.h"
#include "server/data/db.h"
#include "server/edge/metrics.h"
#include "server/data/migrate.h"
#include "server/edge/reply.h"
#include <stdlib.h>
#include <string.h>

DB_STMT(st_schema, "SELECT coalesce(max(version), 0) FROM schema_migrations");

void api_healthz(struct request *rq) {
    static const char ok[] = "{\"status\":\"ok\"}";
    reply_json_text(rq, 200, ok, sizeof ok - 1);
}

void api_readyz(struct request *rq) {
    PGresult *r = db_exec(rq, &st_schema, 0, NULL);
    if (!r) {
        if (rq->db_fail == DBF_CONNECTION)
            reply_problem(rq, P_UNAVAILABLE, "the database is unreachable");
        else
            reply_problem(rq, P_UNAVAILABLE, "the schema is not installed; run `allied migrate`");
        return;
    }
    int have = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (have != migrate_latest()) {
        reply_problem(rq, P_UNAVAILABLE, "schema version %d, this build needs %d; run `allied migrate`",
                      have, migrate_latest());
        return;
    }
    reply_json(rq, 200, json_pack("{s:s, s:i}", "status", "ready", "schema_version", have));
}

void api_metrics(struct request *rq) {
    char *text = metrics_render();
    reply_json_text(rq, 200, text, strlen(text));
    rq->content_type = "text/plain; version=0.0.4; charset=utf-8";
    free(text);
}
