/* The webhook dispatcher: threads inside `allied serve` that send due deliveries. */
#ifndef ALLIED_DISPATCHER_H
#define ALLIED_DISPATCHER_H

/* Starts cfg.webhook_workers threads (none if 0). */
int dispatcher_start(void);
/* Lets in-flight attempts finish (bounded by the request timeout) and stops. */
void dispatcher_stop(void);
/* Seconds to wait before attempt number `attempt` + 1 (1-based), before scale and jitter, or -1
 * when the schedule (about three days) is exhausted. */
int dispatcher_backoff_s(int attempt);
#endif
