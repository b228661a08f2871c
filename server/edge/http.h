/* The HTTP server: libmicrohttpd daemon, per-request lifecycle, graceful drain. */
#ifndef ALLIED_HTTP_H
#define ALLIED_HTTP_H
#include "server/edge/request.h"
#include <stdatomic.h>

/* Starts serving on cfg.listen. Returns 0, or -1 after logging why. */
int http_start(void);
/* Stops accepting and waits up to cfg.drain_s for in-flight requests. */
void http_drain(void);
/* Stops the daemon; call after workers_stop (requests still in a worker's hands would be freed). */
void http_close(void);
/* Called by a worker when it has finished a suspended request: resumes the connection. */
void http_resume(struct request *rq);

#endif
