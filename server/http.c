/* libmicrohttpd plumbing: a request is created on the first callback, its body accumulated
 * (capped), then either answered on the HTTP thread or handed to a database worker while the
 * connection is suspended; it is answered after resume and freed in the completion callback. */
#include "server/http.h"
#include "server/config.h"
#include "server/dispatch.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/ratelimit.h"
#include "server/reply.h"
#include "server/router.h"
#include "server/util.h"
#include "server/worker.h"
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

enum { ST_RECEIVING, ST_DISPATCHED, ST_READY, ST_SENT };

atomic_long http_inflight;
static struct MHD_Daemon *daemon_;
static atomic_int draining;

uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

const char *req_header(struct request *rq, const char *name) {
    return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

const char *req_query(struct request *rq, const char *name) {
    return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
}

struct framing {
    int content_length, transfer_encoding;
    const char *te;
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value) {
    (void)kind;
    struct framing *f = cls;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) f->content_length++;
    if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->transfer_encoding++;
        f->te = value;
    }
    return MHD_YES;
}

/* Request smuggling defences: one framing, and only one we understand. */
static const char *framing_error(struct request *rq) {
    struct framing f = {0, 0, NULL};
    MHD_get_connection_values(rq->conn, MHD_HEADER_KIND, count_framing, &f);
    if (f.content_length > 1) return "more than one Content-Length header";
    if (f.transfer_encoding > 1) return "more than one Transfer-Encoding header";
    if (f.content_length && f.transfer_encoding)
        return "both Content-Length and Transfer-Encoding are present";
    if (f.transfer_encoding && strcasecmp(f.te, "chunked") != 0)
        return "only Transfer-Encoding: chunked is supported";
    return NULL;
}

static enum MHD_Result send_response(struct request *rq) {
    struct MHD_Response *r = MHD_create_response_from_buffer(rq->resp_len, rq->resp_body,
                                                             MHD_RESPMEM_MUST_FREE);
    rq->resp_body = NULL; /* MHD frees it now */
    if (!r) return MHD_NO;
    if (rq->content_type) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rq->content_type);
    MHD_add_response_header(r, "X-Request-Id", rq->request_id);
    for (int i = 0; i < rq->nheaders; i++)
        MHD_add_response_header(r, rq->headers[i].name, rq->headers[i].value);
    ratelimit_headers(rq, r);
    if (atomic_load(&draining) || rq->early_reply)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ok = MHD_queue_response(rq->conn, (unsigned)rq->status, r);
    MHD_destroy_response(r);
    rq->state = ST_SENT;
    return ok;
}

static struct request *request_new(struct MHD_Connection *conn, const char *url, const char *method) {
    struct request *rq = calloc(1, sizeof *rq);
    if (!rq) return NULL;
    rq->conn = conn;
    rq->method = method;
    rq->url = strdup(url);
    rq->start_ns = now_ns();
    rq->state = ST_RECEIVING;
    const char *rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    if (rid && request_id_sane(rid))
        snprintf(rq->request_id, sizeof rq->request_id, "%s", rid);
    else
        uuid_new(rq->request_id);
    atomic_fetch_add(&http_inflight, 1);
    return rq;
}

/* First callback: headers only. Route, check framing and declared size; answer at once
 * (closing the connection) only when the body cannot or must not be read. */
static enum MHD_Result on_headers(struct request *rq) {
    char allow[64];
    const char *err = framing_error(rq);
    if (err) {
        rq->early_reply = true;
        reply_problem(rq, P_BAD_REQUEST, "%s", err);
        return send_response(rq);
    }
    const char *cl = req_header(rq, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > cfg.max_body_bytes) {
        rq->early_reply = true;
        reply_problem(rq, P_TOO_LARGE, "the body may be at most %zu bytes", cfg.max_body_bytes);
        return send_response(rq);
    }
    switch (router_match(rq->method, rq->url, &rq->route, rq->params, &rq->nparams, allow,
                         sizeof allow)) {
    case MATCH_OK:
        break;
    case MATCH_NO_METHOD:
        reply_problem(rq, P_METHOD_NOT_ALLOWED, "%s is not allowed here; use %s", rq->method, allow);
        reply_header(rq, MHD_HTTP_HEADER_ALLOW, allow);
        break;
    case MATCH_NO_PATH:
        reply_problem(rq, P_NOT_FOUND, "no such endpoint: %s", rq->url);
        break;
    }
    return MHD_YES;
}

