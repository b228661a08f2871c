/* Unit tests for server/text: cuts land on character boundaries for 1- to 4-byte characters, at
 * every offset, and scrubbing keeps well-formed text and replaces malformed bytes. */
#include "server/text.h"
#include "server/config.h"
#include "server/log.h"
#include "tests/unit/unit.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* True when jansson accepts `s` as a string (it checks UTF-8), as json_pack would need. */
static int json_ok(const char *s) {
    json_t *j = json_string(s);
    int ok = j != NULL;
    json_decref(j);
    return ok;
}

/* Logs `msg` at error level with stderr sent to a temporary file; returns the line (malloc'd). */
static char *logged(const char *msg) {
    fflush(stderr);
    int saved = dup(2);
    FILE *tmp = tmpfile();
    if (saved < 0 || !tmp) return NULL;
    dup2(fileno(tmp), 2);
    log_set_level(LOG_DEBUG);
    log_msg(LOG_ERROR, NULL, "partner %s", msg);
    log_set_level(LOG_OFF); /* as unit_main.c set it */
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    static char line[4096];
    rewind(tmp);
    char *got = fgets(line, sizeof line, tmp) ? strdup(line) : NULL;
    fclose(tmp);
    return got;
}

/* A log line is one JSON object whose msg is a string, however the message was cut. */
static int log_line_ok(const char *msg) {
    char *line = logged(msg);
    if (!line) return 0;
    json_error_t err;
    json_t *o = json_loads(line, 0, &err);
    int ok = json_is_string(json_object_get(o, "msg"));
    json_decref(o);
    free(line);
    return ok;
}

void test_text(void) {
    /* ASCII: a plain byte cut. */
    char a[16] = "abcdef";
    CHECK(utf8_truncate(a, 3) == 3 && !strcmp(a, "abc"));
    CHECK(utf8_truncate(a, 10) == 3 && !strcmp(a, "abc"));
    CHECK(utf8_truncate(a, 0) == 0 && !strcmp(a, ""));

    /* "é" is 2 bytes, "€" 3, "😀" 4: a cut inside one drops the whole character. */
    char b[32];
    strcpy(b, "a\xC3\xA9"); /* aé */
    CHECK(utf8_truncate(b, 2) == 1 && !strcmp(b, "a"));
    strcpy(b, "a\xE2\x82\xAC"); /* a€ */
    CHECK(utf8_truncate(b, 3) == 1 && !strcmp(b, "a"));
    strcpy(b, "a\xE2\x82\xAC");
    CHECK(utf8_truncate(b, 2) == 1 && !strcmp(b, "a"));
    strcpy(b, "a\xE2\x82\xAC");
    CHECK(utf8_truncate(b, 4) == 4);
    strcpy(b, "\xF0\x9F\x98\x80x"); /* 😀x */
    CHECK(utf8_truncate(b, 3) == 0 && !strcmp(b, ""));
    strcpy(b, "\xF0\x9F\x98\x80x");
    CHECK(utf8_truncate(b, 4) == 4 && !strcmp(b, "\xF0\x9F\x98\x80"));

    /* Every cut of a mixed string is valid UTF-8 and as long as it can be. */
    const char *mixed = "Zo\xC3\xAB \xE2\x82\xAC\xF0\x9F\x98\x80 \xE6\x97\xA5\xE6\x9C\xAC";
    size_t len = strlen(mixed);
    for (size_t max = 0; max <= len + 1; max++) {
        char c[64];
        strcpy(c, mixed);
        size_t n = utf8_truncate(c, max);
        CHECK(n <= max && n == strlen(c) && json_ok(c));
        CHECK(max >= len || n + 4 > max);      /* never more than one character short */
        CHECK(!strncmp(c, mixed, n));          /* a prefix of the original */
    }
    CHECK(utf8_complete("ab\xC3", 3) == 2);
    CHECK(utf8_complete("ab\xC3\xA9", 4) == 4);
    CHECK(utf8_complete("", 0) == 0);

    /* text_format: the %.Ns that used to split "ő" now keeps whole characters. */
    char d[8];
    CHECK(text_format(d, sizeof d, "%s", "\xC5\x91\xC5\x91\xC5\x91\xC5\x91") == 6 && json_ok(d)); /* őőőő: 8 bytes */
    CHECK(!strcmp(d, "\xC5\x91\xC5\x91\xC5\x91"));
    CHECK(text_format(d, sizeof d, "id=%d", 42) == 5 && !strcmp(d, "id=42"));
    CHECK(text_format(d, 1, "%s", "x") == 0 && !strcmp(d, ""));
    char big[1024];
    char name[1400];
    for (int i = 0; i < 700; i++) memcpy(name + 2 * i, "\xC3\xA9", 2);
    name[1400 - 1] = '\0'; /* 699 é and a stray lead byte: the cut removes the stray too */
    text_format(big, sizeof big, "partner %s", name);
    CHECK(json_ok(big) && strlen(big) <= 1023 && strlen(big) >= 1020);

    /* Scrub: valid text untouched, each bad byte one '?'. */
    char e[32];
    strcpy(e, mixed);
    CHECK(utf8_scrub(e) == 0 && !strcmp(e, mixed));
    strcpy(e, "a\xFF" "b\xC3" "c");
    CHECK(utf8_scrub(e) == 2 && !strcmp(e, "a?b?c"));
    strcpy(e, "\xC0\xAF\xED\xA0\x80\xF4\x90\x80\x80"); /* overlong '/', a surrogate, > U+10FFFF */
    CHECK(utf8_scrub(e) == 9 && json_ok(e));
    strcpy(e, "x\xE2\x82");
    CHECK(utf8_scrub(e) == 2 && !strcmp(e, "x??"));

    /* The logger: a 1024-byte buffer cut inside a character ("partner " + 2 x 700 bytes), and bytes
     * that were never UTF-8 (from a header or a library), both still give a JSON line. */
    char longname[1401];
    for (int i = 0; i < 700; i++) memcpy(longname + 2 * i, "\xC3\xA9", 2);
    longname[1400] = '\0';
    CHECK(log_line_ok(longname));
    CHECK(log_line_ok("bad \xFF\xFE bytes"));
}
