/* /v1/partners: create, list (keyset, filters), get, update (If-Match), delete.
 * A partner key sees only its own record; readonly and partner keys cannot write (route table). */
#include "api/api.h"
#include "api/contact.h"
#include "api/partners.h"
#include "server/data/db.h"
#include "server/edge/json_in.h"
#include "server/edge/list.h"
#include "server/edge/params.h"
#include "server/edge/reply.h"
#include "server/edge/resource.h"
#include "server/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const KINDS[] = {"referral", "promotional", "collaboration", "extension",
                                    "expert",   "joint_venture", NULL};
static const char *const STATUSES[] = {"prospect", "active", "paused", "ended", NULL};

static const struct field PARTNER_FIELDS[] = {
    CONTACT_FIELDS,
    FIELD_URL("website", F_NULLABLE, 2048),
    FIELD_ENUM("kind", 0, KINDS),
    FIELD_ENUM("status", 0, STATUSES),
    FIELD_TEXT("ideal_client", F_NULLABLE, 5000),
    FIELD_TAGS("tags", 0, 50),
    FIELD_STRING("external_id", F_NULLABLE, 200),
    FIELD_OBJECT("metadata", 0, 16384),
    FIELD_OBJECT("qualification", F_NULLABLE, 16384),
    FIELD_READONLY("qualification_score"),
    FIELDS_READONLY_RESOURCE,
};
#define NFIELDS (int)(sizeof PARTNER_FIELDS / sizeof PARTNER_FIELDS[0])

/* The questions to ask of a partner (do they share customers and values, do what they say,
 * refer back, answer), each yes/no/unknown, plus notes. */
static const struct field QUALIFICATION[] = {
    FIELD_BOOL("shared_customers", F_NULLABLE),
    FIELD_BOOL("shared_values", F_NULLABLE),
    FIELD_BOOL("delivers_on_promises", F_NULLABLE),
    FIELD_BOOL("refers_back", F_NULLABLE),
    FIELD_BOOL("reachable", F_NULLABLE),
    FIELD_TEXT("notes", F_NULLABLE, 5000),
};

void partner_fields_collect(json_t *errors, json_t *obj, bool partial) {
    json_fields_collect(errors, NULL, obj, PARTNER_FIELDS, NFIELDS, partial);
    json_t *q = json_object_get(obj, "qualification");
    if (json_is_object(q)) json_fields_collect(errors, "qualification.", q, QUALIFICATION, 6, false);
}

static int partner_valid_or_reply(struct request *rq, bool partial) {
    json_t *errors = json_array();
    partner_fields_collect(errors, rq->json, partial);
    return json_errors_or_ok(rq, errors);
}

/* The validated body is passed whole as jsonb; SQL picks the fields. */
DB_STMT(st_insert,
        "INSERT INTO partners AS p (tenant_id, id, name, company, email, phone, website, kind, "
        "  status, ideal_client, tags, external_id, metadata, qualification) "
        "SELECT $1, $2, b->>'name', b->>'company', b->>'email', b->>'phone', b->>'website', "
        "  coalesce(b->>'kind', 'referral'), coalesce(b->>'status', 'prospect'), b->>'ideal_client', "
        "  ARRAY(SELECT jsonb_array_elements_text(b->'tags')), b->>'external_id', "
        "  coalesce(b->'metadata', '{}'), "
        "  CASE WHEN jsonb_typeof(b->'qualification') = 'object' THEN b->'qualification' END "
        "FROM (SELECT $3::jsonb AS b) x RETURNING p.doc, p.version");
DB_STMT(st_get,
        "SELECT p.doc, p.version FROM partners p "
        "WHERE p.tenant_id = $1 AND p.id = $2 AND ($3::uuid IS NULL OR p.id = $3)");
