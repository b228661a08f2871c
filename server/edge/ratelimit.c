/* Rate limits and the failed-authentication throttle. Everything a request checks lives in this
 * process (four small hash tables, one mutex each), so a refusal costs no database work; only
 * the per-tenant minute budget is shared between instances, by a thread that adds this
 * instance's counts to the rate_budget table about once a second and reads back the sum. */
#include "server/edge/ratelimit.h"
#include "server/loop.h"
#include "server/backoff.h"
#include "server/edge/auth.h"
#include "server/edge/client_addr.h"
#include "server/config.h"
#include "server/data/db.h"
#include "server/log.h"
#include "server/edge/reply.h"
#include "server/edge/router.h"
#include "server/edge/session_auth.h"
#include "server/util.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define NS 1000000000ull

/* ---- Pure arithmetic ---- */

void rl_limit_init(struct rl_limit *l, long per, long seconds, long burst) {
    if (per <= 0 || seconds <= 0 || burst <= 0) {
        l->interval_ns = 0;
        l->burst = 0;
        return;
    }
    l->interval_ns = (uint64_t)seconds * NS / (uint64_t)per;
    if (l->interval_ns == 0) l->interval_ns = 1;
    l->burst = (uint64_t)burst;
}

/* How far ahead of `now` a bucket may run: the whole burst. */
static uint64_t horizon(const struct rl_limit *l) {
    return l->burst * l->interval_ns;
}

bool rl_would_take(const struct rl_limit *l, uint64_t tat, uint64_t now, uint64_t *retry_ns) {
    if (!l->interval_ns) return true;
    uint64_t next = (tat > now ? tat : now) + l->interval_ns;
    if (next - now <= horizon(l)) return true;
    if (retry_ns) *retry_ns = next - now - horizon(l);
    return false;
}

bool rl_take(const struct rl_limit *l, uint64_t *tat, uint64_t now, uint64_t *retry_ns) {
    if (!l->interval_ns) return true;
    if (!rl_would_take(l, *tat, now, retry_ns)) return false;
    *tat = (*tat > now ? *tat : now) + l->interval_ns;
    return true;
}

void rl_charge(const struct rl_limit *l, uint64_t *tat, uint64_t now) {
    if (!l->interval_ns) return;
    uint64_t next = (*tat > now ? *tat : now) + l->interval_ns;
    *tat = next - now > horizon(l) ? now + horizon(l) : next;
}

void rl_refund(const struct rl_limit *l, uint64_t *tat, uint64_t now) {
    if (!l->interval_ns || *tat <= now) return;
    *tat = *tat - now > l->interval_ns ? *tat - l->interval_ns : now;
}

uint64_t rl_remaining(const struct rl_limit *l, uint64_t tat, uint64_t now) {
    if (!l->interval_ns) return 0;
    uint64_t ahead = tat > now ? tat - now : 0;
    return ahead >= horizon(l) ? 0 : (horizon(l) - ahead) / l->interval_ns;
}

uint64_t rl_reset_ns(uint64_t tat, uint64_t now) {
    return tat > now ? tat - now : 0;
}

long rl_seconds_up(uint64_t ns) {
    long s = (long)((ns + NS - 1) / NS);
    return s < 1 ? 1 : s;
}

static void budget_roll(struct rl_budget *b, int64_t unix_s) {
    int64_t w = unix_s / 60;
    if (b->window != w) *b = (struct rl_budget){.window = w};
}

int64_t rl_budget_used(const struct rl_budget *b, int64_t unix_s) {
    if (b->window != unix_s / 60) return 0;
    return b->shared + b->flushing + b->pending;
}

long rl_budget_reset_s(int64_t unix_s) {
    return (long)(60 - unix_s % 60);
}

bool rl_budget_take(struct rl_budget *b, int64_t limit, int64_t unix_s, long *retry_s) {
    budget_roll(b, unix_s);
    if (limit > 0 && rl_budget_used(b, unix_s) >= limit) {
        if (retry_s) *retry_s = rl_budget_reset_s(unix_s);
        return false;
    }
    b->pending++;
    return true;
}

