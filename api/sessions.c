/* Signing people in without passwords (issue 15): one-time sign-in links for a partner's person
 * (POST /v1/partners/{id}/portal-links, staff) and for staff (POST /v1/staff-links, admin), the
 * exchange of a link for a session cookie (POST /v1/sessions, public), the session itself
 * (GET /v1/session) and signing out (DELETE /v1/session). A link's token travels in the URL's
 * fragment (#token=), never to a server log; tokens and cookie values are stored only as SHA-256.
 * How the cookie then authenticates: server/edge/session_auth.c. */
#include "api/api.h"
#include "server/config.h"
#include "server/data/db.h"
#include "server/edge/json_in.h"
#include "server/edge/params.h"
#include "server/edge/reply.h"
#include "server/edge/resource.h"
#include "server/edge/dispatch.h"
#include "server/edge/session_auth.h"
#include "server/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const STAFF_ROLES[] = {"staff", "admin", "readonly", NULL};

static const struct field PARTNER_LINK_FIELDS[] = {
    FIELD_UUID("contact_id", F_NULLABLE),
    FIELD_EMAIL("email", F_NULLABLE, 254),
};
static const struct field STAFF_LINK_FIELDS[] = {
    FIELD_EMAIL("email", F_REQUIRED, 254),
    FIELD_ENUM("role", F_REQUIRED, STAFF_ROLES),
};
static const struct field SESSION_FIELDS[] = {
    FIELD_STRING("token", F_REQUIRED, 200),
};

/* The partner (of the caller's tenant) and, when asked, its contact's e-mail. */
DB_STMT(st_partner, "SELECT p.email, (SELECT c.email FROM contacts c WHERE c.tenant_id = p.tenant_id "
                    "AND c.partner_id = p.id AND c.id = $3::uuid) FROM partners p WHERE p.tenant_id = $1 AND p.id = $2");
DB_STMT(st_link, "INSERT INTO portal_links AS l (tenant_id, id, token_hash, role, partner_id, contact_id, email, "
                 "created_by, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now() + make_interval(secs => $9::int)) "
                 "RETURNING portal_link_json(l)");
DB_STMT(st_start, "SELECT state, session_tenant, session_role, coalesce(session_partner::text, '') "
                  "FROM allied_session_start($1, $2, $3, $4, $5::int)");
DB_STMT(st_session_json, "SELECT portal_session_json(s, $3::int), "
                         "floor(extract(epoch FROM s.expires_at - now()))::bigint "
                         "FROM portal_sessions s WHERE s.tenant_id = $1 AND s.id = $2");
/* GET /v1/session with an API key: who the key is, in the session's shape. */
DB_STMT(st_key_json, "SELECT json_build_object('id', NULL, 'role', $3::text, 'partner_id', $2::uuid, "
                     "'partner_name', (SELECT p.name FROM partners p WHERE p.tenant_id = t.id AND p.id = $2::uuid), "
                     "'tenant_name', t.name, 'email', NULL, 'csrf_token', NULL, 'created_at', NULL, "
                     "'expires_at', NULL, 'idle_expires_at', NULL) FROM tenants t WHERE t.id = $1");
DB_STMT(st_sign_out, "UPDATE portal_sessions SET revoked_at = coalesce(revoked_at, now()) "
                     "WHERE tenant_id = $1 AND id = $2");

/* Where the sign-in page is: ALLIED_PUBLIC_BASE_URL, else this request's own Host (a relative
 * link when it has none that is safe to repeat). */
static void sign_in_url(struct request *rq, const char *token, char *out, size_t cap) {
    const char *host = req_header(rq, "Host");
    bool host_ok = host && printable_ascii(host, 255) && !strpbrk(host, " /\\?#@");
    if (cfg.public_base_url[0]) {
        size_t n = strlen(cfg.public_base_url);
        bool slash = n > 0 && cfg.public_base_url[n - 1] == '/';
        snprintf(out, cap, "%.*s/portal/sign-in#token=%s", (int)(slash ? n - 1 : n), cfg.public_base_url, token);
    } else if (host_ok) {
        snprintf(out, cap, "%s://%s/portal/sign-in#token=%s", session_forwarded_https(rq) ? "https" : "http",
                 host, token);
    } else {
        snprintf(out, cap, "/portal/sign-in#token=%s", token);
    }
}

