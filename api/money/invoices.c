/* /v1/invoices: settle payable commissions of one partner, kind and currency. Numbers are gapless
 * per tenant and year; the commissions follow the invoice's status in the same transaction. The
 * lifecycles are the tables in api/money/invoice_states.c and api/money/commission_states.c. */
#include "api/api.h"
#include "api/feed.h"
#include "api/money/commission_states.h"
#include "api/money/invoice_html.h"
#include "api/money/invoice_states.h"
#include "server/data/db.h"
#include "server/edge/json_in.h"
#include "api/money/money.h"
#include "server/edge/list.h"
#include "server/edge/params.h"
#include "server/edge/reply.h"
#include "server/edge/resource.h"
#include "server/text.h"
#include "server/util.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const STATUSES[] = {"submitted", "approved", "paid", "rejected", "void", NULL};
static const char *const KINDS[] = {"payable", "receivable", NULL};
#define MAX_LINES 500

/* Locked in id order so that concurrent invoices over overlapping sets cannot deadlock. */
DB_STMT(st_lock_commissions,
        "SELECT c.id, commission_status(c), c.partner_id, c.kind, c.currency, c.amount, c.type, "
        "  coalesce((t.pay->>'net_days')::int, 30), coalesce(r.prospect->>'name', ''), "
        "  coalesce((t.pay->>'self_billing')::boolean, true) "
        "FROM commissions c "
        "JOIN referrals r ON r.tenant_id = c.tenant_id AND r.id = c.referral_id "
        "LEFT JOIN agreements a ON a.tenant_id = c.tenant_id AND a.id = c.agreement_id "
        /* the payment terms of the side the commission is paid on: one call per row */
        "CROSS JOIN LATERAL (SELECT agreement_terms(a, CASE WHEN c.kind = 'payable' THEN 'inbound' "
        "  ELSE 'outbound' END)->'payment_terms' AS pay) t "
        "WHERE c.tenant_id = $1 AND c.id = ANY($2::uuid[]) ORDER BY c.id FOR UPDATE OF c");
/* Locks the tenant's counter for the year until commit: numbers are used once, without gaps. */
DB_STMT(st_next_number,
        "INSERT INTO invoice_counters AS k (tenant_id, year, last) "
        "VALUES ($1, extract(year FROM current_date)::int, 1) "
        "ON CONFLICT (tenant_id, year) DO UPDATE SET last = k.last + 1 RETURNING k.year, k.last");
DB_STMT(st_insert,
        "INSERT INTO invoices (tenant_id, id, number, partner_id, kind, currency, total, issued_on, due_on) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, current_date, current_date + $8::int)");
DB_STMT(st_lines,
        "INSERT INTO invoice_lines (tenant_id, invoice_id, line_no, commission_id, amount, description) "
        "SELECT $1, $2, u.n, u.cid, u.amount, u.descr "
        "FROM unnest($3::uuid[], $4::bigint[], $5::text[]) WITH ORDINALITY AS u(cid, amount, descr, n)");
DB_STMT(st_mark,
        "UPDATE commissions SET status = $3, invoice_id = $4, version = version + 1, updated_at = now() "
        "WHERE tenant_id = $1 AND id = ANY($2::uuid[])");
DB_STMT(st_get,
        "SELECT invoice_json(i), i.version FROM invoices i "
        "WHERE i.tenant_id = $1 AND i.id = $2 AND ($3::uuid IS NULL OR i.partner_id = $3)");
DB_STMT(st_lock,
        "SELECT status, version, partner_id FROM invoices WHERE tenant_id = $1 AND id = $2 FOR UPDATE");
DB_STMT(st_set,
        "UPDATE invoices i SET status = $3, paid_at = coalesce($4::timestamptz, i.paid_at), "
        "  payment_reference = coalesce($5, i.payment_reference), "
        "  rejection_reason = coalesce($6, i.rejection_reason), version = i.version + 1, updated_at = now() "
        "WHERE i.tenant_id = $1 AND i.id = $2 RETURNING invoice_json(i), i.version");
