/* Operator subcommands. They connect as the configured user (the schema owner), not allied_app. */
#include "server/cli.h"
#include "server/edge/auth.h"
#include "server/data/db.h"
#include "server/data/migrate.h"
#include "server/util.h"
#include <jansson.h>
#include <stdio.h>
#include <string.h>

DB_STMT(st_tenant, "INSERT INTO tenants (id, name) VALUES ($1, $2)");
DB_STMT(st_key, "INSERT INTO api_keys (tenant_id, id, role, partner_id, name, prefix, secret_hash) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING api_ts(created_at)");

DB_STMT(st_operator_key, "INSERT INTO operator_keys (id, name, prefix, secret_hash) "
                         "VALUES ($1, $2, $3, $4) RETURNING api_ts(created_at)");

static struct db_conn *connect_or_say(void) {
    char err[512];
    struct db_conn *c = db_open(false, err, sizeof err);
    if (!c) fprintf(stderr, "allied: cannot connect to the database: %s\n", err);
    return c;
}

static const char *opt(int argc, char **argv, const char *name) {
    for (int i = 0; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    return NULL;
}

int cli_migrate(int argc, char **argv) {
    (void)argc;
    (void)argv;
    struct db_conn *c = connect_or_say();
    if (!c) return 1;
    int rc = migrate_run(c, false);
    db_close(c);
    return rc ? 1 : 0;
}

/* Creates a key; prints nothing. Returns the key JSON (new reference) or NULL. */
static json_t *make_key(struct db_conn *c, const char *tenant, const char *role, const char *partner,
                        const char *name) {
    char id[37], key[KEY_LEN + 1], prefix[KEY_PREFIX_LEN + 1], hash[65];
    uuid_new(id);
    auth_key_generate(key, prefix, hash);
    const char *p[] = {tenant, id, role, partner, name, prefix, hash};
    PGresult *r = db_exec_conn(c, &st_key, 7, p);
    if (!r) return NULL;
    json_t *o = json_pack("{s:s, s:s, s:s?, s:s?, s:s, s:s, s:s}", "id", id, "role", role,
                          "partner_id", partner, "name", name, "prefix", prefix, "key", key,
                          "created_at", PQgetvalue(r, 0, 0));
    PQclear(r);
    return o;
}

static int print_json(json_t *o) {
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    puts(s);
    free(s);
    json_decref(o);
    return 0;
}

int cli_tenant(int argc, char **argv) {
    const char *name = opt(argc, argv, "--name");
    if (argc < 1 || strcmp(argv[0], "create") != 0 || !name || !*name || strlen(name) > 200) {
        fprintf(stderr, "usage: allied tenant create --name NAME\n");
        return 2;
    }
    struct db_conn *c = connect_or_say();
    if (!c) return 1;
    char id[37];
    uuid_new(id);
    const char *p[] = {id, name};
    PQclear(PQexec(c->pg, "BEGIN"));
    PGresult *r = db_exec_conn(c, &st_tenant, 2, p);
    json_t *key = r ? make_key(c, id, "admin", NULL, "initial admin key") : NULL;
    PQclear(r);
    if (!key) {
        PQclear(PQexec(c->pg, "ROLLBACK"));
        db_close(c);
        return 1;
    }
    PQclear(PQexec(c->pg, "COMMIT"));
    db_close(c);
    return print_json(json_pack("{s:s, s:s, s:o}", "tenant_id", id, "name", name, "api_key", key));
}

/* `allied key create --role operator`: the only way to mint an operator key (no HTTP route does). */
static int operator_key_create(const char *name) {
    char id[37], key[KEY_LEN + 1], prefix[KEY_PREFIX_LEN + 1], hash[65];
    struct db_conn *c = connect_or_say();
    if (!c) return 1;
    uuid_new(id);
    auth_key_generate(key, prefix, hash);
    const char *p[] = {id, name, prefix, hash};
    PGresult *r = db_exec_conn(c, &st_operator_key, 4, p);
    db_close(c);
    if (!r) return 1;
    json_t *o = json_pack("{s:s, s:s, s:s?, s:s, s:s, s:s}", "id", id, "role", "operator", "name", name,
                          "prefix", prefix, "key", key, "created_at", PQgetvalue(r, 0, 0));
    PQclear(r);
    return print_json(o);
}

int cli_key(int argc, char **argv) {
    const char *tenant = opt(argc, argv, "--tenant"), *role = opt(argc, argv, "--role");
    const char *partner = opt(argc, argv, "--partner"), *name = opt(argc, argv, "--name");
    if (argc >= 1 && strcmp(argv[0], "create") == 0 && role && strcmp(role, "operator") == 0 && !tenant &&
        !partner && (!name || strlen(name) <= 200))
        return operator_key_create(name);
    if (argc < 1 || strcmp(argv[0], "create") != 0 || !tenant || !uuid_valid(tenant) || !role ||
        !auth_role_parse(role) || strcmp(role, "operator") == 0 || (partner && !uuid_valid(partner)) ||
        (strcmp(role, "partner") == 0) != (partner != NULL)) {
        fprintf(stderr, "usage: allied key create --tenant UUID --role admin|staff|readonly [--name TEXT]\n"
                        "       allied key create --tenant UUID --role partner --partner UUID [--name TEXT]\n"
                        "       allied key create --role operator [--name TEXT]\n");
        return 2;
    }
    struct db_conn *c = connect_or_say();
    if (!c) return 1;
    json_t *key = make_key(c, tenant, role, partner, name);
    db_close(c);
    if (!key) return 1;
    return print_json(key);
}
