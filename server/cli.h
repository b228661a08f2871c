/* Operator subcommands that talk to the database directly: migrate, tenant create, key create. */
#ifndef ALLIED_CLI_H
#define ALLIED_CLI_H
#include <jansson.h>

int cli_migrate(int argc, char **argv);
int cli_tenant(int argc, char **argv);
int cli_key(int argc, char **argv);
/* Prints `o` (stolen) as indented JSON on stdout; returns 0 (an exit status). */
int cli_print_json(json_t *o);
#endif