DB_STMT(st_update,
        "UPDATE partners p SET "
        "  name = CASE WHEN b ? 'name' THEN b->>'name' ELSE p.name END, "
        "  company = CASE WHEN b ? 'company' THEN b->>'company' ELSE p.company END, "
        "  email = CASE WHEN b ? 'email' THEN b->>'email' ELSE p.email END, "
        "  phone = CASE WHEN b ? 'phone' THEN b->>'phone' ELSE p.phone END, "
        "  website = CASE WHEN b ? 'website' THEN b->>'website' ELSE p.website END, "
        "  kind = CASE WHEN b ? 'kind' THEN b->>'kind' ELSE p.kind END, "
        "  status = CASE WHEN b ? 'status' THEN b->>'status' ELSE p.status END, "
        "  ideal_client = CASE WHEN b ? 'ideal_client' THEN b->>'ideal_client' ELSE p.ideal_client END, "
        "  tags = CASE WHEN b ? 'tags' THEN ARRAY(SELECT jsonb_array_elements_text(b->'tags')) "
        "         ELSE p.tags END, "
        "  external_id = CASE WHEN b ? 'external_id' THEN b->>'external_id' ELSE p.external_id END, "
        "  metadata = CASE WHEN b ? 'metadata' THEN b->'metadata' ELSE p.metadata END, "
        "  qualification = CASE WHEN b ? 'qualification' THEN CASE WHEN jsonb_typeof(b->'qualification') = "
        "    'object' THEN b->'qualification' END ELSE p.qualification END, "
        "  version = p.version + 1, updated_at = now() "
        "FROM (SELECT $4::jsonb AS b) x "
        "WHERE p.tenant_id = $1 AND p.id = $2 AND ($3::bigint IS NULL OR p.version = $3) "
        "RETURNING p.doc, p.version");
DB_STMT(st_delete,
        "DELETE FROM partners WHERE tenant_id = $1 AND id = $2 "
        "AND ($3::bigint IS NULL OR version = $3) RETURNING id");
/* Revoked keys have no further use; only live keys keep a partner from being deleted. */
DB_STMT(st_drop_revoked_keys,
        "DELETE FROM api_keys WHERE tenant_id = $1 AND partner_id = $2 AND revoked_at IS NOT NULL");
DB_STMT(st_exists, "SELECT version FROM partners WHERE tenant_id = $1 AND id = $2");
/* Taken before the attribution check so that a concurrent PATCH of attributions (which locks the
 * partners it names FOR KEY SHARE) either commits first and is seen, or waits and then finds the
 * partner gone. */
DB_STMT(st_lock, "SELECT 1 FROM partners WHERE tenant_id = $1 AND id = $2 FOR UPDATE");
/* Referrals whose split credit names the partner: no foreign key can guard a JSON array, so the
 * delete asks. Up to 101 ids (100 shown, one more says there are more). */
DB_STMT(st_attributed,
        "SELECT r.id FROM referrals r WHERE r.tenant_id = $1 AND r.attributions IS NOT NULL "
        "  AND EXISTS (SELECT 1 FROM jsonb_array_elements(r.attributions) a "
        "              WHERE (a->>'partner_id')::uuid = $2::uuid) "
        "ORDER BY r.created_at, r.id LIMIT 101");
#define ATTRIBUTED_SHOWN 100

struct db_stmt partner_visible_stmt = {
    .sql = "SELECT 1 FROM partners WHERE tenant_id = $1 AND id = $2 AND ($3::uuid IS NULL OR id = $3)"};

const char *partner_in_path_or_reply(struct request *rq) {
    const char *pid = path_uuid_or_reply(rq, 0, "id");
    if (!pid) return NULL;
    const char *p[] = {rq->auth.tenant_id, pid, partner_scope(rq)};
    PGresult *r = found_or_reply(rq, &partner_visible_stmt, 3, p, "partner", pid);
    PQclear(r);
    return r ? pid : NULL;
}

/* GET /v1/partners: $6 status, $7 kind, $8 external_id, $9 updated_since, $10 q (server/edge/list.h). */
LIST_SPEC(partner_list,
          "SELECT p.doc, p.created_at, p.id FROM partners p "
          "WHERE p.tenant_id = $1 AND ($5::uuid IS NULL OR p.id = $5) "
          "  AND ($6::text IS NULL OR p.status = $6) AND ($7::text IS NULL OR p.kind = $7) "
          "  AND ($8::text IS NULL OR p.external_id = $8) AND ($9::timestamptz IS NULL OR p.updated_at >= $9) "
          "  AND ($10::text IS NULL OR p.name ILIKE $10 OR p.company ILIKE $10)",
          "p.created_at, p.id",
          {"status", LQ_ENUM, STATUSES}, {"kind", LQ_ENUM, KINDS}, {"external_id", LQ_TEXT, NULL, 200},
          {"updated_since", LQ_TIMESTAMP}, {"q", LQ_LIKE, NULL, 200});

