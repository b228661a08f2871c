/* Database workers: each thread owns one PostgreSQL connection and runs queued requests. */
#ifndef ALLIED_WORKER_H
#define ALLIED_WORKER_H
#include "server/request.h"
#include <stdatomic.h>
#include <stdbool.h>

/* Starts `n` workers. Connections are opened lazily, so a database outage at start is survived. */
int workers_start(int n);
/* Queues a suspended request; a worker runs dispatch_run() on it and resumes it. False (nothing
 * queued) when the queue, or the caller's tenant's share of it, is full: answer 503. A request
 * that waits longer than ALLIED_QUEUE_TIMEOUT_MS is answered 503 and resumed by the queue. */
bool worker_submit(struct request *rq);
/* Finishes queued work and stops every worker. */
void workers_stop(void);
/* Gauges for /metrics. */
int workers_busy(void);
int workers_total(void);
long workers_queue_depth(void);
extern atomic_long queue_rejected_total, queue_expired_total;
#endif
