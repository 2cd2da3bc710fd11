/* refund.h — one refund's shares, as a pure function: how much of it goes back to the wallet
 * and how much is owed back through the gateway, the bonus clawback, and the platform fee
 * reversal. No I/O, no floating point. Tested in tests/unit/test_refund_math.c.
 *
 * Every proportional share is computed cumulatively: the share of this refund is
 *     round(total × (refunded_before + refund) / order) − round(total × refunded_before / order)
 * so the shares of any sequence of partial refunds telescope to round(total × refunded / order)
 * and a payment refunded in full in several parts gets back exactly what one full refund
 * would (every external unit, every unit of consumed bonus, the whole fee), never a unit more
 * or less. For the first refund of a payment this is the plain round(total × refund / order)
 * of the seed (money_clawback). */
#ifndef MPS_DOMAIN_REFUND_H
#define MPS_DOMAIN_REFUND_H

#include <stdint.h>

#include "domain/money.h"

struct refund_input {
  int64_t order_amount;     /* the payment's order */
  struct deduction d;       /* how the payment was paid */
  int64_t fee_amount;       /* the platform fee booked on it */
  int64_t refunded_before;  /* refunded by earlier refunds */
  int64_t refund_amount;    /* this refund: 1 .. order - refunded_before */
  struct wallet_balances wallet; /* the member's spendable balances now (posted - held) */
};

struct refund_shares {
  int64_t external_share; /* owed back through the gateway (not credited to the wallet) */
  int64_t wallet_share;   /* credited to principal: refund - external_share */
  int64_t fee_reversal;   /* platform fee given back to the merchant */
  struct clawback clawback; /* bonus_consumed is this refund's cumulative share of d.bonus;
                               reclaim, from_bonus, from_principal, unrecovered, after as in
                               money_clawback (after = wallet after refund and clawback) */
};

/* round(total × (before + amount) / order) − round(total × before / order): this part's share
 * of total, for 0 <= total <= order, before + amount <= order. */
int64_t refund_cumulative_share(int64_t total, int64_t order, int64_t before, int64_t amount);

/* 0, or -1 when the refund is not 1 .. order - refunded_before (nothing written to out). */
int refund_compute(const struct refund_input *in, struct refund_shares *out);

#endif
