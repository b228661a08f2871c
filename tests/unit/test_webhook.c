/* Unit tests for webhook signing, private-address checks and the retry schedule. */
#include "server/dispatcher.h"
#include "server/webhook_sign.h"
#include "tests/unit/unit.h"
#include <arpa/inet.h>
#include <netinet/in.h>
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

    /* The schedule grows and ends after about three days. */
    int total = 0, prev = 0;
    for (int a = 1; dispatcher_backoff_s(a) > 0; a++) {
        CHECK(dispatcher_backoff_s(a) >= prev);
        prev = dispatcher_backoff_s(a);
        total += prev;
    }
    CHECK(total > 2 * 86400 && total < 4 * 86400);
    CHECK(dispatcher_backoff_s(0) == -1 && dispatcher_backoff_s(100) == -1);
}
