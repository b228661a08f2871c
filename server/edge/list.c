/* list_reply: the one implementation of a paginated, filtered list (server/edge/list.h). */
#include "server/edge/list.h"
#include "server/edge/json_in.h"
#include "server/edge/pagination.h"
#include "server/edge/params.h"
#include "server/edge/reply.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const BOOLS[] = {"true", "false", NULL};

char *like_pattern(const char *q) {
    char *out = malloc(strlen(q) * 2 + 3), *w = out;
    if (!out) abort();
    *w++ = '%';
    for (; *q; q++) {
        if (*q == '%' || *q == '_' || *q == '\\') *w++ = '\\';
        *w++ = *q;
    }
    *w++ = '%';
    *w = '\0';
    return out;
}

/* Reads one filter into *out (NULL when absent). 0, or -1 after replying 400. `owned` receives a
 * string to free (the LIKE pattern), if any. */
static int filter_or_reply(struct request *rq, const struct list_filter *f, const char **out, char **owned) {
    switch (f->type) {
    case LQ_ENUM:
        return query_enum_or_reply(rq, f->name, f->choices, out);
    case LQ_BOOL:
        return query_enum_or_reply(rq, f->name, BOOLS, out);
    case LQ_TEXT:
        return query_text_or_reply(rq, f->name, f->max, out);
    case LQ_LIKE:
        if (query_text_or_reply(rq, f->name, f->max, out)) return -1;
        if (*out) *out = *owned = like_pattern(*out);
        return 0;
    case LQ_UUID:
        return query_uuid_or_reply(rq, f->name, out);
    case LQ_TIMESTAMP:
        return query_timestamp_or_reply(rq, f->name, out);
    case LQ_PATH_UUID:
        *out = path_uuid_or_reply(rq, (int)f->max, f->name);
        return *out ? 0 : -1;
    }
    return -1;
}

/* The query names the list takes: limit, cursor and its query filters. */
static void allowed_names(const struct list_spec *spec, const char **names) {
    int n = 0;
    names[n++] = "limit";
    names[n++] = "cursor";
    for (int i = 0; i < LIST_MAX_FILTERS && spec->filters[i].name; i++)
        if (spec->filters[i].type != LQ_PATH_UUID) names[n++] = spec->filters[i].name;
    names[n] = NULL;
}

/* Reads the path filters (`path` true) or the query filters into vals (spec order). */
static int filters_or_reply(struct request *rq, const struct list_spec *spec, bool path, const char **vals,
                            char **owned) {
    for (int i = 0; i < LIST_MAX_FILTERS && spec->filters[i].name; i++) {
        const struct list_filter *f = &spec->filters[i];
        if ((f->type == LQ_PATH_UUID) == path && filter_or_reply(rq, f, &vals[i], &owned[i])) return -1;
    }
    return 0;
}

/* For a list under a resource: true if the caller may see it; else replies 404 (or leaves a
 * database failure to the runner) and returns false. */
static bool parent_visible(struct request *rq, const struct list_spec *spec, const char *const *filter_vals) {
    const char *id = NULL;
    for (int i = 0; i < LIST_MAX_FILTERS && spec->filters[i].name && !id; i++)
        if (spec->filters[i].type == LQ_PATH_UUID) id = filter_vals[i];
    const char *p[] = {rq->auth.tenant_id, id, partner_scope(rq)};
    PGresult *r = db_exec(rq, spec->parent, 3, p);
    if (!r) return false;
    bool visible = PQntuples(r) > 0;
    PQclear(r);
    if (!visible) reply_not_found(rq, spec->parent_kind, id);
    return visible;
}

/* An unfiltered page (no filter, no partner scope) is the common one -- a CRM walking a whole
 * list -- and its best plan is the same for every tenant: the table's (tenant_id, created_at, id)
 * index walked in order, stopping after limit + 1 rows. Left to itself, PostgreSQL plans such a
 * page afresh every time once its statistics are in: with LIMIT a parameter, a generic plan is
 * costed for a tenth of the rows and never looks cheaper than a custom one (12 custom plans in 12
 * runs on an analysed database; planning was 38 % of PostgreSQL's time per page). So these pages
 * run statements of their own (list.h) with a generic plan and sorts off, which makes that plan
 * the walk in order: a plan made once for the average tenant can then never sort a large
 * tenant's whole table. Filtered pages keep PostgreSQL's choice (a selective filter may be served
 * better by another index and a sort). The settings end with the read's transaction. */
DB_STMT(st_unfiltered_plan,
        "SELECT set_config('plan_cache_mode', 'force_generic_plan', true), set_config('enable_sort', 'off', true), "
        "set_config('enable_incremental_sort', 'off', true)");

