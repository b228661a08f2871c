/* Fuzzes the referral workflow table with random walks: every step the table allows leads to
 * a status from which exactly the listed actions are allowed, terminal statuses allow nothing,
 * names round-trip, only staff or the right side's partner may act, and arbitrary names parse
 * only when exact. Input: a name NUL, then one byte per step (action, role bits). */
#include "api/referrals/workflow.h"
#include "tests/fuzz/shim.h"
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *name = fuzz_take(&data, &size);
    if (!name) return 0;
    int s = workflow_status_parse(name), a = workflow_action_parse(name);
    FUZZ_ASSERT(s == -1 || strcmp(workflow_status_name((enum ref_status)s), name) == 0);
    FUZZ_ASSERT(a == -1 || strcmp(workflow_action_name((enum ref_action)a), name) == 0);
    free(name);

    enum ref_status st = RS_SUBMITTED;
    for (size_t i = 0; i < size; i++) {
        enum ref_action act = (enum ref_action)(data[i] % RA_COUNT);
        bool staff = data[i] & 0x10, owns = data[i] & 0x20, inbound = data[i] & 0x40;
        enum ref_action allowed[RA_COUNT];
        int n = workflow_allowed(st, allowed);
        FUZZ_ASSERT(n >= 0 && n <= RA_COUNT);
        FUZZ_ASSERT(workflow_terminal(st) == (n == 0));
        bool listed = false;
        for (int j = 0; j < n; j++)
            listed |= allowed[j] == act;
        const struct transition *t = workflow_find(st, act);
        FUZZ_ASSERT((t != NULL) == listed);
        FUZZ_ASSERT(workflow_status_parse(workflow_status_name(st)) == (int)st);
        FUZZ_ASSERT(workflow_action_parse(workflow_action_name(act)) == (int)act);
        FUZZ_ASSERT(strcmp(workflow_event_type(act), "unknown") != 0);
        bool may = workflow_may_act(staff, owns, inbound, workflow_side(act));
        if (staff) FUZZ_ASSERT(may);
        if (!staff && !owns) FUZZ_ASSERT(!may);
        if (!t) continue;
        FUZZ_ASSERT(t->from == (int)st && t->action == (int)act && t->to < (int)RS_COUNT &&
                    t->by == (int)workflow_side(act));
        if (may) st = (enum ref_status)t->to;
    }
    return 0;
}
