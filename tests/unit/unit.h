/* A minimal unit-test harness: CHECK records failures, each test is a function. */
#ifndef ALLIED_UNIT_H
#define ALLIED_UNIT_H
#include <stdio.h>

extern int unit_checks_failed;
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "    check failed at %s:%d: %s\n", __FILE__, __LINE__, #cond);         \
            unit_checks_failed++;                                                                  \
        }                                                                                          \
    } while (0)

void test_util(void);
void test_json_in(void);
void test_router(void);
void test_pagination(void);
void test_auth(void);
void test_workflow(void);
void test_terms(void);
void test_money(void);
void test_webhook(void);
void test_text(void);
void test_ratelimit(void);
void test_states(void);
void test_notification_kinds(void);
void test_notify(void);
#endif
