/* Every endpoint handler, one per route in server/router.c. */
#ifndef ALLIED_API_H
#define ALLIED_API_H
#include "server/edge/request.h"

/* api/health.c */
void api_healthz(struct request *rq);
void api_readyz(struct request *rq);
void api_metrics(struct request *rq);

/* api/docs.c: the API reference (compiled in) */
void api_openapi(struct request *rq);
void api_docs(struct request *rq);
void api_docs_redoc(struct request *rq);
/* the partner portal and staff inbox pages (api/portal.c) */
void api_portal_home(struct request *rq);
void api_portal_file(struct request *rq);
void api_portal_redirect(struct request *rq);

/* api/api_keys.c */
void api_keys_create(struct request *rq);
void api_keys_list(struct request *rq);
void api_keys_get(struct request *rq);
void api_keys_revoke(struct request *rq);
void api_keys_rotate(struct request *rq);
void api_audit_events_list(struct request *rq);
/* The audit log's pruner (api/audit_events.c), a service of `allied serve`. */
int audit_pruner_start(void);
void audit_pruner_stop(void);

/* api/partners.c */
void api_partners_create(struct request *rq);
void api_partners_list(struct request *rq);
void api_partners_get(struct request *rq);
void api_partners_update(struct request *rq);
void api_partners_delete(struct request *rq);
void api_partners_put(struct request *rq);
/* api/agreements.c */
void api_agreements_create(struct request *rq);
void api_agreements_list(struct request *rq);
void api_agreements_get(struct request *rq);
void api_agreements_update(struct request *rq);
void api_agreements_sign(struct request *rq);
void api_agreements_suspend(struct request *rq);
void api_agreements_resume(struct request *rq);
void api_agreements_terminate(struct request *rq);
void api_agreements_amend(struct request *rq);

/* api/referrals.c, api/referral_actions.c */
void api_referrals_create(struct request *rq);
void api_referrals_list(struct request *rq);
void api_referrals_get(struct request *rq);
void api_referrals_update(struct request *rq);
void api_referrals_events(struct request *rq);
void api_referrals_act(struct request *rq);
void api_referrals_put(struct request *rq);

/* api/commissions.c */
void api_commissions_list(struct request *rq);
void api_commissions_get(struct request *rq);
void api_commissions_reverse(struct request *rq);

/* api/invoices.c */
void api_invoices_create(struct request *rq);
void api_invoices_list(struct request *rq);
void api_invoices_get(struct request *rq);
void api_invoices_approve(struct request *rq);
void api_invoices_pay(struct request *rq);
void api_invoices_reject(struct request *rq);
void api_invoices_void(struct request *rq);

/* api/webhooks.c */
void api_webhooks_create(struct request *rq);
void api_webhooks_list(struct request *rq);
void api_webhooks_get(struct request *rq);
void api_webhooks_update(struct request *rq);
void api_webhooks_delete(struct request *rq);
void api_webhooks_rotate(struct request *rq);
void api_webhooks_deliveries(struct request *rq);
void api_webhooks_retry(struct request *rq);

/* api/relationship.c */
void api_commitments_create(struct request *rq);
void api_commitments_list(struct request *rq);
void api_commitments_get(struct request *rq);
void api_commitments_update(struct request *rq);
void api_commitments_delete(struct request *rq);
void api_commitments_all(struct request *rq);
void api_checkins_create(struct request *rq);
void api_checkins_list(struct request *rq);
void api_checkins_due(struct request *rq);

/* api/reports.c */
void api_reports_partners(struct request *rq);
void api_reports_partner(struct request *rq);
void api_reports_summary(struct request *rq);

/* api/feed.c */
void api_events_list(struct request *rq);
/* api/tenants.c (operator keys only) */
void api_tenants_create(struct request *rq);
void api_tenants_list(struct request *rq);
void api_tenants_get(struct request *rq);
void api_tenants_update(struct request *rq);
void api_tenants_suspend(struct request *rq);
void api_tenants_resume(struct request *rq);
void api_tenants_delete(struct request *rq);
void api_tenants_usage(struct request *rq);

/* data in and out: api/export.c, api/imports.c */
void api_tenants_export(struct request *rq);
void api_export(struct request *rq);
void api_import_export(struct request *rq);
void api_imports_partners(struct request *rq);
void api_imports_referrals(struct request *rq);

/* signing people in: api/sessions.c */
void api_portal_links_create(struct request *rq);
void api_staff_links_create(struct request *rq);
void api_sessions_create(struct request *rq);
void api_session_get(struct request *rq);
void api_session_delete(struct request *rq);
/* api/settings.c */
void api_settings_get(struct request *rq);
void api_settings_update(struct request *rq);

#endif
