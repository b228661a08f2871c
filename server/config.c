/* Reads Allied's settings from the environment; every option is declared once in a table. */
#include "server/config.h"
#include "server/log.h"
#include "server/edge/client_addr.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct config cfg;

const struct config_option config_options[] = {
    {"DATABASE_URL", "", "PostgreSQL connection URI or conninfo (required)"},
    {"ALLIED_LISTEN", "127.0.0.1:8080", "address and port to serve on"},
    {"ALLIED_THREADS", "2", "HTTP event threads (libmicrohttpd thread pool)"},
    {"ALLIED_DB_POOL", "4", "database workers, each with one PostgreSQL connection"},
    {"ALLIED_MAX_BODY_BYTES", "1048576", "largest accepted request body (413 above)"},
    {"ALLIED_LOG", "info", "log level: debug, info, warn, error or off"},
    {"ALLIED_DB_ROLE", "allied_app", "role to SET after connecting (non-owner); empty = none"},
    {"ALLIED_STATEMENT_TIMEOUT_MS", "5000", "longest one SQL statement of a request may run (then 503)"},
    {"ALLIED_REPORT_TIMEOUT_MS", "30000", "the same limit for /v1/reports/* statements"},
    {"ALLIED_LOCK_TIMEOUT_MS", "2000", "longest a request waits for a row lock (then 503)"},
    {"ALLIED_IDLE_TX_TIMEOUT_MS", "10000", "PostgreSQL ends a session idle inside a transaction this long"},
    {"ALLIED_QUEUE_TIMEOUT_MS", "5000", "longest a request waits for a database worker (then 503)"},
    {"ALLIED_QUEUE_MAX", "512", "requests waiting for a database worker, in all (then 503)"},
    {"ALLIED_QUEUE_PER_TENANT", "64", "requests waiting for a database worker, per tenant (then 503)"},
    {"ALLIED_TENANT_WORKERS", "0", "database workers one tenant may hold at once (0 = pool size - 1, at least 1)"},
    {"ALLIED_KEY_CACHE_SIZE", "4096", "verified API keys kept in memory (0 = look every key up)"},
    {"ALLIED_KEY_CACHE_TTL_MS", "10000", "longest a verified key is trusted without a lookup"},
    {"ALLIED_CONN_TIMEOUT", "30", "seconds an idle HTTP connection is kept"},
    {"ALLIED_MAX_CONNECTIONS", "1024", "total concurrent HTTP connections"},
    {"ALLIED_PER_IP_CONNECTIONS", "256", "concurrent HTTP connections per client address"},
    {"ALLIED_TRUSTED_PROXIES", "",
     "reverse proxies (addresses, CIDR blocks, comma-separated) whose X-Forwarded-For names the client"},
    {"ALLIED_CONN_SHED_PERCENT", "90",
     "at this percent of ALLIED_MAX_CONNECTIONS, each new connection closes the oldest idle one"},
    {"ALLIED_HEAD_TIMEOUT", "10", "seconds a request head (request line + headers) may take once begun"},
    {"ALLIED_BODY_TIMEOUT", "10", "seconds a request body may take before ALLIED_MIN_BODY_RATE applies"},
    {"ALLIED_MIN_BODY_RATE", "1024", "bytes per second a request body must average after its first ALLIED_BODY_TIMEOUT"},
    {"ALLIED_DISCARD_BODY_BYTES", "4194304",
     "a too-large body up to this size is read and dropped so the client reads its 413; larger ones close at once"},
    {"ALLIED_DRAIN_SECONDS", "20", "on SIGTERM, how long in-flight requests may finish"},
    {"ALLIED_MIGRATE_ON_START", "0", "1: `allied serve` applies pending migrations first"},
    {"ALLIED_WEBHOOK_WORKERS", "1", "webhook dispatcher threads in `allied serve` (0 = none)"},
    {"ALLIED_WEBHOOK_TIMEOUT_MS", "10000", "timeout of one webhook attempt (connect + response)"},
    {"ALLIED_WEBHOOK_ALLOW_PRIVATE", "0", "1: allow webhook URLs on loopback/private networks (dev, tests)"},
    {"ALLIED_WEBHOOK_RETRY_SCALE", "100", "percent of the ~3-day retry schedule (tests shorten it)"},
    {"ALLIED_WEBHOOK_POLL_MS", "200", "how often an idle webhook dispatcher looks for due deliveries"},
    {"ALLIED_BACKOFF_MIN_MS", "100", "background loops: first wait after a database failure (doubles each time)"},
    {"ALLIED_BACKOFF_MAX_MS", "30000", "background loops: longest wait between tries while the database is away"},
    {"ALLIED_RATE_KEY_PER_SECOND", "50", "requests per second per API key, per instance (0 = no limit)"},
    {"ALLIED_RATE_KEY_BURST", "100", "burst of requests per API key above that rate"},
    {"ALLIED_RATE_TENANT_PER_SECOND", "100", "requests per second per tenant, per instance (0 = no limit)"},
    {"ALLIED_RATE_TENANT_BURST", "200", "burst of requests per tenant above that rate"},
    {"ALLIED_RATE_TENANT_PER_MINUTE", "6000", "requests per minute per tenant across all instances (0 = no limit)"},
    {"ALLIED_RATE_FLUSH_MS", "1000", "how often each instance adds its counts to the shared minute budget"},
    {"ALLIED_AUTH_FAILURES_PER_ADDRESS", "20", "failed authentications per minute per client address, then 429 (0 = no limit)"},
    {"ALLIED_AUTH_FAILURES_PER_PREFIX", "20", "failed authentications per minute per key prefix, then 429 (0 = no limit)"},
};
const int config_options_count = sizeof config_options / sizeof config_options[0];

