/* Verified API keys kept in the process, so a request with a known key needs no lookup round trip.
 *
 * Entries are keyed by the SHA-256 of the whole key (only the right secret can hit), bounded
 * (ALLIED_KEY_CACHE_SIZE slots, a colliding key replaces the older entry) and live at most
 * ALLIED_KEY_CACHE_TTL_MS. A change to a key (revoke, delete) is announced by a trigger with
 * NOTIFY allied_key_changes; every instance listens and forgets the key at once. While the
 * listening connection is down the cache is off (every request looks its key up), so a missed
 * notification can never keep a revoked key alive. An entry also ends when the key's identity
 * does (auth.valid_until_ms: its expiry, or the end of a rotated secret's overlap). */
#ifndef ALLIED_AUTH_CACHE_H
#define ALLIED_AUTH_CACHE_H
#include "server/edge/request.h"
#include <stdbool.h>

/* Starts the listener thread (when the cache is enabled). 0, or -1 if the thread cannot start. */
int auth_cache_start(void);
void auth_cache_stop(void);

/* Fills `out` from the entry for `hash` (64 hex chars); false on a miss or when the cache is off. */
bool auth_cache_get(const char *hash, struct auth *out);
/* Remembers a key verified by the database during the current listener generation `gen`
 * (read with auth_cache_generation() BEFORE the lookup, so a change announced meanwhile wins). */
void auth_cache_put(const char *hash, const struct auth *a, unsigned long gen);
unsigned long auth_cache_generation(void);
/* True (once a minute per cached key) when the request with this cached key should mark the key
 * used; the caller then sends allied_key_touch with its first statement. */
bool auth_cache_touch_due(const char *hash);
/* Forgets one key (by id) at once, e.g. on the instance that revoked it. */
void auth_cache_forget(const char *key_id);
/* Forgets every key of one tenant at once (its status or limits changed here). */
void auth_cache_forget_tenant(const char *tenant_id);
#endif