int64_t rl_budget_flush_begin(struct rl_budget *b) {
    int64_t n = b->pending;
    b->flushing += n;
    b->pending = 0;
    return n;
}

void rl_budget_flush_end(struct rl_budget *b, int64_t window, bool ok, int64_t used) {
    if (b->window != window) return;
    if (ok) {
        if (used >= 0) b->shared = used;
        b->flushing = 0;
    } else {
        b->pending += b->flushing;
        b->flushing = 0;
    }
}

/* ---- Tables ----
 * Bounded open addressing: a key lives in one of PROBE slots after its (seeded) hash. When all
 * of them are taken, an entry that is equivalent to "never seen" (full bucket, nothing to flush)
 * is reused first, else the one used longest ago — so memory is fixed whatever clients send,
 * and what is forgotten is what matters least. */
#define SLOTS 16384 /* per table, a power of two */
#define PROBE 8

struct entry {
    char key[48];            /* "" = free */
    char tenant[37];         /* keys: the tenant this key authenticated for (to pre-check it) */
    uint64_t tat;            /* the bucket */
    uint64_t seen_ns;        /* last use */
    struct rl_budget budget; /* tenants only */
    struct rl_limit own;     /* tenants only: the operator's limit for it (0 = the default) */
};

struct table {
    pthread_mutex_t lock;
    struct entry *slots;
};

static struct table keys, tenants, fail_addr, fail_prefix;
static struct rl_limit lim_key, lim_tenant, lim_fail_addr, lim_fail_prefix;
static uint64_t seed;

/* A tenant's bucket limit: its own (tenants.rate_per_second, travelling with its key), else the
 * instance default. */
static const struct rl_limit *tenant_limit(const struct entry *e) {
    return e->own.interval_ns ? &e->own : &lim_tenant;
}

/* Adopts the limit the request's key carries for its tenant. */
static void tenant_adopt(struct entry *e, long rate) {
    if (rate > 0)
        rl_limit_init(&e->own, rate, 1, rate);
    else
        e->own = (struct rl_limit){0};
}

static uint64_t hash(const char *s) {
    uint64_t h = fnv1a(FNV_OFFSET ^ seed, s);
    return h ^ (h >> 29);
}

static bool idle(const struct entry *e, uint64_t now, int64_t unix_s) {
    return e->tat <= now &&
           (e->budget.window != unix_s / 60 || (e->budget.pending == 0 && e->budget.flushing == 0));
}

/* The entry for `key`, created if `create` (else NULL when absent). Caller holds t->lock. */
static struct entry *find(struct table *t, const char *key, bool create, uint64_t now) {
    uint64_t h = hash(key);
    struct entry *freeslot = NULL, *victim = NULL;
    int64_t unix_s = (int64_t)time(NULL);
    for (int i = 0; i < PROBE; i++) {
        struct entry *e = &t->slots[(h + (uint64_t)i) & (SLOTS - 1)];
        if (!e->key[0]) {
            if (!freeslot) freeslot = e;
            continue;
        }
        if (strcmp(e->key, key) == 0) {
            if (now) e->seen_ns = now; /* 0: a look that is not a use (the flush thread) */
            return e;
        }
        if (idle(e, now, unix_s)) {
            if (!freeslot) freeslot = e;
        } else if (!victim || e->seen_ns < victim->seen_ns) {
            victim = e;
        }
    }
    if (!create) return NULL;
    struct entry *e = freeslot ? freeslot : victim;
    memset(e, 0, sizeof *e);
    snprintf(e->key, sizeof e->key, "%s", key);
    e->seen_ns = now;
    return e;
}

static void table_init(struct table *t) {
    pthread_mutex_init(&t->lock, NULL);
    t->slots = calloc(SLOTS, sizeof *t->slots); /* pages are only touched when used */
    if (!t->slots) abort();
}

