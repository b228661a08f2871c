/* The request pipeline after routing. Every database request runs in one READ COMMITTED
 * transaction that is retried on serialization failure or deadlock; the handler is written as
 * straight-line code and the runner decides commit (status < 400) or rollback. The runner alone
 * answers a database failure: a handler whose statement failed just returns. */
#include "server/edge/dispatch.h"
#include "server/edge/audit.h"
#include "server/edge/auth.h"
#include "server/config.h"
#include "server/data/db.h"
#include "server/data/idempotency.h"
#include "server/edge/json_in.h"
#include "server/log.h"
#include "server/edge/ratelimit.h"
#include "server/edge/reply.h"
#include "server/edge/router.h"
#include "server/edge/usage.h"
#include "server/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TXN_ATTEMPTS 8

DB_STMT(st_begin, "BEGIN");
DB_STMT(st_report_budget, "SELECT set_config('statement_timeout', $1, true)");
DB_STMT(st_commit, "COMMIT");
DB_STMT(st_rollback, "ROLLBACK");

const char *role_name(enum role r) {
    switch (r) {
    case ROLE_ADMIN:
        return "admin";
    case ROLE_STAFF:
        return "staff";
    case ROLE_PARTNER:
        return "partner";
    case ROLE_READONLY:
        return "readonly";
    case ROLE_OPERATOR:
        return "operator";
    }
    return "unknown";
}

static bool simple(struct request *rq, struct db_stmt *st) {
    PGresult *r = db_exec(rq, st, 0, NULL);
    PQclear(r);
    return r != NULL;
}

static void rollback(struct request *rq) {
    if (rq->read_txn) { /* a read: ending its implicit transaction undoes nothing, and needs no wait */
        db_end_read(rq);
        return;
    }
    if (db_prologue_pending(rq)) { /* BEGIN was never sent: nothing to roll back */
        db_prologue_drop(rq);
        return;
    }
    if (!db_ok(rq->db)) return;
    enum db_fail keep = rq->db_fail;
    simple(rq, &st_rollback);
    rq->db_fail = keep;
}

/* Everything a request asks before its handler runs: the caller (inside the transaction, which
 * scopes the tenant setting), the role, the query and the body. 0, or -1 after a reply. */
static int admit(struct request *rq, bool first_attempt) {
    const struct route *r = rq->route;
    if (!(r->flags & RF_PUBLIC)) {
        int rc = auth_or_reply(rq);
        if (first_attempt) rc = ratelimit_auth_or_reply(rq, rc); /* a retry is not a new request */
        if (rc != 0) return -1;
        if (!(r->roles & rq->auth.role)) {
            reply_problem(rq, P_FORBIDDEN, "a %s key may not call %s %s", role_name(rq->auth.role),
                          r->method, r->pattern);
            return -1;
        }
    }
    if (!first_attempt) return 0; /* the request itself was checked the first time */
    if (!(r->flags & RF_QUERY) && query_known_or_reply(rq, NULL) != JIN_OK) return -1;
    if (r->flags & RF_BODY) {
        bool may_skip = (r->flags & RF_BODY_OPTIONAL) && rq->body_len == 0;
        if (!may_skip && json_body_or_reply(rq) != JIN_OK) return -1;
    } else if (rq->body_len > 0) {
        reply_problem(rq, P_BAD_REQUEST, "%s %s takes no request body", r->method, r->pattern);
        return -1;
    }
    if (strcmp(rq->method, "POST") == 0) {
        const char *ikey = req_header(rq, "Idempotency-Key");
        if (ikey && !printable_ascii(ikey, 255)) {
            reply_field_error(rq, "Idempotency-Key", "must be 1 to 255 printable ASCII characters");
            return -1;
        }
    }
    return 0;
}

