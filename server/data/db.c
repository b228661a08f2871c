/* PostgreSQL access: connecting, preparing on first use, and classifying errors once. */
#include "server/data/db.h"
#include "server/config.h"
#include "server/log.h"
#include "server/edge/reply.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

atomic_long db_errors_total;
atomic_long db_statement_timeouts_total, db_lock_timeouts_total;
atomic_long db_statements_total, db_round_trips_total;
static atomic_int next_stmt_id;

/* Request connections get time limits so that one slow statement, one lock held too long or one
 * forgotten transaction cannot hold a pool connection (and every request queued behind it).
 * System connections (CLI, migrations, background work) instead declare that they work across
 * tenants; row-level security lets only them through without a tenant (migration 0009). Both:
 * dates in the API (periods, due dates, "today") are UTC days, whatever the server's zone, and
 * timestamps print as ISO whatever the server's DateStyle (list cursors read them raw). */
static int session_settings(PGconn *pg, bool app_role, char *err, size_t errlen) {
    char stmt[16], lock[16], idle[16];
    snprintf(stmt, sizeof stmt, "%d", cfg.statement_timeout_ms);
    snprintf(lock, sizeof lock, "%d", cfg.lock_timeout_ms);
    snprintf(idle, sizeof idle, "%d", cfg.idle_tx_timeout_ms);
    const char *app[] = {stmt, lock, idle};
    PGresult *r = app_role ? PQexecParams(pg,
                                          "SELECT set_config('TimeZone', 'UTC', false), "
                                          "set_config('DateStyle', 'ISO', false), "
                                          "set_config('statement_timeout', $1, false), "
                                          "set_config('lock_timeout', $2, false), "
                                          "set_config('idle_in_transaction_session_timeout', $3, false)",
                                          3, NULL, app, NULL, NULL, 0)
                           : PQexec(pg, "SELECT set_config('TimeZone', 'UTC', false), "
                                        "set_config('DateStyle', 'ISO', false), "
                                        "set_config('allied.scope', 'all', false)");
    int rc = PQresultStatus(r) == PGRES_TUPLES_OK ? 0 : -1;
    if (rc) snprintf(err, errlen, "cannot configure the session: %s", PQresultErrorMessage(r));
    PQclear(r);
    return rc;
}

/* A connection to cfg.database_url, or NULL with the reason in `err`. */
static PGconn *connect_or_err(char *err, size_t errlen) {
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {cfg.database_url, "3", "allied", NULL};
    if (!cfg.database_url || !*cfg.database_url) {
        snprintf(err, errlen, "DATABASE_URL is not set");
        return NULL;
    }
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(pg) != CONNECTION_OK) {
        snprintf(err, errlen, "%s", PQerrorMessage(pg));
        char *nl = strchr(err, '\n');
        if (nl && nl[1] == '\0') *nl = '\0';
        PQfinish(pg);
        return NULL;
    }
    return pg;
}

/* SET ROLE to the configured cfg.db_role; 0, or -1 with the reason in `err`. */
static int set_role(PGconn *pg, char *err, size_t errlen) {
    /* The role name comes from the operator's config; quote it as an identifier. */
    char *ident = PQescapeIdentifier(pg, cfg.db_role, strlen(cfg.db_role));
    char sql[300];
    snprintf(sql, sizeof sql, "SET ROLE %s", ident ? ident : "\"\"");
    PQfreemem(ident);
    PGresult *r = PQexec(pg, sql);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
    if (rc) snprintf(err, errlen, "cannot SET ROLE %s: %s", cfg.db_role, PQresultErrorMessage(r));
    PQclear(r);
    return rc;
}

struct db_conn *db_open(bool app_role, char *err, size_t errlen) {
    PGconn *pg = connect_or_err(err, errlen);
    if (!pg) return NULL;
    if (session_settings(pg, app_role, err, errlen) != 0 ||
        (app_role && cfg.db_role && *cfg.db_role && set_role(pg, err, errlen) != 0)) {
        PQfinish(pg);
        return NULL;
    }
    struct db_conn *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->pg = pg;
    return c;
}

void db_close(struct db_conn *c) {
    if (!c) return;
    PQfinish(c->pg);
    free(c);
}

bool db_ok(struct db_conn *c) {
    return c && PQstatus(c->pg) == CONNECTION_OK;
}

