/* Looks up files compiled into the binary (server/embed.h). */
#include "server/embed.h"
#include <string.h>

const struct embedded_file *embedded_find(const char *name) {
    for (int i = 0; i < embedded_files_count; i++)
        if (strcmp(embedded_files[i].name, name) == 0) return &embedded_files[i];
    return NULL;
}