static void append_body(struct request *rq, const char *data, size_t n) {
    if (rq->body_too_large) return;
    if (rq->body_len + n > cfg.max_body_bytes) {
        rq->body_too_large = true;
        free(rq->body);
        rq->body = NULL;
        rq->body_len = 0;
        return;
    }
    if (rq->body_len + n + 1 > rq->body_cap) {
        size_t cap = rq->body_cap ? rq->body_cap : 1024;
        while (cap < rq->body_len + n + 1) cap *= 2;
        char *b = realloc(rq->body, cap);
        if (!b) abort();
        rq->body = b;
        rq->body_cap = cap;
    }
    memcpy(rq->body + rq->body_len, data, n);
    rq->body_len += n;
    rq->body[rq->body_len] = '\0';
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls) {
    (void)cls;
    (void)version;
    struct request *rq = *con_cls;
    if (!rq) {
        rq = request_new(conn, url, method);
        if (!rq) return MHD_NO;
        *con_cls = rq;
        return on_headers(rq);
    }
    if (*upload_size) {
        if (!rq->early_reply) append_body(rq, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (rq->state == ST_READY) return send_response(rq);
    if (rq->state != ST_RECEIVING) return MHD_YES;
    /* The whole request is here. */
    if (rq->body_too_large) {
        rq->early_reply = true; /* close: the client may still be sending */
        reply_problem(rq, P_TOO_LARGE, "the body may be at most %zu bytes", cfg.max_body_bytes);
        return send_response(rq);
    }
    if (!rq->route) return send_response(rq); /* 404/405 decided on headers */
    if (rq->route->flags & RF_INLINE) {
        dispatch_run(rq);
        return send_response(rq);
    }
    if (ratelimit_precheck_or_reply(rq) != 0) return send_response(rq);
    rq->state = ST_DISPATCHED;
    MHD_suspend_connection(conn);
    worker_submit(rq);
    return MHD_YES;
}

void http_resume(struct request *rq) {
    rq->state = ST_READY;
    MHD_resume_connection(rq->conn);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)conn;
    struct request *rq = *con_cls;
    if (!rq) return;
    *con_cls = NULL;
    uint64_t dur = now_ns() - rq->start_ns;
    int status = rq->state == ST_SENT ? rq->status : 0; /* 0: client went away */
    metrics_observe(route_index(rq->route), status, dur);
    if (log_enabled(LOG_INFO)) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:f, s:s?, s:s}", "level", "info", "msg",
                              "request", "method", rq->method, "route",
                              rq->route ? rq->route->pattern : "(unmatched)", "status", status,
                              "duration_ms", (double)dur / 1e6, "tenant",
                              rq->auth.ok ? rq->auth.tenant_id : NULL, "request_id",
                              rq->request_id);
        if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
            json_object_set_new(o, "termination", json_integer(toe));
        char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        log_json_line(LOG_INFO, line);
        free(line);
        json_decref(o);
    }
    if (rq->db) LOG_BUG("request %s completed while holding a database connection", rq->request_id);
    reply_reset(rq);
    free(rq->idem_body);
    json_decref(rq->json);
    free(rq->body);
    free(rq->url);
    for (int i = 0; i < rq->nparams; i++) free(rq->params[i]);
    free(rq);
    atomic_fetch_sub(&http_inflight, 1);
}

static int parse_listen(const char *listen, struct sockaddr_storage *ss) {
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof host) return -1;
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    char *h = host;
    if (h[0] == '[' && h[strlen(h) - 1] == ']') {
        h[strlen(h) - 1] = '\0';
        h++;
    }
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai;
    if (getaddrinfo(h, colon + 1, &hints, &ai) != 0) return -1;
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    return 0;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    size_t n = strlen(buf);
    while (n && buf[n - 1] == '\n') buf[--n] = '\0';
    log_msg(LOG_DEBUG, NULL, "libmicrohttpd: %s", buf);
}

int http_start(void) {
    static struct sockaddr_storage addr;
    if (parse_listen(cfg.listen, &addr) != 0) {
        log_msg(LOG_ERROR, NULL, "ALLIED_LISTEN must be host:port with a numeric host, got %s",
                cfg.listen);
        return -1;
    }
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | MHD_USE_TURBO;
    if (addr.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    daemon_ = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg.threads, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)cfg.conn_timeout_s, MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg.max_conns,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg.per_ip_conns,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
        NULL, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_END);
    if (!daemon_) {
        log_msg(LOG_ERROR, NULL, "cannot listen on %s", cfg.listen);
        return -1;
    }
    return 0;
}

void http_stop(void) {
    atomic_store(&draining, 1);
    MHD_socket s = MHD_quiesce_daemon(daemon_);
    if (s != MHD_INVALID_SOCKET) close(s);
    uint64_t deadline = now_ns() + (uint64_t)cfg.drain_s * 1000000000u;
    while (atomic_load(&http_inflight) > 0 && now_ns() < deadline) usleep(10000);
    if (atomic_load(&http_inflight) > 0)
        log_msg(LOG_WARN, NULL, "drain timeout: %ld requests still in flight",
                atomic_load(&http_inflight));
    MHD_stop_daemon(daemon_);
    daemon_ = NULL;
}
