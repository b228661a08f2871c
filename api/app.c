/* The product as the framework sees it: the API's table of contents (every route, who may call
 * it, what it takes), the extra `allied` commands and the background services. */
#include "server/app.h"
#include "server/cli.h"
#include "server/edge/router.h"
#include "api/api.h"
#include "api/contacts.h"
#include "api/referrals/workflow.h"
#include "api/agreement_states.h"
#include "api/money/commission_states.h"
#include "api/money/invoice_states.h"
#include "api/webhooks/deliver.h"
#include "api/time_events.h"
#include "api/notify/notify_api.h"
#include "api/notify/sender.h"
#include "server/edge/usage.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPT_BODY (RF_BODY | RF_BODY_OPTIONAL)

static const struct route routes[] = {
    /* operations */
    {"GET", "/healthz", api_healthz, 0, RF_PUBLIC | RF_INLINE},
    {"GET", "/readyz", api_readyz, 0, RF_PUBLIC},
    {"GET", "/metrics", api_metrics, 0, RF_PUBLIC | RF_INLINE},
    /* the API reference, compiled into the binary (api/docs.c) */
    {"GET", "/openapi.yaml", api_openapi, 0, RF_PUBLIC | RF_INLINE},
    {"GET", "/docs", api_docs, 0, RF_PUBLIC | RF_INLINE},
    {"GET", "/docs/redoc.standalone.js", api_docs_redoc, 0, RF_PUBLIC | RF_INLINE},
    /* the partner portal and staff inbox: pages compiled into the binary (api/portal.c) */
    {"GET", "/portal", api_portal_redirect, 0, RF_PUBLIC | RF_INLINE},
    {"GET", "/portal/", api_portal_home, 0, RF_PUBLIC | RF_INLINE | RF_QUERY},
    {"GET", "/portal/{file}", api_portal_file, 0, RF_PUBLIC | RF_INLINE | RF_QUERY},
    /* API keys (admin only) */
    {"POST", "/v1/api-keys", api_keys_create, ROLE_ADMIN, RF_BODY},
    {"GET", "/v1/api-keys", api_keys_list, ROLE_ADMIN, RF_QUERY},
    {"GET", "/v1/api-keys/{id}", api_keys_get, ROLE_ADMIN, 0},
    {"DELETE", "/v1/api-keys/{id}", api_keys_revoke, ROLE_ADMIN, 0},
    {"POST", "/v1/api-keys/{id}/rotate", api_keys_rotate, ROLE_ADMIN, OPT_BODY},
    /* the audit log (admin only) */
    {"GET", "/v1/audit-events", api_audit_events_list, ROLE_ADMIN, RF_QUERY},
    /* partners */
    {"POST", "/v1/partners", api_partners_create, ROLES_STAFF, RF_BODY},
    {"GET", "/v1/partners", api_partners_list, ROLES_ANY, RF_QUERY},
    {"GET", "/v1/partners/{id}", api_partners_get, ROLES_ANY, 0},
    {"PATCH", "/v1/partners/{id}", api_partners_update, ROLES_STAFF, RF_BODY},
    {"DELETE", "/v1/partners/{id}", api_partners_delete, ROLES_STAFF, 0},
    {"PUT", "/v1/partners/by-external-id/{external_id}", api_partners_put, ROLES_STAFF, RF_BODY},
    /* agreements */
    {"POST", "/v1/agreements", api_agreements_create, ROLES_STAFF, RF_BODY},
    {"GET", "/v1/agreements", api_agreements_list, ROLES_ANY, RF_QUERY},
    {"GET", "/v1/agreements/{id}", api_agreements_get, ROLES_ANY, 0},
    {"PATCH", "/v1/agreements/{id}", api_agreements_update, ROLES_STAFF, RF_BODY},
    {"POST", "/v1/agreements/{id}/sign", api_agreements_sign, ROLES_STAFF | ROLE_PARTNER, RF_BODY},
    {"POST", "/v1/agreements/{id}/suspend", api_agreements_suspend, ROLES_STAFF, OPT_BODY},
    {"POST", "/v1/agreements/{id}/resume", api_agreements_resume, ROLES_STAFF, OPT_BODY},
    {"POST", "/v1/agreements/{id}/terminate", api_agreements_terminate, ROLES_STAFF, RF_BODY},
    {"POST", "/v1/agreements/{id}/amend", api_agreements_amend, ROLES_STAFF, OPT_BODY},
    /* referrals: the workflow actions all go through api_referrals_act (api/referrals/workflow.c) */
    {"POST", "/v1/referrals", api_referrals_create, ROLES_STAFF | ROLE_PARTNER, RF_BODY},
    {"GET", "/v1/referrals", api_referrals_list, ROLES_ANY, RF_QUERY},
    {"GET", "/v1/referrals/{id}", api_referrals_get, ROLES_ANY, 0},
    {"PATCH", "/v1/referrals/{id}", api_referrals_update, ROLES_STAFF | ROLE_PARTNER, RF_BODY},
    {"GET", "/v1/referrals/{id}/events", api_referrals_events, ROLES_ANY, RF_QUERY},
    {"PUT", "/v1/referrals/by-external-id/{external_id}", api_referrals_put, ROLES_STAFF | ROLE_PARTNER, RF_BODY},
    {"POST", "/v1/referrals/{id}/acknowledge", api_referrals_act, ROLES_STAFF | ROLE_PARTNER, OPT_BODY},
    {"POST", "/v1/referrals/{id}/engage", api_referrals_act, ROLES_STAFF | ROLE_PARTNER, OPT_BODY},
    {"POST", "/v1/referrals/{id}/update", api_referrals_act, ROLES_STAFF | ROLE_PARTNER, OPT_BODY},
    {"POST", "/v1/referrals/{id}/win", api_referrals_act, ROLES_STAFF | ROLE_PARTNER, OPT_BODY},
    {"POST", "/v1/referrals/{id}/lose", api_referrals_act, ROLES_STAFF | ROLE_PARTNER, OPT_BODY},
    {"POST", "/v1/referrals/{id}/decline", api_referrals_act, ROLES_STAFF | ROLE_PARTNER, OPT_BODY},
    {"POST", "/v1/referrals/{id}/withdraw", api_referrals_act, ROLES_STAFF | ROLE_PARTNER, OPT_BODY},
    /* commissions: created by `win`; partner keys read their own */
    {"GET", "/v1/commissions", api_commissions_list, ROLES_ANY, RF_QUERY},
    {"GET", "/v1/commissions/{id}", api_commissions_get, ROLES_ANY, 0},
    {"POST", "/v1/commissions/{id}/reverse", api_commissions_reverse, ROLES_STAFF, RF_BODY},
    /* invoices: staff, or a partner for what it is owed */
    {"POST", "/v1/invoices", api_invoices_create, ROLES_STAFF | ROLE_PARTNER, RF_BODY},
    {"GET", "/v1/invoices", api_invoices_list, ROLES_ANY, RF_QUERY},
    {"GET", "/v1/invoices/{id}", api_invoices_get, ROLES_ANY, 0},
    {"POST", "/v1/invoices/{id}/approve", api_invoices_approve, ROLES_STAFF, OPT_BODY},
    {"POST", "/v1/invoices/{id}/pay", api_invoices_pay, ROLES_STAFF, RF_BODY},
    {"POST", "/v1/invoices/{id}/reject", api_invoices_reject, ROLES_STAFF, RF_BODY},
    {"POST", "/v1/invoices/{id}/void", api_invoices_void, ROLES_STAFF, OPT_BODY},
    /* webhooks: a partner key manages endpoints that receive only its own events */
    {"POST", "/v1/webhook-endpoints", api_webhooks_create, ROLES_STAFF | ROLE_PARTNER, RF_BODY},
    {"GET", "/v1/webhook-endpoints", api_webhooks_list, ROLES_STAFF | ROLE_PARTNER | ROLE_READONLY, RF_QUERY},
    {"GET", "/v1/webhook-endpoints/{id}", api_webhooks_get, ROLES_STAFF | ROLE_PARTNER | ROLE_READONLY, 0},
    {"PATCH", "/v1/webhook-endpoints/{id}", api_webhooks_update, ROLES_STAFF | ROLE_PARTNER, RF_BODY},
    {"DELETE", "/v1/webhook-endpoints/{id}", api_webhooks_delete, ROLES_STAFF | ROLE_PARTNER, 0},
    {"POST", "/v1/webhook-endpoints/{id}/rotate-secret", api_webhooks_rotate, ROLES_STAFF | ROLE_PARTNER, OPT_BODY},
    {"GET", "/v1/webhook-endpoints/{id}/deliveries", api_webhooks_deliveries, ROLES_STAFF | ROLE_PARTNER | ROLE_READONLY, RF_QUERY},
    {"POST", "/v1/webhook-deliveries/{id}/retry", api_webhooks_retry, ROLES_STAFF | ROLE_PARTNER, OPT_BODY},
    /* keeping the relationship healthy */
    {"POST", "/v1/partners/{id}/commitments", api_commitments_create, ROLES_STAFF, RF_BODY},
    {"GET", "/v1/partners/{id}/commitments", api_commitments_list, ROLES_ANY, 0},
    {"GET", "/v1/partners/{id}/commitments/{commitment_id}", api_commitments_get, ROLES_ANY, 0},
    {"PATCH", "/v1/partners/{id}/commitments/{commitment_id}", api_commitments_update, ROLES_STAFF, RF_BODY},
    {"DELETE", "/v1/partners/{id}/commitments/{commitment_id}", api_commitments_delete, ROLES_STAFF, 0},
    {"GET", "/v1/commitments", api_commitments_all, ROLES_ANY, RF_QUERY},
    {"POST", "/v1/partners/{id}/check-ins", api_checkins_create, ROLES_STAFF, RF_BODY},
    {"GET", "/v1/partners/{id}/check-ins", api_checkins_list, ROLES_ANY, 0},
    {"GET", "/v1/check-ins/due", api_checkins_due, ROLES_STAFF | ROLE_READONLY, RF_QUERY},
    {"GET", "/v1/reports/partners", api_reports_partners, ROLES_ANY, RF_QUERY | RF_REPORT},
    {"GET", "/v1/reports/partners/{id}", api_reports_partner, ROLES_ANY, RF_QUERY | RF_REPORT},
    {"GET", "/v1/reports/summary", api_reports_summary, ROLES_STAFF | ROLE_READONLY, RF_QUERY | RF_REPORT},
    /* the change feed */
    {"GET", "/v1/events", api_events_list, ROLES_ANY, RF_QUERY},
    /* the operator: tenants, their limits and usage (operator keys only; they reach nothing above) */
    {"POST", "/v1/tenants", api_tenants_create, ROLE_OPERATOR, RF_BODY},
    {"GET", "/v1/tenants", api_tenants_list, ROLE_OPERATOR, RF_QUERY},
    {"GET", "/v1/tenants/{id}", api_tenants_get, ROLE_OPERATOR, 0},
    {"PATCH", "/v1/tenants/{id}", api_tenants_update, ROLE_OPERATOR, RF_BODY},
    {"DELETE", "/v1/tenants/{id}", api_tenants_delete, ROLE_OPERATOR, RF_BODY},
    {"POST", "/v1/tenants/{id}/suspend", api_tenants_suspend, ROLE_OPERATOR, OPT_BODY},
    {"POST", "/v1/tenants/{id}/resume", api_tenants_resume, ROLE_OPERATOR, OPT_BODY},
    {"GET", "/v1/tenants/{id}/usage", api_tenants_usage, ROLE_OPERATOR, RF_QUERY},
    {"GET", "/v1/tenants/{id}/export", api_tenants_export, ROLE_OPERATOR, RF_SNAPSHOT | RF_REPORT},
    /* data in and out (api/export.c, api/imports.c) */
    {"GET", "/v1/export", api_export, ROLE_ADMIN, RF_SNAPSHOT | RF_REPORT},
    {"POST", "/v1/imports/export", api_import_export, ROLE_ADMIN, RF_RAW_BODY | RF_REPORT},
    {"POST", "/v1/imports/partners", api_imports_partners, ROLES_STAFF, RF_RAW_BODY | RF_QUERY | RF_REPORT},
    {"POST", "/v1/imports/referrals", api_imports_referrals, ROLES_STAFF, RF_RAW_BODY | RF_QUERY | RF_REPORT},
    /* signing people in (api/sessions.c): one-time links, then a session cookie for the pages */
    {"POST", "/v1/partners/{id}/portal-links", api_portal_links_create, ROLES_STAFF, OPT_BODY},
    {"POST", "/v1/staff-links", api_staff_links_create, ROLE_ADMIN, RF_BODY},
    {"POST", "/v1/sessions", api_sessions_create, 0, RF_PUBLIC | RF_BODY},
    {"GET", "/v1/session", api_session_get, ROLES_ANY, 0},
    {"DELETE", "/v1/session", api_session_delete, ROLES_ANY, 0},
    /* contacts: the people Allied notifies (api/contacts.c); a partner key manages its own partner's */
    {"POST", "/v1/partners/{id}/contacts", api_partner_contacts_create, ROLES_STAFF | ROLE_PARTNER, RF_BODY},
    {"GET", "/v1/partners/{id}/contacts", api_partner_contacts_list, ROLES_ANY, RF_QUERY},
    {"GET", "/v1/partners/{id}/contacts/{contact_id}", api_partner_contacts_get, ROLES_ANY, 0},
    {"PATCH", "/v1/partners/{id}/contacts/{contact_id}", api_partner_contacts_update, ROLES_STAFF | ROLE_PARTNER, RF_BODY},
    {"DELETE", "/v1/partners/{id}/contacts/{contact_id}", api_partner_contacts_delete, ROLES_STAFF | ROLE_PARTNER, 0},
    {"POST", "/v1/notification-contacts", api_notification_contacts_create, ROLES_STAFF, RF_BODY},
    {"GET", "/v1/notification-contacts", api_notification_contacts_list, ROLES_STAFF | ROLE_READONLY, RF_QUERY},
    {"GET", "/v1/notification-contacts/{id}", api_notification_contacts_get, ROLES_STAFF | ROLE_READONLY, 0},
    {"PATCH", "/v1/notification-contacts/{id}", api_notification_contacts_update, ROLES_STAFF, RF_BODY},
    {"DELETE", "/v1/notification-contacts/{id}", api_notification_contacts_delete, ROLES_STAFF, 0},
    /* the tenant's own settings: thresholds of its time-based events (api/settings.c) */
    {"GET", "/v1/settings", api_settings_get, ROLES_STAFF | ROLE_READONLY, 0},
    {"PATCH", "/v1/settings", api_settings_update, ROLE_ADMIN, RF_BODY},
    /* e-mail notifications (api/notify/): the delivery log; unsubscribe links work without a key */
    {"GET", "/v1/notifications", api_notifications_list, ROLES_STAFF | ROLE_READONLY | ROLE_PARTNER, RF_QUERY},
    {"GET", "/v1/unsubscribe", api_unsubscribe_page, 0, RF_PUBLIC | RF_QUERY},
    {"POST", "/v1/unsubscribe", api_unsubscribe, 0, RF_PUBLIC | RF_QUERY | RF_ANY_BODY},
};


