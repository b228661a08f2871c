/* Unit tests for e-mail notifications: unsubscribe tokens, message rendering, retry schedule. */
#include "api/notification_kinds.h"
#include "api/notify/mail_job.h"
#include "api/notify/render.h"
#include "api/notify/token.h"
#include "tests/unit/unit.h"
#include <stdlib.h>
#include <string.h>

#define T1 "11111111-2222-4333-8444-555555555555"
#define C1 "66666666-7777-4888-9999-aaaaaaaaaaaa"

static void tokens(void) {
    char tok[NOTIFY_TOKEN_MAX], t[37], c[37], k[NOTIFY_KIND_MAX + 1];
    CHECK(notify_key_from_hex("abc") == -1);
    CHECK(notify_key_from_hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f") == 0);
    CHECK(notify_token_make(T1, C1, "referral.won", tok) == 0);
    CHECK(notify_token_read(tok, t, c, k) == 0);
    CHECK(strcmp(t, T1) == 0 && strcmp(c, C1) == 0 && strcmp(k, "referral.won") == 0);
    CHECK(notify_token_make(T1, C1, "*", tok) == 0 && notify_token_read(tok, t, c, k) == 0 && strcmp(k, "*") == 0);
    /* every single-character change is refused */
    CHECK(notify_token_make(T1, C1, "invoice.paid", tok) == 0);
    for (size_t i = 0; tok[i]; i++) {
        char bad[NOTIFY_TOKEN_MAX];
        strcpy(bad, tok);
        bad[i] = bad[i] == 'A' ? 'B' : 'A';
        CHECK(notify_token_read(bad, t, c, k) == -1);
    }
    CHECK(notify_token_read("", t, c, k) == -1);
    CHECK(notify_token_read("not a token", t, c, k) == -1);
    CHECK(notify_token_make("nope", C1, "referral.won", tok) == -1);
    CHECK(notify_token_make(T1, C1, "Referral Won", tok) == -1);
}

static void rendering(void) {
    struct notify_item it = {"commission.payable", "commission", C1,
                             "{\"amount\": 12345, \"currency\": \"EUR\", \"status\": \"payable\"}",
                             "2026-12-02T10:00:00Z", "https://a.example/v1/unsubscribe?token=x"};
    struct notify_to to = {"b@x.example", "Bea <script>", "billing", "Acme & <Sons>", "Tenant", "https://a.example",
                           "https://a.example/v1/unsubscribe?token=x"};
    struct mail m;
    CHECK(render_mail(&to, &it, 1, false, &m) == 0);
    CHECK(strstr(m.subject, "commission payable") || strstr(m.subject, "A commission is payable"));
    CHECK(strstr(m.text, "because you are the billing contact of Acme & <Sons> for 'commission.payable'"));
    CHECK(strstr(m.text, "https://a.example/portal/commissions/" C1));
    CHECK(strstr(m.text, "123.45 EUR"));
    CHECK(strstr(m.html, "Acme &amp; &lt;Sons&gt;") && !strstr(m.html, "<Sons>") && !strstr(m.html, "<script>"));
    mail_free(&m);
    struct notify_item two[2] = {it, it};
    two[1].type = "invoice.paid";
    to.partner_name = NULL; /* the tenant's own contact: links into the API */
    CHECK(render_mail(&to, two, 2, true, &m) == 0);
    CHECK(strstr(m.subject, "2 updates") && strstr(m.text, "daily digest") && strstr(m.text, "/v1/commissions/" C1));
    CHECK(strstr(m.text, "Stop e-mails about 'invoice.paid'"));
    mail_free(&m);
    CHECK(render_mail(&to, two, 0, true, &m) == -1);
}

void test_notify(void) {
    tokens();
    rendering();
    CHECK(notification_kind_find("referral.won") && notification_kind_find("referral.won")->side == SIDE_PARTNER);
    CHECK(notification_kind_find("referral.submitted") &&
          notification_kind_find("referral.submitted")->side == SIDE_TENANT);
    CHECK(notification_kind_find("agreement.created") == NULL);
    for (const struct notification_kind *k = NOTIFICATION_KINDS; k->kind; k++) CHECK(k->subject && *k->subject);
    CHECK(mail_retry_s(1) == 30 && mail_retry_s(10) == 86400 && mail_retry_s(11) == -1 && mail_retry_s(0) == -1);
}