/* The commissions on an invoice move with it ($4 -> $3): paid, or released (off the invoice, $5 false). */
DB_STMT(st_settle,
        "UPDATE commissions SET status = $3, invoice_id = CASE WHEN $5 THEN invoice_id ELSE NULL END, "
        "  version = version + 1, updated_at = now() "
        "WHERE tenant_id = $1 AND invoice_id = $2 AND status = $4");
DB_STMT(st_html,
        "SELECT invoice_json(i), t.name, p.name, p.company, p.email FROM invoices i "
        "JOIN tenants t ON t.id = i.tenant_id "
        "JOIN partners p ON p.tenant_id = i.tenant_id AND p.id = i.partner_id "
        "WHERE i.tenant_id = $1 AND i.id = $2 AND ($3::uuid IS NULL OR i.partner_id = $3)");

/* GET /v1/invoices: $6 partner_id, $7 status, $8 kind, $9 overdue (server/edge/list.h). */
LIST_SPEC(invoice_list,
          "SELECT invoice_json(i), i.created_at, i.id FROM invoices i "
          "WHERE i.tenant_id = $1 AND ($5::uuid IS NULL OR i.partner_id = $5) "
          "  AND ($6::uuid IS NULL OR i.partner_id = $6) "
          "  AND ($7::text IS NULL OR i.status = $7) AND ($8::text IS NULL OR i.kind = $8) "
          "  AND ($9::boolean IS NULL OR (i.status IN ('submitted', 'approved') AND i.due_on < current_date) = $9)",
          "i.created_at, i.id",
          {"partner_id", LQ_UUID}, {"status", LQ_ENUM, STATUSES}, {"kind", LQ_ENUM, KINDS}, {"overdue", LQ_BOOL});

/* A growing "{a,b}" SQL array literal; values are UUIDs, integers or quoted text. */
struct arr {
    char *p;
    size_t len, cap;
};
static void arr_add(struct arr *a, const char *v, bool quote) {
    size_t need = strlen(v) * 2 + 8;
    if (a->len + need >= a->cap) {
        a->cap = (a->cap + need) * 2;
        a->p = realloc(a->p, a->cap);
        if (!a->p) abort();
    }
    char sep = a->len == 0 ? '{' : ',';
    a->p[a->len++] = sep;
    if (quote) a->p[a->len++] = '"';
    for (const char *s = v; *s; s++) {
        if (quote && (*s == '"' || *s == '\\')) a->p[a->len++] = '\\';
        a->p[a->len++] = *s;
    }
    if (quote) a->p[a->len++] = '"';
    a->p[a->len] = '\0';
}
static const char *arr_done(struct arr *a) {
    if (!a->p) {
        a->p = strdup("{}");
        return a->p;
    }
    a->p[a->len++] = '}';
    a->p[a->len] = '\0';
    return a->p;
}

/* Validates {partner_id, commission_ids}; fills the id array. */
static int create_body_or_reply(struct request *rq, struct arr *ids) {
    static const struct field F[] = {FIELD_UUID("partner_id", F_REQUIRED),
                                     FIELD_ARRAY("commission_ids", F_REQUIRED, MAX_LINES)};
    json_t *errors = json_array();
    json_fields_collect(errors, NULL, rq->json, F, 2, false);
    json_t *list = json_object_get(rq->json, "commission_ids");
    if (json_is_array(list) && json_array_size(errors) == 0) {
        size_t i, j;
        json_t *v;
        if (json_array_size(list) == 0)
            json_array_append_new(errors, json_pack("{s:s,s:s}", "field", "commission_ids", "message", "must not be empty"));
        json_array_foreach(list, i, v) {
            if (!json_is_string(v) || !uuid_valid(json_string_value(v))) {
                json_array_append_new(errors, json_pack("{s:s,s:s}", "field", "commission_ids", "message", "items must be UUIDs"));
                break;
            }
            for (j = 0; j < i; j++)
                if (!strcasecmp(json_string_value(v), json_string_value(json_array_get(list, j)))) break;
            if (j < i) {
                json_array_append_new(errors, json_pack("{s:s,s:s}", "field", "commission_ids", "message", "items must be distinct"));
                break;
            }
            arr_add(ids, json_string_value(v), false);
        }
    }
    return json_errors_or_ok(rq, errors);
}

