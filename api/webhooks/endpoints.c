/* /v1/webhook-endpoints and /v1/webhook-deliveries: where change events are POSTed, with their
 * delivery log. Deliveries are created by feed_append (api/feed.c) and sent by server/dispatcher.c. */
#include "api/api.h"
#include "server/config.h"
#include "server/data/db.h"
#include "server/edge/json_in.h"
#include "server/edge/list.h"
#include "server/edge/params.h"
#include "server/edge/reply.h"
#include "server/edge/resource.h"
#include "server/util.h"
#include "api/webhooks/guard.h"
#include "api/webhooks/signing.h"
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every event type the feed emits; "*" subscribes to all. */
static const char *const EVENT_TYPES[] = {
    "*", "agreement.created", "agreement.updated", "agreement.signed", "agreement.activated",
    "agreement.suspended", "agreement.resumed", "agreement.terminated", "agreement.superseded",
    "referral.submitted", "referral.acknowledged", "referral.engaged", "referral.updated", "referral.won",
    "referral.lost", "referral.declined", "referral.withdrawn", "referral.edited", "commission.created",
    "commission.reversed", "commission.clawed_back", "invoice.created", "invoice.approved", "invoice.paid",
    "invoice.rejected", "invoice.void",
    /* time-based (api/time_events.c) */
    "referral.acknowledgement_overdue", "referral.stalled", "commission.payable", "invoice.overdue",
    "agreement.expiring", "agreement.expired", "commitment.at_risk", "commitment.missed", "check_in.due",
    "partner.dormant", NULL};

#define READONLY                                                                                   \
    FIELD_READONLY("secret"), FIELD_READONLY("partner_id"), FIELD_READONLY("disabled_reason"),       \
        FIELD_READONLY("failing_since"), FIELD_READONLY("previous_secret_until"),                    \
        FIELDS_READONLY_RESOURCE
static const struct field FIELDS[] = {
    FIELD_URL("url", F_REQUIRED, 2048),
    FIELD_ARRAY("events", 0, 30),
    FIELD_STRING("description", F_NULLABLE, 500),
    FIELD_BOOL("enabled", 0),
    READONLY,
};
#define N(a) (int)(sizeof a / sizeof a[0])

/* A partner key's endpoint records the key ($9): revoking it disables the endpoint. */
DB_STMT(st_insert,
        "INSERT INTO webhook_endpoints AS w (tenant_id, id, url, events, description, enabled, partner_id, secret, "
        "  api_key_id) "
        "VALUES ($1, $2, $3, $4::text[], $5, $6, $7, $8, $9) RETURNING webhook_endpoint_json(w), w.version");
DB_STMT(st_key_revoked,
        "SELECT 1 FROM webhook_endpoints w JOIN api_keys k ON k.tenant_id = w.tenant_id AND k.id = w.api_key_id "
        "WHERE w.tenant_id = $1 AND w.id = $2 AND ($3::uuid IS NULL OR w.partner_id = $3) "
        "  AND k.revoked_at IS NOT NULL");
DB_STMT(st_get,
        "SELECT webhook_endpoint_json(w), w.version FROM webhook_endpoints w "
        "WHERE w.tenant_id = $1 AND w.id = $2 AND ($3::uuid IS NULL OR w.partner_id = $3)");
DB_STMT(st_update,
        "UPDATE webhook_endpoints w SET url = coalesce($4, w.url), events = coalesce($5::text[], w.events), "
        "  description = CASE WHEN $6 THEN $7 ELSE w.description END, enabled = coalesce($8::boolean, w.enabled), "
        "  disabled_reason = CASE WHEN $8::boolean THEN NULL ELSE w.disabled_reason END, "
        "  failing_since = CASE WHEN $8::boolean THEN NULL ELSE w.failing_since END, "
        "  version = w.version + 1, updated_at = now() "
        "WHERE w.tenant_id = $1 AND w.id = $2 AND ($3::bigint IS NULL OR w.version = $3) "
        "  AND ($9::uuid IS NULL OR w.partner_id = $9) RETURNING webhook_endpoint_json(w), w.version");
