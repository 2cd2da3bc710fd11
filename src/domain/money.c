/* money.c — the money rules (see money.h). */
#include "domain/money.h"

#include <assert.h>

int64_t money_mul_div_round(int64_t a, int64_t b, int64_t c) {
  assert(a >= 0 && b >= 0 && c > 0);
  __int128 num = (__int128)a * b;
  __int128 q = (num * 2 + c) / ((__int128)c * 2); /* half up */
  assert(q >= 0 && q <= INT64_MAX);
  return (int64_t)q;
}

int64_t money_bps(int64_t amount, int64_t bps) {
  assert(bps >= 0 && bps <= 10000);
  return money_mul_div_round(amount, bps, 10000);
}

static bool voucher_usable(const struct voucher_offer *v, int64_t order, int64_t now_ms) {
  return v->active && v->value > 0 && order >= v->min_spend &&
         (v->expires_at_ms == 0 || v->expires_at_ms > now_ms);
}

/* Is a better than b? Earlier expiry first (never-expiring last), then higher value. */
static bool voucher_better(const struct voucher_offer *a, const struct voucher_offer *b) {
  int64_t ea = a->expires_at_ms ? a->expires_at_ms : INT64_MAX;
  int64_t eb = b->expires_at_ms ? b->expires_at_ms : INT64_MAX;
  if (ea != eb) return ea < eb;
  return a->value > b->value;
}

static int64_t take(int64_t *need, int64_t available) {
  int64_t t = *need < available ? *need : available;
  if (t < 0) t = 0;
  *need -= t;
  return t;
}

void money_quote(int64_t order_amount, const struct wallet_balances *wallet,
                 const struct voucher_offer *vouchers, size_t voucher_count, int64_t now_ms,
                 struct quote *out) {
  assert(order_amount > 0 && order_amount <= MONEY_MAX_MINOR);
  assert(wallet->principal >= 0 && wallet->bonus >= 0 && wallet->silver >= 0);
  out->selected_voucher = -1;
  for (size_t i = 0; i < voucher_count; i++) {
    if (!voucher_usable(&vouchers[i], order_amount, now_ms)) continue;
    if (out->selected_voucher < 0 || voucher_better(&vouchers[i], &vouchers[out->selected_voucher])) {
      out->selected_voucher = (int)i;
    }
  }
  int64_t need = order_amount;
  struct deduction *d = &out->deduction;
  d->voucher = out->selected_voucher >= 0 ? take(&need, vouchers[out->selected_voucher].value) : 0;
  d->bonus = take(&need, wallet->bonus);
  d->principal = take(&need, wallet->principal);
  d->silver = take(&need, wallet->silver);
  d->external = need;
  out->payable = need;
  out->remaining = (struct wallet_balances){.principal = wallet->principal - d->principal,
                                            .bonus = wallet->bonus - d->bonus,
                                            .silver = wallet->silver - d->silver};
  assert(d->voucher + d->bonus + d->principal + d->silver + d->external == order_amount);
}

void money_clawback(int64_t order_amount, int64_t bonus_used, int64_t refund_amount,
                    int64_t wallet_refund, const struct wallet_balances *wallet,
                    struct clawback *out) {
  assert(order_amount > 0 && refund_amount > 0 && refund_amount <= order_amount);
  assert(bonus_used >= 0 && bonus_used <= order_amount);
  assert(wallet_refund >= 0 && wallet_refund <= refund_amount);
  out->bonus_consumed = money_mul_div_round(bonus_used, refund_amount, order_amount);
  out->reclaim = refund_amount < out->bonus_consumed ? refund_amount : out->bonus_consumed;
  out->from_bonus = out->reclaim < wallet->bonus ? out->reclaim : wallet->bonus;
  int64_t principal_now = wallet->principal + wallet_refund;
  int64_t shortfall = out->reclaim - out->from_bonus;
  out->from_principal = shortfall < principal_now ? shortfall : principal_now;
  out->unrecovered = shortfall - out->from_principal;
  out->after = *wallet;
  out->after.bonus -= out->from_bonus;
  out->after.principal = principal_now - out->from_principal;
  assert(out->after.bonus >= 0 && out->after.principal >= 0 && out->unrecovered >= 0);
  assert(out->from_bonus + out->from_principal + out->unrecovered == out->reclaim);
}
