/* The audit log's writer: every state-changing request (POST, PUT, PATCH, DELETE) by a known key
 * leaves a row in audit_events (migration 0016) — who (key id, name, role, client address), what
 * (method, route pattern, resource id, status) and when. A success's row is inserted in the
 * request's own transaction, so it commits with the change; a refusal (4xx) is recorded after the
 * rollback in a small transaction of its own that never changes the answer. */
#ifndef ALLIED_AUDIT_H
#define ALLIED_AUDIT_H
#include "server/edge/request.h"
#include <stdbool.h>

/* The row `rq` would leave, as JSON text (caller frees), or NULL if the request is not audited
 * (a read, no authenticated key). */
char *audit_row(struct request *rq);
/* Queues the insert of `row` (from audit_row; must stay valid until the next statement is sent)
 * to go out with the request's next statement, e.g. its COMMIT: no round trip of its own. */
void audit_queue(struct request *rq, const char *row);
/* Records a refused write (4xx, transaction rolled back) in its own transaction; failures are
 * logged and forgotten (the answer stands and rq->db_fail is left as it was). */
void audit_refused(struct request *rq);
#endif
