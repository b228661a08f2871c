/* The referral workflow table (DESIGN.md, "The referral workflow"): the one place it is written. */
#include "api/referrals/workflow.h"

const struct transition workflow_table[] = {
    {RS_SUBMITTED, RA_ACKNOWLEDGE, RS_ACKNOWLEDGED, SIDE_RECEIVER},
    {RS_ACKNOWLEDGED, RA_ENGAGE, RS_ENGAGED, SIDE_RECEIVER},
    {RS_ACKNOWLEDGED, RA_UPDATE, RS_ACKNOWLEDGED, SIDE_RECEIVER},
    {RS_ENGAGED, RA_UPDATE, RS_ENGAGED, SIDE_RECEIVER},
    {RS_ACKNOWLEDGED, RA_WIN, RS_WON, SIDE_RECEIVER},
    {RS_ENGAGED, RA_WIN, RS_WON, SIDE_RECEIVER},
    {RS_ACKNOWLEDGED, RA_LOSE, RS_LOST, SIDE_RECEIVER},
    {RS_ENGAGED, RA_LOSE, RS_LOST, SIDE_RECEIVER},
    {RS_SUBMITTED, RA_DECLINE, RS_DECLINED, SIDE_RECEIVER},
    {RS_ACKNOWLEDGED, RA_DECLINE, RS_DECLINED, SIDE_RECEIVER},
    {RS_SUBMITTED, RA_WITHDRAW, RS_WITHDRAWN, SIDE_REFERRER},
    {RS_ACKNOWLEDGED, RA_WITHDRAW, RS_WITHDRAWN, SIDE_REFERRER},
    {RS_ENGAGED, RA_WITHDRAW, RS_WITHDRAWN, SIDE_REFERRER},
};
const int workflow_table_len = sizeof workflow_table / sizeof workflow_table[0];

static const char *const STATUS_NAMES[RS_COUNT] = {"submitted", "acknowledged", "engaged", "won",
                                                    "lost",      "declined",     "withdrawn"};
static const char *const ACTION_NAMES[RA_COUNT] = {"acknowledge", "engage",  "update",  "win",
                                                    "lose",        "decline", "withdraw"};
static const char *const EVENT_TYPES[RA_COUNT] = {"acknowledged", "engaged",  "updated",  "won",
                                                   "lost",         "declined", "withdrawn"};

static const char *const SIDE_NAMES[] = {[SIDE_REFERRER] = "referrer", [SIDE_RECEIVER] = "receiver"};

const struct machine referral_machine = {
    "referral", STATUS_NAMES, RS_COUNT, ACTION_NAMES, RA_COUNT, SIDE_NAMES,
    workflow_table, sizeof workflow_table / sizeof workflow_table[0], -1,
    "The referrer withdraws; every other action is the receiver's (the partner receives an outbound "
    "referral, the tenant an inbound one). Staff and admin keys act for either side, a partner key "
    "only for its own side of its own referral. An action not in the table is 409 "
    "`invalid-transition` with `current_status` and `allowed_actions`.",
};

int workflow_status_parse(const char *s) {
    return machine_state(&referral_machine, s);
}
int workflow_action_parse(const char *s) {
    return machine_action(&referral_machine, s);
}
const char *workflow_status_name(enum ref_status s) {
    return machine_state_name(&referral_machine, (int)s);
}
const char *workflow_action_name(enum ref_action a) {
    return machine_action_name(&referral_machine, (int)a);
}
const char *workflow_event_type(enum ref_action a) {
    return a < RA_COUNT ? EVENT_TYPES[a] : "unknown";
}

const struct transition *workflow_find(enum ref_status from, enum ref_action action) {
    return machine_find(&referral_machine, (int)from, (int)action);
}

enum ref_side workflow_side(enum ref_action action) {
    return action == RA_WITHDRAW ? SIDE_REFERRER : SIDE_RECEIVER;
}

int workflow_allowed(enum ref_status from, enum ref_action *out) {
    int all[RA_COUNT];
    int n = machine_allowed(&referral_machine, (int)from, all);
    for (int i = 0; i < n; i++) out[i] = (enum ref_action)all[i];
    return n;
}

bool workflow_terminal(enum ref_status s) {
    enum ref_action tmp[RA_COUNT];
    return workflow_allowed(s, tmp) == 0;
}

bool workflow_may_act(bool staff, bool partner_owns, bool inbound, enum ref_side side) {
    if (staff) return true;
    if (!partner_owns) return false;
    /* inbound: the partner is the referrer; outbound: the partner is the receiver. */
    return inbound ? side == SIDE_REFERRER : side == SIDE_RECEIVER;
}
