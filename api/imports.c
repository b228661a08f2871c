/* POST /v1/imports/partners and /v1/imports/referrals: many records from a CSV or NDJSON file.
 *
 * The body was spooled to a temporary file (route flag RF_RAW_BODY); rows are read one at a time,
 * checked with the same field tables as POST /v1/partners and POST /v1/referrals, and written in
 * batches of BATCH rows (one statement each, inside a savepoint: a batch that fails is replayed
 * row by row to name the row at fault). Memory stays bounded whatever the file's size: one row
 * as JSON, one batch, and a report of counts plus the first REPORT_MAX results and refusals.
 * Atomic by default (one refused row refuses the import, 422, nothing written); ?mode=best_effort
 * writes every acceptable row; ?dry_run=true does everything inside a savepoint it rolls back. */
#include "api/api.h"
#include "api/data_io.h"
#include "api/partners.h"
#include "api/prospect.h"
#include "api/referrals/referrals.h"
#include "server/data/db.h"
#include "server/edge/dispatch.h"
#include "server/edge/json_in.h"
#include "server/edge/reply.h"
#include "server/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 500
#define REPORT_MAX 100
#define MAX_ROW_BYTES (1 << 20)
#define MAX_COLUMNS 32

/* ---- the two kinds of import ---- */

struct import_spec {
    const char *what;                 /* "partner" */
    const char *const *columns;       /* CSV header names */
    const char *const *required;      /* columns a CSV header must have */
    void (*check)(json_t *errors, json_t *row);
    struct db_stmt *batch;            /* $1 tenant, $2 [{n, id, b, e, d}], $3 key id, $4 role */
};

/* Returns (n, id, created, refusal) per input row it decided. */
DB_STMT(st_partners_batch,
        "WITH input AS (SELECT (e->>'n')::int AS n, (e->>'id')::uuid AS id, e->'b' AS b, "
        "  e->'b'->>'external_id' AS ext FROM jsonb_array_elements($2::jsonb) e), "
        "up AS (INSERT INTO partners AS p (tenant_id, id, name, company, email, phone, website, kind, "
        "  status, ideal_client, tags, external_id, metadata, qualification) "
        "  SELECT $1, id, b->>'name', b->>'company', b->>'email', b->>'phone', b->>'website', "
        "    coalesce(b->>'kind', 'referral'), coalesce(b->>'status', 'prospect'), b->>'ideal_client', "
        "    ARRAY(SELECT jsonb_array_elements_text(coalesce(b->'tags', '[]'))), b->>'external_id', "
        "    coalesce(b->'metadata', '{}'), "
        "    CASE WHEN jsonb_typeof(b->'qualification') = 'object' THEN b->'qualification' END "
        "  FROM input ORDER BY n "
        "  ON CONFLICT ON CONSTRAINT partners_external_id_unique DO UPDATE SET "
        "    name = EXCLUDED.name, company = EXCLUDED.company, email = EXCLUDED.email, phone = EXCLUDED.phone, "
        "    website = EXCLUDED.website, kind = EXCLUDED.kind, status = EXCLUDED.status, "
        "    ideal_client = EXCLUDED.ideal_client, tags = EXCLUDED.tags, metadata = EXCLUDED.metadata, "
        "    qualification = EXCLUDED.qualification, version = p.version + 1, updated_at = now() "
        "  RETURNING p.id, p.external_id, xmax = 0 AS created) "
        "SELECT i.n, up.id, up.created, NULL::text FROM up JOIN input i ON i.id = up.id WHERE up.created "
        "UNION ALL SELECT i.n, up.id, up.created, NULL::text FROM up JOIN input i ON i.ext = up.external_id "
        "WHERE NOT up.created");
/* A new referral earns under the partner's active agreement, as POST /v1/referrals; an existing
 * one (same external_id) gets the row's prospect. */
