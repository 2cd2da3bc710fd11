/* transactions.h — reading payments ("transactions"): filtered, newest first,
 * cursor-paginated lists, and one payment with its event history and refunds.
 *
 * Who sees what:
 *   platform staff   every merchant (merchant_id "" = all of them)
 *   merchant staff   their own merchant only (the merchant-scope rule of service.h)
 *   members          their own payments only: a list is narrowed to their id whatever the
 *                    filter says, another member's payment is NOT_FOUND (never 403, which
 *                    would tell that it exists). */
#ifndef MPS_SERVICE_TRANSACTIONS_H
#define MPS_SERVICE_TRANSACTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "service/payments.h"

#define TXN_MAX_EVENTS 1000  /* a bound on one payment's history as read */
#define TXN_MAX_REFUNDS 1000 /* a bound on one payment's refunds as read */

struct txn {
  struct payment p;
  char store_id[65]; /* "" when none */
};

struct txn_filter {
  const char *merchant_id; /* "": every merchant (platform staff only) */
  const char *status;      /* "": any; else one of txn_status_valid() */
  const char *member_id;   /* "": any member (members: ignored, always themselves) */
  int64_t start_ms;        /* created_at_ms >= start_ms (0: no lower bound) */
  int64_t end_ms;          /* created_at_ms < end_ms (INT64_MAX: no upper bound) */
  const char *cursor;      /* "": first page; else the last id of the previous page */
  int limit;               /* 1..PAGE_MAX */
};

/* Is s a payment status (PENDING_EXTERNAL, PAID, FAILED, EXPIRED)? */
bool txn_status_valid(const char *s);

/* Prefetch (db_prefetch) the query txn_list(c, a, f, ...) runs (the scope is checked then). */
int txn_list_prefetch(db_conn *c, const struct actor *a, const struct txn_filter *f);
/* Calls emit for each matching payment, newest (highest id) first; *next_cursor is set
 * when more exist. SVC_OK, SVC_DENIED or a db_rc. */
int txn_list(db_conn *c, const struct actor *a, const struct txn_filter *f,
             void (*emit)(const struct txn *t, void *arg), void *arg, char *next_cursor,
             size_t next_len, struct svc_error *err);

/* One payment. merchant_id: the merchant of the URL (the payment must be one of its), or
 * NULL on platform routes. SVC_OK, SVC_REJECT (NOT_FOUND), SVC_DENIED or a db_rc. */
int txn_get(db_conn *c, const struct actor *a, const char *merchant_id, const char *payment_id,
            struct txn *out, struct svc_error *err);

/* One entry of a payment's history; strings valid only during the callback. */
struct txn_event {
  int64_t seq, at_ms;
  const char *type;
  const char *details; /* JSON object text */
};
/* The history in order (at most TXN_MAX_EVENTS). DB_OK or < 0. */
int txn_events(db_conn *c, const char *payment_id, void (*emit)(const struct txn_event *e, void *arg),
               void *arg);

struct txn_refund {
  const char *id, *external_status, *actor;
  int64_t amount, wallet_share, external_share, clawback_bonus, clawback_principal, unrecovered,
      fee_reversal, created_at_ms;
};
/* The payment's refunds, oldest first (at most TXN_MAX_REFUNDS). DB_OK or < 0. */
int txn_refunds(db_conn *c, const char *payment_id, void (*emit)(const struct txn_refund *r, void *arg),
                void *arg);

#endif
