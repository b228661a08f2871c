/* Unit tests for API key format helpers. */
#include "server/edge/auth.h"
#include "server/util.h"
#include "tests/unit/unit.h"
#include <string.h>

void test_auth(void) {
    char key[KEY_LEN + 1], prefix[KEY_PREFIX_LEN + 1], hash[65], parsed[KEY_PREFIX_LEN + 1], again[65];
    auth_key_generate(key, prefix, hash);
    CHECK(strlen(key) == KEY_LEN && strncmp(key, prefix, KEY_PREFIX_LEN) == 0);
    CHECK(auth_key_prefix(key, parsed) && strcmp(parsed, prefix) == 0);
    sha256_hex(key, strlen(key), again);
    CHECK(strcmp(hash, again) == 0);
    char other[KEY_LEN + 1], p2[KEY_PREFIX_LEN + 1], h2[65];
    auth_key_generate(other, p2, h2);
    CHECK(strcmp(key, other) != 0 && strcmp(prefix, p2) != 0);
    char bad[KEY_LEN + 2];
    strcpy(bad, key);
    bad[3] = 'G';
    CHECK(!auth_key_prefix(bad, parsed));
    strcpy(bad, key);
    bad[KEY_PREFIX_LEN] = '-';
    CHECK(!auth_key_prefix(bad, parsed));
    strcpy(bad, key);
    bad[KEY_LEN - 1] = '=';
    CHECK(!auth_key_prefix(bad, parsed));
    strcpy(bad, key);
    strcat(bad, "x");
    CHECK(!auth_key_prefix(bad, parsed) && !auth_key_prefix("", parsed));
    CHECK(auth_role_parse("admin") == ROLE_ADMIN && auth_role_parse("readonly") == ROLE_READONLY);
    CHECK(auth_role_parse("Admin") == 0 && auth_role_parse(NULL) == 0);
}
