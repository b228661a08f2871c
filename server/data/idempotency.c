/* Idempotency keys, claimed inside the request's own transaction so that the stored response
 * and the change it describes commit (or vanish) together. */
#include "server/data/idempotency.h"
#include "server/data/db.h"
#include "server/edge/reply.h"
#include "server/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <unistd.h>

/* A row older than 24 h is taken over as if new. */
DB_STMT(st_claim,
        "INSERT INTO idempotency_keys (tenant_id, api_key_id, idem_key, request_hash) "
        "VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (api_key_id, idem_key) DO UPDATE "
        "  SET request_hash = EXCLUDED.request_hash, created_at = now(), status = NULL, "
        "      body = NULL, content_type = NULL, etag = NULL, location = NULL "
        "  WHERE idempotency_keys.created_at < now() - interval '24 hours' "
        "RETURNING 1");
DB_STMT(st_stored,
        "SELECT request_hash, status, body, content_type, etag, location FROM idempotency_keys "
        "WHERE tenant_id = $1 AND api_key_id = $2 AND idem_key = $3");
DB_STMT(st_store,
        "UPDATE idempotency_keys SET status = $4, body = $5, content_type = $6, etag = $7, "
        "       location = $8 "
        "WHERE tenant_id = $1 AND api_key_id = $2 AND idem_key = $3");

/* The same hash for a body spooled to a file (RF_RAW_BODY), read in chunks. */
static void request_hash_file(struct request *rq, char out[65]) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx) abort();
    unsigned char md[32], chunk[65536];
    unsigned int mdlen = 0;
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    EVP_DigestUpdate(ctx, rq->method, strlen(rq->method));
    EVP_DigestUpdate(ctx, "\n", 1);
    EVP_DigestUpdate(ctx, rq->url, strlen(rq->url));
    EVP_DigestUpdate(ctx, "\n", 1);
    off_t at = 0;
    ssize_t got;
    while (rq->body_fd > 0 && (got = pread(rq->body_fd, chunk, sizeof chunk, at)) > 0) {
        EVP_DigestUpdate(ctx, chunk, (size_t)got);
        at += got;
    }
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    for (unsigned i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void request_hash(struct request *rq, char out[65]) {
    if (rq->body_len && !rq->body) {
        request_hash_file(rq, out);
        return;
    }
    size_t n = strlen(rq->method) + strlen(rq->url) + rq->body_len + 2;
    char *buf = malloc(n);
    if (!buf) abort();
    size_t m = strlen(rq->method), u = strlen(rq->url);
    memcpy(buf, rq->method, m);
    buf[m] = '\n';
    memcpy(buf + m + 1, rq->url, u);
    buf[m + 1 + u] = '\n';
    if (rq->body_len) memcpy(buf + m + u + 2, rq->body, rq->body_len);
    sha256_hex(buf, n, out);
    free(buf);
}

static const char *header_value(struct request *rq, const char *name) {
    for (int i = 0; i < rq->nheaders; i++)
        if (strcmp(rq->headers[i].name, name) == 0) return rq->headers[i].value;
    return NULL;
}

enum idem idempotency_claim(struct request *rq, const char *key) {
    char hash[65];
    request_hash(rq, hash);
    const char *p[] = {rq->auth.tenant_id, rq->auth.key_id, key, hash};
    PGresult *r = db_exec(rq, &st_claim, 4, p);
    if (!r) return IDEM_FAILED;
    int fresh = PQntuples(r);
    PQclear(r);
    if (fresh) return IDEM_NEW;
    r = db_exec(rq, &st_stored, 3, p);
    if (!r) return IDEM_FAILED;
    if (PQntuples(r) != 1 || PQgetisnull(r, 0, 1)) {
        PQclear(r);
        rq->db_fail = DBF_RETRY; /* the other request's row changed under us: try again */
        return IDEM_FAILED;
    }
    if (strcmp(PQgetvalue(r, 0, 0), hash) != 0) {
        PQclear(r);
        /* The key is printable ASCII (dispatch.c checks it), so %.64s cuts between characters. */
        reply_problem(rq, P_IDEMPOTENCY_MISMATCH,
                      "Idempotency-Key \"%.64s\" was already used with a different request", key);
        return IDEM_FAILED;
    }
    int status = atoi(PQgetvalue(r, 0, 1));
    if (status == 204)
        reply_no_content(rq);
    else
        reply_json_text(rq, status, PQgetvalue(r, 0, 2), (size_t)PQgetlength(r, 0, 2));
    if (!PQgetisnull(r, 0, 3) && strcmp(PQgetvalue(r, 0, 3), "application/json") != 0)
        rq->content_type = "application/problem+json";
    if (!PQgetisnull(r, 0, 4)) reply_header(rq, "ETag", PQgetvalue(r, 0, 4));
    if (!PQgetisnull(r, 0, 5)) reply_header(rq, "Location", PQgetvalue(r, 0, 5));
    reply_header(rq, "Idempotent-Replayed", "true");
    PQclear(r);
    return IDEM_REPLAYED;
}

int idempotency_store(struct request *rq, const char *key) {
    char status[8];
    snprintf(status, sizeof status, "%d", rq->status);
    const char *p[] = {rq->auth.tenant_id,        rq->auth.key_id, key, status,
                       rq->idem_body ? rq->idem_body : rq->resp_body ? rq->resp_body : "", rq->content_type,
                       header_value(rq, "ETag"),   header_value(rq, "Location")};
    PGresult *r = db_exec(rq, &st_store, 8, p);
    PQclear(r);
    return r ? 0 : -1;
}
