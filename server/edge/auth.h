/* API keys: format, generation, hashing, and authenticating a request. */
#ifndef ALLIED_AUTH_H
#define ALLIED_AUTH_H
#include "server/edge/request.h"
#include <stdbool.h>

/* "ak_" + 12 hex (the lookup prefix) + "_" + 43 base64url chars (256-bit secret). */
#define KEY_PREFIX_LEN 15
#define KEY_LEN 59

/* Makes a new key: `key` (KEY_LEN+1), its `prefix` (KEY_PREFIX_LEN+1), its SHA-256 `hash` (65). */
void auth_key_generate(char *key, char *prefix, char *hash);
/* Extracts the prefix of a well-formed key into `prefix`; false if `key` is malformed. */
bool auth_key_prefix(const char *key, char *prefix);
/* The key after `Authorization: Bearer `, or NULL if that header or scheme is missing. */
const char *auth_bearer_key(struct request *rq);
/* The prefix of the request's well-formed Bearer key, or NULL; parsed once per request (the rate
 * limiter, the worker queue's fairness lanes and authentication all ask). */
const char *auth_request_prefix(struct request *rq);
/* Parses a role name; 0 if unknown. */
enum role auth_role_parse(const char *s);

/* Authenticates from `Authorization: Bearer`, fills rq->auth and sets the tenant that row-level
 * security enforces. Must run inside the request's transaction: the tenant setting ends with it.
 * Returns 0, or -1 after 401/503. */
int auth_or_reply(struct request *rq);
#endif
