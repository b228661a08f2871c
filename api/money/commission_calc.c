/* Commission computation from agreement terms (DESIGN.md "Winning computes commissions"). */
#include "api/money/commission_calc.h"
#include "api/money/money.h"
#include <string.h>

enum calc commission_calc(json_t *terms, int64_t deal, const char *currency, int64_t *amount,
                          int *discount_bps) {
    json_t *comp = json_object_get(terms, "compensation");
    const char *model = json_string_value(json_object_get(comp, "model"));
    *discount_bps = (int)json_integer_value(json_object_get(terms, "client_discount_bps"));
    *amount = 0;
    if (!model || !strcmp(model, "none")) return CALC_NONE;
    if (!strcmp(model, "fixed")) {
        if (strcmp(json_string_value(json_object_get(comp, "currency")), currency) != 0)
            return CALC_CURRENCY_MISMATCH;
        *amount = json_integer_value(json_object_get(comp, "amount"));
        return CALC_AMOUNT;
    }
    *amount = money_percent(deal, (int)json_integer_value(json_object_get(comp, "rate_bps")));
    json_t *cap = json_object_get(comp, "cap");
    if (json_is_object(cap)) {
        if (strcmp(json_string_value(json_object_get(cap, "currency")), currency) != 0)
            return CALC_CURRENCY_MISMATCH;
        int64_t limit = json_integer_value(json_object_get(cap, "amount"));
        if (*amount > limit) *amount = limit;
    }
    return CALC_AMOUNT;
}
