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
DB_STMT(st_tenant_exists, "SELECT 1 FROM tenants WHERE id = $1");
DB_STMT(st_partner_exists, "SELECT 1 FROM partners WHERE tenant_id = $1 AND id = $2");

/* Every failure of an operator command is one line on stderr, naming the command, and a non-zero
 * exit: 2 for wrong arguments, 1 for what the database said no to (an unknown id) or could not do. */
static struct db_conn *connect_or_say(const char *cmd) {
    char err[512];
    struct db_conn *c = db_open(false, err, sizeof err);
    if (!c) {
        for (char *p = err; *p; p++)
            if (*p == '\n' || *p == '\r') *p = ' '; /* libpq's message may span lines */
        fprintf(stderr, "allied %s: cannot connect to the database: %s\n", cmd, err);
    }
    return c;
}

/* Runs a statement for an operator command; on failure says so in one line (the database's own
 * message stays out of it: it names tables and constraints, not what the operator did wrong). */
static PGresult *run_or_say(const char *cmd, struct db_conn *c, struct db_stmt *st, int n, const char *const *p) {
    char err[512];
    PGresult *r = db_try_conn(c, st, n, p, err, sizeof err);
    if (!r)
        fprintf(stderr, "allied %s: the database refused the change%s\n", cmd,
                db_ok(c) ? "" : " (the connection was lost; nothing was changed)");
    return r;
}

/* Does the statement find a row? 1 yes, 0 no, -1 the database failed (said). */
static int exists(const char *cmd, struct db_conn *c, struct db_stmt *st, int n, const char *const *p) {
    PGresult *r = run_or_say(cmd, c, st, n, p);
    if (!r) return -1;
    int found = PQntuples(r) > 0;
    PQclear(r);
    return found;
}

/* Reads "SUB --opt value ..." where SUB must be `sub` and every option one of `names` (at most
 * once, with a value): vals[i] gets the value of names[i] or NULL. 0, or 2 after saying why. */
static int parse(const char *cmd, const char *sub, int argc, char **argv, const char *const names[],
                 const char *vals[]) {
    if (argc < 1 || strcmp(argv[0], sub) != 0) {
        if (argc < 1)
            fprintf(stderr, "allied %s: missing the subcommand (`allied %s %s`; see `allied %s --help`)\n",
                    cmd, cmd, sub, cmd);
        else
            fprintf(stderr, "allied %s: unknown subcommand \"%s\" (see `allied %s --help`)\n", cmd, argv[0], cmd);
        return 2;
    }
    for (int i = 0; names[i]; i++) vals[i] = NULL;
    for (int a = 1; a < argc; a += 2) {
        int k = 0;
        while (names[k] && strcmp(names[k], argv[a]) != 0) k++;
        if (!names[k]) {
            fprintf(stderr, "allied %s %s: unknown %s \"%s\" (see `allied %s --help`)\n", cmd, sub,
                    argv[a][0] == '-' ? "option" : "argument", argv[a], cmd);
            return 2;
        }
        if (a + 1 >= argc) {
            fprintf(stderr, "allied %s %s: %s needs a value\n", cmd, sub, argv[a]);
            return 2;
        }
        if (vals[k]) {
            fprintf(stderr, "allied %s %s: %s is given twice\n", cmd, sub, argv[a]);
            return 2;
        }
        vals[k] = argv[a + 1];
    }
    return 0;
}

int cli_migrate(int argc, char **argv) {
    (void)argc; /* server/main.c refuses arguments */
    (void)argv;
    struct db_conn *c = connect_or_say("migrate");
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
    PGresult *r = run_or_say("key create", c, &st_key, 7, p);
    if (!r) return NULL;
    json_t *o = json_pack("{s:s, s:s, s:s?, s:s?, s:s, s:s, s:s}", "id", id, "role", role,
                          "partner_id", partner, "name", name, "prefix", prefix, "key", key,
                          "created_at", PQgetvalue(r, 0, 0));
    PQclear(r);
    return o;
}

