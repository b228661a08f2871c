/* Back-off for background loops (the webhook dispatcher and any worker to come): how long to wait
 * after the n-th failure in a row. Pure; the caller supplies the randomness. */
#ifndef ALLIED_BACKOFF_H
#define ALLIED_BACKOFF_H
#include <stdint.h>

/* Milliseconds to wait after `failures` (>= 1) consecutive failures: d = min(cap_ms, base_ms ·
 * 2^(failures-1)), then "equal jitter": d/2 plus a random part of d/2 taken from `rnd`, so many
 * instances that lost the database together do not come back in lock step. Never less than 1 ms
 * nor more than cap_ms; base_ms and cap_ms are clamped to at least 1. */
int backoff_delay_ms(int base_ms, int cap_ms, int failures, uint32_t rnd);

/* For a loop that just failed once more: counts the failure in `*failures` (up to 30) and returns
 * the wait before its next try, between ALLIED_BACKOFF_MIN_MS and ALLIED_BACKOFF_MAX_MS, jittered. */
int backoff_after_failure(int *failures);
#endif
