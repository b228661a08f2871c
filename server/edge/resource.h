/* The replies every resource shares: one row as the body with its version as ETag, and the
 * GET-by-id handler shape (path id, tenant, partner scope, 404). */
#ifndef ALLIED_RESOURCE_H
#define ALLIED_RESOURCE_H
#include "server/data/db.h"

/* Replies `status` with row 0 of `r`: column 0 is the JSON body, column 1 the version (ETag). */
void reply_resource(struct request *rq, int status, PGresult *r);

/* GET .../{id}: runs `st` with ($1 tenant, $2 path id, $3 partner scope) and replies with the
 * row (reply_resource), or 404 naming `kind`; 400 for a bad id, 503/500 for the database. */
void reply_resource_by_id(struct request *rq, struct db_stmt *st, const char *kind);
#endif
