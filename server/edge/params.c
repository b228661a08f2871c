/* Request parameters shared by handlers, each validated with a precise 400. */
#include "server/edge/params.h"
#include "server/edge/reply.h"
#include "server/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *path_uuid_or_reply(struct request *rq, int i, const char *field) {
    if (i >= rq->nparams || !uuid_valid(rq->params[i])) {
        reply_field_error(rq, field, "must be a UUID");
        return NULL;
    }
    return rq->params[i];
}

int if_match_or_reply(struct request *rq, char out[24]) {
    const char *h = req_header(rq, MHD_HTTP_HEADER_IF_MATCH);
    out[0] = '\0';
    if (!h || strcmp(h, "*") == 0) return 0;
    size_t n = strlen(h);
    if (n >= 3 && n <= 21 && h[0] == '"' && h[n - 1] == '"') {
        bool digits = true;
        for (size_t i = 1; i < n - 1; i++)
            if (h[i] < '0' || h[i] > '9') digits = false;
        if (digits) {
            memcpy(out, h + 1, n - 2);
            out[n - 2] = '\0';
            return 0;
        }
    }
    reply_field_error(rq, "If-Match", "must be an ETag this API returned, such as \"3\"");
    return -1;
}

bool if_match_any(struct request *rq) {
    const char *h = req_header(rq, MHD_HTTP_HEADER_IF_MATCH);
    return h && strcmp(h, "*") == 0;
}

int query_enum_or_reply(struct request *rq, const char *name, const char *const *choices,
                        const char **out) {
    *out = req_query(rq, name);
    if (!*out) return 0;
    for (const char *const *c = choices; *c; c++)
        if (strcmp(*c, *out) == 0) return 0;
    reply_field_error(rq, name, "is not one of the allowed values");
    return -1;
}

int query_timestamp_or_reply(struct request *rq, const char *name, const char **out) {
    *out = req_query(rq, name);
    if (!*out || timestamp_valid(*out)) return 0;
    reply_field_error(rq, name, "must be an RFC 3339 timestamp such as 2026-01-31T12:00:00Z");
    return -1;
}

int query_date_or_reply(struct request *rq, const char *name, const char **out) {
    *out = req_query(rq, name);
    if (!*out || date_valid(*out)) return 0;
    reply_field_error(rq, name, "must be a date YYYY-MM-DD");
    return -1;
}

int query_uuid_or_reply(struct request *rq, const char *name, const char **out) {
    *out = req_query(rq, name);
    if (!*out || uuid_valid(*out)) return 0;
    reply_field_error(rq, name, "must be a UUID");
    return -1;
}

int query_text_or_reply(struct request *rq, const char *name, size_t max, const char **out) {
    *out = req_query(rq, name);
    if (!*out || (**out && strlen(*out) <= max)) return 0;
    reply_field_error(rq, name, "must be non-empty and not too long");
    return -1;
}

void reply_not_found(struct request *rq, const char *what, const char *id) {
    reply_problem(rq, P_NOT_FOUND, "no %s with id %s", what, id);
}

const char *partner_scope(struct request *rq) {
    return rq->auth.role == ROLE_PARTNER ? rq->auth.partner_id : NULL;
}