DB_STMT(st_referrals_batch,
        "WITH input AS (SELECT (e->>'n')::int AS n, (e->>'id')::uuid AS id, e->'b' AS b, e->>'e' AS em, "
        "  e->>'d' AS dom, e->'b'->>'external_id' AS ext FROM jsonb_array_elements($2::jsonb) e), "
        "chk AS (SELECT i.*, p.id AS pid, p.status AS pstatus, i.b->>'direction' AS dir FROM input i "
        "  LEFT JOIN partners p ON p.tenant_id = $1 AND p.id = (i.b->>'partner_id')::uuid), "
        "up AS (INSERT INTO referrals AS r (tenant_id, id, partner_id, agreement_id, direction, prospect, "
        "  prospect_email, prospect_domain, external_id, override_reason, acknowledge_by) "
        "  SELECT $1, c.id, c.pid, ag.id, c.dir, c.b->'prospect', nullif(c.em, ''), nullif(c.dom, ''), "
        "    c.b->>'external_id', c.b->>'override_reason', now() + make_interval(hours => coalesce(ag.hours, 48)) "
        "  FROM chk c LEFT JOIN LATERAL (SELECT a.id, "
        "      (agreement_terms(a, c.dir)->>'acknowledge_within_hours')::int AS hours FROM agreements a "
        "    WHERE a.tenant_id = $1 AND a.partner_id = c.pid AND (a.direction = c.dir OR a.direction = 'reciprocal') "
        "      AND agreement_status(a) = 'active' ORDER BY a.activated_at DESC LIMIT 1) ag ON true "
        "  WHERE c.pstatus IS NOT NULL AND c.pstatus <> 'ended' ORDER BY c.n "
        "  ON CONFLICT ON CONSTRAINT referrals_external_id_unique DO UPDATE SET prospect = EXCLUDED.prospect, "
        "    prospect_email = EXCLUDED.prospect_email, prospect_domain = EXCLUDED.prospect_domain, "
        "    version = r.version + 1, updated_at = now() "
        "  RETURNING r.id, r.external_id, xmax = 0 AS created), "
        "ev AS (INSERT INTO referral_events (tenant_id, referral_id, type, from_status, to_status, note, stage, "
        "  actor_key_id, actor_role) SELECT $1, id, 'submitted', NULL, 'submitted', 'imported', NULL, $3, $4 "
        "  FROM up WHERE created) "
        "SELECT i.n, up.id, up.created, NULL::text FROM up JOIN input i ON i.id = up.id WHERE up.created "
        "UNION ALL SELECT i.n, up.id, up.created, NULL::text FROM up JOIN input i ON i.ext = up.external_id "
        "WHERE NOT up.created "
        "UNION ALL SELECT c.n, NULL, NULL, CASE WHEN c.pstatus IS NULL THEN 'no such partner' "
        "  ELSE 'the partnership has ended; referrals cannot be submitted' END "
        "FROM chk c WHERE c.pstatus IS NULL OR c.pstatus = 'ended'");

static const char *const PARTNER_COLUMNS[] = {"name", "company", "email", "phone", "website", "kind",
                                              "status", "ideal_client", "tags", "external_id", "metadata",
                                              "qualification", NULL};
static const char *const PARTNER_REQUIRED[] = {"name", NULL};
static const char *const REFERRAL_COLUMNS[] = {"partner_id", "direction", "external_id", "override_reason",
                                               "prospect.name", "prospect.email", "prospect.company",
                                               "prospect.phone", "prospect.notes", NULL};
static const char *const REFERRAL_REQUIRED[] = {"partner_id", "direction", "prospect.name", NULL};

/* A staff key's POST /v1/referrals needs partner_id and direction; so does every import row. */
static void referral_row_check(json_t *errors, json_t *row) {
    referral_fields_collect(errors, row);
    if (!json_object_get(row, "partner_id"))
        json_array_append_new(errors, json_pack("{s:s, s:s}", "field", "partner_id", "message", "is required"));
    if (!json_object_get(row, "direction"))
        json_array_append_new(errors, json_pack("{s:s, s:s}", "field", "direction", "message", "is required"));
}

static void partner_row_check(json_t *errors, json_t *row) {
    partner_fields_collect(errors, row, false);
}

static const struct import_spec PARTNERS = {"partner", PARTNER_COLUMNS, PARTNER_REQUIRED, partner_row_check,
                                            &st_partners_batch};
