/* Agreement terms: validation of the nested object and its defaults. Pure, no I/O. */
#ifndef ALLIED_TERMS_H
#define ALLIED_TERMS_H
#include <jansson.h>

/* Checks `terms` (an object) and appends {field, message} errors named under `prefix`
 * (e.g. "terms."). When there are none, fills the defaults into `terms` in place. */
void terms_check(json_t *errors, const char *prefix, json_t *terms);
#endif
