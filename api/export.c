/* GET /v1/export: the whole tenant as NDJSON, and POST /v1/imports/export: that file restored into
 * an empty tenant with its ids, statuses and history.
 *
 * Each line is {"type": T, "data": <the API's JSON of the record>, "row": <the stored record>}:
 * `data` is what the API shows, `row` every column but the tenant and secrets, which is what a
 * restore inserts. The export runs in one REPEATABLE READ snapshot (route flag RF_SNAPSHOT), reads
 * each table through a server-side cursor 1000 rows at a time and writes the lines into an unlinked
 * temporary file that is then sent from disk: memory stays flat whatever the tenant's size. */
#include "api/api.h"
#include "api/data_io.h"
#include "api/webhooks/signing.h"
#include "server/data/db.h"
#include "server/edge/json_in.h"
#include "server/edge/params.h"
#include "server/edge/reply.h"
#include "server/edge/resource.h"
#include "server/log.h"
#include "server/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define FETCH_ROWS "1000"

/* The cursor over one table: the export line built in SQL. */
#define EXPORT_SQL(type, json, row, from, order)                                                   \
    "DECLARE export_rows NO SCROLL CURSOR FOR SELECT '{\"type\":\"" type "\",\"data\":' || (" json   \
    ")::text || ',\"row\":' || (" row ")::text || '}' FROM " from " WHERE x.tenant_id = $1 ORDER BY " order
/* The restore of one table: every exported column; what the export leaves out is NULL or given. */
#define RESTORE_SQL(table, extra)                                                                  \
    "INSERT INTO " table " OVERRIDING SYSTEM VALUE SELECT * FROM jsonb_populate_record(NULL::" table \
    ", $2::jsonb || jsonb_build_object('tenant_id', $1::text" extra "))"

/* Most tables: `data` from <type>_json(x), `row` without the tenant and the `dropped` secrets, in
 * creation order. */
#define EXPORT_TABLE(type, table, dropped)                                                           \
    EXPORT_SQL(type, type "_json(x)", "to_jsonb(x) - 'tenant_id'" dropped, table " x", "x.created_at, x.id")

DB_STMT(x_partner, EXPORT_TABLE("partner", "partners", ""));
DB_STMT(x_agreement, EXPORT_TABLE("agreement", "agreements", ""));
DB_STMT(x_referral, EXPORT_TABLE("referral", "referrals", ""));
DB_STMT(x_referral_event, EXPORT_SQL("referral_event", "referral_event_json(x)",
                                     "to_jsonb(x) - 'tenant_id'", "referral_events x", "x.id"));
DB_STMT(x_invoice, EXPORT_TABLE("invoice", "invoices", ""));
DB_STMT(x_commission, EXPORT_TABLE("commission", "commissions", ""));
DB_STMT(x_invoice_line, EXPORT_SQL("invoice_line", "to_jsonb(x) - 'tenant_id'", "to_jsonb(x) - 'tenant_id'",
                                   "invoice_lines x", "x.invoice_id, x.line_no"));
DB_STMT(x_webhook_endpoint, EXPORT_TABLE("webhook_endpoint", "webhook_endpoints",
                                         " - 'secret' - 'previous_secret' - 'previous_secret_until'"));
DB_STMT(x_commitment, EXPORT_TABLE("commitment", "commitments", ""));
DB_STMT(x_check_in, EXPORT_TABLE("check_in", "check_ins", ""));
DB_STMT(x_contact, EXPORT_TABLE("contact", "contacts", ""));
DB_STMT(x_api_key, EXPORT_TABLE("api_key", "api_keys", " - 'secret_hash' - 'previous_secret_hash'"));

DB_STMT(r_partner, RESTORE_SQL("partners", ""));
DB_STMT(r_agreement, RESTORE_SQL("agreements", ""));
DB_STMT(r_referral, RESTORE_SQL("referrals", ""));
DB_STMT(r_referral_event, RESTORE_SQL("referral_events", ""));
DB_STMT(r_invoice, RESTORE_SQL("invoices", ""));
DB_STMT(r_commission, RESTORE_SQL("commissions", ""));
DB_STMT(r_invoice_line, RESTORE_SQL("invoice_lines", ""));
/* A restored endpoint gets a fresh secret (the export holds none) and no owner key (keys are not
 * restored), and is disabled until an admin rotates its secret and enables it again. */
