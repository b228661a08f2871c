/* /v1/reports: partner scorecards over a period (given/received, acknowledged, qualified, won,
 * lost, conversion, won value per currency, commissions owed/paid each way and the net balance,
 * median hours to acknowledge, days since the last referral, commitments) and a tenant summary.
 * JSON, or CSV with Accept: text/csv. */
#include "api/api.h"
#include "server/data/db.h"
#include "server/edge/json_in.h"
#include "api/money/money.h"
#include "server/edge/pagination.h"
#include "server/edge/params.h"
#include "server/edge/reply.h"
#include "server/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The figures are computed by partner_scorecards() and tenant_summary() (migrations/0008). */
DB_STMT(st_scorecards, "SELECT partner_scorecards($1, $2::date, $3::date, $4::uuid)");
DB_STMT(st_summary, "SELECT tenant_summary($1, $2::date, $3::date)");

/* from/to query dates (default: the year to today). Replies 400 on bad values. */
static int period_or_reply(struct request *rq, char from[11], char to[11]) {
    static const char *const allowed[] = {"from", "to", NULL};
    if (query_known_or_reply(rq, allowed)) return -1;
    const char *f, *t;
    if (query_date_or_reply(rq, "from", &f) || query_date_or_reply(rq, "to", &t)) return -1;
    time_t now = time(NULL), year_ago = now - 364 * 86400;
    struct tm tm;
    strftime(to, 11, "%Y-%m-%d", gmtime_r(&now, &tm));
    strftime(from, 11, "%Y-%m-%d", gmtime_r(&year_ago, &tm));
    if (t) { /* without from: the 365 days ending on `to` */
        snprintf(to, 11, "%s", t);
        struct tm end = {0};
        strptime(t, "%Y-%m-%d", &end);
        time_t start = timegm(&end) - 364 * 86400;
        strftime(from, 11, "%Y-%m-%d", gmtime_r(&start, &tm));
    }
    if (f) snprintf(from, 11, "%s", f);
    if (strcmp(from, to) > 0) {
        reply_field_error(rq, "from", "must not be after to");
        return -1;
    }
    return 0;
}

static bool wants_csv(struct request *rq) {
    const char *accept = req_header(rq, MHD_HTTP_HEADER_ACCEPT);
    return accept && strstr(accept, "text/csv") && !strstr(accept, "application/json");
}

struct csv {
    char *p;
    size_t len, cap;
};

static void csv_raw(struct csv *c, const char *s) {
    size_t n = strlen(s);
    if (c->len + n + 1 > c->cap) {
        c->cap = (c->len + n + 1) * 2;
        c->p = realloc(c->p, c->cap);
        if (!c->p) abort();
    }
    memcpy(c->p + c->len, s, n + 1);
    c->len += n;
}

/* One field, quoted when needed. Free text (`text`) that a spreadsheet would run as a formula
 * (OWASP: it starts with = + - @ tab or CR) gets a leading apostrophe; figures we format
 * ourselves, such as "-80.00 EUR", are left as they are. */
static void csv_field(struct csv *c, const char *s, bool first, bool text) {
    if (!first) csv_raw(c, ",");
    if (!s) return;
    bool formula = text && s[0] && strchr("=+-@\t\r", s[0]);
    if (!formula && !strpbrk(s, ",\"\r\n")) {
        csv_raw(c, s);
        return;
    }
    csv_raw(c, formula ? "\"'" : "\"");
    for (const char *q = s; *q; q++) {
        char ch[3] = {*q, 0, 0};
        if (*q == '"') ch[1] = '"';
        csv_raw(c, ch);
    }
    csv_raw(c, "\"");
}

static void csv_int(struct csv *c, json_t *v) {
    char buf[40] = "";
    if (json_is_integer(v)) snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v)) snprintf(buf, sizeof buf, "%.4f", json_real_value(v));
    csv_field(c, *buf ? buf : NULL, false, false);
}

static void csv_money(struct csv *c, json_t *list) {
    char out[512] = "", one[64];
    size_t i;
    json_t *m;
    json_array_foreach(list, i, m) {
        /* A total beyond the JSON-safe integers comes as amount null + amount_string. */
        json_t *amount = json_object_get(m, "amount");
        const char *cur = json_string_value(json_object_get(m, "currency"));
        bool ok = json_is_integer(amount)
                      ? money_format(json_integer_value(amount), cur, one, sizeof one)
                      : money_format_digits(json_string_value(json_object_get(m, "amount_string")), cur, one, sizeof one);
        if (ok) {
            if (*out) strncat(out, "; ", sizeof out - strlen(out) - 1);
            strncat(out, one, sizeof out - strlen(out) - 1);
        }
    }
    csv_field(c, out, false, false);
}

static const char *const SIDE_KEYS[] = {"referrals", "acknowledged", "qualified", "won", "lost",
                                        "conversion_rate", "median_hours_to_acknowledge", NULL};

static void csv_header(struct csv *c) {
    csv_raw(c, "partner_id,partner_name,from,to");
    for (int d = 0; d < 2; d++) {
        for (const char *const *k = SIDE_KEYS; *k; k++) {
            csv_raw(c, d ? ",outbound_" : ",inbound_");
            csv_raw(c, *k);
        }
        csv_raw(c, d ? ",outbound_won_value" : ",inbound_won_value");
    }
    csv_raw(c, ",payable_owed,payable_paid,receivable_owed,receivable_paid,net_balance,"
               "days_since_last_referral,commitments_met,commitments_at_risk,commitments_missed,commitments_open\r\n");
}

