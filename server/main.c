/* allied: the command line — serve, migrate, tenant create, key create, version. */
#include "api/workflow.h"
#include "server/auth_cache.h"
#include "server/cli.h"
#include <jansson.h>
#include <stdlib.h>
#include "server/config.h"
#include "server/db.h"
#include "server/dispatcher.h"
#include "server/http.h"
#include "server/log.h"
#include "server/migrate.h"
#include "server/ratelimit.h"
#include "server/router.h"
#include "server/dispatch.h"
#include "server/worker.h"
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
               "                                 create an API key; prints it once\n"
               "  routes                         print the route table (method, path, roles)\n"
               "  workflow                       print the referral workflow table as JSON\n"
               "  version                        print the version\n\n"
               "environment:\n");
    for (int i = 0; i < config_options_count; i++)
        fprintf(f, "  %-26s %s (default: %s)\n", config_options[i].env, config_options[i].help,
                *config_options[i].fallback ? config_options[i].fallback : "none");
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
    if (auth_cache_start() != 0 || ratelimit_start() != 0 || workers_start(cfg.db_pool) != 0 || http_start() != 0 ||
        dispatcher_start() != 0)
        return 1;
    log_msg(LOG_INFO, NULL, "allied %s listening on %s (%d HTTP threads, %d database workers)",
            ALLIED_VERSION, cfg.listen, cfg.threads, cfg.db_pool);
    int sig = 0;
    sigwait(&set, &sig);
    log_msg(LOG_INFO, NULL, "received %s: draining", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    http_stop();
    dispatcher_stop();
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
    if (!strcmp(argv[1], "workflow")) {
        json_t *t = json_array();
        for (int i = 0; i < workflow_table_len; i++)
            json_array_append_new(t, json_pack("{s:s, s:s, s:s, s:s}", "from",
                                               workflow_status_name(workflow_table[i].from), "action",
                                               workflow_action_name(workflow_table[i].action), "to",
                                               workflow_status_name(workflow_table[i].to), "by",
                                               workflow_table[i].by == SIDE_RECEIVER ? "receiver" : "referrer"));
        char *s = json_dumps(t, JSON_INDENT(1));
        puts(s);
        free(s);
        json_decref(t);
        return 0;
    }
    if (!strcmp(argv[1], "routes")) {
        for (int i = 0; i < routes_count; i++) {
            printf("%s %s", routes[i].method, routes[i].pattern);
            for (unsigned r = 1; r <= ROLE_READONLY; r <<= 1)
                if (!(routes[i].flags & RF_PUBLIC) && (routes[i].roles & r)) printf(" %s", role_name(r));
            printf("%s\n", (routes[i].flags & RF_PUBLIC) ? " public" : "");
        }
        return 0;
    }
    if (config_load() != 0) return 2;
    if (!strcmp(argv[1], "serve")) return serve();
    if (!strcmp(argv[1], "migrate")) return cli_migrate(argc - 2, argv + 2);
    if (!strcmp(argv[1], "tenant")) return cli_tenant(argc - 2, argv + 2);
    if (!strcmp(argv[1], "key")) return cli_key(argc - 2, argv + 2);
    fprintf(stderr, "allied: unknown command \"%s\"\n\n", argv[1]);
    usage(stderr);
    return 2;
}
