/* How a person or business is reached, with the same limits wherever one is recorded (a partner,
 * a referral's prospect). */
#ifndef ALLIED_CONTACT_H
#define ALLIED_CONTACT_H
#include "server/edge/json_in.h"

#define CONTACT_FIELDS                                                                             \
    FIELD_STRING("name", F_REQUIRED, 200), FIELD_STRING("company", F_NULLABLE, 200),               \
        FIELD_EMAIL("email", F_NULLABLE, 254), FIELD_STRING("phone", F_NULLABLE, 50)
#endif