/* Every state table (api/states.h), with the heading README.md gives it. */
static const struct {
    const struct machine *m;
    const char *title;
} MACHINES[] = {
    {&referral_machine, "Referrals"},
    {&agreement_machine, "Agreements"},
    {&commission_machine, "Commissions"},
    {&invoice_machine, "Invoices"},
};
#define N_MACHINES (int)(sizeof MACHINES / sizeof MACHINES[0])

/* `allied workflow [referral|agreement|commission|invoice|--markdown]`: every state table as one
 * JSON object, one as an array of {from, action, to, by}, or all as README.md's Markdown. */
static int print_workflow(int argc, char **argv) {
    const char *arg = argc == 1 ? argv[0] : NULL;
    if (argc > 1) {
        fprintf(stderr, "allied workflow: takes at most one argument: referral, agreement, commission, invoice or --markdown\n");
        return 2;
    }
    json_t *all = json_object();
    for (int i = 0; i < N_MACHINES; i++)
        json_object_set_new(all, MACHINES[i].m->resource, machine_json(MACHINES[i].m));
    if (!arg) return cli_print_json(all);
    json_t *one = json_incref(json_object_get(all, arg));
    json_decref(all);
    if (one) return cli_print_json(one);
    if (strcmp(arg, "--markdown") != 0) {
        fprintf(stderr, "allied workflow: no table named %s\n", arg);
        return 2;
    }
    for (int i = 0; i < N_MACHINES; i++) {
        char *md = machine_markdown(MACHINES[i].m, MACHINES[i].title);
        printf("%s%s", i ? "\n" : "", md);
        free(md);
    }
    return 0;
}

static const struct app_command commands[] = {
    {"workflow", "print the state tables (JSON; [referral|agreement|commission|invoice|--markdown])", print_workflow},
};

/* Webhook deliveries are sent beside the HTTP server (api/webhooks/deliver.c); old audit events
 * are pruned (api/audit_events.c); time-based events are announced by the scheduler
 * (api/time_events.c). */
static const struct app_service services[] = {
    {"webhook sender", dispatcher_start, dispatcher_stop},
    {"audit pruner", audit_pruner_start, audit_pruner_stop},
    {"time-event scheduler", time_events_start, time_events_stop},
    {"usage counters", usage_start, usage_stop}, /* server/edge/usage.c: flushes per-tenant usage */
    {"mail sender", mail_sender_start, mail_sender_stop}, /* api/notify/sender.c: e-mail notifications */
};

const struct app allied_app = {
    routes, sizeof routes / sizeof routes[0],
    commands, sizeof commands / sizeof commands[0],
    services, sizeof services / sizeof services[0],
};
