/* /v1/audit-events: the tenant's audit log (written by server/edge/audit.c), for admin keys; and
 * the pruner that removes events older than ALLIED_AUDIT_RETENTION_DAYS in small batches. */
#include "api/api.h"
#include "server/backoff.h"
#include "server/config.h"
#include "server/data/db.h"
#include "server/edge/list.h"
#include "server/edge/reply.h"
#include "server/log.h"
#include "server/util.h"
#include "server/loop.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const METHODS[] = {"POST", "PUT", "PATCH", "DELETE", NULL};
static const char *const CLASSES[] = {"2xx", "3xx", "4xx", "5xx", NULL};

/* Admin keys only, so $5 is always NULL: $6 key_id, $7 method, $8 status, $9 status_class,
 * $10 route, $11 resource_id, $12 since (inclusive), $13 until (exclusive). */
LIST_SPEC(audit_list,
          "SELECT audit_event_json(e), e.created_at, e.id FROM audit_events e "
          "WHERE e.tenant_id = $1 AND $5::uuid IS NULL AND ($6::uuid IS NULL OR e.key_id = $6) "
          "  AND ($7::text IS NULL OR e.method = $7) AND ($8::int IS NULL OR e.status = $8::int) "
          "  AND ($9::text IS NULL OR e.status / 100 = left($9, 1)::int) "
          "  AND ($10::text IS NULL OR e.route = $10) AND ($11::text IS NULL OR e.resource_id = $11) "
          "  AND ($12::timestamptz IS NULL OR e.created_at >= $12) "
          "  AND ($13::timestamptz IS NULL OR e.created_at < $13)",
          "e.created_at, e.id",
          {"key_id", LQ_UUID}, {"method", LQ_ENUM, METHODS}, {"status", LQ_TEXT, NULL, 3},
          {"status_class", LQ_ENUM, CLASSES}, {"route", LQ_TEXT, NULL, 200},
          {"resource_id", LQ_TEXT, NULL, 200}, {"since", LQ_TIMESTAMP}, {"until", LQ_TIMESTAMP});

void api_audit_events_list(struct request *rq) {
    const char *status = req_query(rq, "status");
    if (status && !(strlen(status) == 3 && status[0] >= '1' && status[0] <= '5' && status[1] >= '0' &&
                    status[1] <= '9' && status[2] >= '0' && status[2] <= '9')) {
        reply_field_error(rq, "status", "must be an HTTP status from 100 to 599");
        return;
    }
    list_reply(rq, &audit_list);
}

/* Pruning: a batch at a time (short transactions, no long lock), until nothing is left to prune;
 * then sleep a period. A database outage backs off like every background loop. */
#define PRUNE_BATCH "1000"
DB_STMT(st_prune, "DELETE FROM audit_events WHERE ctid IN (SELECT ctid FROM audit_events "
                  "WHERE created_at < now() - make_interval(days => $1::int) LIMIT " PRUNE_BATCH ")");

static struct loop pruner = LOOP_INIT;

/* Deletes what is past retention; the rows deleted, or -1 after a database failure (`err`). */
static long prune(struct db_conn *c, char *err, size_t errlen) {
    char days[16];
    snprintf(days, sizeof days, "%d", cfg.audit_retention_days);
    const char *p[] = {days};
    long total = 0;
    while (!loop_stopping(&pruner)) {
        PGresult *r = db_try_conn(c, &st_prune, 1, p, err, errlen);
        if (!r) return -1;
        long n = atol(PQcmdTuples(r));
        PQclear(r);
        total += n;
        if (n < atol(PRUNE_BATCH)) break;
    }
    return total;
}

static void *pruner_main(void *arg) {
    (void)arg;
    struct db_conn *c = NULL;
    int failures = 0;
    while (!loop_stopping(&pruner)) {
        char err[512] = "";
        if (!c) c = db_open(false, err, sizeof err); /* a system connection: all tenants */
        long n = c ? prune(c, err, sizeof err) : -1;
        if (n < 0) {
            if (failures == 0) log_msg(LOG_WARN, NULL, "audit pruner: database unavailable: %s", err);
            if (c && !db_ok(c)) {
                db_close(c);
                c = NULL;
            }
            loop_nap(&pruner, backoff_after_failure(&failures));
            continue;
        }
        if (failures) log_msg(LOG_INFO, NULL, "audit pruner: database back");
        failures = 0;
        if (n > 0) log_msg(LOG_INFO, NULL, "audit pruner: removed %ld events older than %d days", n,
                           cfg.audit_retention_days);
        loop_nap(&pruner, cfg.audit_prune_ms);
    }
    if (c) db_close(c);
    return NULL;
}

int audit_pruner_start(void) {
    if (loop_start(&pruner, pruner_main, NULL) == 0) return 0;
    log_msg(LOG_ERROR, NULL, "audit pruner: cannot start its thread");
    return -1;
}

void audit_pruner_stop(void) {
    loop_stop(&pruner);
}
