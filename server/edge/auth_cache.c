/* The verified-key cache and the thread that keeps it honest (see auth_cache.h). */
#include "server/edge/auth_cache.h"
#include "server/backoff.h"
#include "server/util.h"
#include "server/config.h"
#include "server/data/db.h"
#include "server/log.h"
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct entry {
    char hash[65]; /* "" = empty slot */
    struct auth auth;
    uint64_t born_ns;
    uint64_t touched_ns; /* when this instance last marked the key used (allied_key_touch) */
};

static struct entry *slots;
static size_t nslots;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long generation; /* bumped by every forget; guarded by `lock` */
static atomic_bool listening;    /* the cache is used only while changes can be heard */
static atomic_bool stopping;
static pthread_t listener;
static bool started;

/* Wall-clock Unix milliseconds: key expiry and overlaps are moments, not durations. */
static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t slot_of(const char *hash) {
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) v = v * 16 + (uint64_t)(hash[i] <= '9' ? hash[i] - '0' : hash[i] - 'a' + 10);
    return (size_t)(v % nslots);
}

bool auth_cache_get(const char *hash, struct auth *out) {
    if (!nslots || !atomic_load(&listening)) return false;
    uint64_t ttl = (uint64_t)cfg.key_cache_ttl_ms * 1000000ULL;
    pthread_mutex_lock(&lock);
    struct entry *e = &slots[slot_of(hash)];
    bool hit = strcmp(e->hash, hash) == 0 && now_ns() - e->born_ns < ttl &&
               (e->auth.valid_until_ms == 0 || wall_ms() < e->auth.valid_until_ms);
    if (hit) *out = e->auth;
    pthread_mutex_unlock(&lock);
    return hit;
}

bool auth_cache_touch_due(const char *hash) {
    if (!nslots) return false;
    bool due = false;
    uint64_t now = now_ns();
    pthread_mutex_lock(&lock);
    struct entry *e = &slots[slot_of(hash)];
    if (strcmp(e->hash, hash) == 0 && now - e->touched_ns >= (uint64_t)cfg.key_used_every_ms * 1000000ULL) {
        e->touched_ns = now;
        due = true;
    }
    pthread_mutex_unlock(&lock);
    return due;
}

unsigned long auth_cache_generation(void) {
    pthread_mutex_lock(&lock);
    unsigned long g = generation;
    pthread_mutex_unlock(&lock);
    return g;
}

void auth_cache_put(const char *hash, const struct auth *a, unsigned long gen) {
    if (!nslots || !atomic_load(&listening)) return;
    pthread_mutex_lock(&lock);
    if (gen == generation) { /* else a key changed while this one was looked up: do not trust it */
        struct entry *e = &slots[slot_of(hash)];
        memcpy(e->hash, hash, sizeof e->hash);
        e->auth = *a;
        e->born_ns = now_ns();
        e->touched_ns = e->born_ns; /* the lookup that verified it marked it used */
    }
    pthread_mutex_unlock(&lock);
}

static void forget_where(const char *key_id) { /* NULL = everything */
    pthread_mutex_lock(&lock);
    generation++;
    for (size_t i = 0; i < nslots; i++)
        if (slots[i].hash[0] && (!key_id || strcmp(slots[i].auth.key_id, key_id) == 0))
            slots[i].hash[0] = '\0';
    pthread_mutex_unlock(&lock);
}

void auth_cache_forget(const char *key_id) {
    if (nslots) forget_where(key_id);
}

void auth_cache_forget_tenant(const char *tenant_id) {
    if (!nslots) return;
    pthread_mutex_lock(&lock);
    generation++;
    for (size_t i = 0; i < nslots; i++)
        if (slots[i].hash[0] && strcmp(slots[i].auth.tenant_id, tenant_id) == 0) slots[i].hash[0] = '\0';
    pthread_mutex_unlock(&lock);
}

/* Waits up to `ms`, returning early when stopping. */
static void nap(int ms) {
    for (int waited = 0; waited < ms && !atomic_load(&stopping); waited += 50) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* Hears key changes until the connection fails or the process stops. */
static void listen_on(struct db_conn *c) {
    PGresult *r = PQexec(c->pg, "LISTEN allied_key_changes");
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) return;
    forget_where(NULL); /* anything cached before we could hear changes is suspect */
    atomic_store(&listening, true);
    uint64_t last_ping = now_ns();
    while (!atomic_load(&stopping)) {
        struct pollfd pfd = {.fd = PQsocket(c->pg), .events = POLLIN};
        if (poll(&pfd, 1, 250) < 0) continue;
        if (now_ns() - last_ping > 5000000000ULL) { /* a silent peer may be gone: ask */
            r = PQexec(c->pg, "SELECT 1");
            ok = PQresultStatus(r) == PGRES_TUPLES_OK;
            PQclear(r);
            if (!ok) break;
            last_ping = now_ns();
        }
        if (!PQconsumeInput(c->pg)) break;
        PGnotify *n;
        while ((n = PQnotifies(c->pg))) {
            forget_where(n->extra);
            PQfreemem(n);
        }
    }
    atomic_store(&listening, false);
    forget_where(NULL);
}

static void *listener_main(void *arg) {
    (void)arg;
    int failures = 0;
    bool down = false;
    while (!atomic_load(&stopping)) {
        char err[512];
        struct db_conn *c = db_open(false, err, sizeof err);
        if (!c) {
            if (!down) log_msg(LOG_WARN, NULL, "key cache off: cannot listen for key changes: %s", err);
            down = true;
            nap(backoff_after_failure(&failures));
            continue;
        }
        if (down) log_msg(LOG_INFO, NULL, "key cache on again: listening for key changes");
        down = false;
        failures = 0;
        listen_on(c);
        db_close(c);
        if (!atomic_load(&stopping)) {
            log_msg(LOG_WARN, NULL, "key cache off: lost the connection that hears key changes");
            down = true;
        }
    }
    return NULL;
}

int auth_cache_start(void) {
    if (cfg.key_cache_size <= 0) return 0;
    nslots = (size_t)cfg.key_cache_size;
    slots = calloc(nslots, sizeof *slots);
    if (!slots) abort();
    atomic_store(&stopping, false);
    if (pthread_create(&listener, NULL, listener_main, NULL) != 0) return -1;
    started = true;
    return 0;
}

void auth_cache_stop(void) {
    if (!started) return;
    atomic_store(&stopping, true);
    pthread_join(listener, NULL);
    started = false;
    atomic_store(&listening, false);
    free(slots);
    slots = NULL;
    nslots = 0;
}
