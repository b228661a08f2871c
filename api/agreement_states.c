/* The agreement lifecycle table (DESIGN.md, agreements): the one place it is written. */
#include "api/agreement_states.h"
#include <string.h>

static const struct transition TABLE[] = {
    {AS_DRAFT, AA_UPDATE, AS_DRAFT, AB_STAFF},
    {AS_DRAFT, AA_SIGN, AS_ACTIVE, AB_SIGNER},
    {AS_ACTIVE, AA_SUSPEND, AS_SUSPENDED, AB_STAFF},
    {AS_SUSPENDED, AA_RESUME, AS_ACTIVE, AB_STAFF},
    {AS_ACTIVE, AA_TERMINATE, AS_TERMINATED, AB_STAFF},
    {AS_SUSPENDED, AA_TERMINATE, AS_TERMINATED, AB_STAFF},
    {AS_ACTIVE, AA_AMEND, AS_ACTIVE, AB_STAFF},
    {AS_SUSPENDED, AA_AMEND, AS_SUSPENDED, AB_STAFF},
    {AS_EXPIRED, AA_AMEND, AS_EXPIRED, AB_STAFF},
    {AS_ACTIVE, AA_SUPERSEDE, AS_SUPERSEDED, AB_AMENDMENT},
    {AS_SUSPENDED, AA_SUPERSEDE, AS_SUPERSEDED, AB_AMENDMENT},
    {AS_EXPIRED, AA_SUPERSEDE, AS_SUPERSEDED, AB_AMENDMENT},
};

static const char *const STATES[AS_COUNT] = {"draft",      "active",     "suspended",
                                             "terminated", "superseded", "expired"};
static const char *const ACTIONS[AA_COUNT] = {"update",    "sign",  "suspend",  "resume",
                                              "terminate", "amend", "supersede"};
static const char *const ACTORS[] = {[AB_STAFF] = "staff",
                                     [AB_SIGNER] =
                                         "staff (as either party), partner (as the partner)",
                                     [AB_AMENDMENT] = "the amendment, when it activates"};

const struct machine agreement_machine = {
    "agreement",
    STATES,
    AS_COUNT,
    ACTIONS,
    AA_COUNT,
    ACTORS,
    TABLE,
    sizeof TABLE / sizeof TABLE[0],
    AB_AMENDMENT,
    "`update` is `PATCH /v1/agreements/{id}`; the others are `POST /v1/agreements/{id}/{action}`, "
    "except `supersede`, which happens when an amendment (a draft with `supersedes_id`) activates. "
    "`sign` activates the agreement at the second party's signature; after the first it stays "
    "`draft`, and each party signs once. `expired` is derived, never stored: a running (active or "
    "suspended) agreement past `ends_on` without `auto_renew` is looked up as `expired`, which "
    "only "
    "allows `amend`. The other derived statuses use their stored one: `signed` (active before "
    "`starts_on`) is `active`, and a terminated agreement in its notice period (shown `active` or "
    "`suspended`) is `terminated`. An action the table does not allow is 409 `invalid-state` with "
    "`allowed_actions`.",
};

int agreement_state(const char *stored, const char *shown) {
    int s = machine_state(&agreement_machine, stored);
    if ((s == AS_ACTIVE || s == AS_SUSPENDED) && shown && !strcmp(shown, "expired"))
        return AS_EXPIRED;
    return s == AS_EXPIRED ? -1 : s;
}
