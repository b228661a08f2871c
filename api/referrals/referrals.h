/* Shared by api/referrals.c and api/referral_actions.c. */
#ifndef ALLIED_REFERRALS_H
#define ALLIED_REFERRALS_H
#include "server/edge/request.h"

/* Appends one timeline event for the caller. 0, or -1 with rq->db_fail set. */
int referral_event_append(struct request *rq, const char *referral_id, const char *type,
                          const char *from, const char *to, const char *note, const char *stage);
#endif
