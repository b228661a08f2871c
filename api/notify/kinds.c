/* The table of kinds (kinds.h). */
#include "api/notify/kinds.h"
#include <string.h>

static const struct notify_kind KINDS[] = {
    {"referral.acknowledged", true, "Your referral was acknowledged"},
    {"referral.engaged", true, "Your referral is being worked on"},
    {"referral.updated", true, "Your referral was updated"},
    {"referral.won", true, "Your referral was won"},
    {"referral.lost", true, "Your referral was lost"},
    {"referral.declined", true, "Your referral was declined"},
    {"commission.payable", true, "A commission is payable"},
    {"invoice.paid", true, "Your invoice was paid"},
    {"referral.submitted", false, "New referral"},
    {"referral.acknowledgement_overdue", false, "A referral awaits acknowledgement"},
    {"referral.stalled", false, "A referral has stalled"},
    {"invoice.created", false, "New invoice"},
    {"invoice.overdue", false, "An invoice is overdue"},
    {"agreement.expiring", false, "An agreement is expiring"},
    {"commitment.at_risk", false, "A commitment is at risk"},
};

const struct notify_kind *notify_kind_find(const char *type) {
    for (size_t i = 0; type && i < sizeof KINDS / sizeof KINDS[0]; i++)
        if (strcmp(KINDS[i].type, type) == 0) return &KINDS[i];
    return NULL;
}