DB_STMT(st_delete,
        "DELETE FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2 AND ($3::bigint IS NULL OR version = $3) "
        "  AND ($4::uuid IS NULL OR partner_id = $4) RETURNING id");
DB_STMT(st_version,
        "SELECT version FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2 "
        "AND ($3::uuid IS NULL OR partner_id = $3)");
/* The old secret keeps signing for 24 h so receivers can switch without dropping events. */
DB_STMT(st_rotate,
        "UPDATE webhook_endpoints w SET previous_secret = w.secret, previous_secret_until = now() + interval '24 hours', "
        "  secret = $4, version = w.version + 1, updated_at = now() "
        "WHERE w.tenant_id = $1 AND w.id = $2 AND ($3::uuid IS NULL OR w.partner_id = $3) "
        "RETURNING webhook_endpoint_json(w), w.version");
/* GET /v1/webhook-endpoints (server/edge/list.h): a partner key sees its own endpoints. */
LIST_SPEC(endpoint_list,
          "SELECT webhook_endpoint_json(w), w.created_at, w.id FROM webhook_endpoints w "
          "WHERE w.tenant_id = $1 AND ($5::uuid IS NULL OR w.partner_id = $5)",
          "w.created_at, w.id");
/* GET /v1/webhook-endpoints/{id}/deliveries: $6 the endpoint (404 unless st_version finds it),
 * $7 status. */
static const char *const DELIVERY_STATUSES[] = {"pending", "succeeded", "failed", NULL};
LIST_SPEC_UNDER(delivery_list, st_version, "webhook endpoint",
          "SELECT webhook_delivery_json(d), d.created_at, d.id FROM webhook_deliveries d "
          "WHERE d.tenant_id = $1 AND d.endpoint_id = $6 AND ($7::text IS NULL OR d.status = $7) "
          "  AND ($5::uuid IS NULL OR EXISTS (SELECT 1 FROM webhook_endpoints w "
          "       WHERE w.tenant_id = $1 AND w.id = d.endpoint_id AND w.partner_id = $5))",
          "d.created_at, d.id",
          {"id", LQ_PATH_UUID, NULL, 0}, {"status", LQ_ENUM, DELIVERY_STATUSES});
/* A dispatcher has claimed the delivery (attempts counted) and its lease runs, but has not
 * logged that attempt yet: a retry now could send it twice at once. */
#define IN_FLIGHT                                                                                  \
    "(d.status = 'pending' AND d.next_attempt_at > now() AND d.attempts > coalesce((SELECT "       \
    "max(a.attempt) FROM webhook_attempts a WHERE a.tenant_id = d.tenant_id AND a.delivery_id = d.id), 0))"
DB_STMT(st_retry,
        "UPDATE webhook_deliveries d SET status = 'pending', next_attempt_at = now(), updated_at = now() "
        "FROM webhook_endpoints w WHERE d.tenant_id = $1 AND d.id = $2 AND w.tenant_id = d.tenant_id "
        "  AND w.id = d.endpoint_id AND ($3::uuid IS NULL OR w.partner_id = $3) "
        "  AND NOT " IN_FLIGHT " RETURNING webhook_delivery_json(d)");
DB_STMT(st_retry_refused,
        "SELECT " IN_FLIGHT " FROM webhook_deliveries d JOIN webhook_endpoints w ON w.tenant_id = d.tenant_id "
        "  AND w.id = d.endpoint_id WHERE d.tenant_id = $1 AND d.id = $2 AND ($3::uuid IS NULL OR w.partner_id = $3)");

/* Refuses URLs that are not http(s), or whose host is a private, loopback, link-local or reserved
 * address literal or a localhost name. No DNS lookup here: this runs inside the request's
 * transaction, where no network wait belongs, and a name's answer can change anyway. The
 * dispatcher checks the address it actually connects to at every delivery. */
