/* What api/partners.c shares: the validation of a partner's fields (imports reuse it). */
#ifndef ALLIED_PARTNERS_H
#define ALLIED_PARTNERS_H
#include <jansson.h>
#include <stdbool.h>

/* Appends to `errors` one {field, message} per problem in `obj` (a partner as POST /v1/partners
 * takes it; `partial` as PATCH), the qualification's fields included. */
void partner_fields_collect(json_t *errors, json_t *obj, bool partial);
#endif
