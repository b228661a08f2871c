/* Unit tests for the declarative field checks in server/json_in.c. */
#include "server/edge/json_in.h"
#include "api/money/money.h"
#include "tests/unit/unit.h"
#include <string.h>

static const char *check(const struct field *f, const char *json) {
    json_error_t e;
    json_t *v = json_loads(json, JSON_DECODE_ANY, &e);
    const char *msg = json_field_check(f, v);
    json_decref(v);
    return msg;
}

void test_json_in(void) {
    static const char *const colors[] = {"red", "green", NULL};
    struct field s = {"s", FT_STRING, 0, 3, 0, NULL};
    CHECK(!check(&s, "\"abc\"") && check(&s, "\"abcd\"") && check(&s, "\"\"") && check(&s, "1"));
    CHECK(!check(&s, "\"\xc3\xa9\xc3\xa9\xc3\xa9\"")); /* 3 characters, 6 bytes */
    CHECK(check(&s, "\"a\\nb\"") && check(&s, "null"));
    struct field sn = {"s", FT_STRING, F_NULLABLE, 3, 0, NULL};
    CHECK(!check(&sn, "null"));
    struct field t = {"t", FT_TEXT, 0, 5, 0, NULL};
    CHECK(!check(&t, "\"\"") && !check(&t, "\"a\\nb\""));
    struct field e = {"e", FT_EMAIL, 0, 254, 0, NULL};
    CHECK(!check(&e, "\"a@b.co\"") && check(&e, "\"a@b\"") && check(&e, "\"@b.co\"") &&
          check(&e, "\"a@@b.co\"") && check(&e, "\"a b@c.co\"") && check(&e, "\"a@b.\""));
    /* what a mail header or SMTP command could not carry, and what no mail system delivers to */
    static const char *const bad_emails[] = {
        "\"a@b..co\"", "\"a@.b.co\"", "\"a@b.co.\"", "\".a@b.co\"", "\"a.@b.co\"", "\"a..b@c.co\"",
        "\"a,b@c.co\"", "\"<a@b.co>\"", "\"a@b.co>\"", "\"\\\"a\\\"@b.co\"", "\"a@b_c.co\"",
        "\"a@-b.co\"", "\"a@b-.co\"", "\"a@1.2.3.4\"", "\"a@[1.2.3.4]\"", "\"a@b.co\\r\\nBcc: x@y.co\"",
        "\"a;b@c.co\"", "\"a(b)@c.co\"", "\"a:b@c.co\"", "\"a@b .co\"", "\"a\\tb@c.co\"",
        "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@b.co\"", /* 65 */
    };
    for (size_t k = 0; k < sizeof bad_emails / sizeof bad_emails[0]; k++) CHECK(check(&e, bad_emails[k]));
    CHECK(!check(&e, "\"first.last+tag@mail.example.co.uk\"") && !check(&e, "\"o'brien@b-c.example\"") &&
          !check(&e, "\"x_y{z}~!#$%&*=?^`|/@b.co\"") && !check(&e, "\"a@b.xn--p1ai\"") &&
          !check(&e, "\"j\xc3\xb6rg@m\xc3\xbcller.de\"") && !check(&e, "\"a@b2.co9\""));
    struct field u = {"u", FT_URL, 0, 2048, 0, NULL};
    CHECK(!check(&u, "\"https://x.example/a\"") && !check(&u, "\"HTTP://x\"") &&
          check(&u, "\"ftp://x\"") && check(&u, "\"https://\"") && check(&u, "\"https://a b\""));
    struct field en = {"c", FT_ENUM, 0, 0, 0, colors};
    CHECK(!check(&en, "\"red\"") && check(&en, "\"Red\"") && check(&en, "3"));
    struct field id = {"id", FT_UUID, 0, 0, 0, NULL};
    CHECK(!check(&id, "\"00000000-0000-0000-0000-000000000000\"") && check(&id, "\"x\""));
    struct field d = {"d", FT_DATE, 0, 0, 0, NULL};
    CHECK(!check(&d, "\"2024-02-29\"") && check(&d, "\"2023-02-29\""));
    struct field i = {"i", FT_INT, 0, 10, -1, NULL};
    CHECK(!check(&i, "10") && !check(&i, "-1") && check(&i, "11") && check(&i, "-2") &&
          check(&i, "1.0") && check(&i, "\"1\"") && check(&i, "true"));
    struct field am = FIELD_AMOUNT("amount", 0);
    CHECK(!check(&am, "0") && !check(&am, "1000000000000000") && check(&am, "1000000000000001") &&
          check(&am, "-1") && check(&am, "9223372036854775807") && check(&am, "1.5") && check(&am, "\"5\""));
    struct field b = {"b", FT_BOOL, 0, 0, 0, NULL};
    CHECK(!check(&b, "false") && check(&b, "0"));
    struct field o = {"o", FT_OBJECT, 0, 10, 0, NULL};
    CHECK(!check(&o, "{\"a\":1}") && check(&o, "{\"abcdef\":12345}") && check(&o, "[]"));
    struct field tg = {"t", FT_TAGS, 0, 2, 0, NULL};
    CHECK(!check(&tg, "[]") && !check(&tg, "[\"a\",\"b\"]") && check(&tg, "[\"a\",\"b\",\"c\"]") &&
          check(&tg, "[\"a\",\"a\"]") && check(&tg, "[1]") && check(&tg, "[\"\"]") && check(&tg, "{}"));

    json_error_t err;
    json_t *deep = json_loads("{\"a\":{\"b\":[1,[2]]}}", 0, &err);
    CHECK(json_depth(deep) == 4);
    json_decref(deep);
    json_t *flat = json_loads("{}", 0, &err);
    CHECK(json_depth(flat) == 1);
    json_decref(flat);

    /* Found by fuzz_json: an unknown key of 200 two-byte characters was cut mid-character in
     * its error's field name, jansson refused the error object, and the key got through. */
    char body[600] = "{\"";
    for (int k = 0; k < 200; k++)
        strcat(body, "\xc3\xa9");
    strcat(body, "\":1}");
    json_t *longkey = json_loads(body, 0, &err);
    CHECK(longkey != NULL);
    json_t *errors = json_array();
    json_fields_collect(errors, NULL, longkey, &s, 1, true);
    CHECK(json_array_size(errors) == 1);
    const char *fname = json_string_value(json_object_get(json_array_get(errors, 0), "field"));
    CHECK(fname && strlen(fname) == 254 && strncmp(fname, "\xc3\xa9", 2) == 0);
    json_decref(errors);
    json_decref(longkey);
}
