/* ISO 4217 currencies and their minor-unit exponents. */
#ifndef ALLIED_CURRENCY_H
#define ALLIED_CURRENCY_H

/* Minor-unit exponent of an active ISO 4217 code (JPY 0, USD 2, KWD 3), or -1 if unknown. */
int currency_exponent(const char *code);
#endif