static const struct import_spec REFERRALS = {"referral", REFERRAL_COLUMNS, REFERRAL_REQUIRED,
                                             referral_row_check, &st_referrals_batch};

/* ---- CSV (RFC 4180): one record at a time ---- */

struct csv {
    FILE *in;
    char *buf;                 /* the record's fields, each NUL-terminated */
    size_t len, cap;
    size_t off[MAX_COLUMNS + 1];
    int nfields;
    long line;                 /* physical line the next record starts on */
    long record_line;          /* line the last record started on */
    char err[120];
};

static void csv_put(struct csv *c, char ch) {
    if (c->len + 1 >= c->cap) {
        c->cap = c->cap ? c->cap * 2 : 4096;
        c->buf = realloc(c->buf, c->cap);
        if (!c->buf) abort();
    }
    c->buf[c->len++] = ch;
}

/* 1: a record was read; 0: end of file; -1: malformed (c->err says why); -2: too long (skipped). */
static int csv_record(struct csv *c) {
    c->len = 0;
    c->nfields = 0;
    c->record_line = c->line;
    int ch = getc(c->in);
    if (ch == EOF) return 0;
    bool too_long = false;
    c->off[c->nfields++] = 0;
    for (;;) {
        if (ch == '"') {
            if (c->len != c->off[c->nfields - 1]) {
                snprintf(c->err, sizeof c->err, "a quote inside an unquoted field");
                return -1;
            }
            for (;;) { /* quoted field */
                ch = getc(c->in);
                if (ch == EOF) {
                    snprintf(c->err, sizeof c->err, "a quoted field is not closed before the end of the file");
                    return -1;
                }
                if (ch == '\n') c->line++;
                if (ch == '"') {
                    ch = getc(c->in);
                    if (ch != '"') break; /* closing quote */
                }
                csv_put(c, (char)ch);
            }
            if (ch != ',' && ch != '\n' && ch != '\r' && ch != EOF) {
                snprintf(c->err, sizeof c->err, "text after the closing quote of a field");
                return -1;
            }
            continue;
        }
        if (ch == '\r') {
            int next = getc(c->in);
            if (next != '\n' && next != EOF) ungetc(next, c->in);
            ch = '\n';
        }
        if (ch == '\n' || ch == EOF) {
            if (ch == '\n') c->line++;
            csv_put(c, '\0');
            return too_long ? -2 : 1;
        }
        if (ch == ',') {
            csv_put(c, '\0');
            if (c->nfields == MAX_COLUMNS) {
                too_long = true;
                c->nfields = 1;
                c->len = 0;
            }
            c->off[c->nfields++] = c->len;
        } else
            csv_put(c, (char)ch);
        if (c->len > MAX_ROW_BYTES) {
            too_long = true;
            c->len = c->off[c->nfields - 1];
        }
        ch = getc(c->in);
    }
}

static const char *csv_field(struct csv *c, int i) {
    return c->buf + c->off[i];
}

/* The field's length in bytes (a NUL byte inside it counts). */
static size_t csv_len(struct csv *c, int i) {
    return (i + 1 < c->nfields ? c->off[i + 1] : c->len) - c->off[i] - 1;
}

/* ---- the run ---- */

struct item {
    long row, line;
    char id[37];
    char *ext; /* owned, or NULL */
    size_t off, len; /* the element's text in the batch buffer */
};

struct importer {
    struct request *rq;
    const struct import_spec *spec;
    bool dry_run, best_effort, writing;
    long rows, created, updated, refused;
    json_t *results, *errors;
    char *buf;
    size_t len, cap;
    struct item items[BATCH];
    int count;
};

static void refuse(struct importer *im, long row, long line, const char *field, const char *message) {
    im->refused++;
    if (!im->best_effort) im->writing = false; /* nothing will be kept: only validate the rest */
    if (json_array_size(im->errors) >= REPORT_MAX) return;
    json_t *e = json_pack("{s:I, s:s, s:s}", "row", (json_int_t)row, "field", field, "message", message);
    if (line > 0) json_object_set_new(e, "line", json_integer(line));
    json_array_append_new(im->errors, e);
}

