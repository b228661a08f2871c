/* One claimed message or digest (mail_job.h): read what to say, say it, record it. */
#include "api/notify/mail_job.h"
#include "api/notify/render.h"
#include "api/notify/smtp.h"
#include "api/notify/token.h"
#include "server/config.h"
#include "server/log.h"
#include "server/text.h"
#include "server/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the claimed rows say, oldest event first. `wanted`: a direct message, or the contact
 * still exists and still wants the kind (an unsubscribe since it was queued counts). */
DB_STMT(st_rows,
        "SELECT n.id, n.type, n.recipient, n.contact_id IS NULL, n.subject, n.body_text, n.body_html, "
        "  n.contact_id IS NULL OR coalesce(n.type = ANY (c.notifications), false), c.name, c.role, p.name, t.name, "
        "  f.resource_type, f.resource_id, f.data::text, api_ts(f.at), n.attempts, n.contact_id, c.id IS NOT NULL "
        "FROM notifications n JOIN tenants t ON t.id = n.tenant_id "
        "LEFT JOIN contacts c ON c.tenant_id = n.tenant_id AND c.id = n.contact_id "
        "LEFT JOIN partners p ON p.tenant_id = n.tenant_id AND p.id = c.partner_id "
        "LEFT JOIN feed_events f ON f.tenant_id = n.tenant_id AND f.seq = n.feed_seq "
        "WHERE n.tenant_id = $1 AND n.id = ANY ($2::uuid[]) ORDER BY n.feed_seq, n.created_at");
DB_STMT(st_sent,
        "UPDATE notifications SET status = 'sent', sent_at = now(), last_error = NULL, updated_at = now() "
        "WHERE tenant_id = $1 AND id = ANY ($2::uuid[])");
DB_STMT(st_retry,
        "UPDATE notifications SET status = CASE WHEN $4::boolean THEN 'failed' ELSE 'queued' END, "
        "  next_attempt_at = now() + make_interval(secs => $3::double precision), last_error = $5, updated_at = now() "
        "WHERE tenant_id = $1 AND id = ANY ($2::uuid[])");
DB_STMT(st_skip,
        "UPDATE notifications SET status = 'skipped', last_error = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2");

static const int SCHEDULE_S[] = {30, 120, 600, 1800, 3600, 7200, 14400, 28800, 43200, 86400};
#define ATTEMPTS (int)(sizeof SCHEDULE_S / sizeof SCHEDULE_S[0] + 1)

int mail_retry_s(int attempt) {
    return attempt >= 1 && attempt < ATTEMPTS ? SCHEDULE_S[attempt - 1] : -1;
}

enum { C_ID, C_TYPE, C_TO, C_DIRECT, C_SUBJECT, C_TEXT, C_HTML, C_WANTED, C_NAME, C_ROLE, C_PARTNER, C_TENANT,
       C_RTYPE, C_RID, C_DATA, C_AT, C_ATTEMPTS, C_CONTACT, C_EXISTS };

#define URL_MAX 700

static const char *val(PGresult *r, int i, int col) {
    return PQgetisnull(r, i, col) ? NULL : PQgetvalue(r, i, col);
}

/* ALLIED_PUBLIC_BASE_URL without a trailing slash, into out[URL_MAX]; unset, this instance's own
 * listening address (a message has no request whose Host could stand in). */
static const char *base_url(char *out) {
    size_t n = cfg.public_base_url[0] ? (size_t)snprintf(out, URL_MAX - 200, "%s", cfg.public_base_url)
                                      : (size_t)snprintf(out, URL_MAX - 200, "http://%s", cfg.listen);
    if (n > URL_MAX - 201) n = URL_MAX - 201;
    while (n > 0 && out[n - 1] == '/') out[--n] = '\0';
    return out;
}

static void unsubscribe_url(const char *tenant, const char *contact, const char *kind, char out[URL_MAX]) {
    char token[NOTIFY_TOKEN_MAX], base[URL_MAX];
    if (notify_token_make(tenant, contact, kind, token) != 0) *token = '\0';
    text_format(out, URL_MAX, "%s/v1/unsubscribe?token=%s", base_url(base), token);
}

/* The outcome of the attempt for every row in `ids`. */
static bool record(struct db_conn *c, const char *tenant, const char *ids, int attempts, const char *error,
                   char *err, size_t errlen) {
    PGresult *r;
    if (!error) {
        const char *p[] = {tenant, ids};
        r = db_try_conn(c, &st_sent, 2, p, err, errlen);
    } else {
        int base = mail_retry_s(attempts);
        unsigned char b;
        random_bytes(&b, 1);
        char delay[32];
        snprintf(delay, sizeof delay, "%.3f", base < 0 ? 0 : base * (cfg.mail_retry_scale / 100.0) * (0.8 + 0.4 * b / 255.0));
        const char *p[] = {tenant, ids, delay, base < 0 ? "true" : "false", error};
        r = db_try_conn(c, &st_retry, 5, p, err, errlen);
    }
    PQclear(r);
    return r != NULL;
}

