/* allied: the command line — serve, migrate, tenant create, key create, version. */
#include "server/edge/auth.h"
#include "server/edge/auth_cache.h"
#include "server/cli.h"
#include <jansson.h>
#include <stdlib.h>
#include "server/config.h"
#include "server/data/db.h"
#include "server/edge/http.h"
#include "server/log.h"
#include "server/data/migrate.h"
#include "server/edge/ratelimit.h"
#include "server/app.h"
#include "server/edge/router.h"
#include "server/edge/dispatch.h"
#include "server/data/worker.h"
#include <signal.h>
#include <stdio.h>
#include <string.h>


/* The framework's own commands: name, arguments, what it does (`allied CMD --help` prints them). */
static const struct {
    const char *name, *args, *help;
} builtins[] = {
    {"serve", "", "run the HTTP API (settings: the environment variables below)"},
    {"migrate", "", "apply pending database migrations"},
    {"tenant", "create --name NAME", "create a tenant; prints its first admin API key"},
    {"key", "create --tenant UUID --role ROLE [--partner UUID] [--name TEXT]",
     "create an API key; prints it once. ROLE: admin, staff, readonly, or partner (with --partner); "
     "`key create --role operator [--name TEXT]` (no --tenant) makes an operator key for the instance"},
    {"routes", "", "print the route table (method, path, roles)"},
    {"version", "", "print the version"},
};
#define NBUILTINS (int)(sizeof builtins / sizeof builtins[0])

static void environment(FILE *f) {
    fprintf(f, "\nenvironment:\n");
    for (int i = 0; i < config_options_count; i++)
        fprintf(f, "  %-26s %s (default: %s)\n", config_options[i].env, config_options[i].help,
                *config_options[i].fallback ? config_options[i].fallback : "none");
}

static void usage(FILE *f) {
    fprintf(f, "usage: allied <command> [arguments]     (allied <command> --help: that command)\n\ncommands:\n");
    for (int i = 0; i < NBUILTINS; i++) {
        char head[96];
        snprintf(head, sizeof head, "%s %s", builtins[i].name, builtins[i].args);
        if (strlen(head) > 30)
            fprintf(f, "  %s\n  %-30s %s\n", head, "", builtins[i].help);
        else
            fprintf(f, "  %-30s %s\n", head, builtins[i].help);
    }
    for (int i = 0; i < allied_app.ncommands; i++)
        fprintf(f, "  %-30s %s\n", allied_app.commands[i].name, allied_app.commands[i].usage);
    environment(f);
}

/* `allied CMD --help` (or -h anywhere after CMD): what CMD takes and does, and nothing else
 * happens. 0, or -1 when CMD is no command. */
static int command_help(const char *cmd) {
    for (int i = 0; i < NBUILTINS; i++)
        if (!strcmp(cmd, builtins[i].name)) {
            printf("usage: allied %s%s%s\n\n%s\n", cmd, *builtins[i].args ? " " : "", builtins[i].args,
                   builtins[i].help);
            if (!strcmp(cmd, "serve") || !strcmp(cmd, "migrate") || !strcmp(cmd, "tenant") || !strcmp(cmd, "key"))
                environment(stdout);
            return 0;
        }
    for (int i = 0; i < allied_app.ncommands; i++)
        if (!strcmp(cmd, allied_app.commands[i].name)) {
            printf("usage: allied %s\n\n%s\n", cmd, allied_app.commands[i].usage);
            return 0;
        }
    return -1;
}

static bool asks_help(int argc, char **argv) {
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return true;
    return false;
}

/* Commands that take no arguments refuse any, in one line. */
static bool no_arguments(int argc, char **argv) {
    if (argc <= 2) return true;
    fprintf(stderr, "allied %s: unexpected argument \"%s\" (it takes none; see `allied %s --help`)\n", argv[1],
            argv[2], argv[1]);
    return false;
}