static void buf_add(struct importer *im, const char *s, size_t n) {
    if (im->len + n + 3 > im->cap) {
        im->cap = (im->len + n + 3) * 2;
        im->buf = realloc(im->buf, im->cap);
        if (!im->buf) abort();
    }
    memcpy(im->buf + im->len, s, n);
    im->len += n;
    im->buf[im->len] = '\0';
}

DB_STMT(st_savepoint, "SAVEPOINT import_batch");
DB_STMT(st_release, "RELEASE SAVEPOINT import_batch");
DB_STMT(st_rollback_to, "ROLLBACK TO SAVEPOINT import_batch");
DB_STMT(st_dry_savepoint, "SAVEPOINT import_dry_run");
DB_STMT(st_dry_rollback, "ROLLBACK TO SAVEPOINT import_dry_run");

static bool simple(struct request *rq, struct db_stmt *st) {
    PGresult *r = db_exec(rq, st, 0, NULL);
    PQclear(r);
    return r != NULL;
}

/* The batch's items are in row order: a binary search. */
static struct item *item_of(struct importer *im, long row) {
    int lo = 0, hi = im->count - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (im->items[mid].row == row) return &im->items[mid];
        if (im->items[mid].row < row)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}

/* Counts what a batch statement decided. */
static void take_result(struct importer *im, PGresult *r) {
    for (int i = 0; i < PQntuples(r); i++) {
        long row = atol(PQgetvalue(r, i, 0));
        struct item *it = item_of(im, row);
        if (!PQgetisnull(r, i, 3)) {
            refuse(im, row, it ? it->line : 0, "partner_id", PQgetvalue(r, i, 3));
            continue;
        }
        bool created = PQgetvalue(r, i, 2)[0] == 't';
        if (created)
            im->created++;
        else
            im->updated++;
        if (json_array_size(im->results) < REPORT_MAX) {
            json_t *o = json_pack("{s:I, s:s}", "row", (json_int_t)row, "action", created ? "created" : "updated");
            if (!im->dry_run) json_object_set_new(o, "id", json_string(PQgetvalue(r, i, 1)));
            json_array_append_new(im->results, o);
        }
    }
}

/* Runs `text` (a JSON array of rows) inside a savepoint. 1 done, 0 the rows were at fault (rolled
 * back, rq->db_fail cleared), -1 the database failed (the runner answers). */
static int run_batch(struct importer *im, const char *text) {
    struct request *rq = im->rq;
    if (!simple(rq, &st_savepoint)) return -1;
    const char *p[] = {rq->auth.tenant_id, text, rq->auth.key_id, role_name(rq->auth.role)};
    PGresult *r = db_exec(rq, im->spec->batch, im->spec->batch == &st_referrals_batch ? 4 : 2, p);
    if (!r) {
        if (rq->db_fail != DBF_CONSTRAINT && rq->db_fail != DBF_DATA) return -1;
        rq->db_fail = DBF_NONE;
        return simple(rq, &st_rollback_to) ? 0 : -1;
    }
    take_result(im, r);
    PQclear(r);
    return simple(rq, &st_release) ? 1 : -1;
}

static void batch_clear(struct importer *im) {
    for (int i = 0; i < im->count; i++) free(im->items[i].ext);
    im->count = 0;
    im->len = 0;
}

/* Writes the batch; a batch that fails is replayed row by row to refuse only the rows at fault. */
static int flush(struct importer *im) {
    if (im->count == 0) return 0;
    int rc = 0;
    if (im->writing) {
        buf_add(im, "]", 1);
        im->buf[0] = '[';
        rc = run_batch(im, im->buf);
        for (int i = 0; rc == 0 && i < im->count; i++) {
            struct item *it = &im->items[i];
            char *one = malloc(it->len + 3);
            if (!one) abort();
            one[0] = '[';
            memcpy(one + 1, im->buf + it->off, it->len);
            strcpy(one + 1 + it->len, "]");
            int one_rc = run_batch(im, one);
            free(one);
            if (one_rc < 0) rc = -1;
            if (one_rc == 0)
                refuse(im, it->row, it->line, "row", "conflicts with existing data (a value that must be unique is taken, "
                                                     "or a record it names is missing)");
        }
        if (rc == 0) rc = 1;
    }
    batch_clear(im);
    return rc < 0 ? -1 : 0;
}

