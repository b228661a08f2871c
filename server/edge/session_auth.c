/* Session cookie authentication (see session_auth.h). The lookup, the idle and absolute expiry,
 * marking the session seen and rotating its value all happen in one SECURITY DEFINER function
 * (allied_session_authenticate, migration 0024): one statement, like a cold API key. */
#include "server/edge/session_auth.h"
#include "server/config.h"
#include "server/data/db.h"
#include "server/edge/client_addr.h"
#include "server/edge/reply.h"
#include "server/util.h"
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

DB_STMT(st_session, "SELECT state, session_id, session_tenant, session_role, coalesce(session_partner::text, ''), "
                    "session_csrf, floor(extract(epoch FROM session_expires - now()))::bigint, tenant_suspended, "
                    "tenant_rate, rotated FROM allied_session_authenticate($1, $2, $3::int, $4::int, $5::int, $6::int)");
DB_STMT(st_read_only, "SELECT set_config('transaction_read_only', 'on', true)");

void session_token_new(char *token, char *hash) {
    unsigned char b[32];
    random_bytes(b, sizeof b);
    b64url_encode(b, sizeof b, token);
    sha256_hex(token, SESSION_TOKEN_LEN, hash);
}

bool session_token_valid(const char *s) {
    if (!s || strlen(s) != SESSION_TOKEN_LEN) return false;
    for (const char *c = s; *c; c++)
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *c)) return false;
    return true;
}

bool session_cookie_present(struct request *rq) {
    return req_cookie(rq, SESSION_COOKIE) != NULL;
}

/* Sessions have the tenant roles only (never operator). */
static enum role role_parse(const char *s) {
    if (strcmp(s, "admin") == 0) return ROLE_ADMIN;
    if (strcmp(s, "staff") == 0) return ROLE_STAFF;
    if (strcmp(s, "partner") == 0) return ROLE_PARTNER;
    return strcmp(s, "readonly") == 0 ? ROLE_READONLY : 0;
}

bool session_forwarded_https(struct request *rq) {
    if (!rq->conn) return false;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(rq->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const char *proto = req_header(rq, "X-Forwarded-Proto");
    return ci && ci->client_addr && client_addr_trusted(ci->client_addr) && proto && strcasecmp(proto, "https") == 0;
}

/* Secure or not: ALLIED_COOKIE_SECURE=always, or auto and a trusted proxy forwarded https. */
static bool over_tls(struct request *rq) {
    if (strcmp(cfg.cookie_secure, "always") == 0) return true;
    return strcmp(cfg.cookie_secure, "auto") == 0 && session_forwarded_https(rq);
}

void session_cookie_value(struct request *rq, const char *token, long max_age, char *out, size_t cap) {
    snprintf(out, cap, "%s=%s; Path=/; Max-Age=%ld; HttpOnly; SameSite=Lax%s", SESSION_COOKIE, token,
             max_age > 0 ? max_age : 0, over_tls(rq) ? "; Secure" : "");
}

void session_headers(const struct request *rq, struct MHD_Response *resp) {
    /* Only a success has surely committed the rotation (a read waits for its commit: settle_read);
     * otherwise the old value goes on working. */
    if (rq->set_cookie[0] && rq->status > 0 && rq->status < 400 && rq->db_fail == DBF_NONE)
        MHD_add_response_header(resp, "Set-Cookie", rq->set_cookie);
}

/* 401 for a cookie that does not (or no longer) authenticate; the browser is told to drop it. */
static int refuse(struct request *rq, const char *why) {
    char clear[160];
    reply_problem(rq, P_UNAUTHORIZED, "%s; sign in again with a new link", why);
    session_cookie_value(rq, "", 0, clear, sizeof clear);
    reply_header(rq, "Set-Cookie", clear);
    return -1;
}

static int state_refusal(struct request *rq, const char *state) {
    if (strcmp(state, "idle") == 0) return refuse(rq, "the session expired after a time without use");
    if (strcmp(state, "expired") == 0) return refuse(rq, "the session reached its maximum age");
    if (strcmp(state, "signed-out") == 0) return refuse(rq, "the session was signed out");
    return refuse(rq, "the session is unknown");
}

/* State-changing requests must echo the session's CSRF token (constant-time comparison). */
static int csrf_or_reply(struct request *rq, const char *want) {
    const char *m = rq->method;
    if (!strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "OPTIONS")) return 0;
    const char *got = req_header(rq, "X-CSRF-Token");
    if (got && strlen(got) == strlen(want) && CRYPTO_memcmp(got, want, strlen(want)) == 0) return 0;
    reply_problem(rq, P_CSRF, got ? "X-CSRF-Token does not match this session's csrf_token (GET /v1/session)"
                                  : "send X-CSRF-Token with the csrf_token of GET /v1/session");
    return -1;
}

