/* The printable invoice page (GET /v1/invoices/{id} with Accept: text/html). */
#ifndef ALLIED_INVOICE_HTML_H
#define ALLIED_INVOICE_HTML_H

/* Renders `invoice_json` (as from invoice_json()) with the tenant and partner details into a
 * self-contained HTML page; every text is escaped. Caller frees. */
char *invoice_html(const char *invoice_json, const char *tenant, const char *partner,
                   const char *company, const char *email);
/* The Content-Security-Policy the page needs: nothing loads or runs but its own style sheet. */
const char *invoice_html_csp(void);
#endif
