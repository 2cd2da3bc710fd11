/* test_refund_math.c — one refund's shares (domain/refund.c), table-driven: the issue's three
 * clawback cases, the external share owed to the gateway, the fee reversal, refusals, and the
 * cumulative rule — partial refunds that add up to the order give exactly what one full
 * refund gives, in every share, over a grid of payments and splits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "domain/refund.h"

static struct refund_shares run(int64_t order, struct deduction d, int64_t fee, int64_t before, int64_t refund,
                                struct wallet_balances w) {
  struct refund_input in = {.order_amount = order, .d = d, .fee_amount = fee, .refunded_before = before,
                            .refund_amount = refund, .wallet = w};
  struct refund_shares s;
  assert_int_equal(refund_compute(&in, &s), 0);
  assert_int_equal(s.wallet_share + s.external_share, refund);
  const struct clawback *c = &s.clawback;
  assert_int_equal(c->from_bonus + c->from_principal + c->unrecovered, c->reclaim);
  assert_true(c->reclaim <= refund && c->reclaim <= c->bonus_consumed);
  assert_true(c->after.principal >= 0 && c->after.bonus >= 0);
  assert_int_equal(c->after.principal, w.principal + s.wallet_share - c->from_principal);
  assert_int_equal(c->after.bonus, w.bonus - c->from_bonus);
  assert_int_equal(c->after.silver, w.silver);
  return s;
}

static void issue_cases(void **state) {
  (void)state;
  /* wallet {10000, 2000}, refund 3000 with bonusConsumed 1200 -> {13000, 800}: a 3000 order
   * paid with 1200 bonus and 1800 principal, refunded in full */
  struct refund_shares s = run(3000, (struct deduction){.bonus = 1200, .principal = 1800}, 0, 0, 3000,
                               (struct wallet_balances){10000, 2000, 0});
  assert_int_equal(s.clawback.bonus_consumed, 1200);
  assert_int_equal(s.clawback.reclaim, 1200);
  assert_int_equal(s.clawback.from_bonus, 1200);
  assert_int_equal(s.clawback.from_principal, 0);
  assert_int_equal(s.clawback.after.principal, 13000);
  assert_int_equal(s.clawback.after.bonus, 800);
  /* wallet {4000, 200}, refund 1000 with bonusConsumed 800 -> {4400, 0}, fromPrincipal 600 */
  s = run(1000, (struct deduction){.bonus = 800, .principal = 200}, 0, 0, 1000, (struct wallet_balances){4000, 200, 0});
  assert_int_equal(s.clawback.bonus_consumed, 800);
  assert_int_equal(s.clawback.from_bonus, 200);
  assert_int_equal(s.clawback.from_principal, 600);
  assert_int_equal(s.clawback.unrecovered, 0);
  assert_int_equal(s.clawback.after.principal, 4400);
  assert_int_equal(s.clawback.after.bonus, 0);
  /* refund 2000 of the 5200 payment (voucher 1800 + bonus 3400) at {12000, 200, 8800}
   * -> {12892, 0, 8800}; with a 2.5 % fee (130) the reversal is round(130 × 2000 / 5200) = 50 */
  s = run(5200, (struct deduction){.voucher = 1800, .bonus = 3400}, 130, 0, 2000,
          (struct wallet_balances){12000, 200, 8800});
  assert_int_equal(s.external_share, 0);
  assert_int_equal(s.wallet_share, 2000);
  assert_int_equal(s.clawback.bonus_consumed, 1308);
  assert_int_equal(s.clawback.from_bonus, 200);
  assert_int_equal(s.clawback.from_principal, 1108);
  assert_int_equal(s.clawback.after.principal, 12892);
  assert_int_equal(s.clawback.after.bonus, 0);
  assert_int_equal(s.clawback.after.silver, 8800);
  assert_int_equal(s.fee_reversal, 50);
}

/* The first refund of a payment is exactly the seed's money_clawback. */
static void first_refund_is_the_seed_rule(void **state) {
  (void)state;
  static const int64_t refunds[] = {1, 7, 999, 2000, 2600, 5199, 5200};
  for (size_t i = 0; i < sizeof refunds / sizeof refunds[0]; i++) {
    struct wallet_balances w = {12000, 200, 8800};
    struct refund_shares s = run(5200, (struct deduction){.voucher = 1800, .bonus = 3400}, 130, 0, refunds[i], w);
    struct clawback c;
    money_clawback(5200, 3400, refunds[i], refunds[i], &w, &c);
    assert_int_equal(s.clawback.bonus_consumed, c.bonus_consumed);
    assert_int_equal(s.clawback.from_bonus, c.from_bonus);
    assert_int_equal(s.clawback.from_principal, c.from_principal);
    assert_int_equal(s.clawback.after.principal, c.after.principal);
    assert_int_equal(s.fee_reversal, money_mul_div_round(130, refunds[i], 5200));
  }
}

