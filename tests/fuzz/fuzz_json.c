/* Fuzzes a JSON request body: Content-Type, strict parsing, depth, every field type of the
 * declarative validation (whole and partial), agreement terms with their defaults, and the
 * commission computed from valid terms. Every answer must be valid JSON; every refusal a 4xx. */
#include "api/money/commission_calc.h"
#include "api/terms.h"
#include "server/edge/json_in.h"
#include "api/money/money.h"
#include "server/edge/reply.h"
#include "tests/fuzz/shim.h"
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static const char *const KINDS[] = {"referral", "expert", "reseller", NULL};

/* One field of each type, with the limits the handlers use. */
static const struct field FIELDS[] = {
    {"name", FT_STRING, F_REQUIRED, 200, 0, NULL},
    {"notes", FT_TEXT, F_NULLABLE, 5000, 0, NULL},
    {"email", FT_EMAIL, F_NULLABLE, 0, 0, NULL},
    {"website", FT_URL, F_NULLABLE, 0, 0, NULL},
    {"kind", FT_ENUM, 0, 0, 0, KINDS},
    {"partner_id", FT_UUID, 0, 0, 0, NULL},
    {"starts_on", FT_DATE, F_NULLABLE, 0, 0, NULL},
    {"deal_amount", FT_INT, 0, LLONG_MAX, 0, NULL},
    {"rate_bps", FT_INT, 0, 10000, 1, NULL},
    {"active", FT_BOOL, 0, 0, 0, NULL},
    {"metadata", FT_OBJECT, 0, 16384, 0, NULL},
    {"tags", FT_TAGS, 0, 50, 0, NULL},
    FIELD_CURRENCY("currency", 0),
    {"items", FT_ARRAY, 0, 100, 0, NULL},
    {"terms", FT_OBJECT, 0, 65536, 0, NULL},
    {"id", FT_UUID, F_READONLY, 0, 0, NULL},
};
#define NFIELDS (int)(sizeof FIELDS / sizeof FIELDS[0])

/* The response is one JSON object; a problem names its status and, for 400s, what was wrong. */
static void check_reply(struct request *rq) {
    if (rq->status == 0) return;
    FUZZ_ASSERT(rq->status >= 400 && rq->status < 500);
    FUZZ_ASSERT(rq->resp_body != NULL);
    json_error_t e;
    json_t *v = json_loadb(rq->resp_body, rq->resp_len, 0, &e);
    FUZZ_ASSERT(json_is_object(v));
    FUZZ_ASSERT(json_integer_value(json_object_get(v, "status")) == rq->status);
    /* A validation error names at least one field. */
    if (rq->status == 400 &&
        strstr(json_string_value(json_object_get(v, "type")), "validation-error"))
        FUZZ_ASSERT(json_array_size(json_object_get(v, "errors")) > 0);
    json_decref(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct request rq;
    fuzz_request_init(&rq, "/v1/partners");
    fuzz_add_header("Content-Type", "application/json; charset=utf-8");
    rq.body = malloc(size + 1);
    if (!rq.body) abort();
    memcpy(rq.body, data, size);
    rq.body[size] = '\0';
    rq.body_len = size;
    if (json_body_or_reply(&rq) != JIN_OK) {
        FUZZ_ASSERT(rq.status >= 400 && rq.json == NULL);
        check_reply(&rq);
        fuzz_request_free(&rq);
        return 0;
    }
    FUZZ_ASSERT(json_is_object(rq.json) && json_depth(rq.json) <= JSON_MAX_DEPTH);
    /* A key that is no field, or a read-only one, can never pass. */
    bool foreign = false;
    const char *k;
    json_t *val;
    json_object_foreach(rq.json, k, val) {
        bool known = false;
        for (int i = 0; i < NFIELDS; i++)
            if (strcmp(FIELDS[i].name, k) == 0 && !(FIELDS[i].flags & F_READONLY)) known = true;
        if (!known) foreign = true;
    }
    for (int partial = 0; partial <= 1; partial++) {
        reply_reset(&rq);
        int rc = json_fields_or_reply(&rq, rq.json, FIELDS, NFIELDS, partial);
        FUZZ_ASSERT(rc == JIN_OK ? rq.status == 0 : rq.status == 400);
        if (foreign) FUZZ_ASSERT(rc == JIN_REPLIED);
        check_reply(&rq);
    }
    json_t *terms = json_object_get(rq.json, "terms");
    if (json_is_object(terms)) {
        json_t *errors = json_array();
        terms_check(errors, "terms.", terms);
        if (json_array_size(errors) == 0) {
            /* Valid terms (now with defaults) against the body's deal. */
            json_t *d = json_object_get(rq.json, "deal_amount");
            const char *cur = json_string_value(json_object_get(rq.json, "currency"));
            int64_t deal =
                json_is_integer(d) && json_integer_value(d) >= 0 ? json_integer_value(d) : 100000;
            int64_t amount;
            int discount;
            enum calc c = commission_calc(terms, deal, cur ? cur : "EUR", &amount, &discount);
            FUZZ_ASSERT(c == CALC_AMOUNT || c == CALC_NONE || c == CALC_CURRENCY_MISMATCH);
            FUZZ_ASSERT(amount >= 0 && discount >= 0 && discount <= 10000);
            if (c == CALC_AMOUNT && !strcmp(json_string_value(json_object_get(
                                                json_object_get(terms, "compensation"), "model")),
                                            "percentage"))
                FUZZ_ASSERT(amount <= deal);
        } else {
            reply_reset(&rq);
            FUZZ_ASSERT(json_errors_or_ok(&rq, errors) == JIN_REPLIED);
            errors = NULL;
            check_reply(&rq);
        }
        json_decref(errors);
    }
    fuzz_request_free(&rq);
    return 0;
}