void ratelimit_init(void) {
    unsigned char s[8];
    random_bytes(s, sizeof s);
    memcpy(&seed, s, sizeof seed);
    if (!keys.slots) {
        table_init(&keys);
        table_init(&tenants);
        table_init(&fail_addr);
        table_init(&fail_prefix);
    }
    rl_limit_init(&lim_key, cfg.rate_key_per_s, 1, cfg.rate_key_burst);
    rl_limit_init(&lim_tenant, cfg.rate_tenant_per_s, 1, cfg.rate_tenant_burst);
    rl_limit_init(&lim_fail_addr, cfg.auth_fail_per_address, 60, cfg.auth_fail_per_address);
    rl_limit_init(&lim_fail_prefix, cfg.auth_fail_per_prefix, 60, cfg.auth_fail_per_prefix);
}

/* ---- Who is asking ---- */

/* The key prefix of a well-formed `Authorization: Bearer` key; false otherwise. */
static bool bearer_prefix(struct request *rq, char prefix[KEY_PREFIX_LEN + 1]) {
    const char *p = auth_request_prefix(rq);
    if (p) memcpy(prefix, p, KEY_PREFIX_LEN + 1);
    return p != NULL;
}

void rl_address_key(const struct sockaddr *sa, char *out, size_t n) {
    snprintf(out, n, "unknown");
    if (!sa) return;
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)n);
    } else if (sa->sa_family == AF_INET6) {
        struct in6_addr a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(&a)) {
            inet_ntop(AF_INET, &a.s6_addr[12], out, (socklen_t)n);
            return;
        }
        memset(&a.s6_addr[8], 0, 8);
        char text[INET6_ADDRSTRLEN];
        if (inet_ntop(AF_INET6, &a, text, sizeof text)) snprintf(out, n, "%s/64", text);
    }
}

/* The client's address key: behind a trusted proxy, the address it forwarded (client_addr.h). */
static void client_address(struct request *rq, char *out, size_t n) {
    char text[CLIENT_ADDR_MAX];
    struct sockaddr_storage ss;
    client_addr(rq, text, &ss);
    rl_address_key(ss.ss_family == AF_UNSPEC ? NULL : (const struct sockaddr *)&ss, out, n);
}

static int64_t unix_now(void) {
    return (int64_t)time(NULL);
}

/* ---- Replies and headers ---- */

atomic_long ratelimit_refused_total[RL_REFUSED_KINDS];
const char *const ratelimit_refused_names[RL_REFUSED_KINDS] = {"key", "tenant", "tenant_minute",
                                                               "auth_address", "auth_key"};

static int refused_kind(const char *detail); /* below, with the limits' words */

static void refuse(struct request *rq, enum problem p, long retry_s, const char *detail) {
    char ra[24];
    atomic_fetch_add_explicit(&ratelimit_refused_total[refused_kind(detail)], 1, memory_order_relaxed);
    reply_problem(rq, p, "%s; retry in %ld s", detail, retry_s);
    snprintf(ra, sizeof ra, "%ld", retry_s);
    reply_header(rq, "Retry-After", ra);
}

/* A token bucket as an IETF quota policy: `burst` units per the time it takes to refill. */
static long window_s(const struct rl_limit *l) {
    return rl_seconds_up(horizon(l));
}

/* Writes the decimal `v` at `w`; returns the end. */
static char *put_long(char *w, long long v) {
    char tmp[24];
    int n = 0;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do tmp[n++] = (char)('0' + u % 10); while ((u /= 10) > 0);
    if (v < 0) *w++ = '-';
    while (n) *w++ = tmp[--n];
    return w;
}

/* Appends one list item `"name";p1=v1;p2=v2` (after ", " unless it is the first). The plain
 * appends replace twelve snprintf calls, which were about 11,000 instructions a response
 * (callgrind). Each buffer holds at most three items of under 80 bytes. */
