/* /v1/reports: partner scorecards over a period (given/received, acknowledged, qualified, won,
 * lost, conversion, won value per currency, commissions owed/paid each way and the net balance,
 * median hours to acknowledge, days since the last referral, commitments) and a tenant summary.
 * JSON, or CSV with Accept: text/csv. The period scan is an index-only scan of
 * referrals_scorecard (migrations/0008_relationship.sql). */
#include "api/api.h"
#include "server/db.h"
#include "server/json_in.h"
#include "server/money.h"
#include "server/params.h"
#include "server/reply.h"
#include "server/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PERIOD_CTES                                                                                \
    "WITH r AS (SELECT partner_id, direction, status, created_at, acknowledged_at, qualified_at, "  \
    "    deal_amount, deal_currency FROM referrals WHERE tenant_id = $1 AND created_at >= $2::date "  \
    "    AND created_at < $3::date + 1 AND ($4::uuid IS NULL OR partner_id = $4)), "                 \
    "agg AS (SELECT partner_id, direction, count(*) AS n, count(acknowledged_at) AS ack, "           \
    "    count(qualified_at) AS qual, count(*) FILTER (WHERE status = 'won') AS won, "               \
    "    count(*) FILTER (WHERE status = 'lost') AS lost, round((percentile_cont(0.5) WITHIN GROUP "  \
    "    (ORDER BY extract(epoch FROM acknowledged_at - created_at)) / 3600)::numeric, 2) AS med "    \
    "  FROM r GROUP BY partner_id, direction), "                                                     \
    "val AS (SELECT partner_id, direction, json_agg(json_build_object('amount', amount, 'currency', " \
    "    currency) ORDER BY currency) AS v FROM (SELECT partner_id, direction, deal_currency AS currency, " \
    "    sum(deal_amount) AS amount FROM r WHERE status = 'won' GROUP BY 1, 2, 3) x GROUP BY 1, 2), "  \
    "com AS (SELECT partner_id, kind, status = 'paid' AS paid, currency, sum(amount) AS amount "     \
    "  FROM commissions WHERE tenant_id = $1 AND created_at >= $2::date AND created_at < $3::date + 1 " \
    "    AND status <> 'reversed' AND ($4::uuid IS NULL OR partner_id = $4) GROUP BY 1, 2, 3, 4) "
/* Money lists from `com` rows matching a condition. */
#define MONEY_LIST(cond)                                                                           \
    "coalesce(json_agg(json_build_object('amount', amount, 'currency', currency) ORDER BY currency) " \
    "FILTER (WHERE " cond "), '[]')"
#define COMMISSIONS(where)                                                                         \
    "(SELECT json_build_object("                                                                   \
    "  'payable', json_build_object('owed', " MONEY_LIST("kind = 'payable' AND NOT paid") ", 'paid', " \
    MONEY_LIST("kind = 'payable' AND paid") "), "                                                  \
    "  'receivable', json_build_object('owed', " MONEY_LIST("kind = 'receivable' AND NOT paid")      \
    ", 'paid', " MONEY_LIST("kind = 'receivable' AND paid") ")) FROM com WHERE " where ")"
/* What we owe the partner minus what it owes us, per currency, not yet paid. */
#define NET_BALANCE(where)                                                                         \
    "(SELECT coalesce(json_agg(json_build_object('amount', net, 'currency', currency) ORDER BY currency), '[]') " \
    "  FROM (SELECT currency, sum(CASE WHEN kind = 'payable' THEN amount ELSE -amount END) AS net " \
    "  FROM com WHERE NOT paid AND " where " GROUP BY currency) n)"

