/* Unit tests for pagination cursors: round trip, and every kind of forgery is refused. */
#include "server/edge/pagination.h"
#include "server/util.h"
#include "tests/unit/unit.h"
#include <string.h>

#define TS "2026-11-23T11:09:30.085407Z"
#define ID "7873946d-e305-4f62-967f-2076474724da"
#define SCOPE "11111111-2222-3333-4444-555555555555 /v1/partners"

static const unsigned char KEY[32] = "0123456789abcdef0123456789abcdef";

void test_pagination(void) {
    char cur[PAGE_CURSOR_MAX], ts[40], id[37];
    page_cursor_set_key(KEY, sizeof KEY);
    CHECK(page_cursor_encode(SCOPE, TS, ID, cur) == 0);
    CHECK(strlen(cur) < PAGE_CURSOR_MAX);
    /* The tag is HMAC-SHA256(key, scope NUL "ts|id") cut to 16 bytes, computed apart (Python's
     * hmac): a cursor from another instance or an older build stays valid. */
    CHECK(strcmp(cur, "wmHXltE04loNqdqCJDekyzIwMjYtMTEtMjNUMTE6MDk6MzAuMDg1NDA3Wnw3ODczOTQ2ZC1lMzA1LTRmNjItOTY3Zi0yMDc2"
                      "NDc0NzI0ZGE") == 0);
    CHECK(page_cursor_encode(SCOPE, TS, ID, cur) == 0); /* again, on the context kept for this thread */
    CHECK(strcmp(cur, "wmHXltE04loNqdqCJDekyzIwMjYtMTEtMjNUMTE6MDk6MzAuMDg1NDA3Wnw3ODczOTQ2ZC1lMzA1LTRmNjItOTY3Zi0yMDc2"
                      "NDc0NzI0ZGE") == 0);
    CHECK(page_cursor_decode(SCOPE, cur, ts, id) == 0);
    CHECK(strcmp(ts, TS) == 0);
    CHECK(strcmp(id, ID) == 0);
    CHECK(page_cursor_decode(SCOPE, "", ts, id) == -1);
    CHECK(page_cursor_decode(SCOPE, "abc", ts, id) == -1);
    CHECK(page_cursor_decode(SCOPE, "!!!!", ts, id) == -1);
    /* Well-formed base64 of the wrong content. */
    CHECK(page_cursor_decode(SCOPE, "aGVsbG8", ts, id) == -1); /* "hello" */
    CHECK(page_cursor_decode(SCOPE, "eHx5", ts, id) == -1);    /* "x|y" */
    /* A raw timestamptz (DateStyle ISO, UTC) in the API's form; anything else refused. */
    char api[40];
    CHECK(page_ts_from_pg("2026-11-23 11:09:30.085407+00", api) == 0 && strcmp(api, TS) == 0);
    CHECK(page_ts_from_pg("2026-11-23 11:09:30.0854+00", api) == 0 && strcmp(api, "2026-11-23T11:09:30.085400Z") == 0);
    CHECK(page_ts_from_pg("2026-11-23 11:09:30+00", api) == 0 && strcmp(api, "2026-11-23T11:09:30.000000Z") == 0);
    CHECK(page_ts_from_pg("2026-11-23 11:09:30.1+00", api) == 0 && strcmp(api, "2026-11-23T11:09:30.100000Z") == 0);
    CHECK(page_ts_from_pg("2026-11-23 11:09:30.085407+01", api) == -1 && api[0] == '\0');
    CHECK(page_ts_from_pg("2026-11-23 11:09:30.085407", api) == -1);
    CHECK(page_ts_from_pg("2026-11-23 11:09:30.+00", api) == -1);
    CHECK(page_ts_from_pg("2026-11-23 11:09:30.0854071+00", api) == -1);
    CHECK(page_ts_from_pg("2026-11-23T11:09:30.085407Z", api) == -1);
    CHECK(page_ts_from_pg("11/23/2026 11:09:30.085407 UTC", api) == -1);
    CHECK(page_ts_from_pg("2026-11-23 11:09:30.085407+00 BC", api) == -1);
    CHECK(page_ts_from_pg("", api) == -1 && page_ts_from_pg("2026-11-23 11:0", api) == -1);
    CHECK(timestamp_valid(TS) && page_ts_from_pg("2026-11-23 11:09:30+00", api) == 0 && timestamp_valid(api));
    /* The old unsigned form (base64url of "ts|id") is no longer a cursor. */
    char plain[PAGE_CURSOR_MAX];
    b64url_encode((const unsigned char *)TS "|" ID, strlen(TS "|" ID), plain);
    CHECK(page_cursor_decode(SCOPE, plain, ts, id) == -1);
    /* Every single-character edit of a valid cursor is refused. */
    const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    int accepted = 0;
    for (size_t i = 0; cur[i]; i++) {
        char edited[PAGE_CURSOR_MAX];
        strcpy(edited, cur);
        for (const char *a = alphabet; *a; a++) {
            if (*a == cur[i]) continue;
            edited[i] = *a;
            if (page_cursor_decode(SCOPE, edited, ts, id) == 0) accepted++;
        }
    }
    CHECK(accepted == 0);
    /* The payload re-signed nowhere: the tag of one list does not open another. */
    CHECK(page_cursor_decode("11111111-2222-3333-4444-555555555555 /v1/agreements", cur, ts, id) ==
          -1);
    CHECK(page_cursor_decode("99999999-2222-3333-4444-555555555555 /v1/partners", cur, ts, id) ==
          -1);
    /* Truncated and extended cursors. */
    char shorter[PAGE_CURSOR_MAX];
    strcpy(shorter, cur);
    shorter[strlen(shorter) - 4] = '\0';
    CHECK(page_cursor_decode(SCOPE, shorter, ts, id) == -1);
    char longer[PAGE_CURSOR_MAX + 8];
    strcpy(longer, cur);
    strcat(longer, "AAAA");
    CHECK(page_cursor_decode(SCOPE, longer, ts, id) == -1);
    char longc[300];
    memset(longc, 'A', 299);
    longc[299] = '\0';
    CHECK(page_cursor_decode(SCOPE, longc, ts, id) == -1);
    /* Over-long parts are not encoded. */
    CHECK(page_cursor_encode(SCOPE, TS "xxxxxxxxxxxxxxxxxxxxxxxxxxxx", ID, cur) == -1 &&
          cur[0] == '\0');
    /* Another key (a rotated secret, or another database) refuses the old cursors. */
    char before[PAGE_CURSOR_MAX];
    CHECK(page_cursor_encode(SCOPE, TS, ID, before) == 0);
    static const unsigned char OTHER[32] = "fedcba9876543210fedcba9876543210";
    page_cursor_set_key(OTHER, sizeof OTHER);
    CHECK(page_cursor_decode(SCOPE, before, ts, id) == -1);
    page_cursor_set_key(KEY, sizeof KEY);
    CHECK(page_cursor_decode(SCOPE, before, ts, id) == 0);
}