/* Skips row i (its contact is gone or no longer wants the kind). */
static bool skip(struct db_conn *c, const char *tenant, PGresult *rows, int i, char *err, size_t errlen) {
    char why[200];
    if (val(rows, i, C_EXISTS)[0] == 'f')
        snprintf(why, sizeof why, "not sent: the contact was deleted");
    else
        snprintf(why, sizeof why, "not sent: the contact no longer wants '%s'", PQgetvalue(rows, i, C_TYPE));
    const char *p[] = {tenant, PQgetvalue(rows, i, C_ID), why};
    PGresult *r = db_try_conn(c, &st_skip, 3, p, err, errlen);
    PQclear(r);
    return r != NULL;
}

/* Sends what rows say (all wanted: `keep` are their indexes); the SMTP error or NULL. */
static const char *send_rows(const char *tenant, PGresult *rows, const int *keep, int n, bool digest, char *serr,
                             size_t serrlen) {
    int i0 = keep[0];
    char from[256], msgid[400], unsub[URL_MAX], base[URL_MAX];
    smtp_from_address(from, sizeof from);
    const char *domain = strchr(from, '@') ? strchr(from, '@') + 1 : "allied.invalid";
    snprintf(msgid, sizeof msgid, "%s%s@%s", PQgetvalue(rows, i0, C_ID), digest ? ".digest" : "", domain);
    struct smtp_msg m = {.to = PQgetvalue(rows, i0, C_TO), .message_id = msgid};
    if (val(rows, i0, C_DIRECT)[0] == 't') {
        m.subject = PQgetvalue(rows, i0, C_SUBJECT);
        m.text = PQgetvalue(rows, i0, C_TEXT);
        m.html = val(rows, i0, C_HTML);
        return smtp_send(&m, serr, serrlen) == 0 ? NULL : serr;
    }
    const char *contact = PQgetvalue(rows, i0, C_CONTACT);
    struct notify_item *items = calloc((size_t)n, sizeof *items);
    char(*urls)[URL_MAX] = calloc((size_t)n, URL_MAX);
    struct mail mail = {0};
    const char *out = "not sent: out of memory";
    if (items && urls) {
        for (int k = 0; k < n; k++) {
            int i = keep[k];
            unsubscribe_url(tenant, contact, PQgetvalue(rows, i, C_TYPE), urls[k]);
            items[k] = (struct notify_item){PQgetvalue(rows, i, C_TYPE), PQgetvalue(rows, i, C_RTYPE),
                                            PQgetvalue(rows, i, C_RID), PQgetvalue(rows, i, C_DATA),
                                            PQgetvalue(rows, i, C_AT), urls[k]};
        }
        unsubscribe_url(tenant, contact, digest ? "*" : items[0].type, unsub);
        struct notify_to to = {m.to, PQgetvalue(rows, i0, C_NAME), PQgetvalue(rows, i0, C_ROLE),
                               val(rows, i0, C_PARTNER), PQgetvalue(rows, i0, C_TENANT), base_url(base), unsub};
        if (render_mail(&to, items, n, digest, &mail) == 0) {
            m.subject = mail.subject, m.text = mail.text, m.html = mail.html, m.unsubscribe = unsub;
            out = smtp_send(&m, serr, serrlen) == 0 ? NULL : serr;
        }
    }
    mail_free(&mail);
    free(items);
    free(urls);
    return out;
}

/* The ids of rows `keep` as an array literal into out (n * 38 + 3 bytes). */
static void kept_ids(PGresult *rows, const int *keep, int n, char *out) {
    char *o = out;
    *o++ = '{';
    for (int k = 0; k < n; k++) o += sprintf(o, "%s%s", k ? "," : "", PQgetvalue(rows, keep[k], C_ID));
    strcpy(o, "}");
}

int mail_job_run(struct db_conn *c, const char *tenant, const char *ids, bool digest, char *err, size_t errlen) {
    const char *p[] = {tenant, ids};
    PGresult *rows = db_try_conn(c, &st_rows, 2, p, err, errlen);
    if (!rows) return -1;
    int n = PQntuples(rows), kept = 0, attempts = 0;
    int *keep = malloc(sizeof(int) * (size_t)(n + 1));
    char *sent = malloc((size_t)n * 38 + 3);
    bool ok = keep && sent;
    for (int i = 0; ok && i < n; i++) {
        if (val(rows, i, C_WANTED)[0] == 't') {
            keep[kept++] = i;
            if (atoi(PQgetvalue(rows, i, C_ATTEMPTS)) > attempts) attempts = atoi(PQgetvalue(rows, i, C_ATTEMPTS));
        } else
            ok = skip(c, tenant, rows, i, err, errlen);
    }
    if (ok && kept > 0) {
        char serr[512];
        const char *error = send_rows(tenant, rows, keep, kept, digest, serr, sizeof serr);
        kept_ids(rows, keep, kept, sent);
        ok = record(c, tenant, sent, attempts, error, err, errlen);
        if (!ok) log_msg(LOG_WARN, NULL, "mail sender: %s message %s could not be recorded: %s; it may be sent again",
                         error ? "a failed" : "a sent", PQgetvalue(rows, keep[0], C_ID), err);
    }
    free(keep);
    free(sent);
    PQclear(rows);
    return ok ? 0 : -1;
}
