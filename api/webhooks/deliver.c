/* Webhook dispatcher. Each thread owns a PostgreSQL connection (as the schema owner: it serves
 * every tenant) and a curl multi handle. It claims due deliveries with FOR UPDATE SKIP LOCKED and
 * pushes their due time out by a lease in the same statement, so any number of instances can run
 * together without sending one attempt twice; a crash mid-attempt only delays the retry until the
 * lease ends (at-least-once). Results are recorded per attempt; retries back off exponentially
 * with jitter for about three days; 410 disables the endpoint; 429 honours Retry-After.
 *
 * No network wait happens inside a transaction: the claim is one autocommit statement (its row
 * locks last only for that statement), DNS, connect and HTTP run afterwards in libcurl, and each
 * result is recorded by another single statement. While the database is away the loop backs off
 * (ALLIED_BACKOFF_MIN_MS doubling to ALLIED_BACKOFF_MAX_MS, with jitter), logs the outage once
 * and the recovery once for the whole process, and resumes by itself. */
#include "api/webhooks/deliver.h"
#include "server/edge/usage.h"
#include "server/backoff.h"
#include "server/config.h"
#include "server/data/db.h"
#include "server/edge/metrics.h"
#include "server/log.h"
#include "server/util.h"
#include "api/webhooks/guard.h"
#include "api/webhooks/signing.h"
#include <curl/curl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Attempts in flight at once per dispatcher thread. */
#define INFLIGHT 32

static const int SCHEDULE_S[] = {5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 43200, 86400, 86400};
#define ATTEMPTS (int)(sizeof SCHEDULE_S / sizeof SCHEDULE_S[0] + 1)

DB_STMT(st_claim,
        "WITH due AS (SELECT d.tenant_id, d.id FROM webhook_deliveries d "
        "  WHERE d.status = 'pending' AND d.next_attempt_at <= now() "
        /* a suspended tenant's deliveries wait (migration 0017); they go out once it is resumed */
        "    AND NOT EXISTS (SELECT 1 FROM tenants t WHERE t.id = d.tenant_id AND t.status = 'suspended') "
        "  ORDER BY d.next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) "
        "UPDATE webhook_deliveries d SET attempts = d.attempts + 1, updated_at = now(), "
        "  next_attempt_at = now() + make_interval(secs => $2::int) "
        "FROM due, webhook_endpoints w "
        "WHERE d.tenant_id = due.tenant_id AND d.id = due.id AND w.tenant_id = d.tenant_id AND w.id = d.endpoint_id "
        "RETURNING d.tenant_id, d.id, d.attempts, d.payload, w.url, w.secret, "
        "  CASE WHEN w.previous_secret_until > now() THEN w.previous_secret END, w.enabled, w.id");
/* The attempt disables its endpoint: 410 Gone, or failing for longer than the limit. */
#define DISABLE                                                                                    \
    "($9 OR ($7 <> 'succeeded' AND coalesce(w.failing_since < now() - make_interval(secs => $10::int), false)))"
/* One attempt's outcome: the log row, the delivery, and the endpoint's health, together. */
DB_STMT(st_record,
        "WITH a AS (INSERT INTO webhook_attempts (tenant_id, delivery_id, attempt, status_code, latency_ms, error) "
        "  SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS "
        "    (SELECT 1 FROM webhook_deliveries WHERE tenant_id = $1 AND id = $2)), " /* endpoint deleted meanwhile */
        "d AS (UPDATE webhook_deliveries SET status = $7, next_attempt_at = now() + make_interval(secs => $8::double precision), "
        "  last_status = $4, last_error = $6, last_latency_ms = $5, "
        "  delivered_at = CASE WHEN $7 = 'succeeded' THEN now() ELSE delivered_at END, updated_at = now() "
        "  WHERE tenant_id = $1 AND id = $2) "
        "UPDATE webhook_endpoints w SET "
        "  failing_since = CASE WHEN $7 = 'succeeded' THEN NULL ELSE coalesce(w.failing_since, now()) END, "
        "  enabled = w.enabled AND NOT " DISABLE ", "
        /* disabling is a change of the resource: a new version, so If-Match sees it */
        "  version = w.version + CASE WHEN w.enabled AND " DISABLE " THEN 1 ELSE 0 END, "
        "  updated_at = CASE WHEN w.enabled AND " DISABLE " THEN now() ELSE w.updated_at END, "
        "  disabled_reason = CASE WHEN $9 THEN 'the endpoint answered 410 Gone' "
        "    WHEN $7 <> 'succeeded' AND coalesce(w.failing_since < now() - make_interval(secs => $10::int), false) "
        "    THEN 'every delivery failed for three days' ELSE w.disabled_reason END "
        "WHERE w.tenant_id = $1 AND w.id = $11");

