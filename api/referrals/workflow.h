/* The referral workflow as data: status x action -> status, and who may act. Pure, no I/O. */
#ifndef ALLIED_WORKFLOW_H
#define ALLIED_WORKFLOW_H
#include "api/states.h"
#include <stdbool.h>

enum ref_status { RS_SUBMITTED, RS_ACKNOWLEDGED, RS_ENGAGED, RS_WON, RS_LOST, RS_DECLINED, RS_WITHDRAWN, RS_COUNT };
enum ref_action { RA_ACKNOWLEDGE, RA_ENGAGE, RA_UPDATE, RA_WIN, RA_LOSE, RA_DECLINE, RA_WITHDRAW, RA_COUNT };
/* The referrer made the introduction (the partner for inbound, the tenant for outbound). */
enum ref_side { SIDE_REFERRER, SIDE_RECEIVER };

/* The table (a struct machine, api/states.h): from, action, to are the enums above, by a side. */
extern const struct machine referral_machine;
extern const struct transition workflow_table[];
extern const int workflow_table_len;

/* Name <-> enum; -1 for an unknown name. */
int workflow_status_parse(const char *s);
int workflow_action_parse(const char *s);
const char *workflow_status_name(enum ref_status s);
const char *workflow_action_name(enum ref_action a);
/* Past-tense event type for an action ("acknowledged", ..., "updated"). */
const char *workflow_event_type(enum ref_action a);

/* The transition for (from, action), or NULL if the action is not allowed from there. */
const struct transition *workflow_find(enum ref_status from, enum ref_action action);
/* Which side performs `action` (the same from every status). */
enum ref_side workflow_side(enum ref_action action);
/* Writes the actions allowed from `from` into out[] (RA_COUNT max); returns how many. */
int workflow_allowed(enum ref_status from, enum ref_action *out);
/* True if no action leads out of `s`. */
bool workflow_terminal(enum ref_status s);

/* May a caller act for `side`? Staff and admin act for either side; a partner key only for its
 * own side of its own referral: the referrer of an inbound one, the receiver of an outbound one. */
bool workflow_may_act(bool staff, bool partner_owns, bool inbound, enum ref_side side);
#endif
