/* Fuzzes API key parsing: auth_key_prefix accepts exactly the documented format
 * ("ak_" + 12 lower-case hex + "_" + 43 base64url) and extracts its prefix; role names parse
 * only when exact; a generated key always parses back to its own prefix. */
#include "server/edge/auth.h"
#include "tests/fuzz/shim.h"
#include <stdlib.h>
#include <string.h>

static bool well_formed(const char *k) {
    if (strlen(k) != KEY_LEN || strncmp(k, "ak_", 3) != 0 || k[KEY_PREFIX_LEN] != '_') return false;
    for (int i = 3; i < KEY_PREFIX_LEN; i++)
        if (!((k[i] >= '0' && k[i] <= '9') || (k[i] >= 'a' && k[i] <= 'f'))) return false;
    for (int i = KEY_PREFIX_LEN + 1; i < KEY_LEN; i++)
        if (!((k[i] >= '0' && k[i] <= '9') || (k[i] >= 'a' && k[i] <= 'z') ||
              (k[i] >= 'A' && k[i] <= 'Z') || k[i] == '-' || k[i] == '_'))
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *key = fuzz_take(&data, &size);
    if (!key) return 0;
    char prefix[KEY_PREFIX_LEN + 1];
    memset(prefix, 'x', sizeof prefix);
    bool ok = auth_key_prefix(key, prefix);
    FUZZ_ASSERT(ok == well_formed(key));
    if (ok)
        FUZZ_ASSERT(strlen(prefix) == KEY_PREFIX_LEN && strncmp(prefix, key, KEY_PREFIX_LEN) == 0);
    enum role r = auth_role_parse(key);
    FUZZ_ASSERT(r == 0 || !strcmp(key, "admin") || !strcmp(key, "staff") || !strcmp(key, "partner") ||
                !strcmp(key, "readonly") || !strcmp(key, "operator"));
    free(key);
    if (size == 0) { /* now and then: a generated key parses back */
        char k[KEY_LEN + 1], p[KEY_PREFIX_LEN + 1], h[65], p2[KEY_PREFIX_LEN + 1];
        auth_key_generate(k, p, h);
        FUZZ_ASSERT(auth_key_prefix(k, p2) && strcmp(p, p2) == 0 && strlen(h) == 64);
    }
    return 0;
}
