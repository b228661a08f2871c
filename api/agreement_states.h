/* The agreement lifecycle as data (api/states.h). Pure, no I/O. */
#ifndef ALLIED_AGREEMENT_STATES_H
#define ALLIED_AGREEMENT_STATES_H
#include "api/states.h"

/* The stored statuses, then AS_EXPIRED: derived, looked up but never stored. */
enum agr_state {
    AS_DRAFT,
    AS_ACTIVE,
    AS_SUSPENDED,
    AS_TERMINATED,
    AS_SUPERSEDED,
    AS_EXPIRED,
    AS_COUNT
};
enum agr_action {
    AA_UPDATE,
    AA_SIGN,
    AA_SUSPEND,
    AA_RESUME,
    AA_TERMINATE,
    AA_AMEND,
    AA_SUPERSEDE,
    AA_COUNT
};
enum agr_actor { AB_STAFF, AB_SIGNER, AB_AMENDMENT };

extern const struct machine agreement_machine;
/* The state an agreement is looked up by: its stored status, or expired for a running (active or
 * suspended) one that agreement_status() shows as expired. -1 for an unknown stored status. */
int agreement_state(const char *stored, const char *shown);
#endif