static int stmt_id(struct db_stmt *st) {
    int id = atomic_load(&st->id);
    if (id) return id;
    int fresh = atomic_fetch_add(&next_stmt_id, 1) + 1;
    if (fresh > DB_MAX_STMTS) abort(); /* raise DB_MAX_STMTS */
    int expected = 0;
    if (atomic_compare_exchange_strong(&st->id, &expected, fresh)) return fresh;
    return expected; /* another thread won; its id stands (ours is simply unused) */
}

/* Prepares if needed and runs; returns the raw result (never NULL). */
static PGresult *run(struct db_conn *c, struct db_stmt *st, int n, const char *const *vals) {
    int id = stmt_id(st);
    char name[16];
    snprintf(name, sizeof name, "s%d", id);
    if (!c->prepared[id]) {
        PGresult *p = PQprepare(c->pg, name, st->sql, 0, NULL);
        if (PQresultStatus(p) != PGRES_COMMAND_OK) return p;
        PQclear(p);
        c->prepared[id] = 1;
    }
    return PQexecPrepared(c->pg, name, n, vals, NULL, NULL, 0);
}

static bool result_ok(PGresult *r) {
    ExecStatusType s = PQresultStatus(r);
    return s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK;
}

static enum db_fail classify(PGconn *pg, PGresult *r, const char *state) {
    if (PQstatus(pg) != CONNECTION_OK || !state || !*state) return DBF_CONNECTION;
    if (!strcmp(state, "40001") || !strcmp(state, "40P01")) return DBF_RETRY;
    /* statement_timeout (57014) and lock_timeout (55P03): the connection itself is fine. */
    if (!strcmp(state, "57014") || !strcmp(state, "55P03")) return DBF_TIMEOUT;
    if (!strncmp(state, "08", 2) || !strncmp(state, "57P", 3)) return DBF_CONNECTION;
    if (!strncmp(state, "23", 2)) return DBF_CONSTRAINT;
    if (!strncmp(state, "22", 2)) return DBF_DATA;
    (void)r;
    return DBF_HARD;
}

/* Leaves pipeline mode; false if the connection is in no state to (it is then closed anyway). */
static bool leave_pipeline(PGconn *pg) {
    for (int tries = 0; !PQexitPipelineMode(pg); tries++) {
        if (tries == 8 || PQstatus(pg) != CONNECTION_OK) return false;
        PGresult *extra;
        while ((extra = PQgetResult(pg))) PQclear(extra);
    }
    return true;
}

/* Reads the result of a sync sent earlier (db_end_read); false if the connection failed. */
static bool read_sync(PGconn *pg) {
    PGresult *r = PQgetResult(pg);
    bool ok = r && PQresultStatus(r) == PGRES_PIPELINE_SYNC;
    PQclear(r);
    return ok && PQstatus(pg) == CONNECTION_OK;
}

bool db_settle(struct db_conn *c) {
    bool ok = true;
    if (c->pipe == PIPE_OPEN) ok = PQpipelineSync(c->pg) == 1;
    if (c->pipe != PIPE_OFF) ok = read_sync(c->pg) && ok;
    if (c->pipe != PIPE_OFF) ok = leave_pipeline(c->pg) && ok;
    c->pipe = PIPE_OFF;
    return ok;
}

void db_end_read(struct request *rq) {
    struct db_conn *c = (struct db_conn *)rq->db;
    rq->nprologue = 0;
    if (c->pipe != PIPE_OPEN) return;
    /* The sync ends the implicit transaction; its result is read with the next request's
     * statements (or by db_settle), so the client does not wait for it. */
    if (PQpipelineSync(c->pg) == 1)
        c->pipe = PIPE_SYNC_PENDING;
    else
        rq->db_fail = DBF_CONNECTION;
}

/* Sends `count` statements in one pipeline and reads their results: one network round trip. With
 * `open` the statements join the connection's open implicit transaction (a read: no BEGIN, no
 * COMMIT; everything up to the next sync is one transaction) and the pipeline stays open;
 * otherwise a sync ends the batch and the connection leaves pipeline mode. A sync still pending
 * from the previous request is read first. Returns the last statement's result, or the first
 * failed one (statements after a failure come back aborted and are ignored). */
