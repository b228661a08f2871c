/* The mail sender (sender.h). One thread per `allied serve`, on a system connection (all
 * tenants). Each round:
 *   1. claim — one due message (or one contact's due digest rows) FOR UPDATE SKIP LOCKED, its
 *      attempt counted and its due time pushed out by a lease, in one autocommit statement: the
 *      claim is committed before anything is sent, so another instance skips it;
 *   2. render and send — off-transaction, over SMTP (render.c, smtp.c);
 *   3. record — sent (every row of a digest in one statement), or a retry with back-off, or
 *      failed after the last attempt; rows whose contact was deleted or no longer wants the kind
 *      are skipped.
 * A crash after the SMTP server took a message and before it was recorded sends it again when
 * the lease ends: at least once, with the same Message-ID (the row's id), so a receiver can drop
 * the repeat. The other way round (recorded, not sent) cannot happen. While the database is away
 * the loop backs off (server/backoff.h) and logs the outage once. */
#include "api/notify/sender.h"
#include "api/notify/mail_job.h"
#include "api/notify/token.h"
#include "server/backoff.h"
#include "server/config.h"
#include "server/data/db.h"
#include "server/log.h"
#include "server/loop.h"
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOT_SUSPENDED "NOT EXISTS (SELECT 1 FROM tenants t WHERE t.id = n.tenant_id AND t.status = 'suspended') "
#define LEASE "attempts = n.attempts + 1, next_attempt_at = now() + make_interval(secs => $1::int), updated_at = now() "

DB_STMT(st_key, NOTIFY_KEY_SQL);
/* One message (an event for a contact without digest, or a direct one). $1 lease seconds. */
DB_STMT(st_claim_one,
        "WITH due AS (SELECT n.tenant_id, n.id FROM notifications n WHERE n.status = 'queued' AND NOT n.digest "
        "  AND n.next_attempt_at <= now() AND " NOT_SUSPENDED
        "  ORDER BY n.next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED) "
        "UPDATE notifications n SET " LEASE "FROM due WHERE n.tenant_id = due.tenant_id AND n.id = due.id "
        "RETURNING n.tenant_id, n.id::text");
/* One contact's due digest: every held row of it, under a lock on the contact so two instances
 * never split one digest. */
DB_STMT(st_claim_digest,
        "WITH pick AS (SELECT n.tenant_id, n.contact_id FROM notifications n WHERE n.status = 'queued' AND n.digest "
        "  AND n.next_attempt_at <= now() AND " NOT_SUSPENDED
        "  ORDER BY n.next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED), "
        "got AS (SELECT * FROM pick WHERE pg_try_advisory_xact_lock(hashtextextended(pick.contact_id::text, 22))) "
        "UPDATE notifications n SET " LEASE "FROM got WHERE n.tenant_id = got.tenant_id "
        "  AND n.contact_id = got.contact_id AND n.status = 'queued' AND n.digest AND n.next_attempt_at <= now() "
        "RETURNING n.tenant_id, n.id::text");

static struct loop sender = LOOP_INIT;

struct mailer {
    struct db_conn *c;
    int failures;
    char err[512];
};

/* Claims with `st`; the claimed rows (all of one tenant), or NULL after a failure. */
static PGresult *claim(struct mailer *M, struct db_stmt *st) {
    char lease[16];
    /* longer than one attempt (render, send within the timeout, record), with room to spare */
    snprintf(lease, sizeof lease, "%d", (2 * cfg.smtp_timeout_ms + 5999) / 1000);
    const char *p[] = {lease};
    return db_try_conn(M->c, st, 1, p, M->err, sizeof M->err);
}

/* The claimed ids as a PostgreSQL array literal. */
static char *id_array(PGresult *r) {
    int n = PQntuples(r);
    char *s = malloc((size_t)n * 38 + 3), *o = s;
    if (!s) return NULL;
    *o++ = '{';
    for (int i = 0; i < n; i++) o += sprintf(o, "%s%s", i ? "," : "", PQgetvalue(r, i, 1));
    strcpy(o, "}");
    return s;
}

/* One round: claims and sends one message or one digest. 1 if there was one, 0 if nothing was
 * due, -1 on a database failure. */
static int round_once(struct mailer *M) {
    bool digest = false;
    PGresult *r = claim(M, &st_claim_one);
    if (r && PQntuples(r) == 0) {
        PQclear(r);
        digest = true;
        r = claim(M, &st_claim_digest);
    }
    if (!r) return -1;
    int n = PQntuples(r);
    char *ids = n ? id_array(r) : NULL;
    char tenant[37];
    snprintf(tenant, sizeof tenant, "%s", n ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    if (n == 0) return 0;
    int rc = ids ? mail_job_run(M->c, tenant, ids, digest, M->err, sizeof M->err) : 0; /* OOM: the lease brings it back */
    free(ids);
    return rc < 0 ? -1 : 1;
}

static bool key_loaded(struct mailer *M) {
    if (notify_key_ready()) return true;
    PGresult *r = db_try_conn(M->c, &st_key, 0, NULL, M->err, sizeof M->err);
    if (!r) return false;
    if (PQntuples(r) != 1 || notify_key_from_hex(PQgetvalue(r, 0, 0)) != 0)
        LOG_BUG("mail sender: no usable 'unsubscribe' key in server_secrets (run `allied migrate`)");
    PQclear(r);
    return notify_key_ready();
}

static void failed(struct mailer *M) {
    if (M->failures == 0) log_msg(LOG_WARN, NULL, "mail sender: database unavailable: %s; retrying with back-off", M->err);
    if (M->c && !db_ok(M->c)) {
        db_close(M->c);
        M->c = NULL;
    }
    loop_nap(&sender, backoff_after_failure(&M->failures));
}

static void *sender_main(void *arg) {
    (void)arg;
    struct mailer M = {0};
    while (!loop_stopping(&sender)) {
        if (!M.c && !(M.c = db_open(false, M.err, sizeof M.err))) {
            failed(&M);
            continue;
        }
        int got = key_loaded(&M) ? round_once(&M) : -1;
        if (got < 0) {
            failed(&M);
            continue;
        }
        if (M.failures) log_msg(LOG_INFO, NULL, "mail sender: database back");
        M.failures = 0;
        if (got == 0) loop_nap(&sender, cfg.mail_poll_ms);
    }
    db_close(M.c);
    return NULL;
}

/* The URL without user:password@, for the log. */
static void url_for_log(char *out, size_t cap) {
    const char *u = cfg.smtp_url, *scheme = strstr(u, "://"), *at = strchr(u, '@');
    if (scheme && at && at > scheme)
        snprintf(out, cap, "%.*s://%s", (int)(scheme - u), u, at + 1);
    else
        snprintf(out, cap, "%s", u);
}

int mail_sender_start(void) {
    if (!*cfg.smtp_url) {
        log_msg(LOG_WARN, NULL, "mail sender: ALLIED_SMTP_URL is not set: no e-mail is sent; notifications stay queued");
        return 0;
    }
    char url[512];
    url_for_log(url, sizeof url);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || loop_start(&sender, sender_main, NULL) != 0) {
        log_msg(LOG_ERROR, NULL, "mail sender: cannot start");
        return -1;
    }
    log_msg(LOG_INFO, NULL, "mail sender: sending e-mail notifications through %s as %s", url, cfg.mail_from);
    return 0;
}

void mail_sender_stop(void) {
    if (!sender.running) return;
    loop_stop(&sender);
    curl_global_cleanup();
}
