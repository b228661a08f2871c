/* Applies embedded migrations once each, in order, under a cluster-wide advisory lock. */
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
    PQclear(db_exec_conn(c, &st_unlock, 0, NULL));
    if (rc == 0 && !quiet)
        fprintf(stderr, "allied: schema is at version %d (%d applied now)\n", migrate_latest(), applied);
    return rc;
}