static PGresult *pipeline(struct db_conn *c, struct db_stmt **sts, const char *const *const *args,
                          const int *nargs, int count, bool open) {
    PGconn *pg = c->pg;
    bool pending_sync = c->pipe == PIPE_SYNC_PENDING;
    if (c->pipe == PIPE_OFF && !PQenterPipelineMode(pg)) return PQmakeEmptyPGresult(pg, PGRES_FATAL_ERROR);
    c->pipe = PIPE_OPEN;
    bool prepping[DB_MAX_PROLOGUE + 1] = {false};
    char name[DB_MAX_PROLOGUE + 1][16];
    bool sent = true;
    for (int i = 0; i < count && sent; i++) {
        int id = stmt_id(sts[i]);
        snprintf(name[i], sizeof name[i], "s%d", id);
        if (!c->prepared[id]) {
            bool twice = false; /* the same statement twice in one pipeline is prepared once */
            for (int j = 0; j < i; j++) twice |= prepping[j] && sts[j] == sts[i];
            if (!twice) {
                prepping[i] = true;
                sent = PQsendPrepare(pg, name[i], sts[i]->sql, 0, NULL);
            }
        }
        sent = sent && PQsendQueryPrepared(pg, name[i], nargs[i], args[i], NULL, NULL, 0);
    }
    sent = sent && (open ? PQsendFlushRequest(pg) && PQflush(pg) == 0 : PQpipelineSync(pg));
    atomic_fetch_add_explicit(&db_statements_total, count, memory_order_relaxed);
    atomic_fetch_add_explicit(&db_round_trips_total, 1, memory_order_relaxed);
    if (!sent) {
        c->pipe = PIPE_OFF;
        leave_pipeline(pg);
        return PQmakeEmptyPGresult(pg, PGRES_FATAL_ERROR);
    }
    PGresult *out = NULL;
    if (pending_sync && !read_sync(pg)) {
        out = PQmakeEmptyPGresult(pg, PGRES_FATAL_ERROR);
        goto broken;
    }
    for (int i = 0; i < count; i++) {
        for (int part = prepping[i] ? 0 : 1; part < 2; part++) {
            PGresult *r = PQgetResult(pg);
            if (!r) { /* the connection broke mid-pipeline */
                if (!out) out = PQmakeEmptyPGresult(pg, PGRES_FATAL_ERROR);
                goto broken;
            }
            PGresult *extra; /* then the NULL that ends this statement's results */
            while ((extra = PQgetResult(pg))) PQclear(extra);
            ExecStatusType s = PQresultStatus(r);
            bool ok = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
            if (part == 0 && ok) c->prepared[stmt_id(sts[i])] = 1;
            if (!out && (!ok || (part == 1 && i == count - 1))) {
                out = r; /* the first failure, or the last statement's result */
                continue;
            }
            PQclear(r);
        }
    }
    if (open) return out;
    if (!read_sync(pg)) goto broken;
    c->pipe = PIPE_OFF;
    leave_pipeline(pg);
    return out;
broken:
    c->pipe = PIPE_OFF;
    leave_pipeline(pg);
    return out;
}

/* Sends the request's pending prologue (BEGIN or the read's settings, the tenant setting, ...)
 * together with `st`; or `st` alone into the read's open pipeline. A read's `last` statement takes
 * the sync that ends its transaction along. */
static PGresult *run_pipelined(struct db_conn *c, struct request *rq, struct db_stmt *st, int n,
                               const char *const *vals, bool last) {
    struct db_stmt *sts[DB_MAX_PROLOGUE + 1];
    const char *const *args[DB_MAX_PROLOGUE + 1];
    int nargs[DB_MAX_PROLOGUE + 1], count = rq->nprologue + 1;
    for (int i = 0; i < rq->nprologue; i++) {
        sts[i] = rq->prologue[i];
        args[i] = rq->prologue_vals[i];
        nargs[i] = rq->prologue_n[i];
    }
    sts[count - 1] = st;
    args[count - 1] = vals;
    nargs[count - 1] = n;
    rq->nprologue = 0;
    return pipeline(c, sts, args, nargs, count, rq->read_txn && !last);
}

void db_prologue(struct request *rq, struct db_stmt *st, const char *arg) {
    if (rq->nprologue == DB_MAX_PROLOGUE) abort(); /* raise DB_MAX_PROLOGUE */
    int i = rq->nprologue++;
    rq->prologue[i] = st;
    rq->prologue_arg[i] = arg;
    rq->prologue_vals[i] = arg ? &rq->prologue_arg[i] : NULL; /* rq outlives the pipeline */
    rq->prologue_n[i] = arg ? 1 : 0;
}

