/* Fuzzes money arithmetic and currency parsing: percentages round half away from zero and stay
 * within the amount, largest-remainder splits add up exactly, overflow is refused, formatting
 * reads back as the same minor units, and currency codes parse only when listed.
 * Input: 8 bytes amount, 2 bytes rate, 8 bytes addend, 3 bytes currency, then shares (2 bytes
 * each). */
#include "api/money/currency.h"
#include "api/money/money.h"
#include "tests/fuzz/shim.h"
#include <stdlib.h>
#include <string.h>

static uint64_t take(const uint8_t **d, size_t *n, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) {
        v = v << 8 | (*n ? **d : 0);
        if (*n) {
            (*d)++;
            (*n)--;
        }
    }
    return v;
}

/* Parses money_format's output back into minor units. */
static bool parse_back(const char *s, int exp, const char *cur, int64_t *out) {
    bool neg = *s == '-';
    if (neg) s++;
    __int128 v = 0;
    int frac = -1;
    for (; *s && *s != ' '; s++) {
        if (*s == '.') {
            if (frac >= 0) return false;
            frac = 0;
            continue;
        }
        if (*s < '0' || *s > '9') return false;
        v = v * 10 + (*s - '0');
        if (frac >= 0) frac++;
    }
    if ((exp == 0 && frac != -1) || (exp > 0 && frac != exp)) return false;
    if (*s != ' ' || strcmp(s + 1, cur) != 0) return false;
    if (neg) v = -v;
    if (v < INT64_MIN || v > INT64_MAX) return false;
    *out = (int64_t)v;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int64_t amount = (int64_t)take(&data, &size, 8);
    int rate = (int)(take(&data, &size, 2) % 10001);
    int64_t addend = (int64_t)take(&data, &size, 8);
    char cur[4] = {0};
    for (int i = 0; i < 3; i++)
        cur[i] = (char)take(&data, &size, 1);

    /* Percent: |result| <= |amount|, and within half a unit of the exact value. */
    int64_t p = money_percent(amount, rate);
    __int128 exact = (__int128)amount * rate; /* ×10000 */
    __int128 diff = (__int128)p * 10000 - exact;
    FUZZ_ASSERT(diff <= 5000 && diff >= -5000);
    FUZZ_ASSERT(amount >= 0 ? (p >= 0 && p <= amount) : (p <= 0 && p >= amount));

    /* Add: refused exactly when the true sum does not fit. */
    int64_t sum = amount;
    __int128 truth = (__int128)amount + addend;
    bool fits = truth >= INT64_MIN && truth <= INT64_MAX;
    FUZZ_ASSERT(money_add(&sum, addend) == fits);
    FUZZ_ASSERT(fits ? sum == (int64_t)truth : sum == amount);

    /* Split: shares from the rest of the input, normalised to sum 10000 (or left raw). */
    int shares[64];
    int64_t parts[64];
    int n = 0, total = 0;
    while (size >= 2 && n < 64) {
        shares[n] = (int)(take(&data, &size, 2) % 10001);
        total += shares[n++];
    }
    if (n > 0) {
        int64_t whole = amount < 0 ? -(amount + 1) : amount;
        if (total != 10000 && (size & 1) == 0) { /* usually make them valid */
            int left = 10000;
            for (int i = 0; i < n; i++) {
                shares[i] =
                    i == n - 1 ? left : (int)((long long)shares[i] * 10000 / (total ? total : 1));
                if (shares[i] > left) shares[i] = left;
                left -= shares[i];
            }
        }
        int s = 0;
        bool valid = true;
        for (int i = 0; i < n; i++) {
            s += shares[i];
            if (shares[i] < 0 || shares[i] > 10000) valid = false;
        }
        valid = valid && s == 10000;
        bool ok = money_split(whole, shares, n, parts);
        FUZZ_ASSERT(ok == valid);
        if (ok) {
            __int128 back = 0;
            for (int i = 0; i < n; i++) {
                FUZZ_ASSERT(parts[i] >= 0 && parts[i] <= whole);
                /* Each part is its floor share or one more. */
                __int128 fl = (__int128)whole * shares[i] / 10000;
                FUZZ_ASSERT(parts[i] == fl || parts[i] == fl + 1);
                back += parts[i];
            }
            FUZZ_ASSERT(back == whole);
        }
    }

    /* Currency codes and formatting. */
    int exp = currency_exponent(cur);
    FUZZ_ASSERT(exp >= -1 && exp <= 4);
    if (exp >= 0) FUZZ_ASSERT(strlen(cur) == 3 && cur[0] >= 'A' && cur[0] <= 'Z');
    char out[64], nul_cur[8] = {0};
    memcpy(nul_cur, cur, 3);
    bool formatted = money_format(amount, nul_cur, out, sizeof out);
    FUZZ_ASSERT(formatted == (exp >= 0));
    if (formatted) {
        int64_t back;
        FUZZ_ASSERT(parse_back(out, exp, nul_cur, &back) && back == amount);
    }
    return 0;
}
