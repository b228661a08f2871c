/* The partner portal and the staff inbox (issue 15): static pages, styles and ES modules from
 * api/portal/, compiled into the binary (the Makefile embeds them as portal/NAME). The pages are
 * clients of /v1 like any other: they call it with the session cookie. Here they are only served:
 * /portal/ is the home page, /portal/NAME the page NAME.html (or the asset NAME.js / NAME.css),
 * each with a strict Content-Security-Policy (only this origin, no inline script or style), an
 * ETag from the file's bytes (revalidated on every use: a new binary's pages show at once) and
 * 404 problem+json for anything else. Query parameters: only `id` (which record a page shows). */
#include "api/api.h"
#include "server/embed.h"
#include "server/edge/json_in.h"
#include "server/edge/reply.h"
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define PORTAL_CSP                                                                                 \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

static const struct {
    const char *ext, *type;
} TYPES[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
};

static const char *type_of(const char *name) {
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof TYPES / sizeof TYPES[0]; i++)
        if (strcmp(dot, TYPES[i].ext) == 0) return TYPES[i].type;
    return NULL;
}

/* A file name the portal may hold: letters, digits, '-', '_' and one '.' (no path, no dot first). */
static bool name_ok(const char *s) {
    if (!*s || *s == '.' || strlen(s) > 64) return false;
    int dots = 0;
    for (; *s; s++)
        if (*s == '.') dots++;
        else if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                   *s == '-' || *s == '_'))
            return false;
    return dots <= 1;
}

static void serve(struct request *rq, const char *name) {
    static const char *const allowed[] = {"id", NULL};
    if (query_known_or_reply(rq, allowed) != JIN_OK) return;
    char key[96];
    const struct embedded_file *f = NULL;
    const char *type = NULL;
    if (name_ok(name)) {
        /* A page is asked for without its extension: /portal/money is money.html. */
        snprintf(key, sizeof key, strchr(name, '.') ? "portal/%s" : "portal/%s.html", name);
        type = type_of(key);
        f = type ? embedded_find(key) : NULL;
    }
    if (!f) {
        reply_problem(rq, P_NOT_FOUND, "the portal has no page or file called %s", name);
        return;
    }
    uint64_t h = 1469598103934665603ull; /* FNV-1a over the bytes: the ETag */
    for (size_t i = 0; i < f->len; i++) h = (h ^ (unsigned char)f->data[i]) * 1099511628211ull;
    char etag[40];
    snprintf(etag, sizeof etag, "\"%016llx\"", (unsigned long long)h);
    const char *inm = req_header(rq, "If-None-Match");
    if (inm && strstr(inm, etag))
        reply_json_text(rq, 304, "", 0);
    else
        reply_json_text(rq, 200, f->data, f->len);
    rq->content_type = type;
    reply_header(rq, "ETag", etag);
    reply_header(rq, "Cache-Control", "no-cache");
    reply_header(rq, "Content-Security-Policy", PORTAL_CSP);
    /* The HTML answers get it from the HTTP layer; the styles and scripts here. */
    if (strncmp(type, "text/html", 9) != 0) reply_header(rq, "Referrer-Policy", "no-referrer");
}

void api_portal_home(struct request *rq) {
    serve(rq, "index");
}

void api_portal_file(struct request *rq) {
    serve(rq, rq->params[0]);
}

/* /portal without the slash: the pages' relative links need the slash. */
void api_portal_redirect(struct request *rq) {
    reply_json_text(rq, 308, "", 0);
    rq->content_type = NULL;
    reply_header(rq, "Location", "/portal/");
}
