/* Unit tests for pagination cursors. */
#include "server/pagination.h"
#include "tests/unit/unit.h"
#include <string.h>

void test_pagination(void) {
    char cur[128], ts[40], id[37];
    page_cursor_encode("2026-11-23T11:09:30.085407Z", "7873946d-e305-4f62-967f-2076474724da", cur);
    CHECK(page_cursor_decode(cur, ts, id) == 0);
    CHECK(strcmp(ts, "2026-11-23T11:09:30.085407Z") == 0);
    CHECK(strcmp(id, "7873946d-e305-4f62-967f-2076474724da") == 0);
    CHECK(page_cursor_decode("", ts, id) == -1);
    CHECK(page_cursor_decode("abc", ts, id) == -1);
    CHECK(page_cursor_decode("!!!!", ts, id) == -1);
    /* Well-formed base64 of the wrong content. */
    CHECK(page_cursor_decode("aGVsbG8", ts, id) == -1);               /* "hello" */
    CHECK(page_cursor_decode("eHx5", ts, id) == -1);                  /* "x|y" */
    char forged[128];
    page_cursor_encode("2026-11-23T11:09:30Z'; DROP", "7873946d-e305-4f62-967f-2076474724da", forged);
    CHECK(page_cursor_decode(forged, ts, id) == -1);
    char longc[300];
    memset(longc, 'A', 299);
    longc[299] = '\0';
    CHECK(page_cursor_decode(longc, ts, id) == -1);
}
