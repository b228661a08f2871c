/* The request pipeline after routing. Every write runs in one READ COMMITTED transaction that
 * is retried on serialization failure or deadlock; the handler is written as straight-line
 * code and the runner decides commit (status < 400) or rollback. */
#include "server/dispatch.h"
#include "server/auth.h"
#include "server/db.h"
#include "server/idempotency.h"
#include "server/json_in.h"
#include "server/log.h"
#include "server/ratelimit.h"
#include "server/reply.h"
#include "server/router.h"
#include "server/util.h"
#include <string.h>
#include <unistd.h>

#define TXN_ATTEMPTS 8

DB_STMT(st_begin, "BEGIN");
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
    }
    return "unknown";
}

static bool simple(struct request *rq, struct db_stmt *st) {
    PGresult *r = db_exec(rq, st, 0, NULL);
    PQclear(r);
    return r != NULL;
}

static void rollback(struct request *rq) {
    if (!db_ok(rq->db)) return;
    enum db_fail keep = rq->db_fail;
    simple(rq, &st_rollback);
    rq->db_fail = keep;
}

static void run_transaction(struct request *rq) {
    const char *ikey = NULL;
    if (strcmp(rq->method, "POST") == 0) {
        ikey = req_header(rq, "Idempotency-Key");
        if (ikey && !printable_ascii(ikey, 255)) {
            reply_field_error(rq, "Idempotency-Key", "must be 1 to 255 printable ASCII characters");
            return;
        }
    }
    for (int attempt = 1;; attempt++) {
        reply_reset(rq);
        rq->db_fail = DBF_NONE;
        if (!simple(rq, &st_begin)) break;
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
            if ((!ikey || idempotency_store(rq, ikey) == 0) && simple(rq, &st_commit)) return;
        }
        rollback(rq);
        if (rq->db_fail == DBF_RETRY && attempt < TXN_ATTEMPTS) {
            usleep((useconds_t)(1000 * attempt));
            continue;
        }
        if (rq->db_fail != DBF_NONE && rq->status < 400) break; /* store/commit failed */
        if (rq->status == 0) {
            LOG_BUG("handler for %s %s gave no response", rq->method, rq->route->pattern);
            reply_problem(rq, P_INTERNAL, NULL);
        }
        return;
    }
    db_reply_failure(rq);
}

void dispatch_run(struct request *rq) {
    const struct route *r = rq->route;
    if (!(r->flags & RF_PUBLIC)) {
        if (ratelimit_auth_or_reply(rq, auth_or_reply(rq)) != 0) return;
        if (!(r->roles & rq->auth.role)) {
            reply_problem(rq, P_FORBIDDEN, "a %s key may not call %s %s", role_name(rq->auth.role),
                          r->method, r->pattern);
            return;
        }
    }
    if (!(r->flags & RF_QUERY) && query_known_or_reply(rq, NULL) != JIN_OK) return;
    if (r->flags & RF_BODY) {
        bool may_skip = (r->flags & RF_BODY_OPTIONAL) && rq->body_len == 0;
        if (!may_skip && json_body_or_reply(rq) != JIN_OK) return;
    } else if (rq->body_len > 0) {
        reply_problem(rq, P_BAD_REQUEST, "%s %s takes no request body", r->method, r->pattern);
        return;
    }
    if (strcmp(rq->method, "GET") == 0 || (r->flags & RF_INLINE)) {
        r->fn(rq);
        if (rq->status == 0) {
            LOG_BUG("handler for %s %s gave no response", rq->method, r->pattern);
            reply_problem(rq, P_INTERNAL, NULL);
        }
        return;
    }
    run_transaction(rq);
}
