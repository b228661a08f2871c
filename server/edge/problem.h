/* The error registry: every problem+json the API can return, declared once. */
#ifndef ALLIED_PROBLEM_H
#define ALLIED_PROBLEM_H

/* X(name, http status, type slug, title) */
#define PROBLEMS(X)                                                                                \
    X(P_BAD_REQUEST, 400, "bad-request", "Bad request")                                            \
    X(P_MALFORMED_JSON, 400, "malformed-json", "Malformed JSON body")                              \
    X(P_VALIDATION, 400, "validation-error", "Invalid request")                                    \
    X(P_UNAUTHORIZED, 401, "unauthorized", "Missing or invalid API key")                           \
    X(P_FORBIDDEN, 403, "forbidden", "This API key may not do that")                               \
    X(P_NOT_FOUND, 404, "not-found", "Not found")                                                  \
    X(P_METHOD_NOT_ALLOWED, 405, "method-not-allowed", "Method not allowed")                       \
    X(P_CONFLICT, 409, "conflict", "Conflict")                                                     \
    X(P_EXTERNAL_ID_TAKEN, 409, "external-id-conflict", "external_id already in use")              \
    X(P_IN_USE, 409, "resource-in-use", "Resource is still referenced")                            \
    X(P_INVALID_STATE, 409, "invalid-state", "Not allowed in the resource's current state")        \
    X(P_INVALID_TRANSITION, 409, "invalid-transition", "Action not allowed from the current status") \
    X(P_AGREEMENT_CONFLICT, 409, "agreement-conflict",                                             \
      "Another agreement already covers this partner and direction")                               \
    X(P_DUPLICATE_REFERRAL, 409, "duplicate-referral", "This prospect was already introduced")     \
    X(P_REQUEST_TIMEOUT, 408, "request-timeout", "Request not received in time")                  \
    X(P_PRECONDITION_FAILED, 412, "stale-version", "If-Match does not match the current version")  \
    X(P_TOO_LARGE, 413, "body-too-large", "Request body too large")                                \
    X(P_UNSUPPORTED_MEDIA, 415, "unsupported-media-type", "Content-Type must be application/json") \
    X(P_CURRENCY_MISMATCH, 422, "currency-mismatch", "Currencies do not match")                    \
    X(P_INVOICE_INVALID, 422, "invoice-invalid", "These commissions cannot be invoiced together")  \
    X(P_IDEMPOTENCY_MISMATCH, 422, "idempotency-key-reused",                                       \
      "Idempotency-Key was used with another request")                                             \
    X(P_RATE_LIMITED, 429, "rate-limited", "Too many requests")                                    \
    X(P_AUTH_THROTTLED, 429, "auth-throttled", "Too many failed authentication attempts")          \
    X(P_INTERNAL, 500, "internal-error", "Internal server error")                                  \
    X(P_UNAVAILABLE, 503, "service-unavailable", "Service temporarily unavailable")                \
    X(P_KEY_EXPIRED, 401, "key-expired", "The API key has expired")                                \
    X(P_KEY_ROTATED, 401, "key-rotated", "This secret of the API key was replaced by a rotation")  \
    X(P_TENANT_SUSPENDED, 403, "tenant-suspended", "This tenant is suspended by the operator")     \
    X(P_TENANT_LIMIT, 409, "tenant-limit", "A limit the operator set for this tenant is reached") \
    X(P_EXPORT_REQUIRED, 409, "export-required", "Export the tenant's data before deleting it")    \
    X(P_IMPORT_REFUSED, 422, "import-refused", "Rows of the import were refused; nothing was imported") \
    X(P_LINK_INVALID, 401, "link-invalid", "The sign-in link is expired, already used or unknown") \
    X(P_CSRF, 403, "csrf", "A request with the session cookie must carry its X-CSRF-Token")

enum problem {
#define X(name, status, slug, title) name,
    PROBLEMS(X)
#undef X
        P_COUNT
};

struct problem_info {
    int status;
    const char *slug;
    const char *title;
};
extern const struct problem_info problems[P_COUNT];

/* Prefix of every problem `type` URI; the slug follows. */
#define PROBLEM_TYPE_PREFIX "https://allied.dev/problems/"
#endif
