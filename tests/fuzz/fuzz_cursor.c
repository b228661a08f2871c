/* Fuzzes cursor decoding and the encodings under it: an arbitrary cursor is refused unless it
 * is exactly one we signed for that list; (ts, id) round-trip through a cursor; base64url
 * round-trips; and the date, timestamp, UUID and request-id checks never read out of bounds.
 * Input: cursor NUL ts NUL id NUL scope (each part optional). */
#include "server/edge/pagination.h"
#include "server/util.h"
#include "tests/fuzz/shim.h"
#include <stdlib.h>
#include <string.h>

#define SCOPE "11111111-2222-3333-4444-555555555555 /v1/partners"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_cursor_key();
    const uint8_t *raw = data;
    size_t rawlen = size;
    char *cursor = fuzz_take(&data, &size);
    char *ts = fuzz_take(&data, &size);
    char *id = fuzz_take(&data, &size);
    char *scope = fuzz_take(&data, &size);
    if (!cursor) return 0;
    char dts[40], did[37], enc[PAGE_CURSOR_MAX];

    /* A cursor from the input: decoded only if it is what we would sign for its content. */
    if (page_cursor_decode(SCOPE, cursor, dts, did) == 0) {
        FUZZ_ASSERT(timestamp_valid(dts) && uuid_valid(did));
        FUZZ_ASSERT(page_cursor_encode(SCOPE, dts, did, enc) == 0 && strcmp(enc, cursor) == 0);
    }
    /* (ts, id) -> cursor -> (ts, id), only within its own scope. */
    if (ts && id && page_cursor_encode(scope ? scope : SCOPE, ts, id, enc) == 0) {
        FUZZ_ASSERT(strlen(enc) < PAGE_CURSOR_MAX);
        int rc = page_cursor_decode(scope ? scope : SCOPE, enc, dts, did);
        bool valid = timestamp_valid(ts) && uuid_valid(id);
        FUZZ_ASSERT(valid ? rc == 0 : rc == -1);
        if (rc == 0) FUZZ_ASSERT(strcmp(dts, ts) == 0 && strcmp(did, id) == 0);
        if (scope && strcmp(scope, SCOPE) != 0)
            FUZZ_ASSERT(page_cursor_decode(SCOPE, enc, dts, did) == -1);
    }
    /* base64url of the raw input round-trips; decoding never writes past its buffer. */
    size_t n = rawlen > 300 ? 300 : rawlen;
    char *b = malloc(4 * ((n + 2) / 3) + 1);
    unsigned char *back = malloc(n + 1);
    if (!b || !back) abort();
    size_t blen = b64url_encode(raw, n, b);
    FUZZ_ASSERT(blen == strlen(b));
    FUZZ_ASSERT(b64url_decode(b, back, n) == (long)n && memcmp(back, raw, n) == 0);
    long dn = b64url_decode(cursor, back, n);
    FUZZ_ASSERT(dn >= -1 && dn <= (long)n);
    free(b);
    free(back);
    /* The syntax checks the cursor and the query rely on. */
    (void)date_valid(cursor);
    (void)timestamp_valid(cursor);
    (void)uuid_valid(cursor);
    (void)request_id_sane(cursor);
    (void)printable_ascii(cursor, 64);
    free(cursor);
    free(ts);
    free(id);
    free(scope);
    return 0;
}