DB_STMT(r_webhook_endpoint,
        RESTORE_SQL("webhook_endpoints", ", 'secret', $3::text, 'api_key_id', NULL, 'enabled', false"));
DB_STMT(r_commitment, RESTORE_SQL("commitments", ""));
DB_STMT(r_check_in, RESTORE_SQL("check_ins", ""));
DB_STMT(r_contact, RESTORE_SQL("contacts", ""));

/* In dependency order: a restore inserts the lines in the order the export wrote them. */
static const struct kind {
    const char *type;
    struct db_stmt *export_st;
    struct db_stmt *restore_st; /* NULL: exported for the record, not restored */
} KINDS[] = {
    {"partner", &x_partner, &r_partner},
    {"agreement", &x_agreement, &r_agreement},
    {"referral", &x_referral, &r_referral},
    {"referral_event", &x_referral_event, &r_referral_event},
    {"invoice", &x_invoice, &r_invoice},
    {"commission", &x_commission, &r_commission},
    {"invoice_line", &x_invoice_line, &r_invoice_line},
    {"webhook_endpoint", &x_webhook_endpoint, &r_webhook_endpoint},
    {"commitment", &x_commitment, &r_commitment},
    {"check_in", &x_check_in, &r_check_in},
    {"contact", &x_contact, &r_contact},
    {"api_key", &x_api_key, NULL},
};
#define NKINDS (int)(sizeof KINDS / sizeof KINDS[0])

DB_STMT(st_fetch, "FETCH " FETCH_ROWS " FROM export_rows");
DB_STMT(st_close, "CLOSE export_rows");
DB_STMT(st_stamp, "UPDATE tenants SET last_export_at = now() WHERE id = $1");
DB_STMT(st_tenant, "SELECT 1 FROM tenants WHERE id = $1");

/* Writes one table's lines; 0, -1 after a database failure (rq->db_fail set), -2 on a write error. */
static int export_kind(struct request *rq, const struct kind *k, FILE *out) {
    const char *p[] = {rq->auth.tenant_id};
    PGresult *r = db_exec(rq, k->export_st, 1, p);
    if (!r) return -1;
    PQclear(r);
    for (;;) {
        if (!(r = db_exec(rq, &st_fetch, 0, NULL))) return -1;
        int n = PQntuples(r);
        for (int i = 0; i < n; i++) {
            fwrite(PQgetvalue(r, i, 0), 1, (size_t)PQgetlength(r, i, 0), out);
            fputc('\n', out);
        }
        PQclear(r);
        if (ferror(out)) return -2;
        if (n == 0) break;
    }
    if (!(r = db_exec(rq, &st_close, 0, NULL))) return -1;
    PQclear(r);
    return 0;
}

void api_export(struct request *rq) {
    int fd = temp_file_fd();
    FILE *out = fd >= 0 ? fdopen(fd, "w+") : NULL;
    if (!out) {
        if (fd >= 0) close(fd);
        LOG_BUG("cannot create the export's temporary file");
        reply_problem(rq, P_INTERNAL, "the export could not be written");
        return;
    }
    int rc = 0;
    for (int i = 0; i < NKINDS && rc == 0; i++) rc = export_kind(rq, &KINDS[i], out);
    if (rc == 0 && fflush(out) != 0) rc = -2;
    long size = rc == 0 ? ftell(out) : -1;
    int send_fd = rc == 0 && size >= 0 ? dup(fileno(out)) : -1;
    fclose(out);
    if (rc == -1) return; /* the runner answers the database failure */
    if (send_fd < 0) {
        LOG_BUG("cannot write the export's temporary file (disk full?)");
        reply_problem(rq, P_INTERNAL, "the export could not be written");
        return;
    }
    const char *p[] = {rq->auth.tenant_id};
    PGresult *r = db_exec(rq, &st_stamp, 1, p);
    if (!r) {
        close(send_fd);
        return;
    }
    PQclear(r);
    reply_file(rq, 200, send_fd, (size_t)size, "application/x-ndjson");
    reply_header(rq, "Content-Disposition", "attachment; filename=\"allied-export.ndjson\"");
}

