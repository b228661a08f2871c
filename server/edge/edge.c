/* The connection guard at the HTTP edge. Every connection libmicrohttpd accepts is registered
 * here with its phase (waiting for a request, receiving a body, busy), so that:
 * - under connection pressure (ALLIED_CONN_SHED_PERCENT of ALLIED_MAX_CONNECTIONS) each new
 *   connection closes the one that has been idle the longest: idle sockets cannot fill the
 *   limit and lock new clients out, which a per-address cap alone cannot prevent;
 * - a request head that has begun must be complete within ALLIED_HEAD_TIMEOUT: a client that
 *   sends a byte every few seconds resets libmicrohttpd's idle timeout forever (slowloris);
 * - a body must average ALLIED_MIN_BODY_RATE bytes/s once ALLIED_BODY_TIMEOUT has passed.
 * libmicrohttpd calls us only when a head is complete, so whether a waiting connection has begun
 * a request is read from the kernel (TCP_INFO: bytes received since the connection went idle).
 *
 * Thread safety: libmicrohttpd owns the sockets and closes them in its own threads. We only
 * send() a 408 and shutdown() a socket while holding `lock`, and the CLOSED notification, which
 * libmicrohttpd sends before it closes the socket (daemon.c, 0.9.75), removes the entry under
 * the same lock; so the descriptor we touch is always still that connection's. shutdown() makes
 * libmicrohttpd read end-of-stream and close the connection itself. A connection whose request
 * is being processed (suspended for a database worker, or sending its response) is never
 * touched. */
#include "server/edge/edge.h"
#include "server/config.h"
#include "server/log.h"
#include "server/edge/problem.h"
#include "server/edge/request.h"
#include <jansson.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SCAN_INTERVAL_US 200000

enum phase {
    PH_WAITING, /* no request in progress (new, or keep-alive between requests) */
    PH_BODY,    /* head received; body being read */
    PH_BUSY,    /* request read: being processed or answered */
    PH_CUT,     /* we shut it down; libmicrohttpd will close it */
};

struct edge_conn {
    struct edge_conn *prev, *next;
    int fd;
    enum phase phase;
    uint64_t since_ns; /* when the phase began */
    uint64_t begun_ns; /* PH_WAITING: when bytes of a new request were first seen, else 0 */
    uint64_t rx_mark;  /* bytes received on the socket when the phase began */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct edge_conn *conns; /* every open connection, newest first */
static int live;                /* open connections not yet cut */
static bool running;
static pthread_t scanner;

/* Bytes the kernel has received on `fd` so far; false if it cannot tell. */
static bool rx_bytes(int fd, uint64_t *out) {
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    memset(&ti, 0, sizeof ti);
    if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
        len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof ti.tcpi_bytes_received)
        return false;
    *out = ti.tcpi_bytes_received;
    return true;
}

/* Sets a new phase and its start. Caller holds `lock`. */
static void enter(struct edge_conn *e, enum phase p) {
    if (e->phase == PH_CUT) return;
    e->phase = p;
    e->since_ns = now_ns();
    e->begun_ns = 0;
    e->rx_mark = 0;
    if (p != PH_BUSY && !rx_bytes(e->fd, &e->rx_mark))
        e->rx_mark = UINT64_MAX; /* unknown: see scan() */
}

/* Closes `e` through libmicrohttpd: an optional 408 first, then end-of-stream both ways.
 * Caller holds `lock`. */
