/* libmicrohttpd plumbing: a request is created on the first callback, its body accumulated
 * (capped), then either answered on the HTTP thread or handed to a database worker while the
 * connection is suspended; it is answered after resume and freed in the completion callback.
 * Each phase is reported to the connection guard (server/edge.c), which enforces the deadlines
 * and sheds idle connections under pressure. */
#include "server/edge/http.h"
#include "server/config.h"
#include "server/edge/dispatch.h"
#include "server/edge/edge.h"
#include "server/log.h"
#include "server/edge/metrics.h"
#include "server/edge/ratelimit.h"
#include "server/edge/reply.h"
#include "server/edge/router.h"
#include "server/edge/session_auth.h"
#include "server/text.h"
#include "server/util.h"
#include "server/data/worker.h"
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

enum { ST_RECEIVING, ST_DISPATCHED, ST_READY, ST_SENT };

/* `*con_cls` of a request whose raw target holds %00 (set by on_uri, before MHD decodes it). */
static char bad_target_mark;

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

const char *req_cookie(struct request *rq, const char *name) {
    return MHD_lookup_connection_value(rq->conn, MHD_COOKIE_KIND, name);
}

const char *req_query(struct request *rq, const char *name) {
    return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
}

struct head_counts {
    int content_length, transfer_encoding, host, authorization;
    const char *te;
    /* the Authorization value as MHD stores it, and the name of the header after it */
    const char *auth_value, *after_auth;
    size_t auth_len;
};

static enum MHD_Result count_headers(void *cls, enum MHD_ValueKind kind, const char *key,
                                     size_t key_size, const char *value, size_t value_size) {
    (void)kind;
    (void)key_size;
    struct head_counts *f = cls;
    if (f->auth_value && !f->after_auth) f->after_auth = key;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) f->content_length++;
    if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->transfer_encoding++;
        f->te = value;
    }
    if (strcasecmp(key, MHD_HTTP_HEADER_HOST) == 0) f->host++;
    if (strcasecmp(key, MHD_HTTP_HEADER_AUTHORIZATION) == 0) {
        f->authorization++;
        f->auth_value = value;
        f->auth_len = value_size;
    }
    return MHD_YES;
}

/* libmicrohttpd 0.9.75 stores a header value up to its first NUL byte and drops the rest of the
 * line, so "Bearer <key>\0junk" reads as a valid key. It parses the head in place: the value is
 * followed in its buffer by the bytes of the line's end (CR LF, each replaced by a NUL) and then
 * by the next line, where the next header's name begins (or, for the last header, the empty
 * line that ends the head). Anything else between the value and that point -- a NUL and what
 * followed it -- means the value was cut short. Where the layout is not the one described (a
 * folded line copied elsewhere), nothing can be told and the value is taken as it is.
 * libmicrohttpd 1.0 rewrote the parser and refuses a NUL in a header itself (400). */
static bool value_was_cut(struct request *rq, const char *value, size_t len,
                          const char *next_name) {
#if MHD_VERSION >= 0x01000000
    (void)rq, (void)value, (void)len, (void)next_name;
    return false;
#else
    const char *end = value + len, *line_end;
    size_t max_gap;
    if (next_name) {
        line_end = next_name;
        max_gap = 2; /* CR LF */
    } else {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(rq->conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
        if (!ci) return false;
        line_end = rq->method + ci->header_size;
        max_gap = 4; /* CR LF, then the empty line's CR LF */
    }
    if (line_end <= end || line_end - end > 256) return false;
    for (const char *p = end; p < line_end; p++)
        if (*p != '\0') return true;
    return (size_t)(line_end - end) > max_gap;
#endif
}

static bool has_control(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f) return true;
    return false;
}

/* Request smuggling and ambiguity defences: one framing, and only one we understand; exactly
 * one Host (RFC 9112 section 3.2); at most one Authorization, and a credential without control
 * characters. Returns the problem to answer with (P_COUNT if none) and its detail; `*framing`
 * tells that the body cannot be delimited, so the answer must go out at once and close. */