static const char *webhook_url_problem(const char *url) {
    CURLU *u = curl_url();
    char *host = NULL, *scheme = NULL;
    const char *why = NULL;
    if (!u)
        why = "could not be checked (out of memory)";
    else if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
             curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
             curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
        why = "is not a URL";
    else if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
        why = "must be http or https";
    else if (!cfg.webhook_allow_private)
        why = webhook_host_refusal(host);
    curl_free(host);
    curl_free(scheme);
    curl_url_cleanup(u);
    return why;
}

/* Validates the body; fills `events` as a SQL array literal (or "" if absent). */
static int body_or_reply(struct request *rq, bool partial, char *events, size_t cap) {
    json_t *errors = json_array();
    json_fields_collect(errors, NULL, rq->json, FIELDS, N(FIELDS), partial);
    json_t *ev = json_object_get(rq->json, "events");
    events[0] = '\0';
    if (json_is_array(ev)) {
        size_t i;
        json_t *e;
        if (json_array_size(ev) == 0)
            json_array_append_new(errors, json_pack("{s:s,s:s}", "field", "events", "message", "must not be empty; use [\"*\"] for all"));
        strcpy(events, "{");
        json_array_foreach(ev, i, e) {
            const char *s = json_string_value(e);
            bool known = false;
            for (const char *const *t = EVENT_TYPES; s && *t; t++)
                if (!strcmp(*t, s)) known = true;
            if (!known) {
                json_array_append_new(errors, json_pack("{s:s,s:s}", "field", "events", "message", "names an unknown event type"));
                break;
            }
            size_t n = strlen(events);
            if (n + strlen(s) + 5 > cap) break; /* too many items: already reported by the field rule */
            snprintf(events + n, cap - n, "%s\"%s\"", i ? "," : "", s);
        }
        size_t n = strlen(events);
        snprintf(events + n, cap - n, "}");
    }
    const char *url = json_string_value(json_object_get(rq->json, "url"));
    if (url && json_array_size(errors) == 0) {
        const char *why = webhook_url_problem(url);
        if (why) json_array_append_new(errors, json_pack("{s:s,s:s}", "field", "url", "message", why));
    }
    return json_errors_or_ok(rq, errors);
}

/* Replies with the endpoint and, once, its secret. */
static void reply_with_secret(struct request *rq, int status, PGresult *r, const char *secret) {
    json_error_t err;
    json_t *o = json_loads(PQgetvalue(r, 0, 0), 0, &err);
    json_object_set_new(o, "secret", json_null());
    free(rq->idem_body); /* a replay never shows the secret again */
    rq->idem_body = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_object_set_new(o, "secret", json_string(secret));
    reply_json(rq, status, o);
    reply_etag(rq, atoll(PQgetvalue(r, 0, 1)));
}

void api_webhooks_create(struct request *rq) {
    char events[30 * 40 + 3];
    if (body_or_reply(rq, false, events, sizeof events) != JIN_OK) return;
    char id[37], secret[80];
    uuid_new(id);
    webhook_secret_new(secret, sizeof secret);
    json_t *en = json_object_get(rq->json, "enabled");
    const char *p[] = {rq->auth.tenant_id, id, json_string_value(json_object_get(rq->json, "url")),
                       *events ? events : "{*}", json_string_value(json_object_get(rq->json, "description")),
                       en && json_is_false(en) ? "false" : "true", partner_scope(rq), secret,
                       partner_scope(rq) ? rq->auth.key_id : NULL};
    PGresult *r = db_exec(rq, &st_insert, 9, p);
    if (!r) return;
    reply_with_secret(rq, 201, r, secret);
    reply_location(rq, "/v1/webhook-endpoints/%s", id);
    PQclear(r);
}

void api_webhooks_list(struct request *rq) {
    list_reply(rq, &endpoint_list);
}

void api_webhooks_get(struct request *rq) {
    reply_resource_by_id(rq, &st_get, "webhook endpoint");
}