/* Takes one parsed row (stolen): checks it like the resource's POST and queues it. 0 or -1. */
static int take_row(struct importer *im, long row, long line, json_t *obj) {
    json_t *errors = json_array();
    im->spec->check(errors, obj);
    if (json_array_size(errors) > 0) {
        size_t i;
        json_t *e;
        json_array_foreach(errors, i, e) refuse(im, row, line, json_string_value(json_object_get(e, "field")),
                                                json_string_value(json_object_get(e, "message")));
        json_decref(errors);
        json_decref(obj);
        return 0;
    }
    json_decref(errors);
    if (!im->writing) {
        json_decref(obj);
        return 0;
    }
    const char *ext = json_string_value(json_object_get(obj, "external_id"));
    for (int i = 0; ext && i < im->count; i++) /* one statement may not touch a row twice */
        if (im->items[i].ext && strcmp(im->items[i].ext, ext) == 0) {
            if (flush(im) != 0) {
                json_decref(obj);
                return -1;
            }
            break;
        }
    struct item *it = &im->items[im->count++];
    it->row = row;
    it->line = line;
    it->ext = ext ? strdup(ext) : NULL;
    uuid_new(it->id);
    json_t *el = json_pack("{s:I, s:s, s:O}", "n", (json_int_t)row, "id", it->id, "b", obj);
    if (im->spec == &REFERRALS) {
        const char *email = json_string_value(json_object_get(json_object_get(obj, "prospect"), "email"));
        char ek[256], dk[256];
        prospect_email_key(email, ek, sizeof ek);
        prospect_domain_key(email, dk, sizeof dk);
        json_object_set_new(el, "e", json_string(ek));
        json_object_set_new(el, "d", json_string(dk));
    }
    json_decref(obj);
    char *text = json_dumps(el, JSON_COMPACT);
    json_decref(el);
    if (im->len == 0) buf_add(im, " ", 1); /* becomes the '[' */
    else buf_add(im, ",", 1);
    it->off = im->len;
    it->len = strlen(text);
    buf_add(im, text, it->len);
    free(text);
    if (im->count == BATCH || im->len > (4u << 20)) return flush(im);
    return 0;
}

/* Sets `key` (which may be "prospect.name") in `obj` to the CSV value. NULL, or why not. */
static const char *csv_set(json_t *obj, const char *key, const char *value) {
    json_t *v;
    if (strcmp(key, "tags") == 0) {
        v = json_array();
        char *copy = strdup(value), *save = NULL;
        for (char *t = strtok_r(copy, ";", &save); t; t = strtok_r(NULL, ";", &save)) {
            while (*t == ' ') t++;
            size_t n = strlen(t);
            while (n && t[n - 1] == ' ') t[--n] = '\0';
            json_t *s = json_string(t);
            if (!s) {
                free(copy);
                json_decref(v);
                return "must be valid UTF-8";
            }
            json_array_append_new(v, s);
        }
        free(copy);
    } else if (strcmp(key, "metadata") == 0 || strcmp(key, "qualification") == 0) {
        v = json_loads(value, JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(v) || json_depth(v) > JSON_MAX_DEPTH) {
            json_decref(v);
            return "must be a JSON object";
        }
    } else if (!(v = json_string(value)))
        return "must be valid UTF-8";
    const char *dot = strchr(key, '.');
    if (!dot) return json_object_set_new(obj, key, v), NULL;
    char parent[32];
    snprintf(parent, sizeof parent, "%.*s", (int)(dot - key), key);
    json_t *p = json_object_get(obj, parent);
    if (!p) json_object_set_new(obj, parent, p = json_object());
    json_object_set_new(p, dot + 1, v);
    return NULL;
}

