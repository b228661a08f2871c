/* Rate limits: token buckets per API key and per tenant, a per-tenant minute budget shared by
 * every instance through the database, and a throttle on failed authentication per client
 * address and per key prefix. The arithmetic (GCRA buckets, budget windows) is pure and takes
 * the clock as an argument; the tables, the request hooks and the flush thread sit around it. */
#ifndef ALLIED_RATELIMIT_H
#define ALLIED_RATELIMIT_H
#include "server/edge/request.h"
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* ---- Pure arithmetic (tests/unit/test_ratelimit.c) ---- */

/* A token bucket as GCRA: `burst` tokens, refilled at `per` tokens every `seconds` s.
 * interval_ns == 0 means "no limit". A bucket's whole state is its theoretical arrival time
 * `tat` (ns on the caller's clock): tat <= now means the bucket is full. */
struct rl_limit {
    uint64_t interval_ns; /* time to earn one token */
    uint64_t burst;       /* capacity in tokens */
};
/* Sets `l` to `per` tokens every `seconds` s with capacity `burst`; per == 0 disables it. */
void rl_limit_init(struct rl_limit *l, long per, long seconds, long burst);
/* Takes one token if there is one: true and *tat advanced; false and *retry_ns set to the wait
 * until one token is back (the bucket is unchanged). */
bool rl_take(const struct rl_limit *l, uint64_t *tat, uint64_t now, uint64_t *retry_ns);
/* Like rl_take, but only says whether it would succeed (and the wait if not). */
bool rl_would_take(const struct rl_limit *l, uint64_t tat, uint64_t now, uint64_t *retry_ns);
/* Takes one token even if the bucket is empty (it stays at empty, never below): for counting
 * failures that already happened. */
void rl_charge(const struct rl_limit *l, uint64_t *tat, uint64_t now);
/* Gives back a token taken by rl_take (the request was refused by another limit). */
void rl_refund(const struct rl_limit *l, uint64_t *tat, uint64_t now);
/* Whole tokens left now. */
uint64_t rl_remaining(const struct rl_limit *l, uint64_t tat, uint64_t now);
/* Nanoseconds until the bucket is full again (0 if full). */
uint64_t rl_reset_ns(uint64_t tat, uint64_t now);
/* Whole seconds a client should wait for `ns`, rounded up, at least 1. */
long rl_seconds_up(uint64_t ns);

/* A fixed one-minute window counted here and summed across instances. `shared` is the sum the
 * database last returned for `window` (it includes what this instance had flushed), `flushing`
 * what is on its way there, `pending` what was counted since. */
struct rl_budget {
    int64_t window; /* minute number: unix seconds / 60 */
    int64_t shared, flushing, pending;
};
/* Counts one request against `limit` in the minute of `unix_s`: true, or false (nothing counted)
 * when the window's estimated use has reached the limit; *retry_s is then the wait until the
 * window ends. A new minute starts the window from zero. */
bool rl_budget_take(struct rl_budget *b, int64_t limit, int64_t unix_s, long *retry_s);
/* Estimated use of the window of `unix_s` (0 for a window not yet seen). */
int64_t rl_budget_used(const struct rl_budget *b, int64_t unix_s);
/* Seconds until the minute of `unix_s` ends (1..60). */
long rl_budget_reset_s(int64_t unix_s);
/* Starts a flush: moves `pending` to `flushing`; returns that count (the window is b->window). */
int64_t rl_budget_flush_begin(struct rl_budget *b);
/* Ends a flush of `window`: on success `shared` becomes the database's `used` (used < 0: the
 * counts are dropped, `shared` stays); on failure the counts go back to `pending`. Does nothing
 * if the window has moved on meanwhile. */
void rl_budget_flush_end(struct rl_budget *b, int64_t window, bool ok, int64_t used);

/* The failed-authentication throttle's key for a client address: IPv4 as text, an IPv6
 * address as its /64 ("2001:db8:1:2::/64", one subscriber's allocation), an IPv4-mapped IPv6
 * address as the IPv4; "unknown" for NULL or another family. */
void rl_address_key(const struct sockaddr *sa, char *out, size_t n);

/* ---- The server's limiter (server/ratelimit.c) ---- */

/* Reads the limits from cfg and allocates the tables. Call once before serving. */
void ratelimit_init(void);
/* Starts the thread that flushes budget counts to the database. Returns 0 or -1. */
int ratelimit_start(void);
void ratelimit_stop(void);

/* Hook in server/http.c before a request is queued to a database worker: refuses (429, returns
 * -1 after replying) a client address or key prefix that is throttled for failed
 * authentication, and a key or tenant already known to be over its limit — without any
 * database work. Returns 0 otherwise (and for public routes). */
int ratelimit_precheck_or_reply(struct request *rq);
/* Hook in server/dispatch.c, given auth_or_reply()'s result `auth_rc`. On a failed
 * authentication (401) counts the failure against the client address and the key prefix and
 * returns -1. On success takes a token from the key's and the tenant's buckets and counts the
 * request against the tenant's minute budget: 0, or -1 after replying 429. */
int ratelimit_auth_or_reply(struct request *rq, int auth_rc);
/* For a sign-in link's token (checked by its handler on a public route; a session cookie's
 * failures are counted like a key's, rq->auth_guess): refuses a client address throttled for
 * failed authentication (429 auth-throttled): 0, or -1 after replying. */
int ratelimit_address_or_reply(struct request *rq);
/* Counts one failed authentication of such a credential (an unknown value: a guess) against the
 * client address (ALLIED_AUTH_FAILURES_PER_ADDRESS). */
void ratelimit_address_failed(struct request *rq);
/* Hook in server/http.c when the response is sent: adds RateLimit-Policy and RateLimit to `resp`
 * when the request was counted (every authenticated response). */
void ratelimit_headers(const struct request *rq, struct MHD_Response *resp);
/* 429 answers by the limit that refused (metrics): per key, per tenant, the tenant's shared minute
 * budget, failed authentications per client address and per key prefix. */
enum { RL_REFUSED_KINDS = 5 };
extern atomic_long ratelimit_refused_total[RL_REFUSED_KINDS];
extern const char *const ratelimit_refused_names[RL_REFUSED_KINDS];
#endif