/* After a conditional write matched nothing: 404 or 412. */
static void missing_or_stale(struct request *rq, const char *id) {
    const char *p[] = {rq->auth.tenant_id, id, partner_scope(rq)};
    reply_missing_or_stale(rq, &st_version, 3, p, "webhook endpoint", id);
}

void api_webhooks_update(struct request *rq) {
    char version[24], events[30 * 40 + 3];
    const char *id = path_id_if_match_or_reply(rq, version);
    if (!id || body_or_reply(rq, true, events, sizeof events) != JIN_OK) return;
    if (json_object_size(rq->json) == 0) {
        reply_field_error(rq, "body", "names no field to change");
        return;
    }
    json_t *en = json_object_get(rq->json, "enabled");
    json_t *desc = json_object_get(rq->json, "description");
    if (json_is_true(en)) { /* an endpoint whose registering key was revoked stays off */
        const char *k[] = {rq->auth.tenant_id, id, partner_scope(rq)};
        PGresult *kr = db_exec(rq, &st_key_revoked, 3, k);
        if (!kr) return;
        bool revoked = PQntuples(kr) > 0;
        PQclear(kr);
        if (revoked) {
            reply_problem(rq, P_INVALID_STATE, "the partner key that registered this endpoint was revoked; "
                                               "register a new endpoint with a live key");
            return;
        }
    }
    const char *p[] = {rq->auth.tenant_id, id, *version ? version : NULL,
                       json_string_value(json_object_get(rq->json, "url")), *events ? events : NULL,
                       desc ? "true" : "false", json_string_value(desc),
                       en ? (json_is_true(en) ? "true" : "false") : NULL, partner_scope(rq)};
    PGresult *r = db_exec(rq, &st_update, 9, p);
    if (r && PQntuples(r) == 0)
        missing_or_stale(rq, id);
    else if (r)
        reply_resource(rq, 200, r);
    PQclear(r);
}

void api_webhooks_delete(struct request *rq) {
    char version[24];
    const char *id = path_id_if_match_or_reply(rq, version);
    if (!id) return;
    const char *p[] = {rq->auth.tenant_id, id, *version ? version : NULL, partner_scope(rq)};
    PGresult *r = db_exec(rq, &st_delete, 4, p);
    if (!r) return;
    if (PQntuples(r) == 0)
        missing_or_stale(rq, id);
    else
        reply_no_content(rq);
    PQclear(r);
}

void api_webhooks_rotate(struct request *rq) {
    const char *id = path_uuid_or_reply(rq, 0, "id");
    if (!id || (rq->json && json_fields_or_reply(rq, rq->json, NULL, 0, false))) return;
    char secret[80];
    webhook_secret_new(secret, sizeof secret);
    const char *p[] = {rq->auth.tenant_id, id, partner_scope(rq), secret};
    PGresult *r = found_or_reply(rq, &st_rotate, 4, p, "webhook endpoint", id);
    if (r) reply_with_secret(rq, 200, r, secret);
    PQclear(r);
}

void api_webhooks_deliveries(struct request *rq) {
    list_reply(rq, &delivery_list);
}

void api_webhooks_retry(struct request *rq) {
    const char *id = path_uuid_or_reply(rq, 0, "id");
    if (!id || (rq->json && json_fields_or_reply(rq, rq->json, NULL, 0, false))) return;
    const char *p[] = {rq->auth.tenant_id, id, partner_scope(rq)};
    PGresult *r = db_exec(rq, &st_retry, 3, p);
    if (!r) return;
    if (PQntuples(r) == 1) {
        reply_json_text(rq, 202, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
        PQclear(r);
        return;
    }
    PQclear(r);
    r = db_exec(rq, &st_retry_refused, 3, p);
    if (!r) return;
    if (PQntuples(r) == 0)
        reply_not_found(rq, "webhook delivery", id);
    else
        reply_problem(rq, P_INVALID_STATE, "an attempt of this delivery is in flight; retry when it has ended");
    PQclear(r);
}
