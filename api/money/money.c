/* Money arithmetic: every figure exact, every total adding up. */
#include "api/money/money.h"
#include "api/money/currency.h"
#include <stdio.h>
#include <string.h>

int64_t money_percent(int64_t amount, int rate_bps) {
    __int128 p = (__int128)amount * rate_bps;
    __int128 q = p / 10000, r = p % 10000;
    if (r >= 5000) q++;
    else if (r <= -5000) q--;
    return (int64_t)q;
}

bool money_split(int64_t total, const int *shares_bps, int n, int64_t *parts) {
    int sum = 0;
    if (total < 0 || n <= 0) return false;
    for (int i = 0; i < n; i++) {
        if (shares_bps[i] < 0 || shares_bps[i] > 10000) return false;
        sum += shares_bps[i];
    }
    if (sum != 10000) return false;
    int64_t given = 0;
    int64_t rem[64];
    if (n > 64) return false;
    for (int i = 0; i < n; i++) {
        __int128 p = (__int128)total * shares_bps[i];
        parts[i] = (int64_t)(p / 10000);
        rem[i] = (int64_t)(p % 10000);
        given += parts[i];
    }
    for (int64_t left = total - given; left > 0; left--) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (rem[i] >= 0 && (best < 0 || rem[i] > rem[best])) best = i;
        parts[best]++;
        rem[best] = -1; /* each part gets at most one extra unit */
    }
    return true;
}

bool money_add(int64_t *sum, int64_t v) {
    int64_t r;
    if (__builtin_add_overflow(*sum, v, &r)) return false;
    *sum = r;
    return true;
}

bool money_format_digits(const char *minor, const char *currency, char *out, size_t cap) {
    int exp = currency_exponent(currency);
    if (cap) *out = '\0';
    if (exp < 0 || !minor) return false;
    bool neg = *minor == '-';
    const char *d = minor + neg;
    size_t n = strlen(d);
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++)
        if (d[i] < '0' || d[i] > '9') return false;
    while (n > 1 && *d == '0') d++, n--; /* no leading zeros */
    /* integer part, '.', exp fraction digits (zero-padded on the left), " XXX" */
    size_t whole = n > (size_t)exp ? n - (size_t)exp : 1;
    size_t need = neg + whole + (exp ? 1 + (size_t)exp : 0) + 1 + strlen(currency) + 1;
    if (need > cap) return false;
    char *w = out;
    if (neg && !(n == 1 && *d == '0')) *w++ = '-';
    char digits[512];
    if (n + (size_t)exp + 1 > sizeof digits) {
        *out = '\0';
        return false;
    }
    /* left-pad to at least exp + 1 digits so there is always an integer digit */
    size_t pad = n < (size_t)exp + 1 ? (size_t)exp + 1 - n : 0;
    memset(digits, '0', pad);
    memcpy(digits + pad, d, n);
    size_t total = pad + n;
    memcpy(w, digits, total - (size_t)exp);
    w += total - (size_t)exp;
    if (exp) {
        *w++ = '.';
        memcpy(w, digits + total - (size_t)exp, (size_t)exp);
        w += exp;
    }
    *w++ = ' ';
    strcpy(w, currency);
    return true;
}

bool money_format(int64_t amount, const char *currency, char *out, size_t cap) {
    int exp = currency_exponent(currency);
    if (exp < 0) return false;
    /* Work on the magnitude as unsigned so INT64_MIN is printable. */
    uint64_t mag = amount < 0 ? (uint64_t)0 - (uint64_t)amount : (uint64_t)amount;
    uint64_t div = 1;
    for (int i = 0; i < exp; i++) div *= 10;
    char frac[8] = "";
    if (exp > 0) {
        /* exp is at most 4 (ISO 4217); digits written right to left, zero-padded. */
        uint64_t f = mag % div;
        frac[0] = '.';
        for (int i = exp; i >= 1; i--, f /= 10) frac[i] = (char)('0' + f % 10);
        frac[exp + 1] = '\0';
    }
    snprintf(out, cap, "%s%llu%s %s", amount < 0 ? "-" : "", (unsigned long long)(mag / div), frac, currency);
    return true;
}

const char *money_amount_check(json_t *v) {
    if (!json_is_integer(v)) return "must be an integer number of minor units";
    if (json_integer_value(v) < 0 || json_integer_value(v) > MONEY_MAX)
        return "must be between 0 and " MONEY_MAX_TEXT " minor units";
    return NULL;
}

const char *money_currency_check(json_t *v) {
    if (!json_is_string(v)) return "must be a string";
    return currency_exponent(json_string_value(v)) >= 0 ? NULL : "must be an ISO 4217 currency code such as EUR";
}
