/* Process configuration, read once from the environment at start-up. */
#ifndef ALLIED_CONFIG_H
#define ALLIED_CONFIG_H
#include <stddef.h>

/* The release (`allied version`, allied_build_info); a build may set it with -DALLIED_VERSION=... */
#ifndef ALLIED_VERSION
#define ALLIED_VERSION "0.1.0"
#endif

struct config {
    const char *database_url; /* DATABASE_URL (libpq URI or conninfo) */
    const char *listen;       /* ALLIED_LISTEN, host:port */
    int threads;              /* ALLIED_THREADS: MHD event threads */
    int db_pool;              /* ALLIED_DB_POOL: database workers, one connection each */
    size_t max_body_bytes;    /* ALLIED_MAX_BODY_BYTES */
    size_t import_max_bytes;  /* ALLIED_IMPORT_MAX_BYTES: bodies of RF_RAW_BODY routes (imports) */
    int log_level;            /* ALLIED_LOG: debug|info|warn|error|off */
    const char *db_role;      /* ALLIED_DB_ROLE: role the server switches to (non-owner) */
    int statement_timeout_ms; /* ALLIED_STATEMENT_TIMEOUT_MS: per statement of a request */
    int report_timeout_ms;    /* ALLIED_REPORT_TIMEOUT_MS: the same for report routes */
    int lock_timeout_ms;      /* ALLIED_LOCK_TIMEOUT_MS */
    int idle_tx_timeout_ms;   /* ALLIED_IDLE_TX_TIMEOUT_MS */
    int queue_timeout_ms;     /* ALLIED_QUEUE_TIMEOUT_MS: longest wait for a database worker */
    int queue_max;            /* ALLIED_QUEUE_MAX: waiting requests in all */
    int queue_per_tenant;     /* ALLIED_QUEUE_PER_TENANT: waiting requests per tenant */
    int tenant_workers;       /* ALLIED_TENANT_WORKERS: workers one tenant may hold (0 = pool - 1) */
    int key_cache_size;       /* ALLIED_KEY_CACHE_SIZE: slots (0 = off) */
    int key_cache_ttl_ms;     /* ALLIED_KEY_CACHE_TTL_MS */
    int conn_timeout_s;       /* ALLIED_CONN_TIMEOUT: idle connection timeout */
    int max_conns;            /* ALLIED_MAX_CONNECTIONS: total connection limit */
    int per_ip_conns;         /* ALLIED_PER_IP_CONNECTIONS */
    int conn_shed_percent;    /* ALLIED_CONN_SHED_PERCENT: shed idle connections from here on */
    int head_timeout_s;       /* ALLIED_HEAD_TIMEOUT: a begun request head must end within this */
    int body_timeout_s;       /* ALLIED_BODY_TIMEOUT: grace before the minimum body rate applies */
    int min_body_rate;        /* ALLIED_MIN_BODY_RATE: bytes/s (0 = no minimum) */
    size_t discard_body_bytes; /* ALLIED_DISCARD_BODY_BYTES: too-large bodies read and dropped */
    int drain_s;              /* ALLIED_DRAIN_SECONDS: how long SIGTERM waits for in-flight */
    int migrate_on_start;     /* ALLIED_MIGRATE_ON_START: 1 = `serve` migrates first */
    int webhook_workers;      /* ALLIED_WEBHOOK_WORKERS: dispatcher threads (0 = none) */
    int webhook_timeout_ms;   /* ALLIED_WEBHOOK_TIMEOUT_MS */
    int webhook_allow_private; /* ALLIED_WEBHOOK_ALLOW_PRIVATE: 1 = allow loopback/private URLs */
    int webhook_retry_scale;  /* ALLIED_WEBHOOK_RETRY_SCALE: percent of the real retry schedule */
    int webhook_poll_ms;      /* ALLIED_WEBHOOK_POLL_MS: idle dispatcher's look for due deliveries */
    int backoff_min_ms;       /* ALLIED_BACKOFF_MIN_MS: background loops, first wait after a DB failure */
    int backoff_max_ms;       /* ALLIED_BACKOFF_MAX_MS: background loops, the cap of that wait */
    int rate_key_per_s;       /* ALLIED_RATE_KEY_PER_SECOND: per key, per instance (0 = off) */
    int rate_key_burst;       /* ALLIED_RATE_KEY_BURST */
    int rate_tenant_per_s;    /* ALLIED_RATE_TENANT_PER_SECOND: per tenant, per instance (0 = off) */
    int rate_tenant_burst;    /* ALLIED_RATE_TENANT_BURST */
    int rate_tenant_per_min;  /* ALLIED_RATE_TENANT_PER_MINUTE: shared by all instances (0 = off) */
    int rate_flush_ms;        /* ALLIED_RATE_FLUSH_MS: budget flush period */
    int auth_fail_per_address; /* ALLIED_AUTH_FAILURES_PER_ADDRESS: per minute (0 = off) */
    int auth_fail_per_prefix; /* ALLIED_AUTH_FAILURES_PER_PREFIX: per minute (0 = off) */
    int access_log;           /* ALLIED_ACCESS_LOG: 1 = one line per request at info level */
    int key_used_every_ms;    /* ALLIED_KEY_USED_EVERY_MS: per cached key, per instance */
    int audit_retention_days; /* ALLIED_AUDIT_RETENTION_DAYS */
    int audit_prune_ms;       /* ALLIED_AUDIT_PRUNE_MS: pruner period */
    int time_events;          /* ALLIED_TIME_EVENTS: 1 = this instance runs the time-event scheduler */
    int time_events_max_sleep_ms; /* ALLIED_TIME_EVENTS_MAX_SLEEP_MS: longest idle wait between scans */
    int stalled_days;         /* ALLIED_STALLED_DAYS: engaged this long without a change = stalled */
    int expiring_days;        /* ALLIED_AGREEMENT_EXPIRING_DAYS: agreement.expiring this long before ends_on */
    int dormant_days;         /* ALLIED_DORMANT_DAYS: a partner this long without a referral = dormant */
    const char *smtp_url;     /* ALLIED_SMTP_URL: empty = no mail is sent */
    const char *smtp_user;    /* ALLIED_SMTP_USER */
    const char *smtp_password; /* ALLIED_SMTP_PASSWORD */
    int smtp_starttls;        /* ALLIED_SMTP_STARTTLS: 1 = require STARTTLS */
    int smtp_timeout_ms;      /* ALLIED_SMTP_TIMEOUT_MS: one message */
    const char *mail_from;    /* ALLIED_MAIL_FROM */
    int mail_poll_ms;         /* ALLIED_MAIL_POLL_MS: idle sender's look for due messages */
    int mail_retry_scale;     /* ALLIED_MAIL_RETRY_SCALE: percent of the real retry schedule */
    int test_mode;            /* ALLIED_TEST_MODE: 1 = test-only settings allowed */
    int test_clock_offset_s;  /* ALLIED_TEST_CLOCK_OFFSET_S: shifts the scheduler's "now" (test mode only) */
    int bench_inline_db;      /* ALLIED_BENCH_INLINE_DB: no hand-off to the pool, to measure it (test mode only) */
    const char *public_base_url; /* ALLIED_PUBLIC_BASE_URL: "" = the request's Host */
    int portal_link_ttl_s;    /* ALLIED_PORTAL_LINK_TTL_S: sign-in links */
    int session_idle_s;       /* ALLIED_SESSION_IDLE_S */
    int session_absolute_s;   /* ALLIED_SESSION_ABSOLUTE_S */
    int session_rotate_s;     /* ALLIED_SESSION_ROTATE_S */
    int session_grace_s;      /* ALLIED_SESSION_GRACE_S */
    const char *cookie_secure; /* ALLIED_COOKIE_SECURE: auto, always, never */
};

/* One row per environment variable: the table is the documentation's source, and for plain
 * values also where it is stored and its range. OPT_OTHER rows are parsed by config_load itself. */
enum config_kind { OPT_OTHER, OPT_TEXT, OPT_INT, OPT_SIZE };
struct config_option {
    const char *env;
    const char *fallback;
    const char *help;
    enum config_kind kind;
    size_t offset; /* in struct config */
    long lo, hi;   /* OPT_INT, OPT_SIZE */
};
extern const struct config_option config_options[];
extern const int config_options_count;

extern struct config cfg;

/* Reads the environment into `cfg`. Returns 0, or -1 after printing what is wrong. */
int config_load(void);

#endif