/* Starts the application's services in order; on a failure stops those already started. */
static void services_stop(int started) {
    for (int i = started - 1; i >= 0; i--) allied_app.services[i].stop();
}
static int services_start(void) {
    for (int i = 0; i < allied_app.nservices; i++)
        if (allied_app.services[i].start() != 0) {
            log_msg(LOG_ERROR, NULL, "cannot start the %s", allied_app.services[i].name);
            services_stop(i);
            return -1;
        }
    return 0;
}

static int serve(void) {
    if (!*cfg.database_url) {
        fprintf(stderr, "allied: DATABASE_URL is not set\n");
        return 1;
    }
    if (cfg.migrate_on_start) {
        char err[512];
        struct db_conn *c = db_open(false, err, sizeof err);
        if (!c) {
            log_msg(LOG_ERROR, NULL, "cannot connect to migrate: %s", err);
            return 1;
        }
        int rc = migrate_run(c, true);
        db_close(c);
        if (rc) return 1;
    }
    /* Signals are taken synchronously by this thread; every other thread inherits the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* The edge hands requests to the pool; the pool runs them through the dispatcher and back. */
    static const struct worker_hooks hooks = {dispatch_run, http_resume, auth_request_prefix};
    if (auth_cache_start() != 0 || ratelimit_start() != 0 || workers_start(cfg.db_pool, &hooks) != 0 || http_start() != 0 ||
        services_start() != 0)
        return 1;
    log_msg(LOG_INFO, NULL, "allied %s listening on %s (%d HTTP threads, %d database workers)",
            ALLIED_VERSION, cfg.listen, cfg.threads, cfg.db_pool);
    int sig = 0;
    sigwait(&set, &sig);
    log_msg(LOG_INFO, NULL, "received %s: draining", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    http_drain();
    services_stop(allied_app.nservices);
    workers_stop();
    http_close();
    auth_cache_stop();
    ratelimit_stop();
    log_msg(LOG_INFO, NULL, "stopped");
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        if (argc >= 3 && command_help(argv[2]) == 0) return 0; /* allied help CMD */
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (asks_help(argc, argv)) {
        if (command_help(argv[1]) == 0) return 0;
        fprintf(stderr, "allied: unknown command \"%s\" (see `allied --help`)\n", argv[1]);
        return 2;
    }
    bool takes_none = !strcmp(argv[1], "version") || !strcmp(argv[1], "--version") || !strcmp(argv[1], "routes") ||
                      !strcmp(argv[1], "serve") || !strcmp(argv[1], "migrate");
    if (takes_none && !no_arguments(argc, argv)) return 2;
    if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
        printf("allied %s (schema %d)\n", ALLIED_VERSION, migrate_latest());
        return 0;
    }
    if (!strcmp(argv[1], "routes")) {
        for (int i = 0; i < allied_app.nroutes; i++) {
            const struct route *rt = &allied_app.routes[i];
            printf("%s %s", rt->method, rt->pattern);
            for (unsigned r = 1; r <= ROLE_OPERATOR; r <<= 1)
                if (!(rt->flags & RF_PUBLIC) && (rt->roles & r)) printf(" %s", role_name(r));
            printf("%s\n", (rt->flags & RF_PUBLIC) ? " public" : "");
        }
        return 0;
    }
    for (int i = 0; i < allied_app.ncommands; i++)
        if (!strcmp(argv[1], allied_app.commands[i].name)) return allied_app.commands[i].run(argc - 2, argv + 2);
    if (config_load() != 0) return 2;
    if (!strcmp(argv[1], "serve")) return serve();
    if (!strcmp(argv[1], "migrate")) return cli_migrate(argc - 2, argv + 2);
    if (!strcmp(argv[1], "tenant")) return cli_tenant(argc - 2, argv + 2);
    if (!strcmp(argv[1], "key")) return cli_key(argc - 2, argv + 2);
    fprintf(stderr, "allied: unknown command \"%s\" (see `allied --help`)\n", argv[1]);
    return 2;
}