static const char *get(const char *name) {
    for (int i = 0; i < config_options_count; i++)
        if (strcmp(config_options[i].env, name) == 0) {
            const char *v = getenv(name);
            return v ? v : config_options[i].fallback;
        }
    return "";
}

static int get_int(const char *name, long lo, long hi, int *out) {
    const char *s = get(name);
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "allied: %s must be an integer in %ld..%ld (got \"%s\")\n", name, lo, hi, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int config_load(void) {
    int body, discard;
    cfg.database_url = get("DATABASE_URL");
    cfg.listen = get("ALLIED_LISTEN");
    cfg.db_role = get("ALLIED_DB_ROLE");
    char bad[64];
    if (client_addr_trust(get("ALLIED_TRUSTED_PROXIES"), bad, sizeof bad) != 0) {
        fprintf(stderr, "allied: ALLIED_TRUSTED_PROXIES: \"%s\" is not an address or CIDR block\n", bad);
        return -1;
    }
    if (get_int("ALLIED_THREADS", 1, 64, &cfg.threads) || get_int("ALLIED_DB_POOL", 1, 256, &cfg.db_pool) ||
        get_int("ALLIED_MAX_BODY_BYTES", 1024, 64 << 20, &body) ||
        get_int("ALLIED_CONN_TIMEOUT", 1, 3600, &cfg.conn_timeout_s) ||
        get_int("ALLIED_STATEMENT_TIMEOUT_MS", 10, 3600000, &cfg.statement_timeout_ms) ||
        get_int("ALLIED_REPORT_TIMEOUT_MS", 10, 3600000, &cfg.report_timeout_ms) ||
        get_int("ALLIED_LOCK_TIMEOUT_MS", 10, 3600000, &cfg.lock_timeout_ms) ||
        get_int("ALLIED_IDLE_TX_TIMEOUT_MS", 100, 3600000, &cfg.idle_tx_timeout_ms) ||
        get_int("ALLIED_QUEUE_TIMEOUT_MS", 10, 600000, &cfg.queue_timeout_ms) ||
        get_int("ALLIED_QUEUE_MAX", 1, 1000000, &cfg.queue_max) ||
        get_int("ALLIED_QUEUE_PER_TENANT", 1, 1000000, &cfg.queue_per_tenant) ||
        get_int("ALLIED_TENANT_WORKERS", 0, 256, &cfg.tenant_workers) ||
        get_int("ALLIED_KEY_CACHE_SIZE", 0, 1000000, &cfg.key_cache_size) ||
        get_int("ALLIED_KEY_CACHE_TTL_MS", 0, 3600000, &cfg.key_cache_ttl_ms) ||
        get_int("ALLIED_MAX_CONNECTIONS", 4, 100000, &cfg.max_conns) ||
        get_int("ALLIED_PER_IP_CONNECTIONS", 1, 100000, &cfg.per_ip_conns) ||
        get_int("ALLIED_CONN_SHED_PERCENT", 10, 100, &cfg.conn_shed_percent) ||
        get_int("ALLIED_HEAD_TIMEOUT", 1, 3600, &cfg.head_timeout_s) ||
        get_int("ALLIED_BODY_TIMEOUT", 1, 3600, &cfg.body_timeout_s) ||
        get_int("ALLIED_MIN_BODY_RATE", 0, 1 << 30, &cfg.min_body_rate) ||
        get_int("ALLIED_DISCARD_BODY_BYTES", 0, 1 << 30, &discard) ||
        get_int("ALLIED_DRAIN_SECONDS", 0, 600, &cfg.drain_s) ||
        get_int("ALLIED_MIGRATE_ON_START", 0, 1, &cfg.migrate_on_start) ||
        get_int("ALLIED_WEBHOOK_WORKERS", 0, 16, &cfg.webhook_workers) ||
        get_int("ALLIED_WEBHOOK_TIMEOUT_MS", 100, 60000, &cfg.webhook_timeout_ms) ||
        get_int("ALLIED_WEBHOOK_ALLOW_PRIVATE", 0, 1, &cfg.webhook_allow_private) ||
        get_int("ALLIED_WEBHOOK_RETRY_SCALE", 1, 100, &cfg.webhook_retry_scale) ||
        get_int("ALLIED_WEBHOOK_POLL_MS", 10, 60000, &cfg.webhook_poll_ms) ||
        get_int("ALLIED_BACKOFF_MIN_MS", 1, 60000, &cfg.backoff_min_ms) ||
        get_int("ALLIED_BACKOFF_MAX_MS", 1, 3600000, &cfg.backoff_max_ms) ||
        get_int("ALLIED_RATE_KEY_PER_SECOND", 0, 1000000, &cfg.rate_key_per_s) ||
        get_int("ALLIED_RATE_KEY_BURST", 1, 1000000, &cfg.rate_key_burst) ||
        get_int("ALLIED_RATE_TENANT_PER_SECOND", 0, 1000000, &cfg.rate_tenant_per_s) ||
        get_int("ALLIED_RATE_TENANT_BURST", 1, 1000000, &cfg.rate_tenant_burst) ||
        get_int("ALLIED_RATE_TENANT_PER_MINUTE", 0, 100000000, &cfg.rate_tenant_per_min) ||
        get_int("ALLIED_RATE_FLUSH_MS", 50, 60000, &cfg.rate_flush_ms) ||
        get_int("ALLIED_AUTH_FAILURES_PER_ADDRESS", 0, 1000000, &cfg.auth_fail_per_address) ||
        get_int("ALLIED_AUTH_FAILURES_PER_PREFIX", 0, 1000000, &cfg.auth_fail_per_prefix))
        return -1;
    cfg.max_body_bytes = (size_t)body;
    cfg.discard_body_bytes = (size_t)discard;
    cfg.log_level = log_level_parse(get("ALLIED_LOG"));
    if (cfg.log_level < 0) {
        fprintf(stderr, "allied: ALLIED_LOG must be debug, info, warn, error or off\n");
        return -1;
    }
    log_set_level(cfg.log_level);
    return 0;
}
