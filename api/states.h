/* State machines as data: every resource that moves between states writes its moves as one table
 * of (from, action, to, who may) rows, next to the resource. Pure, no I/O: the handlers ask it
 * whether an action is legal and where it leads, 409 answers list what it allows, `allied
 * workflow` prints it (JSON, or Markdown for README.md), and the unit tests walk every cell. */
#ifndef ALLIED_STATES_H
#define ALLIED_STATES_H
#include <jansson.h>
#include <stdbool.h>

/* One legal move. from/to index the machine's states, action its actions, by its actors. */
struct transition {
    int from;
    int action;
    int to;
    int by;
};

struct machine {
    const char *resource; /* "referral", "agreement", ... */
    const char *const *states;
    int n_states;
    const char *const *actions;
    int n_actions;
    const char *const *actors; /* who may, by a row's `by` */
    const struct transition *table;
    int len;
    int via; /* actor index of moves made by another resource (not in allowed_actions); -1 none */
    const char *note; /* how derived statuses and extra conditions are treated */
};

/* Name <-> index; -1 for an unknown (or NULL) name. */
int machine_state(const struct machine *m, const char *name);
int machine_action(const struct machine *m, const char *name);
const char *machine_state_name(const struct machine *m, int state);
const char *machine_action_name(const struct machine *m, int action);
/* The row for (from, action), or NULL if the table does not allow it. */
const struct transition *machine_find(const struct machine *m, int from, int action);
/* The actions of the resource's own endpoints allowed from `from`, into out[] (n_actions max). */
int machine_allowed(const struct machine *m, int from, int *out);
/* Those names as a JSON array (the `allowed_actions` of a 409). */
json_t *machine_allowed_json(const struct machine *m, int from);
/* The table as [{from, action, to, by}, ...]. */
json_t *machine_json(const struct machine *m);
/* The table as Markdown: a mermaid state diagram, a table and the note. Caller frees. */
char *machine_markdown(const struct machine *m, const char *title);
#endif
