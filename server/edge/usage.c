/* Usage counters and their flush (see usage.h). */
#include "server/edge/usage.h"
#include "server/loop.h"
#include "server/backoff.h"
#include "server/config.h"
#include "server/data/db.h"
#include "server/log.h"
#include "server/util.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FLUSH_MS 2000
#define SLOTS 4096 /* distinct (tenant, day, metric, group) counted between two flushes */

enum metric { M_REQUESTS, M_WEBHOOK_ATTEMPTS, M_WEBHOOK_FAILURES };
static const char *const METRIC_NAMES[] = {"requests", "webhook_attempts", "webhook_failures"};

struct counter {
    char tenant[37]; /* "" = free */
    char group[33];
    int32_t day; /* days since 1970-01-01 (UTC) */
    int metric;
    int64_t n;
};

static struct counter table[SLOTS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_long dropped; /* counts lost because the table was full */

bool usage_route_group(const char *pattern, char *out, unsigned n) {
    if (!pattern || strncmp(pattern, "/v1/", 4) != 0) return false;
    const char *s = pattern + 4;
    size_t len = strcspn(s, "/");
    if (len == 0 || len >= n) return false;
    memcpy(out, s, len);
    out[len] = '\0';
    return true;
}

static void count(const char *tenant, enum metric m, const char *group) {
    if (!tenant || !tenant[0]) return;
    int32_t day = (int32_t)(time(NULL) / 86400);
    uint64_t h = fnv1a(fnv1a(FNV_OFFSET, tenant), group) ^ (uint64_t)m;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < SLOTS; i++) {
        struct counter *c = &table[(h + (uint64_t)i) & (SLOTS - 1)];
        if (!c->tenant[0]) {
            snprintf(c->tenant, sizeof c->tenant, "%s", tenant);
            snprintf(c->group, sizeof c->group, "%s", group);
            c->day = day;
            c->metric = m;
            c->n = 1;
            pthread_mutex_unlock(&lock);
            return;
        }
        if (c->day == day && c->metric == (int)m && !strcmp(c->tenant, tenant) && !strcmp(c->group, group)) {
            c->n++;
            pthread_mutex_unlock(&lock);
            return;
        }
    }
    pthread_mutex_unlock(&lock);
    atomic_fetch_add(&dropped, 1);
}

void usage_count_request(const char *tenant, const char *pattern) {
    char group[33];
    if (usage_route_group(pattern, group, sizeof group)) count(tenant, M_REQUESTS, group);
}

void usage_count_webhook(const char *tenant, bool failed) {
    count(tenant, M_WEBHOOK_ATTEMPTS, "");
    if (failed) count(tenant, M_WEBHOOK_FAILURES, "");
}

/* ---- The flush ---- */

/* Adds a batch, given as five parallel arrays; counts of a tenant deleted meanwhile are dropped. */
static const char *const SQL_ADD =
    "INSERT INTO tenant_usage_daily (tenant_id, day, metric, route_group, n) "
    "SELECT u.t, date '1970-01-01' + u.d, u.m, u.g, u.n "
    "FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[], $5::bigint[]) u(t, d, m, g, n) "
    "WHERE EXISTS (SELECT 1 FROM tenants WHERE id = u.t) "
    "ON CONFLICT (tenant_id, day, metric, route_group) DO UPDATE SET n = tenant_usage_daily.n + EXCLUDED.n";

struct buf {
    char *s;
    size_t len, cap;
};

static void put(struct buf *b, const char *text) {
    size_t n = strlen(text);
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->s = realloc(b->s, b->cap);
        if (!b->s) abort();
    }
    memcpy(b->s + b->len, text, n + 1);
    b->len += n;
}

/* Takes every counter out of the table (the caller gives them back if the flush fails). */
static int take_all(struct counter **out) {
    int n = 0;
    struct counter *items = NULL;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < SLOTS; i++)
        if (table[i].tenant[0]) n++;
    if (n) {
        items = malloc((size_t)n * sizeof *items);
        if (!items) abort();
        n = 0;
        for (int i = 0; i < SLOTS; i++)
            if (table[i].tenant[0]) {
                items[n++] = table[i];
                table[i].tenant[0] = '\0';
            }
    }
    pthread_mutex_unlock(&lock);
    *out = items;
    return n;
}