int cli_print_json(json_t *o) {
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    puts(s);
    free(s);
    json_decref(o);
    return 0;
}

int cli_tenant(int argc, char **argv) {
    static const char *const names[] = {"--name", NULL};
    const char *v[1];
    if (parse("tenant", "create", argc, argv, names, v)) return 2;
    const char *name = v[0];
    if (!name || !*name || strlen(name) > 200) {
        fprintf(stderr, "allied tenant create: --name NAME is required (1 to 200 characters)\n");
        return 2;
    }
    struct db_conn *c = connect_or_say("tenant create");
    if (!c) return 1;
    char id[37];
    uuid_new(id);
    const char *p[] = {id, name};
    PQclear(PQexec(c->pg, "BEGIN"));
    PGresult *r = run_or_say("tenant create", c, &st_tenant, 2, p);
    json_t *key = r ? make_key(c, id, "admin", NULL, "initial admin key") : NULL;
    PQclear(r);
    if (!key) {
        PQclear(PQexec(c->pg, "ROLLBACK"));
        db_close(c);
        return 1;
    }
    PQclear(PQexec(c->pg, "COMMIT"));
    db_close(c);
    return cli_print_json(json_pack("{s:s, s:s, s:o}", "tenant_id", id, "name", name, "api_key", key));
}

/* `allied key create --role operator`: the only way to mint an operator key (no HTTP route does). */
static int operator_key_create(const char *name) {
    char id[37], key[KEY_LEN + 1], prefix[KEY_PREFIX_LEN + 1], hash[65];
    struct db_conn *c = connect_or_say("key create");
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
    return cli_print_json(o);
}

int cli_key(int argc, char **argv) {
    static const char *const names[] = {"--tenant", "--role", "--partner", "--name", NULL};
    const char *v[4];
    if (parse("key", "create", argc, argv, names, v)) return 2;
    const char *tenant = v[0], *role = v[1], *partner = v[2], *name = v[3];
    if (role && !strcmp(role, "operator")) { /* instance level: no tenant, no partner */
        const char *why = tenant || partner ? "--role operator takes no --tenant or --partner"
                          : name && strlen(name) > 200 ? "--name may be at most 200 characters"
                                                       : NULL;
        if (why) {
            fprintf(stderr, "allied key create: %s\n", why);
            return 2;
        }
        return operator_key_create(name);
    }
    const char *bad = !tenant                    ? "--tenant UUID is required"
                      : !uuid_valid(tenant)      ? "--tenant must be a tenant id (a UUID)"
                      : !role                    ? "--role is required: admin, staff, readonly or partner"
                      : !auth_role_parse(role)   ? "--role must be admin, staff, readonly or partner"
                      : partner && !uuid_valid(partner) ? "--partner must be a partner id (a UUID)"
                      : !strcmp(role, "partner") && !partner ? "--role partner needs --partner UUID"
                      : strcmp(role, "partner") && partner   ? "--partner goes only with --role partner"
                      : name && strlen(name) > 200 ? "--name may be at most 200 characters"
                                                               : NULL;
    if (bad) {
        fprintf(stderr, "allied key create: %s\n", bad);
        return 2;
    }
    struct db_conn *c = connect_or_say("key create");
    if (!c) return 1;
    const char *p[] = {tenant, partner};
    int found = exists("key create", c, &st_tenant_exists, 1, p);
    if (found == 0) fprintf(stderr, "allied key create: no tenant has the id %s\n", tenant);
    if (found == 1 && partner) {
        found = exists("key create", c, &st_partner_exists, 2, p);
        if (found == 0) fprintf(stderr, "allied key create: tenant %s has no partner with the id %s\n", tenant, partner);
    }
    json_t *key = found == 1 ? make_key(c, tenant, role, partner, name) : NULL;
    db_close(c);
    if (!key) return 1;
    return cli_print_json(key);
}