/* Inserts a link for `role` (and `partner`, `contact`) to `email`; replies 201 with it and its url. */
static void create_link(struct request *rq, const char *role, const char *partner, const char *contact,
                        const char *email) {
    char id[37], token[SESSION_TOKEN_LEN + 1], hash[65], ttl[16], url[700];
    uuid_new(id);
    session_token_new(token, hash);
    snprintf(ttl, sizeof ttl, "%d", cfg.portal_link_ttl_s);
    const char *p[] = {rq->auth.tenant_id, id, hash, role, partner, contact, email, rq->auth.key_id, ttl};
    PGresult *r = db_exec(rq, &st_link, 9, p);
    if (!r) return;
    json_t *o = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
    PQclear(r);
    if (!o) abort();
    /* An Idempotency-Key replay must not reveal the token: only its hash is stored. */
    json_object_set_new(o, "url", json_null());
    free(rq->idem_body);
    rq->idem_body = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    sign_in_url(rq, token, url, sizeof url);
    json_object_set_new(o, "url", json_string(url));
    reply_json(rq, 201, o);
}

void api_portal_links_create(struct request *rq) {
    const char *partner = path_uuid_or_reply(rq, 0, "id");
    if (!partner) return;
    json_t *body = rq->json ? rq->json : json_object();
    int rc = json_fields_or_reply(rq, body, PARTNER_LINK_FIELDS, 2, false);
    const char *contact = json_string_value(json_object_get(body, "contact_id"));
    const char *email = json_string_value(json_object_get(body, "email"));
    if (!rc && contact && email) rc = -1, reply_field_error(rq, "email", "give either contact_id or email, not both");
    if (rc) goto out;
    const char *p[] = {rq->auth.tenant_id, partner, contact};
    PGresult *r = found_or_reply(rq, &st_partner, 3, p, "partner", partner);
    if (!r) goto out;
    const char *contact_email = PQgetisnull(r, 0, 1) ? NULL : PQgetvalue(r, 0, 1);
    const char *to = contact ? contact_email : email ? email : PQgetisnull(r, 0, 0) ? NULL : PQgetvalue(r, 0, 0);
    if (contact && !contact_email)
        reply_field_error(rq, "contact_id", "is not a contact of this partner");
    else if (!to || !*to)
        reply_field_error(rq, "email", "is required: the partner has no e-mail address (or give contact_id)");
    else
        create_link(rq, "partner", partner, contact, to);
    PQclear(r);
out:
    if (!rq->json) json_decref(body);
}

void api_staff_links_create(struct request *rq) {
    if (json_fields_or_reply(rq, rq->json, STAFF_LINK_FIELDS, 2, false)) return;
    create_link(rq, json_string_value(json_object_get(rq->json, "role")), NULL, NULL,
                json_string_value(json_object_get(rq->json, "email")));
}

/* 401 link-invalid naming why: the sign-in page shows it. */
static void link_refused(struct request *rq, const char *state) {
    if (strcmp(state, "used") == 0)
        reply_problem(rq, P_LINK_INVALID, "this sign-in link was already used; ask for a new one");
    else if (strcmp(state, "expired") == 0)
        reply_problem(rq, P_LINK_INVALID, "this sign-in link has expired; ask for a new one");
    else if (strcmp(state, "suspended") == 0)
        reply_problem(rq, P_TENANT_SUSPENDED, "the operator suspended this tenant; its sign-in links are refused");
    else
        reply_problem(rq, P_LINK_INVALID, "this sign-in link is unknown; check it was copied whole, or ask for a new one");
}

