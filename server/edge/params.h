/* Request parameters shared by handlers: path ids, If-Match, query filters. */
#ifndef ALLIED_PARAMS_H
#define ALLIED_PARAMS_H
#include "server/edge/request.h"

/* Path parameter `i` as a UUID, or replies 400 naming `field`. Returns it or NULL. */
const char *path_uuid_or_reply(struct request *rq, int i, const char *field);

/* Parses If-Match ("N" for version N, or *). Writes the version into `out` (or "" if absent or
 * *). Returns 0, or -1 after replying 400 for a malformed header. */
int if_match_or_reply(struct request *rq, char out[24]);
/* True when If-Match is `*`: the write may only change an existing resource, never create one. */
bool if_match_any(struct request *rq);

/* Query argument that must be one of `choices` (NULL-terminated). *out = value or NULL.
 * Returns 0, or -1 after replying 400. */
int query_enum_or_reply(struct request *rq, const char *name, const char *const *choices,
                        const char **out);
/* Query argument that must be an RFC 3339 timestamp. */
int query_timestamp_or_reply(struct request *rq, const char *name, const char **out);
/* Query argument that must be a date YYYY-MM-DD. */
int query_date_or_reply(struct request *rq, const char *name, const char **out);
/* Query argument that must be a UUID. */
int query_uuid_or_reply(struct request *rq, const char *name, const char **out);
/* Query argument that must be non-empty text of at most `max` bytes. */
int query_text_or_reply(struct request *rq, const char *name, size_t max, const char **out);

/* Replies 404 for the resource named `what`. */
void reply_not_found(struct request *rq, const char *what, const char *id);

/* The partner this key is bound to, or NULL for non-partner keys: the SQL scope parameter. */
const char *partner_scope(struct request *rq);
#endif