static void external_share_owed_to_gateway(void **state) {
  (void)state;
  /* 10000 paid as bonus 1000, principal 2000 and 7000 external: a refund of 5000 owes 3500
   * to the gateway and credits 1500 to principal; the consumed bonus is 500 */
  struct deduction d = {.bonus = 1000, .principal = 2000, .external = 7000};
  struct refund_shares s = run(10000, d, 250, 0, 5000, (struct wallet_balances){0, 0, 0});
  assert_int_equal(s.external_share, 3500);
  assert_int_equal(s.wallet_share, 1500);
  assert_int_equal(s.clawback.bonus_consumed, 500);
  assert_int_equal(s.clawback.from_bonus, 0);
  assert_int_equal(s.clawback.from_principal, 500);
  assert_int_equal(s.clawback.after.principal, 1000);
  assert_int_equal(s.fee_reversal, 125);
  /* the rest: the whole external part is owed in the end, never a unit more */
  s = run(10000, d, 250, 5000, 5000, (struct wallet_balances){1000, 0, 0});
  assert_int_equal(s.external_share, 3500);
  assert_int_equal(s.fee_reversal, 125);
  /* fully external payment: nothing reaches the wallet */
  s = run(4321, (struct deduction){.external = 4321}, 108, 0, 4321, (struct wallet_balances){5, 5, 5});
  assert_int_equal(s.external_share, 4321);
  assert_int_equal(s.wallet_share, 0);
  assert_int_equal(s.clawback.reclaim, 0);
  assert_int_equal(s.clawback.after.principal, 5);
  assert_int_equal(s.fee_reversal, 108);
}

static void half_unit_with_an_empty_wallet(void **state) {
  (void)state;
  /* order 2 = bonus 1 + external 1, refund 1: the half-unit rounds to the gateway, so this
   * part gives the wallet nothing back and consumes no bonus (it used to consume 1 and leave
   * it unrecovered from the empty wallet, and the second half then credited 1 principal) */
  struct refund_shares s = run(2, (struct deduction){.bonus = 1, .external = 1}, 0, 0, 1, (struct wallet_balances){0, 0, 0});
  assert_int_equal(s.external_share, 1);
  assert_int_equal(s.wallet_share, 0);
  assert_int_equal(s.clawback.bonus_consumed, 0);
  assert_int_equal(s.clawback.unrecovered, 0);
  /* the second half consumes the bonus and takes it back from what it credits: principal 0,
   * as after one full refund */
  s = run(2, (struct deduction){.bonus = 1, .external = 1}, 0, 1, 1, (struct wallet_balances){0, 0, 0});
  assert_int_equal(s.external_share, 0);
  assert_int_equal(s.wallet_share, 1);
  assert_int_equal(s.clawback.bonus_consumed, 1);
  assert_int_equal(s.clawback.from_principal, 1);
  assert_int_equal(s.clawback.after.principal, 0);
  s = run(2, (struct deduction){.bonus = 1, .external = 1}, 0, 0, 2, (struct wallet_balances){0, 0, 0});
  assert_int_equal(s.clawback.after.principal, 0);
}

static void refusals(void **state) {
  (void)state;
  struct refund_input in = {.order_amount = 5200, .d = {.voucher = 1800, .bonus = 3400}, .fee_amount = 130,
                            .refunded_before = 0, .refund_amount = 0, .wallet = {0, 0, 0}};
  struct refund_shares s;
  assert_int_equal(refund_compute(&in, &s), -1); /* nothing to refund */
  in.refund_amount = 5201;
  assert_int_equal(refund_compute(&in, &s), -1); /* more than paid */
  in.refunded_before = 5000;
  in.refund_amount = 201;
  assert_int_equal(refund_compute(&in, &s), -1); /* more than is left */
  in.refund_amount = 200;
  assert_int_equal(refund_compute(&in, &s), 0);
  in.refunded_before = 5200;
  in.refund_amount = 1;
  assert_int_equal(refund_compute(&in, &s), -1); /* refunded in full already */
}

/* A naive per-refund round() drifts: three refunds of 1 of an order of 3 with 1 of bonus would
 * each consume round(1/3) = 0. The cumulative rule consumes exactly 1 over the three. */
static void no_drift(void **state) {
  (void)state;
  struct deduction d = {.bonus = 1, .external = 1, .principal = 1};
  int64_t consumed = 0, external = 0, fee = 0;
  for (int64_t before = 0; before < 3; before++) {
    struct refund_shares s = run(3, d, 1, before, 1, (struct wallet_balances){100, 100, 0});
    consumed += s.clawback.bonus_consumed;
    external += s.external_share;
    fee += s.fee_reversal;
  }
  assert_int_equal(consumed, 1);
  assert_int_equal(external, 1);
  assert_int_equal(fee, 1);
}

/* Every split of an order into three partial refunds gives, summed, exactly the shares of one
 * full refund: external share, wallet share, consumed bonus, reclaim and fee reversal (with a
 * wallet rich enough that the clawback comes from bonus alone, the buckets match too). */