static char *put_item(char *start, char *w, const char *name, char p1, long long v1, char p2, long long v2) {
    if (w != start) w = stpcpy(w, ", ");
    *w++ = '"';
    w = stpcpy(w, name);
    *w++ = '"';
    *w++ = ';';
    *w++ = p1;
    *w++ = '=';
    w = put_long(w, v1);
    *w++ = ';';
    *w++ = p2;
    *w++ = '=';
    return put_long(w, v2);
}

void ratelimit_headers(const struct request *rq, struct MHD_Response *resp) {
    const struct rl_seen *s = &rq->rl;
    if (!s->counted || !s->policies) return;
    char policy[256], state[256], *pw = policy, *sw = state;
    if (s->policies & RL_P_KEY) {
        pw = put_item(policy, pw, "key", 'q', (long long)lim_key.burst, 'w', window_s(&lim_key));
        sw = put_item(state, sw, "key", 'r', s->key_r, 't', s->key_t);
    }
    if (s->policies & RL_P_TENANT) {
        pw = put_item(policy, pw, "tenant", 'q', s->tenant_q, 'w', s->tenant_w);
        sw = put_item(state, sw, "tenant", 'r', s->tenant_r, 't', s->tenant_t);
    }
    if (s->policies & RL_P_BUDGET) {
        pw = put_item(policy, pw, "tenant-minute", 'q', cfg.rate_tenant_per_min, 'w', 60);
        sw = put_item(state, sw, "tenant-minute", 'r', s->budget_r, 't', s->budget_t);
    }
    *pw = '\0';
    *sw = '\0';
    MHD_add_response_header(resp, "RateLimit-Policy", policy);
    MHD_add_response_header(resp, "RateLimit", state);
}

/* Fills the key part of rq->rl from a bucket state. */
static void note_key(struct request *rq, uint64_t tat, uint64_t now) {
    if (!lim_key.interval_ns) return;
    rq->rl.policies |= RL_P_KEY;
    rq->rl.key_r = (long)rl_remaining(&lim_key, tat, now);
    rq->rl.key_t = rl_seconds_up(rl_reset_ns(tat, now)) - (tat <= now);
}

static void note_tenant(struct request *rq, const struct entry *e, uint64_t now, int64_t unix_s) {
    const struct rl_limit *lim = tenant_limit(e);
    if (lim->interval_ns) {
        rq->rl.policies |= RL_P_TENANT;
        rq->rl.tenant_q = (long)lim->burst;
        rq->rl.tenant_w = window_s(lim);
        rq->rl.tenant_r = (long)rl_remaining(lim, e->tat, now);
        rq->rl.tenant_t = rl_seconds_up(rl_reset_ns(e->tat, now)) - (e->tat <= now);
    }
    if (cfg.rate_tenant_per_min > 0) {
        int64_t left = cfg.rate_tenant_per_min - rl_budget_used(&e->budget, unix_s);
        rq->rl.policies |= RL_P_BUDGET;
        rq->rl.budget_r = left > 0 ? (long)left : 0;
        rq->rl.budget_t = rl_budget_reset_s(unix_s);
    }
}

/* ---- Hooks ---- */

#define KEY_RATE "this API key is over its rate limit"
#define TENANT_RATE "this tenant is over its rate limit on this instance"
#define TENANT_MINUTE "this tenant has used its requests of this minute (all instances together)"
#define AUTH_ADDRESS "too many failed authentications from this address"
#define AUTH_KEY "too many failed authentications with this key"

static int refused_kind(const char *detail) {
    static const char *const words[RL_REFUSED_KINDS] = {KEY_RATE, TENANT_RATE, TENANT_MINUTE, AUTH_ADDRESS, AUTH_KEY};
    for (int i = 0; i < RL_REFUSED_KINDS; i++)
        if (strcmp(detail, words[i]) == 0) return i;
    return 0;
}

/* True if failure throttle `t` (limit `lim`) would refuse `name` now; *wait says for how long. */
static bool throttled(struct table *t, struct rl_limit *lim, const char *name, uint64_t now, uint64_t *wait) {
    pthread_mutex_lock(&t->lock);
    struct entry *e = find(t, name, false, now);
    bool ok = !e || rl_would_take(lim, e->tat, now, wait);
    pthread_mutex_unlock(&t->lock);
    return !ok;
}

