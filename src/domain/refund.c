/* refund.c — one refund's shares (see refund.h). */
#include "domain/refund.h"

#include <assert.h>

int64_t refund_cumulative_share(int64_t total, int64_t order, int64_t before, int64_t amount) {
  assert(order > 0 && total >= 0 && total <= order);
  assert(before >= 0 && amount >= 0 && before + amount <= order);
  /* round() is monotone, so the difference is >= 0; it is <= ceil(total × amount / order)
   * <= amount because total <= order */
  return money_mul_div_round(total, before + amount, order) - money_mul_div_round(total, before, order);
}

/* The bonus consumed by the first x refunded units: its share round(bonus × x / order), but
 * never more than what those units gave back to the wallet (x − their external share). With
 * an external part the half-units round into both, and the first part of a refund could
 * consume a bonus unit it credited nothing for: from an empty wallet that unit went
 * unrecovered, and the next part credited it as principal with nothing consumed (two halves
 * of 2 = 1 bonus + 1 external left principal 1; one full refund leaves 0). Both terms never
 * decrease in x (the external share grows by 0 or 1 per unit, external <= order), so neither
 * does the minimum, and at x = order it is the whole bonus (bonus <= order − external): the
 * parts still add up to the full bonus. Without an external part it is the plain share. */
static int64_t bonus_consumed_upto(const struct deduction *d, int64_t order, int64_t x) {
  int64_t share = money_mul_div_round(d->bonus, x, order);
  int64_t wallet = x - money_mul_div_round(d->external, x, order);
  assert(wallet >= 0);
  return share < wallet ? share : wallet;
}

int refund_compute(const struct refund_input *in, struct refund_shares *out) {
  int64_t order = in->order_amount;
  assert(order > 0 && order <= MONEY_MAX_MINOR);
  assert(in->refunded_before >= 0 && in->refunded_before <= order);
  assert(in->fee_amount >= 0 && in->fee_amount <= order);
  const struct deduction *d = &in->d;
  assert(d->voucher >= 0 && d->bonus >= 0 && d->principal >= 0 && d->silver >= 0 && d->external >= 0);
  assert(d->voucher + d->bonus + d->principal + d->silver + d->external == order);
  if (in->refund_amount < 1 || in->refund_amount > order - in->refunded_before) return -1;
  int64_t before = in->refunded_before, refund = in->refund_amount;

  out->external_share = refund_cumulative_share(d->external, order, before, refund);
  out->wallet_share = refund - out->external_share;
  out->fee_reversal = refund_cumulative_share(in->fee_amount, order, before, refund);

  /* The seed's clawback with this refund's cumulative share of the bonus used: money_clawback
   * computes bonus_consumed = round(bonus_used × refund / order), which with
   * order = refund and bonus_used = consumed (<= refund) is consumed exactly; the reclaim
   * rule (min(refund, consumed), bonus first, the shortfall from principal after the wallet
   * share is credited, unrecovered when the wallet cannot give it back) stays in one place. */
  int64_t consumed = bonus_consumed_upto(d, order, before + refund) - bonus_consumed_upto(d, order, before);
  assert(consumed >= 0 && consumed <= refund);
  money_clawback(refund, consumed, refund, out->wallet_share, &in->wallet, &out->clawback);
  assert(out->clawback.bonus_consumed == consumed);
  assert(out->wallet_share >= 0 && out->external_share >= 0 && out->fee_reversal >= 0);
  return 0;
}