static void cut(struct edge_conn *e, bool say_timeout) {
    if (say_timeout) {
        const struct problem_info *pi = &problems[P_REQUEST_TIMEOUT];
        char type[128], msg[1024];
        snprintf(type, sizeof type, "%s%s", PROBLEM_TYPE_PREFIX, pi->slug);
        json_t *o = json_pack("{s:s, s:s, s:i, s:s}", "type", type, "title", pi->title, "status",
                              pi->status, "detail",
                              e->phase == PH_BODY ? "the request body arrived too slowly"
                                                  : "the request head was not complete in time");
        char *body = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(o);
        if (body) {
            int n = snprintf(
                msg, sizeof msg,
                "HTTP/1.1 408 Request Timeout\r\nContent-Type: application/problem+json\r\n"
                "X-Content-Type-Options: nosniff\r\nConnection: close\r\n"
                "Content-Length: %zu\r\n\r\n%s",
                strlen(body), body);
            if (n > 0 && (size_t)n < sizeof msg)
                (void)send(e->fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
            free(body);
        }
    }
    shutdown(e->fd, SHUT_RDWR);
    e->phase = PH_CUT;
    live--;
}

/* The connection idle the longest, other than `except`; NULL if none. Caller holds `lock`. */
static struct edge_conn *oldest_idle(const struct edge_conn *except) {
    struct edge_conn *best = NULL;
    for (struct edge_conn *e = conns; e; e = e->next)
        if (e != except && e->phase == PH_WAITING && (!best || e->since_ns < best->since_ns))
            best = e;
    return best;
}

static int shed_threshold(void) {
    long t = (long)cfg.max_conns * cfg.conn_shed_percent / 100;
    if (t < 1) t = 1;
    if (t > cfg.max_conns) t = cfg.max_conns;
    return (int)t;
}

void edge_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                 enum MHD_ConnectionNotificationCode toe) {
    (void)cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        struct edge_conn *e = calloc(1, sizeof *e);
        if (!e) return; /* unguarded, but served */
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        e->fd = ci ? ci->connect_fd : -1;
        pthread_mutex_lock(&lock);
        enter(e, PH_WAITING);
        if (e->rx_mark != UINT64_MAX)
            e->rx_mark = 0; /* on a new connection, every byte is a request's */
        e->next = conns;
        if (conns) conns->prev = e;
        conns = e;
        live++;
        struct edge_conn *victim = live >= shed_threshold() ? oldest_idle(e) : NULL;
        if (victim) cut(victim, false);
        *socket_context = e;
        pthread_mutex_unlock(&lock);
        if (victim)
            log_msg(LOG_INFO, NULL, "connection pressure: closed the connection idle the longest");
        return;
    }
    struct edge_conn *e = *socket_context;
    if (!e) return;
    pthread_mutex_lock(&lock);
    if (e->prev)
        e->prev->next = e->next;
    else
        conns = e->next;
    if (e->next) e->next->prev = e->prev;
    if (e->phase != PH_CUT) live--;
    pthread_mutex_unlock(&lock);
    free(e);
    *socket_context = NULL;
}

struct edge_conn *edge_of(struct MHD_Connection *conn) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void set_phase(struct edge_conn *e, enum phase p) {
    if (!e) return;
    pthread_mutex_lock(&lock);
    enter(e, p);
    pthread_mutex_unlock(&lock);
}

void edge_head_done(struct edge_conn *e) {
    set_phase(e, PH_BODY);
}

void edge_busy(struct edge_conn *e) {
    set_phase(e, PH_BUSY);
}

void edge_idle(struct edge_conn *e) {
    set_phase(e, PH_WAITING);
}

/* One pass over every connection: enforce the head deadline and the minimum body rate. */
static void scan(void) {
    uint64_t now = now_ns(), head_ns = (uint64_t)cfg.head_timeout_s * 1000000000u;
    int heads = 0, bodies = 0;
    pthread_mutex_lock(&lock);
    for (struct edge_conn *e = conns; e; e = e->next) {
        uint64_t rx;
        if (e->phase == PH_WAITING) {
            if (!e->begun_ns) {
                /* Unknown byte counts: the deadline counts from when the connection went idle. */
                if (e->rx_mark == UINT64_MAX)
                    e->begun_ns = e->since_ns;
                else if (rx_bytes(e->fd, &rx) && rx > e->rx_mark)
                    e->begun_ns = now;
            }
            if (e->begun_ns && now - e->begun_ns > head_ns) {
                cut(e, true);
                heads++;
            }
        } else if (e->phase == PH_BODY && cfg.min_body_rate > 0) {
            uint64_t got = 0;
            if (e->rx_mark != UINT64_MAX && rx_bytes(e->fd, &rx) && rx > e->rx_mark)
                got = rx - e->rx_mark;
            /* Allowed time: the grace, plus one second per ALLIED_MIN_BODY_RATE bytes received. */
            uint64_t allowed_ms =
                (uint64_t)cfg.body_timeout_s * 1000u + got * 1000u / (uint64_t)cfg.min_body_rate;
            if ((now - e->since_ns) / 1000000u > allowed_ms) {
                cut(e, true);
                bodies++;
            }
        }
    }
    pthread_mutex_unlock(&lock);
    if (heads)
        log_msg(LOG_WARN, NULL, "closed %d connection(s) whose request head took over %d s (408)",
                heads, cfg.head_timeout_s);
    if (bodies)
        log_msg(LOG_WARN, NULL, "closed %d connection(s) whose body arrived under %d bytes/s (408)",
                bodies, cfg.min_body_rate);
}

static void *scanner_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&lock);
    while (running) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += SCAN_INTERVAL_US * 1000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&wake, &lock, &ts);
        if (!running) break;
        pthread_mutex_unlock(&lock);
        scan();
        pthread_mutex_lock(&lock);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

int edge_start(void) {
    running = true;
    if (pthread_create(&scanner, NULL, scanner_main, NULL) != 0) {
        running = false;
        log_msg(LOG_ERROR, NULL, "cannot start the connection guard thread");
        return -1;
    }
    return 0;
}

void edge_stop(void) {
    pthread_mutex_lock(&lock);
    bool was = running;
    running = false;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
    if (was) pthread_join(scanner, NULL);
}
