/* Small pure helpers: ids, encodings, hashing, date/time syntax. No I/O. */
#ifndef ALLIED_UTIL_H
#define ALLIED_UTIL_H
#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Writes a new random UUID (36 chars + NUL) into `out`. */
void uuid_new(char out[37]);
/* True if `s` is a canonical UUID (hex digits, dashes at 8-13-18-23, any case). */
bool uuid_valid(const char *s);
/* Writes the lowercase hex SHA-256 of `data` (64 chars + NUL). */
void sha256_hex(const void *data, size_t len, char out[65]);
/* base64url without padding; `out` needs 4*ceil(len/3)+1 bytes. Returns length written. */
size_t b64url_encode(const unsigned char *in, size_t len, char *out);
/* Decodes base64url without padding into `out` (cap bytes). Returns length, or -1 if invalid. */
long b64url_decode(const char *in, unsigned char *out, size_t cap);
/* True if `s` is a date YYYY-MM-DD that exists on the calendar. */
bool date_valid(const char *s);
/* True if `s` is an RFC 3339 timestamp with an explicit offset or Z. */
bool timestamp_valid(const char *s);
/* True if `s` is sane as a client-supplied request id: 1..128 of [A-Za-z0-9._:-]. */
bool request_id_sane(const char *s);
/* True if every byte is printable ASCII and length is 1..max. */
bool printable_ascii(const char *s, size_t max);
/* Fills `buf` with `n` cryptographically secure random bytes; aborts if the RNG fails. */
void random_bytes(unsigned char *buf, size_t n);
/* A new, already unlinked temporary file open for reading and writing (in $TMPDIR, else /tmp):
 * it vanishes when its last descriptor closes. Returns the descriptor (caller closes), or -1. */
int temp_file_fd(void);
/* CLOCK_REALTIME `ms` milliseconds from now: the deadline for a pthread_cond_timedwait. */
struct timespec realtime_after_ms(long ms);
/* FNV-1a over the bytes of `s`, continuing from `h` (start with FNV_OFFSET): a cheap hash for
 * in-memory tables, never for anything an attacker must not predict unless seeded. */
#define FNV_OFFSET 1469598103934665603ull
uint64_t fnv1a(uint64_t h, const char *s);
#endif
