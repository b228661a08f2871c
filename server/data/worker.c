/* The database worker pool. A blocking query never stalls an HTTP event thread: the connection
 * is suspended, a worker (with its own libpq connection, never shared) runs the request, and
 * resumes it. A lost connection is dropped and reopened on the next request. */
#include "server/data/worker.h"
#include "server/config.h"
#include "server/data/db.h"
#include "server/log.h"
#include "server/edge/reply.h"
#include "server/util.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct worker {
    pthread_t thread;
    struct db_conn *db;
};

/* Fair scheduling. Each queued request belongs to a lane: its tenant when the key has been seen
 * before, else its key prefix, else one lane for requests without a usable key. One lane may hold
 * at most `lane_cap` workers at once and queue at most cfg.queue_per_tenant requests, so a tenant
 * whose requests wait on locks (or flood) cannot take every connection from the others. */
struct lane {
    uint64_t key;
    int queued, running;
};

static struct worker_hooks hooks;
static struct worker *workers;
static int nworkers, lane_cap;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ready = PTHREAD_COND_INITIALIZER;
static pthread_cond_t reaper_wake = PTHREAD_COND_INITIALIZER;
static pthread_t reaper;
static struct request *head, *tail;
static long depth;
static bool stopping;
static atomic_int busy;
static atomic_bool db_down;
static struct lane *lanes;
static int nlanes, lanes_cap;
atomic_long queue_rejected_total, queue_expired_total;

/* Key prefix -> tenant, learned from successful authentications; only ever used to pick a lane,
 * never to authorize, so a stale or overwritten entry costs fairness at most. */
#define TENANT_CACHE 1024
static struct {
    char prefix[sizeof ((struct request *)0)->key_prefix];
    uint64_t tenant;
} tenant_cache[TENANT_CACHE];

static uint64_t hash_str(const char *s) {
    uint64_t h = fnv1a(FNV_OFFSET, s);
    return h ? h : 1;
}

/* Called with `lock` held. */
static uint64_t lane_key(const char *prefix) {
    if (!prefix) return 0;
    uint64_t h = hash_str(prefix);
    unsigned slot = (unsigned)(h % TENANT_CACHE);
    if (strcmp(tenant_cache[slot].prefix, prefix) == 0) return tenant_cache[slot].tenant;
    return h;
}

/* Called with `lock` held. */
static void remember_tenant(struct request *rq) {
    const char *prefix = hooks.lane_prefix(rq);
    if (!prefix || !rq->auth.ok) return;
    unsigned slot = (unsigned)(hash_str(prefix) % TENANT_CACHE);
    snprintf(tenant_cache[slot].prefix, sizeof tenant_cache[slot].prefix, "%s", prefix);
    tenant_cache[slot].tenant = hash_str(rq->auth.tenant_id);
}

/* Called with `lock` held. Lanes exist while they have queued or running requests. */
static struct lane *lane_get(uint64_t key, bool create) {
    for (int i = 0; i < nlanes; i++)
        if (lanes[i].key == key) return &lanes[i];
    if (!create) return NULL;
    if (nlanes == lanes_cap) {
        lanes_cap = lanes_cap ? lanes_cap * 2 : 64;
        lanes = realloc(lanes, (size_t)lanes_cap * sizeof *lanes);
        if (!lanes) abort();
    }
    lanes[nlanes] = (struct lane){.key = key};
    return &lanes[nlanes++];
}

static void lane_release(struct lane *l) {
    if (l->queued == 0 && l->running == 0) *l = lanes[--nlanes];
}

bool worker_submit(struct request *rq) {
    const char *prefix = hooks.lane_prefix(rq); /* before the lock: parsed once per request */
    rq->next_job = NULL;
    rq->queued_ns = now_ns();
    pthread_mutex_lock(&lock);
    if (stopping) { /* workers_stop has begun: nothing more is run */
        pthread_mutex_unlock(&lock);
        return false;
    }
    rq->lane = lane_key(prefix);
    struct lane *l = lane_get(rq->lane, true);
    if (depth >= cfg.queue_max || l->queued >= cfg.queue_per_tenant) {
        lane_release(l);
        pthread_mutex_unlock(&lock);
        atomic_fetch_add(&queue_rejected_total, 1);
        return false;
    }
    l->queued++;
    if (tail)
        tail->next_job = rq;
    else
        head = rq;
    tail = rq;
    depth++;
    /* Wake a worker only if the lane has a worker to spare for this job; otherwise the worker that
     * finishes one of the lane's jobs takes it (a woken worker would find nothing and sleep again:
     * two context switches per request for nothing, measured on one tenant's load). */
    if (l->running + l->queued <= lane_cap) pthread_cond_signal(&ready);
    pthread_mutex_unlock(&lock);
    return true;
}