/* ---- restore ---- */

DB_STMT(st_has_records,
        "SELECT EXISTS (SELECT 1 FROM partners WHERE tenant_id = $1) "
        "OR EXISTS (SELECT 1 FROM agreements WHERE tenant_id = $1) "
        "OR EXISTS (SELECT 1 FROM referrals WHERE tenant_id = $1) "
        "OR EXISTS (SELECT 1 FROM invoices WHERE tenant_id = $1) "
        "OR EXISTS (SELECT 1 FROM commissions WHERE tenant_id = $1) "
        "OR EXISTS (SELECT 1 FROM webhook_endpoints WHERE tenant_id = $1) "
        "OR EXISTS (SELECT 1 FROM contacts WHERE tenant_id = $1)");
/* New invoices continue each year's numbering after the restored ones. */
DB_STMT(st_counters,
        "INSERT INTO invoice_counters (tenant_id, year, last) "
        "SELECT $1, split_part(number, '-', 2)::int, max(split_part(number, '-', 3)::int) FROM invoices "
        "WHERE tenant_id = $1 AND number ~ '^INV-[0-9]{4}-[0-9]+$' GROUP BY 2 "
        "ON CONFLICT (tenant_id, year) DO UPDATE SET last = greatest(invoice_counters.last, EXCLUDED.last)");
DB_STMT(st_catch_up, "SELECT allied_referral_events_catch_up()");

#define MAX_LINE (4 << 20)

static const struct kind *kind_named(const char *type) {
    for (int i = 0; type && i < NKINDS; i++)
        if (strcmp(KINDS[i].type, type) == 0) return &KINDS[i];
    return NULL;
}

/* Replies 400 naming the line of the file that cannot be restored. */
static void line_error(struct request *rq, long line, const char *why) {
    reply_problem_extra(rq, P_BAD_REQUEST, json_pack("{s:i}", "line", (json_int_t)line), "line %ld: %s", line, why);
}

/* 0 if the body is NDJSON (or, for CSV-capable imports, CSV); else replies 415. */
int import_content_type_or_reply(struct request *rq, bool csv_too) {
    const char *ct = req_header(rq, "Content-Type");
    size_t n = ct ? strcspn(ct, ";") : 0;
    while (n && ct[n - 1] == ' ') n--;
    if (ct && n == 20 && strncasecmp(ct, "application/x-ndjson", 20) == 0) return 0;
    if (csv_too && ct && n == 8 && strncasecmp(ct, "text/csv", 8) == 0) return 1;
    reply_problem(rq, P_UNSUPPORTED_MEDIA, "Content-Type must be %s",
                  csv_too ? "text/csv or application/x-ndjson" : "application/x-ndjson (a file from GET /v1/export)");
    return -1;
}

FILE *import_body_or_reply(struct request *rq, const char *what) {
    if (rq->body_len == 0) {
        reply_problem(rq, P_BAD_REQUEST, "the body is empty: send %s", what);
        return NULL;
    }
    int fd = rq->body_fd > 0 ? dup(rq->body_fd) : -1;
    FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
    if (!f) {
        if (fd >= 0) close(fd);
        reply_problem(rq, P_INTERNAL, "the uploaded file could not be read");
        return NULL;
    }
    rewind(f);
    return f;
}

ssize_t import_next_line(char **line, size_t *cap, FILE *in, long *lineno) {
    ssize_t len;
    while ((len = getline(line, cap, in)) >= 0) {
        ++*lineno;
        char *s = *line;
        while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r')) s[--len] = '\0';
        if (len > 0) return len;
    }
    return -1;
}

/* Adds one to counts[type]. */
static void count_one(json_t *counts, const char *type) {
    json_object_set_new(counts, type, json_integer(json_integer_value(json_object_get(counts, type)) + 1));
}

/* True if the tenant holds no records yet; else false after a 409 or a database failure. */
static bool tenant_empty_or_reply(struct request *rq) {
    const char *p[] = {rq->auth.tenant_id};
    PGresult *r = db_exec(rq, &st_has_records, 1, p);
    if (!r) return false;
    bool taken = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (taken)
        reply_problem(rq, P_CONFLICT, "this tenant already holds partners, agreements, referrals, commissions, invoices, "
                                      "webhook endpoints or contacts; a restore needs an empty tenant");
    return !taken;
}

