/* Idempotency-Key for POST: the same key and request within 24 h replays the stored response. */
#ifndef ALLIED_IDEMPOTENCY_H
#define ALLIED_IDEMPOTENCY_H
#include "server/edge/request.h"

enum idem { IDEM_NEW, IDEM_REPLAYED, IDEM_FAILED };

/* Inside the request's transaction: claims `key` for this API key. IDEM_NEW: go on and call
 * idempotency_store() before commit. IDEM_REPLAYED: rq holds the stored response (or a 422 if
 * the key was used for another request). IDEM_FAILED: database failure (rq->db_fail set). A
 * concurrent request with the same key waits on the claim row until this one commits. */
enum idem idempotency_claim(struct request *rq, const char *key);
/* Records rq's response under `key`. 0, or -1 on database failure. */
int idempotency_store(struct request *rq, const char *key);
#endif
