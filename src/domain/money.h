/* money.h — the money rules as pure functions on int64 minor units: the smart-deduction
 * quote, refund clawback, proportional shares and fees. No I/O, no floating point; every
 * rounding is explicit (half away from zero on non-negative values = half up) and computed
 * in 128 bits so no product overflows. Tested table-driven in tests/unit/test_money.c. */
#ifndef MPS_DOMAIN_MONEY_H
#define MPS_DOMAIN_MONEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest amount mps accepts anywhere: 10^15 minor units (10 trillion in a 2-decimal
 * currency) keeps every sum of a few amounts far from INT64_MAX. */
#define MONEY_MAX_MINOR 1000000000000000LL

/* round(a * b / c) half up, for a, b >= 0 and c > 0. */
int64_t money_mul_div_round(int64_t a, int64_t b, int64_t c);
/* round(amount * bps / 10000): fees and discounts in basis points (0..10000). */
int64_t money_bps(int64_t amount, int64_t bps);

struct wallet_balances {
  int64_t principal; /* refundable stored value */
  int64_t bonus;     /* gifted, not withdrawable */
  int64_t silver;    /* soft currency, spent 1:1 */
};

struct voucher_offer {
  int64_t value;
  int64_t min_spend;
  int64_t expires_at_ms; /* 0 = never */
  bool active;
};

struct deduction {
  int64_t voucher, bonus, principal, silver, external;
};

struct quote {
  int selected_voucher; /* index into the offers, or -1 */
  struct deduction deduction;
  int64_t payable; /* what the member still pays outside the wallet (= deduction.external) */
  struct wallet_balances remaining;
};

/* The smart deduction of the MealQuest seed: at most one voucher (active, unexpired at
 * now_ms, order >= min_spend; the earliest expiry first, then the higher value; it covers
 * min(order, value)), then bonus, then principal, then silver; the rest is external.
 * Invariant: voucher + bonus + principal + silver + external == order. */
void money_quote(int64_t order_amount, const struct wallet_balances *wallet,
                 const struct voucher_offer *vouchers, size_t voucher_count, int64_t now_ms,
                 struct quote *out);

struct clawback {
  int64_t bonus_consumed; /* round(bonus used * refund / order) */
  int64_t reclaim;        /* min(refund, bonus_consumed) */
  int64_t from_bonus;     /* taken back from the bonus balance first */
  int64_t from_principal; /* the shortfall, from principal (after the refund is credited) */
  int64_t unrecovered;    /* what the wallet could not give back (stays the merchant's
                             marketing cost; only when most of the refund went external) */
  struct wallet_balances after;
};

/* A refund of `wallet_refund` credited to principal, less the clawback of the bonus that
 * the refunded share had consumed (seed rule). bonus_used and order_amount are those of the
 * original payment; refund_amount is the refunded part of the order. */
void money_clawback(int64_t order_amount, int64_t bonus_used, int64_t refund_amount,
                    int64_t wallet_refund, const struct wallet_balances *wallet,
                    struct clawback *out);

#endif
