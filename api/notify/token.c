/* Unsubscribe tokens (token.h). Pure apart from the process-wide key. */
#include "api/notify/token.h"
#include "server/util.h"
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#define TAG_BYTES 16
#define RAW_MAX (32 + NOTIFY_KIND_MAX + TAG_BYTES)

static unsigned char key[64];
static size_t key_len;
static atomic_bool key_ready;
static pthread_mutex_t key_lock = PTHREAD_MUTEX_INITIALIZER;

int notify_key_from_hex(const char *hex) {
    size_t n = hex ? strlen(hex) : 0;
    if (n < 64 || n > 128 || n % 2) return -1;
    unsigned char k[64];
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) return -1;
        k[i] = (unsigned char)v;
    }
    pthread_mutex_lock(&key_lock);
    if (!atomic_load(&key_ready)) {
        memcpy(key, k, n / 2);
        key_len = n / 2;
        atomic_store(&key_ready, true);
    }
    pthread_mutex_unlock(&key_lock);
    return 0;
}

bool notify_key_ready(void) {
    return atomic_load(&key_ready);
}

static bool tag(const unsigned char *msg, size_t len, unsigned char out[TAG_BYTES]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    if (!atomic_load(&key_ready) || !HMAC(EVP_sha256(), key, (int)key_len, msg, len, md, &mdlen)) return false;
    memcpy(out, md, TAG_BYTES);
    return true;
}

static bool kind_ok(const char *kind, size_t n) {
    if (n == 0 || n > NOTIFY_KIND_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if (!((kind[i] >= 'a' && kind[i] <= 'z') || kind[i] == '_' || kind[i] == '.' || kind[i] == '*'))
            return false;
    return true;
}

int notify_token_make(const char *tenant, const char *contact, const char *kind, char *out) {
    unsigned char raw[RAW_MAX];
    size_t klen = strlen(kind);
    if (!kind_ok(kind, klen) || uuid_parse(tenant, raw) != 0 || uuid_parse(contact, raw + 16) != 0) return -1;
    memcpy(raw + 32, kind, klen);
    if (!tag(raw, 32 + klen, raw + 32 + klen)) return -1;
    b64url_encode(raw, 32 + klen + TAG_BYTES, out); /* at most 4/3 of RAW_MAX: fits */
    return 0;
}

int notify_token_read(const char *token, char tenant[37], char contact[37], char kind[NOTIFY_KIND_MAX + 1]) {
    unsigned char raw[RAW_MAX + 4], want[TAG_BYTES];
    if (!token || strlen(token) >= NOTIFY_TOKEN_MAX) return -1;
    long n = b64url_decode(token, raw, sizeof raw);
    if (n < 32 + 1 + TAG_BYTES || n > RAW_MAX) return -1;
    size_t klen = (size_t)n - 32 - TAG_BYTES;
    if (!kind_ok((const char *)raw + 32, klen) || !tag(raw, 32 + klen, want) ||
        CRYPTO_memcmp(want, raw + 32 + klen, TAG_BYTES) != 0)
        return -1;
    uuid_unparse_lower(raw, tenant);
    uuid_unparse_lower(raw + 16, contact);
    memcpy(kind, raw + 32, klen);
    kind[klen] = '\0';
    return 0;
}
