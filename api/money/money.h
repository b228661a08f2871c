/* Money arithmetic on int64 minor units: percentage with half-up rounding, largest-remainder
 * splits, overflow-checked sums, and formatting. Pure, no I/O. */
#ifndef ALLIED_MONEY_H
#define ALLIED_MONEY_H
#include "server/edge/json_in.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest amount, in minor units, that Allied accepts or stores anywhere (deals, fixed
 * commissions, caps, commissions, invoice lines and totals): 10^15, ten trillion euros, beyond
 * any real deal. It keeps every sum of up to 9,000 amounts inside int64, and every single amount
 * inside the integers a JSON client reads exactly (2^53 - 1). Enforced on input (FT_AMOUNT) and
 * by CHECK constraints (migrations/0010). Report totals may still exceed it (see REPORT_JSON_SAFE_MAX). */
#define MONEY_MAX INT64_C(1000000000000000)
#define MONEY_MAX_TEXT "1000000000000000"

/* Integers beyond 2^53 - 1 are not read exactly by JSON clients that use doubles (JavaScript). */
#define MONEY_JSON_SAFE_MAX INT64_C(9007199254740991)

/* amount × rate_bps / 10000, rounded half away from zero (half-up for the non-negative amounts of
 * deals). rate_bps in 0..10000, so the result always fits. */
int64_t money_percent(int64_t amount, int rate_bps);

/* Splits `total` (>= 0) into n parts proportional to shares_bps (summing to 10000) by largest
 * remainder: each part gets floor(total × share / 10000); the units left over go one each to the
 * parts with the largest remainders (earlier parts first on ties). The parts sum exactly to
 * total. Returns false if the shares do not sum to 10000 or any is outside 0..10000. */
bool money_split(int64_t total, const int *shares_bps, int n, int64_t *parts);

/* *sum += v; false (and *sum unchanged) on int64 overflow. */
bool money_add(int64_t *sum, int64_t v);

/* "1234.56 EUR" style text for `amount` minor units with the currency's exponent
 * (JPY "1234 JPY", KWD "1.234 KWD"). Returns false for an unknown currency. */
bool money_format(int64_t amount, const char *currency, char *out, size_t cap);

/* As money_format, for an amount given as a decimal integer string of any length ("-123", as in
 * a report's amount_string). Returns false for an unknown currency, a malformed number, or an
 * `out` too small (then `out` is ""). */
bool money_format_digits(const char *minor, const char *currency, char *out, size_t cap);
/* Field checks for input tables (server/edge/json_in.h, FT_CHECK): an amount in minor units
 * (an integer in 0..MONEY_MAX) and an active ISO 4217 currency code. NULL, or a static message. */
const char *money_amount_check(json_t *v);
const char *money_currency_check(json_t *v);
#define FIELD_AMOUNT(name, flags) {name, FT_CHECK, flags, 0, 0, NULL, money_amount_check}
#define FIELD_CURRENCY(name, flags) {name, FT_CHECK, flags, 0, 0, NULL, money_currency_check}
#endif
