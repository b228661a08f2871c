/* Prometheus metrics: requests by route and status, latency histogram, pool and DB errors. */
#ifndef ALLIED_METRICS_H
#define ALLIED_METRICS_H
#include <stdatomic.h>
#include <stdint.h>

/* Records one finished request; `route` is route_index() (the table's length = unmatched). */
void metrics_observe(int route, int status, uint64_t duration_ns);
/* Renders the exposition text; caller frees. */
char *metrics_render(void);
/* Adds a producer of more exposition text (HELP/TYPE lines and samples, each line ending in \n),
 * called on every scrape after the framework's own metrics; it returns malloc'd text, which the
 * renderer frees. How the product reports what it counts (webhooks) without server/ knowing it.
 * Call before serving; at most METRICS_MAX_SOURCES, and the same one twice counts once. */
#define METRICS_MAX_SOURCES 8
void metrics_add_source(char *(*render)(void));
/* Requests between their first byte and completion (kept by server/edge/http.c). */
extern atomic_long http_inflight;
#endif
