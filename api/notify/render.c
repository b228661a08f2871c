/* Message rendering (render.h). Built with open_memstream; every interpolated value goes through
 * esc() in the HTML part. */
#include "api/notify/render.h"
#include "api/money/money.h"
#include "api/notification_kinds.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void esc(FILE *f, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

static const char *str(json_t *o, const char *k) {
    return json_string_value(json_object_get(o, k));
}

/* "1234.56 EUR" from {amount, currency} or from the object's own amount and currency. */
static void money_of(json_t *o, char *out, size_t cap) {
    json_t *m = json_is_object(json_object_get(o, "total")) ? json_object_get(o, "total")
                : json_is_object(json_object_get(o, "amount")) ? json_object_get(o, "amount") : o;
    json_t *a = json_object_get(m, "amount");
    const char *cur = str(m, "currency");
    *out = '\0';
    if (json_is_integer(a) && cur) money_format(json_integer_value(a), cur, out, cap);
    else if (json_is_string(a) && cur) money_format_digits(json_string_value(a), cur, out, cap);
}

/* A one-line description of the resource: its name, number or prospect, its amount, status. */
static void summary(const struct notify_item *it, char *out, size_t cap) {
    json_t *d = json_loads(it->data ? it->data : "{}", 0, NULL);
    json_t *p = json_object_get(d, "prospect");
    const char *name = str(p, "company") ? str(p, "company") : str(p, "name");
    if (!name) name = str(d, "number") ? str(d, "number") : str(d, "name");
    char money[64];
    money_of(d, money, sizeof money);
    const char *status = str(d, "status");
    snprintf(out, cap, "%s %s%s%s%s%s%s", it->resource_type, name ? name : it->resource_id,
             *money ? ", " : "", money, status ? " (" : "", status ? status : "", status ? ")" : "");
    json_decref(d);
}

/* Where to look: the partner portal for a partner's contact, the API resource for the tenant's. */
static void resource_link(const struct notify_to *to, const struct notify_item *it, char *out, size_t cap) {
    snprintf(out, cap, "%s/%s/%ss/%s", to->base, to->partner_name ? "portal" : "v1", it->resource_type,
             it->resource_id);
}

static const char *what(const char *type) {
    const struct notification_kind *k = notification_kind_find(type);
    return k ? k->subject : type;
}

static void why(FILE *f, const struct notify_to *to, const char *kind, bool html) {
    const char *of = to->partner_name ? to->partner_name : to->tenant_name;
    fputs("You receive this because you are the ", f);
    html ? esc(f, to->role) : (void)fputs(to->role, f);
    fputs(" contact of ", f);
    html ? esc(f, of) : (void)fputs(of, f);
    if (kind) {
        fputs(" for '", f);
        html ? esc(f, kind) : (void)fputs(kind, f);
        fputs("'.", f);
    } else
        fputs(" and asked for a daily digest.", f);
}

static void text_item(FILE *f, const struct notify_to *to, const struct notify_item *it, bool digest) {
    char line[600], url[600];
    summary(it, line, sizeof line);
    resource_link(to, it, url, sizeof url);
    fprintf(f, "%s%s: %s\n%sat %s\n%s%s\n", digest ? "- " : "", what(it->type), line, digest ? "  " : "",
            it->at, digest ? "  " : "", url);
    if (digest) fprintf(f, "  Stop e-mails about '%s': %s\n", it->type, it->unsubscribe);
    fputc('\n', f);
}

static void html_item(FILE *f, const struct notify_to *to, const struct notify_item *it, bool digest) {
    char line[600], url[600];
    summary(it, line, sizeof line);
    resource_link(to, it, url, sizeof url);
    fputs(digest ? "<li><p><strong>" : "<p><strong>", f);
    esc(f, what(it->type));
    fputs("</strong>: ", f);
    esc(f, line);
    fputs("<br>at ", f);
    esc(f, it->at);
    fputs("<br><a href=\"", f);
    esc(f, url);
    fputs("\">", f);
    esc(f, url);
    fputs("</a>", f);
    if (digest) {
        fputs("<br><a href=\"", f);
        esc(f, it->unsubscribe);
        fputs("\">Stop e-mails about '", f);
        esc(f, it->type);
        fputs("'</a>", f);
    }
    fputs(digest ? "</p></li>\n" : "</p>\n", f);
}

static void text_body(FILE *f, const struct notify_to *to, const struct notify_item *items, int n, bool digest) {
    fprintf(f, "Hello %s,\n\n", to->name);
    if (digest) fprintf(f, "Your daily summary: %d update%s.\n\n", n, n == 1 ? "" : "s");
    for (int i = 0; i < n; i++) text_item(f, to, &items[i], digest);
    fputs("-- \n", f);
    why(f, to, digest ? NULL : items[0].type, false);
    fprintf(f, "\nUnsubscribe: %s\n", to->unsubscribe);
}

static void html_body(FILE *f, const struct notify_to *to, const struct notify_item *items, int n, bool digest) {
    fputs("<!doctype html>\n<html><head><meta charset=\"utf-8\"></head><body>\n<p>Hello ", f);
    esc(f, to->name);
    fputs(",</p>\n", f);
    if (digest) fprintf(f, "<p>Your daily summary: %d update%s.</p>\n<ul>\n", n, n == 1 ? "" : "s");
    for (int i = 0; i < n; i++) html_item(f, to, &items[i], digest);
    if (digest) fputs("</ul>\n", f);
    fputs("<hr><p style=\"color:#666;font-size:small\">", f);
    why(f, to, digest ? NULL : items[0].type, true);
    fputs(" <a href=\"", f);
    esc(f, to->unsubscribe);
    fputs("\">Unsubscribe</a></p>\n</body></html>\n", f);
}

/* Runs `body` into a fresh string. */
static char *build(void (*body)(FILE *, const struct notify_to *, const struct notify_item *, int, bool),
                   const struct notify_to *to, const struct notify_item *items, int n, bool digest) {
    char *s = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&s, &len);
    if (!f) return NULL;
    body(f, to, items, n, digest);
    if (fclose(f) != 0) {
        free(s);
        return NULL;
    }
    return s;
}

int render_mail(const struct notify_to *to, const struct notify_item *items, int n, bool digest, struct mail *out) {
    memset(out, 0, sizeof *out);
    char line[600];
    if (n < 1) return -1;
    summary(&items[0], line, sizeof line);
    int rc = digest ? asprintf(&out->subject, "Your daily summary: %d update%s", n, n == 1 ? "" : "s")
                    : asprintf(&out->subject, "%s: %s", what(items[0].type), line);
    if (rc < 0) out->subject = NULL;
    out->text = build(text_body, to, items, n, digest);
    out->html = build(html_body, to, items, n, digest);
    if (out->subject && out->text && out->html) return 0;
    mail_free(out);
    return -1;
}

void mail_free(struct mail *m) {
    free(m->subject);
    free(m->text);
    free(m->html);
    memset(m, 0, sizeof *m);
}