static void partials_add_up_to_one_full_refund(void **state) {
  (void)state;
  static const int64_t orders[] = {3, 7, 100, 1001, 5200, 99999};
  static const int64_t bps[] = {0, 1, 250, 3333, 10000};
  for (size_t o = 0; o < sizeof orders / sizeof orders[0]; o++) {
    int64_t order = orders[o];
    for (int mix = 0; mix < 6; mix++) {
      /* payment mixes: spread the order over the buckets in a few ways */
      int64_t v = mix == 1 ? order / 3 : 0, b = (mix == 0 || mix == 3) ? order / 2 : mix == 4 ? order - 1 : order / 7;
      int64_t e = mix == 2 ? order - b : mix == 3 ? order / 3 : mix == 5 ? order / 2 + 1 : 0;
      if (v + b + e > order) e = order - v - b;
      int64_t s_ = mix == 5 ? (order - v - b - e) / 2 : 0;
      struct deduction d = {.voucher = v, .bonus = b, .external = e, .silver = s_, .principal = order - v - b - e - s_};
      for (size_t f = 0; f < sizeof bps / sizeof bps[0]; f++) {
        int64_t fee = money_bps(order, bps[f]);
        /* a wallet with bonus to give back, and an empty one (the refund's own wallet share
         * is then all the clawback can take from) */
        for (int empty = 0; empty < 2; empty++) {
        struct wallet_balances rich = empty ? (struct wallet_balances){0, 0, 0} : (struct wallet_balances){0, order, 0};
        struct refund_shares full = run(order, d, fee, 0, order, rich);
        assert_int_equal(full.external_share, e);
        assert_int_equal(full.fee_reversal, fee);
        assert_int_equal(full.clawback.bonus_consumed, b);
        for (int64_t a = 1; a < order && a < 40; a += 3) {
          for (int64_t c = 1; a + c < order && c < 40; c += 5) {
            int64_t parts[3] = {a, c, order - a - c};
            int64_t before = 0, ext = 0, wal = 0, cons = 0, rec = 0, fr = 0, fb = 0;
            struct wallet_balances w = rich;
            for (int i = 0; i < 3; i++) {
              struct refund_shares p = run(order, d, fee, before, parts[i], w);
              ext += p.external_share;
              wal += p.wallet_share;
              cons += p.clawback.bonus_consumed;
              rec += p.clawback.reclaim;
              fr += p.fee_reversal;
              fb += p.clawback.from_bonus;
              w = p.clawback.after;
              before += parts[i];
            }
            assert_int_equal(ext, full.external_share);
            assert_int_equal(wal, full.wallet_share);
            assert_int_equal(cons, full.clawback.bonus_consumed);
            assert_int_equal(rec, full.clawback.reclaim);
            assert_int_equal(fr, full.fee_reversal);
            assert_int_equal(fb, full.clawback.from_bonus);
            assert_int_equal(w.principal, full.clawback.after.principal);
            assert_int_equal(w.bonus, full.clawback.after.bonus);
          }
        }
        }
      }
    }
  }
}

/* The issue's 5200 payment refunded as 2000 + 2000 + 1200 against the seed wallet equals one
 * refund of 5200 from the same wallet. */
static void seed_payment_in_three_parts(void **state) {
  (void)state;
  struct deduction d = {.voucher = 1800, .bonus = 3400};
  struct wallet_balances w = {12000, 200, 8800};
  struct refund_shares full = run(5200, d, 130, 0, 5200, w);
  assert_int_equal(full.clawback.bonus_consumed, 3400);
  assert_int_equal(full.fee_reversal, 130);
  assert_int_equal(full.clawback.after.principal, 12000 + 5200 - 3200);
  assert_int_equal(full.clawback.after.bonus, 0);
  static const int64_t parts[] = {2000, 2000, 1200};
  int64_t before = 0, cons = 0, fr = 0;
  for (size_t i = 0; i < 3; i++) {
    struct refund_shares p = run(5200, d, 130, before, parts[i], w);
    if (i == 0) assert_int_equal(p.clawback.after.principal, 12892);
    cons += p.clawback.bonus_consumed;
    fr += p.fee_reversal;
    w = p.clawback.after;
    before += parts[i];
  }
  assert_int_equal(cons, 3400);
  assert_int_equal(fr, 130);
  assert_int_equal(w.principal, full.clawback.after.principal);
  assert_int_equal(w.bonus, 0);
  assert_int_equal(w.silver, 8800);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(issue_cases),
      cmocka_unit_test(first_refund_is_the_seed_rule),
      cmocka_unit_test(external_share_owed_to_gateway),
      cmocka_unit_test(half_unit_with_an_empty_wallet),
      cmocka_unit_test(refusals),
      cmocka_unit_test(no_drift),
      cmocka_unit_test(partials_add_up_to_one_full_refund),
      cmocka_unit_test(seed_payment_in_three_parts),
  };
  return cmocka_run_group_tests_name("refund_math", tests, NULL, NULL);
}
