/* Unit tests for server/util.c. */
#include "server/util.h"
#include "tests/unit/unit.h"
#include <string.h>

void test_util(void) {
    char u[37], v[37];
    uuid_new(u);
    uuid_new(v);
    CHECK(uuid_valid(u) && uuid_valid(v) && strcmp(u, v) != 0);
    CHECK(uuid_valid("00000000-0000-0000-0000-000000000000"));
    CHECK(uuid_valid("ABCDEF00-0000-0000-0000-00000000000a"));
    CHECK(!uuid_valid("00000000-0000-0000-0000-00000000000"));
    CHECK(!uuid_valid("00000000000000000000000000000000"));
    CHECK(!uuid_valid("0000000g-0000-0000-0000-000000000000"));
    CHECK(!uuid_valid(""));

    char out[64];
    unsigned char back[64];
    const char *samples[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\xfe\xfd"};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        size_t n = strlen(samples[i]);
        b64url_encode((const unsigned char *)samples[i], n, out);
        CHECK(b64url_decode(out, back, sizeof back) == (long)n && memcmp(back, samples[i], n) == 0);
    }
    b64url_encode((const unsigned char *)"\xfb\xff", 2, out);
    CHECK(strcmp(out, "-_8") == 0);
    CHECK(b64url_decode("a", back, sizeof back) == -1);
    CHECK(b64url_decode("ab=", back, sizeof back) == -1);
    CHECK(b64url_decode("a+b/", back, sizeof back) == -1);
    CHECK(b64url_decode("Zh", back, sizeof back) == -1); /* non-canonical trailing bits */
    CHECK(b64url_decode("Zg", back, 0) == -1);           /* no room */

    char h[65];
    sha256_hex("abc", 3, h);
    CHECK(strcmp(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);

    CHECK(date_valid("2026-02-28") && date_valid("2024-02-29") && date_valid("2000-02-29"));
    CHECK(!date_valid("2026-02-29") && !date_valid("1900-02-29") && !date_valid("2026-13-01"));
    CHECK(!date_valid("2026-1-01") && !date_valid("2026-01-32") && !date_valid("20260101"));
    CHECK(timestamp_valid("2026-11-23T11:09:30.085407Z") && timestamp_valid("2026-11-23T11:09:30Z"));
    CHECK(timestamp_valid("2026-11-23T11:09:30+02:00") && timestamp_valid("2026-11-23t11:09:30z"));
    CHECK(!timestamp_valid("2026-11-23 11:09:30Z") && !timestamp_valid("2026-11-23T11:09:30"));
    CHECK(!timestamp_valid("2026-11-23T24:00:00Z") && !timestamp_valid("2026-11-23T11:09:30.Z"));
    CHECK(!timestamp_valid("2026-11-23T11:09:30.1234567890Z") && !timestamp_valid("2026-02-30T00:00:00Z"));
    CHECK(!timestamp_valid("2026-11-23T11:09:30+0200") && !timestamp_valid(""));

    CHECK(request_id_sane("abc-123.DEF:9_x") && !request_id_sane("") && !request_id_sane("a b"));
    char longid[140];
    memset(longid, 'a', 129);
    longid[129] = '\0';
    CHECK(!request_id_sane(longid));
    longid[128] = '\0';
    CHECK(request_id_sane(longid));
    CHECK(printable_ascii("key-1", 255) && !printable_ascii("", 255) && !printable_ascii("a b", 255));
    CHECK(!printable_ascii("\x7f", 255) && !printable_ascii("abc", 2));
}
