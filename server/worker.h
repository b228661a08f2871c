/* Database workers: each thread owns one PostgreSQL connection and runs queued requests. */
#ifndef ALLIED_WORKER_H
#define ALLIED_WORKER_H
#include "server/request.h"

/* Starts `n` workers. Connections are opened lazily, so a database outage at start is survived. */
int workers_start(int n);
/* Queues a suspended request; a worker runs dispatch_run() on it and resumes it. */
void worker_submit(struct request *rq);
/* Finishes queued work and stops every worker. */
void workers_stop(void);
/* Gauges for /metrics. */
int workers_busy(void);
int workers_total(void);
long workers_queue_depth(void);
#endif
