/* The route table: method + path pattern -> handler, roles and flags. 404/405/Allow come from it. */
#ifndef ALLIED_ROUTER_H
#define ALLIED_ROUTER_H
#include "server/edge/request.h"

typedef void (*handler_fn)(struct request *rq);

#define RF_PUBLIC 1u /* no API key needed */
#define RF_INLINE 2u /* no database: runs on the HTTP thread */
#define RF_BODY 4u   /* takes a JSON object body */
#define RF_QUERY 8u  /* takes query parameters (the handler checks which) */
#define RF_BODY_OPTIONAL 16u /* with RF_BODY: an empty body is allowed (rq->json stays NULL) */
#define RF_REPORT 32u        /* statements may run up to ALLIED_REPORT_TIMEOUT_MS */
/* Runs in one explicit REPEATABLE READ transaction (a GET too): one snapshot, cursors, a write at
 * the end (e.g. the whole-tenant export). */
#define RF_SNAPSHOT 64u
/* Takes a body of any type, up to ALLIED_IMPORT_MAX_BYTES, spooled to an unlinked temporary file
 * (rq->body_fd) instead of memory; the handler checks its Content-Type and reads it (imports). */
#define RF_RAW_BODY 128u
/* Takes a small body of any type (up to ALLIED_MAX_BODY_BYTES, in rq->body) that the handler may
 * ignore: a one-click unsubscribe's form (RFC 8058) posted by a mail provider or a browser. */
#define RF_ANY_BODY 256u

struct route {
    const char *method;
    const char *pattern; /* "/v1/partners/{id}": {name} matches one non-empty segment */
    handler_fn fn;
    unsigned roles; /* roles allowed (ignored with RF_PUBLIC) */
    unsigned flags;
};

enum match { MATCH_OK, MATCH_NO_PATH, MATCH_NO_METHOD };

/* Finds the route for (method, path). On MATCH_OK stores the route and copies path
 * parameters into rq->params. On MATCH_NO_METHOD writes the Allow list into `allow`. */
enum match router_match(const char *method, const char *path, const struct route **out,
                        char **params, int *nparams, char *allow, size_t allowlen);

/* Index of a route in the application's table (for metrics); nroutes for none. */
int route_index(const struct route *r);
#endif
