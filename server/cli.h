/* Operator subcommands that talk to the database directly: migrate, tenant create, key create. */
#ifndef ALLIED_CLI_H
#define ALLIED_CLI_H

int cli_migrate(int argc, char **argv);
int cli_tenant(int argc, char **argv);
int cli_key(int argc, char **argv);
#endif