static void csv_row(struct csv *c, json_t *s) {
    csv_field(c, json_string_value(json_object_get(s, "partner_id")), true, false);
    csv_field(c, json_string_value(json_object_get(s, "partner_name")), false, true);
    csv_field(c, json_string_value(json_object_get(s, "from")), false, false);
    csv_field(c, json_string_value(json_object_get(s, "to")), false, false);
    for (int d = 0; d < 2; d++) {
        json_t *side = json_object_get(s, d ? "outbound" : "inbound");
        for (const char *const *k = SIDE_KEYS; *k; k++) csv_int(c, json_object_get(side, *k));
        csv_money(c, json_object_get(side, "won_value"));
    }
    json_t *com = json_object_get(s, "commissions");
    csv_money(c, json_object_get(json_object_get(com, "payable"), "owed"));
    csv_money(c, json_object_get(json_object_get(com, "payable"), "paid"));
    csv_money(c, json_object_get(json_object_get(com, "receivable"), "owed"));
    csv_money(c, json_object_get(json_object_get(com, "receivable"), "paid"));
    csv_money(c, json_object_get(s, "net_balance"));
    csv_int(c, json_object_get(s, "days_since_last_referral"));
    static const char *const ST[] = {"met", "at_risk", "missed", "open"};
    for (int i = 0; i < 4; i++) {
        int n = 0;
        size_t j;
        json_t *cm;
        json_array_foreach(json_object_get(s, "commitments"), j, cm) if (!strcmp(json_string_value(json_object_get(cm, "status")), ST[i])) n++;
        char buf[16];
        snprintf(buf, sizeof buf, "%d", n);
        csv_field(c, buf, false, false);
    }
    csv_raw(c, "\r\n");
}

/* A CSV answer, saved by a browser as `name`-from-to.csv (RFC 6266; the name is ours, ASCII). */
static void reply_csv(struct request *rq, struct csv *out, const char *name, const char *from, const char *to) {
    char disposition[160];
    snprintf(disposition, sizeof disposition, "attachment; filename=\"%s-%s-%s.csv\"", name, from, to);
    reply_json_text(rq, 200, out->p ? out->p : "", out->len);
    rq->content_type = "text/csv; charset=utf-8";
    reply_header(rq, "Content-Disposition", disposition);
}

/* Replies with the scorecards as {"data": [...]} (or one object), or as CSV. */
static void reply_scorecards(struct request *rq, PGresult *r, bool single, const char *name, const char *from,
                             const char *to) {
    if (!wants_csv(rq)) {
        if (single)
            reply_json_text(rq, 200, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
        else
            reply_list(rq, r);
        return;
    }
    struct csv out = {0};
    csv_header(&out);
    for (int i = 0; i < PQntuples(r); i++) {
        json_error_t err;
        json_t *s = json_loads(PQgetvalue(r, i, 0), 0, &err);
        csv_row(&out, s);
        json_decref(s);
    }
    reply_csv(rq, &out, name, from, to);
    free(out.p);
}

void api_reports_partners(struct request *rq) {
    char from[11], to[11];
    if (period_or_reply(rq, from, to)) return;
    const char *p[] = {rq->auth.tenant_id, from, to, partner_scope(rq)};
    PGresult *r = db_exec(rq, &st_scorecards, 4, p);
    if (!r) return;
    reply_scorecards(rq, r, false, "allied-partner-scorecards", from, to);
    PQclear(r);
}

void api_reports_partner(struct request *rq) {
    char from[11], to[11];
    const char *id = path_uuid_or_reply(rq, 0, "id");
    if (!id || period_or_reply(rq, from, to)) return;
    const char *scope = partner_scope(rq);
    if (scope && strcmp(scope, id) != 0) {
        reply_not_found(rq, "partner", id);
        return;
    }
    const char *p[] = {rq->auth.tenant_id, from, to, id};
    PGresult *r = db_exec(rq, &st_scorecards, 4, p);
    if (!r) return;
    if (PQntuples(r) == 0)
        reply_not_found(rq, "partner", id);
    else {
        char name[64];
        snprintf(name, sizeof name, "allied-partner-scorecard-%s", id);
        reply_scorecards(rq, r, true, name, from, to);
    }
    PQclear(r);
}

void api_reports_summary(struct request *rq) {
    char from[11], to[11];
    if (period_or_reply(rq, from, to)) return;
    const char *p[] = {rq->auth.tenant_id, from, to};
    PGresult *r = db_exec(rq, &st_summary, 3, p);
    if (!r) return;
    if (wants_csv(rq)) {
        /* metric,value rows from the flat numbers of the summary */
        json_error_t err;
        json_t *s = json_loads(PQgetvalue(r, 0, 0), 0, &err);
        struct csv out = {0};
        csv_raw(&out, "metric,value\r\n");
        const char *flat[] = {"from", "to", "partners", "active_partners", "overdue_acknowledgements",
                              "commitments_at_risk", NULL};
        for (const char *const *k = flat; *k; k++) {
            json_t *v = json_object_get(s, *k);
            csv_field(&out, *k, true, false);
            if (json_is_string(v)) csv_field(&out, json_string_value(v), false, false);
            else csv_int(&out, v);
            csv_raw(&out, "\r\n");
        }
        for (int d = 0; d < 2; d++)
            for (const char *const *k = SIDE_KEYS; *k; k++) {
                char name[64];
                snprintf(name, sizeof name, "%s_%s", d ? "outbound" : "inbound", *k);
                csv_field(&out, name, true, false);
                csv_int(&out, json_object_get(json_object_get(s, d ? "outbound" : "inbound"), *k));
                csv_raw(&out, "\r\n");
            }
        reply_csv(rq, &out, "allied-summary", from, to);
        free(out.p);
        json_decref(s);
    } else
        reply_json_text(rq, 200, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
    PQclear(r);
}
