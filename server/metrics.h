/* Prometheus metrics: requests by route and status, latency histogram, pool and DB errors. */
#ifndef ALLIED_METRICS_H
#define ALLIED_METRICS_H
#include <stdint.h>

/* Records one finished request; `route` is route_index() (routes_count = unmatched). */
void metrics_observe(int route, int status, uint64_t duration_ns);
/* Renders the exposition text; caller frees. */
char *metrics_render(void);
#endif
