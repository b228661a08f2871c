/* PostgreSQL access: connections with lazily prepared statements, error classes, helpers. */
#ifndef ALLIED_DB_H
#define ALLIED_DB_H
#include "server/edge/request.h"
#include <stdatomic.h>
#include <stdbool.h>

#define DB_MAX_STMTS 320

/* A named SQL statement, prepared on each connection the first time it is used there. */
struct db_stmt {
    const char *sql;
    atomic_int id; /* 1-based, assigned on first use */
};
enum { PIPE_OFF, PIPE_OPEN, PIPE_SYNC_PENDING };
#define DB_STMT(var, text) static struct db_stmt var = {.sql = text}

/* One libpq connection and what has been prepared on it. Used by one thread at a time. */
struct db_conn {
    PGconn *pg;
    unsigned char prepared[DB_MAX_STMTS + 1];
    int pipe; /* PIPE_OFF, PIPE_OPEN (a read's implicit transaction), PIPE_SYNC_PENDING */
    enum db_fail fail; /* what the last db_try_conn failure was (DBF_NONE after a success) */
};

/* Opens a connection to cfg.database_url; if `app_role`, switches to cfg.db_role.
 * Returns NULL and fills `err` on failure. Free with db_close(). */
struct db_conn *db_open(bool app_role, char *err, size_t errlen);
void db_close(struct db_conn *c);
/* True if the connection looks usable. */
bool db_ok(struct db_conn *c);

/* Runs `st` with text parameters (NULL = SQL NULL) on the request's connection.
 * Returns the result (caller PQclear()s) or NULL with rq->db_fail and rq->sqlstate set. */
PGresult *db_exec(struct request *rq, struct db_stmt *st, int n, const char *const *vals);

/* Statements queued to go out with the request's next db_exec in one pipeline (one round trip):
 * BEGIN, the tenant setting, a time budget. Each takes at most one text parameter (`arg`, which
 * must stay valid until sent). A request whose prologue was never sent has nothing to roll back. */
void db_prologue(struct request *rq, struct db_stmt *st, const char *arg);
bool db_prologue_pending(struct request *rq);
void db_prologue_drop(struct request *rq);

/* Holds a write back until the request commits, to go out in the COMMIT's pipeline (no round
 * trip of its own), after every other statement: for a statement whose result nobody reads and
 * that takes a hot lock, such as the feed append (the tenant's counter row is then locked only
 * for the commit's round trip). The parameters are copied. Deferred statements keep their order;
 * past DB_MAX_DEFERRED (or for a read, or without memory) they and this one are sent now. Its
 * failure is the commit's, answered by the runner. 0, or -1 when sending now failed. */
int db_defer(struct request *rq, struct db_stmt *st, int n, const char *const *vals);
bool db_deferred_pending(struct request *rq);
/* Moves the deferred statements into the prologue (they go with the next statement: COMMIT). */
void db_deferred_into_prologue(struct request *rq);
/* Forgets the deferred statements (after the commit, or when the attempt rolls back). */
void db_deferred_free(struct request *rq);

/* db_exec for a handler's last statement. In a read it goes out with the sync that ends the read's
 * implicit transaction, in one flush: PostgreSQL then answers the statement and the sync in one
 * wake-up instead of two, and the worker sends once. A statement after it in the same read would
 * run outside the read's transaction (without its tenant): refused as a bug. In a write it is db_exec. */
PGresult *db_exec_final(struct request *rq, struct db_stmt *st, int n, const char *const *vals);

/* Reads (rq->read_txn) run as one implicit transaction in an open libpq pipeline: no BEGIN and no
 * COMMIT, the tenant set transaction-locally by the first statements, each statement one round
 * trip (the first one together with the prologue). db_end_read ends it with a sync whose result
 * is read with the connection's next statements, so the client does not wait for it. */
void db_end_read(struct request *rq);
/* Finishes whatever pipeline the connection still has open (a pending sync included); false if
 * the connection failed. Call before using the connection outside db_exec. */
bool db_settle(struct db_conn *c);

/* Same on a bare connection (CLI, migrations). On failure prints the error to stderr. */
PGresult *db_exec_conn(struct db_conn *c, struct db_stmt *st, int n, const char *const *vals);

/* Same, for background loops that log on their own terms (once per outage): on failure returns
 * NULL with the first line of the error in `err` and its class in c->fail, and logs nothing. */
PGresult *db_try_conn(struct db_conn *c, struct db_stmt *st, int n, const char *const *vals, char *err,
                      size_t errlen);

/* Replies for a failed db_exec (503, 400, 409, 500). A retryable failure replies 503 too,
 * but the transaction runner sees rq->db_fail == DBF_RETRY first and retries instead. */
void db_reply_failure(struct request *rq);

/* True if the last failure was a violation of constraint `name`. */
bool db_violated(struct request *rq, const char *name);

/* Counters for /metrics. */
extern atomic_long db_errors_total;
/* Requests answered 503 because a statement or a lock wait hit its time limit (db_reply_failure). */
extern atomic_long db_statement_timeouts_total, db_lock_timeouts_total;
extern atomic_long db_statements_total;  /* statements sent */
extern atomic_long db_round_trips_total; /* waits for PostgreSQL (a pipeline of statements is one) */
#endif
