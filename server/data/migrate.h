/* Schema migrations embedded from migrations/NNNN_name.sql, and the JSON shapes from
 * migrations/json/NAME.sql (see scripts/embed_migrations.sh). */
#ifndef ALLIED_MIGRATE_H
#define ALLIED_MIGRATE_H
#include "server/data/db.h"

struct migration {
    int version;
    const char *name;
    const char *sql;
};
extern const struct migration migrations[];
extern const int migrations_count;

/* The current definition of one resource's row->JSON functions (CREATE OR REPLACE ...). */
struct json_shape {
    const char *name;
    const char *sql;
};
extern const struct json_shape json_shapes[];
extern const int json_shapes_count;

/* Applies pending migrations in order, each in its own transaction, then the JSON shapes whose
 * text changed since they were last applied (one transaction), all under an advisory lock so
 * concurrent callers (several instances starting together) apply each exactly once.
 * Returns 0, or -1 after printing the error. */
int migrate_run(struct db_conn *c, bool quiet);
/* Highest embedded migration version. */
int migrate_latest(void);
#endif