/* The row (of `r`, from st_lock_commissions) whose kind and currency most rows share; on a tie,
 * the group of the commission listed first in `wanted`. 0 when there are no rows. */
static int majority_row(PGresult *r, json_t *wanted) {
    int n = PQntuples(r), best = 0, best_count = 0;
    size_t best_pos = SIZE_MAX, at[MAX_LINES]; /* at[k]: where row k's id is listed in `wanted` */
    for (int k = 0; k < n && k < MAX_LINES; k++) {
        size_t i;
        json_t *w;
        at[k] = SIZE_MAX;
        json_array_foreach(wanted, i, w) if (!strcasecmp(json_string_value(w), PQgetvalue(r, k, 0))) {
            at[k] = i;
            break;
        }
    }
    for (int k = 0; k < n && k < MAX_LINES; k++) {
        int count = 0;
        size_t pos = SIZE_MAX; /* the first listed member of k's group */
        for (int j = 0; j < n && j < MAX_LINES; j++) {
            if (strcmp(PQgetvalue(r, j, 3), PQgetvalue(r, k, 3)) || strcmp(PQgetvalue(r, j, 4), PQgetvalue(r, k, 4)))
                continue;
            count++;
            if (at[j] < pos) pos = at[j];
        }
        if (count > best_count || (count == best_count && pos < best_pos)) {
            best = k;
            best_count = count;
            best_pos = pos;
        }
    }
    return best;
}

/* 409/422 naming the offending commissions. */
static void offenders(struct request *rq, enum problem p, const char *member, json_t *list, const char *detail) {
    reply_problem_extra(rq, p, json_pack("{s:o}", member, list), "%s", detail);
}

/* What the locked commissions make of an invoice, and what is wrong with them. */
struct draft {
    const char *partner;
    char kind[16], currency[4]; /* copied: they outlive the locked rows */
    int64_t total;
    int net_days, real; /* real: how many are commissions (not adjustments) */
    bool overflow;
    bool billed_by_business; /* an agreement of one of them says payment_terms.self_billing false */
    json_t *unknown, *other, *unavailable, *mismatched; /* offenders, by reason */
    struct arr cids, amounts, descs;                    /* the lines, as SQL arrays */
};

static void draft_free(struct draft *d) {
    json_decref(d->unknown);
    json_decref(d->other);
    json_decref(d->unavailable);
    json_decref(d->mismatched);
    free(d->cids.p);
    free(d->amounts.p);
    free(d->descs.p);
}

/* Adds row `k` of the locked commissions as a line, noting what keeps it off this invoice. */
static void draft_add_line(struct draft *d, PGresult *r, int k) {
    const char *id = PQgetvalue(r, k, 0);
    if (strcmp(PQgetvalue(r, k, 2), d->partner) != 0) json_array_append_new(d->other, json_string(id));
    if (!machine_find(&commission_machine, machine_state(&commission_machine, PQgetvalue(r, k, 1)), CA_INVOICE))
        json_array_append_new(d->unavailable, json_pack("{s:s,s:s}", "id", id, "status", PQgetvalue(r, k, 1)));
    if (strcmp(PQgetvalue(r, k, 3), d->kind) || strcmp(PQgetvalue(r, k, 4), d->currency))
        json_array_append_new(d->mismatched, json_pack("{s:s,s:s,s:s}", "id", id, "kind", PQgetvalue(r, k, 3),
                                                       "currency", PQgetvalue(r, k, 4)));
    if (!money_add(&d->total, atoll(PQgetvalue(r, k, 5)))) d->overflow = true;
    if (!strcmp(PQgetvalue(r, k, 6), "commission")) d->real++;
    int nd = atoi(PQgetvalue(r, k, 7));
    if (nd > d->net_days) d->net_days = nd;
    if (!strcmp(PQgetvalue(r, k, 3), "payable") && !strcmp(PQgetvalue(r, k, 9), "f")) d->billed_by_business = true;
    char desc[300]; /* the prospect's name, cut to fit on a character boundary */
    text_format(desc, sizeof desc, "%s: %s", !strcmp(PQgetvalue(r, k, 6), "commission") ? "Commission" : "Clawback",
                *PQgetvalue(r, k, 8) ? PQgetvalue(r, k, 8) : "referral");
    arr_add(&d->cids, id, false);
    arr_add(&d->amounts, PQgetvalue(r, k, 5), false);
    arr_add(&d->descs, desc, true);
}

