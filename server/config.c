/* Reads Allied's settings from the environment; every option is declared once in a table. */
#include "server/config.h"
#include "server/log.h"
#include "server/edge/client_addr.h"
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct config cfg;

/* Where an option goes in `cfg` and what it may be. */
#define TEXT(field) OPT_TEXT, offsetof(struct config, field), 0, 0
#define INT(field, lo, hi) OPT_INT, offsetof(struct config, field), lo, hi
#define SIZE(field, lo, hi) OPT_SIZE, offsetof(struct config, field), lo, hi

const struct config_option config_options[] = {
    {"DATABASE_URL", "", "PostgreSQL connection URI or conninfo (required)", TEXT(database_url)},
    {"ALLIED_LISTEN", "127.0.0.1:8080", "address and port to serve on", TEXT(listen)},
    {"ALLIED_THREADS", "2", "HTTP event threads (libmicrohttpd thread pool)", INT(threads, 1, 64)},
    {"ALLIED_DB_POOL", "4", "database workers, each with one PostgreSQL connection", INT(db_pool, 1, 256)},
    {"ALLIED_MAX_BODY_BYTES", "1048576", "largest accepted request body (413 above)",
     SIZE(max_body_bytes, 1024, 64 << 20)},
    {"ALLIED_LOG", "info", "log level: debug, info, warn, error or off"},
    {"ALLIED_DB_ROLE", "allied_app", "role to SET after connecting (non-owner); empty = none", TEXT(db_role)},
    {"ALLIED_STATEMENT_TIMEOUT_MS", "5000", "longest one SQL statement of a request may run (then 503)",
     INT(statement_timeout_ms, 10, 3600000)},
    {"ALLIED_REPORT_TIMEOUT_MS", "30000", "the same limit for /v1/reports/* statements",
     INT(report_timeout_ms, 10, 3600000)},
    {"ALLIED_LOCK_TIMEOUT_MS", "2000", "longest a request waits for a row lock (then 503)",
     INT(lock_timeout_ms, 10, 3600000)},
    {"ALLIED_IDLE_TX_TIMEOUT_MS", "10000", "PostgreSQL ends a session idle inside a transaction this long",
     INT(idle_tx_timeout_ms, 100, 3600000)},
    {"ALLIED_QUEUE_TIMEOUT_MS", "5000", "longest a request waits for a database worker (then 503)",
     INT(queue_timeout_ms, 10, 600000)},
    {"ALLIED_QUEUE_MAX", "512", "requests waiting for a database worker, in all (then 503)",
     INT(queue_max, 1, 1000000)},
    {"ALLIED_QUEUE_PER_TENANT", "64", "requests waiting for a database worker, per tenant (then 503)",
     INT(queue_per_tenant, 1, 1000000)},
    {"ALLIED_TENANT_WORKERS", "0", "database workers one tenant may hold at once (0 = pool size - 1, at least 1)",
     INT(tenant_workers, 0, 256)},
    {"ALLIED_KEY_CACHE_SIZE", "4096", "verified API keys kept in memory (0 = look every key up)",
     INT(key_cache_size, 0, 1000000)},
    {"ALLIED_KEY_CACHE_TTL_MS", "10000", "longest a verified key is trusted without a lookup",
     INT(key_cache_ttl_ms, 0, 3600000)},
    {"ALLIED_CONN_TIMEOUT", "30", "seconds an idle HTTP connection is kept", INT(conn_timeout_s, 1, 3600)},
    {"ALLIED_MAX_CONNECTIONS", "1024", "total concurrent HTTP connections", INT(max_conns, 4, 100000)},
    {"ALLIED_PER_IP_CONNECTIONS", "256", "concurrent HTTP connections per client address",
     INT(per_ip_conns, 1, 100000)},
    {"ALLIED_TRUSTED_PROXIES", "",
     "reverse proxies (addresses, CIDR blocks, comma-separated) whose X-Forwarded-For names the client"},
    {"ALLIED_CONN_SHED_PERCENT", "90", "at this percent of ALLIED_MAX_CONNECTIONS, each new connection closes the oldest idle one",
     INT(conn_shed_percent, 10, 100)},
    {"ALLIED_HEAD_TIMEOUT", "10", "seconds a request head (request line + headers) may take once begun",
     INT(head_timeout_s, 1, 3600)},
    {"ALLIED_BODY_TIMEOUT", "10", "seconds a request body may take before ALLIED_MIN_BODY_RATE applies",
     INT(body_timeout_s, 1, 3600)},
    {"ALLIED_MIN_BODY_RATE", "1024", "bytes per second a request body must average after its first ALLIED_BODY_TIMEOUT",
     INT(min_body_rate, 0, 1 << 30)},
    {"ALLIED_DISCARD_BODY_BYTES", "4194304", "a too-large body up to this size is read and dropped so the client reads its 413; larger ones close at once",
     SIZE(discard_body_bytes, 0, 1 << 30)},
    {"ALLIED_DRAIN_SECONDS", "20", "on SIGTERM, how long in-flight requests may finish",
     INT(drain_s, 0, 600)},
    {"ALLIED_MIGRATE_ON_START", "0", "1: `allied serve` applies pending migrations first",
     INT(migrate_on_start, 0, 1)},
    {"ALLIED_WEBHOOK_WORKERS", "1", "webhook dispatcher threads in `allied serve` (0 = none)",
     INT(webhook_workers, 0, 16)},
    {"ALLIED_WEBHOOK_TIMEOUT_MS", "10000", "timeout of one webhook attempt (connect + response)",
     INT(webhook_timeout_ms, 100, 60000)},
    {"ALLIED_WEBHOOK_ALLOW_PRIVATE", "0", "1: allow webhook URLs on loopback/private networks (dev, tests)",
     INT(webhook_allow_private, 0, 1)},
    {"ALLIED_WEBHOOK_RETRY_SCALE", "100", "percent of the ~3-day retry schedule (tests shorten it)",
     INT(webhook_retry_scale, 1, 100)},
    {"ALLIED_WEBHOOK_POLL_MS", "200", "how often an idle webhook dispatcher looks for due deliveries",
     INT(webhook_poll_ms, 10, 60000)},
    {"ALLIED_BACKOFF_MIN_MS", "100", "background loops: first wait after a database failure (doubles each time)",
     INT(backoff_min_ms, 1, 60000)},
    {"ALLIED_BACKOFF_MAX_MS", "30000", "background loops: longest wait between tries while the database is away",
     INT(backoff_max_ms, 1, 3600000)},
    {"ALLIED_RATE_KEY_PER_SECOND", "50", "requests per second per API key, per instance (0 = no limit)",
     INT(rate_key_per_s, 0, 1000000)},
    {"ALLIED_RATE_KEY_BURST", "100", "burst of requests per API key above that rate",
     INT(rate_key_burst, 1, 1000000)},
    {"ALLIED_RATE_TENANT_PER_SECOND", "100", "requests per second per tenant, per instance (0 = no limit)",
     INT(rate_tenant_per_s, 0, 1000000)},
    {"ALLIED_RATE_TENANT_BURST", "200", "burst of requests per tenant above that rate",
     INT(rate_tenant_burst, 1, 1000000)},
    {"ALLIED_RATE_TENANT_PER_MINUTE", "6000", "requests per minute per tenant across all instances (0 = no limit)",
     INT(rate_tenant_per_min, 0, 100000000)},
    {"ALLIED_RATE_FLUSH_MS", "1000", "how often each instance adds its counts to the shared minute budget",
     INT(rate_flush_ms, 50, 60000)},
    {"ALLIED_AUTH_FAILURES_PER_ADDRESS", "20", "failed authentications per minute per client address, then 429 (0 = no limit)",
     INT(auth_fail_per_address, 0, 1000000)},
    {"ALLIED_AUTH_FAILURES_PER_PREFIX", "20", "failed authentications per minute per key prefix, then 429 (0 = no limit)",
     INT(auth_fail_per_prefix, 0, 1000000)},
    {"ALLIED_ACCESS_LOG", "1", "1: one JSON line per request (at info level: route, status, bytes, duration); 0: none",
     INT(access_log, 0, 1)},
    {"ALLIED_KEY_USED_EVERY_MS", "60000",
     "how often an instance marks a cached key used (last_used_at; the database keeps at most one write a minute)",
     INT(key_used_every_ms, 100, 3600000)},
    {"ALLIED_AUDIT_RETENTION_DAYS", "90", "days audit events are kept; older ones are pruned in the background",
     INT(audit_retention_days, 1, 36500)},
    {"ALLIED_AUDIT_PRUNE_MS", "60000", "how often the audit pruner looks for events past their retention",
     INT(audit_prune_ms, 50, 86400000)},
    {"ALLIED_IMPORT_MAX_BYTES", "104857600", "largest accepted import body (POST /v1/imports/*; spooled to a temporary file, 413 above)",
     SIZE(import_max_bytes, 1024, 2047L << 20)},
    {"ALLIED_TIME_EVENTS", "1", "1: `allied serve` runs the scheduler of time-based events (any number of instances may)",
     INT(time_events, 0, 1)},
    {"ALLIED_TIME_EVENTS_MAX_SLEEP_MS", "30000", "longest the idle scheduler sleeps before looking for due events again",
     INT(time_events_max_sleep_ms, 10, 60000)},
    {"ALLIED_STALLED_DAYS", "14", "days an engaged referral may go without a change before `referral.stalled`",
     INT(stalled_days, 1, 3650)},
    {"ALLIED_AGREEMENT_EXPIRING_DAYS", "30", "days before an agreement's ends_on that `agreement.expiring` is announced",
     INT(expiring_days, 0, 3650)},
    {"ALLIED_DORMANT_DAYS", "60", "days an active partner may go without a referral before `partner.dormant` (a tenant's setting overrides)",
     INT(dormant_days, 1, 3650)},
    {"ALLIED_SMTP_URL", "", "where e-mail notifications are sent: smtp://host:port (relay or submission) or smtps://host:port; empty = nothing is sent, messages stay queued", TEXT(smtp_url)},
    {"ALLIED_SMTP_USER", "", "SMTP user name (or user:password in ALLIED_SMTP_URL); empty = no authentication", TEXT(smtp_user)},
    {"ALLIED_SMTP_PASSWORD", "", "SMTP password", TEXT(smtp_password)},
    {"ALLIED_SMTP_STARTTLS", "0", "1: require STARTTLS on smtp:// (the submission port); smtps:// is always TLS",
     INT(smtp_starttls, 0, 1)},
    {"ALLIED_SMTP_TIMEOUT_MS", "30000", "longest one message may take to send (connect + SMTP dialogue)",
     INT(smtp_timeout_ms, 100, 600000)},
    {"ALLIED_MAIL_FROM", "Allied <allied@localhost>", "the From of e-mail notifications (\"Name <address>\" or an address)",
     TEXT(mail_from)},
    {"ALLIED_MAIL_POLL_MS", "1000", "how often an idle mail sender looks for due messages",
     INT(mail_poll_ms, 10, 60000)},
    {"ALLIED_MAIL_RETRY_SCALE", "100", "percent of the ~2-day mail retry schedule (tests shorten it)",
     INT(mail_retry_scale, 1, 100)},
    {"ALLIED_TEST_MODE", "0", "1: allow test-only settings (ALLIED_TEST_CLOCK_OFFSET_S); never in production",
     INT(test_mode, 0, 1)},
    {"ALLIED_TEST_CLOCK_OFFSET_S", "0", "test only: seconds added to the scheduler's clock (refused without ALLIED_TEST_MODE=1)",
     INT(test_clock_offset_s, -1000000000, 1000000000)},
    {"ALLIED_BENCH_INLINE_DB", "0", "measurement only: 1 runs each request's database work on the HTTP thread that received it, "
                                    "without the worker pool (no per-tenant cap, no queue; refused without ALLIED_TEST_MODE=1)",
     INT(bench_inline_db, 0, 1)},
    {"ALLIED_PUBLIC_BASE_URL", "", "the address people reach this instance at, e.g. https://allied.example.com: the start of sign-in links (empty = the request's own Host) and of links in e-mails (empty = http:// and ALLIED_LISTEN)",
     TEXT(public_base_url)},
    {"ALLIED_PORTAL_LINK_TTL_S", "1800", "seconds a sign-in link works (it works once)", INT(portal_link_ttl_s, 1, 604800)},
    {"ALLIED_SESSION_IDLE_S", "1800", "seconds a browser session lasts without use", INT(session_idle_s, 1, 2592000)},
    {"ALLIED_SESSION_ABSOLUTE_S", "43200", "seconds a browser session lasts at most, however used", INT(session_absolute_s, 1, 31536000)},
    {"ALLIED_SESSION_ROTATE_S", "900", "seconds of use after which a session's cookie value is replaced", INT(session_rotate_s, 0, 31536000)},
    {"ALLIED_SESSION_GRACE_S", "60", "seconds a replaced cookie value keeps working once the new one was used", INT(session_grace_s, 0, 3600)},
    {"ALLIED_COOKIE_SECURE", "auto", "Secure on the session cookie: auto (when a trusted proxy says X-Forwarded-Proto: https), always or never",
     TEXT(cookie_secure)},
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

/* Stores option `o`'s value (or its default) into `cfg`. 0, or -1 after saying what is wrong. */
static int load_option(const struct config_option *o) {
    const char *v = getenv(o->env);
    const char *s = v ? v : o->fallback;
    char *at = (char *)&cfg + o->offset, *end;
    if (o->kind == OPT_TEXT) {
        *(const char **)(void *)at = s;
        return 0;
    }
    long n = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || n < o->lo || n > o->hi) {
        fprintf(stderr, "allied: %s must be an integer in %ld..%ld (got \"%s\")\n", o->env, o->lo, o->hi, s);
        return -1;
    }
    if (o->kind == OPT_SIZE)
        *(size_t *)(void *)at = (size_t)n;
    else
        *(int *)(void *)at = (int)n;
    return 0;
}

