/* One list, described once. A paginated list is a spec — the SELECT with its filters, the keyset
 * order key, and the query parameters it takes with their types — and list_reply() does the rest:
 * checks the query (unknown names, limit, cursor, each filter's type), picks the first-page or
 * next-page statement, runs it and replies {"data": [...], "next_cursor": ...}.
 *
 * The statement's parameters are fixed by position, the same in every list:
 *   $1 tenant, $2 limit (+1), $3 and $4 the cursor's sort key (timestamptz, uuid) or NULL,
 *   $5 the partner the key is bound to (NULL for staff keys), $6... the filters in spec order.
 * So `select` is "SELECT <json>, <t>.created_at, <id> FROM ... WHERE <t>.tenant_id = $1 AND ..."
 * (the raw timestamptz: reply_page puts only the cursor's row in the API's form)
 * and must use $5 (a list partner keys may call scopes itself to the partner; one they may not
 * call says `AND $5::uuid IS NULL`); `key` is the order key "<t>.created_at, <t>.id". */
#ifndef ALLIED_LIST_H
#define ALLIED_LIST_H
#include "server/data/db.h"
#include <stddef.h>

enum list_filter_type {
    LQ_ENUM,      /* one of `choices` */
    LQ_TEXT,      /* non-empty, at most `max` bytes; compared as given */
    LQ_LIKE,      /* like LQ_TEXT, passed as an escaped ILIKE pattern "%text%" */
    LQ_UUID,      /* a UUID */
    LQ_TIMESTAMP, /* RFC 3339 */
    LQ_BOOL,      /* true or false */
    LQ_PATH_UUID, /* not a query parameter: path parameter number `max`, a UUID named `name` */
};

struct list_filter {
    const char *name;
    enum list_filter_type type;
    const char *const *choices; /* LQ_ENUM, NULL-terminated */
    size_t max;                 /* LQ_TEXT, LQ_LIKE: bytes; LQ_PATH_UUID: path parameter index */
};

#define LIST_MAX_FILTERS 8
#define LIST_FIXED_PARAMS 5

struct list_spec {
    struct db_stmt first, after;
    /* The same two for an unfiltered page (no filter, no partner scope), under their own names:
     * run with a generic plan and sorts off (list_reply), while filtered pages keep their plans. */
    struct db_stmt plain_first, plain_after;
    /* A list under a resource (/v1/x/{id}/items): that resource must be visible to the caller, or
     * the answer is 404 naming `parent_kind`. `parent` takes ($1 tenant, $2 the first path filter,
     * $3 partner scope) and returns a row when it is. NULL for a top-level list. */
    struct db_stmt *parent;
    const char *parent_kind;
    struct list_filter filters[LIST_MAX_FILTERS]; /* $6, $7, ...; the first without a name ends them */
};

/* A list spec named `var`: its two statements are `select` ordered by `key`, from the start or
 * after the cursor; the filters follow as struct list_filter initialisers. */
#define LIST_FIRST_SQL(select, key)                                                                \
    select " AND $3::timestamptz IS NULL AND $4::uuid IS NULL ORDER BY " key " LIMIT $2"
#define LIST_AFTER_SQL(select, key) select " AND (" key ") > ($3::timestamptz, $4::uuid) ORDER BY " key " LIMIT $2"
#define LIST_UNFILTERED "/* unfiltered page (server/edge/list.c) */ "
#define LIST_STATEMENTS(select, key)                                                               \
    .first = {.sql = LIST_FIRST_SQL(select, key)}, .after = {.sql = LIST_AFTER_SQL(select, key)},  \
    .plain_first = {.sql = LIST_UNFILTERED LIST_FIRST_SQL(select, key)},                           \
    .plain_after = {.sql = LIST_UNFILTERED LIST_AFTER_SQL(select, key)}
#define LIST_SPEC(var, select, key, ...)                                                           \
    static struct list_spec var = {LIST_STATEMENTS(select, key), .filters = {__VA_ARGS__}}

/* The same, for a list under the resource that `parent` finds (see struct list_spec). */
#define LIST_SPEC_UNDER(var, parent_stmt, kind, select, key, ...)                                  \
    static struct list_spec var = {LIST_STATEMENTS(select, key), .parent = &parent_stmt,           \
                                   .parent_kind = kind, .filters = {__VA_ARGS__}}

/* Answers the list request `rq` as `spec` describes (400 for a bad query, the page otherwise). */
void list_reply(struct request *rq, struct list_spec *spec);

/* "%q%" with q's LIKE wildcards escaped; caller frees. */
char *like_pattern(const char *q);
/* Timelines: append-only sequences read forward with ?after=<position>&limit= (the change feed, a
 * referral's history). The position is a non-negative integer the timeline itself returned. */
struct timeline {
    long long after;
    long limit;
    char after_text[24];     /* SQL parameter: the position to read after */
    char limit_plus_one[24]; /* SQL parameter: one more row says whether there is more */
};

/* Reads `after` (default 0) and `limit` (default 100, at most `max_limit`); `what` names the
 * timeline in the 400 ("feed"). 0, or -1 after replying. */
int timeline_params_or_reply(struct request *rq, const char *what, long max_limit, struct timeline *t);

/* Replies {"data": [column 0 of each row], "next_cursor": ...} where column 1 is each row's
 * position. `poll` (a feed): next_cursor is always where to read on from, even at the end, and
 * "has_more" says whether more is waiting; otherwise next_cursor is null at the end. */
void reply_timeline(struct request *rq, PGresult *r, const struct timeline *t, bool poll);
#endif
