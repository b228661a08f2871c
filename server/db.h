/* PostgreSQL access: connections with lazily prepared statements, error classes, helpers. */
#ifndef ALLIED_DB_H
#define ALLIED_DB_H
#include "server/request.h"
#include <stdatomic.h>
#include <stdbool.h>

#define DB_MAX_STMTS 256

/* A named SQL statement, prepared on each connection the first time it is used there. */
struct db_stmt {
    const char *sql;
    atomic_int id; /* 1-based, assigned on first use */
};
#define DB_STMT(var, text) static struct db_stmt var = {.sql = text}

/* One libpq connection and what has been prepared on it. Used by one thread at a time. */
struct db_conn {
    PGconn *pg;
    unsigned char prepared[DB_MAX_STMTS + 1];
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

/* Same on a bare connection (CLI, migrations). On failure prints the error to stderr. */
PGresult *db_exec_conn(struct db_conn *c, struct db_stmt *st, int n, const char *const *vals);

/* Replies for a failed db_exec (503, 400, 409, 500). A retryable failure replies 503 too,
 * but the transaction runner sees rq->db_fail == DBF_RETRY first and retries instead. */
void db_reply_failure(struct request *rq);

/* True if the last failure was a violation of constraint `name`. */
bool db_violated(struct request *rq, const char *name);

/* Counters for /metrics. */
extern atomic_long db_errors_total;
extern atomic_long db_statements_total; /* statements executed (one round trip each today) */
#endif
