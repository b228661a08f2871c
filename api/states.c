/* The generic side of the state tables (api/states.h): lookups, allowed actions, printing. */
#include "api/states.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int index_of(const char *const *names, int n, const char *s) {
    for (int i = 0; s && i < n; i++)
        if (strcmp(names[i], s) == 0) return i;
    return -1;
}

int machine_state(const struct machine *m, const char *name) {
    return index_of(m->states, m->n_states, name);
}
int machine_action(const struct machine *m, const char *name) {
    return index_of(m->actions, m->n_actions, name);
}
const char *machine_state_name(const struct machine *m, int state) {
    return state >= 0 && state < m->n_states ? m->states[state] : "unknown";
}
const char *machine_action_name(const struct machine *m, int action) {
    return action >= 0 && action < m->n_actions ? m->actions[action] : "unknown";
}

const struct transition *machine_find(const struct machine *m, int from, int action) {
    for (int i = 0; i < m->len; i++)
        if (m->table[i].from == from && m->table[i].action == action) return &m->table[i];
    return NULL;
}

int machine_allowed(const struct machine *m, int from, int *out) {
    int n = 0;
    for (int a = 0; a < m->n_actions; a++) {
        const struct transition *t = machine_find(m, from, a);
        if (t && t->by != m->via) out[n++] = a;
    }
    return n;
}

json_t *machine_allowed_json(const struct machine *m, int from) {
    int out[64];
    int n = m->n_actions <= 64 ? machine_allowed(m, from, out) : 0;
    json_t *list = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(list, json_string(m->actions[out[i]]));
    return list;
}

json_t *machine_json(const struct machine *m) {
    json_t *rows = json_array();
    for (int i = 0; i < m->len; i++) {
        const struct transition *t = &m->table[i];
        json_array_append_new(rows, json_pack("{s:s, s:s, s:s, s:s}", "from", m->states[t->from],
                                              "action", m->actions[t->action], "to",
                                              m->states[t->to], "by", m->actors[t->by]));
    }
    return rows;
}

char *machine_markdown(const struct machine *m, const char *title) {
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f) abort();
    fprintf(f, "### %s\n\n```mermaid\nstateDiagram-v2\n", title);
    for (int i = 0; i < m->len; i++)
        fprintf(f, "    %s --> %s: %s\n", m->states[m->table[i].from], m->states[m->table[i].to],
                m->actions[m->table[i].action]);
    fprintf(f, "```\n\n| from | action | to | who may |\n|---|---|---|---|\n");
    for (int i = 0; i < m->len; i++) {
        const struct transition *t = &m->table[i];
        fprintf(f, "| `%s` | `%s` | `%s` | %s |\n", m->states[t->from], m->actions[t->action],
                m->states[t->to], m->actors[t->by]);
    }
    if (m->note) fprintf(f, "\n%s\n", m->note);
    fclose(f);
    return buf;
}
