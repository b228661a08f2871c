/* The matcher over the application's route table (api/app.c: the API's table of contents). */
#include "server/edge/router.h"
#include "server/app.h"
#include <stdlib.h>
#include <string.h>

int route_index(const struct route *r) {
    return r ? (int)(r - allied_app.routes) : allied_app.nroutes;
}

/* Matches `path` against `pattern`; on success fills params (owned copies). */
static bool path_match(const char *pattern, const char *path, char **params, int *nparams) {
    int n = 0;
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (*p == '{') {
            const char *close = strchr(p, '}');
            size_t len = strcspn(s, "/");
            if (len == 0 || n == MAX_PATH_PARAMS) goto fail;
            if (params) params[n] = strndup(s, len);
            n++;
            p = close + 1;
            s += len;
        } else if (*p == *s) {
            p++;
            s++;
        } else
            goto fail;
    }
    if (*p || *s) goto fail;
    if (nparams) *nparams = n;
    return true;
fail:
    if (params)
        for (int i = 0; i < n; i++) {
            free(params[i]);
            params[i] = NULL;
        }
    return false;
}

enum match router_match(const char *method, const char *path, const struct route **out,
                        char **params, int *nparams, char *allow, size_t allowlen) {
    bool path_known = false;
    allow[0] = '\0';
    for (int i = 0; i < allied_app.nroutes; i++) {
        const struct route *rt = &allied_app.routes[i];
        if (!path_match(rt->pattern, path, NULL, NULL)) continue;
        path_known = true;
        if (strcmp(rt->method, method) == 0) {
            path_match(rt->pattern, path, params, nparams);
            *out = rt;
            return MATCH_OK;
        }
        if (strstr(allow, rt->method) == NULL &&
            strlen(allow) + strlen(rt->method) + 3 < allowlen) {
            if (allow[0]) strcat(allow, ", ");
            strcat(allow, rt->method);
        }
    }
    return path_known ? MATCH_NO_METHOD : MATCH_NO_PATH;
}
