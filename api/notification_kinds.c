/* The notification kinds per side (see notification_kinds.h). */
#include "api/notification_kinds.h"
#include <stddef.h>
#include <string.h>

const struct notification_kind NOTIFICATION_KINDS[] = {
    {"referral.acknowledged", SIDE_PARTNER},
    {"referral.engaged", SIDE_PARTNER},
    {"referral.updated", SIDE_PARTNER},
    {"referral.won", SIDE_PARTNER},
    {"referral.lost", SIDE_PARTNER},
    {"referral.declined", SIDE_PARTNER},
    {"commission.payable", SIDE_PARTNER},
    {"invoice.paid", SIDE_PARTNER},
    {"referral.submitted", SIDE_TENANT},
    {"referral.acknowledgement_overdue", SIDE_TENANT},
    {"referral.stalled", SIDE_TENANT},
    {"invoice.created", SIDE_TENANT},
    {"invoice.overdue", SIDE_TENANT},
    {"agreement.expiring", SIDE_TENANT},
    {"commitment.at_risk", SIDE_TENANT},
    {NULL, SIDE_PARTNER},
};

const struct notification_kind *notification_kind_find(const char *kind) {
    for (const struct notification_kind *k = NOTIFICATION_KINDS; kind && k->kind; k++)
        if (strcmp(k->kind, kind) == 0) return k;
    return NULL;
}

bool notification_kind_allowed(const char *kind, enum notify_side side) {
    const struct notification_kind *k = notification_kind_find(kind);
    return k && k->side == side;
}
