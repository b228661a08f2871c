/* Exhaustive unit test of the agreement, commission and invoice state tables: every state x
 * action cell is legal exactly when the rows written out here (independently of the tables) say. */
#include "api/agreement_states.h"
#include "api/money/commission_states.h"
#include "api/money/invoice_states.h"
#include "api/referrals/workflow.h"
#include "tests/unit/unit.h"
#include <stdlib.h>
#include <string.h>

struct row {
    const char *from, *action, *to;
};

static const struct row AGREEMENT[] = {
    {"draft", "update", "draft"},
    {"draft", "sign", "active"},
    {"active", "suspend", "suspended"},
    {"suspended", "resume", "active"},
    {"active", "terminate", "terminated"},
    {"suspended", "terminate", "terminated"},
    {"active", "amend", "active"},
    {"suspended", "amend", "suspended"},
    {"expired", "amend", "expired"},
    {"active", "supersede", "superseded"},
    {"suspended", "supersede", "superseded"},
    {"expired", "supersede", "superseded"},
    {NULL, NULL, NULL},
};
static const struct row COMMISSION[] = {
    {"pending", "reverse", "reversed"},
    {"payable", "reverse", "reversed"},
    {"paid", "reverse", "paid"},
    {"payable", "invoice", "invoiced"},
    {"invoiced", "pay", "paid"},
    {"invoiced", "release", "pending"},
    {NULL, NULL, NULL},
};
static const struct row INVOICE[] = {
    {"submitted", "approve", "approved"}, {"approved", "pay", "paid"},
    {"submitted", "reject", "rejected"},  {"submitted", "void", "void"},
    {"approved", "void", "void"},         {NULL, NULL, NULL},
};

static const char *expected(const struct row *rows, const char *from, const char *action) {
    for (; rows->from; rows++)
        if (!strcmp(rows->from, from) && !strcmp(rows->action, action)) return rows->to;
    return NULL;
}

/* Walks every cell of `m` against `rows`; `n_states`/`n_actions` are what the enums say. */
static void walk(const struct machine *m, const struct row *rows, int n_states, int n_actions) {
    int legal = 0, want = 0;
    CHECK(m->n_states == n_states && m->n_actions == n_actions);
    for (; rows[want].from; want++)
        CHECK(machine_state(m, rows[want].from) >= 0 && machine_action(m, rows[want].action) >= 0);
    for (int s = 0; s < n_states; s++) {
        int out[16], n = machine_allowed(m, s, out), k = 0;
        for (int a = 0; a < n_actions; a++) {
            const struct transition *t = machine_find(m, s, a);
            const char *to = expected(rows, machine_state_name(m, s), machine_action_name(m, a));
            CHECK((t != NULL) == (to != NULL));
            if (!t || !to) continue;
            legal++;
            CHECK(!strcmp(machine_state_name(m, t->to), to));
            /* allowed lists exactly the legal actions of the resource's own endpoints, in order */
            if (t->by != m->via) CHECK(k < n && out[k++] == a);
        }
        CHECK(k == n);
        json_t *j = machine_allowed_json(m, s);
        CHECK((int)json_array_size(j) == n);
        json_decref(j);
    }
    CHECK(legal == want && legal == m->len);
    for (int s = 0; s < n_states; s++)
        CHECK(machine_state(m, machine_state_name(m, s)) == s);
    for (int a = 0; a < n_actions; a++)
        CHECK(machine_action(m, machine_action_name(m, a)) == a);
    CHECK(machine_state(m, NULL) == -1 && machine_action(m, "") == -1 &&
          machine_find(m, -1, 0) == NULL);
}

/* The Markdown names every row, and the JSON has one object per row. */
static void printed(const struct machine *m) {
    char *md = machine_markdown(m, "T");
    for (int i = 0; i < m->len; i++) {
        char line[200];
        const struct transition *t = &m->table[i];
        snprintf(line, sizeof line, "| `%s` | `%s` | `%s` | %s |\n", m->states[t->from],
                 m->actions[t->action], m->states[t->to], m->actors[t->by]);
        CHECK(strstr(md, line) != NULL);
    }
    free(md);
    json_t *j = machine_json(m);
    CHECK((int)json_array_size(j) == m->len);
    json_decref(j);
}

void test_states(void) {
    walk(&agreement_machine, AGREEMENT, AS_COUNT, AA_COUNT);
    walk(&commission_machine, COMMISSION, CS_COUNT, CA_COUNT);
    walk(&invoice_machine, INVOICE, IS_COUNT, IA_COUNT);
    const struct machine *all[] = {&referral_machine, &agreement_machine, &commission_machine,
                                   &invoice_machine};
    for (int i = 0; i < 4; i++)
        printed(all[i]);
    /* Derived agreement statuses: expired only for a running agreement; the others by their stored
     * one. */
    CHECK(agreement_state("active", "expired") == AS_EXPIRED &&
          agreement_state("suspended", "expired") == AS_EXPIRED);
    CHECK(agreement_state("terminated", "expired") == AS_TERMINATED);
    CHECK(agreement_state("active", "signed") == AS_ACTIVE &&
          agreement_state("terminated", "active") == AS_TERMINATED);
    CHECK(agreement_state("draft", "draft") == AS_DRAFT &&
          agreement_state("expired", "expired") == -1);
    CHECK(agreement_state("nonsense", "active") == -1);
    /* Invoice actions each lead to one state. */
    CHECK(invoice_target(IA_APPROVE) == IS_APPROVED && invoice_target(IA_PAY) == IS_PAID &&
          invoice_target(IA_REJECT) == IS_REJECTED && invoice_target(IA_VOID) == IS_VOID);
}
