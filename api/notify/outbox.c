/* Direct messages into the outbox (outbox.h). */
#include "api/notify/outbox.h"
#include "server/data/db.h"
#include <stdlib.h>
#include <string.h>

DB_STMT(st_direct,
        "INSERT INTO notifications (tenant_id, type, recipient, subject, body_text, body_html) "
        "VALUES ($1, 'direct', $2, $3, $4, $5)");

int notify_direct(struct request *rq, const char *to, const char *subject, const char *text, const char *html) {
    char *line = strdup(subject);
    if (!line) return -1;
    for (char *p = line; *p; p++)
        if (*p == '\r' || *p == '\n') *p = ' ';
    const char *p[] = {rq->auth.tenant_id, to, line, text, html};
    PGresult *r = db_exec(rq, &st_direct, 5, p);
    free(line);
    PQclear(r);
    return r ? 0 : -1;
}
