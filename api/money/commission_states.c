/* The commission lifecycle table (DESIGN.md, commissions): the one place it is written. */
#include "api/money/commission_states.h"

static const struct transition TABLE[] = {
    {CS_PENDING, CA_REVERSE, CS_REVERSED, CB_STAFF},
    {CS_PAYABLE, CA_REVERSE, CS_REVERSED, CB_STAFF},
    {CS_PAID, CA_REVERSE, CS_PAID, CB_STAFF}, /* a clawback: a negative adjustment is added */
    {CS_PAYABLE, CA_INVOICE, CS_INVOICED, CB_INVOICE},
    {CS_INVOICED, CA_PAY, CS_PAID, CB_INVOICE},
    {CS_INVOICED, CA_RELEASE, CS_PENDING, CB_INVOICE},
};

static const char *const STATES[CS_COUNT] = {"pending", "payable", "invoiced", "paid", "reversed"};
static const char *const ACTIONS[CA_COUNT] = {"reverse", "invoice", "pay", "release"};
static const char *const ACTORS[] = {[CB_STAFF] = "staff", [CB_INVOICE] = "its invoice"};

const struct machine commission_machine = {
    "commission",
    STATES,
    CS_COUNT,
    ACTIONS,
    CA_COUNT,
    ACTORS,
    TABLE,
    sizeof TABLE / sizeof TABLE[0],
    CB_INVOICE,
    "`reverse` is `POST /v1/commissions/{id}/reverse`. `payable` is derived, never stored: a "
    "`pending` commission whose `payable_at` has passed; time moves it there, no action does, and "
    "a commission is looked up by the status it shows. Reversing a paid commission claws it back: "
    "it stays `paid` and gains a negative `adjustment` commission; an adjustment, or a paid "
    "commission already clawed back, cannot be reversed. `invoice`, `pay` and `release` are made "
    "by "
    "the commission's invoice (created by staff or the partner; paid; rejected or voided), in the "
    "same transaction. A reversal the table does not allow is 409 `invalid-state` with "
    "`allowed_actions`.",
};