/* Reads the locked commissions (st_lock_commissions) against the `wanted` ids. The invoice's kind
 * and currency are those most of the commissions share (ties: the one listed first); the others
 * are named when they are refused. */
static void draft_read(struct draft *d, PGresult *r, json_t *wanted) {
    int n = PQntuples(r);
    d->unknown = json_array();
    d->other = json_array();
    d->unavailable = json_array();
    d->mismatched = json_array();
    size_t i;
    json_t *w;
    json_array_foreach(wanted, i, w) {
        bool found = false;
        for (int k = 0; k < n; k++)
            if (!strcasecmp(PQgetvalue(r, k, 0), json_string_value(w))) found = true;
        if (!found) json_array_append(d->unknown, w);
    }
    int major = majority_row(r, wanted);
    snprintf(d->kind, sizeof d->kind, "%s", n ? PQgetvalue(r, major, 3) : "");
    snprintf(d->currency, sizeof d->currency, "%s", n ? PQgetvalue(r, major, 4) : "");
    for (int k = 0; k < n; k++) draft_add_line(d, r, k);
}

/* True if the draft may become an invoice; else replies with the first reason it may not. */
static bool draft_ok_or_reply(struct request *rq, const struct draft *d) {
    if (json_array_size(d->unknown))
        offenders(rq, P_INVOICE_INVALID, "unknown_commission_ids", json_incref(d->unknown), "no such commissions");
    else if (json_array_size(d->other))
        offenders(rq, P_INVOICE_INVALID, "other_partner_commission_ids", json_incref(d->other),
                  "commissions of another partner cannot be on this invoice");
    else if (json_array_size(d->mismatched))
        reply_problem_extra(rq, P_INVOICE_INVALID, json_pack("{s:O,s:s,s:s}", "mismatched_commissions", d->mismatched,
                                                             "kind", d->kind, "currency", d->currency),
                            "an invoice carries commissions of one kind and one currency; %zu of them are not %s %s",
                            json_array_size(d->mismatched), d->kind, d->currency);
    else if (rq->auth.role == ROLE_PARTNER && strcmp(d->kind, "payable") != 0)
        reply_problem(rq, P_FORBIDDEN, "a partner key invoices only what it is owed (payable commissions)");
    else if (rq->auth.role == ROLE_PARTNER && d->billed_by_business)
        reply_problem(rq, P_FORBIDDEN, "the agreement does not allow self-billing (payment_terms.self_billing is false): "
                                       "the business invoices these commissions");
    else if (json_array_size(d->unavailable))
        offenders(rq, P_INVALID_STATE, "unavailable_commissions", json_incref(d->unavailable),
                  "only payable commissions can be invoiced");
    else if (d->overflow || d->total > MONEY_MAX)
        reply_problem(rq, P_INVOICE_INVALID, "the total would exceed " MONEY_MAX_TEXT
                                             " minor units, the largest amount an invoice may carry; split it");
    else if (d->real == 0 || d->total < 0)
        reply_problem(rq, P_INVOICE_INVALID, "an invoice total may not be negative, and adjustments need a commission to net against");
    return rq->status == 0;
}

