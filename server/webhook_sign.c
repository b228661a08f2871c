/* Standard Webhooks (https://www.standardwebhooks.com) signatures, and private-address checks. */
#include "server/webhook_sign.h"
#include "server/util.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void webhook_secret_new(char *out, size_t cap) {
    unsigned char key[32];
    char b64[64];
    random_bytes(key, sizeof key);
    EVP_EncodeBlock((unsigned char *)b64, key, sizeof key);
    snprintf(out, cap, "whsec_%s", b64);
}

bool webhook_sign(const char *secret, const char *id, const char *timestamp, const char *body,
                  char *out, size_t cap) {
    if (strncmp(secret, "whsec_", 6) != 0) return false;
    const char *b64 = secret + 6;
    size_t n = strlen(b64);
    if (n == 0 || n % 4 != 0 || n > 128) return false;
    unsigned char key[100];
    int klen = EVP_DecodeBlock(key, (const unsigned char *)b64, (int)n);
    if (klen < 0) return false;
    while (n > 0 && b64[n - 1] == '=') { /* EVP_DecodeBlock counts padding as zero bytes */
        klen--;
        n--;
    }
    size_t ilen = strlen(id), tlen = strlen(timestamp), blen = strlen(body);
    size_t mlen = ilen + tlen + blen + 2;
    char *msg = malloc(mlen);
    if (!msg) abort();
    memcpy(msg, id, ilen);
    msg[ilen] = '.';
    memcpy(msg + ilen + 1, timestamp, tlen);
    msg[ilen + 1 + tlen] = '.';
    memcpy(msg + ilen + tlen + 2, body, blen);
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t maclen = 0;
    bool ok = EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, (size_t)klen, (unsigned char *)msg, mlen,
                        mac, sizeof mac, &maclen) != NULL;
    free(msg);
    if (!ok || cap < 4 + 4 * ((maclen + 2) / 3) + 1) return false;
    memcpy(out, "v1,", 3);
    EVP_EncodeBlock((unsigned char *)out + 3, mac, (int)maclen);
    return true;
}

static bool v4_private(uint32_t a) {
    return (a >> 24) == 0 || (a >> 24) == 10 || (a >> 24) == 127 || (a >> 16) == 0xA9FE /* 169.254/16 */ ||
           (a >> 20) == 0xAC1 /* 172.16/12 */ || (a >> 16) == 0xC0A8 /* 192.168/16 */ ||
           (a >> 22) == (100u << 2 | 1) /* 100.64/10 */ || (a >> 8) == 0xC00000 /* 192.0.0/24 */ ||
           (a >> 28) >= 0xE /* multicast and reserved */ || (a >> 17) == (198u << 7 | 9) /* 198.18/15 */;
}

bool addr_is_private(const struct sockaddr *sa) {
    if (sa->sa_family == AF_INET)
        return v4_private(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
    if (sa->sa_family != AF_INET6) return true;
    const unsigned char *b = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
    static const unsigned char zero[16] = {0};
    if (memcmp(b, zero, 15) == 0 && (b[15] == 0 || b[15] == 1)) return true; /* :: and ::1 */
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(b, mapped, 12) == 0)
        return v4_private((uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15]);
    if ((b[0] & 0xfe) == 0xfc) return true;                  /* fc00::/7 unique local */
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return true;  /* fe80::/10 link-local */
    if (b[0] == 0xff) return true;                           /* multicast */
    return false;
}