static void give_back(const struct counter *items, int n) {
    for (int i = 0; i < n; i++) {
        /* re-add as one count of n: same slot logic */
        char group[33];
        snprintf(group, sizeof group, "%s", items[i].group);
        pthread_mutex_lock(&lock);
        bool placed = false;
        for (int j = 0; j < SLOTS && !placed; j++) {
            struct counter *c = &table[j];
            if (c->tenant[0] && c->day == items[i].day && c->metric == items[i].metric &&
                !strcmp(c->tenant, items[i].tenant) && !strcmp(c->group, group)) {
                c->n += items[i].n;
                placed = true;
            }
        }
        for (int j = 0; j < SLOTS && !placed; j++)
            if (!table[j].tenant[0]) {
                table[j] = items[i];
                placed = true;
            }
        pthread_mutex_unlock(&lock);
        if (!placed) atomic_fetch_add(&dropped, items[i].n);
    }
}

static bool send_batch(struct db_conn *c, const struct counter *items, int n, char *err, size_t errlen) {
    struct buf a[5] = {{0}};
    for (int k = 0; k < 5; k++) put(&a[k], "{");
    for (int i = 0; i < n; i++) {
        char num[32];
        const char *sep = i ? "," : "";
        for (int k = 0; k < 5; k++) put(&a[k], sep);
        put(&a[0], items[i].tenant);
        snprintf(num, sizeof num, "%d", (int)items[i].day);
        put(&a[1], num);
        put(&a[2], METRIC_NAMES[items[i].metric]);
        put(&a[3], "\""); /* route groups come from the route table: letters, digits, '-' */
        put(&a[3], items[i].group);
        put(&a[3], "\"");
        snprintf(num, sizeof num, "%lld", (long long)items[i].n);
        put(&a[4], num);
    }
    for (int k = 0; k < 5; k++) put(&a[k], "}");
    const char *vals[] = {a[0].s, a[1].s, a[2].s, a[3].s, a[4].s};
    PGresult *r = PQexecParams(c->pg, SQL_ADD, 5, NULL, vals, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) snprintf(err, errlen, "%s", PQresultErrorMessage(r));
    PQclear(r);
    for (int k = 0; k < 5; k++) free(a[k].s);
    return ok;
}

static struct loop flusher = LOOP_INIT;

/* One round: true when everything counted so far reached the database (or there was nothing). */
static bool flush_round(struct db_conn **c, int failures) {
    struct counter *items;
    int n = take_all(&items);
    if (n == 0) return true;
    char err[512] = "";
    if (*c && !db_ok(*c)) {
        db_close(*c);
        *c = NULL;
    }
    if (!*c) *c = db_open(false, err, sizeof err);
    bool ok = *c && send_batch(*c, items, n, err, sizeof err);
    if (!ok) {
        give_back(items, n);
        if (!failures) log_msg(LOG_WARN, NULL, "usage: cannot record counts (%s); retrying with back-off", err);
        db_close(*c);
        *c = NULL;
    } else if (failures) {
        log_msg(LOG_INFO, NULL, "usage: counts are recorded again");
    }
    free(items);
    long lost = atomic_exchange(&dropped, 0);
    if (lost) log_msg(LOG_WARN, NULL, "usage: %ld counts dropped (too many distinct counters between flushes)", lost);
    return ok;
}

static void *flush_main(void *arg) {
    (void)arg;
    struct db_conn *c = NULL;
    int failures = 0;
    while (!loop_stopping(&flusher)) {
        uint32_t rnd;
        random_bytes((unsigned char *)&rnd, sizeof rnd);
        loop_nap(&flusher, failures ? backoff_delay_ms(FLUSH_MS, cfg.backoff_max_ms, failures, rnd) : FLUSH_MS);
        if (loop_stopping(&flusher)) break;
        if (flush_round(&c, failures))
            failures = 0;
        else if (failures < 30)
            failures++;
    }
    flush_round(&c, 1); /* what is left at shutdown: one try */
    db_close(c);
    return NULL;
}

int usage_start(void) {
    return loop_start(&flusher, flush_main, NULL);
}

void usage_stop(void) {
    loop_stop(&flusher);
}