/* Numbers the invoice, writes it with its lines, marks its commissions invoiced; replies 201. */
static void invoice_insert(struct request *rq, struct draft *d) {
    const char *np[] = {rq->auth.tenant_id};
    PGresult *r = db_exec(rq, &st_next_number, 1, np);
    if (!r) return;
    char number[32], id[37], tot[24], nd[12];
    snprintf(number, sizeof number, "INV-%s-%06d", PQgetvalue(r, 0, 0), atoi(PQgetvalue(r, 0, 1)));
    PQclear(r);
    uuid_new(id);
    snprintf(tot, sizeof tot, "%lld", (long long)d->total);
    snprintf(nd, sizeof nd, "%d", d->net_days);
    const char *ip[] = {rq->auth.tenant_id, id, number, d->partner, d->kind, d->currency, tot, nd};
    const char *lines[] = {rq->auth.tenant_id, id, arr_done(&d->cids), arr_done(&d->amounts), arr_done(&d->descs)};
    const char *mark[] = {rq->auth.tenant_id, d->cids.p,
                          machine_state_name(&commission_machine, machine_find(&commission_machine, CS_PAYABLE, CA_INVOICE)->to), id};
    const char *gp[] = {rq->auth.tenant_id, id, NULL};
    PGresult *a = NULL, *b = NULL, *c = NULL, *g = NULL;
    if ((a = db_exec(rq, &st_insert, 8, ip)) && (b = db_exec(rq, &st_lines, 5, lines)) &&
        (c = db_exec(rq, &st_mark, 4, mark)) && (g = db_exec(rq, &st_get, 3, gp)) &&
        !feed_append(rq, "invoice.created", "invoice", id, d->partner, PQgetvalue(g, 0, 0)))
        reply_created(rq, g, "/v1/invoices/%s", id);
    PQclear(a);
    PQclear(b);
    PQclear(c);
    PQclear(g);
}

void api_invoices_create(struct request *rq) {
    struct arr ids = {0};
    struct draft d = {0};
    if (create_body_or_reply(rq, &ids) != JIN_OK) goto out;
    d.partner = json_string_value(json_object_get(rq->json, "partner_id"));
    if (rq->auth.role == ROLE_PARTNER && strcmp(d.partner, rq->auth.partner_id) != 0) {
        reply_problem(rq, P_FORBIDDEN, "a partner key invoices only its own commissions");
        goto out;
    }
    const char *lp[] = {rq->auth.tenant_id, arr_done(&ids)};
    PGresult *r = db_exec(rq, &st_lock_commissions, 2, lp);
    if (!r) goto out;
    draft_read(&d, r, json_object_get(rq->json, "commission_ids"));
    PQclear(r);
    if (draft_ok_or_reply(rq, &d)) invoice_insert(rq, &d);
out:
    free(ids.p);
    draft_free(&d);
}

void api_invoices_list(struct request *rq) {
    list_reply(rq, &invoice_list);
}

void api_invoices_get(struct request *rq) {
    const char *id = path_uuid_or_reply(rq, 0, "id");
    if (!id) return;
    const char *accept = req_header(rq, MHD_HTTP_HEADER_ACCEPT);
    bool html = accept && strstr(accept, "text/html") && !strstr(accept, "application/json");
    const char *p[] = {rq->auth.tenant_id, id, partner_scope(rq)};
    PGresult *r = found_or_reply(rq, html ? &st_html : &st_get, 3, p, "invoice", id);
    if (!r) return;
    if (html) {
        char *page = invoice_html(PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2),
                                  PQgetisnull(r, 0, 3) ? NULL : PQgetvalue(r, 0, 3),
                                  PQgetisnull(r, 0, 4) ? NULL : PQgetvalue(r, 0, 4));
        reply_json_text(rq, 200, page, strlen(page));
        rq->content_type = "text/html; charset=utf-8";
        reply_header(rq, "Content-Security-Policy", invoice_html_csp());
        free(page);
    } else
        reply_resource(rq, 200, r);
    PQclear(r);
}

/* Moves the commissions of invoice `id` along with `action` (pay pays them, reject and void
 * release them, approve leaves them invoiced). False on a database failure. */