/* A key this instance has seen authenticate: its bucket, and the tenant it authenticated for. */
struct seen_key {
    bool known, ok; /* ok: its own bucket would take a request now */
    uint64_t tat, wait;
    char tenant[37];
};

static void seen_key(const char *prefix, uint64_t now, struct seen_key *k) {
    pthread_mutex_lock(&keys.lock);
    struct entry *e = find(&keys, prefix, false, now);
    if (e) {
        k->known = true;
        k->tat = e->tat;
        k->ok = rl_would_take(&lim_key, e->tat, now, &k->wait);
        snprintf(k->tenant, sizeof k->tenant, "%s", e->tenant);
    }
    pthread_mutex_unlock(&keys.lock);
}

/* The failure throttles, checked before any lookup: 0, or -1 after a 429. A prefix that
 * authenticated here recently is not held back by its address: many tenants' integrations may
 * share one address (a proxy, an integration platform). */
static int failures_or_reply(struct request *rq, const char *prefix, bool known, uint64_t now) {
    char addr[64];
    uint64_t wait = 0;
    if (!known && lim_fail_addr.interval_ns) {
        client_address(rq, addr, sizeof addr);
        if (throttled(&fail_addr, &lim_fail_addr, addr, now, &wait)) {
            refuse(rq, P_AUTH_THROTTLED, rl_seconds_up(wait), AUTH_ADDRESS);
            return -1;
        }
    }
    if (prefix && lim_fail_prefix.interval_ns && throttled(&fail_prefix, &lim_fail_prefix, prefix, now, &wait)) {
        refuse(rq, P_AUTH_THROTTLED, rl_seconds_up(wait), AUTH_KEY);
        return -1;
    }
    return 0;
}

/* A known key, and its tenant as the key last authenticated for: refuses (429) what is already
 * over its limit, taking nothing. 0, or -1 after replying. */
static int known_key_or_reply(struct request *rq, const struct seen_key *k, uint64_t now) {
    uint64_t wait = 0;
    int64_t unix_s = unix_now();
    long retry_s = k->ok ? 0 : rl_seconds_up(k->wait);
    const char *why = k->ok ? NULL : KEY_RATE;
    pthread_mutex_lock(&tenants.lock);
    struct entry *e = k->tenant[0] ? find(&tenants, k->tenant, false, now) : NULL;
    if (e && !why) {
        if (!rl_would_take(tenant_limit(e), e->tat, now, &wait)) {
            why = TENANT_RATE;
            retry_s = rl_seconds_up(wait);
        } else if (cfg.rate_tenant_per_min > 0 && rl_budget_used(&e->budget, unix_s) >= cfg.rate_tenant_per_min) {
            why = TENANT_MINUTE;
            retry_s = rl_budget_reset_s(unix_s);
        }
    }
    if (why) {
        rq->rl.counted = true; /* nothing was taken; the headers show the state */
        note_key(rq, k->tat, now);
        if (e) note_tenant(rq, e, now, unix_s);
    }
    pthread_mutex_unlock(&tenants.lock);
    if (!why) return 0;
    refuse(rq, P_RATE_LIMITED, retry_s, why);
    return -1;
}

int ratelimit_precheck_or_reply(struct request *rq) {
    char prefix[KEY_PREFIX_LEN + 1];
    uint64_t now = now_ns();
    if (!rq->route || (rq->route->flags & RF_PUBLIC)) return 0;
    if (!req_header(rq, MHD_HTTP_HEADER_AUTHORIZATION)) /* a browser's session: its address only */
        return session_cookie_present(rq) ? failures_or_reply(rq, NULL, false, now) : 0;
    bool has_prefix = bearer_prefix(rq, prefix);
    struct seen_key k = {.ok = true};
    if (has_prefix) seen_key(prefix, now, &k);
    if (failures_or_reply(rq, has_prefix ? prefix : NULL, k.known, now)) return -1;
    return k.known ? known_key_or_reply(rq, &k, now) : 0;
}

