/* Standard Webhooks (https://www.standardwebhooks.com) secrets and signatures. */
#include "api/webhooks/signing.h"
#include "server/util.h"
#include <arpa/inet.h>
#include <ctype.h>
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