struct job {
    char tenant[37], id[37], endpoint[37];
    int attempt;
    char *payload, *url;
    bool enabled;
    CURL *easy;
    struct curl_slist *headers;
    long retry_after;
    bool refused;           /* the SSRF check stopped a connection (curl's own error text says less) */
    const char *not_sent;   /* why the attempt could not even be made (bad secret, out of memory) */
    char error[CURL_ERROR_SIZE];
};

/* One dispatcher thread's database side: its connection and its back-off state. */
struct loop {
    struct db_conn *c;
    int failures;      /* database failures in a row; 0 = healthy */
    double next_claim; /* monotonic seconds: when to look for due deliveries (or reconnect) next */
};

static pthread_t *threads;
static int nthreads;
static atomic_bool stopping;
static pthread_mutex_t sleep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;

/* Process-wide: the outage is logged once when the first thread sees it, the recovery once. */
static pthread_mutex_t health_lock = PTHREAD_MUTEX_INITIALIZER;
static bool db_down;
static double down_since;
static long down_failures;

int dispatcher_backoff_s(int attempt) {
    return attempt >= 1 && attempt < ATTEMPTS ? SCHEDULE_S[attempt - 1] : -1;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* A database failure: drop a broken connection, wait longer before the next try. */
static void db_failed(struct loop *L, const char *what, const char *err) {
    if (L->c && !db_ok(L->c)) {
        db_close(L->c);
        L->c = NULL;
    }
    L->failures++;
    unsigned char b[4];
    random_bytes(b, sizeof b);
    uint32_t rnd = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    int ms = backoff_delay_ms(cfg.backoff_min_ms, cfg.backoff_max_ms, L->failures, rnd);
    L->next_claim = now_s() + ms / 1000.0;
    pthread_mutex_lock(&health_lock);
    down_failures++;
    if (!db_down) {
        char one[512]; /* libpq's messages span lines: one log line */
        snprintf(one, sizeof one, "%s", err);
        for (char *q = one; *q; q++)
            if (*q == '\n' || *q == '\t') *q = ' ';
        for (size_t n = strlen(one); n > 0 && one[n - 1] == ' ';) one[--n] = '\0';
        db_down = true;
        down_since = now_s();
        log_msg(LOG_WARN, NULL,
                "webhook dispatcher: %s: %s; deliveries wait, retrying with back-off (%d ms doubling to %d ms); "
                "logged once until the database is back",
                what, one, cfg.backoff_min_ms, cfg.backoff_max_ms);
    }
    pthread_mutex_unlock(&health_lock);
}

static void db_worked(struct loop *L) {
    if (L->failures == 0) return;
    L->failures = 0;
    pthread_mutex_lock(&health_lock);
    if (db_down) {
        db_down = false;
        log_msg(LOG_INFO, NULL, "webhook dispatcher: the database is back after %.1f s (%ld failed tries); resuming",
                now_s() - down_since, down_failures);
        down_failures = 0;
    }
    pthread_mutex_unlock(&health_lock);
}

/* Connect-time SSRF check: the address curl is about to connect to, after DNS. Since the check
 * is made on the very address the socket is opened for, a second DNS answer cannot swap it. */
static curl_socket_t open_socket(void *cls, curlsocktype purpose, struct curl_sockaddr *a) {
    struct job *j = cls;
    if (purpose != CURLSOCKTYPE_IPCXN || (!cfg.webhook_allow_private && addr_is_private(&a->addr))) {
        j->refused = true;
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype, a->protocol);
}

static size_t discard(char *p, size_t size, size_t n, void *cls) {
    (void)p;
    (void)cls;
    return size * n;
}

static size_t header(char *p, size_t size, size_t n, void *cls) {
    struct job *j = cls;
    size_t len = size * n;
    if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0) j->retry_after = strtol(p + 12, NULL, 10);
    return len;
}

/* Appends a header line; false (and the list freed) when out of memory. */
static bool add_header(struct curl_slist **list, const char *line) {
    struct curl_slist *l = curl_slist_append(*list, line);
    if (!l) {
        curl_slist_free_all(*list);
        *list = NULL;
        return false;
    }
    *list = l;
    return true;
}

/* Builds the signed request. On failure sets j->not_sent (the attempt is recorded as failed
 * without anything sent, and retried on the usual schedule) and returns false. */
