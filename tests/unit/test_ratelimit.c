/* Unit tests for the rate-limit arithmetic: GCRA buckets and the shared minute budget, on an
 * injected clock. */
#include "server/edge/ratelimit.h"
#include "server/edge/client_addr.h"
#include "tests/unit/unit.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#define S 1000000000ull

static void buckets(void) {
    struct rl_limit l;
    uint64_t tat = 0, t0 = 1000 * S, wait = 0;
    rl_limit_init(&l, 50, 1, 100); /* 50/s, burst 100 */
    CHECK(l.interval_ns == S / 50 && l.burst == 100);
    CHECK(rl_remaining(&l, tat, t0) == 100 && rl_reset_ns(tat, t0) == 0);
    /* the whole burst at one instant, then nothing */
    for (int i = 0; i < 100; i++)
        CHECK(rl_take(&l, &tat, t0, &wait));
    CHECK(rl_remaining(&l, tat, t0) == 0);
    CHECK(!rl_would_take(&l, tat, t0, &wait) && wait == S / 50);
    uint64_t before = tat;
    CHECK(!rl_take(&l, &tat, t0, &wait) && tat == before && wait == S / 50);
    CHECK(rl_seconds_up(wait) == 1 && rl_reset_ns(tat, t0) == 2 * S);
    /* one token back after 20 ms, not before */
    CHECK(!rl_take(&l, &tat, t0 + S / 50 - 1, &wait) && wait == 1);
    CHECK(rl_take(&l, &tat, t0 + S / 50, &wait));
    /* after 2 s idle the bucket is full again, and never fuller */
    CHECK(rl_remaining(&l, tat, t0 + 10 * S) == 100 && rl_reset_ns(tat, t0 + 10 * S) == 0);
    /* sustained rate: one request every 20 ms forever is fine */
    tat = 0;
    for (int i = 0; i < 1000; i++)
        CHECK(rl_take(&l, &tat, t0 + (uint64_t)i * (S / 50), &wait));
    CHECK(rl_remaining(&l, tat, t0 + 999 * (S / 50)) == 99);
    /* refund gives the token back, never more than one */
    tat = 0;
    CHECK(rl_take(&l, &tat, t0, &wait));
    rl_refund(&l, &tat, t0);
    CHECK(rl_remaining(&l, tat, t0) == 100);
    rl_refund(&l, &tat, t0);
    CHECK(rl_remaining(&l, tat, t0) == 100);

    /* failures: 20 per minute, counted even past the limit but never beyond empty */
    struct rl_limit f;
    rl_limit_init(&f, 20, 60, 20);
    CHECK(f.interval_ns == 3 * S);
    tat = 0;
    for (int i = 0; i < 19; i++)
        rl_charge(&f, &tat, t0);
    CHECK(rl_would_take(&f, tat, t0, &wait));
    rl_charge(&f, &tat, t0);
    CHECK(!rl_would_take(&f, tat, t0, &wait) && wait == 3 * S);
    for (int i = 0; i < 50; i++)
        rl_charge(&f, &tat, t0);
    CHECK(tat == t0 + 60 * S && rl_remaining(&f, tat, t0) == 0);
    CHECK(!rl_would_take(&f, tat, t0 + 3 * S - 1, &wait) &&
          rl_would_take(&f, tat, t0 + 3 * S, &wait));
    CHECK(rl_remaining(&f, tat, t0 + 60 * S) == 20);

    /* disabled: everything passes, nothing is tracked */
    struct rl_limit off;
    rl_limit_init(&off, 0, 1, 100);
    tat = 0;
    for (int i = 0; i < 10000; i++)
        CHECK(rl_take(&off, &tat, t0, &wait));
    CHECK(tat == 0);
    /* a huge limit does not overflow */
    struct rl_limit big;
    rl_limit_init(&big, 1000000, 1, 1000000);
    tat = 0;
    CHECK(big.interval_ns == 1000 && rl_take(&big, &tat, t0, &wait) &&
          rl_remaining(&big, tat, t0) == 999999);
    CHECK(rl_seconds_up(0) == 1 && rl_seconds_up(S) == 1 && rl_seconds_up(S + 1) == 2);
}

