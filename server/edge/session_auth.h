/* Browser sessions (issue 15): the `allied_session` cookie as the alternative to an API key. A
 * session authenticates exactly like a key of its role (a partner session is scoped to its
 * partner), for requests without an Authorization header; every state-changing request it makes
 * must carry its X-CSRF-Token. Sessions are rows in PostgreSQL (migration 0024), found by the
 * SHA-256 of the cookie value; the value rotates while in use. */
#ifndef ALLIED_SESSION_AUTH_H
#define ALLIED_SESSION_AUTH_H
#include "server/edge/request.h"

#define SESSION_COOKIE "allied_session"
#define SESSION_TOKEN_LEN 43 /* 32 random bytes, base64url without padding */

/* A new random token (SESSION_TOKEN_LEN + 1 bytes) and its hex SHA-256 (65 bytes). */
void session_token_new(char *token, char *hash);
/* True if `s` has the shape of a token: SESSION_TOKEN_LEN base64url characters. */
bool session_token_valid(const char *s);

/* True if the request carries the session cookie (well-formed or not). */
bool session_cookie_present(struct request *rq);
/* Authenticates the request from its session cookie: fills rq->auth like a key of the session's
 * role, sets the tenant for the transaction, checks X-CSRF-Token on a state-changing request.
 * Runs inside the request's transaction. 0, or -1 after 401/403. */
int session_auth_or_reply(struct request *rq);

/* True if a trusted proxy (ALLIED_TRUSTED_PROXIES) says the client came over https
 * (X-Forwarded-Proto); the server itself speaks plain HTTP. */
bool session_forwarded_https(struct request *rq);
/* The Set-Cookie value for `token`, expiring in `max_age` seconds ("" and 0 clear the cookie),
 * with Secure when the request came over TLS (ALLIED_COOKIE_SECURE). */
void session_cookie_value(struct request *rq, const char *token, long max_age, char *out, size_t cap);
/* Adds a rotated session cookie to a successful response (called as the response is sent). */
void session_headers(const struct request *rq, struct MHD_Response *resp);
#endif
