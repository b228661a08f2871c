/* Contacts: the people Allied notifies by e-mail (issue 14). A partner's contacts live under
 * /v1/partners/{id}/contacts (staff keys for any partner, a partner key for its own); the tenant's
 * own notification contacts (partner_id NULL) under /v1/notification-contacts (staff keys). Both
 * are one table (migration 0021) and one set of statements: $3 is the partner, NULL for the
 * tenant's side. Which kinds each side may ask for is api/notification_kinds.h. */
#include "api/contacts.h"
#include "api/notification_kinds.h"
#include "api/partners.h"
#include "server/data/db.h"
#include "server/edge/json_in.h"
#include "server/edge/list.h"
#include "server/edge/params.h"
#include "server/edge/reply.h"
#include "server/edge/resource.h"
#include "server/util.h"
#include <stdio.h>
#include <string.h>

static const char *const ROLES[] = {"primary", "billing", "sales", "finance", "owner", "other", NULL};
static const char *const DIGESTS[] = {"off", "daily", NULL};
#define MAX_NOTIFICATIONS 32 /* more than there are kinds: a longer list cannot be distinct */

static const struct field FIELDS[] = {
    FIELD_STRING("name", F_REQUIRED, 200),
    FIELD_EMAIL("email", F_REQUIRED, 254),
    FIELD_ENUM("role", 0, ROLES),
    FIELD_ARRAY("notifications", 0, MAX_NOTIFICATIONS),
    FIELD_ENUM("digest", 0, DIGESTS),
    FIELD_READONLY("partner_id"),
    FIELDS_READONLY_RESOURCE,
};
#define NFIELDS (int)(sizeof FIELDS / sizeof FIELDS[0])

/* Whose contacts a request is about: the partner's (from the path) or the tenant's (NULL). */
struct owner {
    const char *partner; /* NULL: the tenant's own contacts */
    enum notify_side side;
};

/* $1 tenant, $2 id, $3 partner (NULL: the tenant's), $4 body. Without "notifications", every
 * kind of the contact's side. */
DB_STMT(st_insert,
        "INSERT INTO contacts AS c (tenant_id, id, partner_id, name, email, role, notifications, digest) "
        "SELECT $1, $2, $3, b->>'name', b->>'email', coalesce(b->>'role', 'primary'), "
        "  CASE WHEN b ? 'notifications' THEN ARRAY(SELECT jsonb_array_elements_text(b->'notifications')) "
        "       WHEN $3::uuid IS NULL THEN " NOTIFICATION_KINDS_SQL(NOTIFICATION_KINDS_TENANT) " "
        "       ELSE " NOTIFICATION_KINDS_SQL(NOTIFICATION_KINDS_PARTNER) " END, "
        "  coalesce(b->>'digest', 'off') "
        "FROM (SELECT $4::jsonb AS b) x RETURNING contact_json(c), c.version");
DB_STMT(st_get,
        "SELECT contact_json(c), c.version FROM contacts c "
        "WHERE c.tenant_id = $1 AND c.id = $2 AND c.partner_id IS NOT DISTINCT FROM $3::uuid");
/* $4 If-Match's version or NULL, $5 the body (only the fields it names change). */
DB_STMT(st_update,
        "UPDATE contacts c SET "
        "  name = CASE WHEN b ? 'name' THEN b->>'name' ELSE c.name END, "
        "  email = CASE WHEN b ? 'email' THEN b->>'email' ELSE c.email END, "
        "  role = CASE WHEN b ? 'role' THEN b->>'role' ELSE c.role END, "
        "  notifications = CASE WHEN b ? 'notifications' "
        "    THEN ARRAY(SELECT jsonb_array_elements_text(b->'notifications')) ELSE c.notifications END, "
        "  digest = CASE WHEN b ? 'digest' THEN b->>'digest' ELSE c.digest END, "
        "  version = c.version + 1, updated_at = now() "
        "FROM (SELECT $5::jsonb AS b) x "
        "WHERE c.tenant_id = $1 AND c.id = $2 AND c.partner_id IS NOT DISTINCT FROM $3::uuid "
        "  AND ($4::bigint IS NULL OR c.version = $4) RETURNING contact_json(c), c.version");
