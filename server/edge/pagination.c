/* Keyset pagination: cursors encode the last row's (created_at, id), never an offset, and are
 * signed so that a client cannot move a page by editing one. */
#include "server/edge/pagination.h"
#include "server/data/db.h"
#include "server/edge/json_in.h"
#include "server/log.h"
#include "server/edge/reply.h"
#include "server/util.h"
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The signing key: loaded once per process (or set by tests), then only read. */
static pthread_mutex_t key_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char cursor_key[64];
static size_t cursor_key_len;
static atomic_bool cursor_key_ready;
static atomic_uint cursor_key_gen; /* bumped by every page_cursor_set_key */

/* One keyed HMAC context per thread, re-initialised per tag without re-keying: the one-shot HMAC()
 * fetched the algorithm and built a context every time, about 7 % of a list page's server CPU. */
struct thread_mac {
    EVP_MAC_CTX *ctx;
    unsigned gen; /* cursor_key_gen the context was keyed with */
};
static EVP_MAC *hmac_alg;
static pthread_key_t mac_key;
static pthread_once_t mac_once = PTHREAD_ONCE_INIT;

static void thread_mac_free(void *p) {
    struct thread_mac *t = p;
    EVP_MAC_CTX_free(t->ctx);
    free(t);
}

static void mac_init_once(void) {
    hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!hmac_alg || pthread_key_create(&mac_key, thread_mac_free) != 0) abort();
}

/* This thread's HMAC-SHA256 context, ready for a new tag under the current key; NULL on failure. */
static EVP_MAC_CTX *thread_mac(void) {
    pthread_once(&mac_once, mac_init_once);
    struct thread_mac *t = pthread_getspecific(mac_key);
    if (!t) {
        t = calloc(1, sizeof *t);
        if (!t) abort();
        if (!(t->ctx = EVP_MAC_CTX_new(hmac_alg))) abort();
        pthread_setspecific(mac_key, t);
    }
    unsigned gen = atomic_load(&cursor_key_gen);
    if (t->gen == gen) return EVP_MAC_init(t->ctx, NULL, 0, NULL) ? t->ctx : NULL; /* same key */
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_construct_end()};
    if (!EVP_MAC_init(t->ctx, cursor_key, cursor_key_len, params)) return NULL;
    t->gen = gen;
    return t->ctx;
}

void page_cursor_set_key(const unsigned char *key, size_t len) {
    if (len > sizeof cursor_key) len = sizeof cursor_key;
    pthread_mutex_lock(&key_lock);
    memcpy(cursor_key, key, len);
    cursor_key_len = len;
    atomic_fetch_add(&cursor_key_gen, 1);
    atomic_store(&cursor_key_ready, true);
    pthread_mutex_unlock(&key_lock);
}

DB_STMT(st_cursor_key, "SELECT encode(secret, 'hex') FROM server_secrets WHERE name = 'cursor'");

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

int page_cursor_key_or_reply(struct request *rq) {
    if (atomic_load(&cursor_key_ready)) return 0;
    PGresult *r = db_exec(rq, &st_cursor_key, 0, NULL);
    if (!r) {
        db_reply_failure(rq);
        return -1;
    }
    const char *hex = PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "";
    size_t n = strlen(hex) / 2;
    unsigned char key[64];
    if (n < 32 || n > sizeof key) {
        PQclear(r);
        LOG_BUG_RQ(rq, "no usable cursor key in server_secrets (run `allied migrate`)");
        reply_problem(rq, P_INTERNAL, NULL);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) n = 0; /* not hex: refused below */
        if (n) key[i] = (unsigned char)(hi * 16 + lo);
    }
    PQclear(r);
    if (n == 0) {
        LOG_BUG_RQ(rq, "the cursor key in server_secrets is not hex");
        reply_problem(rq, P_INTERNAL, NULL);
        return -1;
    }
    pthread_mutex_lock(&key_lock);
    if (!atomic_load(&cursor_key_ready)) {
        memcpy(cursor_key, key, n);
        cursor_key_len = n;
        atomic_fetch_add(&cursor_key_gen, 1);
        atomic_store(&cursor_key_ready, true);
    }
    pthread_mutex_unlock(&key_lock);
    return 0;
}

