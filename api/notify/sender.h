/* The mail sender: a background service of `allied serve` (api/app.c) that sends the outbox
 * (outbox.h) over SMTP. Without ALLIED_SMTP_URL it does not run and says so once. */
#ifndef ALLIED_NOTIFY_SENDER_H
#define ALLIED_NOTIFY_SENDER_H

int mail_sender_start(void);
void mail_sender_stop(void);
#endif
