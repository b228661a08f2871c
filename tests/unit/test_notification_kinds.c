/* Unit tests for the notification kinds per side (api/notification_kinds.c): the table, its
 * lookup, and the SQL form made from the same lists. */
#include "api/notification_kinds.h"
#include "tests/unit/unit.h"
#include <string.h>

void test_notification_kinds(void) {
    int partner = 0, tenant = 0;
    for (const struct notification_kind *k = NOTIFICATION_KINDS; k->kind; k++) {
        k->side == SIDE_PARTNER ? partner++ : tenant++;
        CHECK(notification_kind_find(k->kind) == k); /* each kind once */
    }
    CHECK(partner == 8 && tenant == 7);
    CHECK(notification_kind_allowed("referral.won", SIDE_PARTNER) && !notification_kind_allowed("referral.won", SIDE_TENANT));
    CHECK(notification_kind_allowed("referral.submitted", SIDE_TENANT) &&
          !notification_kind_allowed("referral.submitted", SIDE_PARTNER));
    CHECK(!notification_kind_find("agreement.expired") && !notification_kind_find("") && !notification_kind_find(NULL) &&
          !notification_kind_find("Referral.won"));
    CHECK(!strcmp(NOTIFICATION_KINDS_SQL(NOTIFICATION_KINDS_TENANT),
                  "string_to_array(rtrim('referral.submitted,referral.acknowledgement_overdue,referral.stalled,"
                  "invoice.created,invoice.overdue,agreement.expiring,commitment.at_risk,', ','), ',')"));
}