void page_cursor_scope(struct request *rq, char *out, size_t cap) {
    snprintf(out, cap, "%s %s", rq->auth.tenant_id, rq->url ? rq->url : "");
}

/* tag = HMAC-SHA256(key, scope NUL payload), truncated. The NUL cannot occur in either part,
 * so no two (scope, payload) pairs share an input. */
static bool cursor_tag(const char *scope, const unsigned char *payload, size_t plen,
                       unsigned char tag[PAGE_TAG_BYTES]) {
    if (!atomic_load(&cursor_key_ready)) return false;
    EVP_MAC_CTX *ctx = thread_mac();
    unsigned char md[EVP_MAX_MD_SIZE];
    size_t mdlen = 0;
    bool ok = ctx && EVP_MAC_update(ctx, (const unsigned char *)scope, strlen(scope) + 1) &&
              EVP_MAC_update(ctx, payload, plen) && EVP_MAC_final(ctx, md, &mdlen, sizeof md);
    if (!ok || mdlen < PAGE_TAG_BYTES) return false;
    memcpy(tag, md, PAGE_TAG_BYTES);
    return true;
}

int page_params_or_reply(struct request *rq, struct page *p) {
    const char *l = req_query(rq, "limit");
    const char *c = req_query(rq, "cursor");
    p->limit = PAGE_DEFAULT;
    if (l) {
        char *end;
        long v = strtol(l, &end, 10);
        if (*l < '0' || *l > '9' || *end != '\0' || v < 1 || v > PAGE_MAX) {
            reply_field_error(rq, "limit", "must be an integer from 1 to 200");
            return JIN_REPLIED;
        }
        p->limit = (int)v;
    }
    snprintf(p->limit_plus_one, sizeof p->limit_plus_one, "%d", p->limit + 1);
    p->has_cursor = false;
    /* The key signs the next_cursor of this page too, so it is needed even without a cursor. */
    if (page_cursor_key_or_reply(rq) != 0) return JIN_REPLIED;
    if (c) {
        char scope[PAGE_SCOPE_MAX];
        page_cursor_scope(rq, scope, sizeof scope);
        if (page_cursor_decode(scope, c, p->after_ts, p->after_id) != 0) {
            reply_field_error(rq, "cursor",
                              "is not a cursor this list returned (cursors are opaque)");
            return JIN_REPLIED;
        }
        p->has_cursor = true;
    }
    return JIN_OK;
}

int page_cursor_encode(const char *scope, const char *ts, const char *id, char *out) {
    unsigned char raw[PAGE_TAG_BYTES + 80];
    out[0] = '\0';
    size_t tl = strlen(ts), il = strlen(id);
    if (tl >= 40 || il >= 37) return -1;
    unsigned char *payload = raw + PAGE_TAG_BYTES;
    memcpy(payload, ts, tl);
    payload[tl] = '|';
    memcpy(payload + tl + 1, id, il);
    size_t plen = tl + 1 + il;
    if (!cursor_tag(scope, payload, plen, raw)) return -1;
    b64url_encode(raw, PAGE_TAG_BYTES + plen, out);
    return 0;
}

