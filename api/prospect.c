/* Prospect normalisation: case-insensitive email, and the company domain behind it. */
#include "api/prospect.h"
#include <ctype.h>
#include <string.h>

static const char *const FREEMAIL[] = {
    "gmail.com",   "googlemail.com", "yahoo.com",   "yahoo.co.uk", "hotmail.com", "outlook.com",
    "live.com",    "msn.com",        "icloud.com",  "me.com",      "mac.com",     "aol.com",
    "proton.me",   "protonmail.com", "gmx.com",     "gmx.de",      "gmx.net",     "web.de",
    "yandex.ru",   "mail.ru",        "zoho.com",    "fastmail.com", "hey.com",    "qq.com",
    "163.com",     "orange.fr",      "free.fr",     "t-online.de", "libero.it",   NULL};

void prospect_email_key(const char *email, char *out, size_t cap) {
    size_t n = email ? strlen(email) : 0;
    if (n == 0 || n >= cap) {
        out[0] = '\0';
        return;
    }
    for (size_t i = 0; i <= n; i++) out[i] = (char)tolower((unsigned char)email[i]);
}

void prospect_domain_key(const char *email, char *out, size_t cap) {
    char lower[256];
    prospect_email_key(email, lower, sizeof lower);
    const char *at = strrchr(lower, '@');
    out[0] = '\0';
    if (!at || !at[1] || strlen(at + 1) >= cap) return;
    for (const char *const *f = FREEMAIL; *f; f++)
        if (strcmp(at + 1, *f) == 0) return;
    strcpy(out, at + 1);
}
