/* Fuzzes what a request line and its headers become before a handler runs: the path is
 * percent-decoded as libmicrohttpd does (MHD_http_unescape) and routed through the route table,
 * the query string is split and decoded into arguments and checked by the shared validators
 * (unknown names, limit/cursor, enums, timestamps, UUIDs, text), the path ids and If-Match are
 * parsed. Input: method NUL target NUL If-Match (each part optional). */
#include "server/edge/json_in.h"
#include "server/edge/pagination.h"
#include "server/edge/params.h"
#include "server/edge/reply.h"
#include "server/edge/router.h"
#include "tests/fuzz/shim.h"
#include <stdlib.h>
#include <string.h>

static const char *const ALLOWED[] = {"limit",         "cursor",     "status", "kind",
                                      "updated_since", "partner_id", "q",      NULL};
static const char *const STATUSES[] = {"prospect", "active", "paused", "ended", NULL};

static void check_reply(struct request *rq) {
    if (rq->status == 0) return;
    FUZZ_ASSERT(rq->status == 400 || rq->status == 404 || rq->status == 405);
    json_error_t e;
    json_t *v = json_loadb(rq->resp_body, rq->resp_len, 0, &e);
    FUZZ_ASSERT(json_is_object(v));
    json_decref(v);
}

/* True if `method` is one of the comma-separated names in `allow`. */
static bool allow_lists(const char *allow, const char *method) {
    size_t n = strlen(method);
    for (const char *p = allow; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, method, n) == 0) return true;
        p += len;
        while (*p == ',' || *p == ' ')
            p++;
    }
    return false;
}

/* Splits "a=1&b=%20x" into decoded arguments, as libmicrohttpd does for GET arguments. */
static void parse_query(char *q) {
    for (char *arg = strtok(q, "&"); arg; arg = strtok(NULL, "&")) {
        char *eq = strchr(arg, '=');
        if (eq) *eq = '\0';
        MHD_http_unescape(arg);
        const char *val = "";
        if (eq) {
            MHD_http_unescape(eq + 1);
            val = eq + 1;
        }
        if (fuzz_add_query(arg, val) != 0) break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_cursor_key();
    char *method = fuzz_take(&data, &size);
    char *target = fuzz_take(&data, &size);
    char *ifmatch = fuzz_take(&data, &size);
    if (!method) return 0;
    if (!target) target = strdup("/");
    char *qs = strchr(target, '?');
    if (qs) *qs++ = '\0';
    MHD_http_unescape(target);

    struct request rq;
    fuzz_request_init(&rq, target);
    rq.method = method;
    if (qs) parse_query(qs);
    if (ifmatch) fuzz_add_header("If-Match", ifmatch);

    char allow[64];
    const struct route *r = NULL;
    enum match m = router_match(method, rq.url, &r, rq.params, &rq.nparams, allow, sizeof allow);
    if (m == MATCH_OK) {
        FUZZ_ASSERT(r && strcmp(r->method, method) == 0);
        int braces = 0;
        for (const char *p = r->pattern; *p; p++)
            braces += *p == '{';
        FUZZ_ASSERT(rq.nparams == braces);
        for (int i = 0; i < rq.nparams; i++)
            FUZZ_ASSERT(rq.params[i][0] != '\0' && strchr(rq.params[i], '/') == NULL);
        for (int i = 0; i < rq.nparams && rq.status == 0; i++)
            path_uuid_or_reply(&rq, i, "id");
    } else {
        FUZZ_ASSERT(rq.nparams == 0);
        if (m == MATCH_NO_METHOD) FUZZ_ASSERT(allow[0] != '\0' && !allow_lists(allow, method));
    }
    check_reply(&rq);
    reply_reset(&rq);

    /* The shared query validators, each on its own fresh reply. */
    struct page pg;
    const char *v;
    char version[24];
    if (query_known_or_reply(&rq, ALLOWED) == JIN_OK) FUZZ_ASSERT(rq.status == 0);
    check_reply(&rq);
    reply_reset(&rq);
    if (page_params_or_reply(&rq, &pg) == JIN_OK) {
        FUZZ_ASSERT(pg.limit >= 1 && pg.limit <= PAGE_MAX);
        FUZZ_ASSERT(!req_query(&rq, "cursor") || pg.has_cursor);
    }
    check_reply(&rq);
    reply_reset(&rq);
    query_enum_or_reply(&rq, "status", STATUSES, &v);
    check_reply(&rq);
    reply_reset(&rq);
    query_timestamp_or_reply(&rq, "updated_since", &v);
    check_reply(&rq);
    reply_reset(&rq);
    query_uuid_or_reply(&rq, "partner_id", &v);
    check_reply(&rq);
    reply_reset(&rq);
    query_text_or_reply(&rq, "q", 200, &v);
    check_reply(&rq);
    reply_reset(&rq);
    if (if_match_or_reply(&rq, version) == 0) {
        FUZZ_ASSERT(strlen(version) < sizeof version);
        for (const char *p = version; *p; p++)
            FUZZ_ASSERT(*p >= '0' && *p <= '9');
    }
    check_reply(&rq);

    fuzz_request_free(&rq);
    free(method);
    free(target);
    free(ifmatch);
    return 0;
}
