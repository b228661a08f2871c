/* The people Allied notifies (api/contacts.c): a partner's contacts and the tenant's own
 * notification contacts, one handler per route in api/app.c. */
#ifndef ALLIED_CONTACTS_H
#define ALLIED_CONTACTS_H
#include "server/edge/request.h"

/* /v1/partners/{id}/contacts[/{contact_id}] */
void api_partner_contacts_create(struct request *rq);
void api_partner_contacts_list(struct request *rq);
void api_partner_contacts_get(struct request *rq);
void api_partner_contacts_update(struct request *rq);
void api_partner_contacts_delete(struct request *rq);
/* /v1/notification-contacts[/{id}] */
void api_notification_contacts_create(struct request *rq);
void api_notification_contacts_list(struct request *rq);
void api_notification_contacts_get(struct request *rq);
void api_notification_contacts_update(struct request *rq);
void api_notification_contacts_delete(struct request *rq);
#endif
