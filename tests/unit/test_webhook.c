/* Unit tests for webhook signing, private-address checks and the retry schedule. */
#include "server/backoff.h"
#include "api/webhooks/deliver.h"
#include "api/webhooks/guard.h"
#include "api/webhooks/signing.h"
#include "tests/unit/unit.h"
#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static bool priv4(const char *ip) {
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, ip, &a.sin_addr);
    return addr_is_private((struct sockaddr *)&a);
}

static bool priv6(const char *ip) {
    struct sockaddr_in6 a = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, ip, &a.sin6_addr);
    return addr_is_private((struct sockaddr *)&a);
}

void test_webhook(void) {
    /* A vector computed independently (Python hmac) for key bytes 0..31. */
    char sig[128];
    CHECK(webhook_sign("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "msg_1", "1700000000", "{\"a\":1}", sig,
                       sizeof sig));
    CHECK(strcmp(sig, "v1,AMaOha7DUT/0J0JMycRuYOBSvbx3WtwLd2khXXbaVj4=") == 0);
    CHECK(!webhook_sign("nope", "a", "b", "c", sig, sizeof sig));
    CHECK(!webhook_sign("whsec_***", "a", "b", "c", sig, sizeof sig));
    char s1[80], s2[80];
    webhook_secret_new(s1, sizeof s1);
    webhook_secret_new(s2, sizeof s2);
    CHECK(strncmp(s1, "whsec_", 6) == 0 && strcmp(s1, s2) != 0 && webhook_sign(s1, "i", "t", "b", sig, sizeof sig));

    const char *private4[] = {"127.0.0.1", "127.255.0.1", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.0.1",
                              "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "198.18.0.1"};
    for (size_t i = 0; i < sizeof private4 / sizeof *private4; i++) CHECK(priv4(private4[i]));
    const char *public4[] = {"8.8.8.8", "172.15.255.255", "172.32.0.1", "100.128.0.1", "193.0.0.1", "169.253.0.1"};
    for (size_t i = 0; i < sizeof public4 / sizeof *public4; i++) CHECK(!priv4(public4[i]));
    CHECK(priv6("::1") && priv6("::") && priv6("fd00::1") && priv6("fe80::1") && priv6("ff02::1"));
    CHECK(priv6("::ffff:127.0.0.1") && priv6("::ffff:10.1.1.1") && !priv6("::ffff:8.8.8.8"));
    CHECK(!priv6("2001:4860:4860::8888"));
    /* Issue 10: every IPv6 form that embeds or stands for another address, and the IPv4
     * special-purpose blocks that were missing. */
    const char *more4[] = {"192.0.2.1", "198.51.100.7", "203.0.113.9", "192.88.99.1", "240.0.0.1", "100.127.255.255",
                           "172.31.0.1", "198.19.255.255"};
    for (size_t i = 0; i < sizeof more4 / sizeof *more4; i++) CHECK(priv4(more4[i]));
    const char *still4[] = {"192.0.3.1", "198.51.101.1", "203.0.114.1", "100.63.255.255", "223.255.255.255",
                            "192.88.98.1", "198.20.0.1", "1.1.1.1"};
    for (size_t i = 0; i < sizeof still4 / sizeof *still4; i++) CHECK(!priv4(still4[i]));
    const char *private6[] = {"::127.0.0.1",      "::10.0.0.1",       "::8.8.8.8",       "::ffff:192.168.1.1",
                              "::ffff:169.254.169.254", "::ffff:0:7f00:1", "64:ff9b::7f00:1", "64:ff9b::808:808",
                              "64:ff9b:1::1",     "2002:7f00:1::1",   "2002:808:808::1", "fec0::1",
                              "feff::1",          "2001::1",          "2001:1ff::1",     "2001:db8::1",
                              "100::1",           "3fff::1",          "fc00::1",         "febf::1",
                              "ff0e::1",          "1fff:ffff::1",     "4000::1",         "e000::1"};
    for (size_t i = 0; i < sizeof private6 / sizeof *private6; i++) {
        if (!priv6(private6[i])) fprintf(stderr, "    %s should be refused\n", private6[i]);
        CHECK(priv6(private6[i]));
    }
    const char *public6[] = {"2606:4700:4700::1111", "2a00:1450:4001::1", "::ffff:8.8.8.8", "2c0f:fb50::1",
                             "2001:200::1", "3ffe::1", "2003::1", "2001:db9::1"};
    for (size_t i = 0; i < sizeof public6 / sizeof *public6; i++) {
        if (priv6(public6[i])) fprintf(stderr, "    %s should be allowed\n", public6[i]);
        CHECK(!priv6(public6[i]));
    }
    struct sockaddr other = {.sa_family = AF_UNIX};
    CHECK(addr_is_private(&other));
    /* Registration: literals and localhost names, without DNS. */
    const char *refused_hosts[] = {"127.0.0.1", "127.1", "0x7f000001", "2130706433", "0177.0.0.1", "10.1.2.3",
                                   "169.254.169.254", "[::1]", "[::127.0.0.1]", "[::ffff:127.0.0.1]",
                                   "[::ffff:7f00:1]", "[64:ff9b::a00:1]", "[2002:a00:1::]", "[fec0::1]",
                                   "[fe80::1%25eth0]", "[fe80::1%eth0]", "localhost", "LOCALHOST", "localhost.",
                                   "api.localhost", "x.LocalHost.", "", "[zz]"};
    for (size_t i = 0; i < sizeof refused_hosts / sizeof *refused_hosts; i++) {
        if (!webhook_host_refusal(refused_hosts[i])) fprintf(stderr, "    host %s should be refused\n", refused_hosts[i]);
        CHECK(webhook_host_refusal(refused_hosts[i]) != NULL);
    }
    const char *fine_hosts[] = {"example.com", "8.8.8.8", "[2606:4700:4700::1111]", "notlocalhost.com",
                                "localhost.example.com", "hooks.localhost-crm.example", "[::ffff:8.8.8.8]"};
    for (size_t i = 0; i < sizeof fine_hosts / sizeof *fine_hosts; i++) {
        if (webhook_host_refusal(fine_hosts[i])) fprintf(stderr, "    host %s should pass\n", fine_hosts[i]);
        CHECK(webhook_host_refusal(fine_hosts[i]) == NULL);
    }

    /* The schedule grows and ends after about three days. */
    int total = 0, prev = 0;
    for (int a = 1; dispatcher_backoff_s(a) > 0; a++) {
        CHECK(dispatcher_backoff_s(a) >= prev);
        prev = dispatcher_backoff_s(a);
        total += prev;
    }
    CHECK(total > 2 * 86400 && total < 4 * 86400);
    CHECK(dispatcher_backoff_s(0) == -1 && dispatcher_backoff_s(100) == -1);

    /* Background back-off: 100 ms doubling to 30 s, "equal jitter" in [d/2, d]. */
    CHECK(backoff_delay_ms(100, 30000, 1, 0) == 50 && backoff_delay_ms(100, 30000, 1, UINT32_MAX) >= 50 &&
          backoff_delay_ms(100, 30000, 1, 50) == 100);
    for (int n = 1; n <= 12; n++) {
        long d = 100L << (n - 1) < 30000 ? 100L << (n - 1) : 30000;
        for (uint32_t r = 0; r < 5000; r += 997) {
            int ms = backoff_delay_ms(100, 30000, n, r * 7919u);
            CHECK(ms >= d - d / 2 && ms <= d);
        }
    }
    CHECK(backoff_delay_ms(100, 30000, INT_MAX, UINT32_MAX) <= 30000 &&
          backoff_delay_ms(100, 30000, INT_MAX, 0) == 15000);
    CHECK(backoff_delay_ms(5000, 1000, 1, 0) == 500); /* base above the cap: the cap */
    CHECK(backoff_delay_ms(0, 0, 0, 0) == 1 && backoff_delay_ms(1, 1, 3, 12345) == 1);
}
