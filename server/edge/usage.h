/* Usage per tenant, kept cheaply: each instance counts in memory (requests per UTC day and route
 * group, webhook attempts and failures per day) and a background thread adds the counts to the
 * tenant_usage_daily table every few seconds with upserts (migration 0017), retrying with back-off
 * while the database is away — never a row or a statement per request. */
#ifndef ALLIED_USAGE_H
#define ALLIED_USAGE_H
#include <stdbool.h>

/* The route group of a route pattern: the first path segment after /v1 ("partners" for
 * "/v1/partners/{id}"), written to `out` (n bytes); false for a pattern outside /v1. */
bool usage_route_group(const char *pattern, char *out, unsigned n);

/* Counts one request of `tenant` to a route of `pattern` (no-op outside /v1). */
void usage_count_request(const char *tenant, const char *pattern);
/* Counts one webhook attempt of `tenant`, and a failure if `failed`. */
void usage_count_webhook(const char *tenant, bool failed);

/* The flush thread (a background service of the app). 0, or -1 if it cannot start. */
int usage_start(void);
/* Flushes what is left (one try) and stops the thread. */
void usage_stop(void);
#endif
