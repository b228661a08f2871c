/* What a won deal earns under agreement terms. Pure, no I/O. */
#ifndef ALLIED_COMMISSION_CALC_H
#define ALLIED_COMMISSION_CALC_H
#include <jansson.h>
#include <stdint.h>

enum calc { CALC_AMOUNT, CALC_NONE, CALC_CURRENCY_MISMATCH };

/* From `terms` (validated, for the referral's direction) and the deal: CALC_AMOUNT with *amount
 * (percentage: rate_bps × deal / 10000 rounded half-up, then capped; fixed: the amount), CALC_NONE
 * for the non-monetary model (with *discount_bps), or CALC_CURRENCY_MISMATCH when a fixed amount
 * or a cap is in another currency than the deal. */
enum calc commission_calc(json_t *terms, int64_t deal, const char *currency, int64_t *amount,
                          int *discount_bps);
#endif
