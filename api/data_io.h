/* Shared by api/export.c (export, restore) and api/imports.c (CSV/NDJSON imports). */
#ifndef ALLIED_DATA_IO_H
#define ALLIED_DATA_IO_H
#include "server/edge/request.h"
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

/* 0 if Content-Type is application/x-ndjson, 1 if it is text/csv and `csv_too`; else replies 415
 * and returns -1. */
int import_content_type_or_reply(struct request *rq, bool csv_too);
/* The uploaded body (route flag RF_RAW_BODY) from its start, for reading. When the body is empty
 * replies 400 ("send `what`"), when it could not be spooled 500, and returns NULL. The caller
 * fcloses it (the request keeps its own descriptor). */
FILE *import_body_or_reply(struct request *rq, const char *what);
/* The next line of `in` that is not empty once its line ending is cut (into *line, a getline
 * buffer of *cap bytes the caller frees). Counts every line read in *lineno. Returns its length,
 * or -1 at the end of the file. */
ssize_t import_next_line(char **line, size_t *cap, FILE *in, long *lineno);
#endif