DB_STMT(st_delete,
        "DELETE FROM contacts c WHERE c.tenant_id = $1 AND c.id = $2 AND c.partner_id IS NOT DISTINCT FROM $3::uuid "
        "  AND ($4::bigint IS NULL OR c.version = $4) RETURNING c.id");
DB_STMT(st_version,
        "SELECT c.version FROM contacts c "
        "WHERE c.tenant_id = $1 AND c.id = $2 AND c.partner_id IS NOT DISTINCT FROM $3::uuid");
/* GET /v1/partners/{id}/contacts: $6 the partner (404 unless visible to the caller), $7 role. */
LIST_SPEC_UNDER(partner_list, partner_visible_stmt, "partner",
                "SELECT contact_json(c), c.created_at, c.id FROM contacts c "
                "WHERE c.tenant_id = $1 AND c.partner_id = $6 AND ($5::uuid IS NULL OR c.partner_id = $5) "
                "  AND ($7::text IS NULL OR c.role = $7)",
                "c.created_at, c.id", {"id", LQ_PATH_UUID, NULL, 0}, {"role", LQ_ENUM, ROLES});
/* GET /v1/notification-contacts (staff keys only, so $5 is NULL): $6 role. */
LIST_SPEC(tenant_list,
          "SELECT contact_json(c), c.created_at, c.id FROM contacts c "
          "WHERE c.tenant_id = $1 AND c.partner_id IS NULL AND $5::uuid IS NULL "
          "  AND ($6::text IS NULL OR c.role = $6)",
          "c.created_at, c.id", {"role", LQ_ENUM, ROLES});

static void add_error(json_t *errors, const char *message) {
    json_array_append_new(errors, json_pack("{s:s,s:s}", "field", "notifications", "message", message));
}

/* Item `i` of "notifications": a string naming a kind of `side`, not named before it. */
static void notification_check(json_t *errors, json_t *list, size_t i, enum notify_side side) {
    const char *kind = json_string_value(json_array_get(list, i));
    char msg[160];
    if (!kind) {
        add_error(errors, "items must be strings (notification kinds)");
        return;
    }
    for (size_t j = 0; j < i; j++) {
        const char *before = json_string_value(json_array_get(list, j));
        if (before && !strcmp(kind, before)) {
            add_error(errors, "items must be distinct");
            return;
        }
    }
    const struct notification_kind *k = notification_kind_find(kind);
    if (k && k->side == side) return;
    if (!k) /* the client's text is not echoed: the index names it */
        snprintf(msg, sizeof msg, "item %zu is not a notification kind", i);
    else if (k->side == SIDE_PARTNER)
        snprintf(msg, sizeof msg, "%s is told to a partner's contacts, not the tenant's", k->kind);
    else
        snprintf(msg, sizeof msg, "%s is told to the tenant's notification contacts, not a partner's", k->kind);
    add_error(errors, msg);
}

/* 0 if the body is a valid contact for `side` (`partial`: as for PATCH); else replies 400. */
static int body_valid_or_reply(struct request *rq, enum notify_side side, bool partial) {
    json_t *errors = json_array();
    json_fields_collect(errors, NULL, rq->json, FIELDS, NFIELDS, partial);
    json_t *list = json_object_get(rq->json, "notifications");
    if (json_is_array(list) && json_array_size(list) <= MAX_NOTIFICATIONS)
        for (size_t i = 0; i < json_array_size(list); i++) notification_check(errors, list, i, side);
    if (partial && json_object_size(rq->json) == 0)
        json_array_append_new(errors, json_pack("{s:s,s:s}", "field", "body", "message", "names no field to change"));
    return json_errors_or_ok(rq, errors);
}

/* A write the database refused for a reason we can name. */
static void write_failed(struct request *rq, const struct owner *o) {
    if (db_violated(rq, "contacts_email_once"))
        reply_problem(rq, P_CONFLICT, "this e-mail address is already one of %s; change that contact instead",
                      o->partner ? "this partner's contacts" : "the tenant's notification contacts");
}

static void location(struct request *rq, PGresult *r, const struct owner *o, const char *id) {
    if (o->partner)
        reply_created(rq, r, "/v1/partners/%s/contacts/%s", o->partner, id);
    else
        reply_created(rq, r, "/v1/notification-contacts/%s", id);
}

