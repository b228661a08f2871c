/* The commission lifecycle as data (api/states.h). Pure, no I/O. */
#ifndef ALLIED_COMMISSION_STATES_H
#define ALLIED_COMMISSION_STATES_H
#include "api/states.h"

/* CS_PAYABLE is derived (commission_status()): looked up, never stored. */
enum com_state { CS_PENDING, CS_PAYABLE, CS_INVOICED, CS_PAID, CS_REVERSED, CS_COUNT };
enum com_action { CA_REVERSE, CA_INVOICE, CA_PAY, CA_RELEASE, CA_COUNT };
enum com_actor { CB_STAFF, CB_INVOICE };

extern const struct machine commission_machine;
#endif
