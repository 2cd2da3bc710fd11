/* idempotency.h — Idempotency-Key for POSTs that move money.
 *
 * The key is claimed in the same transaction as the work it guards, and the first
 * response is stored there too, so "done" and "the money moved" commit together or not at
 * all. A replay with the same request (same hash of method, route and canonical body)
 * returns the stored response byte for byte; the same key with a different request is
 * 422. Concurrent duplicates: on SQLite the single writer runs them one after the other, so
 * the claim only looks the key up and the completion inserts the finished row (a request
 * refused before it writes leaves nothing to undo, D36); on PostgreSQL the claim inserts a
 * 'running' row and a concurrent duplicate waits on the key's unique index until the first
 * commits, then replays (it must not run meanwhile: refused, say for the money the first one
 * spent, it would tell the client that a payment which went through had failed). A key whose
 * first attempt rolled back is free again. Keys are scoped per caller and route, so two
 * callers never collide. */
#ifndef MPS_SERVICE_IDEMPOTENCY_H
#define MPS_SERVICE_IDEMPOTENCY_H

#include <stddef.h>
#include <stdint.h>

#include "store/db.h"

#define IDEM_KEY_MAX 128
#define IDEM_HASH_HEX 65

enum idem_outcome { IDEM_NEW = 0, IDEM_REPLAY = 1, IDEM_MISMATCH = 2 };

/* Claim (scope, key) for request_hash, at_ms being when the request came. On IDEM_REPLAY
 * *status and *body (malloc'd, caller frees) hold the stored response. Returns an
 * idem_outcome, or < 0. */
int idem_claim(db_conn *c, const char *scope, const char *key, const char *request_hash,
               int64_t at_ms, int *status, char **body);
/* Prefetch (db_prefetch) what idem_claim will run, with the same arguments; idem_claim must
 * follow in the same transaction. */
int idem_prefetch(db_conn *c, const char *scope, const char *key, const char *request_hash,
                  int64_t at_ms);
/* Store the response of the claimed key (same transaction, same request_hash as the claim). */
int idem_complete(db_conn *c, const char *scope, const char *key, const char *request_hash,
                  int status, const char *body);

/* SHA-256 hex of the parts, length-prefixed. */
void idem_hash(const char *const *parts, size_t count, char out[IDEM_HASH_HEX]);

#endif
