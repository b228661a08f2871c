/* The fuzzers' stand-in for server/http.c: a request whose headers and query arguments come
 * from a table instead of a libmicrohttpd connection, so the parsing code runs unchanged. */
#ifndef ALLIED_FUZZ_SHIM_H
#define ALLIED_FUZZ_SHIM_H
#include "server/edge/request.h"
#include <stddef.h>
#include <stdint.h>

#define FUZZ_MAX_VALUES 32

/* Starts a request (zeroed; url copied) and forgets every header and query argument. */
void fuzz_request_init(struct request *rq, const char *url);
/* Frees what the request owns (response, JSON, params, url, body) and the table's strings. */
void fuzz_request_free(struct request *rq);
/* Adds a header or query argument (copied). Returns -1 when the table is full. */
int fuzz_add_header(const char *name, const char *value);
int fuzz_add_query(const char *name, const char *value);

/* Splits `data` at the first NUL of each part: returns a malloc'd NUL-terminated copy of the
 * next part and advances *data / *len past it (NULL when nothing is left). */
char *fuzz_take(const uint8_t **data, size_t *len);
/* Sets a fixed cursor-signing key (once): cursors can be made and checked without a database. */
void fuzz_cursor_key(void);

/* Aborts (a crash the fuzzer reports) when `cond` is false: for invariants. */
#define FUZZ_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) fuzz_fail(__FILE__, __LINE__, #cond);                                         \
    } while (0)
void fuzz_fail(const char *file, int line, const char *what) __attribute__((noreturn));
#endif
