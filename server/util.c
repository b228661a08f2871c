/* Small pure helpers: ids, encodings, hashing, date/time syntax. */
#include "server/util.h"
#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

/* A version-4 UUID from OpenSSL's generator: libuuid's uuid_generate_random re-seeds (five
 * system calls and ~6k instructions) on every call, once per request for its id. */
/* Drawn 32 at a time: one RAND_bytes call costs about 6,000 instructions whatever its size (its
 * locking and dispatch), once per request for its id. The pool is per thread (nothing here forks). */
#define UUID_POOL 32
void uuid_new(char out[37]) {
    static _Thread_local unsigned char pool[UUID_POOL * 16];
    static _Thread_local int left;
    if (left == 0) {
        random_bytes(pool, sizeof pool);
        left = UUID_POOL;
    }
    uuid_t u;
    left--;
    memcpy(u, pool + (size_t)left * 16, 16);
    memset(pool + (size_t)left * 16, 0, 16); /* used once */
    u[6] = (unsigned char)((u[6] & 0x0F) | 0x40); /* version 4 */
    u[8] = (unsigned char)((u[8] & 0x3F) | 0x80); /* RFC 4122 variant */
    uuid_unparse_lower(u, out);
}

bool uuid_valid(const char *s) {
    if (strlen(s) != 36) return false;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') return false;
        } else if (!isxdigit((unsigned char)s[i]))
            return false;
    }
    return true;
}

/* SHA-256 fetched once: EVP_sha256() in EVP_Digest is looked up in the provider on every call
 * (a key's hash is taken on every request). */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void) {
    if (!(sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL))) abort();
}

void sha256_hex(const void *data, size_t len, char out[65]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    pthread_once(&sha256_once, sha256_fetch);
    if (!EVP_Digest(data, len, md, &mdlen, sha256_md, NULL)) abort();
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < mdlen; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[2 * mdlen] = '\0';
}

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t b64url_encode(const unsigned char *in, size_t len, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < len) v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < len) v |= in[i + 2];
        out[o++] = B64URL[(v >> 18) & 63];
        out[o++] = B64URL[(v >> 12) & 63];
        if (i + 1 < len) out[o++] = B64URL[(v >> 6) & 63];
        if (i + 2 < len) out[o++] = B64URL[v & 63];
    }
    out[o] = '\0';
    return o;
}

long b64url_decode(const char *in, unsigned char *out, size_t cap) {
    size_t n = strlen(in), o = 0;
    unsigned acc = 0;
    int bits = 0;
    if (n % 4 == 1) return -1;
    for (size_t i = 0; i < n; i++) {
        const char *p = in[i] ? strchr(B64URL, in[i]) : NULL;
        if (!p) return -1;
        acc = (acc << 6) | (unsigned)(p - B64URL);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == cap) return -1;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) return -1; /* non-canonical trailing bits */
    return (long)o;
}

static bool digits(const char *s, int n) {
    for (int i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i])) return false;
    return true;
}

static int num(const char *s, int n) {
    int v = 0;
    for (int i = 0; i < n; i++) v = v * 10 + (s[i] - '0');
    return v;
}

static bool ymd_valid(int y, int m, int d) {
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || m < 1 || m > 12 || d < 1) return false;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= mdays[m - 1] + (m == 2 && leap);
}

bool date_valid(const char *s) {
    return strlen(s) == 10 && digits(s, 4) && s[4] == '-' && digits(s + 5, 2) && s[7] == '-' &&
           digits(s + 8, 2) && ymd_valid(num(s, 4), num(s + 5, 2), num(s + 8, 2));
}

bool timestamp_valid(const char *s) {
    size_t n = strlen(s);
    if (n < 20 || n > 40 || !date_valid((char[11]){s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7],
                                                   s[8], s[9], 0}))
        return false;
    if ((s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2) || s[13] != ':' || !digits(s + 14, 2) ||
        s[16] != ':' || !digits(s + 17, 2))
        return false;
    if (num(s + 11, 2) > 23 || num(s + 14, 2) > 59 || num(s + 17, 2) > 60) return false;
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        const char *f = p;
        while (isdigit((unsigned char)*p)) p++;
        if (p == f || p - f > 9) return false;
    }
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') return true;
    if ((*p == '+' || *p == '-') && strlen(p) == 6 && digits(p + 1, 2) && p[3] == ':' &&
        digits(p + 4, 2))
        return num(p + 1, 2) <= 23 && num(p + 4, 2) <= 59;
    return false;
}

bool request_id_sane(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 128) return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("._:-", s[i])) return false;
    return true;
}

bool printable_ascii(const char *s, size_t max) {
    size_t n = strlen(s);
    if (n == 0 || n > max) return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x21 || s[i] > 0x7e) return false;
    return true;
}

void random_bytes(unsigned char *buf, size_t n) {
    if (RAND_bytes(buf, (int)n) != 1) abort();
}

int temp_file_fd(void) {
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    int fd = -1;
#ifdef O_TMPFILE
    fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0) return fd;
#endif
    char path[512];
    snprintf(path, sizeof path, "%s/allied-XXXXXX", dir);
    fd = mkstemp(path);
    if (fd >= 0) unlink(path);
    return fd;
}

struct timespec realtime_after_ms(long ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

uint64_t fnv1a(uint64_t h, const char *s) {
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}
