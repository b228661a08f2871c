/* The database worker pool. A blocking query never stalls an HTTP event thread: the connection
 * is suspended, a worker (with its own libpq connection, never shared) runs the request, and
 * resumes it. A lost connection is dropped and reopened on the next request. */
#include "server/worker.h"
#include "server/db.h"
#include "server/dispatch.h"
#include "server/http.h"
#include "server/log.h"
#include "server/reply.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct worker {
    pthread_t thread;
    struct db_conn *db;
};

static struct worker *workers;
static int nworkers;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ready = PTHREAD_COND_INITIALIZER;
static struct request *head, *tail;
static long depth;
static bool stopping;
static atomic_int busy;

void worker_submit(struct request *rq) {
    rq->next_job = NULL;
    pthread_mutex_lock(&lock);
    if (tail)
        tail->next_job = rq;
    else
        head = rq;
    tail = rq;
    depth++;
    pthread_cond_signal(&ready);
    pthread_mutex_unlock(&lock);
}

static struct request *take(void) {
    pthread_mutex_lock(&lock);
    while (!head && !stopping) pthread_cond_wait(&ready, &lock);
    struct request *rq = head;
    if (rq) {
        head = rq->next_job;
        if (!head) tail = NULL;
        depth--;
    }
    pthread_mutex_unlock(&lock);
    return rq;
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
        if (!w->db) {
            atomic_fetch_add(&db_errors_total, 1);
            log_msg(LOG_WARN, NULL, "cannot connect to the database: %s", err);
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
    dispatch_run(rq);
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
        dispatch_run(rq);
    }
    /* A transaction can only be open here through a bug; never hand it to the next request. */
    if (PQtransactionStatus(w->db->pg) != PQTRANS_IDLE && db_ok(w->db)) {
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
        http_resume(rq);
    }
    db_close(w->db);
    return NULL;
}

int workers_start(int n) {
    workers = calloc((size_t)n, sizeof *workers);
    nworkers = n;
    for (int i = 0; i < n; i++)
        if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0) return -1;
    return 0;
}

void workers_stop(void) {
    pthread_mutex_lock(&lock);
    stopping = true;
    pthread_cond_broadcast(&ready);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < nworkers; i++) pthread_join(workers[i].thread, NULL);
    free(workers);
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
