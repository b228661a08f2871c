/* Prometheus metrics: requests by route and status, latency histogram, pool and DB errors. */
#ifndef ALLIED_METRICS_H
#define ALLIED_METRICS_H
#include <stdatomic.h>
#include <stdint.h>

/* Records one finished request; `route` is route_index() (the table's length = unmatched). */
void metrics_observe(int route, int status, uint64_t duration_ns);
/* Renders the exposition text; caller frees. */
char *metrics_render(void);
/* Requests between their first byte and completion (kept by server/edge/http.c). */
extern atomic_long http_inflight;
#endif