bool db_deferred_pending(struct request *rq) {
    return rq->ndeferred > 0;
}

void db_deferred_free(struct request *rq) {
    for (int i = 0; i < rq->ndeferred; i++) free(rq->deferred[i].vals);
    rq->ndeferred = 0;
}

void db_deferred_into_prologue(struct request *rq) {
    for (int i = 0; i < rq->ndeferred; i++) {
        if (rq->nprologue == DB_MAX_PROLOGUE) abort(); /* raise DB_MAX_PROLOGUE */
        rq->prologue[rq->nprologue] = rq->deferred[i].st;
        rq->prologue_vals[rq->nprologue] = (const char *const *)rq->deferred[i].vals;
        rq->prologue_n[rq->nprologue++] = rq->deferred[i].n;
    }
}

/* Sends what was deferred, in order, then `st` (when given): for db_defer when it cannot hold. */
static int send_now(struct request *rq, struct db_stmt *st, int n, const char *const *vals) {
    int rc = 0;
    for (int i = 0; i < rq->ndeferred && rc == 0; i++) {
        PGresult *r = db_exec(rq, rq->deferred[i].st, rq->deferred[i].n, (const char *const *)rq->deferred[i].vals);
        rc = r ? 0 : -1;
        PQclear(r);
    }
    db_deferred_free(rq);
    if (rc == 0 && st) {
        PGresult *r = db_exec(rq, st, n, vals);
        rc = r ? 0 : -1;
        PQclear(r);
    }
    return rc;
}

int db_defer(struct request *rq, struct db_stmt *st, int n, const char *const *vals) {
    if (rq->read_txn || rq->ndeferred == DB_MAX_DEFERRED) return send_now(rq, st, n, vals);
    size_t size = (size_t)n * sizeof(char *);
    for (int i = 0; i < n; i++) size += vals[i] ? strlen(vals[i]) + 1 : 0;
    char **copy = malloc(size ? size : 1);
    if (!copy) return send_now(rq, st, n, vals);
    char *o = (char *)(copy + n);
    for (int i = 0; i < n; i++) {
        if (!vals[i]) {
            copy[i] = NULL;
            continue;
        }
        size_t len = strlen(vals[i]) + 1;
        memcpy(o, vals[i], len);
        copy[i] = o;
        o += len;
    }
    rq->deferred[rq->ndeferred++] = (struct db_deferred){st, n, copy};
    return 0;
}

bool db_prologue_pending(struct request *rq) {
    return rq->nprologue > 0;
}

void db_prologue_drop(struct request *rq) {
    rq->nprologue = 0;
}

/* db_exec and db_exec_final (`last`). */
static PGresult *exec_request(struct request *rq, struct db_stmt *st, int n, const char *const *vals, bool last) {
    struct db_conn *c = (struct db_conn *)rq->db;
    PGresult *r;
    if (rq->read_txn && rq->read_closed) {
        LOG_BUG("request %s: a statement after its read's last one (db_exec_final)", rq->request_id);
        rq->db_fail = DBF_HARD;
        return NULL;
    }
    if (rq->nprologue || rq->read_txn) {
        r = run_pipelined(c, rq, st, n, vals, last);
        if (last && rq->read_txn) rq->read_closed = true;
    } else {
        if (c->pipe != PIPE_OFF) db_settle(c); /* the last request's sync, before a plain statement */
        /* Requests' statements only (pipelines count in pipeline()): background work on system
         * connections (db_exec_conn, db_try_conn) is not a request's cost. */
        atomic_fetch_add_explicit(&db_statements_total, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&db_round_trips_total, 1, memory_order_relaxed);
        r = run(c, st, n, vals);
    }
    if (result_ok(r)) {
        rq->db_ok_calls++;
        return r;
    }
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char *cons = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);
    rq->db_fail = classify(c->pg, r, state);
    snprintf(rq->sqlstate, sizeof rq->sqlstate, "%s", state ? state : "");
    snprintf(rq->constraint, sizeof rq->constraint, "%s", cons ? cons : "");
    atomic_fetch_add(&db_errors_total, 1);
    if (rq->db_fail == DBF_HARD)
        LOG_BUG("SQL failed (%s) request_id=%s: %s", rq->sqlstate, rq->request_id,
                PQresultErrorMessage(r));
    else if (rq->db_fail == DBF_TIMEOUT)
        log_msg(LOG_WARN, NULL, "request %s stopped by the %s", rq->request_id, strcmp(rq->sqlstate, "55P03") == 0 ? "lock time limit" : "statement time limit");
    else if (rq->db_fail == DBF_CONNECTION)
        log_msg(LOG_WARN, NULL, "database connection failed: %s", PQerrorMessage(c->pg));
    PQclear(r);
    return NULL;
}

