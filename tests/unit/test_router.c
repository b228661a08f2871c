/* Unit tests for the route table matcher in server/router.c. */
#include "server/app.h"
#include "server/edge/router.h"
#include "tests/unit/unit.h"
#include <stdlib.h>
#include <string.h>

void test_router(void) {
    const struct route *r = NULL;
    char *params[MAX_PATH_PARAMS] = {0};
    int n = 0;
    char allow[64];
    CHECK(router_match("GET", "/v1/partners/abc", &r, params, &n, allow, sizeof allow) == MATCH_OK);
    CHECK(r && strcmp(r->pattern, "/v1/partners/{id}") == 0 && n == 1 && strcmp(params[0], "abc") == 0);
    free(params[0]);
    CHECK(router_match("PUT", "/v1/partners/abc", &r, params, &n, allow, sizeof allow) == MATCH_NO_METHOD);
    CHECK(strcmp(allow, "GET, PATCH, DELETE") == 0);
    CHECK(router_match("GET", "/v1/partners/", &r, params, &n, allow, sizeof allow) == MATCH_NO_PATH);
    CHECK(router_match("GET", "/v1/partners/a/b", &r, params, &n, allow, sizeof allow) == MATCH_NO_PATH);
    CHECK(router_match("GET", "/v1/partnersx", &r, params, &n, allow, sizeof allow) == MATCH_NO_PATH);
    CHECK(router_match("GET", "", &r, params, &n, allow, sizeof allow) == MATCH_NO_PATH);
    CHECK(router_match("DELETE", "/v1/partners", &r, params, &n, allow, sizeof allow) == MATCH_NO_METHOD);
    CHECK(strcmp(allow, "POST, GET") == 0);
    CHECK(router_match("GET", "/healthz", &r, params, &n, allow, sizeof allow) == MATCH_OK && n == 0);
    /* Every route pattern is well-formed and no two routes share method and pattern. */
    for (int i = 0; i < allied_app.nroutes; i++) {
        CHECK(allied_app.routes[i].pattern[0] == '/' && allied_app.routes[i].fn != NULL);
        CHECK((allied_app.routes[i].flags & RF_PUBLIC) || allied_app.routes[i].roles != 0);
        for (int j = i + 1; j < allied_app.nroutes; j++)
            CHECK(strcmp(allied_app.routes[i].method, allied_app.routes[j].method) || strcmp(allied_app.routes[i].pattern, allied_app.routes[j].pattern));
    }
}