/* Replies `status` with the session's JSON (rq->auth: the session) and, with `token`, its cookie. */
static void reply_session(struct request *rq, int status, const char *token) {
    char idle[16], cookie[160];
    snprintf(idle, sizeof idle, "%d", cfg.session_idle_s);
    const char *p[] = {rq->auth.tenant_id, rq->auth.key_id, idle};
    PGresult *r = found_or_reply(rq, &st_session_json, 3, p, "session", rq->auth.key_id);
    if (!r) return;
    reply_json_text(rq, status, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
    reply_header(rq, "Cache-Control", "no-store");
    if (token) {
        session_cookie_value(rq, token, atol(PQgetvalue(r, 0, 1)), cookie, sizeof cookie);
        reply_header(rq, "Set-Cookie", cookie);
        reply_header(rq, "Location", "/v1/session");
    }
    PQclear(r);
}

/* The sign-in itself is audited as the new session's first act. */
static void adopt_session(struct request *rq, PGresult *r, const char *id) {
    rq->auth.ok = true;
    rq->auth.session = true;
    snprintf(rq->auth.key_id, sizeof rq->auth.key_id, "%s", id);
    snprintf(rq->auth.tenant_id, sizeof rq->auth.tenant_id, "%s", PQgetvalue(r, 0, 1));
    snprintf(rq->auth.partner_id, sizeof rq->auth.partner_id, "%s", PQgetvalue(r, 0, 3));
    const char *role = PQgetvalue(r, 0, 2);
    rq->auth.role = !strcmp(role, "admin") ? ROLE_ADMIN : !strcmp(role, "staff") ? ROLE_STAFF
                  : !strcmp(role, "partner") ? ROLE_PARTNER : ROLE_READONLY;
}

void api_sessions_create(struct request *rq) {
    if (json_fields_or_reply(rq, rq->json, SESSION_FIELDS, 1, false)) return;
    const char *link = json_string_value(json_object_get(rq->json, "token"));
    if (!session_token_valid(link)) {
        link_refused(rq, "unknown");
        return;
    }
    char id[37], link_hash[65], token[SESSION_TOKEN_LEN + 1], hash[65], csrf[SESSION_TOKEN_LEN + 1], unused[65];
    char absolute[16];
    uuid_new(id);
    sha256_hex(link, strlen(link), link_hash);
    session_token_new(token, hash);
    session_token_new(csrf, unused);
    snprintf(absolute, sizeof absolute, "%d", cfg.session_absolute_s);
    const char *p[] = {link_hash, id, hash, csrf, absolute};
    PGresult *r = db_exec(rq, &st_start, 5, p);
    if (!r) return;
    if (PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "ok") == 0) {
        adopt_session(rq, r, id);
        reply_session(rq, 201, token);
    } else {
        link_refused(rq, PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "unknown");
    }
    PQclear(r);
}

void api_session_get(struct request *rq) {
    if (rq->auth.session) {
        reply_session(rq, 200, NULL);
        return;
    }
    const char *p[] = {rq->auth.tenant_id, rq->auth.partner_id[0] ? rq->auth.partner_id : NULL,
                       role_name(rq->auth.role)};
    PGresult *r = db_exec(rq, &st_key_json, 3, p);
    if (!r) return;
    reply_json_text(rq, 200, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
    PQclear(r);
}

void api_session_delete(struct request *rq) {
    char clear[160];
    if (!rq->auth.session) {
        reply_problem(rq, P_BAD_REQUEST, "this request is authenticated by an API key, not a session; "
                                         "revoke a key with DELETE /v1/api-keys/{id}");
        return;
    }
    const char *p[] = {rq->auth.tenant_id, rq->auth.key_id};
    PGresult *r = db_exec(rq, &st_sign_out, 2, p);
    if (!r) return;
    PQclear(r);
    rq->set_cookie[0] = '\0'; /* a rotation in this request must not set the cookie again */
    reply_no_content(rq);
    session_cookie_value(rq, "", 0, clear, sizeof clear);
    reply_header(rq, "Set-Cookie", clear);
}
