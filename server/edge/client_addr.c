/* client_addr: who is asking, through at most a chain of trusted proxies (client_addr.h). */
#include "server/edge/client_addr.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TRUSTED 32

struct block {
    int family;
    unsigned char net[16];
    int bits;
};
static struct block trusted[MAX_TRUSTED];
static int ntrusted; /* set once at start, read-only afterwards */

/* Parses "addr" or "addr/bits" into `b`. */
static bool block_parse(const char *text, struct block *b) {
    char addr[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(text, '/');
    size_t len = slash ? (size_t)(slash - text) : strlen(text);
    if (len == 0 || len >= sizeof addr) return false;
    memcpy(addr, text, len);
    addr[len] = '\0';
    b->family = strchr(addr, ':') ? AF_INET6 : AF_INET;
    int max = b->family == AF_INET6 ? 128 : 32;
    if (inet_pton(b->family, addr, b->net) != 1) return false;
    b->bits = max;
    if (slash) {
        char *end;
        long bits = strtol(slash + 1, &end, 10);
        if (slash[1] == '\0' || *end || bits < 0 || bits > max) return false;
        b->bits = (int)bits;
    }
    return true;
}

int client_addr_trust(const char *list, char *bad, size_t cap) {
    ntrusted = 0;
    char *copy = strdup(list ? list : ""), *save = NULL;
    if (!copy) abort();
    for (char *tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        if (ntrusted == MAX_TRUSTED || !block_parse(tok, &trusted[ntrusted])) {
            snprintf(bad, cap, "%s", tok);
            free(copy);
            ntrusted = 0;
            return -1;
        }
        ntrusted++;
    }
    free(copy);
    return 0;
}

/* The raw address bytes of `sa` (IPv4-mapped IPv6 as IPv4); family AF_UNSPEC if none. */
static int addr_bytes(const struct sockaddr *sa, unsigned char out[16]) {
    if (sa && sa->sa_family == AF_INET) {
        memcpy(out, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        return AF_INET;
    }
    if (sa && sa->sa_family == AF_INET6) {
        const unsigned char *b = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(b, mapped, 12) == 0) {
            memcpy(out, b + 12, 4);
            return AF_INET;
        }
        memcpy(out, b, 16);
        return AF_INET6;
    }
    return AF_UNSPEC;
}

static bool in_block(const struct block *b, int family, const unsigned char *a) {
    if (b->family != family) return false;
    int full = b->bits / 8, rest = b->bits % 8;
    if (memcmp(a, b->net, (size_t)full) != 0) return false;
    return rest == 0 || ((a[full] ^ b->net[full]) & (0xff << (8 - rest))) == 0;
}

bool client_addr_trusted(const struct sockaddr *sa) {
    unsigned char a[16];
    int family = addr_bytes(sa, a);
    for (int i = 0; i < ntrusted; i++)
        if (in_block(&trusted[i], family, a)) return true;
    return false;
}

/* Parses one X-Forwarded-For entry (surrounding spaces allowed) into `ss`. */
static bool entry_parse(const char *s, size_t len, struct sockaddr_storage *ss) {
    char text[INET6_ADDRSTRLEN + 1];
    while (len && *s == ' ') s++, len--;
    while (len && s[len - 1] == ' ') len--;
    if (len == 0 || len >= sizeof text) return false;
    memcpy(text, s, len);
    text[len] = '\0';
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        return true;
    }
    return false;
}

/* Walks X-Forwarded-For from the right past trusted proxies into `ss`; false if it names none. */
static bool forwarded(const char *xff, struct sockaddr_storage *ss) {
    size_t end = strlen(xff);
    while (end > 0) {
        size_t start = end;
        while (start > 0 && xff[start - 1] != ',') start--;
        if (!entry_parse(xff + start, end - start, ss)) return false; /* garbled: ignore it all */
        if (!client_addr_trusted((const struct sockaddr *)ss)) return true;
        end = start ? start - 1 : 0;
    }
    return false;
}

void client_addr(struct request *rq, char *out, struct sockaddr_storage *ss) {
    const union MHD_ConnectionInfo *ci =
        rq->conn ? MHD_get_connection_info(rq->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS) : NULL;
    const struct sockaddr *peer = ci ? ci->client_addr : NULL;
    memset(ss, 0, sizeof *ss);
    if (peer && peer->sa_family == AF_INET) memcpy(ss, peer, sizeof(struct sockaddr_in));
    if (peer && peer->sa_family == AF_INET6) memcpy(ss, peer, sizeof(struct sockaddr_in6));
    const char *xff = ntrusted && client_addr_trusted(peer) ? req_header(rq, "X-Forwarded-For") : NULL;
    struct sockaddr_storage fwd;
    if (xff && forwarded(xff, &fwd)) *ss = fwd;
    out[0] = '\0';
    if (ss->ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)ss)->sin_addr, out, CLIENT_ADDR_MAX);
    else if (ss->ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ss)->sin6_addr, out, CLIENT_ADDR_MAX);
}
