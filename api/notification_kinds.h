/* Who may hear what by e-mail: every notification kind with the side of the partnership it is
 * told to (issue 14). One table, read by the contacts API (which kinds a contact may ask for, and
 * the default: all of its side's) and by the mail sender (who hears about an event). No I/O. */
#ifndef ALLIED_NOTIFICATION_KINDS_H
#define ALLIED_NOTIFICATION_KINDS_H
#include <stdbool.h>

enum notify_side {
    SIDE_PARTNER, /* a partner's contacts: their referrals' progress, commissions, invoices paid */
    SIDE_TENANT,  /* the tenant's own contacts (partner_id NULL): new introductions, what is late */
};

struct notification_kind {
    const char *kind; /* the event type, as in GET /v1/events */
    enum notify_side side;
};

/* Every kind, in the order README.md lists them; ended by {NULL}. */
extern const struct notification_kind NOTIFICATION_KINDS[];

/* The entry for `kind`, or NULL if no contact may hear of it by e-mail. */
const struct notification_kind *notification_kind_find(const char *kind);
/* True if a contact of `side` may ask for `kind`. */
bool notification_kind_allowed(const char *kind, enum notify_side side);
#endif