static bool prepare(struct job *j, const char *secret, const char *previous) {
    char ts[24], sig1[128], sig2[128] = "", hdr[400];
    snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
    if (!webhook_sign(secret, j->id, ts, j->payload, sig1, sizeof sig1) ||
        (previous && !webhook_sign(previous, j->id, ts, j->payload, sig2, sizeof sig2))) {
        j->not_sent = "not sent: the endpoint's signing secret is unusable; rotate it";
        return false;
    }
    j->not_sent = "not sent: out of memory while preparing the request";
    if (!(j->easy = curl_easy_init())) return false;
    bool ok = add_header(&j->headers, "Content-Type: application/json") &&
              add_header(&j->headers, "User-Agent: Allied-Webhooks/1");
    snprintf(hdr, sizeof hdr, "webhook-id: %s", j->id);
    ok = ok && add_header(&j->headers, hdr);
    snprintf(hdr, sizeof hdr, "webhook-timestamp: %s", ts);
    ok = ok && add_header(&j->headers, hdr);
    snprintf(hdr, sizeof hdr, "webhook-signature: %s%s%s", sig1, *sig2 ? " " : "", sig2);
    ok = ok && add_header(&j->headers, hdr);
    if (!ok) return false;
    CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                                              \
    if (rc == CURLE_OK) rc = curl_easy_setopt(j->easy, opt, val)
    SET(CURLOPT_URL, j->url);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_PROXY, ""); /* never a proxy from the environment: it would bypass the address check */
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_TIMEOUT_MS, (long)cfg.webhook_timeout_ms);
    SET(CURLOPT_CONNECTTIMEOUT_MS, (long)cfg.webhook_timeout_ms);
    SET(CURLOPT_HTTPHEADER, j->headers);
    SET(CURLOPT_POSTFIELDS, j->payload);
    SET(CURLOPT_OPENSOCKETFUNCTION, open_socket);
    SET(CURLOPT_OPENSOCKETDATA, j);
    SET(CURLOPT_WRITEFUNCTION, discard);
    SET(CURLOPT_HEADERFUNCTION, header);
    SET(CURLOPT_HEADERDATA, j);
    SET(CURLOPT_ERRORBUFFER, j->error);
    SET(CURLOPT_PRIVATE, j);
#undef SET
    if (rc != CURLE_OK) {
        /* the URL was validated at registration; an option refused here is a bug or memory */
        LOG_BUG("webhook %s: curl_easy_setopt failed: %s", j->id, curl_easy_strerror(rc));
        j->not_sent = "not sent: the request could not be prepared";
        return false;
    }
    j->not_sent = NULL;
    return true;
}

/* Attempts made by this process, and those that did not succeed (GET /metrics). */
static atomic_long attempts_total, attempt_failures_total;

static char *render_metrics(void) {
    char *s = NULL;
    if (asprintf(&s,
                 "# HELP allied_webhook_attempts_total Webhook delivery attempts made by this instance.\n"
                 "# TYPE allied_webhook_attempts_total counter\nallied_webhook_attempts_total %ld\n"
                 "# HELP allied_webhook_attempt_failures_total Webhook delivery attempts that did not get a 2xx "
                 "(error, timeout, refusal or other status).\n"
                 "# TYPE allied_webhook_attempt_failures_total counter\nallied_webhook_attempt_failures_total %ld\n",
                 atomic_load(&attempts_total), atomic_load(&attempt_failures_total)) < 0)
        return NULL;
    return s;
}

/* Records the outcome of one attempt; false when the database did not take it (the lease then
 * brings the delivery back: at least once). */