PGresult *db_exec(struct request *rq, struct db_stmt *st, int n, const char *const *vals) {
    return exec_request(rq, st, n, vals, false);
}

PGresult *db_exec_final(struct request *rq, struct db_stmt *st, int n, const char *const *vals) {
    return exec_request(rq, st, n, vals, true);
}

PGresult *db_exec_conn(struct db_conn *c, struct db_stmt *st, int n, const char *const *vals) {
    PGresult *r = run(c, st, n, vals);
    if (result_ok(r)) return r;
    fprintf(stderr, "allied: database error: %s", PQresultErrorMessage(r));
    PQclear(r);
    return NULL;
}

/* What an integrity violation (SQLSTATE class 23) means to a client, without naming the schema. */
static const char *constraint_words(const char *sqlstate) {
    if (!strcmp(sqlstate, "23505")) return "the change conflicts with existing data: a value that must be unique is taken";
    if (!strcmp(sqlstate, "23503"))
        return "the change conflicts with existing data: it refers to a record that does not exist, or the record "
               "is still referred to";
    if (!strcmp(sqlstate, "23514")) return "the change conflicts with existing data: a value is outside its allowed range";
    if (!strcmp(sqlstate, "23502")) return "the change conflicts with existing data: a required value is missing";
    return "the change conflicts with existing data";
}

PGresult *db_try_conn(struct db_conn *c, struct db_stmt *st, int n, const char *const *vals, char *err,
                      size_t errlen) {
    PGresult *r = run(c, st, n, vals);
    c->fail = DBF_NONE;
    if (result_ok(r)) return r;
    c->fail = classify(c->pg, r, PQresultErrorField(r, PG_DIAG_SQLSTATE));
    const char *m = PQresultErrorMessage(r);
    snprintf(err, errlen, "%s", *m ? m : PQerrorMessage(c->pg));
    err[strcspn(err, "\n")] = '\0';
    PQclear(r);
    return NULL;
}

void db_reply_failure(struct request *rq) {
    switch (rq->db_fail) {
    case DBF_CONNECTION:
    case DBF_RETRY:
        reply_problem(rq, P_UNAVAILABLE, "the database is unavailable; retry shortly");
        return;
    case DBF_TIMEOUT:
        atomic_fetch_add(strcmp(rq->sqlstate, "55P03") == 0 ? &db_lock_timeouts_total : &db_statement_timeouts_total, 1);
        reply_problem(rq, P_UNAVAILABLE, "the request took longer than the server allows (%s); retry shortly",
                      strcmp(rq->sqlstate, "55P03") == 0 ? "waiting for a lock" : "statement time limit");
        return;
    case DBF_CONSTRAINT:
        /* Said in the API's words: constraint, table and column names are the schema's, never
         * the client's business (rq->constraint stays for handlers that map a known one). */
        if (strncmp(rq->constraint, "tenant_limit_", 13) == 0) { /* migration 0017: an operator's limit */
            const char *limit = rq->constraint + 13;
            reply_problem_extra(rq, P_TENANT_LIMIT, json_pack("{s:s}", "limit", limit),
                                "this tenant may have no more %s; the operator sets its limits",
                                strcmp(limit, "webhook_endpoints") == 0 ? "webhook endpoints"
                                : strcmp(limit, "rows") == 0           ? "rows (stored records)"
                                                                       : limit);
            return;
        }
        log_msg(LOG_WARN, NULL, "constraint %s violated (%s) request_id=%s", rq->constraint, rq->sqlstate,
                rq->request_id);
        reply_problem(rq, P_CONFLICT, "%s", constraint_words(rq->sqlstate));
        return;
    case DBF_DATA:
        reply_problem(rq, P_VALIDATION, "a value is out of range or malformed");
        return;
    case DBF_NONE:
    case DBF_HARD:
        break;
    }
    reply_problem(rq, P_INTERNAL, "request %s failed; the error was logged", rq->request_id);
}

bool db_violated(struct request *rq, const char *name) {
    return rq->db_fail == DBF_CONSTRAINT && strcmp(rq->constraint, name) == 0;
}
