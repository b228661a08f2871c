/* The fuzzers' stand-in for server/http.c (see shim.h). Single-threaded, like libFuzzer. */
#include "tests/fuzz/shim.h"
#include "server/edge/http.h"
#include "server/edge/pagination.h"
#include "server/edge/reply.h"
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>


struct kv {
    char *k, *v;
};
static struct kv headers[FUZZ_MAX_VALUES], query[FUZZ_MAX_VALUES];
static int nheaders, nquery;

uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void http_resume(struct request *rq) {
    (void)rq;
}

static const char *find(struct kv *t, int n, const char *name, bool nocase) {
    for (int i = 0; i < n; i++)
        if (nocase ? strcasecmp(t[i].k, name) == 0 : strcmp(t[i].k, name) == 0) return t[i].v;
    return NULL;
}

const char *req_header(struct request *rq, const char *name) {
    (void)rq;
    return find(headers, nheaders, name, true);
}

const char *req_query(struct request *rq, const char *name) {
    (void)rq;
    return find(query, nquery, name, false);
}

/* The harnesses send no cookies: a request here authenticates by its Authorization header. */
const char *req_cookie(struct request *rq, const char *name) {
    (void)rq;
    (void)name;
    return NULL;
}

/* Replaces libmicrohttpd's for this program (our code calls it to walk the arguments). */
int MHD_get_connection_values(struct MHD_Connection *connection, enum MHD_ValueKind kind,
                              MHD_KeyValueIterator iterator, void *iterator_cls) {
    (void)connection;
    struct kv *t = kind == MHD_GET_ARGUMENT_KIND ? query : kind == MHD_HEADER_KIND ? headers : NULL;
    int n = kind == MHD_GET_ARGUMENT_KIND ? nquery : kind == MHD_HEADER_KIND ? nheaders : 0;
    int i;
    for (i = 0; i < n; i++)
        if (iterator && iterator(iterator_cls, kind, t[i].k, t[i].v) != MHD_YES) return i + 1;
    return i;
}

static int add(struct kv *t, int *n, const char *name, const char *value) {
    if (*n == FUZZ_MAX_VALUES) return -1;
    t[*n].k = strdup(name);
    t[*n].v = strdup(value);
    if (!t[*n].k || !t[*n].v) abort();
    (*n)++;
    return 0;
}

int fuzz_add_header(const char *name, const char *value) {
    return add(headers, &nheaders, name, value);
}

int fuzz_add_query(const char *name, const char *value) {
    return add(query, &nquery, name, value);
}

static void clear(struct kv *t, int *n) {
    for (int i = 0; i < *n; i++) {
        free(t[i].k);
        free(t[i].v);
    }
    *n = 0;
}

void fuzz_request_init(struct request *rq, const char *url) {
    memset(rq, 0, sizeof *rq);
    rq->method = "GET";
    rq->url = strdup(url ? url : "/");
    if (!rq->url) abort();
    snprintf(rq->request_id, sizeof rq->request_id, "fuzz");
    strcpy(rq->auth.tenant_id, "11111111-2222-3333-4444-555555555555");
    clear(headers, &nheaders);
    clear(query, &nquery);
}

void fuzz_request_free(struct request *rq) {
    reply_reset(rq);
    free(rq->idem_body);
    json_decref(rq->json);
    free(rq->body);
    free(rq->url);
    for (int i = 0; i < rq->nparams; i++)
        free(rq->params[i]);
    clear(headers, &nheaders);
    clear(query, &nquery);
    memset(rq, 0, sizeof *rq);
}

char *fuzz_take(const uint8_t **data, size_t *len) {
    if (*len == 0) return NULL;
    const uint8_t *nul = memchr(*data, '\0', *len);
    size_t n = nul ? (size_t)(nul - *data) : *len;
    char *s = malloc(n + 1);
    if (!s) abort();
    memcpy(s, *data, n);
    s[n] = '\0';
    *data += nul ? n + 1 : n;
    *len -= nul ? n + 1 : n;
    return s;
}

void fuzz_fail(const char *file, int line, const char *what) {
    fprintf(stderr, "fuzz invariant failed at %s:%d: %s\n", file, line, what);
    abort();
}

void fuzz_cursor_key(void) {
    static bool keyed;
    if (!keyed) {
        static const unsigned char key[32] = "fuzzing key, not a secret......";
        page_cursor_set_key(key, sizeof key);
        keyed = true;
    }
}
