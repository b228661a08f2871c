/* Process configuration, read once from the environment at start-up. */
#ifndef ALLIED_CONFIG_H
#define ALLIED_CONFIG_H
#include <stddef.h>

struct config {
    const char *database_url; /* DATABASE_URL (libpq URI or conninfo) */
    const char *listen;       /* ALLIED_LISTEN, host:port */
    int threads;              /* ALLIED_THREADS: MHD event threads */
    int db_pool;              /* ALLIED_DB_POOL: database workers, one connection each */
    size_t max_body_bytes;    /* ALLIED_MAX_BODY_BYTES */
    int log_level;            /* ALLIED_LOG: debug|info|warn|error|off */
    const char *db_role;      /* ALLIED_DB_ROLE: role the server switches to (non-owner) */
    int conn_timeout_s;       /* ALLIED_CONN_TIMEOUT: idle connection timeout */
    int max_conns;            /* ALLIED_MAX_CONNECTIONS: total connection limit */
    int per_ip_conns;         /* ALLIED_PER_IP_CONNECTIONS */
    int drain_s;              /* ALLIED_DRAIN_SECONDS: how long SIGTERM waits for in-flight */
    int migrate_on_start;     /* ALLIED_MIGRATE_ON_START: 1 = `serve` migrates first */
    int webhook_workers;      /* ALLIED_WEBHOOK_WORKERS: dispatcher threads (0 = none) */
    int webhook_timeout_ms;   /* ALLIED_WEBHOOK_TIMEOUT_MS */
    int webhook_allow_private; /* ALLIED_WEBHOOK_ALLOW_PRIVATE: 1 = allow loopback/private URLs */
    int webhook_retry_scale;  /* ALLIED_WEBHOOK_RETRY_SCALE: percent of the real retry schedule */
    int rate_key_per_s;       /* ALLIED_RATE_KEY_PER_SECOND: per key, per instance (0 = off) */
    int rate_key_burst;       /* ALLIED_RATE_KEY_BURST */
    int rate_tenant_per_s;    /* ALLIED_RATE_TENANT_PER_SECOND: per tenant, per instance (0 = off) */
    int rate_tenant_burst;    /* ALLIED_RATE_TENANT_BURST */
    int rate_tenant_per_min;  /* ALLIED_RATE_TENANT_PER_MINUTE: shared by all instances (0 = off) */
    int rate_flush_ms;        /* ALLIED_RATE_FLUSH_MS: budget flush period */
    int auth_fail_per_address; /* ALLIED_AUTH_FAILURES_PER_ADDRESS: per minute (0 = off) */
    int auth_fail_per_prefix; /* ALLIED_AUTH_FAILURES_PER_PREFIX: per minute (0 = off) */
};

/* One row per environment variable: the table is the documentation's source. */
struct config_option {
    const char *env;
    const char *fallback;
    const char *help;
};
extern const struct config_option config_options[];
extern const int config_options_count;

extern struct config cfg;

/* Reads the environment into `cfg`. Returns 0, or -1 after printing what is wrong. */
int config_load(void);

#endif
