/* Shared by api/export.c (export, restore) and api/imports.c (CSV/NDJSON imports). */
#ifndef ALLIED_DATA_IO_H
#define ALLIED_DATA_IO_H
#include "server/edge/request.h"
#include <stdbool.h>
#include <stdio.h>

/* 0 if Content-Type is application/x-ndjson, 1 if it is text/csv and `csv_too`; else replies 415
 * and returns -1. */
int import_content_type_or_reply(struct request *rq, bool csv_too);
/* The uploaded body (route flag RF_RAW_BODY) from its start, for reading; NULL if there is none or
 * it could not be spooled. The caller fcloses it (the request keeps its own descriptor). */
FILE *import_body_open(struct request *rq);
#endif
