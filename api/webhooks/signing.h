/* Standard Webhooks signing and the address checks that keep webhooks off private networks. Pure. */
#ifndef ALLIED_WEBHOOK_SIGN_H
#define ALLIED_WEBHOOK_SIGN_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* A new secret "whsec_<base64 of 32 random bytes>" into `out` (>= 64 bytes). */
void webhook_secret_new(char *out, size_t cap);
/* "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>" into `out` (>= 64 bytes), where key is the
 * base64-decoded part of `secret` after "whsec_". False if the secret is malformed. */
bool webhook_sign(const char *secret, const char *id, const char *timestamp, const char *body,
                  char *out, size_t cap);
/* True for every address a webhook must not reach: IPv4 loopback, private, link-local (incl.
 * 169.254.169.254 metadata), CGNAT, 0/8, 192.0.0/24, documentation, benchmarking, 6to4 relay,
 * multicast and reserved; IPv6 outside global unicast 2000::/3 (so ::, ::1, IPv4-compatible
 * ::a.b.c.d, NAT64 64:ff9b::/96 and 64:ff9b:1::/48, discard 100::/64, ULA fc00::/7, link-local
 * fe80::/10, site-local fec0::/10, multicast), and inside it 2001::/23 (Teredo, benchmarking,
 * ORCHID), 2001:db8::/32 and 3fff::/20 (documentation) and 6to4 2002::/16 (all of which embed or
 * stand for other addresses). IPv4-mapped ::ffff:a.b.c.d is judged by its IPv4 address. Any other
 * family is refused. Pure. */
bool addr_is_private(const struct sockaddr *sa);
/* Why a URL host (as libcurl's URL parser returns it: IPv6 literals in brackets) must be refused
 * without looking it up: a private/reserved address literal (any IPv4 form inet_aton accepts,
 * e.g. "127.1") or a localhost name (RFC 6761). NULL when only its resolution can tell. Pure:
 * no DNS. */
const char *webhook_host_refusal(const char *host);
#endif
