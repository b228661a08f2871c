/* The notification kinds per side as a C table (see notification_kinds.h). */
#include "api/notification_kinds.h"
#include <stddef.h>
#include <string.h>

#define PARTNER_ROW(kind, subject) {kind, SIDE_PARTNER, subject},
#define TENANT_ROW(kind, subject) {kind, SIDE_TENANT, subject},
const struct notification_kind NOTIFICATION_KINDS[] = {
    NOTIFICATION_KINDS_PARTNER(PARTNER_ROW) NOTIFICATION_KINDS_TENANT(TENANT_ROW){NULL, SIDE_PARTNER, NULL},
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
