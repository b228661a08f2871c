/* Response building and the problem+json format (RFC 9457). */
#include "server/edge/reply.h"
#include "server/log.h"
#include "server/text.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

void reply_reset(struct request *rq) {
    free(rq->resp_body);
    rq->resp_body = NULL;
    rq->resp_len = 0;
    rq->status = 0;
    rq->content_type = NULL;
    if (rq->resp_fd > 0) close(rq->resp_fd);
    rq->resp_fd = 0;
    for (int i = 0; i < rq->nheaders; i++) free(rq->headers[i].value);
    rq->nheaders = 0;
}

static void set_body(struct request *rq, int status, const char *ctype, char *owned, size_t len) {
    free(rq->resp_body);
    if (rq->resp_fd > 0) close(rq->resp_fd);
    rq->resp_fd = 0;
    rq->resp_body = owned;
    rq->resp_len = len;
    rq->status = status;
    rq->content_type = ctype;
}

void reply_json_text(struct request *rq, int status, const char *text, size_t len) {
    char *copy = malloc(len + 1);
    if (!copy) abort();
    memcpy(copy, text, len);
    copy[len] = '\0';
    set_body(rq, status, "application/json", copy, len);
}

void reply_json(struct request *rq, int status, json_t *body) {
    char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(body);
    if (!text) abort();
    set_body(rq, status, "application/json", text, strlen(text));
}

void reply_file(struct request *rq, int status, int fd, size_t size, const char *content_type) {
    set_body(rq, status, content_type, NULL, size);
    rq->resp_fd = fd;
}

void reply_no_content(struct request *rq) {
    set_body(rq, 204, NULL, NULL, 0);
}

static void problem_with(struct request *rq, enum problem p, const char *detail, json_t *errors,
                         json_t *extra) {
    const struct problem_info *pi = &problems[p];
    char type[128];
    snprintf(type, sizeof type, "%s%s", PROBLEM_TYPE_PREFIX, pi->slug);
    json_t *o = json_pack("{s:s, s:s, s:i}", "type", type, "title", pi->title, "status", pi->status);
    if (detail) json_object_set_new(o, "detail", json_string(detail));
    if (errors) json_object_set_new(o, "errors", errors);
    if (extra) json_object_update(o, extra);
    json_decref(extra);
    json_object_set_new(o, "request_id", json_string(rq->request_id));
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!text) abort();
    set_body(rq, pi->status, "application/problem+json", text, strlen(text));
    if (pi->status == 401) reply_header(rq, "WWW-Authenticate", "Bearer realm=\"allied\"");
    if (pi->status == 503) reply_header(rq, "Retry-After", "1");
}

void reply_problem(struct request *rq, enum problem p, const char *detail, ...) {
    char buf[512];
    if (detail) {
        va_list ap;
        va_start(ap, detail);
        text_vformat(buf, sizeof buf, detail, ap);
        va_end(ap);
        utf8_scrub(buf); /* a detail may quote a header or a path: JSON needs UTF-8 */
    }
    problem_with(rq, p, detail ? buf : NULL, NULL, NULL);
}

void reply_problem_extra(struct request *rq, enum problem p, json_t *extra, const char *detail, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, detail);
    text_vformat(buf, sizeof buf, detail, ap);
    va_end(ap);
    utf8_scrub(buf);
    problem_with(rq, p, buf, NULL, extra);
}

void reply_validation(struct request *rq, json_t *errors) {
    const char *first = NULL;
    json_t *e0 = json_array_get(errors, 0);
    if (e0) first = json_string_value(json_object_get(e0, "message"));
    char detail[300];
    text_format(detail, sizeof detail, "%s: %s",
             e0 ? json_string_value(json_object_get(e0, "field")) : "request",
             first ? first : "invalid");
    problem_with(rq, P_VALIDATION, detail, errors, NULL);
}

void reply_field_error(struct request *rq, const char *field, const char *message) {
    reply_validation(rq, json_pack("[{s:s, s:s}]", "field", field, "message", message));
}

void reply_header(struct request *rq, const char *name, const char *value) {
    for (int i = 0; i < rq->nheaders; i++)
        if (strcasecmp(rq->headers[i].name, name) == 0) {
            free(rq->headers[i].value);
            rq->headers[i].value = strdup(value);
            return;
        }
    if (rq->nheaders == MAX_RESP_HEADERS) {
        LOG_BUG("too many response headers (%s)", name);
        return;
    }
    rq->headers[rq->nheaders].name = name;
    rq->headers[rq->nheaders].value = strdup(value);
    rq->nheaders++;
}

void reply_etag(struct request *rq, long long version) {
    char tag[32];
    snprintf(tag, sizeof tag, "\"%lld\"", version);
    reply_header(rq, "ETag", tag);
}
