/* Database workers: each thread owns one PostgreSQL connection and runs queued requests. */
#ifndef ALLIED_WORKER_H
#define ALLIED_WORKER_H
#include "server/edge/request.h"
#include <stdatomic.h>
#include <stdbool.h>

/* What the pool does with a request, given by the process at start so that the pool knows nothing
 * of HTTP: run it (the dispatcher), hand it back (resume its connection), and the key prefix that
 * picks its fairness lane (NULL without a usable key). */
struct worker_hooks {
    void (*run)(struct request *rq);
    void (*resume)(struct request *rq);
    const char *(*lane_prefix)(struct request *rq);
};

/* Starts `n` workers. Connections are opened lazily, so a database outage at start is survived. */
int workers_start(int n, const struct worker_hooks *hooks);
/* Queues a suspended request; a worker runs it and resumes it (the hooks). False (nothing
 * queued) when the queue, or the caller's tenant's share of it, is full, or the pool is stopping:
 * answer 503. A request
 * that waits longer than ALLIED_QUEUE_TIMEOUT_MS is answered 503 and resumed by the queue. */
bool worker_submit(struct request *rq);
/* Answers the queued requests 503, lets each worker finish the one it runs, and stops them; later
 * submissions are refused. Call while the HTTP daemon still runs (it sends those answers). */
void workers_stop(void);
/* Runs `rq` on the calling (HTTP) thread with a connection of that thread's own, bypassing the
 * queue and the per-tenant cap: ALLIED_BENCH_INLINE_DB, to measure what the hand-off costs. */
void worker_run_inline(struct request *rq);
/* Gauges for /metrics. */
int workers_busy(void);
int workers_total(void);
long workers_queue_depth(void);
extern atomic_long queue_rejected_total, queue_expired_total;
#endif
