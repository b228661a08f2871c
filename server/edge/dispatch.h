/* Runs one routed request: authentication, role check, body parsing, the handler — writes
 * inside one retrying transaction with Idempotency-Key support. */
#ifndef ALLIED_DISPATCH_H
#define ALLIED_DISPATCH_H
#include "server/edge/request.h"

/* Leaves a complete response in `rq`. Needs rq->db unless the route is RF_INLINE. */
void dispatch_run(struct request *rq);

/* Role name for messages and JSON ("admin", ...). */
const char *role_name(enum role r);
#endif