static bool commissions_follow(struct request *rq, const char *id, enum inv_action action) {
    if (action == IA_APPROVE) return true;
    enum com_action move = action == IA_PAY ? CA_PAY : CA_RELEASE;
    const struct transition *t = machine_find(&commission_machine, CS_INVOICED, move);
    const char *cp[] = {rq->auth.tenant_id, id, machine_state_name(&commission_machine, t->to),
                        machine_state_name(&commission_machine, t->from), move == CA_PAY ? "true" : "false"};
    PGresult *c = db_exec(rq, &st_settle, 5, cp);
    PQclear(c);
    return c != NULL;
}

/* The locked invoice's status and partner; replies 404/412 and returns false if not usable. */
static bool lock_or_reply(struct request *rq, const char *id, const char *version, char *status, char *partner) {
    const char *p[] = {rq->auth.tenant_id, id};
    PGresult *r = found_or_reply(rq, &st_lock, 2, p, "invoice", id);
    if (!r) return false;
    snprintf(status, 16, "%s", PQgetvalue(r, 0, 0));
    snprintf(partner, 37, "%s", PQgetvalue(r, 0, 2));
    bool ok = version_ok_or_reply(rq, "invoice", version, PQgetvalue(r, 0, 1));
    PQclear(r);
    return ok;
}

/* Applies `action` if the invoice table allows it from the invoice's status; its commissions follow. */
static void transition(struct request *rq, enum inv_action action, const char *paid_at, const char *reference,
                       const char *reason) {
    char version[24], status[16], partner[37];
    const char *id = path_id_if_match_or_reply(rq, version);
    if (!id || !lock_or_reply(rq, id, version, status, partner)) return;
    int st = machine_state(&invoice_machine, status);
    const struct transition *t = machine_find(&invoice_machine, st, action);
    if (!t) {
        reply_problem_extra(rq, P_INVALID_STATE,
                            json_pack("{s:o}", "allowed_actions", machine_allowed_json(&invoice_machine, st)),
                            "the invoice is %s and cannot become %s", status,
                            machine_state_name(&invoice_machine, invoice_target(action)));
        return;
    }
    const char *to = machine_state_name(&invoice_machine, t->to);
    const char *sp[] = {rq->auth.tenant_id, id, to, paid_at, reference, reason};
    PGresult *r = db_exec(rq, &st_set, 6, sp);
    if (!r || !commissions_follow(rq, id, action)) {
        PQclear(r);
        return;
    }
    char type[32];
    snprintf(type, sizeof type, "invoice.%s", to);
    if (!feed_append(rq, type, "invoice", id, partner, PQgetvalue(r, 0, 0)))
        reply_resource(rq, 200, r);
    PQclear(r);
}

void api_invoices_approve(struct request *rq) {
    if (rq->json && json_fields_or_reply(rq, rq->json, NULL, 0, false)) return;
    transition(rq, IA_APPROVE, NULL, NULL, NULL);
}

void api_invoices_pay(struct request *rq) {
    static const struct field F[] = {FIELD_STRING("reference", F_REQUIRED, 200),
                                     FIELD_TEXT("paid_at", 0, 40)};
    if (json_fields_or_reply(rq, rq->json, F, 2, false)) return;
    const char *paid_at = json_string_value(json_object_get(rq->json, "paid_at"));
    if (paid_at && !timestamp_valid(paid_at)) {
        reply_field_error(rq, "paid_at", "must be an RFC 3339 timestamp");
        return;
    }
    transition(rq, IA_PAY, paid_at ? paid_at : "now",
               json_string_value(json_object_get(rq->json, "reference")), NULL);
}

void api_invoices_reject(struct request *rq) {
    static const struct field F[] = {FIELD_STRING("reason", F_REQUIRED, 1000)};
    if (json_fields_or_reply(rq, rq->json, F, 1, false)) return;
    transition(rq, IA_REJECT, NULL, NULL, json_string_value(json_object_get(rq->json, "reason")));
}

void api_invoices_void(struct request *rq) {
    if (rq->json && json_fields_or_reply(rq, rq->json, NULL, 0, false)) return;
    transition(rq, IA_VOID, NULL, NULL, NULL);
}