void list_reply(struct request *rq, struct list_spec *spec) {
    const char *names[LIST_MAX_FILTERS + 3];
    const char *vals[LIST_FIXED_PARAMS + LIST_MAX_FILTERS] = {0};
    char *owned[LIST_MAX_FILTERS] = {0};
    int nfilters = 0;
    while (nfilters < LIST_MAX_FILTERS && spec->filters[nfilters].name) nfilters++;
    allowed_names(spec, names);
    struct page pg;
    PGresult *r = NULL;
    /* In the order a client reads its mistakes: the path, unknown names, paging, each filter. */
    if (filters_or_reply(rq, spec, true, vals + LIST_FIXED_PARAMS, owned) == 0 &&
        query_known_or_reply(rq, names) == JIN_OK && page_params_or_reply(rq, &pg) == 0 &&
        filters_or_reply(rq, spec, false, vals + LIST_FIXED_PARAMS, owned) == 0 &&
        (!spec->parent || parent_visible(rq, spec, vals + LIST_FIXED_PARAMS))) {
        vals[0] = rq->auth.tenant_id;
        vals[1] = pg.limit_plus_one;
        vals[2] = pg.has_cursor ? pg.after_ts : NULL;
        vals[3] = pg.has_cursor ? pg.after_id : NULL;
        vals[4] = partner_scope(rq);
        bool unfiltered = vals[4] == NULL;
        for (int i = 0; unfiltered && i < nfilters; i++) unfiltered = vals[LIST_FIXED_PARAMS + i] == NULL;
        struct db_stmt *st = pg.has_cursor ? (unfiltered ? &spec->plain_after : &spec->after)
                                           : (unfiltered ? &spec->plain_first : &spec->first);
        if (unfiltered) db_prologue(rq, &st_unfiltered_plan, NULL);
        r = db_exec_final(rq, st, LIST_FIXED_PARAMS + nfilters, vals);
    }
    for (int i = 0; i < nfilters; i++) free(owned[i]);
    if (!r) return; /* replied, or the runner answers the database failure */
    reply_page(rq, r, &pg);
    PQclear(r);
}

int timeline_params_or_reply(struct request *rq, const char *what, long max_limit, struct timeline *t) {
    const char *after = req_query(rq, "after"), *limit = req_query(rq, "limit");
    char *end;
    t->after = 0;
    t->limit = 100;
    if (after) {
        t->after = strtoll(after, &end, 10);
        if (*after < '0' || *after > '9' || *end || t->after < 0 || strlen(after) > 18) {
            char msg[96];
            snprintf(msg, sizeof msg, "must be a cursor from this %s (a non-negative integer)", what);
            reply_field_error(rq, "after", msg);
            return -1;
        }
    }
    if (limit) {
        t->limit = strtol(limit, &end, 10);
        if (*limit < '0' || *limit > '9' || *end || t->limit < 1 || t->limit > max_limit) {
            char msg[64];
            snprintf(msg, sizeof msg, "must be an integer from 1 to %ld", max_limit);
            reply_field_error(rq, "limit", msg);
            return -1;
        }
    }
    snprintf(t->after_text, sizeof t->after_text, "%lld", t->after);
    snprintf(t->limit_plus_one, sizeof t->limit_plus_one, "%ld", t->limit + 1);
    return 0;
}

void reply_timeline(struct request *rq, PGresult *r, const struct timeline *t, bool poll) {
    int rows = PQntuples(r), shown = rows > t->limit ? (int)t->limit : rows;
    size_t cap = 96;
    for (int i = 0; i < shown; i++) cap += (size_t)PQgetlength(r, i, 0) + 1;
    char *buf = malloc(cap), *w = buf;
    if (!buf) abort();
    w += sprintf(w, "{\"data\":[");
    for (int i = 0; i < shown; i++) {
        if (i) *w++ = ',';
        memcpy(w, PQgetvalue(r, i, 0), (size_t)PQgetlength(r, i, 0));
        w += PQgetlength(r, i, 0);
    }
    const char *last = shown ? PQgetvalue(r, shown - 1, 1) : t->after_text;
    if (poll)
        w += sprintf(w, "],\"next_cursor\":\"%s\",\"has_more\":%s}", last, rows > shown ? "true" : "false");
    else if (rows > shown)
        w += sprintf(w, "],\"next_cursor\":\"%s\"}", last);
    else
        w += sprintf(w, "],\"next_cursor\":null}");
    reply_json_text(rq, 200, buf, (size_t)(w - buf));
    free(buf);
}
