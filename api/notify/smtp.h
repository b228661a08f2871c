/* Sends one message over SMTP with libcurl: to ALLIED_SMTP_URL (smtp:// to a relay or the
 * submission port, with STARTTLS required when ALLIED_SMTP_STARTTLS=1; smtps:// for implicit
 * TLS), authenticated with ALLIED_SMTP_USER / ALLIED_SMTP_PASSWORD (or user:pass in the URL),
 * from ALLIED_MAIL_FROM. The body is multipart/alternative (text and HTML) when there is HTML. */
#ifndef ALLIED_NOTIFY_SMTP_H
#define ALLIED_NOTIFY_SMTP_H
#include <stddef.h>

struct smtp_msg {
    const char *to;          /* the recipient's address */
    const char *subject;     /* UTF-8, one line (CR/LF become spaces); RFC 2047-encoded if not ASCII */
    const char *text;        /* the plain-text part */
    const char *html;        /* the HTML part, or NULL */
    const char *message_id;  /* the id inside <>, stable per message so receivers can drop a repeat */
    const char *unsubscribe; /* the List-Unsubscribe URL (one-click, RFC 8058), or NULL */
};

/* 0 when the server accepted the message; -1 with the reason in `err`. Blocks up to
 * ALLIED_SMTP_TIMEOUT_MS. */
int smtp_send(const struct smtp_msg *m, char *err, size_t errlen);

/* The address inside ALLIED_MAIL_FROM ("Name <a@b>" or "a@b") into out. */
void smtp_from_address(char *out, size_t cap);
#endif