static void count_failure(struct request *rq) {
    char prefix[KEY_PREFIX_LEN + 1], addr[64];
    uint64_t now = now_ns();
    if (rq->status != 401 || (!req_header(rq, MHD_HTTP_HEADER_AUTHORIZATION) && !rq->auth_guess)) return;
    if (lim_fail_addr.interval_ns) {
        client_address(rq, addr, sizeof addr);
        pthread_mutex_lock(&fail_addr.lock);
        rl_charge(&lim_fail_addr, &find(&fail_addr, addr, true, now)->tat, now);
        pthread_mutex_unlock(&fail_addr.lock);
    }
    if (lim_fail_prefix.interval_ns && bearer_prefix(rq, prefix)) {
        pthread_mutex_lock(&fail_prefix.lock);
        rl_charge(&lim_fail_prefix, &find(&fail_prefix, prefix, true, now)->tat, now);
        pthread_mutex_unlock(&fail_prefix.lock);
    }
}

/* Takes one request from the key's bucket; on refusal also shows the tenant's state. 0, or -1
 * after a 429. */
static int take_key_or_reply(struct request *rq, const char *prefix, bool tenant_key, uint64_t now, int64_t unix_s) {
    uint64_t wait = 0;
    pthread_mutex_lock(&keys.lock);
    struct entry *k = find(&keys, prefix, true, now);
    snprintf(k->tenant, sizeof k->tenant, "%s", rq->auth.tenant_id);
    bool key_ok = rl_take(&lim_key, &k->tat, now, &wait);
    note_key(rq, k->tat, now);
    pthread_mutex_unlock(&keys.lock);
    if (key_ok) return 0;
    pthread_mutex_lock(&tenants.lock);
    struct entry *t = tenant_key ? find(&tenants, rq->auth.tenant_id, false, now) : NULL;
    if (t) note_tenant(rq, t, now, unix_s);
    pthread_mutex_unlock(&tenants.lock);
    refuse(rq, P_RATE_LIMITED, rl_seconds_up(wait), KEY_RATE);
    return -1;
}

/* Takes one request from the tenant's bucket and minute budget; on refusal gives the key's
 * request back. 0, or -1 after a 429. */
static int take_tenant_or_reply(struct request *rq, const char *prefix, uint64_t now, int64_t unix_s) {
    uint64_t wait = 0;
    long retry_s = 0;
    const char *why = TENANT_RATE;
    pthread_mutex_lock(&tenants.lock);
    struct entry *t = find(&tenants, rq->auth.tenant_id, true, now);
    tenant_adopt(t, rq->auth.tenant_rate);
    bool ok = rl_take(tenant_limit(t), &t->tat, now, &wait);
    if (!ok) {
        retry_s = rl_seconds_up(wait);
    } else if (cfg.rate_tenant_per_min > 0 && !rl_budget_take(&t->budget, cfg.rate_tenant_per_min, unix_s, &retry_s)) {
        ok = false;
        why = TENANT_MINUTE;
        rl_refund(tenant_limit(t), &t->tat, now);
    }
    note_tenant(rq, t, now, unix_s);
    pthread_mutex_unlock(&tenants.lock);
    if (ok) return 0;
    pthread_mutex_lock(&keys.lock);
    struct entry *k = find(&keys, prefix, true, now);
    rl_refund(&lim_key, &k->tat, now);
    note_key(rq, k->tat, now);
    pthread_mutex_unlock(&keys.lock);
    refuse(rq, P_RATE_LIMITED, retry_s, why);
    return -1;
}

int ratelimit_auth_or_reply(struct request *rq, int auth_rc) {
    char prefix[KEY_PREFIX_LEN + 1];
    uint64_t now = now_ns();
    int64_t unix_s = unix_now();
    if (auth_rc != 0) {
        count_failure(rq);
        return -1;
    }
    if (rq->rl.counted) return 0; /* run again after a reconnect: counted the first time */
    rq->rl.counted = true;
    if (!bearer_prefix(rq, prefix)) return 0; /* cannot happen: the key authenticated */
    bool tenant_key = rq->auth.tenant_id[0] != '\0'; /* an operator key has no tenant buckets */
    if (take_key_or_reply(rq, prefix, tenant_key, now, unix_s)) return -1;
    return tenant_key ? take_tenant_or_reply(rq, prefix, now, unix_s) : 0;
}