static void create(struct request *rq, const struct owner *o) {
    if (body_valid_or_reply(rq, o->side, false)) return;
    char id[37];
    uuid_new(id);
    const char *p[] = {rq->auth.tenant_id, id, o->partner, rq->body};
    PGresult *r = db_exec(rq, &st_insert, 4, p);
    if (r)
        location(rq, r, o, id);
    else
        write_failed(rq, o);
    PQclear(r);
}

static void get(struct request *rq, const struct owner *o, const char *id) {
    const char *p[] = {rq->auth.tenant_id, id, o->partner};
    PGresult *r = found_or_reply(rq, &st_get, 3, p, "contact", id);
    if (r) reply_resource(rq, 200, r);
    PQclear(r);
}

/* The answer to a conditional write: `status` with the row, 404 or 412, or a named failure. */
static void reply_written(struct request *rq, PGresult *r, const struct owner *o, const char *id, int status) {
    const char *p[] = {rq->auth.tenant_id, id, o->partner};
    if (!r)
        write_failed(rq, o);
    else if (PQntuples(r) == 0)
        reply_missing_or_stale(rq, &st_version, 3, p, "contact", id);
    else if (status == 204)
        reply_no_content(rq);
    else
        reply_resource(rq, status, r);
    PQclear(r);
}

static void update(struct request *rq, const struct owner *o, const char *id, const char *version) {
    if (body_valid_or_reply(rq, o->side, true)) return;
    const char *p[] = {rq->auth.tenant_id, id, o->partner, *version ? version : NULL, rq->body};
    reply_written(rq, db_exec(rq, &st_update, 5, p), o, id, 200);
}

static void delete(struct request *rq, const struct owner *o, const char *id, const char *version) {
    const char *p[] = {rq->auth.tenant_id, id, o->partner, *version ? version : NULL};
    reply_written(rq, db_exec(rq, &st_delete, 4, p), o, id, 204);
}

/* ---- /v1/partners/{id}/contacts: path parameter 0 the partner, 1 the contact ---- */

/* The partner in the path, if the caller may see it; false after a 400 or 404. */
static bool partner_owner_or_reply(struct request *rq, struct owner *o) {
    o->side = SIDE_PARTNER;
    o->partner = partner_in_path_or_reply(rq);
    return o->partner != NULL;
}

/* The partner, the contact id and If-Match's version ("" if none); NULL after a 400 or 404. */
static const char *partner_contact_or_reply(struct request *rq, struct owner *o, char version[24]) {
    if (!partner_owner_or_reply(rq, o)) return NULL;
    const char *id = path_uuid_or_reply(rq, 1, "contact_id");
    return id && (!version || if_match_or_reply(rq, version) == 0) ? id : NULL;
}

void api_partner_contacts_create(struct request *rq) {
    struct owner o;
    if (partner_owner_or_reply(rq, &o)) create(rq, &o);
}

void api_partner_contacts_list(struct request *rq) {
    list_reply(rq, &partner_list);
}

void api_partner_contacts_get(struct request *rq) {
    struct owner o;
    const char *id = partner_contact_or_reply(rq, &o, NULL);
    if (id) get(rq, &o, id);
}

void api_partner_contacts_update(struct request *rq) {
    struct owner o;
    char version[24];
    const char *id = partner_contact_or_reply(rq, &o, version);
    if (id) update(rq, &o, id, version);
}

void api_partner_contacts_delete(struct request *rq) {
    struct owner o;
    char version[24];
    const char *id = partner_contact_or_reply(rq, &o, version);
    if (id) delete(rq, &o, id, version);
}

/* ---- /v1/notification-contacts: the tenant's own; path parameter 0 the contact ---- */

static const struct owner TENANT = {NULL, SIDE_TENANT};

void api_notification_contacts_create(struct request *rq) {
    create(rq, &TENANT);
}

void api_notification_contacts_list(struct request *rq) {
    list_reply(rq, &tenant_list);
}

void api_notification_contacts_get(struct request *rq) {
    const char *id = path_uuid_or_reply(rq, 0, "id");
    if (id) get(rq, &TENANT, id);
}

void api_notification_contacts_update(struct request *rq) {
    char version[24];
    const char *id = path_id_if_match_or_reply(rq, version);
    if (id) update(rq, &TENANT, id, version);
}

void api_notification_contacts_delete(struct request *rq) {
    char version[24];
    const char *id = path_id_if_match_or_reply(rq, version);
    if (id) delete(rq, &TENANT, id, version);
}
