/* Strict JSON input: Content-Type, parsing with jansson, and declarative field validation. */
#include "server/edge/json_in.h"
#include "server/edge/reply.h"
#include "server/text.h"
#include "server/util.h"
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool content_type_json(const char *ct) {
    if (!ct) return false;
    while (*ct == ' ') ct++;
    if (strncasecmp(ct, "application/json", 16) != 0) return false;
    const char *rest = ct + 16;
    while (*rest == ' ') rest++;
    if (*rest == '\0') return true;
    if (*rest != ';') return false;
    rest++;
    while (*rest == ' ') rest++;
    return strcasecmp(rest, "charset=utf-8") == 0 || strcasecmp(rest, "charset=\"utf-8\"") == 0;
}

int json_depth(json_t *v) {
    int max = 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *c;
        json_object_foreach(v, k, c) {
            int d = json_depth(c);
            if (d > max) max = d;
        }
        return max + 1;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c) {
            int d = json_depth(c);
            if (d > max) max = d;
        }
        return max + 1;
    }
    return 0;
}

int json_body_or_reply(struct request *rq) {
    if (rq->body_len == 0) {
        reply_problem(rq, P_BAD_REQUEST, "this request needs a JSON object body");
        return JIN_REPLIED;
    }
    if (!content_type_json(req_header(rq, MHD_HTTP_HEADER_CONTENT_TYPE))) {
        reply_problem(rq, P_UNSUPPORTED_MEDIA, "send the body as application/json (UTF-8)");
        return JIN_REPLIED;
    }
    if (rq->json) return JIN_OK; /* parsed already (the request is being run a second time) */
    json_error_t err;
    /* Without JSON_DECODE_ANY the top level must be an object or array; without
     * JSON_ALLOW_NUL a \u0000 escape is an error. */
    json_t *v = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &err);
    if (!v) {
        reply_problem(rq, P_MALFORMED_JSON, "%s at line %d column %d", err.text, err.line,
                      err.column);
        return JIN_REPLIED;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        reply_problem(rq, P_MALFORMED_JSON, "the body must be a JSON object");
        return JIN_REPLIED;
    }
    if (json_depth(v) > JSON_MAX_DEPTH) {
        json_decref(v);
        reply_problem(rq, P_MALFORMED_JSON, "JSON nested deeper than %d levels", JSON_MAX_DEPTH);
        return JIN_REPLIED;
    }
    rq->json = v;
    return JIN_OK;
}

static size_t utf8_chars(const char *s) {
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) n++;
    return n;
}

static bool has_control(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return true;
    return false;
}

/* An unquoted local part: atext (RFC 5322) or UTF-8, dots only between characters, 1..64 bytes. */
static bool email_local_ok(const char *s, size_t len) {
    if (len == 0 || len > 64 || s[0] == '.' || s[len - 1] == '.') return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.' && s[i + 1] == '.') return false;
        if (!(c >= 0x80 || isalnum(c) || strchr(".!#$%&'*+/=?^_`{|}~-", c))) return false;
    }
    return true;
}

/* A domain name: two or more labels of letters, digits, hyphens (not first or last) or UTF-8,
 * 1..63 bytes each; the last is not all digits (an address literal is not accepted). */
static bool email_domain_ok(const char *s) {
    int labels = 0;
    bool all_digits = true;
    while (*s) {
        size_t n = strcspn(s, ".");
        if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-') return false;
        all_digits = true;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)s[i];
            if (!(c >= 0x80 || isalnum(c) || c == '-')) return false;
            if (!isdigit(c)) all_digits = false;
        }
        labels++;
        s += n;
        if (*s == '.' && *++s == '\0') return false; /* a trailing dot */
    }
    return labels >= 2 && !all_digits;
}

static bool email_ok(const char *s) {
    const char *at = strchr(s, '@');
    if (!at || strchr(at + 1, '@') || strlen(s) > 254) return false;
    return email_local_ok(s, (size_t)(at - s)) && email_domain_ok(at + 1);
}

static bool url_ok(const char *s) {
    if (strncasecmp(s, "https://", 8) != 0 && strncasecmp(s, "http://", 7) != 0) return false;
    const char *host = strstr(s, "://") + 3;
    if (*host == '\0' || *host == '/') return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x21 || *p == 0x7f) return false;
    return strlen(s) <= 2048;
}

/* The string types: checked once the value is known to be a string. */
static const char *string_check(const struct field *f, const char *s) {
    switch (f->type) {
    case FT_STRING:
        if (*s == '\0') return "must not be empty";
        if (has_control(s)) return "must not contain control characters";
        /* fallthrough */
    case FT_TEXT:
        return (long long)utf8_chars(s) > f->max ? "is too long" : NULL;
    case FT_EMAIL:
        return email_ok(s) ? NULL : "must be an email address";
    case FT_URL:
        return url_ok(s) ? NULL : "must be an http or https URL";
    case FT_ENUM:
        for (const char *const *c = f->choices; *c; c++)
            if (strcmp(*c, s) == 0) return NULL;
        return "is not one of the allowed values";
    case FT_UUID:
        return uuid_valid(s) ? NULL : "must be a UUID";
    case FT_DATE:
        return date_valid(s) ? NULL : "must be a date YYYY-MM-DD";
    default:
        return "has an unsupported type";
    }
}

