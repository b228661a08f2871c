/* Prospect normalisation for duplicate detection. Pure, no I/O. */
#ifndef ALLIED_PROSPECT_H
#define ALLIED_PROSPECT_H
#include <stddef.h>

/* Lower-cases `email` into `out` (cap bytes); "" if NULL or too long. */
void prospect_email_key(const char *email, char *out, size_t cap);
/* The company domain of `email` (lower case) into `out`, or "" for free-mail providers, whose
 * domain says nothing about the company. */
void prospect_domain_key(const char *email, char *out, size_t cap);
#endif
