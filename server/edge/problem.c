/* Expands the error registry into a lookup table. */
#include "server/edge/problem.h"

const struct problem_info problems[P_COUNT] = {
#define X(name, status, slug, title) [name] = {status, slug, title},
    PROBLEMS(X)
#undef X
};
