/* Exhaustive unit test of the referral workflow table: every status x action pair, every actor. */
#include "api/referrals/workflow.h"
#include "tests/unit/unit.h"
#include <string.h>

/* The brief's table, written out independently of api/referrals/workflow.c. */
static const char *expected(const char *from, const char *action) {
    static const char *const rows[][3] = {
        {"submitted", "acknowledge", "acknowledged"}, {"acknowledged", "engage", "engaged"},
        {"acknowledged", "update", "acknowledged"},   {"engaged", "update", "engaged"},
        {"acknowledged", "win", "won"},               {"engaged", "win", "won"},
        {"acknowledged", "lose", "lost"},             {"engaged", "lose", "lost"},
        {"submitted", "decline", "declined"},         {"acknowledged", "decline", "declined"},
        {"submitted", "withdraw", "withdrawn"},       {"acknowledged", "withdraw", "withdrawn"},
        {"engaged", "withdraw", "withdrawn"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (!strcmp(rows[i][0], from) && !strcmp(rows[i][1], action)) return rows[i][2];
    return NULL;
}

void test_workflow(void) {
    int legal = 0;
    for (int s = 0; s < RS_COUNT; s++)
        for (int a = 0; a < RA_COUNT; a++) {
            const struct transition *t = workflow_find((enum ref_status)s, (enum ref_action)a);
            const char *want = expected(workflow_status_name((enum ref_status)s), workflow_action_name((enum ref_action)a));
            CHECK((t != NULL) == (want != NULL));
            if (t && want) {
                CHECK(strcmp(workflow_status_name(t->to), want) == 0);
                CHECK(t->by == (int)workflow_side((enum ref_action)a));
                legal++;
            }
        }
    CHECK(legal == workflow_table_len && legal == 13);
    /* allowed() agrees with find() and terminal statuses allow nothing. */
    for (int s = 0; s < RS_COUNT; s++) {
        enum ref_action out[RA_COUNT];
        int n = workflow_allowed((enum ref_status)s, out);
        for (int i = 0; i < n; i++) CHECK(workflow_find((enum ref_status)s, out[i]) != NULL);
        bool term = s == RS_WON || s == RS_LOST || s == RS_DECLINED || s == RS_WITHDRAWN;
        CHECK(workflow_terminal((enum ref_status)s) == term && (n == 0) == term);
    }
    /* Names round-trip; unknown names are -1. */
    for (int s = 0; s < RS_COUNT; s++) CHECK(workflow_status_parse(workflow_status_name((enum ref_status)s)) == s);
    for (int a = 0; a < RA_COUNT; a++) CHECK(workflow_action_parse(workflow_action_name((enum ref_action)a)) == a);
    CHECK(workflow_status_parse("Won") == -1 && workflow_action_parse("") == -1 && workflow_action_parse(NULL) == -1);
    /* Actors: staff act for both sides; a partner only for its own side of its own referral. */
    for (int side = 0; side < 2; side++) {
        CHECK(workflow_may_act(true, false, true, (enum ref_side)side));
        CHECK(workflow_may_act(true, false, false, (enum ref_side)side));
        CHECK(!workflow_may_act(false, false, true, (enum ref_side)side));
        CHECK(!workflow_may_act(false, false, false, (enum ref_side)side));
    }
    CHECK(workflow_may_act(false, true, true, SIDE_REFERRER) && !workflow_may_act(false, true, true, SIDE_RECEIVER));
    CHECK(workflow_may_act(false, true, false, SIDE_RECEIVER) && !workflow_may_act(false, true, false, SIDE_REFERRER));
}
