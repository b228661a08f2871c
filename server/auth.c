/* API key authentication. Keys are stored as SHA-256 hashes and found by a public prefix;
 * the hash comparison is constant-time. */
#include "server/auth.h"
#include "server/db.h"
#include "server/reply.h"
#include "server/util.h"
#include <openssl/crypto.h>
#include <stdio.h>
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

enum role auth_role_parse(const char *s) {
    static const struct {
        const char *name;
        enum role role;
    } t[] = {{"admin", ROLE_ADMIN}, {"staff", ROLE_STAFF}, {"partner", ROLE_PARTNER},
             {"readonly", ROLE_READONLY}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (s && strcmp(s, t[i].name) == 0) return t[i].role;
    return 0;
}

/* The lookup also sets allied.tenant_id for this session, which the row-level security
 * policies read. It is set by every authenticated request before any tenant query, in the same
 * statement as the lookup, and cleared (to '') when the key is unknown — so a pooled connection
 * never carries one request's tenant into the next. */
DB_STMT(st_lookup,
        "SELECT k.id, k.tenant_id, k.role, coalesce(k.partner_id::text, ''), k.secret_hash, "
        "       set_config('allied.tenant_id', coalesce(k.tenant_id::text, ''), false) "
        "FROM (SELECT 1) one LEFT JOIN api_keys k ON k.prefix = $1 AND k.revoked_at IS NULL");

static int unauthorized(struct request *rq, const char *why) {
    reply_problem(rq, P_UNAUTHORIZED, "%s", why);
    return -1;
}

int auth_or_reply(struct request *rq) {
    const char *h = req_header(rq, MHD_HTTP_HEADER_AUTHORIZATION);
    char prefix[KEY_PREFIX_LEN + 1], hash[65];
    if (!h) return unauthorized(rq, "send Authorization: Bearer <api key>");
    if (strncasecmp(h, "Bearer ", 7) != 0) return unauthorized(rq, "use the Bearer scheme");
    const char *key = h + 7;
    while (*key == ' ') key++;
    if (!auth_key_prefix(key, prefix)) return unauthorized(rq, "the API key is malformed");
    const char *params[] = {prefix};
    PGresult *r = db_exec(rq, &st_lookup, 1, params);
    if (!r) {
        db_reply_failure(rq);
        return -1;
    }
    sha256_hex(key, strlen(key), hash);
    bool found = !PQgetisnull(r, 0, 0);
    bool match = found && PQgetlength(r, 0, 4) == 64 &&
                 CRYPTO_memcmp(hash, PQgetvalue(r, 0, 4), 64) == 0;
    if (!match) {
        PQclear(r);
        if (found) {
            /* Right prefix, wrong secret: undo the tenant setting made by the lookup. */
            const char *none[] = {"zzzzzzzzzzzzzzz"};
            PQclear(db_exec(rq, &st_lookup, 1, none));
        }
        return unauthorized(rq, "the API key is unknown or revoked");
    }
    rq->auth.ok = true;
    snprintf(rq->auth.key_id, sizeof rq->auth.key_id, "%s", PQgetvalue(r, 0, 0));
    snprintf(rq->auth.tenant_id, sizeof rq->auth.tenant_id, "%s", PQgetvalue(r, 0, 1));
    rq->auth.role = auth_role_parse(PQgetvalue(r, 0, 2));
    snprintf(rq->auth.partner_id, sizeof rq->auth.partner_id, "%s", PQgetvalue(r, 0, 3));
    PQclear(r);
    return 0;
}
