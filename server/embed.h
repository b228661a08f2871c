/* Files compiled into the binary (scripts/embed_files.sh writes the table at build time). */
#ifndef ALLIED_EMBED_H
#define ALLIED_EMBED_H
#include <stddef.h>

struct embedded_file {
    const char *name; /* as the Makefile names it, e.g. "openapi.yaml" */
    size_t len;
    const char *data; /* `len` bytes (a NUL follows, but the file may hold NULs too) */
};
extern const struct embedded_file embedded_files[];
extern const int embedded_files_count;

/* The embedded file called `name`, or NULL. */
const struct embedded_file *embedded_find(const char *name);
#endif