int config_load(void) {
    for (int i = 0; i < config_options_count; i++)
        if (config_options[i].kind != OPT_OTHER && load_option(&config_options[i]) != 0) return -1;
    char bad[64];
    if (client_addr_trust(get("ALLIED_TRUSTED_PROXIES"), bad, sizeof bad) != 0) {
        fprintf(stderr, "allied: ALLIED_TRUSTED_PROXIES: \"%s\" is not an address or CIDR block\n", bad);
        return -1;
    }
    cfg.log_level = log_level_parse(get("ALLIED_LOG"));
    if (cfg.log_level < 0) {
        fprintf(stderr, "allied: ALLIED_LOG must be debug, info, warn, error or off\n");
        return -1;
    }
    log_set_level(cfg.log_level);
    if (strcmp(cfg.cookie_secure, "auto") && strcmp(cfg.cookie_secure, "always") && strcmp(cfg.cookie_secure, "never")) {
        fprintf(stderr, "allied: ALLIED_COOKIE_SECURE must be auto, always or never\n");
        return -1;
    }
    if (cfg.test_clock_offset_s != 0 && !cfg.test_mode) {
        fprintf(stderr, "allied: ALLIED_TEST_CLOCK_OFFSET_S is a test-only setting: refused without ALLIED_TEST_MODE=1\n");
        return -1;
    }
    if (cfg.bench_inline_db && !cfg.test_mode) {
        fprintf(stderr, "allied: ALLIED_BENCH_INLINE_DB is a measurement-only setting: refused without ALLIED_TEST_MODE=1\n");
        return -1;
    }
    return 0;
}
