/* Money arithmetic on int64 minor units: percentage with half-up rounding, largest-remainder
 * splits, overflow-checked sums, and formatting. Pure, no I/O. */
#ifndef ALLIED_MONEY_H
#define ALLIED_MONEY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
#endif
