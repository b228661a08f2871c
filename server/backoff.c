/* Exponential back-off with jitter and a cap, for loops that must not spin while a dependency
 * (PostgreSQL) is away. */
#include "server/backoff.h"
#include "server/config.h"
#include "server/util.h"

int backoff_delay_ms(int base_ms, int cap_ms, int failures, uint32_t rnd) {
    if (base_ms < 1) base_ms = 1;
    if (cap_ms < 1) cap_ms = 1;
    if (failures < 1) failures = 1;
    int64_t d = base_ms;
    for (int i = 1; i < failures && d < cap_ms; i++)
        d *= 2; /* stops at the cap: no overflow */
    if (d > cap_ms) d = cap_ms;
    int64_t half = d / 2;
    int64_t out = d - half + (int64_t)(rnd % (uint32_t)(half + 1)); /* in [d - d/2, d] */
    return out < 1 ? 1 : (int)out;
}

int backoff_after_failure(int *failures) {
    uint32_t rnd;
    random_bytes((unsigned char *)&rnd, sizeof rnd);
    if (*failures < 30) (*failures)++;
    return backoff_delay_ms(cfg.backoff_min_ms, cfg.backoff_max_ms, *failures, rnd);
}
