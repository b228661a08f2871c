/* Standard Webhooks secrets and signatures. Pure. */
#ifndef ALLIED_WEBHOOK_SIGN_H
#define ALLIED_WEBHOOK_SIGN_H
#include <stdbool.h>
#include <stddef.h>

/* A new secret "whsec_<base64 of 32 random bytes>" into `out` (>= 64 bytes). */
void webhook_secret_new(char *out, size_t cap);
/* "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>" into `out` (>= 64 bytes), where key is the
 * base64-decoded part of `secret` after "whsec_". False if the secret is malformed. */
bool webhook_sign(const char *secret, const char *id, const char *timestamp, const char *body,
                  char *out, size_t cap);
#endif
