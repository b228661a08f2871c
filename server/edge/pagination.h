/* Keyset pagination: ?limit=&cursor= parsing, opaque cursors, and the list response. */
#ifndef ALLIED_PAGINATION_H
#define ALLIED_PAGINATION_H
#include "server/edge/request.h"

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

/* Cursors are opaque and signed: base64url(tag || "ts|id"), where tag is the first
 * PAGE_TAG_BYTES of HMAC-SHA256(key, scope NUL "ts|id"). The scope binds a cursor to the list
 * that made it (tenant and path), so a cursor edited by hand or taken to another list is refused.
 * The key is shared by every instance on one database (table server_secrets). */
#define PAGE_TAG_BYTES 16
#define PAGE_CURSOR_MAX 160 /* bytes for a cursor's text, NUL included */
#define PAGE_SCOPE_MAX 512  /* bytes for a scope: tenant, space, path (longer paths are cut) */

/* Sets the signing key (copied; at most 64 bytes are used). Thread-safe once set; the server
 * calls it once, from page_cursor_key_or_reply; unit tests and fuzzers call it directly. */
void page_cursor_set_key(const unsigned char *key, size_t len);
/* Makes sure the key is loaded from the database (once per process). 0, or -1 after replying. */
int page_cursor_key_or_reply(struct request *rq);
/* Writes the scope of the request's list ("tenant path") into `out` (cap bytes). */
void page_cursor_scope(struct request *rq, char *out, size_t cap);

/* Cursor text for (ts, id) within `scope`; `out` needs PAGE_CURSOR_MAX bytes. Returns 0, or -1
 * if ts/id are too long or no key is set (then `out` is ""). */
int page_cursor_encode(const char *scope, const char *ts, const char *id, char *out);
/* Parses and verifies a cursor made for `scope`; 0 on success, -1 if it is not one we made
 * (malformed, edited, for another list, or signed with another key). */
int page_cursor_decode(const char *scope, const char *cursor, char ts[40], char id[37]);

/* A timestamptz as PostgreSQL prints it to our connections (DateStyle ISO, TimeZone UTC, both set
 * by db_open), "2026-11-23 11:09:30.0854+00", in the API's form "2026-11-23T11:09:30.085400Z".
 * 0, or -1 (out "") for any other text. Lists select the raw column and convert only the row a
 * cursor is made from: to_char on every row cost PostgreSQL about a tenth of a page. */
int page_ts_from_pg(const char *pg, char out[40]);

/* Replies 200 {"data":[...], "next_cursor":...} from rows whose column 0 is the item's JSON
 * and columns 1 and 2 its sort key (the raw timestamptz, the id). Does not clear `res`. */
void reply_page(struct request *rq, PGresult *res, const struct page *p);
/* Replies 200 {"data":[...]} with every row's column 0 (a bounded, unpaginated list). */
void reply_list(struct request *rq, PGresult *res);
#endif