static bool known(const char *const *list, const char *name) {
    for (; *list; list++)
        if (strcmp(*list, name) == 0) return true;
    return false;
}

/* Reads the CSV: the header, then each record as a row. 0, or -1 after a reply / db failure. */
static int read_csv(struct importer *im, FILE *in) {
    struct csv c = {.in = in, .line = 1};
    int bom[3] = {getc(in), getc(in), getc(in)};
    if (!(bom[0] == 0xEF && bom[1] == 0xBB && bom[2] == 0xBF)) rewind(in);
    int rc = csv_record(&c);
    char *cols[MAX_COLUMNS] = {0};
    int ncols = 0, ret = -1;
    if (rc == 0 || (rc == 1 && c.nfields == 1 && !*csv_field(&c, 0))) {
        reply_problem(im->rq, P_BAD_REQUEST, "the CSV has no header row (the first line names the columns)");
        goto out;
    }
    if (rc < 0) {
        reply_problem_extra(im->rq, P_BAD_REQUEST, json_pack("{s:i}", "line", 1), "line 1 (the header): %s",
                            rc == -2 ? "too many columns, or too long" : c.err);
        goto out;
    }
    ncols = c.nfields;
    for (int i = 0; i < ncols; i++) {
        cols[i] = strdup(csv_field(&c, i));
        if (!known(im->spec->columns, cols[i])) {
            reply_problem(im->rq, P_BAD_REQUEST, "unknown column \"%s\" in the header; %s imports take the columns "
                          "documented in openapi.yaml", cols[i], im->spec->what);
            goto out;
        }
        for (int j = 0; j < i; j++)
            if (strcmp(cols[j], cols[i]) == 0) {
                reply_problem(im->rq, P_BAD_REQUEST, "the column \"%s\" appears twice in the header", cols[i]);
                goto out;
            }
    }
    for (const char *const *r = im->spec->required; *r; r++) {
        bool have = false;
        for (int i = 0; i < ncols; i++) have |= strcmp(cols[i], *r) == 0;
        if (!have) {
            reply_problem(im->rq, P_BAD_REQUEST, "the header has no \"%s\" column, which every %s needs", *r,
                          im->spec->what);
            goto out;
        }
    }
    for (;;) {
        rc = csv_record(&c);
        if (rc == 0) break;
        if (rc == -1) {
            reply_problem_extra(im->rq, P_BAD_REQUEST, json_pack("{s:I, s:I}", "row", (json_int_t)im->rows + 1, "line",
                                (json_int_t)c.record_line),
                                "row %ld (line %ld): %s; nothing was imported", im->rows + 1, c.record_line, c.err);
            goto out;
        }
        if (rc == 1 && c.nfields == 1 && !*csv_field(&c, 0)) continue; /* an empty line */
        long row = ++im->rows;
        if (rc == -2) {
            refuse(im, row, c.record_line, "row", "too many fields, or longer than 1 MiB");
            continue;
        }
        if (c.nfields != ncols) {
            char m[80];
            snprintf(m, sizeof m, "has %d fields; the header names %d", c.nfields, ncols);
            refuse(im, row, c.record_line, "row", m);
            continue;
        }
        json_t *obj = json_object();
        const char *bad = NULL, *bad_col = NULL;
        for (int i = 0; i < ncols && !bad; i++) {
            const char *v = csv_field(&c, i);
            if (!*v) continue; /* an empty cell: the field is left out */
            if (strlen(v) != csv_len(&c, i))
                bad = "holds a NUL byte";
            else
                bad = csv_set(obj, cols[i], v);
            bad_col = cols[i];
        }
        if (bad) {
            refuse(im, row, c.record_line, bad_col, bad);
            json_decref(obj);
            continue;
        }
        if (take_row(im, row, c.record_line, obj) != 0) goto out;
    }
    ret = 0;
out:
    for (int i = 0; i < ncols; i++) free(cols[i]);
    free(c.buf);
    return ret;
}

