/* The SSRF guard: the addresses and hosts a webhook must never reach. Pure (no DNS, no I/O). */
#include "api/webhooks/guard.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool v4_private(uint32_t a) {
    static const struct {
        uint32_t net;
        int bits;
    } refused[] = {
        {0x00000000, 8},  /* 0/8 "this network" */
        {0x0A000000, 8},  /* 10/8 private */
        {0x64400000, 10}, /* 100.64/10 CGNAT */
        {0x7F000000, 8},  /* 127/8 loopback */
        {0xA9FE0000, 16}, /* 169.254/16 link-local, cloud metadata */
        {0xAC100000, 12}, /* 172.16/12 private */
        {0xC0000000, 24}, /* 192.0.0/24 IETF protocol assignments */
        {0xC0000200, 24}, /* 192.0.2/24 documentation */
        {0xC0586300, 24}, /* 192.88.99/24 6to4 relay anycast */
        {0xC0A80000, 16}, /* 192.168/16 private */
        {0xC6120000, 15}, /* 198.18/15 benchmarking */
        {0xC6336400, 24}, /* 198.51.100/24 documentation */
        {0xCB007100, 24}, /* 203.0.113/24 documentation */
        {0xE0000000, 3},  /* 224/4 multicast, 240/4 reserved, 255.255.255.255 */
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if ((a >> (32 - refused[i].bits)) == (refused[i].net >> (32 - refused[i].bits))) return true;
    return false;
}

/* True if the first `bits` bits of `b` equal those of `prefix`. */
static bool v6_in(const unsigned char *b, const unsigned char *prefix, int bits) {
    int whole = bits / 8, rest = bits % 8;
    if (memcmp(b, prefix, (size_t)whole) != 0) return false;
    return rest == 0 || ((b[whole] ^ prefix[whole]) & (0xFF << (8 - rest)) & 0xFF) == 0;
}

bool addr_is_private(const struct sockaddr *sa) {
    if (sa->sa_family == AF_INET)
        return v4_private(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
    if (sa->sa_family != AF_INET6) return true;
    const unsigned char *b = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
    static const unsigned char mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (v6_in(b, mapped, 96)) /* ::ffff:a.b.c.d reaches a.b.c.d */
        return v4_private((uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15]);
    static const unsigned char global[16] = {0x20};
    if (!v6_in(b, global, 3)) return true; /* everything outside 2000::/3 is special-purpose */
    static const struct {
        unsigned char p[16];
        int bits;
    } refused[] = {
        {{0x20, 0x01}, 23},             /* 2001::/23: Teredo, benchmarking, ORCHID, ... */
        {{0x20, 0x01, 0x0d, 0xb8}, 32}, /* documentation */
        {{0x20, 0x02}, 16},             /* 6to4: embeds an IPv4 address */
        {{0x3f, 0xff}, 20},             /* documentation (RFC 9637) */
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if (v6_in(b, refused[i].p, refused[i].bits)) return true;
    return false;
}

static const char *const LITERAL = "is a private, loopback, link-local or reserved address";

const char *webhook_host_refusal(const char *host) {
    char h[256];
    size_t n = strlen(host);
    if (n == 0 || n >= sizeof h) return "has no usable host";
    if (host[0] == '[') { /* IPv6 literal, maybe with a zone: [fe80::1%25eth0] */
        snprintf(h, sizeof h, "%s", host + 1);
        h[strcspn(h, "]%")] = '\0';
        struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
        if (inet_pton(AF_INET6, h, &a6.sin6_addr) != 1) return "is not a URL";
        return addr_is_private((struct sockaddr *)&a6) ? LITERAL : NULL;
    }
    struct sockaddr_in a4 = {.sin_family = AF_INET};
    if (inet_aton(host, &a4.sin_addr)) /* also "127.1", "0x7f.1", "2130706433" */
        return addr_is_private((struct sockaddr *)&a4) ? LITERAL : NULL;
    for (size_t i = 0; i <= n; i++) h[i] = (char)tolower((unsigned char)host[i]);
    if (n > 0 && h[n - 1] == '.') h[--n] = '\0'; /* "localhost." is localhost */
    if (!strcmp(h, "localhost") || (n > 10 && !strcmp(h + n - 10, ".localhost")))
        return "names a loopback host (localhost)";
    return NULL;
}