DB_STMT(st_scorecards,
        PERIOD_CTES
        "SELECT json_build_object('partner_id', p.id, 'partner_name', p.name, 'from', $2::date, 'to', $3::date, "
        "  'inbound', scorecard_side(ai.n, ai.ack, ai.qual, ai.won, ai.lost, ai.med, vi.v), "
        "  'outbound', scorecard_side(ao.n, ao.ack, ao.qual, ao.won, ao.lost, ao.med, vo.v), "
        "  'commissions', " COMMISSIONS("com.partner_id = p.id") ", "
        "  'net_balance', " NET_BALANCE("com.partner_id = p.id") ", "
        "  'days_since_last_referral', current_date - (SELECT max(x.created_at) FROM referrals x "
        "    WHERE x.tenant_id = $1 AND x.partner_id = p.id)::date, "
        "  'commitments', (SELECT coalesce(json_agg(commitment_json(c) ORDER BY c.period_start, c.id), '[]') "
        "    FROM commitments c WHERE c.tenant_id = $1 AND c.partner_id = p.id "
        "    AND c.period_start <= $3::date AND c.period_end >= $2::date)) "
        "FROM partners p "
        "LEFT JOIN agg ai ON ai.partner_id = p.id AND ai.direction = 'inbound' "
        "LEFT JOIN agg ao ON ao.partner_id = p.id AND ao.direction = 'outbound' "
        "LEFT JOIN val vi ON vi.partner_id = p.id AND vi.direction = 'inbound' "
        "LEFT JOIN val vo ON vo.partner_id = p.id AND vo.direction = 'outbound' "
        "WHERE p.tenant_id = $1 AND ($4::uuid IS NULL OR p.id = $4) ORDER BY p.name, p.id");
DB_STMT(st_summary,
        PERIOD_CTES
        ", tot AS (SELECT direction, sum(n) AS n, sum(ack) AS ack, sum(qual) AS qual, sum(won) AS won, "
        "  sum(lost) AS lost FROM agg GROUP BY direction), "
        "med AS (SELECT direction, round((percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM "
        "  acknowledged_at - created_at)) / 3600)::numeric, 2) AS med FROM r GROUP BY direction), "
        "tv AS (SELECT direction, json_agg(json_build_object('amount', amount, 'currency', currency) ORDER BY currency) AS v "
        "  FROM (SELECT direction, deal_currency AS currency, sum(deal_amount) AS amount FROM r WHERE status = 'won' "
        "  GROUP BY 1, 2) x GROUP BY 1) "
        "SELECT json_build_object('from', $2::date, 'to', $3::date, "
        "  'partners', (SELECT count(*) FROM partners WHERE tenant_id = $1), "
        "  'active_partners', (SELECT count(*) FROM partners WHERE tenant_id = $1 AND status = 'active'), "
        "  'inbound', (SELECT scorecard_side(t.n::bigint, t.ack::bigint, t.qual::bigint, t.won::bigint, t.lost::bigint, "
        "    m.med, v.v) FROM (SELECT 1) one LEFT JOIN tot t ON t.direction = 'inbound' "
        "    LEFT JOIN med m ON m.direction = 'inbound' LEFT JOIN tv v ON v.direction = 'inbound'), "
        "  'outbound', (SELECT scorecard_side(t.n::bigint, t.ack::bigint, t.qual::bigint, t.won::bigint, t.lost::bigint, "
        "    m.med, v.v) FROM (SELECT 1) one LEFT JOIN tot t ON t.direction = 'outbound' "
        "    LEFT JOIN med m ON m.direction = 'outbound' LEFT JOIN tv v ON v.direction = 'outbound'), "
        "  'commissions', " COMMISSIONS("true") ", 'net_balance', " NET_BALANCE("true") ", "
        "  'overdue_acknowledgements', (SELECT count(*) FROM referrals WHERE tenant_id = $1 AND status = 'submitted' "
        "    AND acknowledge_by < now()), "
        "  'commitments_at_risk', (SELECT count(*) FROM commitments c WHERE c.tenant_id = $1 "
        "    AND current_date BETWEEN c.period_start AND c.period_end "
        "    AND commitment_status(c, commitment_achieved(c)) = 'at_risk'))");

