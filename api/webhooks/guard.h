/* The SSRF guard: what keeps webhooks off loopback, private and reserved networks. Pure. */
#ifndef ALLIED_WEBHOOK_GUARD_H
#define ALLIED_WEBHOOK_GUARD_H
#include <stdbool.h>
#include <sys/socket.h>

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
