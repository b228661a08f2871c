/* The notification routes (api/app.c's table): the delivery log and the unsubscribe links. */
#ifndef ALLIED_NOTIFY_API_H
#define ALLIED_NOTIFY_API_H
#include "server/edge/request.h"

/* notifications.c: GET /v1/notifications */
void api_notifications_list(struct request *rq);
/* unsubscribe.c: GET (a page with a button) and POST (one-click) /v1/unsubscribe?token= */
void api_unsubscribe_page(struct request *rq);
void api_unsubscribe(struct request *rq);
#endif
