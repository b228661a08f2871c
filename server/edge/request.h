/* One HTTP request from first byte to completion: owned by server/http.c, freed at completion. */
#ifndef ALLIED_REQUEST_H
#define ALLIED_REQUEST_H
#include "server/edge/problem.h"
#include <jansson.h>
#include <libpq-fe.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UUID_LEN 36
#define MAX_PATH_PARAMS 4
#define MAX_RESP_HEADERS 8
/* Statements a write holds back until its COMMIT (db_defer), and what may go out before one
 * statement: BEGIN, budget, settings (at most 6), the deferred ones and the audit row. */
#define DB_MAX_DEFERRED 10
#define DB_MAX_PROLOGUE (6 + DB_MAX_DEFERRED + 1)

enum role { ROLE_ADMIN = 1, ROLE_STAFF = 2, ROLE_PARTNER = 4, ROLE_READONLY = 8, ROLE_OPERATOR = 16 };
#define ROLES_ANY (ROLE_ADMIN | ROLE_STAFF | ROLE_PARTNER | ROLE_READONLY)
#define ROLES_STAFF (ROLE_ADMIN | ROLE_STAFF)

struct auth {
    bool ok;
    enum role role;
    char key_id[UUID_LEN + 1];
    char tenant_id[UUID_LEN + 1];
    char partner_id[UUID_LEN + 1]; /* "" unless role is partner */
    int64_t valid_until_ms; /* Unix ms after which this identity no longer holds (expiry, rotation); 0 = none */
    /* An operator key (ROLE_OPERATOR, not in ROLES_ANY) has no tenant: tenant_id is "". */
    bool session; /* authenticated by the allied_session cookie: key_id is the session's id */
    bool tenant_suspended; /* the tenant's keys are refused (403 tenant-suspended) */
    long tenant_rate;      /* the tenant's own requests per second, 0 = the instance default */
};

/* Why the last database call failed (set by db_exec when it returns NULL). */
enum db_fail {
    DBF_NONE,
    DBF_RETRY,      /* serialization failure or deadlock: the transaction runner retries */
    DBF_CONNECTION, /* connection lost: 503, the worker reconnects */
    DBF_TIMEOUT,    /* statement or lock time limit hit: 503, the connection stays usable */
    DBF_CONSTRAINT, /* unique/foreign-key/check violation: the handler decides */
    DBF_DATA,       /* invalid input value caught by PostgreSQL: 400 */
    DBF_HARD,       /* anything else: a bug, 500 */
};

/* What the rate limiter (server/ratelimit.c) counted for this request: the RateLimit headers. */
struct rl_seen {
    bool counted;  /* set once: a request run again (worker reconnect) is not counted twice */
    int policies;  /* RL_P_* bits: which policies the headers list */
    long key_r, key_t, tenant_r, tenant_t, budget_r, budget_t; /* remaining, seconds to reset */
    long tenant_q, tenant_w; /* the tenant bucket's policy (its own limit or the default) */
};
enum { RL_P_KEY = 1, RL_P_TENANT = 2, RL_P_BUDGET = 4 };

struct resp_header {
    const char *name; /* static string */
    char *value;      /* owned */
};

struct route;
struct worker;
struct db_conn;
struct db_stmt;

struct request {
    struct MHD_Connection *conn;
    const struct route *route;
    const char *method; /* MHD's string, valid for the request */
    char *url;          /* owned copy of the path */
    char *params[MAX_PATH_PARAMS]; /* path parameters, owned */
    int nparams;
    char request_id[130];
    uint64_t start_ns;
    int state; /* see http.c */
    struct request *next_job; /* worker queue link */
    uint64_t queued_ns;       /* when it was queued for a worker */
    uint64_t lane;            /* fairness lane (server/worker.c) */

    /* body */
    char *body;
    size_t body_len, body_cap;
    bool body_too_large;
    size_t body_dropped; /* bytes of a too-large body read and dropped */
    bool early_reply; /* the answer was decided before the body was read */
    json_t *json;     /* parsed body (object), or NULL */
    int body_fd;      /* RF_RAW_BODY: the body in an unlinked temporary file (0 = none yet), else 0 */

    /* who is calling */
    struct auth auth;
    struct rl_seen rl;
    char key_prefix[16];     /* the Bearer key's prefix, parsed once (auth_request_prefix) */
    signed char key_parsed;  /* 0 not yet, 1 key_prefix holds it, -1 no well-formed key */
    bool auth_guess;         /* a 401 for an unknown session cookie: a failed authentication (ratelimit.c) */
    char set_cookie[160];    /* a rotated session cookie, sent with a success (server/edge/session_auth.c) */

    /* database, while a worker runs the request */
    struct worker *worker;
    struct db_conn *db;
    struct db_stmt *prologue[DB_MAX_PROLOGUE]; /* sent with the next statement (server/db.c) */
    const char *prologue_arg[DB_MAX_PROLOGUE];         /* db_prologue's one parameter, or NULL */
    const char *const *prologue_vals[DB_MAX_PROLOGUE]; /* each one's parameters (a deferred one's too) */
    int prologue_n[DB_MAX_PROLOGUE];
    int nprologue;
    struct db_deferred {
        struct db_stmt *st;
        int n;
        char **vals; /* one block: the pointers, then the strings (server/data/db.c db_defer) */
    } deferred[DB_MAX_DEFERRED];
    int ndeferred;
    bool read_txn; /* a GET: an implicit read-only transaction in a pipeline (server/db.c) */
    bool settle_read; /* a read whose writes must commit before it is answered (a rotated session cookie) */
    bool read_closed; /* the read's transaction ended with its last statement (db_exec_final); reset by begin() */
    enum db_fail db_fail;
    int db_ok_calls; /* statements that succeeded for this request */
    char sqlstate[6];
    char constraint[64];

    /* run once the transaction has committed (e.g. forget a revoked key in this process) */
    void (*after_commit)(struct request *rq);
    char after_commit_arg[UUID_LEN + 1];

    /* the response being built */
    int status;
    char *resp_body;
    size_t resp_len;
    size_t resp_sent; /* body bytes handed to the connection (the access log) */
    const char *content_type;
    int resp_fd;          /* > 0: the body is this file's first resp_len bytes (reply_file), owned */
    struct resp_header headers[MAX_RESP_HEADERS];
    int nheaders;
    char *idem_body; /* owned; if set, stored for Idempotency-Key replays instead of resp_body */
};

/* Current monotonic time in nanoseconds. */
uint64_t now_ns(void);

/* Request header value (case-insensitive name), or NULL. Borrowed from MHD. */
const char *req_header(struct request *rq, const char *name);
/* Request cookie value, or NULL. Borrowed from MHD. */
const char *req_cookie(struct request *rq, const char *name);
/* Query argument value, or NULL. Borrowed from MHD. */
const char *req_query(struct request *rq, const char *name);
#endif
