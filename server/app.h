/* What the product gives the framework. server/ knows the shape of an application, never its
 * contents: api/app.c defines `allied_app` (routes, extra commands, background services) and the
 * process (server/main.c) serves it. Arrows run from api/ down to server/ only. */
#ifndef ALLIED_APP_H
#define ALLIED_APP_H

struct route; /* server/edge/router.h */

/* A subcommand of `allied` beyond the framework's own (serve, migrate, tenant, key, routes). */
struct app_command {
    const char *name;
    const char *usage; /* one line for `allied --help`, after the name */
    int (*run)(int argc, char **argv); /* argv[0] is the first argument after the name */
};

/* Something `allied serve` runs beside the HTTP server (a sender, a scheduler). Started after
 * the workers and the HTTP server; stopped, in reverse order, after the HTTP server drained. */
struct app_service {
    const char *name;
    int (*start)(void); /* 0, or -1 after logging why */
    void (*stop)(void);
};

struct app {
    const struct route *routes; /* the API's table of contents */
    int nroutes;
    const struct app_command *commands;
    int ncommands;
    const struct app_service *services;
    int nservices;
};

/* Defined by the product (api/app.c). */
extern const struct app allied_app;
#endif
