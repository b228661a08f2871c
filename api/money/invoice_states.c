/* The invoice lifecycle table (DESIGN.md, invoices): the one place it is written. */
#include "api/money/invoice_states.h"

static const struct transition TABLE[] = {
    {IS_SUBMITTED, IA_APPROVE, IS_APPROVED, IB_STAFF}, {IS_APPROVED, IA_PAY, IS_PAID, IB_STAFF},
    {IS_SUBMITTED, IA_REJECT, IS_REJECTED, IB_STAFF},  {IS_SUBMITTED, IA_VOID, IS_VOID, IB_STAFF},
    {IS_APPROVED, IA_VOID, IS_VOID, IB_STAFF},
};

static const char *const STATES[IS_COUNT] = {"submitted", "approved", "paid", "rejected", "void"};
static const char *const ACTIONS[IA_COUNT] = {"approve", "pay", "reject", "void"};
static const char *const ACTORS[] = {[IB_STAFF] = "staff"};

const struct machine invoice_machine = {
    "invoice",
    STATES,
    IS_COUNT,
    ACTIONS,
    IA_COUNT,
    ACTORS,
    TABLE,
    sizeof TABLE / sizeof TABLE[0],
    -1,
    "An invoice is created `submitted` (`POST /v1/invoices`: staff, or a partner key for what it "
    "is owed); the actions are `POST /v1/invoices/{id}/{action}`. Its commissions follow it in the "
    "same transaction: `pay` pays them, `reject` and `void` release them. An action the table does "
    "not allow is 409 `invalid-state` with `allowed_actions`. (`overdue` is derived, not a "
    "status.)",
};

enum inv_state invoice_target(enum inv_action action) {
    for (size_t i = 0; i < sizeof TABLE / sizeof TABLE[0]; i++)
        if (TABLE[i].action == (int)action) return (enum inv_state)TABLE[i].to;
    return IS_COUNT;
}