/* Fills rq->auth from row 0 of `r`. The rate limiter and the worker lanes know a caller by its
 * key prefix: a session is "ss_" and the first 12 hex digits of its id (its own bucket). */
static void fill_auth(struct request *rq, PGresult *r) {
    const char *id = PQgetvalue(r, 0, 1);
    rq->auth.ok = true;
    rq->auth.session = true;
    snprintf(rq->auth.key_id, sizeof rq->auth.key_id, "%s", id);
    snprintf(rq->auth.tenant_id, sizeof rq->auth.tenant_id, "%s", PQgetvalue(r, 0, 2));
    rq->auth.role = role_parse(PQgetvalue(r, 0, 3));
    snprintf(rq->auth.partner_id, sizeof rq->auth.partner_id, "%s", PQgetvalue(r, 0, 4));
    rq->auth.tenant_suspended = PQgetvalue(r, 0, 7)[0] == 't';
    rq->auth.tenant_rate = atol(PQgetvalue(r, 0, 8));
    snprintf(rq->key_prefix, sizeof rq->key_prefix, "ss_%.8s%.4s", id, id + 9);
    rq->key_parsed = 1;
}

/* Looks the session up (rotating its value when due): the result, or NULL after a reply. */
static PGresult *lookup(struct request *rq, const char *cookie, char *new_token) {
    char hash[65], new_hash[65], idle[16], touch[16], rotate[16], grace[16];
    sha256_hex(cookie, strlen(cookie), hash);
    session_token_new(new_token, new_hash);
    int touch_s = cfg.session_idle_s / 2 < 60 ? cfg.session_idle_s / 2 : 60;
    snprintf(idle, sizeof idle, "%d", cfg.session_idle_s);
    snprintf(touch, sizeof touch, "%d", touch_s);
    snprintf(rotate, sizeof rotate, "%d", cfg.session_rotate_s);
    snprintf(grace, sizeof grace, "%d", cfg.session_grace_s);
    const char *p[] = {hash, new_hash, idle, touch, rotate, grace};
    PGresult *r = db_exec(rq, &st_session, 6, p);
    if (!r) {
        db_reply_failure(rq);
        return NULL;
    }
    if (PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "ok") == 0) return r;
    char state[16] = "unknown";
    if (PQntuples(r) == 1) snprintf(state, sizeof state, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    state_refusal(rq, state);
    return NULL;
}

int session_auth_or_reply(struct request *rq) {
    const char *cookie = req_cookie(rq, SESSION_COOKIE);
    char new_token[SESSION_TOKEN_LEN + 1];
    rq->set_cookie[0] = '\0';
    if (!session_token_valid(cookie)) return refuse(rq, "the session cookie is malformed");
    PGresult *r = lookup(rq, cookie, new_token);
    if (!r) return -1;
    fill_auth(rq, r);
    if (PQgetvalue(r, 0, 9)[0] == 't') { /* rotated: the next request must find the new value */
        session_cookie_value(rq, new_token, atol(PQgetvalue(r, 0, 6)), rq->set_cookie, sizeof rq->set_cookie);
        rq->settle_read = rq->read_txn;
    }
    int rc = csrf_or_reply(rq, PQgetvalue(r, 0, 5));
    PQclear(r);
    if (rc) return -1;
    if (rq->auth.tenant_suspended) {
        reply_problem(rq, P_TENANT_SUSPENDED, "the operator suspended this tenant; its sessions are refused until it is resumed");
        return -1;
    }
    if (rq->read_txn) db_prologue(rq, &st_read_only, NULL); /* goes with the handler's first statement */
    return 0;
}
