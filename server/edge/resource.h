/* The replies every resource shares: one row as the body with its version as ETag, and the
 * GET-by-id handler shape (path id, tenant, partner scope, 404). */
#ifndef ALLIED_RESOURCE_H
#define ALLIED_RESOURCE_H
#include "server/data/db.h"

/* Replies `status` with row 0 of `r`: column 0 is the JSON body, column 1 the version (ETag). */
void reply_resource(struct request *rq, int status, PGresult *r);

/* Runs `st` with `n` `params` for the resource `kind` `id`: its rows if it found any; else NULL,
 * after a 404 naming `kind` and `id` (a database failure is left to the runner). The caller
 * PQclears a result. */
PGresult *found_or_reply(struct request *rq, struct db_stmt *st, int n, const char *const *params, const char *kind,
                         const char *id);

/* GET .../{id}: runs `st` with ($1 tenant, $2 path id, $3 partner scope) and replies with the
 * row (reply_resource), or 404 naming `kind`; 400 for a bad id. */
void reply_resource_by_id(struct request *rq, struct db_stmt *st, const char *kind);

/* A write to .../{id}: the id (path parameter 0, a UUID), with If-Match's version in `version`
 * ("" if none or *). NULL after a 400 for either. */
const char *path_id_if_match_or_reply(struct request *rq, char version[24]);

/* Replies 201 with row 0 of `r` (as reply_resource) and a Location header, the printf of `fmt`. */
void reply_created(struct request *rq, PGresult *r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Sets the Location header to the printf of `fmt` (for a 201 built some other way). */
void reply_location(struct request *rq, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* If-Match named `wanted` (non-empty) and the resource is at `current`: true if they agree (or
 * none was named); else replies 412 "the `kind` is at version N" with ETag N and returns false. */
bool version_ok_or_reply(struct request *rq, const char *kind, const char *wanted, const char *current);

/* Replies 412 "the `kind` is at version `current`" with ETag `current`. */
void reply_stale(struct request *rq, const char *kind, const char *current);

/* After a conditional write (If-Match) matched nothing: runs `st` with `n` `params`, which
 * returns the current version in column 0 or no row, and replies 404 naming `kind` and `id`, or
 * 412 with the version as ETag. A database failure is left to the runner. */
void reply_missing_or_stale(struct request *rq, struct db_stmt *st, int n, const char *const *params,
                            const char *kind, const char *id);

/* PUT .../by-external-id/{external_id}: path parameter 0, or NULL after a 400 unless it is 1 to
 * 200 printable characters. */
const char *path_external_id_or_reply(struct request *rq);
/* The body's "external_id" may only repeat the path's `ext` (or be left out); else replies 400. */
bool body_external_id_ok_or_reply(struct request *rq, const char *ext);
#endif