static bool record(struct loop *L, struct job *j, CURLcode rc) {
    long code = 0;
    double total = 0;
    if (j->easy && !j->not_sent) {
        if (curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK) code = 0;
        if (curl_easy_getinfo(j->easy, CURLINFO_TOTAL_TIME, &total) != CURLE_OK) total = 0;
    }
    bool ok = !j->not_sent && rc == CURLE_OK && code >= 200 && code < 300;
    bool gone = !j->not_sent && rc == CURLE_OK && code == 410;
    atomic_fetch_add(&attempts_total, 1);
    if (!ok) atomic_fetch_add(&attempt_failures_total, 1);
    char err[CURL_ERROR_SIZE + 32] = "";
    if (!j->enabled)
        snprintf(err, sizeof err, "the endpoint is disabled");
    else if (j->not_sent)
        snprintf(err, sizeof err, "%s", j->not_sent);
    else if (rc != CURLE_OK && j->refused)
        snprintf(err, sizeof err, "refused: the URL resolves to a private address");
    else if (rc != CURLE_OK)
        snprintf(err, sizeof err, "%s", *j->error ? j->error : curl_easy_strerror(rc));
    else if (!ok)
        snprintf(err, sizeof err, "HTTP %ld", code);
    int base = dispatcher_backoff_s(j->attempt);
    const char *status = ok ? "succeeded" : (gone || base < 0 || !j->enabled) ? "failed" : "pending";
    double delay = 0;
    if (!strcmp(status, "pending")) {
        unsigned char r;
        random_bytes(&r, 1);
        delay = base * (cfg.webhook_retry_scale / 100.0) * (0.8 + 0.4 * r / 255.0); /* ±20 % jitter */
        if (code == 429 && j->retry_after > delay) delay = (double)j->retry_after;
    }
    if (!L->c) return false; /* the database went away during the attempt */
    char attempt[12], scode[12], latency[16], sdelay[32], gives[16], dberr[512];
    snprintf(attempt, sizeof attempt, "%d", j->attempt);
    snprintf(scode, sizeof scode, "%ld", code);
    snprintf(latency, sizeof latency, "%d", (int)(total * 1000));
    snprintf(sdelay, sizeof sdelay, "%.3f", delay);
    snprintf(gives, sizeof gives, "%d", 3 * 86400 * cfg.webhook_retry_scale / 100);
    const char *p[] = {j->tenant, j->id, attempt, code ? scode : NULL, latency, *err ? err : NULL, status,
                       sdelay, gone ? "true" : "false", gives, j->endpoint};
    PGresult *r = db_try_conn(L->c, &st_record, 11, p, dberr, sizeof dberr);
    if (!r) {
        if (db_ok(L->c)) /* the database answered with an error: our bug, not an outage */
            LOG_BUG("webhook %s: recording attempt %d failed: %s", j->id, j->attempt, dberr);
        else
            db_failed(L, "cannot record a webhook attempt", dberr);
        return false;
    }
    PQclear(r);
    usage_count_webhook(j->tenant, !ok);
    return true;
}

static void free_job(struct job *j) {
    if (j->easy) curl_easy_cleanup(j->easy);
    curl_slist_free_all(j->headers);
    free(j->payload);
    free(j->url);
    memset(j, 0, sizeof *j);
}

/* Claims up to `room` due deliveries into free slots and starts them; returns how many were
 * claimed, or -1 when the database failed. The claim commits before anything is sent. */
static int claim(struct loop *L, CURLM *multi, struct job *slots, int room) {
    char limit[8], lease[12], err[512];
    snprintf(limit, sizeof limit, "%d", room);
    snprintf(lease, sizeof lease, "%d", cfg.webhook_timeout_ms / 1000 + 2); /* > one attempt */
    const char *p[] = {limit, lease};
    PGresult *r = db_try_conn(L->c, &st_claim, 2, p, err, sizeof err);
    if (!r) {
        db_failed(L, "cannot claim due deliveries", err);
        return -1;
    }
    db_worked(L);
    int n = PQntuples(r), k = 0;
    for (int i = 0; i < n; i++) {
        while (slots[k].payload) k++; /* a free slot: there are at least `room` */
        struct job *j = &slots[k];
        memset(j, 0, sizeof *j);
        snprintf(j->tenant, sizeof j->tenant, "%s", PQgetvalue(r, i, 0));
        snprintf(j->id, sizeof j->id, "%s", PQgetvalue(r, i, 1));
        j->attempt = atoi(PQgetvalue(r, i, 2));
        j->payload = strdup(PQgetvalue(r, i, 3));
        j->url = strdup(PQgetvalue(r, i, 4));
        j->enabled = PQgetvalue(r, i, 7)[0] == 't';
        snprintf(j->endpoint, sizeof j->endpoint, "%s", PQgetvalue(r, i, 8));
        if (!j->payload || !j->url) { /* out of memory: the lease brings it back */
            LOG_BUG("webhook %s: out of memory", j->id);
            free_job(j);
            continue;
        }
        if (!j->enabled || !prepare(j, PQgetvalue(r, i, 5), PQgetisnull(r, i, 6) ? NULL : PQgetvalue(r, i, 6))) {
            record(L, j, CURLE_OK); /* disabled, or could not be prepared: recorded at once */
            free_job(j);
            continue;
        }
        CURLMcode mc = curl_multi_add_handle(multi, j->easy);
        if (mc != CURLM_OK) {
            LOG_BUG("webhook %s: curl_multi_add_handle failed: %s", j->id, curl_multi_strerror(mc));
            j->not_sent = "not sent: the request could not be started";
            record(L, j, CURLE_OK);
            free_job(j);
        }
    }
    PQclear(r);
    return n;
}

