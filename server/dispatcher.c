/* Webhook dispatcher. Each thread owns a PostgreSQL connection (as the schema owner: it serves
 * every tenant) and a curl multi handle. It claims due deliveries with FOR UPDATE SKIP LOCKED and
 * pushes their due time out by a lease in the same statement, so any number of instances can run
 * together without sending one attempt twice; a crash mid-attempt only delays the retry until the
 * lease ends (at-least-once). Results are recorded per attempt; retries back off exponentially
 * with jitter for about three days; 410 disables the endpoint; 429 honours Retry-After. */
#include "server/dispatcher.h"
#include "server/config.h"
#include "server/db.h"
#include "server/log.h"
#include "server/util.h"
#include "server/webhook_sign.h"
#include <curl/curl.h>
#include <pthread.h>
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
    char *payload, *url, *signature;
    bool enabled;
    CURL *easy;
    struct curl_slist *headers;
    long retry_after;
    bool refused; /* the SSRF check stopped the connection (curl's own error text says less) */
    char error[CURL_ERROR_SIZE];
};

static pthread_t *threads;
static int nthreads;
static atomic_bool stopping;
static pthread_mutex_t sleep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;

int dispatcher_backoff_s(int attempt) {
    return attempt >= 1 && attempt < ATTEMPTS ? SCHEDULE_S[attempt - 1] : -1;
}

