/* API key authentication. Keys are stored as SHA-256 hashes and found by a public prefix;
 * the hash comparison is constant-time. */
#include "server/edge/auth.h"
#include "server/edge/auth_cache.h"
#include "server/data/db.h"
#include "server/edge/reply.h"
#include "server/edge/session_auth.h"
#include "server/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void auth_key_generate(char *key, char *prefix, char *hash) {
    unsigned char p[6], s[32];
    char secret[48];
    random_bytes(p, sizeof p);
    random_bytes(s, sizeof s);
    b64url_encode(s, sizeof s, secret);
    snprintf(prefix, KEY_PREFIX_LEN + 1, "ak_%02x%02x%02x%02x%02x%02x", p[0], p[1], p[2], p[3], p[4],
             p[5]);
    snprintf(key, KEY_LEN + 1, "%s_%s", prefix, secret);
    sha256_hex(key, strlen(key), hash);
}

bool auth_key_prefix(const char *key, char *prefix) {
    if (strlen(key) != KEY_LEN || strncmp(key, "ak_", 3) != 0 || key[KEY_PREFIX_LEN] != '_')
        return false;
    for (int i = 3; i < KEY_PREFIX_LEN; i++)
        if (!strchr("0123456789abcdef", key[i]) || key[i] == '\0') return false;
    for (int i = KEY_PREFIX_LEN + 1; i < KEY_LEN; i++)
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", key[i]) ||
            key[i] == '\0')
            return false;
    memcpy(prefix, key, KEY_PREFIX_LEN);
    prefix[KEY_PREFIX_LEN] = '\0';
    return true;
}

const char *auth_bearer_key(struct request *rq) {
    const char *h = req_header(rq, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) return NULL;
    h += 7;
    while (*h == ' ') h++;
    return h;
}

const char *auth_request_prefix(struct request *rq) {
    if (rq->key_parsed == 0) {
        const char *key = auth_bearer_key(rq);
        rq->key_parsed = key && auth_key_prefix(key, rq->key_prefix) ? 1 : -1;
    }
    return rq->key_parsed > 0 ? rq->key_prefix : NULL;
}

