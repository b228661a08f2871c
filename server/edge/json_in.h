/* Strict JSON input: one call parses the body, another validates it against a field table. */
#ifndef ALLIED_JSON_IN_H
#define ALLIED_JSON_IN_H
#include "server/edge/request.h"
#include <stdbool.h>

#define JSON_MAX_DEPTH 16

enum ftype {
    FT_STRING,   /* UTF-8 text, 1..max characters */
    FT_TEXT,     /* like FT_STRING but may be empty */
    FT_EMAIL,    /* a@b form */
    FT_URL,      /* http(s)://... */
    FT_ENUM,     /* one of `choices` */
    FT_UUID,     /* canonical UUID string */
    FT_DATE,     /* YYYY-MM-DD */
    FT_INT,      /* integer in [min,max] */
    FT_BOOL,     /* true/false */
    FT_OBJECT,   /* a JSON object, serialised size <= max bytes */
    FT_TAGS,     /* array of up to `max` distinct non-empty strings of <= 64 chars */
    FT_ARRAY,    /* a JSON array of at most `max` items (the handler checks the items) */
    FT_CHECK,    /* checked by the field's own `check` (e.g. amounts and currencies, api/money/) */
};

#define F_REQUIRED 1u /* must be present on create */
#define F_NULLABLE 2u /* null is accepted (clears the value) */
#define F_READONLY 4u /* set by the server: presence is an error */

struct field {
    const char *name;
    enum ftype type;
    unsigned flags;
    long long max; /* max length, items, bytes or value depending on the type */
    long long min; /* for FT_INT */
    const char *const *choices; /* for FT_ENUM, NULL-terminated */
    const char *(*check)(json_t *v); /* for FT_CHECK: NULL, or a static message */
};

/* Rows of a field table by type, so that a table reads as its fields: FIELD_STRING("name",
 * F_REQUIRED, 200). `max` and `min` are struct field's limits for the type. */
#define FIELD_STRING(name, flags, max) {name, FT_STRING, flags, max, 0, NULL}
#define FIELD_TEXT(name, flags, max) {name, FT_TEXT, flags, max, 0, NULL}
#define FIELD_EMAIL(name, flags, max) {name, FT_EMAIL, flags, max, 0, NULL}
#define FIELD_URL(name, flags, max) {name, FT_URL, flags, max, 0, NULL}
#define FIELD_ENUM(name, flags, choices) {name, FT_ENUM, flags, 0, 0, choices}
#define FIELD_UUID(name, flags) {name, FT_UUID, flags, 0, 0, NULL}
#define FIELD_DATE(name, flags) {name, FT_DATE, flags, 0, 0, NULL}
#define FIELD_INT(name, flags, min, max) {name, FT_INT, flags, max, min, NULL}
#define FIELD_BOOL(name, flags) {name, FT_BOOL, flags, 0, 0, NULL}
#define FIELD_OBJECT(name, flags, max) {name, FT_OBJECT, flags, max, 0, NULL}
#define FIELD_TAGS(name, flags, max) {name, FT_TAGS, flags, max, 0, NULL}
#define FIELD_ARRAY(name, flags, max) {name, FT_ARRAY, flags, max, 0, NULL}
/* A member the server sets: its presence in a body is an error, whatever its type. */
#define FIELD_READONLY(name) {name, FT_TEXT, F_READONLY, 0, 0, NULL}
/* The read-only members every versioned resource has. */
#define FIELDS_READONLY_RESOURCE                                                                   \
    FIELD_READONLY("id"), FIELD_READONLY("version"), FIELD_READONLY("created_at"), FIELD_READONLY("updated_at")

enum { JIN_OK = 0, JIN_REPLIED = -1 };

/* Checks Content-Type, parses rq->body strictly into rq->json (an object). Replies on failure. */
int json_body_or_reply(struct request *rq);

/* Validates `obj` against `fields`: unknown/read-only keys, types, limits, required ones
 * (unless `partial`, as for PATCH). Collects every error into one 400. */
int json_fields_or_reply(struct request *rq, json_t *obj, const struct field *fields, int n,
                         bool partial);

/* Appends to `errors` one {field, message} per problem in `obj`; field names get `prefix`
 * (e.g. "terms.compensation.") so nested objects name their fields exactly. */
void json_fields_collect(json_t *errors, const char *prefix, json_t *obj, const struct field *fields,
                         int n, bool partial);
/* JIN_OK if `errors` is empty (and frees it), else replies 400 with them (stealing it). */
int json_errors_or_ok(struct request *rq, json_t *errors);

/* Pure check of one value against one field; returns NULL or a static message. */
const char *json_field_check(const struct field *f, json_t *v);

/* Checks that every query argument is in `allowed` (NULL-terminated). Replies 400 if not. */
int query_known_or_reply(struct request *rq, const char *const *allowed);

/* Nesting depth of a JSON value (a scalar is 0). */
int json_depth(json_t *v);
#endif
