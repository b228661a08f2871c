/* Which feed events are mailed to whom (issue 14): a partner's contacts hear about that partner's
 * referrals, commissions and invoices; the tenant's own contacts about new introductions and what
 * needs their attention. A contact is told about a kind only if it is in contacts.notifications.
 * The SQL lists feed the outbox writer (outbox.h); the C table the messages (render.c).
 * (A provisional list beside api/notification_kinds.h; the two are to be unified.) */
#ifndef ALLIED_NOTIFY_KINDS_H
#define ALLIED_NOTIFY_KINDS_H
#include <stdbool.h>

#define NOTIFY_PARTNER_KINDS_SQL                                                                   \
    "'{referral.acknowledged,referral.engaged,referral.updated,referral.won,referral.lost,"         \
    "referral.declined,commission.payable,invoice.paid}'::text[]"
#define NOTIFY_TENANT_KINDS_SQL                                                                    \
    "'{referral.submitted,referral.acknowledgement_overdue,referral.stalled,invoice.created,"      \
    "invoice.overdue,agreement.expiring,commitment.at_risk}'::text[]"

struct notify_kind {
    const char *type;    /* the feed event type */
    bool partner_side;   /* told to the partner's contacts (else to the tenant's) */
    const char *subject; /* what happened, for the subject line: "Referral won" */
};

/* The kind named `type`, or NULL when no contact is ever told about it. */
const struct notify_kind *notify_kind_find(const char *type);
#endif
