/* UTF-8 text that must fit a limit: the one place where text is cut, always on a character
 * boundary, so a shortened string is still valid UTF-8 (PostgreSQL and jansson refuse anything
 * else, and a split character used to turn a partner's long non-ASCII name into a 400). Pure. */
#ifndef ALLIED_TEXT_H
#define ALLIED_TEXT_H
#include <stdarg.h>
#include <stddef.h>

/* Length of the longest prefix of s[0..len) that does not end inside a UTF-8 character: a
 * trailing lead byte whose continuation bytes are missing is dropped. Reads only s[0..len). */
size_t utf8_complete(const char *s, size_t len);

/* Cuts the NUL-terminated `s` in place to at most `max_bytes` bytes, on a character boundary.
 * Returns the new length (strlen(s) when it already fits). */
size_t utf8_truncate(char *s, size_t max_bytes);

/* snprintf into dst[cap] whose result, when it does not fit, is cut on a character boundary
 * instead of mid-character. Returns the length written (0 and "" when cap is 1; nothing when
 * cap is 0). Use it wherever text of unknown length lands in a fixed buffer. */
size_t text_format(char *dst, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
size_t text_vformat(char *dst, size_t cap, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

/* Replaces each byte of `s` that is not part of a well-formed UTF-8 character (RFC 3629: no
 * overlongs, surrogates or code points above U+10FFFF) with '?', in place. For text that did
 * not come through a UTF-8 check, such as a header or a library's error message, before it goes
 * into JSON. Returns the number of bytes replaced. */
size_t utf8_scrub(char *s);

/* Writes `s` (UTF-8) at `w` as a JSON string: quotes, backslashes and control bytes escaped; `null`
 * when s is NULL. `w` needs room for 6 bytes per byte of `s`, plus 2 (4 for null). Returns the end
 * (not terminated). For JSON written on every request, where jansson's pack and dump cost more
 * than the rest of the line. */
char *json_put_string(char *w, const char *s);
#endif
