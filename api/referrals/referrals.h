/* Shared by api/referrals.c and api/referral_actions.c. */
#ifndef ALLIED_REFERRALS_H
#define ALLIED_REFERRALS_H
#include "server/edge/request.h"
#include <jansson.h>

/* Appends to `errors` one {field, message} per problem in `obj`, a referral as POST /v1/referrals
 * takes it (the prospect's fields included). Who may submit what is the caller's to check. */
void referral_fields_collect(json_t *errors, json_t *obj);

/* Appends one timeline event for the caller. 0, or -1 with rq->db_fail set. */
int referral_event_append(struct request *rq, const char *referral_id, const char *type,
                          const char *from, const char *to, const char *note, const char *stage);
#endif