/* After a conditional write matched nothing: 404 if absent, else 412 (stale If-Match). */
static void missing_or_stale(struct request *rq, const char *id) {
    const char *p[] = {rq->auth.tenant_id, id};
    reply_missing_or_stale(rq, &st_exists, 2, p, "partner", id);
}

static bool write_failed(struct request *rq) {
    if (db_violated(rq, "partners_external_id_unique"))
        reply_problem(rq, P_EXTERNAL_ID_TAKEN, "another partner already has this external_id");
    else if (db_violated(rq, "api_keys_partner_fk"))
        reply_problem(rq, P_IN_USE, "live API keys are bound to this partner; revoke them first");
    else if (rq->db_fail == DBF_CONSTRAINT && !strcmp(rq->sqlstate, "23503"))
        reply_problem(rq, P_IN_USE, "agreements, referrals, commissions or webhook endpoints refer to this partner; set its "
                                    "status to ended instead");
    return true;
}

/* The answer to a conditional write (update or delete): `status` with the row, or why not. Takes `r`. */
static void reply_written(struct request *rq, PGresult *r, const char *id, int status) {
    if (!r)
        write_failed(rq);
    else if (PQntuples(r) == 0)
        missing_or_stale(rq, id);
    else if (status == 204)
        reply_no_content(rq);
    else
        reply_resource(rq, status, r);
    PQclear(r);
}

void api_partners_create(struct request *rq) {
    if (partner_valid_or_reply(rq, false)) return;
    char id[37];
    uuid_new(id);
    const char *p[] = {rq->auth.tenant_id, id, rq->body};
    PGresult *r = db_exec(rq, &st_insert, 3, p);
    if (!r) {
        write_failed(rq);
        return;
    }
    reply_created(rq, r, "/v1/partners/%s", id);
    PQclear(r);
}

void api_partners_get(struct request *rq) {
    reply_resource_by_id(rq, &st_get, "partner");
}

void api_partners_list(struct request *rq) {
    list_reply(rq, &partner_list);
}

void api_partners_update(struct request *rq) {
    char version[24];
    const char *id = path_id_if_match_or_reply(rq, version);
    if (!id) return;
    if (partner_valid_or_reply(rq, true)) return;
    if (json_object_size(rq->json) == 0) {
        reply_field_error(rq, "body", "names no field to change");
        return;
    }
    const char *p[] = {rq->auth.tenant_id, id, *version ? version : NULL, rq->body};
    reply_written(rq, db_exec(rq, &st_update, 4, p), id, 200);
}

void api_partners_delete(struct request *rq) {
    char version[24];
    const char *id = path_id_if_match_or_reply(rq, version);
    if (!id) return;
    const char *p[] = {rq->auth.tenant_id, id, *version ? version : NULL};
    PGresult *r = found_or_reply(rq, &st_lock, 2, p, "partner", id);
    if (!r) return;
    PQclear(r);
    if (!(r = db_exec(rq, &st_attributed, 2, p))) return;
    if (PQntuples(r) > 0) {
        json_t *ids = json_array();
        for (int i = 0; i < PQntuples(r) && i < ATTRIBUTED_SHOWN; i++)
            json_array_append_new(ids, json_string(PQgetvalue(r, i, 0)));
        bool more = PQntuples(r) > ATTRIBUTED_SHOWN;
        PQclear(r);
        reply_problem_extra(rq, P_IN_USE, json_pack("{s:o,s:b}", "referral_ids", ids, "more", more),
                            "referrals name this partner in their attributions (split credit); change their "
                            "attributions first, or set the partner's status to ended instead");
        return;
    }
    PQclear(r);
    r = db_exec(rq, &st_drop_revoked_keys, 2, p);
    if (!r) return;
    PQclear(r);
    reply_written(rq, db_exec(rq, &st_delete, 3, p), id, 204);
}

/* PUT replaces the partner named by the CRM's id, creating it if needed. A repeat with the same
 * body changes nothing (no new version), so CRMs can replay it safely. */