int page_cursor_decode(const char *scope, const char *cursor, char ts[40], char id[37]) {
    unsigned char raw[PAGE_TAG_BYTES + 80], tag[PAGE_TAG_BYTES];
    if (strlen(cursor) >= PAGE_CURSOR_MAX) return -1;
    long n = b64url_decode(cursor, raw, sizeof raw - 1);
    if (n <= PAGE_TAG_BYTES) return -1;
    unsigned char *payload = raw + PAGE_TAG_BYTES;
    size_t plen = (size_t)n - PAGE_TAG_BYTES;
    if (!cursor_tag(scope, payload, plen, tag) || CRYPTO_memcmp(tag, raw, PAGE_TAG_BYTES) != 0)
        return -1;
    /* Signed by us, so well-formed; checked again all the same (defence in depth). */
    payload[plen] = '\0';
    if (memchr(payload, '\0', plen)) return -1;
    char *bar = strchr((char *)payload, '|');
    if (!bar || bar - (char *)payload >= 40) return -1;
    *bar = '\0';
    if (!timestamp_valid((char *)payload) || !uuid_valid(bar + 1)) return -1;
    strcpy(ts, (char *)payload);
    strcpy(id, bar + 1);
    return 0;
}

int page_ts_from_pg(const char *pg, char out[40]) {
    out[0] = '\0';
    /* "YYYY-MM-DD HH:MM:SS", then an optional fraction of 1 to 6 digits, then "+00". */
    static const char shape[] = "dddd-dd-dd dd:dd:dd";
    for (int i = 0; shape[i]; i++)
        if (shape[i] == 'd' ? pg[i] < '0' || pg[i] > '9' : pg[i] != shape[i]) return -1;
    const char *f = pg + 19;
    int digits = 0;
    if (*f == '.')
        while (f[1 + digits] >= '0' && f[1 + digits] <= '9') digits++;
    if (*f == '.' && (digits < 1 || digits > 6)) return -1;
    if (strcmp(f + (digits ? digits + 1 : 0), "+00") != 0) return -1;
    memcpy(out, pg, 19);
    out[10] = 'T';
    out[19] = '.';
    for (int i = 0; i < 6; i++) out[20 + i] = i < digits ? f[1 + i] : '0';
    memcpy(out + 26, "Z", 2);
    return 0;
}

void reply_page(struct request *rq, PGresult *res, const struct page *p) {
    int rows = PQntuples(res);
    int shown = rows > p->limit ? p->limit : rows;
    size_t cap = 64;
    for (int i = 0; i < shown; i++) cap += (size_t)PQgetlength(res, i, 0) + 1;
    char *buf = malloc(cap + 160), *w = buf;
    if (!buf) abort();
    w += sprintf(w, "{\"data\":[");
    for (int i = 0; i < shown; i++) {
        if (i) *w++ = ',';
        size_t len = (size_t)PQgetlength(res, i, 0);
        memcpy(w, PQgetvalue(res, i, 0), len);
        w += len;
    }
    if (rows > p->limit) {
        char cur[PAGE_CURSOR_MAX], scope[PAGE_SCOPE_MAX], ts[40];
        page_cursor_scope(rq, scope, sizeof scope);
        if (page_ts_from_pg(PQgetvalue(res, shown - 1, 1), ts) != 0 ||
            page_cursor_encode(scope, ts, PQgetvalue(res, shown - 1, 2), cur) != 0) {
            free(buf);
            LOG_BUG_RQ(rq, "cannot sign a cursor");
            reply_problem(rq, P_INTERNAL, NULL);
            return;
        }
        w += sprintf(w, "],\"next_cursor\":\"%s\"}", cur);
    } else {
        w += sprintf(w, "],\"next_cursor\":null}");
    }
    reply_json_text(rq, 200, buf, (size_t)(w - buf));
    free(buf);
}

void reply_list(struct request *rq, PGresult *res) {
    size_t cap = 32;
    for (int i = 0; i < PQntuples(res); i++) cap += (size_t)PQgetlength(res, i, 0) + 1;
    char *buf = malloc(cap), *w = buf;
    if (!buf) abort();
    w += sprintf(w, "{\"data\":[");
    for (int i = 0; i < PQntuples(res); i++) {
        if (i) *w++ = ',';
        memcpy(w, PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0));
        w += PQgetlength(res, i, 0);
    }
    w += sprintf(w, "]}");
    reply_json_text(rq, 200, buf, (size_t)(w - buf));
    free(buf);
}