/* Records every finished transfer and frees its slot; returns how many finished. */
static int reap(struct loop *L, CURLM *multi) {
    CURLMsg *m;
    int left, done = 0;
    while ((m = curl_multi_info_read(multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        struct job *j = NULL;
        if (curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j) != CURLE_OK || !j) {
            LOG_BUG("a finished webhook transfer has no job");
            continue;
        }
        CURLcode rc = m->data.result;
        CURLMcode mc = curl_multi_remove_handle(multi, j->easy);
        if (mc != CURLM_OK) LOG_BUG("curl_multi_remove_handle failed: %s", curl_multi_strerror(mc));
        record(L, j, rc);
        free_job(j);
        done++;
    }
    return done;
}

/* Sleeps until `until` (monotonic seconds) unless the dispatcher is stopping (woken at once). */
static void nap(double until) {
    double left = until - now_s();
    if (left <= 0) return;
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    long long ns = (long long)t.tv_nsec + (long long)(left * 1e9);
    t.tv_sec += (time_t)(ns / 1000000000LL);
    t.tv_nsec = (long)(ns % 1000000000LL);
    pthread_mutex_lock(&sleep_lock);
    if (!atomic_load(&stopping)) pthread_cond_timedwait(&wake, &sleep_lock, &t);
    pthread_mutex_unlock(&sleep_lock);
}

/* A pipeline, not batches: each finished attempt is recorded at once and its slot refilled, so
 * a receiver that hangs holds one slot until its timeout, never the deliveries behind it. */
static void *dispatcher_main(void *arg) {
    (void)arg;
    CURLM *multi = curl_multi_init();
    if (!multi) {
        LOG_BUG("curl_multi_init failed: this webhook dispatcher thread does not run");
        return NULL;
    }
    struct loop L = {0};
    struct job slots[INFLIGHT];
    memset(slots, 0, sizeof slots);
    int inflight = 0;
    while (!atomic_load(&stopping) || inflight > 0) {
        bool due = !atomic_load(&stopping) && inflight < INFLIGHT && now_s() >= L.next_claim;
        if (due && !L.c) {
            char err[512];
            if (!(L.c = db_open(false, err, sizeof err))) {
                db_failed(&L, "cannot connect to the database", err);
                due = false;
            }
        }
        if (due) {
            int room = INFLIGHT - inflight, n = claim(&L, multi, slots, room);
            /* idle: look again in a moment; a full claim goes on at once; a failure set the back-off */
            if (n >= 0) L.next_claim = now_s() + (n < room ? cfg.webhook_poll_ms / 1000.0 : 0);
        }
        int running = 0;
        CURLMcode mc = curl_multi_perform(multi, &running);
        if (mc != CURLM_OK) LOG_BUG("curl_multi_perform failed: %s", curl_multi_strerror(mc));
        reap(&L, multi);
        inflight = 0;
        for (int i = 0; i < INFLIGHT; i++) inflight += slots[i].easy != NULL;
        if (inflight > 0) {
            mc = curl_multi_poll(multi, NULL, 0, 50, NULL);
            if (mc != CURLM_OK) {
                LOG_BUG("curl_multi_poll failed: %s", curl_multi_strerror(mc));
                nap(now_s() + 0.05); /* never spin on a broken poll */
            }
        } else if (!atomic_load(&stopping))
            nap(L.next_claim); /* until due or reconnect time, woken early on stop */
    }
    curl_multi_cleanup(multi);
    db_close(L.c);
    return NULL;
}

int dispatcher_start(void) {
    metrics_add_source(render_metrics); /* zeros too where this instance sends nothing */
    if (cfg.webhook_workers == 0) return 0;
    CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) {
        log_msg(LOG_ERROR, NULL, "webhook dispatcher: curl_global_init failed: %s", curl_easy_strerror(rc));
        return -1;
    }
    threads = calloc((size_t)cfg.webhook_workers, sizeof *threads);
    if (!threads) return -1;
    for (int i = 0; i < cfg.webhook_workers; i++) {
        if (pthread_create(&threads[i], NULL, dispatcher_main, NULL) != 0) return -1;
        nthreads++;
    }
    return 0;
}

void dispatcher_stop(void) {
    pthread_mutex_lock(&sleep_lock);
    atomic_store(&stopping, true);
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&sleep_lock);
    for (int i = 0; i < nthreads; i++) pthread_join(threads[i], NULL);
    free(threads);
    threads = NULL;
    if (nthreads) curl_global_cleanup();
    nthreads = 0;
}
