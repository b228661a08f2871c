/* Every endpoint handler, one per route in server/router.c. */
#ifndef ALLIED_API_H
#define ALLIED_API_H
#include "server/request.h"

/* api/health.c */
void api_healthz(struct request *rq);
void api_readyz(struct request *rq);
void api_metrics(struct request *rq);

/* api/api_keys.c */
void api_keys_create(struct request *rq);
void api_keys_list(struct request *rq);
void api_keys_get(struct request *rq);
void api_keys_revoke(struct request *rq);

/* api/partners.c */
void api_partners_create(struct request *rq);
void api_partners_list(struct request *rq);
void api_partners_get(struct request *rq);
void api_partners_update(struct request *rq);
void api_partners_delete(struct request *rq);
#endif
