/* What api/partners.c shares: the validation of a partner's fields (imports reuse it). */
#ifndef ALLIED_PARTNERS_H
#define ALLIED_PARTNERS_H
#include "server/data/db.h"
#include <jansson.h>
#include <stdbool.h>

/* Appends to `errors` one {field, message} per problem in `obj` (a partner as POST /v1/partners
 * takes it; `partial` as PATCH), the qualification's fields included. */
void partner_fields_collect(json_t *errors, json_t *obj, bool partial);

/* Finds the partner ($1 tenant, $2 id) if the caller may see it ($3 the partner scope): a row, or
 * none. The parent of the lists under a partner (LIST_SPEC_UNDER). */
extern struct db_stmt partner_visible_stmt;
/* The partner in the path (parameter 0) if the caller may see it; else NULL after a 400 (not a
 * UUID) or 404 (absent, or another partner's for a partner key). */
const char *partner_in_path_or_reply(struct request *rq);
#endif
