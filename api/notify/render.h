/* The messages Allied mails to contacts: a subject, a plain-text and an HTML part (every value
 * HTML-escaped), saying what happened, why this person is told, where to look, and how to stop.
 * Pure: everything comes from the arguments. */
#ifndef ALLIED_NOTIFY_RENDER_H
#define ALLIED_NOTIFY_RENDER_H
#include <stdbool.h>

/* One event told. */
struct notify_item {
    const char *type;          /* the kind: "referral.won" */
    const char *resource_type; /* "referral", "invoice", ... */
    const char *resource_id;
    const char *data;          /* the resource's JSON as the feed event carries it */
    const char *at;            /* when it happened (RFC 3339) */
    const char *unsubscribe;   /* the URL that stops this kind for this contact */
};

/* Who is told, and from where. */
struct notify_to {
    const char *email, *name, *role;
    const char *partner_name;  /* the contact's partner; NULL for the tenant's own contact */
    const char *tenant_name;
    const char *base;          /* ALLIED_PUBLIC_BASE_URL, without a trailing slash */
    const char *unsubscribe;   /* the List-Unsubscribe URL of the whole message */
};

struct mail {
    char *subject, *text, *html; /* malloc'd */
};

/* One event (n == 1, digest false) or a daily digest of n events. 0, or -1 out of memory. */
int render_mail(const struct notify_to *to, const struct notify_item *items, int n, bool digest, struct mail *out);
void mail_free(struct mail *m);
#endif
