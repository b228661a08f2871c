/* Structured JSON logging: messages are escaped by jansson, lines written atomically. */
#include "server/log.h"
#include "server/text.h"
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const names[] = {"debug", "info", "warn", "error", "off"};

int log_level_parse(const char *s) {
    for (int i = 0; i <= LOG_OFF; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

static int threshold = LOG_INFO;

void log_set_level(int level) {
    threshold = level;
}

int log_enabled(int level) {
    return level >= threshold && level < LOG_OFF;
}

void log_json_line(int level, const char *json) {
    if (!log_enabled(level)) return;
    flockfile(stderr);
    fputs(json, stderr);
    fputc('\n', stderr);
    funlockfile(stderr);
}

void log_timestamp(char *out) {
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    size_t n = strftime(out, 24, "%Y-%m-%dT%H:%M:%S", gmtime_r(&now.tv_sec, &tm));
    snprintf(out + n, 32 - n, ".%03ldZ", now.tv_nsec / 1000000);
}

void log_msg(int level, const char *where, const char *fmt, ...) {
    if (!log_enabled(level)) return;
    char text[1024], ts[32];
    va_list ap;
    va_start(ap, fmt);
    text_vformat(text, sizeof text, fmt, ap);
    va_end(ap);
    /* Messages carry text from outside (libpq, curl, a client's header): JSON needs UTF-8. */
    utf8_scrub(text);
    log_timestamp(ts);
    json_t *o = json_pack("{s:s, s:s, s:s}", "ts", ts, "level", names[level], "msg", text);
    if (!o) return; /* out of memory: nothing sensible to print */
    if (where) json_object_set_new(o, "where", json_string(where));
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (line) log_json_line(level, line);
    free(line);
    json_decref(o);
}
