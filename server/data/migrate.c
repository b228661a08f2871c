/* Applies embedded migrations once each, in order, then the JSON shapes that changed, under a
 * cluster-wide advisory lock. */
#include "server/data/migrate.h"
#include <stdio.h>
#include <stdlib.h>

/* Arbitrary constant naming "Allied migrations" among advisory locks. */
#define MIGRATION_LOCK "7210431"

DB_STMT(st_lock, "SELECT pg_advisory_lock(" MIGRATION_LOCK ")");
DB_STMT(st_unlock, "SELECT pg_advisory_unlock(" MIGRATION_LOCK ")");
DB_STMT(st_table, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                  " version int PRIMARY KEY, name text NOT NULL,"
                  " applied_at timestamptz NOT NULL DEFAULT now())");
DB_STMT(st_applied, "SELECT 1 FROM schema_migrations WHERE version = $1");
DB_STMT(st_record, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)");

/* JSON shapes (migrations/json/NAME.sql) are not numbered: each file holds the current definition
 * of one resource's <resource>_json() functions, so a reader finds a shape in one place. migrate
 * runs a file when its SHA-256 differs from the one recorded here (or none is), i.e. once after
 * each edit: a no-op migrate costs one small query per file and rewrites no catalog rows (which
 * would invalidate the other instances' cached plans). Running only changed files also lets a
 * file drop and re-create the composite type its inlinable function casts to (partner_doc,
 * referral_doc), which CREATE OR REPLACE cannot change. A numbered migration that drops a shape's
 * function (DROP TABLE ... CASCADE, say) deletes the shape's row here so that it is applied again.
 * The request-serving role (allied_app) never needs the table. */
DB_STMT(st_shape_table, "DO $$ BEGIN IF to_regclass('schema_json_shapes') IS NULL THEN"
                        " CREATE TABLE schema_json_shapes ("
                        "  name text PRIMARY KEY, sha256 text NOT NULL,"
                        "  applied_at timestamptz NOT NULL DEFAULT now());"
                        " IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'allied_app') THEN"
                        "  REVOKE ALL ON schema_json_shapes FROM allied_app;"
                        " END IF;"
                        " END IF; END $$");
DB_STMT(st_shape_current, "SELECT 1 FROM schema_json_shapes"
                          " WHERE name = $1 AND sha256 = encode(sha256(convert_to($2, 'UTF8')), 'hex')");
DB_STMT(st_shape_record, "INSERT INTO schema_json_shapes (name, sha256)"
                         " VALUES ($1, encode(sha256(convert_to($2, 'UTF8')), 'hex'))"
                         " ON CONFLICT (name) DO UPDATE SET sha256 = EXCLUDED.sha256, applied_at = now()");

int migrate_latest(void) {
    return migrations_count ? migrations[migrations_count - 1].version : 0;
}

static int apply(struct db_conn *c, const struct migration *m) {
    char ver[16];
    snprintf(ver, sizeof ver, "%d", m->version);
    const char *p[] = {ver, m->name};
    PGresult *r = PQexec(c->pg, "BEGIN");
    PQclear(r);
    /* Our own SQL file, possibly many statements: the simple-query protocol is the way. */
    r = PQexec(c->pg, m->sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "allied: migration %s failed: %s", m->name, PQresultErrorMessage(r));
        PQclear(r);
        PQclear(PQexec(c->pg, "ROLLBACK"));
        return -1;
    }
    PQclear(r);
    r = db_exec_conn(c, &st_record, 2, p);
    if (!r) {
        PQclear(PQexec(c->pg, "ROLLBACK"));
        return -1;
    }
    PQclear(r);
    r = PQexec(c->pg, "COMMIT");
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) fprintf(stderr, "allied: migration %s failed to commit: %s", m->name, PQresultErrorMessage(r));
    PQclear(r);
    return ok ? 0 : -1;
}

/* Applies the changed JSON shapes, in order, in one transaction (all or none). Returns the number
 * applied, or -1 after printing the error. */
static int apply_shapes(struct db_conn *c, bool quiet) {
    PGresult *r = db_exec_conn(c, &st_shape_table, 0, NULL);
    if (!r) return -1;
    PQclear(r);
    PQclear(PQexec(c->pg, "BEGIN"));
    int applied = 0;
    for (int i = 0; i < json_shapes_count; i++) {
        const struct json_shape *s = &json_shapes[i];
        const char *p[] = {s->name, s->sql};
        r = db_exec_conn(c, &st_shape_current, 2, p);
        if (!r) goto fail;
        int current = PQntuples(r);
        PQclear(r);
        if (current) continue;
        r = PQexec(c->pg, s->sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
            fprintf(stderr, "allied: JSON shape %s failed: %s", s->name, PQresultErrorMessage(r));
            PQclear(r);
            goto fail;
        }
        PQclear(r);
        r = db_exec_conn(c, &st_shape_record, 2, p);
        if (!r) goto fail;
        PQclear(r);
        applied++;
        if (!quiet) fprintf(stderr, "allied: applied JSON shape %s\n", s->name);
    }
    r = PQexec(c->pg, "COMMIT");
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) fprintf(stderr, "allied: JSON shapes failed to commit: %s", PQresultErrorMessage(r));
    PQclear(r);
    return ok ? applied : -1;
fail:
    PQclear(PQexec(c->pg, "ROLLBACK"));
    return -1;
}

int migrate_run(struct db_conn *c, bool quiet) {
    int rc = 0, applied = 0;
    PGresult *r = db_exec_conn(c, &st_lock, 0, NULL);
    if (!r) return -1;
    PQclear(r);
    /* Quiet NOTICEs such as "relation already exists, skipping". */
    PQclear(PQexec(c->pg, "SET client_min_messages = warning"));
    r = db_exec_conn(c, &st_table, 0, NULL);
    if (!r) rc = -1;
    PQclear(r);
    for (int i = 0; rc == 0 && i < migrations_count; i++) {
        char ver[16];
        snprintf(ver, sizeof ver, "%d", migrations[i].version);
        const char *p[] = {ver};
        r = db_exec_conn(c, &st_applied, 1, p);
        if (!r) {
            rc = -1;
            break;
        }
        int done = PQntuples(r);
        PQclear(r);
        if (done) continue;
        if (apply(c, &migrations[i]) != 0) {
            rc = -1;
            break;
        }
        applied++;
        if (!quiet) fprintf(stderr, "allied: applied migration %s\n", migrations[i].name);
    }
    /* After every numbered migration, so a shape may use any column they add. */
    if (rc == 0 && apply_shapes(c, quiet) < 0) rc = -1;
    PQclear(db_exec_conn(c, &st_unlock, 0, NULL));
    if (rc == 0 && !quiet)
        fprintf(stderr, "allied: schema is at version %d (%d applied now)\n", migrate_latest(), applied);
    return rc;
}
