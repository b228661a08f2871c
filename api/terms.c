/* Agreement terms (DESIGN.md "Agreement terms"): scope, compensation, discount, payment terms,
 * holding and protection windows, acknowledgement deadline, guidelines, termination, disclosure. */
#include "api/terms.h"
#include "server/edge/json_in.h"
#include "api/money/money.h"
#include "server/text.h"
#include <limits.h>
#include <stdio.h>
#include <string.h>

static const char *const MODELS[] = {"percentage", "fixed", "none", NULL};

static const struct field TERMS[] = {
    FIELD_TEXT("scope", F_NULLABLE, 5000),
    FIELD_OBJECT("compensation", F_REQUIRED, 4096),
    FIELD_INT("client_discount_bps", 0, 0, 10000),
    FIELD_OBJECT("payment_terms", 0, 4096),
    FIELD_INT("holding_days", 0, 0, 365),
    FIELD_INT("acknowledge_within_hours", 0, 1, 720),
    FIELD_INT("protection_days", 0, 0, 730),
    FIELD_TEXT("guidelines", F_NULLABLE, 10000),
    FIELD_OBJECT("termination", 0, 8192),
    FIELD_BOOL("disclosure_required", 0),
};
static const struct field COMPENSATION[] = {
    FIELD_ENUM("model", F_REQUIRED, MODELS),
    FIELD_INT("rate_bps", 0, 0, 10000),
    FIELD_AMOUNT("amount", 0),
    FIELD_CURRENCY("currency", 0),
    FIELD_OBJECT("cap", F_NULLABLE, 1024),
};
static const struct field MONEY[] = {
    FIELD_AMOUNT("amount", F_REQUIRED),
    FIELD_CURRENCY("currency", F_REQUIRED),
};
static const struct field PAYMENT[] = {
    FIELD_INT("net_days", F_REQUIRED, 0, 365),
    FIELD_TEXT("method", F_NULLABLE, 100),
    FIELD_BOOL("self_billing", 0), /* absent: true, the partner may bill its payable commissions */
};
static const struct field TERMINATION[] = {
    FIELD_INT("notice_days", 0, 0, 365),
    FIELD_TEXT("conditions", F_NULLABLE, 5000),
};
#define N(a) (int)(sizeof a / sizeof a[0])

static void err(json_t *errors, const char *prefix, const char *field, const char *msg) {
    char name[512];
    text_format(name, sizeof name, "%s%s", prefix, field);
    json_array_append_new(errors, json_pack("{s:s, s:s}", "field", name, "message", msg));
}

static void nested(json_t *errors, const char *prefix, const char *key, json_t *obj,
                   const struct field *f, int n) {
    char p[300];
    text_format(p, sizeof p, "%s%s.", prefix, key);
    if (json_is_object(obj)) json_fields_collect(errors, p, obj, f, n, false);
}

static void compensation_rules(json_t *errors, const char *prefix, json_t *c) {
    const char *model = json_string_value(json_object_get(c, "model"));
    if (!model) return;
    bool pct = !strcmp(model, "percentage"), fixed = !strcmp(model, "fixed");
    char p[300];
    text_format(p, sizeof p, "%scompensation.", prefix);
    if (pct && !json_object_get(c, "rate_bps")) err(errors, p, "rate_bps", "is required for percentage");
    if (!pct && json_object_get(c, "rate_bps")) err(errors, p, "rate_bps", "is only for percentage");
    if (!pct && json_object_get(c, "cap")) err(errors, p, "cap", "is only for percentage");
    if (fixed && !json_object_get(c, "amount")) err(errors, p, "amount", "is required for fixed");
    if (fixed && !json_object_get(c, "currency")) err(errors, p, "currency", "is required for fixed");
    if (!fixed && json_object_get(c, "amount")) err(errors, p, "amount", "is only for fixed");
    if (!fixed && json_object_get(c, "currency")) err(errors, p, "currency", "is only for fixed");
    json_t *cap = json_object_get(c, "cap");
    if (json_is_object(cap)) nested(errors, p, "cap", cap, MONEY, N(MONEY));
}

static void default_int(json_t *o, const char *key, long long v) {
    if (!json_object_get(o, key)) json_object_set_new(o, key, json_integer(v));
}

void terms_check(json_t *errors, const char *prefix, json_t *terms) {
    size_t before = json_array_size(errors);
    json_fields_collect(errors, prefix, terms, TERMS, N(TERMS), false);
    json_t *c = json_object_get(terms, "compensation");
    if (json_is_object(c)) {
        nested(errors, prefix, "compensation", c, COMPENSATION, N(COMPENSATION));
        compensation_rules(errors, prefix, c);
    }
    nested(errors, prefix, "payment_terms", json_object_get(terms, "payment_terms"), PAYMENT, N(PAYMENT));
    nested(errors, prefix, "termination", json_object_get(terms, "termination"), TERMINATION,
           N(TERMINATION));
    if (json_array_size(errors) != before) return;
    default_int(terms, "client_discount_bps", 0);
    default_int(terms, "holding_days", 0);
    default_int(terms, "acknowledge_within_hours", 48);
    default_int(terms, "protection_days", 90);
    if (!json_object_get(terms, "disclosure_required"))
        json_object_set_new(terms, "disclosure_required", json_false());
    if (!json_object_get(terms, "payment_terms"))
        json_object_set_new(terms, "payment_terms", json_pack("{s:i}", "net_days", 30));
}
