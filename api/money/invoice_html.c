/* A self-contained, printable HTML invoice. All interpolated text is HTML-escaped. */
#include "api/money/invoice_html.h"
#include "api/money/money.h"
#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct page {
    char *p;
    size_t len, cap;
};

static void put(struct page *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void raw(struct page *b, const char *s) {
    put(b, s, strlen(s));
}

static void text(struct page *b, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '&': raw(b, "&amp;"); break;
        case '<': raw(b, "&lt;"); break;
        case '>': raw(b, "&gt;"); break;
        case '"': raw(b, "&quot;"); break;
        case '\'': raw(b, "&#39;"); break;
        default: put(b, s, 1);
        }
    }
}

static void money(struct page *b, json_t *m) {
    char out[64];
    if (money_format(json_integer_value(json_object_get(m, "amount")),
                     json_string_value(json_object_get(m, "currency")), out, sizeof out))
        text(b, out);
}

static const char *str(json_t *o, const char *k) {
    return json_string_value(json_object_get(o, k));
}

/* The page's only style sheet; the Content-Security-Policy allows exactly it, by hash. */
#define STYLE                                                                                      \
    "body{font:14px/1.4 sans-serif;max-width:48em;margin:2em auto;color:#222}"                     \
    "table{width:100%;border-collapse:collapse}td,th{padding:.4em;border-bottom:1px solid #ccc;"   \
    "text-align:left}td.n,th.n{text-align:right}.total td{font-weight:bold;border-top:2px solid "  \
    "#222}@media print{body{margin:0}}"

static char csp[256];
static pthread_once_t csp_once = PTHREAD_ONCE_INIT;

static void csp_build(void) {
    unsigned char md[EVP_MAX_MD_SIZE], b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
    unsigned mdlen = 0;
    if (!EVP_Digest(STYLE, strlen(STYLE), md, &mdlen, EVP_sha256(), NULL)) abort();
    EVP_EncodeBlock(b64, md, (int)mdlen);
    snprintf(csp, sizeof csp,
             "default-src 'none'; style-src 'sha256-%s'; base-uri 'none'; form-action 'none'; "
             "frame-ancestors 'none'",
             (const char *)b64);
}

const char *invoice_html_csp(void) {
    pthread_once(&csp_once, csp_build);
    return csp;
}

char *invoice_html(const char *invoice_json, const char *tenant, const char *partner,
                   const char *company, const char *email) {
    json_error_t err;
    json_t *inv = json_loads(invoice_json, 0, &err);
    struct page b = {0};
    raw(&b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Invoice ");
    text(&b, str(inv, "number"));
    raw(&b, "</title><style>");
    raw(&b, STYLE);
    raw(&b, "</style></head><body>\n<h1>Invoice ");
    text(&b, str(inv, "number"));
    raw(&b, "</h1>\n<p><strong>From</strong> ");
    text(&b, !strcmp(str(inv, "kind"), "payable") ? partner : tenant);
    raw(&b, "<br><strong>To</strong> ");
    text(&b, !strcmp(str(inv, "kind"), "payable") ? tenant : partner);
    raw(&b, "</p>\n<p>Partner: ");
    text(&b, partner);
    if (company) {
        raw(&b, ", ");
        text(&b, company);
    }
    if (email) {
        raw(&b, " &lt;");
        text(&b, email);
        raw(&b, "&gt;");
    }
    raw(&b, "</p>\n<table><tr><th>Issued</th><td>");
    text(&b, str(inv, "issued_on"));
    raw(&b, "</td><th>Due</th><td>");
    text(&b, str(inv, "due_on"));
    raw(&b, "</td><th>Status</th><td>");
    text(&b, str(inv, "status"));
    raw(&b, "</td></tr></table>\n<h2>Lines</h2>\n<table><tr><th>#</th><th>Description</th><th>Commission</th>"
            "<th class=\"n\">Amount</th></tr>\n");
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(inv, "lines"), i, l) {
        char no[16];
        snprintf(no, sizeof no, "%lld", (long long)json_integer_value(json_object_get(l, "line_no")));
        raw(&b, "<tr><td>");
        raw(&b, no);
        raw(&b, "</td><td>");
        text(&b, str(l, "description"));
        raw(&b, "</td><td><code>");
        text(&b, str(l, "commission_id"));
        raw(&b, "</code></td><td class=\"n\">");
        money(&b, json_object_get(l, "amount"));
        raw(&b, "</td></tr>\n");
    }
    raw(&b, "<tr class=\"total\"><td></td><td>Total</td><td></td><td class=\"n\">");
    money(&b, json_object_get(inv, "total"));
    raw(&b, "</td></tr></table>\n<p>Payment terms: due on ");
    text(&b, str(inv, "due_on"));
    raw(&b, ".");
    if (str(inv, "payment_reference")) {
        raw(&b, " Paid, reference ");
        text(&b, str(inv, "payment_reference"));
        raw(&b, ".");
    }
    raw(&b, "</p>\n</body></html>\n");
    json_decref(inv);
    return b.p;
}