/* ---- The budget flush thread ---- */

/* The thread connects as the schema owner. It does not rely on row-level security being off:
 * before each tenant's row it points allied.tenant_id at that tenant (a session setting on its
 * own connection, which serves nothing else, cleared after each round). */
static const char *const SQL_SET_TENANT = "SELECT set_config('allied.tenant_id', $1, false)";
static const char *const SQL_ADD =
    "WITH old AS (DELETE FROM rate_budget WHERE tenant_id = $1 AND window_start < "
    "to_timestamp($2)) "
    "INSERT INTO rate_budget (tenant_id, window_start, used) VALUES ($1, to_timestamp($2), $3) "
    "ON CONFLICT (tenant_id, window_start) DO UPDATE SET used = rate_budget.used + EXCLUDED.used "
    "RETURNING used";

static char last_error[256];

/* Runs one statement on the flush connection; the result, or NULL with the error kept in
 * last_error (logged by the caller: once per outage, not per statement). */
static PGresult *exec(struct db_conn *c, const char *sql, int n, const char *const *vals) {
    PGresult *r = PQexecParams(c->pg, sql, n, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK) return r;
    snprintf(last_error, sizeof last_error, "%s", PQresultErrorMessage(r));
    size_t len = strlen(last_error);
    while (len && last_error[len - 1] == '\n')
        last_error[--len] = '\0';
    PQclear(r);
    return NULL;
}

struct flush_item {
    char tenant[37];
    int64_t window, n;
};

static struct loop flusher = LOOP_INIT;

/* What to send: every tenant with new counts, and every tenant seen here in the last few
 * seconds (a count of 0, to learn what the other instances used) unless it is already over. */
#define REFRESH_NS (5 * NS)
static int collect(struct flush_item **out) {
    int64_t w = unix_now() / 60;
    uint64_t now = now_ns();
    int n = 0, cap = 0;
    struct flush_item *items = NULL;
    pthread_mutex_lock(&tenants.lock);
    for (int i = 0; i < SLOTS; i++) {
        struct entry *e = &tenants.slots[i];
        if (!e->key[0] || e->budget.window != w || e->budget.flushing) continue;
        if (!e->budget.pending &&
            (now - e->seen_ns > REFRESH_NS || e->budget.shared >= cfg.rate_tenant_per_min))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            struct flush_item *more = realloc(items, (size_t)cap * sizeof *items);
            if (!more) abort();
            items = more;
        }
        snprintf(items[n].tenant, sizeof items[n].tenant, "%.36s", e->key);
        items[n].window = w;
        items[n].n = rl_budget_flush_begin(&e->budget);
        n++;
    }
    pthread_mutex_unlock(&tenants.lock);
    *out = items;
    return n;
}

static void settle(const struct flush_item *it, bool ok, int64_t used) {
    pthread_mutex_lock(&tenants.lock);
    struct entry *e = find(&tenants, it->tenant, false, 0);
    if (e) rl_budget_flush_end(&e->budget, it->window, ok, used);
    pthread_mutex_unlock(&tenants.lock);
}