/* Inserts one exported record (`row` borrowed). 0, or -1 after a 400 naming the line or a
 * database failure. */
static int restore_row(struct request *rq, const struct kind *k, json_t *row, long lineno) {
    char *text = json_dumps(row, JSON_COMPACT);
    char secret[80];
    webhook_secret_new(secret, sizeof secret);
    const char *p[] = {rq->auth.tenant_id, text, secret};
    PGresult *r = db_exec(rq, k->restore_st, k->restore_st == &r_webhook_endpoint ? 3 : 2, p);
    free(text);
    if (r) {
        PQclear(r);
        return 0;
    }
    if (rq->db_fail == DBF_CONSTRAINT || rq->db_fail == DBF_DATA) {
        char why[200];
        snprintf(why, sizeof why, "the %s cannot be restored (%s): %s", k->type,
                 rq->db_fail == DBF_DATA ? "a value is invalid" : "it conflicts with the records before it",
                 rq->constraint[0] ? rq->constraint : rq->sqlstate);
        line_error(rq, lineno, why);
    }
    return -1;
}

/* Restores one line of the file, counting it as created or skipped. 0, or -1 after a reply or a
 * database failure. */
static int restore_line(struct request *rq, const char *line, size_t len, long lineno, json_t *created,
                        json_t *skipped) {
    if (len > MAX_LINE) {
        line_error(rq, lineno, "the line is longer than 4 MiB");
        return -1;
    }
    json_error_t jerr;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    const char *type = json_string_value(json_object_get(o, "type"));
    json_t *row = json_object_get(o, "row");
    const struct kind *k = kind_named(type);
    int rc = 0;
    if (!json_is_object(o) || !type || !json_is_object(row) || !k) {
        line_error(rq, lineno, !o ? "not JSON" : !k && type ? "unknown type" : "not an export line ({\"type\", \"data\", \"row\"})");
        rc = -1;
    } else if (!k->restore_st)
        count_one(skipped, k->type);
    else if ((rc = restore_row(rq, k, row, lineno)) == 0)
        count_one(created, k->type);
    json_decref(o);
    return rc;
}

/* After the last line: each year's invoice numbering continues after the restored invoices, and
 * referral events catch up. False after a database failure. */
static bool restore_finish(struct request *rq) {
    const char *p[] = {rq->auth.tenant_id};
    PGresult *r = db_exec(rq, &st_counters, 1, p);
    if (!r) return false;
    PQclear(r);
    if (!(r = db_exec(rq, &st_catch_up, 0, NULL))) return false;
    PQclear(r);
    return true;
}

void api_import_export(struct request *rq) {
    if (import_content_type_or_reply(rq, false) < 0) return;
    FILE *in = import_body_or_reply(rq, "a file from GET /v1/export");
    if (!in) return;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    json_t *created = json_object(), *skipped = json_object();
    if (!tenant_empty_or_reply(rq)) goto out;
    while ((len = import_next_line(&line, &cap, in, &lineno)) >= 0)
        if (restore_line(rq, line, (size_t)len, lineno, created, skipped) != 0) goto out;
    if (!restore_finish(rq)) goto out;
    reply_json(rq, 201, json_pack("{s:O, s:O, s:i}", "created", created, "skipped", skipped, "lines", (json_int_t)lineno));
out:
    json_decref(created);
    json_decref(skipped);
    free(line);
    fclose(in);
}

/* GET /v1/tenants/{id}/export: the operator's copy of one whole tenant, the same NDJSON as the
 * tenant's own export (an operator's transaction sees every tenant; each statement filters on the
 * tenant named here). Stamps last_export_at, which deleting the tenant requires. */
void api_tenants_export(struct request *rq) {
    const char *id = path_uuid_or_reply(rq, 0, "id");
    if (!id) return;
    const char *p[] = {id};
    PGresult *r = found_or_reply(rq, &st_tenant, 1, p, "tenant", id);
    if (!r) return;
    PQclear(r);
    snprintf(rq->auth.tenant_id, sizeof rq->auth.tenant_id, "%s", id);
    api_export(rq);
}
