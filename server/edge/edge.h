/* The connection guard at the HTTP edge: sheds idle connections under pressure and cuts off
 * request heads and bodies that trickle in (slowloris). */
#ifndef ALLIED_EDGE_H
#define ALLIED_EDGE_H
#include <microhttpd.h>

struct edge_conn;

/* MHD_OPTION_NOTIFY_CONNECTION callback: registers (STARTED) or forgets (CLOSED) a connection;
 * the entry lives in `*socket_context` and is owned by the guard. */
void edge_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                 enum MHD_ConnectionNotificationCode toe);
/* The guard entry of `conn` (NULL if unknown). Valid until the connection closes. */
struct edge_conn *edge_of(struct MHD_Connection *conn);
/* A request's head has arrived; its body (if any) is now read under the minimum rate. */
void edge_head_done(struct edge_conn *e);
/* The whole request is read (or will not be): no deadline applies until edge_idle. */
void edge_busy(struct edge_conn *e);
/* The response is complete: the connection waits for its next request (keep-alive). */
void edge_idle(struct edge_conn *e);

/* Starts the thread that enforces the head and body deadlines. Returns 0 or -1. */
int edge_start(void);
/* Stops that thread. */
void edge_stop(void);
#endif
