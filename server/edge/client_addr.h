/* The client's address: the peer's, or — when the peer is a trusted reverse proxy
 * (ALLIED_TRUSTED_PROXIES) — the address the proxy puts in X-Forwarded-For. Per-address limits,
 * the access log and the audit log all ask here, so behind a proxy they see clients, not it. */
#ifndef ALLIED_CLIENT_ADDR_H
#define ALLIED_CLIENT_ADDR_H
#include "server/edge/request.h"
#include <stdbool.h>
#include <sys/socket.h>

#define CLIENT_ADDR_MAX 64

/* Parses a comma-separated list of addresses and CIDR blocks ("127.0.0.1, 10.0.0.0/8, ::1").
 * 0, or -1 with the offending entry in `bad` (cap bytes). An empty list trusts nobody. */
int client_addr_trust(const char *list, char *bad, size_t cap);

/* True if `sa` is one of the trusted proxies. */
bool client_addr_trusted(const struct sockaddr *sa);

/* The client's address as text into `out` (CLIENT_ADDR_MAX bytes), and as a socket address into
 * `ss` (for per-address keys). The rightmost X-Forwarded-For entry that is not itself a trusted
 * proxy, when the peer is trusted; otherwise the peer. "" / AF_UNSPEC if unknown. */
void client_addr(struct request *rq, char *out, struct sockaddr_storage *ss);
#endif
