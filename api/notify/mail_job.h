/* One claimed message or digest, from its rows to the recorded outcome (used by sender.c). */
#ifndef ALLIED_NOTIFY_MAIL_JOB_H
#define ALLIED_NOTIFY_MAIL_JOB_H
#include "server/data/db.h"
#include <stdbool.h>

/* Renders and sends the claimed rows `ids` (a PostgreSQL uuid[] literal) of `tenant` — one
 * message, or with `digest` one contact's digest — and records the outcome on `c`. 0, or -1 when
 * the database failed (err says why; the lease brings the rows back). */
int mail_job_run(struct db_conn *c, const char *tenant, const char *ids, bool digest, char *err, size_t errlen);
/* Seconds before the retry after attempt `attempt` (1-based) at the full schedule (30 s doubling
 * roughly to a day, 11 attempts over about two days), or -1 when it was the last. */
int mail_retry_s(int attempt);
#endif
