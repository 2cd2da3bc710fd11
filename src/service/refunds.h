/* refunds.h — refunding (part of) a PAID payment, in the caller's transaction.
 *
 * The shares come from domain/refund.h (cumulative, so partial refunds add up exactly to a
 * full one): the wallet share is credited to the member's principal, the externally paid
 * share is owed back through the gateway (platform refund_payable; the refunds row carries
 * external_status OWED until a gateway refund settles it), the bonus the refunded share had
 * consumed is clawed back (bonus first, then principal), and the platform fee is reversed in
 * proportion. Entries (docs/money.md):
 *   REFUND        Dr merchant payable refund / Cr member principal wallet share,
 *                 Cr platform refund_payable external share
 *   CLAWBACK      Dr member bonus, Dr member principal / Cr merchant marketing
 *   FEE_REVERSAL  Dr platform fee_income / Cr merchant payable
 * with the refunds row, payments.refunded_amount (a conditional update), a payment event,
 * the outbox event refund.succeeded and the audit entry REFUND. */
#ifndef MPS_SERVICE_REFUNDS_H
#define MPS_SERVICE_REFUNDS_H

#include <stdint.h>

#include "domain/refund.h"
#include "service/service.h"

struct refund {
  char id[65], payment_id[65], merchant_id[65], member_id[65], currency[4], external_status[8];
  int64_t amount;          /* this refund */
  int64_t refunded_amount; /* the payment's refunded total, this refund included */
  int64_t order_amount;
  struct refund_shares shares;
  struct wallet_balances wallet; /* the member's posted balances after the refund */
  int64_t created_at_ms;
};

/* Refund amount of payment_id at merchant_id on behalf of actor a:
 *   SVC_DENIED  another merchant's caller (MERCHANT_SCOPE_DENIED)
 *   SVC_REJECT  no such payment at this merchant (NOT_FOUND), not PAID (CONFLICT), more than
 *               is left to refund (UNPROCESSABLE, details: orderAmount, refundedAmount,
 *               refundable)
 *   SVC_OK      *out filled; < 0 store errors (DB_BUSY when the payment changed meanwhile). */
int refund_create(db_conn *c, const struct actor *a, const char *merchant_id, const char *payment_id,
                  int64_t amount, struct refund *out, struct svc_error *err);
/* Prefetch (db_prefetch) what refund_create reads first: the payment's lock and row (nothing
 * when the actor's token alone refuses the merchant). On PostgreSQL it goes with the token
 * check and the key's claim, and refund_create reads the rest in one more round trip (D55). */
int refund_create_prefetch(db_conn *c, const struct actor *a, const char *merchant_id, const char *payment_id);

json_t *refund_json(const struct refund *r);

#endif
