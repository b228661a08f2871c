/* Unit tests for agreement terms validation and prospect normalisation. */
#include "api/prospect.h"
#include "api/terms.h"
#include "tests/unit/unit.h"
#include <stdbool.h>
#include <string.h>

static int errors_for(const char *json) {
    json_error_t e;
    json_t *t = json_loads(json, 0, &e), *errs = json_array();
    terms_check(errs, "terms.", t);
    int n = (int)json_array_size(errs);
    json_decref(errs);
    json_decref(t);
    return n;
}

static bool has_field(const char *json, const char *field) {
    json_error_t e;
    json_t *t = json_loads(json, 0, &e), *errs = json_array();
    terms_check(errs, "terms.", t);
    bool found = false;
    size_t i;
    json_t *x;
    json_array_foreach(errs, i, x) if (!strcmp(json_string_value(json_object_get(x, "field")), field)) found = true;
    json_decref(errs);
    json_decref(t);
    return found;
}

void test_terms(void) {
    CHECK(errors_for("{\"compensation\":{\"model\":\"percentage\",\"rate_bps\":0}}") == 0);
    CHECK(errors_for("{\"compensation\":{\"model\":\"percentage\",\"rate_bps\":10000,\"cap\":{\"amount\":0,\"currency\":\"JPY\"}}}") == 0);
    /* Amounts stop at MONEY_MAX (10^15 minor units), for the fixed amount and the cap alike. */
    CHECK(errors_for("{\"compensation\":{\"model\":\"fixed\",\"amount\":1000000000000000,\"currency\":\"KWD\"}}") == 0);
    CHECK(has_field("{\"compensation\":{\"model\":\"fixed\",\"amount\":1000000000000001,\"currency\":\"KWD\"}}",
                    "terms.compensation.amount"));
    CHECK(has_field("{\"compensation\":{\"model\":\"fixed\",\"amount\":9223372036854775807,\"currency\":\"KWD\"}}",
                    "terms.compensation.amount"));
    CHECK(has_field("{\"compensation\":{\"model\":\"percentage\",\"rate_bps\":1,\"cap\":{\"amount\":1000000000000001,\"currency\":\"EUR\"}}}",
                    "terms.compensation.cap.amount"));
    CHECK(errors_for("{\"compensation\":{\"model\":\"none\"},\"client_discount_bps\":10000}") == 0);
    CHECK(has_field("{\"compensation\":{\"model\":\"percentage\",\"rate_bps\":10001}}", "terms.compensation.rate_bps"));
    CHECK(has_field("{\"compensation\":{\"model\":\"percentage\"}}", "terms.compensation.rate_bps"));
    CHECK(has_field("{\"compensation\":{\"model\":\"fixed\",\"amount\":1}}", "terms.compensation.currency"));
    CHECK(has_field("{\"compensation\":{\"model\":\"fixed\",\"amount\":1,\"currency\":\"ABC\"}}", "terms.compensation.currency"));
    CHECK(has_field("{\"compensation\":{\"model\":\"none\",\"rate_bps\":5}}", "terms.compensation.rate_bps"));
    CHECK(has_field("{\"compensation\":{\"model\":\"percentage\",\"rate_bps\":5,\"cap\":{\"amount\":-1,\"currency\":\"EUR\"}}}",
                    "terms.compensation.cap.amount"));
    CHECK(has_field("{}", "terms.compensation"));
    CHECK(has_field("{\"compensation\":{\"model\":\"none\"},\"payment_terms\":{}}", "terms.payment_terms.net_days"));
    CHECK(has_field("{\"compensation\":{\"model\":\"none\"},\"acknowledge_within_hours\":721}", "terms.acknowledge_within_hours"));
    CHECK(has_field("{\"compensation\":{\"model\":\"none\"},\"x\":1}", "terms.x"));
    /* Defaults are filled only into valid terms. */
    json_error_t e;
    json_t *t = json_loads("{\"compensation\":{\"model\":\"none\"}}", 0, &e), *errs = json_array();
    terms_check(errs, "terms.", t);
    CHECK(json_integer_value(json_object_get(t, "acknowledge_within_hours")) == 48);
    CHECK(json_integer_value(json_object_get(t, "protection_days")) == 90);
    CHECK(json_integer_value(json_object_get(json_object_get(t, "payment_terms"), "net_days")) == 30);
    CHECK(json_is_false(json_object_get(t, "disclosure_required")));
    json_decref(t);
    json_decref(errs);

    char out[256];
    prospect_email_key("Ada@Example.COM", out, sizeof out);
    CHECK(!strcmp(out, "ada@example.com"));
    prospect_email_key(NULL, out, sizeof out);
    CHECK(out[0] == '\0');
    prospect_domain_key("Bob@Lovelace-Corp.example", out, sizeof out);
    CHECK(!strcmp(out, "lovelace-corp.example"));
    prospect_domain_key("someone@GMAIL.com", out, sizeof out);
    CHECK(out[0] == '\0');
    prospect_domain_key("no-at-sign", out, sizeof out);
    CHECK(out[0] == '\0');
}