/* Sends the items; returns false if the connection failed (the rest are given back). */
static bool flush(struct db_conn *c, struct flush_item *items, int n) {
    int i = 0;
    for (; i < n && db_ok(c); i++) {
        char start[24], count[24];
        snprintf(start, sizeof start, "%lld", (long long)(items[i].window * 60));
        snprintf(count, sizeof count, "%lld", (long long)items[i].n);
        const char *tp[] = {items[i].tenant};
        const char *ap[] = {items[i].tenant, start, count};
        PGresult *r = exec(c, SQL_SET_TENANT, 1, tp);
        bool set = r != NULL;
        PQclear(r);
        PGresult *a = set ? exec(c, SQL_ADD, 3, ap) : NULL;
        if (a) {
            settle(&items[i], true, strtoll(PQgetvalue(a, 0, 0), NULL, 10));
            PQclear(a);
        } else if (db_ok(c)) {
            /* A row error (e.g. the tenant was deleted): drop these counts, keep going. Not
             * expected, so worth a line — but at most one a minute, not one a second. */
            static uint64_t logged_ns;
            if (!logged_ns || now_ns() - logged_ns > 60 * NS) {
                logged_ns = now_ns();
                LOG_BUG("rate budget: cannot record tenant %s: %s", items[i].tenant, last_error);
            }
            settle(&items[i], true, -1);
        } else {
            break;
        }
    }
    for (int j = i; j < n; j++)
        settle(&items[j], false, 0);
    const char *none[] = {""};
    if (db_ok(c)) PQclear(exec(c, SQL_SET_TENANT, 1, none));
    return i == n && db_ok(c);
}

/* Back-off after `failures` consecutive failed rounds (server/backoff.c: doubling, capped at
 * ALLIED_BACKOFF_MAX_MS, jittered). */
static long backoff_ms(int failures) {
    uint32_t r;
    random_bytes((unsigned char *)&r, sizeof r);
    return backoff_delay_ms(cfg.rate_flush_ms, cfg.backoff_max_ms, failures, r);
}

static void *flush_main(void *arg) {
    (void)arg;
    struct db_conn *c = NULL;
    int failures = 0;
    while (!loop_stopping(&flusher)) {
        loop_nap(&flusher, failures ? backoff_ms(failures) : cfg.rate_flush_ms);
        if (loop_stopping(&flusher)) break;
        struct flush_item *items = NULL;
        int n = collect(&items);
        if (n == 0) continue;
        char err[512] = "";
        if (c && !db_ok(c)) {
            db_close(c);
            c = NULL;
        }
        if (!c) c = db_open(false, err, sizeof err);
        bool ok = c && flush(c, items, n);
        if (!c)
            for (int i = 0; i < n; i++)
                settle(&items[i], false, 0);
        free(items);
        if (ok) {
            if (failures)
                log_msg(LOG_INFO, NULL,
                        "rate budget: the database is back; counts are shared again");
            failures = 0;
        } else {
            if (!failures)
                log_msg(LOG_WARN, NULL,
                        "rate budget: cannot reach the database (%s); counting locally, retrying "
                        "with back-off",
                        err[0] ? err : last_error);
            if (failures < 30) failures++;
            db_close(c);
            c = NULL;
        }
    }
    db_close(c);
    return NULL;
}

int ratelimit_start(void) {
    ratelimit_init();
    if (cfg.rate_tenant_per_min <= 0) return 0;
    return loop_start(&flusher, flush_main, NULL);
}

void ratelimit_stop(void) {
    loop_stop(&flusher);
}

/* ---- Credentials other than API keys (browser sessions, sign-in links) ---- */

int ratelimit_address_or_reply(struct request *rq) {
    char addr[64];
    uint64_t wait = 0, now = now_ns();
    if (!lim_fail_addr.interval_ns) return 0;
    client_address(rq, addr, sizeof addr);
    if (!throttled(&fail_addr, &lim_fail_addr, addr, now, &wait)) return 0;
    refuse(rq, P_AUTH_THROTTLED, rl_seconds_up(wait), AUTH_ADDRESS);
    return -1;
}

void ratelimit_address_failed(struct request *rq) {
    char addr[64];
    uint64_t now = now_ns();
    if (!lim_fail_addr.interval_ns) return;
    client_address(rq, addr, sizeof addr);
    pthread_mutex_lock(&fail_addr.lock);
    rl_charge(&lim_fail_addr, &find(&fail_addr, addr, true, now)->tat, now);
    pthread_mutex_unlock(&fail_addr.lock);
}
