/* Runs the pure unit tests and prints `N passed, N failed` like the HTTP suite. */
#include "server/config.h"
#include "server/log.h"
#include "tests/unit/unit.h"

int unit_checks_failed;

static const struct {
    const char *name;
    void (*fn)(void);
} tests[] = {
    {"util: uuids, base64url, dates, timestamps, request ids", test_util},
    {"json_in: field validation and depth", test_json_in},
    {"router: matching, 404, 405 and Allow", test_router},
    {"pagination: cursors round-trip and reject forgeries", test_pagination},
    {"auth: key format, prefix parsing, roles", test_auth},
    {"workflow: every status x action pair and every actor against the brief", test_workflow},
    {"terms and prospects: validation, defaults, normalisation", test_terms},
    {"money: half-up rounding at ties and limits, largest-remainder splits, overflow, JPY/USD/KWD", test_money},
    {"webhooks: signature vector, private addresses (v4, v6, mapped), retry schedule", test_webhook},
    {"notifications: unsubscribe tokens (tampering), message rendering (escaping, digest), retry schedule", test_notify},
    {"text: UTF-8 cuts on character boundaries (1-4 byte characters, every offset), scrubbing", test_text},
    {"ratelimit: token buckets, failure throttle, shared minute budget (fake clock), address keys", test_ratelimit},
    {"states: every state x action of the agreement, commission and invoice tables; derived statuses", test_states},
    {"notification kinds: each once, per side, looked up exactly; the SQL list is the same words", test_notification_kinds},
};

int main(void) {
    int passed = 0, failed = 0;
    cfg.log_level = LOG_OFF;
    log_set_level(LOG_OFF);
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        int before = unit_checks_failed;
        tests[i].fn();
        if (unit_checks_failed == before) {
            passed++;
            printf("ok   unit %s\n", tests[i].name);
        } else {
            failed++;
            printf("FAIL unit %s\n", tests[i].name);
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
