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

#ifndef ALLIED_VERSION
#define ALLIED_VERSION "0.1.0"
#endif

static void usage(FILE *f) {
    fprintf(f, "usage: allied <command>\n\n"
               "commands:\n"
               "  serve                          run the HTTP API\n"
               "  migrate                        apply pending database migrations\n"
               "  tenant create --name NAME      create a tenant; prints its first admin API key\n"
               "  key create --tenant UUID --role ROLE [--partner UUID] [--name TEXT]\n"
               "  key create --role operator [--name TEXT]\n"
               "                                 create an API key; prints it once\n"
               "  routes                         print the route table (method, path, roles)\n"
               "  version                        print the version\n");
    for (int i = 0; i < allied_app.ncommands; i++)
        fprintf(f, "  %-30s %s\n", allied_app.commands[i].name, allied_app.commands[i].usage);
    fprintf(f, "\nenvironment:\n");
    for (int i = 0; i < config_options_count; i++)
        fprintf(f, "  %-26s %s (default: %s)\n", config_options[i].env, config_options[i].help,
                *config_options[i].fallback ? config_options[i].fallback : "none");
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
    http_stop();
    services_stop(allied_app.nservices);
    workers_stop();
    auth_cache_stop();
    ratelimit_stop();
    log_msg(LOG_INFO, NULL, "stopped");
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
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
    fprintf(stderr, "allied: unknown command \"%s\"\n\n", argv[1]);
    usage(stderr);
    return 2;
}