enum role auth_role_parse(const char *s) {
    static const struct {
        const char *name;
        enum role role;
    } t[] = {{"admin", ROLE_ADMIN}, {"staff", ROLE_STAFF}, {"partner", ROLE_PARTNER},
             {"readonly", ROLE_READONLY}, {"operator", ROLE_OPERATOR}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (s && strcmp(s, t[i].name) == 0) return t[i].role;
    return 0;
}

/* Runs inside the request's transaction. allied_authenticate (migration 0009) answers a row only
 * when the prefix is live and the hash matches, and then sets the tenant for this transaction
 * only; a wrong secret and an unknown prefix therefore take exactly the same path here. */
DB_STMT(st_set_tenant, "SELECT set_config('allied.tenant_id', $1, true)");
/* A read also becomes read-only (defence in depth: no GET handler writes). */
DB_STMT(st_set_tenant_read, "SELECT set_config('allied.tenant_id', $1, true), "
                            "set_config('transaction_read_only', 'on', true)");
DB_STMT(st_read_only, "SELECT set_config('transaction_read_only', 'on', true)");
/* One statement for a cold key (migration 0025): the key, its tenant's state (suspended, its own
 * rate), or an operator key (role operator, no tenant). */
DB_STMT(st_authenticate, "SELECT key_id, coalesce(key_tenant::text, ''), key_role, coalesce(key_partner::text, ''), "
                         "coalesce(floor(extract(epoch FROM key_valid_until) * 1000)::bigint, 0), key_state, "
                         "coalesce(tenant_suspended, false), coalesce(tenant_rate, 0) "
                         "FROM allied_authenticate($1, $2)");
/* Operator keys (migration 0017): no tenant; the request works across tenants (allied.scope, the
 * same setting system connections use), which only the operator routes ever allow. */
DB_STMT(st_set_scope, "SELECT set_config('allied.scope', 'all', true)");
DB_STMT(st_set_scope_read, "SELECT set_config('allied.scope', 'all', true), "
                           "set_config('transaction_read_only', 'on', true)");
/* Marks a cached key used (at most once a minute per key and instance; the function itself skips a
 * key written within the last minute). Goes out with the request's first statement, before a read
 * turns read-only: no round trip of its own. */
DB_STMT(st_touch, "SELECT allied_key_touch($1::uuid)");

static int unauthorized(struct request *rq, const char *why) {
    reply_problem(rq, P_UNAUTHORIZED, "%s", why);
    return -1;
}

/* A verified key of a suspended tenant: 403, its data untouched. */
static int admitted_or_reply(struct request *rq) {
    if (!rq->auth.tenant_suspended) return 0;
    reply_problem(rq, P_TENANT_SUSPENDED, "the operator suspended this tenant; its keys are refused until it is resumed");
    return -1;
}

/* A key this instance has verified: its settings go out with the first statement, no lookup. */
static int warm_key_or_reply(struct request *rq, const char *hash) {
    if (rq->auth.role == ROLE_OPERATOR) {
        db_prologue(rq, rq->read_txn ? &st_set_scope_read : &st_set_scope, NULL);
        return 0;
    }
    if (auth_cache_touch_due(hash)) db_prologue(rq, &st_touch, rq->auth.key_id);
    db_prologue(rq, rq->read_txn ? &st_set_tenant_read : &st_set_tenant, rq->auth.tenant_id);
    return admitted_or_reply(rq);
}

/* Reads the row allied_authenticate found into rq->auth; -1 after a 401 when its secret is past
 * its time (expired, or replaced by a rotation whose overlap has ended). Takes `r`. */
static int key_row_or_reply(struct request *rq, PGresult *r) {
    const char *state = PQgetvalue(r, 0, 5);
    if (strcmp(state, "ok") != 0) {
        bool expired = strcmp(state, "expired") == 0;
        reply_problem(rq, expired ? P_KEY_EXPIRED : P_KEY_ROTATED,
                      expired ? "API key %s has expired; create a new one"
                              : "this secret of API key %s was replaced and its overlap has ended; use the new secret",
                      PQgetvalue(r, 0, 0));
        PQclear(r);
        return -1;
    }
    rq->auth.ok = true;
    snprintf(rq->auth.key_id, sizeof rq->auth.key_id, "%s", PQgetvalue(r, 0, 0));
    snprintf(rq->auth.tenant_id, sizeof rq->auth.tenant_id, "%s", PQgetvalue(r, 0, 1));
    rq->auth.role = auth_role_parse(PQgetvalue(r, 0, 2));
    snprintf(rq->auth.partner_id, sizeof rq->auth.partner_id, "%s", PQgetvalue(r, 0, 3));
    rq->auth.valid_until_ms = strtoll(PQgetvalue(r, 0, 4), NULL, 10);
    rq->auth.tenant_suspended = PQgetvalue(r, 0, 6)[0] == 't';
    rq->auth.tenant_rate = atol(PQgetvalue(r, 0, 7));
    PQclear(r);
    return 0;
}

/* An operator key (no tenant): the request works across tenants. */
static int operator_admitted(struct request *rq, const char *hash, unsigned long gen) {
    db_prologue(rq, rq->read_txn ? &st_set_scope_read : &st_set_scope, NULL); /* with the first statement */
    auth_cache_put(hash, &rq->auth, gen);
    return 0;
}

int auth_or_reply(struct request *rq) {
    char hash[65];
    if (!req_header(rq, MHD_HTTP_HEADER_AUTHORIZATION)) {
        if (session_cookie_present(rq)) return session_auth_or_reply(rq); /* a browser (issue 15) */
        return unauthorized(rq, "send Authorization: Bearer <api key>");
    }
    const char *key = auth_bearer_key(rq);
    if (!key) return unauthorized(rq, "use the Bearer scheme");
    const char *prefix = auth_request_prefix(rq);
    if (!prefix) return unauthorized(rq, "the API key is malformed");
    sha256_hex(key, strlen(key), hash);
    if (auth_cache_get(hash, &rq->auth)) return warm_key_or_reply(rq, hash);
    unsigned long gen = auth_cache_generation();
    const char *params[] = {prefix, hash};
    PGresult *r = db_exec(rq, &st_authenticate, 2, params);
    if (!r) {
        db_reply_failure(rq);
        return -1;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        return unauthorized(rq, "the API key is unknown or revoked");
    }
    if (key_row_or_reply(rq, r)) return -1;
    if (rq->auth.role == ROLE_OPERATOR) return operator_admitted(rq, hash, gen);
    if (rq->read_txn) db_prologue(rq, &st_read_only, NULL); /* goes with the handler's first statement */
    auth_cache_put(hash, &rq->auth, gen);
    return admitted_or_reply(rq);
}
