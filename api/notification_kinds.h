/* Who may hear what by e-mail: every notification kind with the side of the partnership it is
 * told to (issue 14). One list, read by the contacts API (which kinds a contact may ask for, and
 * the default: all of its side's) and by the mail sender (who hears about an event). No I/O.
 *
 * The lists are X-macros so that C (the table below) and SQL (NOTIFICATION_KINDS_SQL, a text[]
 * expression for statements) are made from the same words. */
#ifndef ALLIED_NOTIFICATION_KINDS_H
#define ALLIED_NOTIFICATION_KINDS_H
#include <stdbool.h>

/* A partner's contacts: their referrals' progress, commissions payable, invoices paid.
 * Each kind with the subject line of its message (api/notify/render.c). */
#define NOTIFICATION_KINDS_PARTNER(X)                                                              \
    X("referral.acknowledged", "Your referral was acknowledged")                                   \
    X("referral.engaged", "Your referral is being worked on")                                      \
    X("referral.updated", "Your referral was updated")                                             \
    X("referral.won", "Your referral was won")                                                     \
    X("referral.lost", "Your referral was lost")                                                   \
    X("referral.declined", "Your referral was declined")                                           \
    X("commission.payable", "A commission is payable")                                             \
    X("invoice.paid", "Your invoice was paid")
/* The tenant's own notification contacts (partner_id NULL): new introductions, what is late. */
#define NOTIFICATION_KINDS_TENANT(X)                                                               \
    X("referral.submitted", "New referral")                                                        \
    X("referral.acknowledgement_overdue", "A referral awaits acknowledgement")                     \
    X("referral.stalled", "A referral has stalled")                                                \
    X("invoice.created", "New invoice")                                                            \
    X("invoice.overdue", "An invoice is overdue")                                                  \
    X("agreement.expiring", "An agreement is expiring")                                            \
    X("commitment.at_risk", "A commitment is at risk")

/* One side's kinds as a SQL text[] expression, e.g. in a DB_STMT:
 * "... WHERE e.type = ANY (" NOTIFICATION_KINDS_SQL(NOTIFICATION_KINDS_TENANT) ")". */
#define NOTIFICATION_KIND_SQL_ITEM(kind, subject) kind ","
#define NOTIFICATION_KINDS_SQL(LIST) "string_to_array(rtrim('" LIST(NOTIFICATION_KIND_SQL_ITEM) "', ','), ',')"

enum notify_side {
    SIDE_PARTNER, /* a partner's contacts */
    SIDE_TENANT,  /* the tenant's own contacts */
};

struct notification_kind {
    const char *kind;    /* the event type, as in GET /v1/events */
    enum notify_side side;
    const char *subject; /* what happened, for a message's subject line */
};

/* Every kind, the partner's first, in the order README.md lists them; ended by {NULL}. */
extern const struct notification_kind NOTIFICATION_KINDS[];

/* The entry for `kind`, or NULL if no contact may hear of it by e-mail. */
const struct notification_kind *notification_kind_find(const char *kind);
/* True if a contact of `side` may ask for `kind`. */
bool notification_kind_allowed(const char *kind, enum notify_side side);
#endif
