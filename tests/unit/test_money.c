/* Unit tests for money: rounding at every tie and boundary, splits, overflow, formatting. */
#include "api/money/currency.h"
#include "api/money/money.h"
#include "tests/unit/unit.h"
#include <stdint.h>
#include <string.h>

void test_money(void) {
    /* Rounding: exact, below half, half, above half. */
    CHECK(money_percent(0, 1000) == 0);
    CHECK(money_percent(1, 0) == 0 && money_percent(1, 10000) == 1);
    CHECK(money_percent(1, 4999) == 0);           /* 0.4999 */
    CHECK(money_percent(1, 5000) == 1);           /* 0.5 ties go up */
    CHECK(money_percent(1, 5001) == 1);
    CHECK(money_percent(5, 1000) == 1);           /* 0.5 -> 1 */
    CHECK(money_percent(4, 1000) == 0);           /* 0.4 -> 0 */
    CHECK(money_percent(15, 1000) == 2);          /* 1.5 -> 2 */
    CHECK(money_percent(25, 1000) == 3);          /* 2.5 -> 3 (half-up, not banker's) */
    CHECK(money_percent(123456, 1250) == 15432);  /* 15432.0 */
    CHECK(money_percent(123460, 1250) == 15433);  /* 15432.5 -> 15433 */
    CHECK(money_percent(100000, 333) == 3330);
    CHECK(money_percent(99999, 1) == 10);         /* 9.9999 */
    CHECK(money_percent(-15, 1000) == -2);        /* symmetric for negatives */
    CHECK(money_percent(INT64_MAX, 10000) == INT64_MAX);
    CHECK(money_percent(INT64_MAX, 5000) == INT64_MAX / 2 + 1); /* ...807 / 2 = ...903.5 -> ...904 */
    CHECK(money_percent(INT64_MAX, 1) == 922337203685478);      /* 922337203685477.5807 -> ...478 */

    /* Splits sum exactly, by largest remainder. */
    int64_t parts[8];
    int three[] = {5000, 3000, 2000};
    CHECK(money_split(100, three, 3, parts) && parts[0] == 50 && parts[1] == 30 && parts[2] == 20);
    int odd[] = {3334, 3333, 3333};
    CHECK(money_split(100, odd, 3, parts) && parts[0] + parts[1] + parts[2] == 100 && parts[0] == 34 &&
          parts[1] == 33 && parts[2] == 33);
    CHECK(money_split(1, odd, 3, parts) && parts[0] == 1 && parts[1] == 0 && parts[2] == 0);
    int uneven[] = {7001, 1999, 1000};
    CHECK(money_split(999, uneven, 3, parts) && parts[0] + parts[1] + parts[2] == 999);
    CHECK(parts[0] == 699 && parts[1] == 200 && parts[2] == 100); /* 699.4, 199.7, 99.9 -> +1 to the two largest */
    int one[] = {10000};
    CHECK(money_split(INT64_MAX, one, 1, parts) && parts[0] == INT64_MAX);
    int halves[] = {5000, 5000};
    CHECK(money_split(INT64_MAX, halves, 2, parts) && parts[0] == INT64_MAX / 2 + 1 && parts[1] == INT64_MAX / 2);
    CHECK(money_split(0, three, 3, parts) && parts[0] == 0 && parts[2] == 0);
    int bad[] = {5000, 4999};
    CHECK(!money_split(100, bad, 2, parts));
    int neg[] = {10001, -1};
    CHECK(!money_split(100, neg, 2, parts) && !money_split(-1, one, 1, parts));
    for (int64_t total = 0; total < 300; total++) {
        int s[] = {1234, 4321, 4445};
        CHECK(money_split(total, s, 3, parts) && parts[0] + parts[1] + parts[2] == total);
    }

    /* Overflow-checked sums. */
    int64_t sum = INT64_MAX - 1;
    CHECK(money_add(&sum, 1) && sum == INT64_MAX);
    CHECK(!money_add(&sum, 1) && sum == INT64_MAX);
    sum = INT64_MIN;
    CHECK(!money_add(&sum, -1) && money_add(&sum, 5));

    /* Currencies and formatting. */
    CHECK(currency_exponent("JPY") == 0 && currency_exponent("USD") == 2 && currency_exponent("KWD") == 3);
    CHECK(currency_exponent("usd") == -1 && currency_exponent("XXX") == -1 && currency_exponent("EURO") == -1);
    char out[64];
    CHECK(money_format(123456, "EUR", out, sizeof out) && !strcmp(out, "1234.56 EUR"));
    CHECK(money_format(5, "USD", out, sizeof out) && !strcmp(out, "0.05 USD"));
    CHECK(money_format(-5, "USD", out, sizeof out) && !strcmp(out, "-0.05 USD"));
    CHECK(money_format(1234, "JPY", out, sizeof out) && !strcmp(out, "1234 JPY"));
    CHECK(money_format(1234, "KWD", out, sizeof out) && !strcmp(out, "1.234 KWD"));
    CHECK(money_format(INT64_MIN, "USD", out, sizeof out) && !strcmp(out, "-92233720368547758.08 USD"));
    CHECK(!money_format(1, "ZZZ", out, sizeof out));

    /* Report totals beyond int64 are formatted from their exact decimal string. */
    CHECK(money_format_digits("123456", "EUR", out, sizeof out) && !strcmp(out, "1234.56 EUR"));
    CHECK(money_format_digits("5", "USD", out, sizeof out) && !strcmp(out, "0.05 USD"));
    CHECK(money_format_digits("-5", "USD", out, sizeof out) && !strcmp(out, "-0.05 USD"));
    CHECK(money_format_digits("0", "KWD", out, sizeof out) && !strcmp(out, "0.000 KWD"));
    CHECK(money_format_digits("-0", "USD", out, sizeof out) && !strcmp(out, "0.00 USD"));
    CHECK(money_format_digits("007", "JPY", out, sizeof out) && !strcmp(out, "7 JPY"));
    CHECK(money_format_digits("100000000000000000000000", "EUR", out, sizeof out) &&
          !strcmp(out, "1000000000000000000000.00 EUR"));
    CHECK(money_format_digits("-9223372036854775808", "USD", out, sizeof out) && !strcmp(out, "-92233720368547758.08 USD"));
    CHECK(!money_format_digits("12a", "EUR", out, sizeof out) && !money_format_digits("", "EUR", out, sizeof out) &&
          !money_format_digits("-", "EUR", out, sizeof out) && !money_format_digits(NULL, "EUR", out, sizeof out) &&
          !money_format_digits("1", "ZZZ", out, sizeof out));
    CHECK(!money_format_digits("123456", "EUR", out, 11) && !strcmp(out, "")); /* "1234.56 EUR" needs 12 */
    CHECK(money_format_digits("123456", "EUR", out, 12) && !strcmp(out, "1234.56 EUR"));
    /* The limit: sums of 9,000 maximal amounts fit int64, a single one is JSON-safe. */
    int64_t many = 0;
    bool fits = true;
    for (int k = 0; k < 9000; k++) fits = fits && money_add(&many, MONEY_MAX);
    CHECK(fits && MONEY_MAX < MONEY_JSON_SAFE_MAX);
}
