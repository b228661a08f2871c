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
DB_STMT(st_begin_snapshot, "BEGIN ISOLATION LEVEL REPEATABLE READ");
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
    db_deferred_free(rq); /* held back for a commit that is not coming */
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
            reply_problem(rq, P_FORBIDDEN, "a %s %s may not call %s %s", role_name(rq->auth.role),
                          rq->auth.session ? "session" : "key", r->method, r->pattern);
            return -1;
        }
    }
    if (!first_attempt) return 0; /* the request itself was checked the first time */
    if (!(r->flags & RF_QUERY) && query_known_or_reply(rq, NULL) != JIN_OK) return -1;
    if (r->flags & RF_BODY) {
        bool may_skip = (r->flags & RF_BODY_OPTIONAL) && rq->body_len == 0;
        if (!may_skip && json_body_or_reply(rq) != JIN_OK) return -1;
    } else if (rq->body_len > 0 && !(r->flags & (RF_RAW_BODY | RF_ANY_BODY))) {
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
    if (!audit && !db_deferred_pending(rq) && db_prologue_pending(rq)) { /* nothing ran: no transaction */
        db_prologue_drop(rq);
        return true;
    }
    /* The deferred writes (the feed appends) and the audit row go out together with the COMMIT. */
    db_deferred_into_prologue(rq);
    if (audit) audit_queue(rq, audit);
    bool ok = simple(rq, &st_commit);
    free(audit);
    db_deferred_free(rq);
    return ok;
}

/* How an attempt ended: answered, to be run again, or a database failure for the runner to answer
 * (ATTEMPT_GO_ON: a step passed, the attempt goes on). */
enum attempt { ATTEMPT_DONE, ATTEMPT_RETRY, ATTEMPT_DB_FAILED, ATTEMPT_GO_ON };

/* What a request's transaction needs to know once, before its attempts. */
struct txn {
    bool get, snapshot;
    const char *ikey;    /* Idempotency-Key of a POST, or NULL */
    char report_ms[16];  /* reports may scan a whole tenant: their own, larger statement budget */
};

static bool retryable(struct request *rq, int attempt) {
    return rq->db_fail == DBF_RETRY && attempt < TXN_ATTEMPTS;
}

/* A handler must answer; one that did not is a bug, answered 500. */
static void ensure_answered(struct request *rq) {
    if (rq->status == 0) {
        LOG_BUG("handler for %s %s gave no response", rq->method, rq->route->pattern);
        reply_problem(rq, P_INTERNAL, NULL);
    }
}

/* Queues the attempt's BEGIN (and budget), sent together with its first statement in one round
 * trip. A read needs no BEGIN: it is one implicit transaction in a pipeline (server/data/db.c). */
static void begin(struct request *rq, const struct txn *t) {
    reply_reset(rq);
    rq->db_fail = DBF_NONE;
    rq->after_commit = NULL;
    rq->read_txn = t->get;
    rq->read_closed = false;
    if (!t->get) db_prologue(rq, t->snapshot ? &st_begin_snapshot : &st_begin, NULL);
    if (rq->route->flags & RF_REPORT) db_prologue(rq, &st_report_budget, t->report_ms);
}

/* Claims the Idempotency-Key: ATTEMPT_GO_ON, or how the attempt ends (a replay or a 422 is
 * answered, ATTEMPT_DONE). */
static enum attempt claim_key(struct request *rq, const struct txn *t, int attempt) {
    enum idem c = idempotency_claim(rq, t->ikey);
    if (c != IDEM_REPLAYED && c != IDEM_FAILED) return ATTEMPT_GO_ON;
    rollback(rq);
    if (c == IDEM_REPLAYED) return ATTEMPT_DONE;
    if (retryable(rq, attempt)) return ATTEMPT_RETRY;
    return rq->db_fail == DBF_NONE ? ATTEMPT_DONE : ATTEMPT_DB_FAILED;
}

/* One attempt: admit, claim the key, run the handler, then commit (an answer < 400) or roll back. */
static enum attempt attempt_once(struct request *rq, const struct txn *t, int attempt) {
    begin(rq, t);
    if (admit(rq, attempt == 1) != 0) {
        rollback(rq);
        return retryable(rq, attempt) ? ATTEMPT_RETRY : ATTEMPT_DONE;
    }
    bool ikey = t->ikey && rq->auth.tenant_id[0]; /* operator keys (no tenant): no replay store */
    enum attempt claimed = ikey ? claim_key(rq, t, attempt) : ATTEMPT_GO_ON;
    if (claimed != ATTEMPT_GO_ON) return claimed;
    rq->route->fn(rq);
    if (rq->db_fail == DBF_NONE && rq->status > 0 && rq->status < 400 &&
        (!ikey || idempotency_store(rq, t->ikey) == 0) && commit(rq)) {
        if (rq->after_commit) rq->after_commit(rq);
        return ATTEMPT_DONE;
    }
    rollback(rq);
    if (retryable(rq, attempt)) {
        usleep((useconds_t)(1000 * attempt));
        return ATTEMPT_RETRY;
    }
    /* A statement failed and the handler left the answer to us (handlers only answer the
     * failures they can name, such as a known constraint), or the store or commit failed. */
    if (rq->db_fail != DBF_NONE && rq->status < 400) return ATTEMPT_DB_FAILED;
    ensure_answered(rq);
    return ATTEMPT_DONE;
}

/* Every request that touches the database runs in one READ COMMITTED transaction (for a GET an
 * implicit, read-only one in a pipeline): authentication sets the tenant inside it, so the setting
 * can never outlive the request. Retried on serialization failure or deadlock; committed only when
 * the answer is a success. */
static void run_transaction(struct request *rq) {
    struct txn t = {.snapshot = rq->route->flags & RF_SNAPSHOT};
    t.get = strcmp(rq->method, "GET") == 0 && !t.snapshot;
    t.ikey = strcmp(rq->method, "POST") == 0 ? req_header(rq, "Idempotency-Key") : NULL;
    snprintf(t.report_ms, sizeof t.report_ms, "%d", cfg.report_timeout_ms);
    enum attempt a = ATTEMPT_RETRY;
    for (int attempt = 1; a == ATTEMPT_RETRY; attempt++) a = attempt_once(rq, &t, attempt);
    if (a == ATTEMPT_DB_FAILED) db_reply_failure(rq);
}

void dispatch_run(struct request *rq) {
    if (rq->route->flags & RF_INLINE) { /* public, no database: runs on the HTTP thread */
        if (admit(rq, true) != 0) return;
        rq->route->fn(rq);
        ensure_answered(rq);
        return;
    }
    run_transaction(rq);
    db_deferred_free(rq);
    audit_refused(rq); /* a refused write, after its rollback (successes were logged in their commit) */
    /* Usage per tenant and route group (server/edge/usage.c): counted in memory, flushed apart. */
    if (rq->auth.ok && rq->auth.tenant_id[0] && !rq->auth.tenant_suspended)
        usage_count_request(rq->auth.tenant_id, rq->route->pattern);
}