static void budgets(void) {
    struct rl_budget b = {0};
    long retry = 0;
    int64_t t = 1800000000; /* a minute boundary (divisible by 60) */
    CHECK(t % 60 == 0 && rl_budget_reset_s(t) == 60 && rl_budget_reset_s(t + 59) == 1);
    for (int i = 0; i < 10; i++)
        CHECK(rl_budget_take(&b, 10, t + 5, &retry));
    CHECK(rl_budget_used(&b, t + 5) == 10);
    CHECK(!rl_budget_take(&b, 10, t + 5, &retry) && retry == 55 && rl_budget_used(&b, t + 5) == 10);
    /* the next minute starts from zero */
    CHECK(rl_budget_used(&b, t + 60) == 0 && rl_budget_take(&b, 10, t + 60, &retry));
    CHECK(b.window == (t + 60) / 60 && b.pending == 1);

    /* a flush: counts move to flushing, still counted; the database's sum replaces them */
    b = (struct rl_budget){0};
    for (int i = 0; i < 3; i++)
        CHECK(rl_budget_take(&b, 10, t, &retry));
    int64_t w = b.window;
    CHECK(rl_budget_flush_begin(&b) == 3 && b.pending == 0 && rl_budget_used(&b, t) == 3);
    CHECK(rl_budget_take(&b, 10, t, &retry)); /* counted while the flush is on its way */
    rl_budget_flush_end(&b, w, true, 9);      /* 6 came from other instances */
    CHECK(b.shared == 9 && b.flushing == 0 && rl_budget_used(&b, t) == 10);
    CHECK(!rl_budget_take(&b, 10, t + 1, &retry) && retry == 59);
    /* another instance's use alone blocks this one, learnt from a zero-count flush */
    b = (struct rl_budget){0};
    CHECK(rl_budget_take(&b, 10, t, &retry));
    rl_budget_flush_begin(&b);
    rl_budget_flush_end(&b, w, true, 1);
    CHECK(rl_budget_flush_begin(&b) == 0);
    rl_budget_flush_end(&b, w, true, 12);
    CHECK(!rl_budget_take(&b, 10, t, &retry));
    /* a failed flush gives the counts back; a dropped one forgets them but keeps the sum */
    b = (struct rl_budget){0};
    for (int i = 0; i < 4; i++)
        rl_budget_take(&b, 10, t, &retry);
    rl_budget_flush_begin(&b);
    rl_budget_flush_end(&b, w, false, 0);
    CHECK(b.pending == 4 && b.flushing == 0 && rl_budget_used(&b, t) == 4);
    rl_budget_flush_begin(&b);
    rl_budget_flush_end(&b, w, true, 5);
    rl_budget_take(&b, 10, t, &retry);
    rl_budget_flush_begin(&b);
    rl_budget_flush_end(&b, w, true, -1);
    CHECK(b.shared == 5 && b.flushing == 0 && rl_budget_used(&b, t) == 5);
    /* a flush that ends after the minute rolled over changes nothing */
    rl_budget_take(&b, 10, t, &retry);
    rl_budget_flush_begin(&b);
    CHECK(rl_budget_take(&b, 10, t + 61, &retry));
    rl_budget_flush_end(&b, w, true, 100);
    CHECK(rl_budget_used(&b, t + 61) == 1);
    /* limit 0 means no budget */
    b = (struct rl_budget){0};
    for (int i = 0; i < 1000; i++)
        CHECK(rl_budget_take(&b, 0, t, &retry));
}

static void addresses(void) {
    char out[64];
    struct sockaddr_in v4 = {.sin_family = AF_INET};
    inet_pton(AF_INET, "192.0.2.7", &v4.sin_addr);
    rl_address_key((struct sockaddr *)&v4, out, sizeof out);
    CHECK(strcmp(out, "192.0.2.7") == 0);
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, "2001:db8:1:2:3:4:5:6", &v6.sin6_addr);
    rl_address_key((struct sockaddr *)&v6, out, sizeof out);
    CHECK(strcmp(out, "2001:db8:1:2::/64") == 0);
    inet_pton(AF_INET6, "2001:db8:1:2:ffff:ffff:ffff:ffff", &v6.sin6_addr); /* same /64 */
    rl_address_key((struct sockaddr *)&v6, out, sizeof out);
    CHECK(strcmp(out, "2001:db8:1:2::/64") == 0);
    inet_pton(AF_INET6, "::ffff:192.0.2.7", &v6.sin6_addr);
    rl_address_key((struct sockaddr *)&v6, out, sizeof out);
    CHECK(strcmp(out, "192.0.2.7") == 0);
    rl_address_key(NULL, out, sizeof out);
    CHECK(strcmp(out, "unknown") == 0);
}

static struct sockaddr_storage sock(const char *text) {
    struct sockaddr_storage ss = {0};
    if (strchr(text, ':')) {
        ss.ss_family = AF_INET6;
        inet_pton(AF_INET6, text, &((struct sockaddr_in6 *)&ss)->sin6_addr);
    } else {
        ss.ss_family = AF_INET;
        inet_pton(AF_INET, text, &((struct sockaddr_in *)&ss)->sin_addr);
    }
    return ss;
}

/* ALLIED_TRUSTED_PROXIES: exact addresses and CIDR blocks, IPv4-mapped IPv6 as IPv4. */
static void trusted_proxies(void) {
    char bad[64];
    CHECK(client_addr_trust("10.0.0.0/8, 192.168.1.7 2001:db8::/32,::1", bad, sizeof bad) == 0);
    const char *yes[] = {"10.1.2.3", "10.255.255.255", "192.168.1.7", "2001:db8::5", "::1", "::ffff:10.9.9.9"};
    const char *no[] = {"11.0.0.1", "192.168.1.8", "2001:db9::1", "::2", "::ffff:11.0.0.1", "127.0.0.1"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        struct sockaddr_storage ss = sock(yes[i]);
        CHECK(client_addr_trusted((struct sockaddr *)&ss));
    }
    for (size_t i = 0; i < sizeof no / sizeof *no; i++) {
        struct sockaddr_storage ss = sock(no[i]);
        CHECK(!client_addr_trusted((struct sockaddr *)&ss));
    }
    const char *wrong[] = {"10.0.0.0/33", "300.1.1.1", "::1/129", "10.0.0.0/", "host.example", "1.2.3.4/x"};
    for (size_t i = 0; i < sizeof wrong / sizeof *wrong; i++) {
        CHECK(client_addr_trust(wrong[i], bad, sizeof bad) == -1 && strcmp(bad, wrong[i]) == 0);
        struct sockaddr_storage ss = sock("10.1.2.3");
        CHECK(!client_addr_trusted((struct sockaddr *)&ss)); /* a bad list trusts nobody */
    }
    CHECK(client_addr_trust("", bad, sizeof bad) == 0);
}

void test_ratelimit(void) {
    buckets();
    budgets();
    addresses();
    trusted_proxies();
}
