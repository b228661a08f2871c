/* The invoice lifecycle as data (api/states.h). Pure, no I/O. */
#ifndef ALLIED_INVOICE_STATES_H
#define ALLIED_INVOICE_STATES_H
#include "api/states.h"

enum inv_state { IS_SUBMITTED, IS_APPROVED, IS_PAID, IS_REJECTED, IS_VOID, IS_COUNT };
enum inv_action { IA_APPROVE, IA_PAY, IA_REJECT, IA_VOID, IA_COUNT };
enum inv_actor { IB_STAFF };

extern const struct machine invoice_machine;
/* Where `action` leads (the same from every state it is allowed from). */
enum inv_state invoice_target(enum inv_action action);
#endif
