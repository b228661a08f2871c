/* SMTP over libcurl (smtp.h): headers as CURLOPT_HTTPHEADER, the parts as a curl_mime. */
#include "api/notify/smtp.h"
#include "server/config.h"
#include <curl/curl.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void smtp_from_address(char *out, size_t cap) {
    const char *from = cfg.mail_from, *lt = strchr(from, '<'), *gt = lt ? strchr(lt, '>') : NULL;
    if (lt && gt)
        snprintf(out, cap, "%.*s", (int)(gt - lt - 1), lt + 1);
    else
        snprintf(out, cap, "%s", from);
}

/* "Name: value" with any control character of the value (CR, LF: header injection) a space. */
static bool add(struct curl_slist **h, const char *name, const char *value) {
    char line[1000];
    snprintf(line, sizeof line, "%s: %s", name, value);
    for (char *p = line; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = ' ';
    struct curl_slist *l = curl_slist_append(*h, line);
    if (l) *h = l;
    return l != NULL;
}

/* RFC 2047: ASCII as is, otherwise base64 encoded-words of at most 45 bytes (whole characters). */
static void encode_subject(const char *s, char *out, size_t cap) {
    bool ascii = true;
    for (const char *p = s; *p; p++) ascii = ascii && (unsigned char)*p < 0x80;
    if (ascii) {
        snprintf(out, cap, "%s", s);
        return;
    }
    size_t len = strlen(s), at = 0, o = 0;
    out[0] = '\0';
    while (at < len && o + 80 < cap) {
        size_t n = len - at > 45 ? 45 : len - at;
        while (n > 1 && at + n < len && ((unsigned char)s[at + n] & 0xC0) == 0x80) n--; /* not mid-character */
        unsigned char b64[64];
        EVP_EncodeBlock(b64, (const unsigned char *)s + at, (int)n);
        o += (size_t)snprintf(out + o, cap - o, "%s=?UTF-8?B?%s?=", o ? " " : "", (const char *)b64);
        at += n;
    }
}

static struct curl_slist *headers(const struct smtp_msg *m) {
    char date[64], subject[900], id[300], from[256], unsub[400];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    static const char *const DAY[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const MON[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    snprintf(date, sizeof date, "%s, %02d %s %d %02d:%02d:%02d +0000", DAY[tm.tm_wday], tm.tm_mday, MON[tm.tm_mon],
             tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    encode_subject(m->subject, subject, sizeof subject);
    snprintf(id, sizeof id, "<%s>", m->message_id);
    smtp_from_address(from, sizeof from);
    char to[300];
    snprintf(to, sizeof to, "<%s>", m->to);
    struct curl_slist *h = NULL;
    bool ok = add(&h, "Date", date) && add(&h, "From", cfg.mail_from) && add(&h, "To", to) &&
              add(&h, "Subject", subject) && add(&h, "Message-ID", id) && add(&h, "Auto-Submitted", "auto-generated");
    if (ok && m->unsubscribe) {
        snprintf(unsub, sizeof unsub, "<%s>", m->unsubscribe);
        ok = add(&h, "List-Unsubscribe", unsub) && add(&h, "List-Unsubscribe-Post", "List-Unsubscribe=One-Click");
    }
    if (!ok) {
        curl_slist_free_all(h);
        return NULL;
    }
    return h;
}

static bool part(curl_mime *mime, const char *data, const char *type) {
    curl_mimepart *p = curl_mime_addpart(mime);
    return p && curl_mime_data(p, data, CURL_ZERO_TERMINATED) == CURLE_OK && curl_mime_type(p, type) == CURLE_OK &&
           curl_mime_encoder(p, "quoted-printable") == CURLE_OK;
}

/* The message body: one text part, or multipart/alternative (text first: the least preferred). */
static curl_mime *body(CURL *c, const struct smtp_msg *m) {
    curl_mime *mime = curl_mime_init(c);
    if (!mime) return NULL;
    if (!m->html) {
        if (part(mime, m->text, "text/plain; charset=utf-8")) return mime;
        curl_mime_free(mime);
        return NULL;
    }
    curl_mime *alt = curl_mime_init(c);
    curl_mimepart *p = curl_mime_addpart(mime);
    bool ok = alt && p && part(alt, m->text, "text/plain; charset=utf-8") &&
              part(alt, m->html, "text/html; charset=utf-8");
    if (ok && curl_mime_subparts(p, alt) == CURLE_OK) {
        if (curl_mime_type(p, "multipart/alternative") == CURLE_OK) return mime;
    } else
        curl_mime_free(alt);
    curl_mime_free(mime);
    return NULL;
}

int smtp_send(const struct smtp_msg *m, char *err, size_t errlen) {
    char from[256], rcpt[300], ebuf[CURL_ERROR_SIZE] = "";
    smtp_from_address(from, sizeof from);
    snprintf(rcpt, sizeof rcpt, "<%s>", m->to);
    for (char *p = rcpt; *p; p++)
        if ((unsigned char)*p < 0x20) *p = ' ';
    CURL *c = curl_easy_init();
    struct curl_slist *to = curl_slist_append(NULL, rcpt), *h = headers(m);
    curl_mime *mime = c ? body(c, m) : NULL;
    CURLcode rc = c && to && h && mime ? CURLE_OK : CURLE_OUT_OF_MEMORY;
#define SET(opt, val)                                                                              \
    if (rc == CURLE_OK) rc = curl_easy_setopt(c, opt, val)
    SET(CURLOPT_URL, cfg.smtp_url);
    SET(CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    SET(CURLOPT_USE_SSL, (long)(cfg.smtp_starttls ? CURLUSESSL_ALL : CURLUSESSL_NONE));
    if (*cfg.smtp_user) SET(CURLOPT_USERNAME, cfg.smtp_user);
    if (*cfg.smtp_password) SET(CURLOPT_PASSWORD, cfg.smtp_password);
    SET(CURLOPT_MAIL_FROM, from);
    SET(CURLOPT_MAIL_RCPT, to);
    SET(CURLOPT_HTTPHEADER, h);
    SET(CURLOPT_MIMEPOST, mime);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_TIMEOUT_MS, (long)cfg.smtp_timeout_ms);
    SET(CURLOPT_CONNECTTIMEOUT_MS, (long)cfg.smtp_timeout_ms);
    SET(CURLOPT_ERRORBUFFER, ebuf);
#undef SET
    if (rc == CURLE_OK) rc = curl_easy_perform(c);
    if (rc != CURLE_OK) snprintf(err, errlen, "%s", *ebuf ? ebuf : curl_easy_strerror(rc));
    curl_mime_free(mime);
    curl_slist_free_all(h);
    curl_slist_free_all(to);
    if (c) curl_easy_cleanup(c);
    return rc == CURLE_OK ? 0 : -1;
}
