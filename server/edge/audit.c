/* The audit log's writer (see audit.h). */
#include "server/edge/audit.h"
#include "server/data/db.h"
#include "server/edge/router.h"
#include "server/log.h"
#include "server/text.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* The key's name and role are read from api_keys as it is at the time (the request knows only the id);
 * a browser session (issue 15) is named "session of <email>" with its role. */
DB_STMT(st_insert, "INSERT INTO audit_events (tenant_id, key_id, key_name, key_role, client_address, method, "
                   "route, resource_id, status, request_id) "
                   "SELECT a.tenant_id, a.key_id, coalesce(k.name, 'session of ' || s.email), coalesce(k.role, s.role, 'unknown'), "
                   "a.client_address, a.method, a.route, a.resource_id, a.status, a.request_id "
                   "FROM json_populate_record(NULL::audit_events, $1::json) a "
                   "LEFT JOIN api_keys k ON k.tenant_id = a.tenant_id AND k.id = a.key_id "
                   "LEFT JOIN portal_sessions s ON s.tenant_id = a.tenant_id AND s.id = a.key_id");
DB_STMT(st_set_tenant, "SELECT set_config('allied.tenant_id', $1, true)");

static bool state_changing(const char *m) {
    return !strcmp(m, "POST") || !strcmp(m, "PUT") || !strcmp(m, "PATCH") || !strcmp(m, "DELETE");
}

static void peer_address(struct request *rq, char *out, size_t n) {
    snprintf(out, n, "unknown");
    const union MHD_ConnectionInfo *ci =
        rq->conn ? MHD_get_connection_info(rq->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS) : NULL;
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    if (!sa) return;
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, (socklen_t)n);
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a))
            inet_ntop(AF_INET, &a->s6_addr[12], out, (socklen_t)n);
        else
            inet_ntop(AF_INET6, a, out, (socklen_t)n);
    }
}

/* The resource the request acted on: the created one (the last segment of Location), else the
 * first path parameter; NULL for a route without either. */
static const char *resource_id(struct request *rq) {
    for (int i = 0; i < rq->nheaders; i++)
        if (strcasecmp(rq->headers[i].name, "Location") == 0) {
            const char *slash = strrchr(rq->headers[i].value, '/');
            return slash ? slash + 1 : rq->headers[i].value;
        }
    return rq->nparams > 0 ? rq->params[0] : NULL;
}

/* Built by hand rather than with jansson: this runs on every write, and json_pack + json_dumps
 * were about 40,000 instructions of a partner POST's 210,000 (callgrind, make bench). */
char *audit_row(struct request *rq) {
    if (!rq->route || !state_changing(rq->method) || !rq->auth.ok || !rq->auth.tenant_id[0]) return NULL;
    char addr[64];
    peer_address(rq, addr, sizeof addr);
    /* At most 200 bytes of the resource id; null if that is not UTF-8 (a cut character, or a path
     * parameter that never was). */
    char res[201];
    const char *rid = resource_id(rq);
    if (rid) {
        size_t n = strnlen(rid, 200);
        memcpy(res, rid, n);
        res[n] = '\0';
        if (utf8_scrub(res) == 0) rid = res;
        else rid = NULL;
    }
    const char *text[] = {rq->auth.tenant_id, rq->auth.key_id, addr, rq->method, rq->route->pattern, rid,
                          rq->request_id};
    size_t cap = 160;
    for (size_t i = 0; i < sizeof text / sizeof text[0]; i++) cap += text[i] ? 6 * strlen(text[i]) + 2 : 4;
    char *row = malloc(cap), *w = row;
    if (!row) return NULL;
    static const char *const names[] = {"{\"tenant_id\":", ",\"key_id\":", ",\"client_address\":", ",\"method\":",
                                        ",\"route\":", ",\"resource_id\":", ",\"request_id\":"};
    for (size_t i = 0; i < sizeof text / sizeof text[0]; i++) {
        w = stpcpy(w, names[i]);
        w = json_put_string(w, text[i]);
    }
    sprintf(w, ",\"status\":%d}", rq->status);
    return row;
}

void audit_queue(struct request *rq, const char *row) {
    db_prologue(rq, &st_insert, row);
}

void audit_refused(struct request *rq) {
    /* A rate-limited flood (429) is not turned into a flood of writes: the limiter counts it. */
    if (rq->status < 400 || rq->status > 499 || rq->status == 429 || !rq->db || !db_ok(rq->db)) return;
    if (rq->db_fail == DBF_CONNECTION || rq->db_fail == DBF_TIMEOUT) return;
    char *row = audit_row(rq);
    if (!row) return;
    enum db_fail keep = rq->db_fail;
    char sqlstate[sizeof rq->sqlstate], constraint[sizeof rq->constraint];
    memcpy(sqlstate, rq->sqlstate, sizeof sqlstate);
    memcpy(constraint, rq->constraint, sizeof constraint);
    bool read = rq->read_txn;
    rq->read_txn = false;
    rq->db_fail = DBF_NONE;
    db_prologue_drop(rq);
    /* Both statements up to the sync are one implicit transaction: the tenant setting ends with it. */
    db_prologue(rq, &st_set_tenant, rq->auth.tenant_id);
    PGresult *r = db_exec(rq, &st_insert, 1, (const char *const[]){row});
    if (r)
        PQclear(r);
    else
        log_msg(LOG_WARN, NULL, "request %s: the refusal could not be written to the audit log (%s)",
                rq->request_id, rq->sqlstate);
    free(row);
    rq->read_txn = read;
    rq->db_fail = keep;
    memcpy(rq->sqlstate, sqlstate, sizeof sqlstate);
    memcpy(rq->constraint, constraint, sizeof constraint);
}
