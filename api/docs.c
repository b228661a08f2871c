/* The API reference: GET /openapi.yaml (the spec), GET /docs (a page that renders it with Redoc)
 * and GET /docs/redoc.standalone.js. All three are compiled into the binary (server/embed.h,
 * the Makefile's embed rule), so the reference works offline and loads nothing from elsewhere. */
#include "api/api.h"
#include "server/embed.h"
#include "server/edge/reply.h"
#include "server/log.h"

/* What the page needs and nothing more: its script and the spec from this origin; Redoc's
 * styles (it injects <style> elements), data: images (the page's empty icon, the footer's logo)
 * and its search worker, which it starts from a blob: URL. */
#define DOCS_CSP                                                                                 \
    "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src data:; "         \
    "connect-src 'self'; worker-src blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

static void serve_file(struct request *rq, const char *name, const char *type) {
    const struct embedded_file *f = embedded_find(name);
    if (!f) { /* the Makefile embeds every file named here */
        LOG_BUG_RQ(rq, "embedded file missing");
        reply_problem(rq, P_INTERNAL, "the API reference is missing from this build");
        return;
    }
    reply_json_text(rq, 200, f->data, f->len);
    rq->content_type = type;
    /* The files change only with the binary: a client may keep them a while, but asks again. */
    reply_header(rq, "Cache-Control", "public, max-age=300");
}

void api_openapi(struct request *rq) {
    serve_file(rq, "openapi.yaml", "application/yaml; charset=utf-8");
}

void api_docs(struct request *rq) {
    serve_file(rq, "docs/index.html", "text/html; charset=utf-8");
    if (rq->status == 200) reply_header(rq, "Content-Security-Policy", DOCS_CSP);
}

void api_docs_redoc(struct request *rq) {
    serve_file(rq, "docs/redoc.standalone.js", "text/javascript; charset=utf-8");
}
