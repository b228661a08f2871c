/* Unsubscribe tokens: which contact of which tenant no longer wants which kind, signed with the
 * instance-wide key server_secrets 'unsubscribe' (migrations/0022), so a link in a message works
 * without an API key, is not stored anywhere, and cannot be forged or moved to another contact,
 * tenant or kind. Kind "*" means every kind (the digest's link). The token is base64url of
 * tenant (16 bytes) | contact (16 bytes) | kind | the first 16 bytes of HMAC-SHA256 over those. */
#ifndef ALLIED_NOTIFY_TOKEN_H
#define ALLIED_NOTIFY_TOKEN_H
#include <stdbool.h>
#include <stddef.h>

#define NOTIFY_KIND_MAX 64
#define NOTIFY_TOKEN_MAX 160 /* characters, with the NUL */

/* The statement that reads the key (hex); its answer goes to notify_key_from_hex. */
#define NOTIFY_KEY_SQL "SELECT encode(secret, 'hex') FROM server_secrets WHERE name = 'unsubscribe'"

/* Takes the key (hex, 64..128 digits) for the whole process; 0, or -1 if it is not usable. */
int notify_key_from_hex(const char *hex);
bool notify_key_ready(void);

/* The token for (tenant, contact, kind) into out[NOTIFY_TOKEN_MAX]; 0, or -1 (no key yet, a bad
 * UUID, a kind too long). */
int notify_token_make(const char *tenant, const char *contact, const char *kind, char *out);

/* Checks `token` and gives back what it names; 0, or -1 when it is not a token this key made. */
int notify_token_read(const char *token, char tenant[37], char contact[37], char kind[NOTIFY_KIND_MAX + 1]);
#endif
