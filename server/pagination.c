/* Keyset pagination: cursors encode the last row's (created_at, id), never an offset. */
#include "server/pagination.h"
#include "server/json_in.h"
#include "server/reply.h"
#include "server/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int page_params_or_reply(struct request *rq, struct page *p) {
    const char *l = req_query(rq, "limit");
    const char *c = req_query(rq, "cursor");
    p->limit = PAGE_DEFAULT;
    if (l) {
        char *end;
        long v = strtol(l, &end, 10);
        if (*l < '0' || *l > '9' || *end != '\0' || v < 1 || v > PAGE_MAX) {
            reply_field_error(rq, "limit", "must be an integer from 1 to 200");
            return JIN_REPLIED;
        }
        p->limit = (int)v;
    }
    snprintf(p->limit_plus_one, sizeof p->limit_plus_one, "%d", p->limit + 1);
    p->has_cursor = false;
    if (c) {
        if (page_cursor_decode(c, p->after_ts, p->after_id) != 0) {
            reply_field_error(rq, "cursor", "is not a cursor this API returned");
            return JIN_REPLIED;
        }
        p->has_cursor = true;
    }
    return JIN_OK;
}

void page_cursor_encode(const char *ts, const char *id, char *out) {
    char raw[80];
    int n = snprintf(raw, sizeof raw, "%s|%s", ts, id);
    b64url_encode((const unsigned char *)raw, (size_t)n, out);
}

int page_cursor_decode(const char *cursor, char ts[40], char id[37]) {
    unsigned char raw[96];
    if (strlen(cursor) > 120) return -1;
    long n = b64url_decode(cursor, raw, sizeof raw - 1);
    if (n < 0) return -1;
    raw[n] = '\0';
    if (memchr(raw, '\0', (size_t)n)) return -1;
    char *bar = strchr((char *)raw, '|');
    if (!bar || bar - (char *)raw >= 40) return -1;
    *bar = '\0';
    if (!timestamp_valid((char *)raw) || !uuid_valid(bar + 1)) return -1;
    strcpy(ts, (char *)raw);
    strcpy(id, bar + 1);
    return 0;
}

void reply_page(struct request *rq, PGresult *res, const struct page *p) {
    int rows = PQntuples(res);
    int shown = rows > p->limit ? p->limit : rows;
    size_t cap = 64;
    for (int i = 0; i < shown; i++) cap += (size_t)PQgetlength(res, i, 0) + 1;
    char *buf = malloc(cap + 160), *w = buf;
    if (!buf) abort();
    w += sprintf(w, "{\"data\":[");
    for (int i = 0; i < shown; i++) {
        if (i) *w++ = ',';
        size_t len = (size_t)PQgetlength(res, i, 0);
        memcpy(w, PQgetvalue(res, i, 0), len);
        w += len;
    }
    if (rows > p->limit) {
        char cur[128];
        page_cursor_encode(PQgetvalue(res, shown - 1, 1), PQgetvalue(res, shown - 1, 2), cur);
        w += sprintf(w, "],\"next_cursor\":\"%s\"}", cur);
    } else {
        w += sprintf(w, "],\"next_cursor\":null}");
    }
    reply_json_text(rq, 200, buf, (size_t)(w - buf));
    free(buf);
}

void reply_list(struct request *rq, PGresult *res) {
    size_t cap = 32;
    for (int i = 0; i < PQntuples(res); i++) cap += (size_t)PQgetlength(res, i, 0) + 1;
    char *buf = malloc(cap), *w = buf;
    if (!buf) abort();
    w += sprintf(w, "{\"data\":[");
    for (int i = 0; i < PQntuples(res); i++) {
        if (i) *w++ = ',';
        memcpy(w, PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0));
        w += PQgetlength(res, i, 0);
    }
    w += sprintf(w, "]}");
    reply_json_text(rq, 200, buf, (size_t)(w - buf));
    free(buf);
}