/* Reads NDJSON: one JSON object per line, as the resource's POST takes it. */
static int read_ndjson(struct importer *im, FILE *in) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    int ret = 0;
    while ((len = getline(&line, &cap, in)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (len == 0) continue;
        long row = ++im->rows;
        if (len > MAX_ROW_BYTES) {
            refuse(im, row, lineno, "row", "longer than 1 MiB");
            continue;
        }
        json_error_t jerr;
        json_t *obj = json_loadb(line, (size_t)len, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(obj) || json_depth(obj) > JSON_MAX_DEPTH) {
            refuse(im, row, lineno, "row", obj ? "must be a JSON object (nested at most 16 deep)" : "is not valid JSON");
            json_decref(obj);
            continue;
        }
        if (take_row(im, row, lineno, obj) != 0) {
            ret = -1;
            break;
        }
    }
    free(line);
    return ret;
}

static const char *const IMPORT_QUERY[] = {"dry_run", "mode", NULL};

static void run_import(struct request *rq, const struct import_spec *spec) {
    if (query_known_or_reply(rq, IMPORT_QUERY) != JIN_OK) return;
    const char *dry = req_query(rq, "dry_run"), *mode = req_query(rq, "mode");
    if (dry && strcmp(dry, "true") != 0 && strcmp(dry, "false") != 0) {
        reply_field_error(rq, "dry_run", "must be true or false");
        return;
    }
    if (mode && strcmp(mode, "atomic") != 0 && strcmp(mode, "best_effort") != 0) {
        reply_field_error(rq, "mode", "must be atomic or best_effort");
        return;
    }
    int kind = import_content_type_or_reply(rq, true);
    if (kind < 0) return;
    if (rq->body_len == 0) {
        reply_problem(rq, P_BAD_REQUEST, "the body is empty: send a %s", kind ? "CSV file with a header row" : "NDJSON file");
        return;
    }
    FILE *in = import_body_open(rq);
    if (!in) {
        reply_problem(rq, P_INTERNAL, "the uploaded file could not be read");
        return;
    }
    struct importer im = {.rq = rq, .spec = spec, .writing = true};
    im.dry_run = dry && strcmp(dry, "true") == 0;
    im.best_effort = mode && strcmp(mode, "best_effort") == 0;
    im.results = json_array();
    im.errors = json_array();
    if (im.dry_run && !simple(rq, &st_dry_savepoint)) goto out;
    if ((kind ? read_csv(&im, in) : read_ndjson(&im, in)) != 0) goto out;
    if (flush(&im) != 0) goto out;
    if (im.dry_run && !simple(rq, &st_dry_rollback)) goto out;
    bool refused = im.refused > 0 && !im.best_effort;
    json_t *report = json_pack("{s:s, s:b, s:s, s:I, s:I, s:I, s:I, s:o, s:o, s:b}", "resource", spec->what, "dry_run",
                               im.dry_run, "mode", im.best_effort ? "best_effort" : "atomic", "rows", (json_int_t)im.rows,
                               "created", (json_int_t)(refused ? 0 : im.created), "updated",
                               (json_int_t)(refused ? 0 : im.updated), "refused", (json_int_t)im.refused, "results",
                               refused ? json_array() : json_incref(im.results), "errors", json_incref(im.errors), "errors_truncated",
                               im.refused > (long)json_array_size(im.errors));
    if (refused) {
        json_t *e0 = json_array_get(im.errors, 0);
        reply_problem_extra(rq, P_IMPORT_REFUSED, report, "%ld of %ld rows refused, first row %lld (%s: %s); nothing was %s",
                            im.refused, im.rows, (long long)json_integer_value(json_object_get(e0, "row")),
                            json_string_value(json_object_get(e0, "field")),
                            json_string_value(json_object_get(e0, "message")), im.dry_run ? "changed (dry run)" : "imported");
    } else
        reply_json(rq, 200, report);
out:
    batch_clear(&im);
    free(im.buf);
    json_decref(im.results);
    json_decref(im.errors);
    fclose(in);
}

void api_imports_partners(struct request *rq) {
    run_import(rq, &PARTNERS);
}

void api_imports_referrals(struct request *rq) {
    run_import(rq, &REFERRALS);
}
