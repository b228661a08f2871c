/* Unit tests for API key format helpers. */
#include "server/edge/auth.h"
#include "server/edge/usage.h"
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
    CHECK(auth_role_parse("operator") == ROLE_OPERATOR && !(ROLES_ANY & ROLE_OPERATOR));
    /* usage counts requests by route group: the first path segment after /v1 */
    char g[33];
    CHECK(usage_route_group("/v1/partners/{id}/commitments", g, sizeof g) && strcmp(g, "partners") == 0);
    CHECK(usage_route_group("/v1/webhook-endpoints", g, sizeof g) && strcmp(g, "webhook-endpoints") == 0);
    CHECK(!usage_route_group("/healthz", g, sizeof g) && !usage_route_group("/v1/", g, sizeof g));
    CHECK(!usage_route_group("/v1/abcdefghijklmnopqrstuvwxyz0123456789", g, sizeof g));
}