DB_STMT(st_upsert,
        "INSERT INTO partners AS p (tenant_id, id, name, company, email, phone, website, kind, status, "
        "  ideal_client, tags, external_id, metadata, qualification) "
        "SELECT $1, $2, b->>'name', b->>'company', b->>'email', b->>'phone', b->>'website', "
        "  coalesce(b->>'kind', 'referral'), coalesce(b->>'status', 'prospect'), b->>'ideal_client', "
        "  ARRAY(SELECT jsonb_array_elements_text(b->'tags')), $3, coalesce(b->'metadata', '{}'), "
        "  CASE WHEN jsonb_typeof(b->'qualification') = 'object' THEN b->'qualification' END "
        "FROM (SELECT $4::jsonb AS b) x "
        /* If-Match names a version: only an existing partner can match it, never create one */
        "WHERE $5::bigint IS NULL OR EXISTS (SELECT 1 FROM partners WHERE tenant_id = $1 AND external_id = $3) "
        "ON CONFLICT ON CONSTRAINT partners_external_id_unique DO UPDATE SET "
        "  name = EXCLUDED.name, company = EXCLUDED.company, email = EXCLUDED.email, phone = EXCLUDED.phone, "
        "  website = EXCLUDED.website, kind = EXCLUDED.kind, status = EXCLUDED.status, "
        "  ideal_client = EXCLUDED.ideal_client, tags = EXCLUDED.tags, metadata = EXCLUDED.metadata, "
        "  qualification = EXCLUDED.qualification, "
        "  version = p.version + 1, updated_at = now() "
        "WHERE ($5::bigint IS NULL OR p.version = $5) AND (p.name, p.company, p.email, p.phone, p.website, p.kind, "
        "  p.status, p.ideal_client, p.tags, p.metadata, p.qualification) IS DISTINCT FROM (EXCLUDED.name, "
        "  EXCLUDED.company, EXCLUDED.email, EXCLUDED.phone, EXCLUDED.website, EXCLUDED.kind, EXCLUDED.status, "
        "  EXCLUDED.ideal_client, EXCLUDED.tags, EXCLUDED.metadata, EXCLUDED.qualification) "
        "RETURNING p.doc, p.version, p.created_at = p.updated_at AND p.version = 1");
DB_STMT(st_by_external,
        "SELECT p.doc, p.version FROM partners p WHERE p.tenant_id = $1 AND p.external_id = $2");
/* If-Match: * -- the partner must exist, and stays so (locked) until the upsert has run */
DB_STMT(st_lock_external,
        "SELECT 1 FROM partners WHERE tenant_id = $1 AND external_id = $2 FOR UPDATE");

/* If-Match: * -- the partner must exist; it stays locked until the upsert has run. False after 412. */
static bool exists_for_if_match_any(struct request *rq, const char *ext) {
    if (!if_match_any(rq)) return true;
    const char *q[] = {rq->auth.tenant_id, ext};
    PGresult *l = db_exec(rq, &st_lock_external, 2, q);
    if (!l) return false;
    int n = PQntuples(l);
    PQclear(l);
    if (n == 0)
        reply_problem(rq, P_PRECONDITION_FAILED, "no partner has this external_id, so If-Match: * cannot match");
    return n > 0;
}

/* The upsert wrote nothing: the partner is unchanged (200), or If-Match did not match (412). */
static void reply_unchanged_or_stale(struct request *rq, const char *ext, const char *version) {
    const char *q[] = {rq->auth.tenant_id, ext};
    PGresult *r = db_exec(rq, &st_by_external, 2, q);
    if (!r) return;
    if (PQntuples(r) == 0) /* If-Match given, and no partner has this external_id */
        reply_problem(rq, P_PRECONDITION_FAILED, "no partner has this external_id, so If-Match cannot match");
    else if (version_ok_or_reply(rq, "partner", version, PQgetvalue(r, 0, 1)))
        reply_resource(rq, 200, r);
    PQclear(r);
}

void api_partners_put(struct request *rq) {
    char version[24], id[37];
    const char *ext = path_external_id_or_reply(rq);
    if (!ext || if_match_or_reply(rq, version) || partner_valid_or_reply(rq, false) ||
        !body_external_id_ok_or_reply(rq, ext) || !exists_for_if_match_any(rq, ext))
        return;
    uuid_new(id);
    const char *p[] = {rq->auth.tenant_id, id, ext, rq->body, *version ? version : NULL};
    PGresult *r = db_exec(rq, &st_upsert, 5, p);
    if (!r)
        write_failed(rq);
    else if (PQntuples(r) == 0) /* nothing changed, or If-Match is stale */
        reply_unchanged_or_stale(rq, ext, version);
    else if (PQgetvalue(r, 0, 2)[0] == 't' && !strcmp(PQgetvalue(r, 0, 1), "1"))
        reply_created(rq, r, "/v1/partners/%s", id);
    else
        reply_resource(rq, 200, r);
    PQclear(r);
}