static enum problem head_error(struct request *rq, const char *version, const char **why,
                               bool *framing) {
    struct head_counts f = {0};
    MHD_get_connection_values_n(rq->conn, MHD_HEADER_KIND, count_headers, &f);
    *why = NULL;
    *framing = true;
    if (f.content_length > 1) *why = "more than one Content-Length header";
    else if (f.transfer_encoding > 1) *why = "more than one Transfer-Encoding header";
    else if (f.content_length && f.transfer_encoding)
        *why = "both Content-Length and Transfer-Encoding are present";
    else if (f.transfer_encoding && strcasecmp(f.te, "chunked") != 0)
        *why = "only Transfer-Encoding: chunked is supported";
    if (*why) return P_BAD_REQUEST;
    *framing = false;
    if (f.host > 1) *why = "more than one Host header";
    else if (f.host == 0 && strcmp(version, MHD_HTTP_VERSION_1_1) == 0)
        *why = "an HTTP/1.1 request needs a Host header";
    else if (f.authorization > 1) *why = "more than one Authorization header";
    if (*why) return P_BAD_REQUEST;
    if (f.auth_value && (has_control(f.auth_value, f.auth_len) ||
                         value_was_cut(rq, f.auth_value, f.auth_len, f.after_auth))) {
        *why = "the Authorization header holds a control character";
        return P_UNAUTHORIZED;
    }
    return P_COUNT;
}

static enum MHD_Result send_response(struct request *rq) {
    struct MHD_Response *r;
    if (rq->resp_fd > 0) { /* reply_file: sent from the file, which MHD closes when done */
        r = MHD_create_response_from_fd((size_t)rq->resp_len, rq->resp_fd);
        if (!r) close(rq->resp_fd);
        rq->resp_fd = 0;
        rq->resp_sent = rq->resp_len;
    } else {
        r = MHD_create_response_from_buffer(rq->resp_len, rq->resp_body, MHD_RESPMEM_MUST_FREE);
        rq->resp_sent = rq->resp_len;
        rq->resp_body = NULL; /* MHD frees it now */
    }
    if (!r) return MHD_NO;
    if (rq->content_type) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rq->content_type);
    MHD_add_response_header(r, "X-Request-Id", rq->request_id);
    for (int i = 0; i < rq->nheaders; i++)
        MHD_add_response_header(r, rq->headers[i].name, rq->headers[i].value);
    ratelimit_headers(rq, r);
    session_headers(rq, r);
    if (atomic_load(&draining) || rq->early_reply)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    /* No answer is ever sniffed into another type; an HTML page runs no script, loads nothing
     * the handler did not allow (it sets its own policy when the page needs more) and leaks no
     * URL through Referer. */
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (rq->content_type && strncasecmp(rq->content_type, "text/html", 9) == 0) {
        bool has_csp = false;
        for (int i = 0; i < rq->nheaders; i++)
            if (strcasecmp(rq->headers[i].name, "Content-Security-Policy") == 0) has_csp = true;
        if (!has_csp) MHD_add_response_header(r, "Content-Security-Policy", REPLY_HTML_CSP);
        MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    }
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

/* Answers now, before the body, and closes the connection. */
static enum MHD_Result reply_early(struct request *rq) {
    rq->early_reply = true;
    edge_busy(edge_of(rq->conn));
    return send_response(rq);
}

/* The largest body the request's route takes: imports (RF_RAW_BODY) have their own limit. */
static size_t body_limit(struct request *rq) {
    const struct route *r = rq->route;
    char allow[64];
    if (!r && router_match(rq->method, rq->url, &r, NULL, NULL, allow, sizeof allow) != MATCH_OK) r = NULL;
    return r && (r->flags & RF_RAW_BODY) ? cfg.import_max_bytes : cfg.max_body_bytes;
}

/* First callback: headers only. Route and check the head. A refusal decided here is sent once
 * the body has been read (and dropped), so that a client still sending it reads the answer
 * instead of a connection reset. Only when the body cannot be delimited, or is too large to be
 * worth reading (or the client waits for 100 Continue before sending it), does the answer go
 * out at once, closing the connection. */