/* Connect-time SSRF check: the address curl is about to connect to, after DNS. */
static curl_socket_t open_socket(void *cls, curlsocktype purpose, struct curl_sockaddr *a) {
    struct job *j = cls;
    (void)purpose;
    if (!cfg.webhook_allow_private && addr_is_private(&a->addr)) {
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

static void prepare(struct job *j, const char *secret, const char *previous) {
    char ts[24], sig1[128], sig2[128] = "", hdr[400];
    snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
    webhook_sign(secret, j->id, ts, j->payload, sig1, sizeof sig1);
    if (previous) webhook_sign(previous, j->id, ts, j->payload, sig2, sizeof sig2);
    j->easy = curl_easy_init();
    j->headers = curl_slist_append(NULL, "Content-Type: application/json");
    j->headers = curl_slist_append(j->headers, "User-Agent: Allied-Webhooks/1");
    snprintf(hdr, sizeof hdr, "webhook-id: %s", j->id);
    j->headers = curl_slist_append(j->headers, hdr);
    snprintf(hdr, sizeof hdr, "webhook-timestamp: %s", ts);
    j->headers = curl_slist_append(j->headers, hdr);
    snprintf(hdr, sizeof hdr, "webhook-signature: %s%s%s", sig1, *sig2 ? " " : "", sig2);
    j->headers = curl_slist_append(j->headers, hdr);
    curl_easy_setopt(j->easy, CURLOPT_URL, j->url);
    curl_easy_setopt(j->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(j->easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(j->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(j->easy, CURLOPT_TIMEOUT_MS, (long)cfg.webhook_timeout_ms);
    curl_easy_setopt(j->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)cfg.webhook_timeout_ms);
    curl_easy_setopt(j->easy, CURLOPT_HTTPHEADER, j->headers);
    curl_easy_setopt(j->easy, CURLOPT_POSTFIELDS, j->payload);
    curl_easy_setopt(j->easy, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(j->easy, CURLOPT_OPENSOCKETDATA, j);
    curl_easy_setopt(j->easy, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(j->easy, CURLOPT_HEADERFUNCTION, header);
    curl_easy_setopt(j->easy, CURLOPT_HEADERDATA, j);
    curl_easy_setopt(j->easy, CURLOPT_ERRORBUFFER, j->error);
    curl_easy_setopt(j->easy, CURLOPT_PRIVATE, j);
}

/* Records the outcome of one attempt. */
static void record(struct db_conn *c, struct job *j, CURLcode rc) {
    long code = 0;
    double total = 0;
    if (j->easy) {
        curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_getinfo(j->easy, CURLINFO_TOTAL_TIME, &total);
    }
    bool ok = rc == CURLE_OK && code >= 200 && code < 300, gone = rc == CURLE_OK && code == 410;
    char err[CURL_ERROR_SIZE + 32] = "";
    if (!j->enabled)
        snprintf(err, sizeof err, "the endpoint is disabled");
    else if (j->refused)
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
    char attempt[12], scode[12], latency[16], sdelay[32], gives[16];
    snprintf(attempt, sizeof attempt, "%d", j->attempt);
    snprintf(scode, sizeof scode, "%ld", code);
    snprintf(latency, sizeof latency, "%d", (int)(total * 1000));
    snprintf(sdelay, sizeof sdelay, "%.3f", delay);
    snprintf(gives, sizeof gives, "%d", 3 * 86400 * cfg.webhook_retry_scale / 100);
    const char *p[] = {j->tenant, j->id, attempt, code ? scode : NULL, latency, *err ? err : NULL, status,
                       sdelay, gone ? "true" : "false", gives, j->endpoint};
    PQclear(db_exec_conn(c, &st_record, 11, p));
}

static void free_job(struct job *j) {
    if (j->easy) curl_easy_cleanup(j->easy);
    curl_slist_free_all(j->headers);
    free(j->payload);
    free(j->url);
}

/* Claims up to `room` due deliveries into free slots and starts them; returns how many were
 * claimed, or -1 when the database is away. */
static int claim(struct db_conn *c, CURLM *multi, struct job *slots, int room) {
    char limit[8], lease[12];
    snprintf(limit, sizeof limit, "%d", room);
    snprintf(lease, sizeof lease, "%d", cfg.webhook_timeout_ms / 1000 + 2); /* > one attempt */
    const char *p[] = {limit, lease};
    PGresult *r = db_exec_conn(c, &st_claim, 2, p);
    if (!r) return -1;
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
        if (!j->enabled) { /* recorded as failed at once */
            record(c, j, CURLE_OK);
            free_job(j);
            memset(j, 0, sizeof *j);
            continue;
        }
        prepare(j, PQgetvalue(r, i, 5), PQgetisnull(r, i, 6) ? NULL : PQgetvalue(r, i, 6));
        curl_multi_add_handle(multi, j->easy);
    }
    PQclear(r);
    return n;
}

/* Records every finished transfer and frees its slot; returns how many finished. */
static int reap(struct db_conn *c, CURLM *multi) {
    CURLMsg *m;
    int left, done = 0;
    while ((m = curl_multi_info_read(multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        struct job *j = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
        CURLcode rc = m->data.result;
        curl_multi_remove_handle(multi, j->easy);
        record(c, j, rc);
        free_job(j);
        memset(j, 0, sizeof *j);
        done++;
    }
    return done;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* A pipeline, not batches: each finished attempt is recorded at once and its slot refilled, so
 * a receiver that hangs holds one slot until its timeout, never the deliveries behind it. */
static void *dispatcher_main(void *arg) {
    (void)arg;
    CURLM *multi = curl_multi_init();
    struct db_conn *c = NULL;
    struct job slots[INFLIGHT];
    memset(slots, 0, sizeof slots);
    int inflight = 0;
    double next_claim = 0;
    while (!atomic_load(&stopping) || inflight > 0) {
        if (c && !db_ok(c) && inflight == 0) {
            db_close(c);
            c = NULL;
        }
        if (!c) {
            char err[512];
            if (!(c = db_open(false, err, sizeof err))) log_msg(LOG_WARN, NULL, "webhook dispatcher: %s", err);
        }
        if (c && !atomic_load(&stopping) && inflight < INFLIGHT && now_s() >= next_claim) {
            int room = INFLIGHT - inflight, n = claim(c, multi, slots, room);
            /* idle, or the database is away: poll again in a moment; a full claim goes on at once */
            next_claim = now_s() + (n < 0 ? 1.0 : n < room ? 0.2 : 0);
        }
        int running = 0;
        curl_multi_perform(multi, &running);
        if (c) reap(c, multi);
        inflight = 0;
        for (int i = 0; i < INFLIGHT; i++) inflight += slots[i].easy != NULL;
        if (inflight > 0)
            curl_multi_poll(multi, NULL, 0, 50, NULL);
        else if (!atomic_load(&stopping) && now_s() < next_claim) { /* nap, woken early on stop */
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += (long)((next_claim - now_s()) * 1e9);
            until.tv_sec += until.tv_nsec / 1000000000L;
            until.tv_nsec %= 1000000000L;
            pthread_mutex_lock(&sleep_lock);
            if (!atomic_load(&stopping)) pthread_cond_timedwait(&wake, &sleep_lock, &until);
            pthread_mutex_unlock(&sleep_lock);
        }
    }
    curl_multi_cleanup(multi);
    db_close(c);
    return NULL;
}

int dispatcher_start(void) {
    if (cfg.webhook_workers == 0) return 0;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    threads = calloc((size_t)cfg.webhook_workers, sizeof *threads);
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