static bool is_string_type(enum ftype t) {
    return t == FT_STRING || t == FT_TEXT || t == FT_EMAIL || t == FT_URL || t == FT_ENUM || t == FT_UUID ||
           t == FT_DATE;
}

static const char *object_size_check(const struct field *f, json_t *v) {
    if (!json_is_object(v)) return "must be an object";
    char *text = json_dumps(v, JSON_COMPACT);
    size_t len = text ? strlen(text) : 0;
    free(text);
    return (long long)len > f->max ? "is too large" : NULL;
}

static const char *tags_check(const struct field *f, json_t *v) {
    if (!json_is_array(v)) return "must be an array of strings";
    if ((long long)json_array_size(v) > f->max) return "has too many items";
    size_t i, j;
    json_t *t;
    json_array_foreach(v, i, t) {
        const char *ts = json_string_value(t);
        if (!ts || *ts == '\0' || utf8_chars(ts) > 64 || has_control(ts))
            return "items must be non-empty strings of at most 64 characters";
        for (j = 0; j < i; j++)
            if (strcmp(ts, json_string_value(json_array_get(v, j))) == 0) return "items must be distinct";
    }
    return NULL;
}

const char *json_field_check(const struct field *f, json_t *v) {
    if (json_is_null(v)) return (f->flags & F_NULLABLE) ? NULL : "must not be null";
    if (is_string_type(f->type)) return json_is_string(v) ? string_check(f, json_string_value(v)) : "must be a string";
    switch (f->type) {
    case FT_INT:
        if (!json_is_integer(v)) return "must be an integer";
        if (json_integer_value(v) < f->min || json_integer_value(v) > f->max) return "is out of range";
        return NULL;
    case FT_CHECK:
        return f->check(v);
    case FT_BOOL:
        return json_is_boolean(v) ? NULL : "must be true or false";
    case FT_OBJECT:
        return object_size_check(f, v);
    case FT_ARRAY:
        if (!json_is_array(v)) return "must be an array";
        return (long long)json_array_size(v) > f->max ? "has too many items" : NULL;
    case FT_TAGS:
        return tags_check(f, v);
    default:
        return "has an unsupported type";
    }
}

static void add_error(json_t *errors, const char *prefix, const char *key, const char *msg) {
    char field[256];
    /* `key` is the client's: a long non-ASCII one must still make a valid (shortened) name, or
     * json_pack would fail and the error would be lost, letting the unknown key through. */
    text_format(field, sizeof field, "%s%s", prefix ? prefix : "", key);
    json_t *e = json_pack("{s:s, s:s}", "field", field, "message", msg);
    if (!e) e = json_pack("{s:s, s:s}", "field", "(unprintable field name)", "message", msg);
    json_array_append_new(errors, e);
}

void json_fields_collect(json_t *errors, const char *prefix, json_t *obj, const struct field *fields,
                         int n, bool partial) {
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val) {
        const struct field *f = NULL;
        for (int i = 0; i < n; i++)
            if (strcmp(fields[i].name, key) == 0) f = &fields[i];
        const char *msg = !f                        ? "is not a known field"
                          : (f->flags & F_READONLY) ? "is read-only"
                                                    : json_field_check(f, val);
        if (msg) add_error(errors, prefix, key, msg);
    }
    if (!partial)
        for (int i = 0; i < n; i++)
            if ((fields[i].flags & F_REQUIRED) && !json_object_get(obj, fields[i].name))
                add_error(errors, prefix, fields[i].name, "is required");
}

int json_errors_or_ok(struct request *rq, json_t *errors) {
    if (json_array_size(errors) == 0) {
        json_decref(errors);
        return JIN_OK;
    }
    reply_validation(rq, errors);
    return JIN_REPLIED;
}

int json_fields_or_reply(struct request *rq, json_t *obj, const struct field *fields, int n,
                         bool partial) {
    json_t *errors = json_array();
    json_fields_collect(errors, NULL, obj, fields, n, partial);
    return json_errors_or_ok(rq, errors);
}

struct qcheck {
    const char *const *allowed;
    const char *bad;
};

static enum MHD_Result check_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value) {
    (void)kind;
    (void)value;
    struct qcheck *q = cls;
    for (const char *const *a = q->allowed; a && *a; a++)
        if (strcmp(*a, key) == 0) return MHD_YES;
    q->bad = key;
    return MHD_NO;
}

int query_known_or_reply(struct request *rq, const char *const *allowed) {
    struct qcheck q = {allowed, NULL};
    MHD_get_connection_values(rq->conn, MHD_GET_ARGUMENT_KIND, check_arg, &q);
    if (!q.bad) return JIN_OK;
    reply_field_error(rq, q.bad, "is not a known query parameter");
    return JIN_REPLIED;
}