static enum MHD_Result on_headers(struct request *rq, const char *version, bool bad_target) {
    char allow[64];
    const char *why;
    bool framing;
    enum problem p = head_error(rq, version, &why, &framing);
    if (p != P_COUNT && framing) {
        reply_problem(rq, p, "%s", why);
        return reply_early(rq);
    }
    const char *cl = req_header(rq, MHD_HTTP_HEADER_CONTENT_LENGTH);
    unsigned long long declared = cl ? strtoull(cl, NULL, 10) : 0;
    size_t limit = body_limit(rq);
    if (declared > limit) {
        const char *expect = req_header(rq, MHD_HTTP_HEADER_EXPECT);
        if ((expect && strcasestr(expect, "100-continue")) || declared > cfg.discard_body_bytes) {
            reply_problem(rq, P_TOO_LARGE, "the body may be at most %zu bytes", limit);
            return reply_early(rq);
        }
        rq->body_too_large = true; /* read and drop it, then answer 413 */
    }
    /* Only a body has a phase to time (and its start costs a getsockopt); without one, libmicrohttpd
     * calls again at once and the request goes busy. */
    if (declared > 0 || req_header(rq, MHD_HTTP_HEADER_TRANSFER_ENCODING)) edge_head_done(edge_of(rq->conn));
    if (p != P_COUNT) {
        reply_problem(rq, p, "%s", why);
        rq->early_reply = true; /* an ambiguous head: drop the body, answer, close */
        return MHD_YES;         /* no route: answered once the body is read */
    }
    if (bad_target) {
        /* MHD decodes %00 into a NUL that would silently cut an id or external id short. */
        reply_problem(rq, P_BAD_REQUEST, "the request target holds %%00 (a NUL byte)");
        return MHD_YES;
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

/* A raw body (imports) goes to an unlinked temporary file: memory stays flat whatever its size. */
static void spool_body(struct request *rq, const char *data, size_t n) {
    if (rq->body_len + n > cfg.import_max_bytes) {
        rq->body_too_large = true;
        rq->body_dropped = rq->body_len + n;
        return;
    }
    if (rq->body_fd == 0 && (rq->body_fd = temp_file_fd()) < 0) {
        LOG_BUG("cannot create a temporary file for a request body");
        rq->body_fd = -1;
    }
    for (size_t done = 0; rq->body_fd > 0 && done < n;) {
        ssize_t w = write(rq->body_fd, data + done, n - done);
        if (w <= 0) {
            LOG_BUG("cannot write a request body to its temporary file");
            close(rq->body_fd);
            rq->body_fd = -1;
            break;
        }
        done += (size_t)w;
    }
    rq->body_len += n;
}

static void append_body(struct request *rq, const char *data, size_t n) {
    if (rq->body_too_large) {
        rq->body_dropped += n;
        return;
    }
    if (rq->route && (rq->route->flags & RF_RAW_BODY)) {
        spool_body(rq, data, n);
        return;
    }
    if (rq->body_len + n > cfg.max_body_bytes) {
        rq->body_too_large = true;
        rq->body_dropped = rq->body_len + n;
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
    struct request *rq = *con_cls;
    bool bad_target = rq == (void *)&bad_target_mark;
    if (!rq || bad_target) {
        rq = request_new(conn, url, method);
        if (!rq) return MHD_NO;
        *con_cls = rq;
        return on_headers(rq, version, bad_target);
    }
    if (*upload_size) {
        if (rq->early_reply)
            rq->body_dropped += *upload_size; /* the head was refused: the body is not wanted */
        else
            append_body(rq, upload, *upload_size);
        *upload_size = 0;
        /* A dropped body is read only up to a bound; past it, closing is all that is left. */
        if (rq->body_dropped > cfg.discard_body_bytes) return MHD_NO;
        return MHD_YES;
    }
    if (rq->state == ST_READY) return send_response(rq);
    if (rq->state != ST_RECEIVING) return MHD_YES;
    /* The whole request is here. */
    edge_busy(edge_of(conn));
    if (rq->body_too_large) {
        rq->early_reply = true; /* read and dropped; closed like every other 413 */
        reply_problem(rq, P_TOO_LARGE, "the body may be at most %zu bytes", body_limit(rq));
        return send_response(rq);
    }
    if (!rq->route) return send_response(rq); /* 404/405 decided on headers */
    if (rq->route->flags & RF_INLINE) {
        dispatch_run(rq);
        return send_response(rq);
    }
    if (ratelimit_precheck_or_reply(rq) != 0) return send_response(rq);
    if (cfg.bench_inline_db) { /* measurement only (server/config.c): no suspend, no hand-off */
        worker_run_inline(rq);
        return send_response(rq);
    }
    rq->state = ST_DISPATCHED;
    MHD_suspend_connection(conn);
    if (!worker_submit(rq)) {
        if (atomic_load(&draining))
            reply_problem(rq, P_UNAVAILABLE, "the server is shutting down; retry");
        else
            reply_problem(rq, P_UNAVAILABLE, "the server is busy; too many requests are waiting");
        http_resume(rq);
    }
    return MHD_YES;
}

/* MHD_OPTION_URI_LOG_CALLBACK: sees the request target before it is percent-decoded. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn) {
    (void)cls;
    (void)conn;
    return strstr(uri, "%00") ? &bad_target_mark : NULL;
}

void http_resume(struct request *rq) {
    rq->state = ST_READY;
    MHD_resume_connection(rq->conn);
}

/* The access log: one JSON line per request, at info level. The route is the pattern, never the
 * request target (which may carry ids and query strings); the key is named by its id only. */
static void access_log(const struct request *rq, int status, uint64_t dur,
                       enum MHD_RequestTerminationCode toe) {
    if (!log_enabled(LOG_INFO)) return;
    /* Written by hand, not with jansson: json_pack + json_dumps cost about 45,000 instructions per
     * request (callgrind), a third of a whole GET. The method is the client's (an unmatched route
     * takes any token): scrubbed to UTF-8 first. */
    char ts[32], method[32];
    log_timestamp(ts);
    snprintf(method, sizeof method, "%s", rq->method ? rq->method : "");
    utf8_scrub(method);
    const char *route = rq->route ? rq->route->pattern : "(unmatched)";
    char line[4096], *w = line; /* ample: every field is bounded (route 200, request id 130, method 31) */
    w += sprintf(w, "{\"ts\":\"%s\",\"level\":\"info\",\"msg\":\"request\",\"request_id\":", ts);
    w = json_put_string(w, rq->request_id);
    w = stpcpy(w, ",\"key_id\":");
    w = json_put_string(w, rq->auth.ok ? rq->auth.key_id : NULL);
    w = stpcpy(w, ",\"tenant\":");
    w = json_put_string(w, rq->auth.ok ? rq->auth.tenant_id : NULL);
    w = stpcpy(w, ",\"method\":");
    w = json_put_string(w, method);
    w = stpcpy(w, ",\"route\":");
    if (strlen(route) > 200) route = "(unmatched)"; /* never: patterns are the route table's */
    w = json_put_string(w, route);
    w += sprintf(w, ",\"status\":%d,\"bytes\":%lld,\"duration_ms\":%.3f", status,
                 (long long)(status ? rq->resp_sent : 0), (double)dur / 1e6);
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK) w += sprintf(w, ",\"termination\":%d", (int)toe);
    strcpy(w, "}");
    log_json_line(LOG_INFO, line);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)cls;
    struct request *rq = *con_cls;
    edge_idle(edge_of(conn));
    *con_cls = NULL;
    if (!rq || rq == (void *)&bad_target_mark) return;
    uint64_t dur = now_ns() - rq->start_ns;
    int status = rq->state == ST_SENT ? rq->status : 0; /* 0: client went away */
    metrics_observe(route_index(rq->route), status, dur);
    if (cfg.access_log) access_log(rq, status, dur, toe);
    if (rq->db) LOG_BUG("request %s completed while holding a database connection", rq->request_id);
    reply_reset(rq);
    free(rq->idem_body);
    json_decref(rq->json);
    if (rq->body_fd > 0) close(rq->body_fd);
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
    text_vformat(buf, sizeof buf, fmt, ap);
    size_t n = strlen(buf);
    while (n && buf[n - 1] == '\n') buf[--n] = '\0';
    log_msg(LOG_DEBUG, NULL, "libmicrohttpd: %s", buf);
}

/* Each connection's memory pool: the request head (line and headers), MHD's bookkeeping and the
 * response head. libmicrohttpd 0.9.75 zeroes the whole pool between two requests of a keep-alive
 * connection (MHD_pool_reset), so its size is paid on every request: at the default 32 KiB that
 * was 39 % of a GET's instructions. 16 KiB takes a head of about 15 KB (Node's default limit is
 * 16 KiB, nginx's 8 KiB per line); a larger head is answered 431 by libmicrohttpd.
 * Bodies do not live here (they are copied out as they arrive, server/edge/http.c spool_body). */
#define CONNECTION_MEMORY (16 * 1024)

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
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_NOTIFY_CONNECTION, edge_notify,
        NULL, MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
        NULL, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY, MHD_OPTION_END);
    if (!daemon_) {
        log_msg(LOG_ERROR, NULL, "cannot listen on %s", cfg.listen);
        return -1;
    }
    return edge_start();
}

void http_drain(void) {
    atomic_store(&draining, 1);
    MHD_socket s = MHD_quiesce_daemon(daemon_);
    if (s != MHD_INVALID_SOCKET) close(s);
    uint64_t deadline = now_ns() + (uint64_t)cfg.drain_s * 1000000000u;
    while (atomic_load(&http_inflight) > 0 && now_ns() < deadline) usleep(10000);
    if (atomic_load(&http_inflight) > 0)
        log_msg(LOG_WARN, NULL, "drain timeout: %ld requests still in flight",
                atomic_load(&http_inflight));
}

void http_close(void) {
    /* Only once no worker holds a request: the daemon frees every connection's request here. */
    MHD_stop_daemon(daemon_);
    daemon_ = NULL;
    edge_stop();
}
