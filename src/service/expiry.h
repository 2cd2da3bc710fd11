/* expiry.h — pending payments and top-ups whose gateway deadline has passed.
 *
 * A PENDING_EXTERNAL payment (top-up) with expires_at_ms <= now becomes EXPIRED: the
 * payment's holds and voucher are released (payment_release), the top-up is closed
 * (topup_fail); each is audited and writes its outbox event, in the caller's transaction.
 * One call handles a bounded batch, oldest deadline first, so a backlog never makes one
 * transaction (and the SQLite writer) long. On PostgreSQL the batch is claimed with
 * FOR UPDATE SKIP LOCKED: several nodes sweeping at once take different rows, and a row a
 * callback is working on is left to it. A callback for an overdue payment expires it too
 * (service/callbacks.h), so the outcome never depends on when the sweep last ran. */
#ifndef MPS_SERVICE_EXPIRY_H
#define MPS_SERVICE_EXPIRY_H

#include <stdint.h>

#include "service/service.h"

#define EXPIRY_BATCH 200

struct expiry_counts {
  int payments, topups;
  bool more; /* a batch was full: more may be due */
};

/* Expire up to `limit` due payments and `limit` due top-ups. DB_OK or < 0. */
int expiry_run(db_conn *c, const struct actor *a, int64_t now_ms, int limit, struct expiry_counts *out);

#endif