/* Ends the transaction of a successful request: a read's ends with a sync nobody waits for. */
static bool commit(struct request *rq) {
    if (rq->read_txn) {
        db_end_read(rq);
        return rq->db_fail == DBF_NONE;
    }
    char *audit = audit_row(rq);
    if (audit) { /* the audit row commits with the change, sent together with the COMMIT */
        audit_queue(rq, audit);
        bool ok = simple(rq, &st_commit);
        free(audit);
        return ok;
    }
    if (db_prologue_pending(rq)) { /* no statement ran: there is no transaction */
        db_prologue_drop(rq);
        return true;
    }
    return simple(rq, &st_commit);
}

/* Every request that touches the database runs in one READ COMMITTED transaction (for a GET an
 * implicit, read-only one in a pipeline): authentication sets the tenant inside it, so the setting
 * can never outlive the request. Retried on serialization failure or deadlock; committed only when
 * the answer is a success. */
static void run_transaction(struct request *rq) {
    bool get = strcmp(rq->method, "GET") == 0;
    const char *ikey = strcmp(rq->method, "POST") == 0 ? req_header(rq, "Idempotency-Key") : NULL;
    char report_ms[16]; /* reports may scan a whole tenant: their own, larger statement budget */
    snprintf(report_ms, sizeof report_ms, "%d", cfg.report_timeout_ms);
    for (int attempt = 1;; attempt++) {
        reply_reset(rq);
        rq->db_fail = DBF_NONE;
        rq->after_commit = NULL;
        /* Sent together with the request's first statement, in one round trip. A read needs no
         * BEGIN: it is one implicit transaction in a pipeline (server/db.c). */
        rq->read_txn = get;
        if (!get) db_prologue(rq, &st_begin, NULL);
        if (rq->route->flags & RF_REPORT) db_prologue(rq, &st_report_budget, report_ms);
        if (admit(rq, attempt == 1) != 0) {
            rollback(rq);
            if (rq->db_fail == DBF_RETRY && attempt < TXN_ATTEMPTS) continue;
            return;
        }
        if (ikey && !rq->auth.tenant_id[0]) ikey = NULL; /* operator keys: no replay store */
        if (ikey) {
            enum idem c = idempotency_claim(rq, ikey);
            if (c == IDEM_REPLAYED) {
                rollback(rq);
                return;
            }
            if (c == IDEM_FAILED) {
                rollback(rq);
                if (rq->db_fail == DBF_RETRY && attempt < TXN_ATTEMPTS) continue;
                if (rq->db_fail == DBF_NONE) return; /* replied (422) */
                break;
            }
        }
        rq->route->fn(rq);
        if (rq->db_fail == DBF_NONE && rq->status > 0 && rq->status < 400) {
            if ((!ikey || idempotency_store(rq, ikey) == 0) && commit(rq)) {
                if (rq->after_commit) rq->after_commit(rq);
                return;
            }
        }
        rollback(rq);
        if (rq->db_fail == DBF_RETRY && attempt < TXN_ATTEMPTS) {
            usleep((useconds_t)(1000 * attempt));
            continue;
        }
        /* A statement failed and the handler left the answer to us (handlers only answer the
         * failures they can name, such as a known constraint), or the store or commit failed. */
        if (rq->db_fail != DBF_NONE && rq->status < 400) break;
        if (rq->status == 0) {
            LOG_BUG("handler for %s %s gave no response", rq->method, rq->route->pattern);
            reply_problem(rq, P_INTERNAL, NULL);
        }
        return;
    }
    db_reply_failure(rq);
}

void dispatch_run(struct request *rq) {
    if (rq->route->flags & RF_INLINE) { /* public, no database: runs on the HTTP thread */
        if (admit(rq, true) != 0) return;
        rq->route->fn(rq);
        if (rq->status == 0) {
            LOG_BUG("handler for %s %s gave no response", rq->method, rq->route->pattern);
            reply_problem(rq, P_INTERNAL, NULL);
        }
        return;
    }
    run_transaction(rq);
    audit_refused(rq); /* a refused write, after its rollback (successes were logged in their commit) */
    /* Usage per tenant and route group (server/edge/usage.c): counted in memory, flushed apart. */
    if (rq->auth.ok && rq->auth.tenant_id[0] && !rq->auth.tenant_suspended)
        usage_count_request(rq->auth.tenant_id, rq->route->pattern);
}
