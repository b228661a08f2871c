/* Building responses: every reply_* sets the whole response; the last one called wins. */
#ifndef ALLIED_REPLY_H
#define ALLIED_REPLY_H
#include "server/edge/request.h"

/* Content-Security-Policy of an HTML answer whose handler set none: nothing may load or run. */
#define REPLY_HTML_CSP \
    "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/* Replies with JSON text `text` (copied). */
void reply_json_text(struct request *rq, int status, const char *text, size_t len);
/* Replies with `body`; steals the reference. */
void reply_json(struct request *rq, int status, json_t *body);
/* Replies with the first `size` bytes of the file open on `fd` (read from offset 0, whatever the
 * descriptor's position), sent straight from the file: the body is never held in memory. Takes
 * the descriptor (closed once sent, or when another reply replaces this one). `content_type` is a
 * static string. */
void reply_file(struct request *rq, int status, int fd, size_t size, const char *content_type);
/* Replies 204 No Content. */
void reply_no_content(struct request *rq);
/* Replies with a problem+json; `detail` is printf-style and may be NULL. */
void reply_problem(struct request *rq, enum problem p, const char *detail, ...)
    __attribute__((format(printf, 3, 4)));
/* Like reply_problem, plus the members of `extra` (an object; stolen) as extension members. */
void reply_problem_extra(struct request *rq, enum problem p, json_t *extra, const char *detail, ...)
    __attribute__((format(printf, 4, 5)));
/* Replies 400 validation-error with `errors`, a list of {field, message}; steals it. */
void reply_validation(struct request *rq, json_t *errors);
/* Replies 400 validation-error naming one field. */
void reply_field_error(struct request *rq, const char *field, const char *message);
/* Adds a response header (value copied). Replaces an earlier one of the same name. */
void reply_header(struct request *rq, const char *name, const char *value);
/* Sets ETag from a resource version. */
void reply_etag(struct request *rq, long long version);
/* Frees the response being built, so a retried transaction starts clean. */
void reply_reset(struct request *rq);
#endif
