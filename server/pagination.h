/* Keyset pagination: ?limit=&cursor= parsing, opaque cursors, and the list response. */
#ifndef ALLIED_PAGINATION_H
#define ALLIED_PAGINATION_H
#include "server/request.h"

#define PAGE_DEFAULT 50
#define PAGE_MAX 200

struct page {
    int limit;
    char limit_plus_one[16]; /* SQL LIMIT: one extra row tells whether a next page exists */
    bool has_cursor;
    char after_ts[40]; /* sort key of the last row seen (RFC 3339, UTC, microseconds) */
    char after_id[37];
};

/* Reads limit and cursor from the query string. Replies 400 on bad values. */
int page_params_or_reply(struct request *rq, struct page *p);

/* Cursor text for (ts, id); `out` needs 128 bytes. */
void page_cursor_encode(const char *ts, const char *id, char *out);
/* Parses a cursor; 0 on success, -1 if it is not one we made. */
int page_cursor_decode(const char *cursor, char ts[40], char id[37]);

/* Replies 200 {"data":[...], "next_cursor":...} from rows whose column 0 is the item's JSON
 * and columns 1 and 2 its sort key (ts, id). Does not clear `res`. */
void reply_page(struct request *rq, PGresult *res, const struct page *p);
/* Replies 200 {"data":[...]} with every row's column 0 (a bounded, unpaginated list). */
void reply_list(struct request *rq, PGresult *res);
#endif
