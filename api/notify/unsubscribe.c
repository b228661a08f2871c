/* GET and POST /v1/unsubscribe?token=...: the links in every message (token.h), public (no API
 * key). GET shows a page with a button and changes nothing (mail scanners follow links); POST —
 * the button, or a mail provider's one-click (RFC 8058: List-Unsubscribe-Post) — removes the
 * kind from the contact's notifications (kind "*": all of them). Idempotent. The token names the
 * tenant, which the request is then scoped to, so it reaches no other tenant's contacts. */
#include "api/notify/token.h"
#include "server/data/db.h"
#include "api/notify/notify_api.h"
#include "server/edge/json_in.h"
#include "server/edge/params.h"
#include "server/edge/reply.h"
#include "server/log.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

DB_STMT(st_key, NOTIFY_KEY_SQL);
DB_STMT(st_scope, "SELECT set_config('allied.tenant_id', $1, true)");
DB_STMT(st_contact, "SELECT email, $3 = '*' OR $3 = ANY (notifications) FROM contacts WHERE tenant_id = $1 AND id = $2");
DB_STMT(st_remove,
        "WITH c AS (SELECT tenant_id, id, notifications AS was, "
        "  CASE WHEN $3 = '*' THEN '{}'::text[] ELSE array_remove(notifications, $3) END AS now "
        "  FROM contacts WHERE tenant_id = $1 AND id = $2 FOR UPDATE) "
        "UPDATE contacts k SET notifications = c.now, "
        "  version = k.version + CASE WHEN c.now <> c.was THEN 1 ELSE 0 END, "
        "  updated_at = CASE WHEN c.now <> c.was THEN now() ELSE k.updated_at END "
        "FROM c WHERE k.tenant_id = c.tenant_id AND k.id = c.id RETURNING k.email");

#define PAGE_CSP "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

struct unsub {
    char tenant[37], contact[37], kind[NOTIFY_KIND_MAX + 1];
    const char *token;
};

/* Reads and checks the token, and scopes the request to its tenant. 0, or -1 after replying
 * (or leaving a database failure to the runner). */
static int token_or_reply(struct request *rq, struct unsub *u) {
    static const char *const allowed[] = {"token", NULL};
    if (query_known_or_reply(rq, allowed) != 0) return -1;
    u->token = req_query(rq, "token");
    if (!u->token || !*u->token) {
        reply_field_error(rq, "token", "is required: use the link from the message");
        return -1;
    }
    if (!notify_key_ready()) {
        PGresult *r = db_exec(rq, &st_key, 0, NULL);
        if (!r) return -1;
        if (PQntuples(r) != 1 || notify_key_from_hex(PQgetvalue(r, 0, 0)) != 0)
            LOG_BUG_RQ(rq, "no usable 'unsubscribe' key in server_secrets (run `allied migrate`)");
        PQclear(r);
    }
    if (notify_token_read(u->token, u->tenant, u->contact, u->kind) != 0) {
        reply_field_error(rq, "token", "is not an unsubscribe link this service made (copy the whole link)");
        return -1;
    }
    const char *p[] = {u->tenant};
    PGresult *r = db_exec(rq, &st_scope, 1, p);
    PQclear(r);
    return r ? 0 : -1;
}

static void esc(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '&') fputs("&amp;", f);
        else if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '"') fputs("&quot;", f);
        else if (*s == '\'') fputs("&#39;", f);
        else fputc(*s, f);
    }
}

/* The page: a question with a button (`ask`), or the confirmation. */
static void reply_page(struct request *rq, const struct unsub *u, const char *email, bool ask, bool wanted) {
    char *s = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&s, &len);
    if (!f) abort();
    const char *what = strcmp(u->kind, "*") == 0 ? "any notification" : u->kind;
    fputs("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Unsubscribe</title>"
          "<meta name=\"viewport\" content=\"width=device-width\"></head>\n<body style=\"font:16px sans-serif;"
          "max-width:36em;margin:2em auto\">\n<p>", f);
    fputs(ask ? (wanted ? "Stop e-mails about <strong>" : "E-mails about <strong>") : "Done: no more e-mails about <strong>", f);
    esc(f, what);
    fputs("</strong> to ", f);
    esc(f, email);
    fputs(ask ? (wanted ? "?</p>\n" : " are already off.</p>\n") : ".</p>\n", f);
    if (ask && wanted) {
        fputs("<form method=\"post\" action=\"?token=", f);
        esc(f, u->token);
        fputs("\"><button type=\"submit\">Unsubscribe</button></form>\n", f);
    }
    fputs("</body></html>\n", f);
    fclose(f);
    reply_json_text(rq, 200, s, len);
    rq->content_type = "text/html; charset=utf-8";
    reply_header(rq, "Content-Security-Policy", PAGE_CSP);
    reply_header(rq, "Cache-Control", "no-store");
    reply_header(rq, "Referrer-Policy", "no-referrer");
    free(s);
}

static void reply_run(struct request *rq, struct db_stmt *st, bool ask) {
    struct unsub u;
    if (token_or_reply(rq, &u) != 0) return;
    const char *p[] = {u.tenant, u.contact, u.kind};
    PGresult *r = db_exec(rq, st, 3, p);
    if (!r) return;
    if (PQntuples(r) == 0)
        reply_problem(rq, P_NOT_FOUND, "the contact this link was made for no longer exists");
    else
        reply_page(rq, &u, PQgetvalue(r, 0, 0), ask, !ask || PQgetvalue(r, 0, 1)[0] == 't');
    PQclear(r);
}

void api_unsubscribe_page(struct request *rq) {
    reply_run(rq, &st_contact, true);
}

void api_unsubscribe(struct request *rq) {
    reply_run(rq, &st_remove, false);
}