/* Called with `lock` held: unlinks `rq` (whose predecessor is `prev`) from the queue. */
static void unlink_job(struct request *prev, struct request *rq) {
    if (prev)
        prev->next_job = rq->next_job;
    else
        head = rq->next_job;
    if (tail == rq) tail = prev;
    depth--;
}

/* The oldest queued request whose lane has a worker to spare. */
static struct request *take(void) {
    pthread_mutex_lock(&lock);
    for (;;) {
        struct request *prev = NULL;
        for (struct request *rq = head; rq; prev = rq, rq = rq->next_job) {
            struct lane *l = lane_get(rq->lane, false);
            if (l->running >= lane_cap) continue;
            unlink_job(prev, rq);
            l->queued--;
            l->running++;
            pthread_mutex_unlock(&lock);
            return rq;
        }
        if (stopping && !head) break;
        pthread_cond_wait(&ready, &lock);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

static void finished(struct request *rq) {
    pthread_mutex_lock(&lock);
    remember_tenant(rq);
    struct lane *l = lane_get(rq->lane, false);
    l->running--;
    lane_release(l);
    /* No wake-up: the one job this frees a lane slot for is taken by this worker's next take().
     * (When stopping, the queue is empty and stays so: workers_stop.) */
    pthread_mutex_unlock(&lock);
}

/* Unlinks the jobs queued before `limit` (with `lock` held); returns them as a list. */
static struct request *unlink_expired(uint64_t limit) {
    struct request *expired = NULL, *prev = NULL, *next;
    for (struct request *rq = head; rq; rq = next) {
        next = rq->next_job;
        if (rq->queued_ns > limit) {
            prev = rq;
            continue;
        }
        unlink_job(prev, rq);
        struct lane *l = lane_get(rq->lane, false);
        l->queued--;
        lane_release(l);
        rq->next_job = expired;
        expired = rq;
    }
    return expired;
}

/* Answers each expired job 503 and hands it back to the HTTP side (without `lock`). */
static void reply_expired(struct request *expired) {
    for (struct request *rq = expired, *next; rq; rq = next) {
        next = rq->next_job;
        atomic_fetch_add(&queue_expired_total, 1);
        reply_problem(rq, P_UNAVAILABLE, "the server is busy; no database worker was free within %d ms",
                      cfg.queue_timeout_ms);
        hooks.resume(rq);
    }
}

/* Answers 503 to requests that waited longer than cfg.queue_timeout_ms for a worker, even when
 * every worker is stuck; a client is never left waiting on an unbounded queue. */
static void *reaper_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&lock);
    while (!stopping) {
        struct timespec deadline = realtime_after_ms(50);
        pthread_cond_timedwait(&reaper_wake, &lock, &deadline);
        struct request *expired = unlink_expired(now_ns() - (uint64_t)cfg.queue_timeout_ms * 1000000ULL);
        pthread_mutex_unlock(&lock);
        reply_expired(expired);
        pthread_mutex_lock(&lock);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

/* Makes sure the worker has a live connection; false (and a 503 in rq) if it cannot. */
static bool ensure_connection(struct worker *w, struct request *rq) {
    if (w->db && !db_ok(w->db)) {
        db_close(w->db);
        w->db = NULL;
    }
    if (!w->db) {
        char err[512];
        w->db = db_open(true, err, sizeof err);
        /* An outage is logged once when it starts and once when it ends, not per request. */
        if (!w->db) {
            atomic_fetch_add(&db_errors_total, 1);
            if (!atomic_exchange(&db_down, true))
                log_msg(LOG_WARN, NULL, "cannot connect to the database: %s", err);
        } else if (atomic_exchange(&db_down, false)) {
            log_msg(LOG_INFO, NULL, "the database is reachable again");
        }
    }
    if (!w->db) {
        reply_problem(rq, P_UNAVAILABLE, "the database is unavailable; retry shortly");
        return false;
    }
    return true;
}

static void run_one(struct worker *w, struct request *rq) {
    if (!ensure_connection(w, rq)) return;
    rq->worker = w;
    rq->db = w->db;
    hooks.run(rq);
    /* A connection that died while idle (e.g. PostgreSQL restarted) fails on the request's first
     * statement, before anything was read or written: reconnect and run the request once more. */
    if (rq->db_fail == DBF_CONNECTION && rq->db_ok_calls == 0) {
        db_close(w->db);
        w->db = NULL;
        rq->db = NULL;
        if (!ensure_connection(w, rq)) return;
        rq->db = w->db;
        rq->db_fail = DBF_NONE;
        memset(&rq->auth, 0, sizeof rq->auth);
        reply_reset(rq);
        hooks.run(rq);
    }
    /* A transaction can only be open here through a bug; never hand it to the next request. */
    if (w->db->pipe == PIPE_SYNC_PENDING && rq->db_fail == DBF_NONE && !rq->settle_read) {
        /* a read's sync: read with the next request's first statements, one round trip saved
         * (unless the answer must wait for the read's own writes to commit: settle_read) */
    } else if (!db_settle(w->db)) {
        rq->db_fail = DBF_CONNECTION;
    } else if (PQtransactionStatus(w->db->pg) != PQTRANS_IDLE && db_ok(w->db)) {
        LOG_BUG("request %s left a transaction open", rq->request_id);
        PQclear(PQexec(w->db->pg, "ROLLBACK"));
    }
    if (rq->db_fail == DBF_CONNECTION) {
        db_close(w->db);
        w->db = NULL;
    }
    rq->db = NULL;
    rq->worker = NULL;
}

static void *worker_main(void *arg) {
    struct worker *w = arg;
    struct request *rq;
    while ((rq = take())) {
        atomic_fetch_add(&busy, 1);
        run_one(w, rq);
        atomic_fetch_sub(&busy, 1);
        finished(rq);
        hooks.resume(rq);
    }
    db_close(w->db);
    return NULL;
}

/* ALLIED_BENCH_INLINE_DB: one connection per HTTP thread, closed when the thread ends. */
static pthread_key_t inline_key;
static pthread_once_t inline_once = PTHREAD_ONCE_INIT;
static void inline_free(void *p) {
    struct worker *w = p;
    db_close(w->db);
    free(w);
}
static void inline_key_make(void) {
    if (pthread_key_create(&inline_key, inline_free) != 0) abort();
}

void worker_run_inline(struct request *rq) {
    pthread_once(&inline_once, inline_key_make);
    struct worker *w = pthread_getspecific(inline_key);
    if (!w) {
        if (!(w = calloc(1, sizeof *w))) abort();
        pthread_setspecific(inline_key, w);
    }
    atomic_fetch_add(&busy, 1);
    run_one(w, rq);
    atomic_fetch_sub(&busy, 1);
}

int workers_start(int n, const struct worker_hooks *h) {
    hooks = *h;
    workers = calloc((size_t)n, sizeof *workers);
    nworkers = n;
    lane_cap = cfg.tenant_workers > 0 ? cfg.tenant_workers : (n > 1 ? n - 1 : 1);
    if (lane_cap > n) lane_cap = n;
    if (pthread_create(&reaper, NULL, reaper_main, NULL) != 0) return -1;
    for (int i = 0; i < n; i++)
        if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0) return -1;
    return 0;
}

void workers_stop(void) {
    pthread_mutex_lock(&lock);
    stopping = true;
    /* Queued requests are answered 503 now, while libmicrohttpd still runs to send it; the ones
     * running finish (each bounded by its statement and lock time limits). */
    struct request *queued = unlink_expired(UINT64_MAX);
    pthread_mutex_unlock(&lock);
    for (struct request *rq = queued, *next; rq; rq = next) {
        next = rq->next_job;
        reply_problem(rq, P_UNAVAILABLE, "the server is shutting down; retry");
        hooks.resume(rq);
    }
    pthread_mutex_lock(&lock);
    pthread_cond_broadcast(&ready);
    pthread_cond_signal(&reaper_wake);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < nworkers; i++) pthread_join(workers[i].thread, NULL);
    pthread_join(reaper, NULL);
    free(workers);
    free(lanes);
    lanes = NULL;
    nlanes = lanes_cap = 0;
    workers = NULL;
    nworkers = 0;
}

int workers_busy(void) {
    return atomic_load(&busy);
}

int workers_total(void) {
    return nworkers;
}

long workers_queue_depth(void) {
    pthread_mutex_lock(&lock);
    long d = depth;
    pthread_mutex_unlock(&lock);
    return d;
}
