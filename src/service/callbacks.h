/* callbacks.h — gateway callbacks: the external part of a payment (pay_…) or an external
 * top-up (top_…) succeeded or failed. The signature is checked before this (api/, with
 * domain/signature.h); this decides what a verified callback does, inside one transaction.
 *
 *   same callbackId seen before            -> REPLAY of its stored result, nothing changes
 *   externalTxnId already applied          -> REPLAY of that first result (same transaction
 *                                             id) or CONFLICT (another one), nothing changes
 *   unknown id, or another merchant's      -> REFUSED 404
 *   not PENDING_EXTERNAL any more          -> REFUSED 409
 *   past its expiry, not swept yet         -> expired now (holds released), REFUSED 409
 *   SUCCEEDED with paidAmount != payable   -> REFUSED 422, nothing settled
 *   FAILED with paidAmount not 0/payable   -> REFUSED 422
 *   SUCCEEDED                              -> APPLIED: payment PAID / top-up SUCCEEDED
 *   FAILED                                 -> APPLIED: payment FAILED (holds released) /
 *                                             top-up FAILED
 * The caller builds the reply and stores it with callback_record() in the same
 * transaction: every callback that is not a replay is recorded with its result, and a
 * replay returns that result byte for byte.
 *
 * Concurrency: the payment (top-up) row is locked first (PostgreSQL FOR UPDATE; SQLite's
 * single writer serialises anyway), then the callbackId and externalTxnId are looked up,
 * so a second identical callback waits for the first and then replays it. The record's
 * primary key catches what has no row to lock (unknown ids): callback_record() returns
 * DB_BUSY, and the rerun replays. */
#ifndef MPS_SERVICE_CALLBACKS_H
#define MPS_SERVICE_CALLBACKS_H

#include <stdint.h>

#include "service/service.h"

#define CALLBACK_ID_MAX 128

struct callback_in {
  const char *callback_id, *merchant_id, *txn_id, *external_txn_id;
  const char *status; /* SUCCEEDED (or PAID) | FAILED, checked by the caller */
  int64_t paid_amount;
};

enum callback_kind { CALLBACK_APPLIED = 0, CALLBACK_REPLAY, CALLBACK_REFUSED };

struct callback_outcome {
  enum callback_kind kind;
  int replay_status;    /* REPLAY */
  char *replay_body;    /* REPLAY: malloc'd, caller frees */
  json_t *reply;        /* APPLIED: the body to answer 200 with (owned) */
  struct svc_error err; /* REFUSED */
};

/* Prefetch (db_prefetch) what callback_process(c, ., in, ...) reads first: the row's lock, the
 * stored results, the payment. */
int callback_prefetch(db_conn *c, const struct callback_in *in);
/* DB_OK with *out filled, or < 0 (roll back). */
int callback_process(db_conn *c, const struct actor *a, const struct callback_in *in,
                     int64_t now_ms, struct callback_outcome *out);
/* Store the callback with the reply it got (held back to COMMIT). DB_OK; DB_BUSY, here or
 * from COMMIT, when a concurrent duplicate recorded the same callbackId first (rerun: it then
 * replays); < 0. */
int callback_record(db_conn *c, const struct callback_in *in, int status, const char *body,
                    int64_t now_ms);
void callback_outcome_clear(struct callback_outcome *o);

#endif
