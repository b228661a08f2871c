/* Commissions created when a referral is won (used by api/referral_actions.c). */
#ifndef ALLIED_COMMISSIONS_H
#define ALLIED_COMMISSIONS_H
#include "server/edge/request.h"
#include <stdbool.h>
#include <stdint.h>

struct win_plan {
    bool earns;            /* an agreement with a monetary model: commissions will be created */
    int64_t amount;        /* the whole commission before any split */
    int discount_bps;      /* recorded on the referral (model none) */
    bool has_discount;
    int holding_days;
    char agreement_id[37];
    char kind[12];         /* payable (inbound) or receivable (outbound) */
    char *attributions;    /* JSON text or NULL; owned */
    char partner_id[37];
};

/* Works out what winning `referral_id` with this deal earns, before anything changes. Replies 422
 * (currency mismatch) or a DB failure and returns -1; 0 otherwise. Free with win_plan_free(). */
int win_plan_or_reply(struct request *rq, const char *referral_id, int64_t deal, const char *currency,
                      struct win_plan *plan);
void win_plan_free(struct win_plan *plan);

/* Inserts the commissions of the plan (split by attributions) and announces them in the feed.
 * 0, or -1 with rq->db_fail set (the caller replies). */
int commissions_create(struct request *rq, const char *referral_id, const char *currency,
                       const struct win_plan *plan);
#endif
