/* Cutting UTF-8 text on character boundaries, and making unchecked text safe for JSON. */
#include "server/text.h"
#include <stdio.h>
#include <string.h>

/* Bytes in the character that starts with `lead`; 0 for a continuation or invalid byte. */
static size_t seq_len(unsigned char lead) {
    if (lead < 0x80) return 1;
    if (lead >= 0xC2 && lead <= 0xDF) return 2;
    if ((lead & 0xF0) == 0xE0) return 3;
    if (lead >= 0xF0 && lead <= 0xF4) return 4;
    return 0;
}

static int is_cont(unsigned char c) {
    return (c & 0xC0) == 0x80;
}

size_t utf8_complete(const char *s, size_t len) {
    if (len == 0) return 0;
    const unsigned char *u = (const unsigned char *)s;
    size_t i = len - 1;
    while (i > 0 && is_cont(u[i]) && len - i < 4) i--;
    size_t need = seq_len(u[i]);
    if (need == 0) return len; /* not a character start: malformed input, left to utf8_scrub */
    return len - i < need ? i : len;
}

size_t utf8_truncate(char *s, size_t max_bytes) {
    size_t n = strlen(s);
    if (n <= max_bytes) return n;
    n = utf8_complete(s, max_bytes);
    s[n] = '\0';
    return n;
}

size_t text_vformat(char *dst, size_t cap, const char *fmt, va_list ap) {
    if (cap == 0) return 0;
    int n = vsnprintf(dst, cap, fmt, ap);
    if (n < 0) {
        dst[0] = '\0';
        return 0;
    }
    if ((size_t)n < cap) return (size_t)n;
    size_t keep = utf8_complete(dst, cap - 1);
    dst[keep] = '\0';
    return keep;
}

size_t text_format(char *dst, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    size_t n = text_vformat(dst, cap, fmt, ap);
    va_end(ap);
    return n;
}

/* Length of the well-formed character at u (RFC 3629 table 3-7), or 0. */
static size_t valid_at(const unsigned char *u) {
    size_t n = seq_len(u[0]);
    if (n <= 1) return n;
    for (size_t k = 1; k < n; k++)
        if (!is_cont(u[k])) return 0; /* also stops at the NUL terminator */
    if (u[0] == 0xE0 && u[1] < 0xA0) return 0; /* overlong */
    if (u[0] == 0xED && u[1] > 0x9F) return 0; /* surrogate */
    if (u[0] == 0xF0 && u[1] < 0x90) return 0; /* overlong */
    if (u[0] == 0xF4 && u[1] > 0x8F) return 0; /* above U+10FFFF */
    return n;
}

size_t utf8_scrub(char *s) {
    size_t bad = 0;
    unsigned char *u = (unsigned char *)s;
    while (*u) {
        size_t n = valid_at(u);
        if (n == 0) {
            *u++ = '?';
            bad++;
        } else
            u += n;
    }
    return bad;
}

char *json_put_string(char *w, const char *s) {
    if (!s) return memcpy(w, "null", 4), w + 4;
    *w++ = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            *w++ = '\\';
            *w++ = (char)c;
        } else if (c < 0x20) {
            w += sprintf(w, "\\u%04x", c);
        } else {
            *w++ = (char)c;
        }
    }
    *w++ = '"';
    return w;
}
