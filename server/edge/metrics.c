/* Prometheus text exposition from lock-free counters. */
#include "server/edge/metrics.h"
#include "server/config.h"
#include "server/data/db.h"
#include "server/data/migrate.h"
#include "server/edge/ratelimit.h"
#include "server/app.h"
#include "server/edge/router.h"
#include "server/data/worker.h"

atomic_long http_inflight;
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROUTES 128
#define NSTATUS 600
static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
#define NBUCKETS (int)(sizeof buckets / sizeof buckets[0])

static atomic_long requests[MAX_ROUTES + 1][NSTATUS];
static atomic_long hist[MAX_ROUTES + 1][NBUCKETS + 1];
static atomic_long sum_us[MAX_ROUTES + 1];

void metrics_observe(int route, int status, uint64_t duration_ns) {
    if (route < 0 || route > MAX_ROUTES) route = MAX_ROUTES;
    if (status < 0 || status >= NSTATUS) status = 0;
    atomic_fetch_add_explicit(&requests[route][status], 1, memory_order_relaxed);
    double s = (double)duration_ns / 1e9;
    int b = 0;
    while (b < NBUCKETS && s > buckets[b]) b++;
    atomic_fetch_add_explicit(&hist[route][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&sum_us[route], (long)(duration_ns / 1000), memory_order_relaxed);
}

struct buf {
    char *p;
    size_t len, cap;
};

__attribute__((format(printf, 2, 3))) static void put(struct buf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = b->cap * 2 + (size_t)n;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
}

static char *(*sources[METRICS_MAX_SOURCES])(void);
static atomic_int nsources;

void metrics_add_source(char *(*render)(void)) {
    int n = atomic_load(&nsources);
    for (int i = 0; i < n; i++)
        if (sources[i] == render) return;
    if (n == METRICS_MAX_SOURCES) abort(); /* a programming error: raise the limit */
    sources[n] = render;
    atomic_store(&nsources, n + 1);
}

static const char *label(int r) {
    return r < allied_app.nroutes ? allied_app.routes[r].pattern : "unmatched";
}
static const char *method(int r) {
    return r < allied_app.nroutes ? allied_app.routes[r].method : "";
}

/* One metric without labels: its HELP and TYPE lines and its value. */
static void put_one(struct buf *b, const char *name, const char *type, const char *help, long value) {
    put(b, "# HELP %s %s\n# TYPE %s %s\n%s %ld\n", name, help, name, type, name, value);
}

static void put_requests(struct buf *b, int nr) {
    put(b, "# HELP allied_http_requests_total HTTP requests by route and status.\n"
           "# TYPE allied_http_requests_total counter\n");
    for (int r = 0; r <= nr; r++)
        for (int s = 0; s < NSTATUS; s++) {
            long v = atomic_load_explicit(&requests[r][s], memory_order_relaxed);
            if (v)
                put(b, "allied_http_requests_total{method=\"%s\",route=\"%s\",status=\"%d\"} %ld\n",
                    method(r), label(r), s, v);
        }
}

static void put_latency(struct buf *b, int nr) {
    put(b, "# HELP allied_http_request_duration_seconds Request latency.\n"
           "# TYPE allied_http_request_duration_seconds histogram\n");
    for (int r = 0; r <= nr; r++) {
        long cum = 0, total = 0;
        for (int k = 0; k <= NBUCKETS; k++) total += atomic_load(&hist[r][k]);
        if (!total) continue;
        const char *l = label(r), *m = method(r);
        for (int k = 0; k < NBUCKETS; k++) {
            cum += atomic_load(&hist[r][k]);
            put(b, "allied_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\",le=\"%g\"} %ld\n",
                m, l, buckets[k], cum);
        }
        put(b, "allied_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\",le=\"+Inf\"} %ld\n",
            m, l, total);
        put(b, "allied_http_request_duration_seconds_sum{method=\"%s\",route=\"%s\"} %.6f\n", m, l,
            (double)atomic_load(&sum_us[r]) / 1e6);
        put(b, "allied_http_request_duration_seconds_count{method=\"%s\",route=\"%s\"} %ld\n", m, l, total);
    }
}

/* The worker pool, its queue and what it sends to PostgreSQL. */
static void put_database(struct buf *b) {
    int busy = workers_busy(), total = workers_total();
    put(b, "# HELP allied_db_pool_connections Database workers (one connection each) by state.\n"
           "# TYPE allied_db_pool_connections gauge\n"
           "allied_db_pool_connections{state=\"in_use\"} %d\n"
           "allied_db_pool_connections{state=\"idle\"} %d\n",
        busy, total - busy);
    put_one(b, "allied_db_queue_depth", "gauge", "Requests waiting for a database worker.", workers_queue_depth());
    put_one(b, "allied_db_queue_refused_total", "counter", "Requests answered 503 because the queue was full.",
            atomic_load(&queue_rejected_total));
    put_one(b, "allied_db_queue_expired_total", "counter",
            "Requests answered 503 after waiting too long for a worker.", atomic_load(&queue_expired_total));
    put_one(b, "allied_db_errors_total", "counter", "Failed database calls and connection attempts.",
            atomic_load(&db_errors_total));
    put_one(b, "allied_db_statements_total", "counter",
            "Statements requests sent to PostgreSQL (prepared-statement executions; background work not counted).",
            atomic_load(&db_statements_total));
    put_one(b, "allied_db_round_trips_total", "counter",
            "Waits for PostgreSQL (statements sent in one pipeline count once).", atomic_load(&db_round_trips_total));
    put(b, "# HELP allied_db_timeouts_total Requests answered 503 because a statement or a lock wait hit its time "
           "limit.\n# TYPE allied_db_timeouts_total counter\n"
           "allied_db_timeouts_total{kind=\"statement\"} %ld\nallied_db_timeouts_total{kind=\"lock\"} %ld\n",
        atomic_load(&db_statement_timeouts_total), atomic_load(&db_lock_timeouts_total));
}

static void put_process(struct buf *b) {
    put_one(b, "allied_http_in_flight", "gauge", "Requests being handled.", atomic_load(&http_inflight));
    put(b, "# HELP allied_build_info The running build: its version and the schema version it needs.\n"
           "# TYPE allied_build_info gauge\nallied_build_info{version=\"%s\",schema=\"%d\"} 1\n",
        ALLIED_VERSION, migrate_latest());
    put(b, "# HELP allied_rate_limited_total Requests answered 429, by the limit that refused them.\n"
           "# TYPE allied_rate_limited_total counter\n");
    for (int i = 0; i < RL_REFUSED_KINDS; i++)
        put(b, "allied_rate_limited_total{limit=\"%s\"} %ld\n", ratelimit_refused_names[i],
            atomic_load(&ratelimit_refused_total[i]));
}

/* What the application registered (metrics_add_source). */
static void put_sources(struct buf *b) {
    int n = atomic_load(&nsources);
    for (int i = 0; i < n; i++) {
        char *more = sources[i]();
        if (more) put(b, "%s", more);
        free(more);
    }
}

char *metrics_render(void) {
    struct buf b = {malloc(8192), 0, 8192};
    if (!b.p) abort();
    int nr = allied_app.nroutes < MAX_ROUTES ? allied_app.nroutes : MAX_ROUTES;
    put_requests(&b, nr);
    put_latency(&b, nr);
    put_database(&b);
    put_process(&b);
    put_sources(&b);
    return b.p;
}