/* from/to query dates (default: the year to today). Replies 400 on bad values. */
static int period_or_reply(struct request *rq, char from[11], char to[11]) {
    static const char *const allowed[] = {"from", "to", NULL};
    if (query_known_or_reply(rq, allowed)) return -1;
    const char *f = req_query(rq, "from"), *t = req_query(rq, "to");
    time_t now = time(NULL), year_ago = now - 364 * 86400;
    struct tm tm;
    strftime(to, 11, "%Y-%m-%d", gmtime_r(&now, &tm));
    strftime(from, 11, "%Y-%m-%d", gmtime_r(&year_ago, &tm));
    if (f && !date_valid(f)) {
        reply_field_error(rq, "from", "must be a date YYYY-MM-DD");
        return -1;
    }
    if (t && !date_valid(t)) {
        reply_field_error(rq, "to", "must be a date YYYY-MM-DD");
        return -1;
    }
    if (f) snprintf(from, 11, "%s", f);
    if (t) snprintf(to, 11, "%s", t);
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

/* Text a spreadsheet would run as a formula (OWASP CSV injection); "-5" is a number, "-x" is not. */
static bool csv_formula_like(const char *s) {
    return s[0] && (strchr("=+@\t\r", s[0]) || (s[0] == '-' && !(s[1] >= '0' && s[1] <= '9')));
}

/* One field, quoted when needed; formula-like text gets a leading apostrophe. */
static void csv_field(struct csv *c, const char *s, bool first) {
    if (!first) csv_raw(c, ",");
    if (!s) return;
    bool formula = csv_formula_like(s);
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
    csv_field(c, *buf ? buf : NULL, false);
}

static void csv_money(struct csv *c, json_t *list) {
    char out[512] = "", one[64];
    size_t i;
    json_t *m;
    json_array_foreach(list, i, m) {
        if (money_format(json_integer_value(json_object_get(m, "amount")),
                         json_string_value(json_object_get(m, "currency")), one, sizeof one)) {
            if (*out) strncat(out, "; ", sizeof out - strlen(out) - 1);
            strncat(out, one, sizeof out - strlen(out) - 1);
        }
    }
    csv_field(c, out, false);
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
    csv_field(c, json_string_value(json_object_get(s, "partner_id")), true);
    csv_field(c, json_string_value(json_object_get(s, "partner_name")), false);
    csv_field(c, json_string_value(json_object_get(s, "from")), false);
    csv_field(c, json_string_value(json_object_get(s, "to")), false);
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
        csv_field(c, buf, false);
    }
    csv_raw(c, "\r\n");
}

/* Replies with the scorecards as {"data": [...]} (or one object), or as CSV. */
static void reply_scorecards(struct request *rq, PGresult *r, bool single) {
    bool csv = wants_csv(rq);
    struct csv out = {0};
    if (csv) csv_header(&out);
    json_t *list = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_error_t err;
        json_t *s = json_loads(PQgetvalue(r, i, 0), 0, &err);
        if (csv) csv_row(&out, s);
        json_array_append_new(list, s);
    }
    if (csv) {
        reply_json_text(rq, 200, out.p ? out.p : "", out.len);
        rq->content_type = "text/csv; charset=utf-8";
        free(out.p);
        json_decref(list);
    } else if (single) {
        reply_json(rq, 200, json_incref(json_array_get(list, 0)));
        json_decref(list);
    } else
        reply_json(rq, 200, json_pack("{s:o}", "data", list));
}


void api_reports_partners(struct request *rq) {
    char from[11], to[11];
    if (period_or_reply(rq, from, to)) return;
    const char *p[] = {rq->auth.tenant_id, from, to, partner_scope(rq)};
    PGresult *r = db_exec(rq, &st_scorecards, 4, p);
    if (!r) {
        db_reply_failure(rq);
        return;
    }
    reply_scorecards(rq, r, false);
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
    if (!r) {
        db_reply_failure(rq);
        return;
    }
    if (PQntuples(r) == 0)
        reply_not_found(rq, "partner", id);
    else
        reply_scorecards(rq, r, true);
    PQclear(r);
}

void api_reports_summary(struct request *rq) {
    char from[11], to[11];
    if (period_or_reply(rq, from, to)) return;
    const char *p[] = {rq->auth.tenant_id, from, to, NULL};
    PGresult *r = db_exec(rq, &st_summary, 4, p);
    if (!r) {
        db_reply_failure(rq);
        return;
    }
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
            csv_field(&out, *k, true);
            if (json_is_string(v)) csv_field(&out, json_string_value(v), false);
            else csv_int(&out, v);
            csv_raw(&out, "\r\n");
        }
        for (int d = 0; d < 2; d++)
            for (const char *const *k = SIDE_KEYS; *k; k++) {
                char name[64];
                snprintf(name, sizeof name, "%s_%s", d ? "outbound" : "inbound", *k);
                csv_field(&out, name, true);
                csv_int(&out, json_object_get(json_object_get(s, d ? "outbound" : "inbound"), *k));
                csv_raw(&out, "\r\n");
            }
        reply_json_text(rq, 200, out.p, out.len);
        rq->content_type = "text/csv; charset=utf-8";
        free(out.p);
        json_decref(s);
    } else
        reply_json_text(rq, 200, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
    PQclear(r);
}
