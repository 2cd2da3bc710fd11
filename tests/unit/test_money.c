/* test_money.c — the money rules, table-driven: the issue's worked examples for the quote
 * and the clawback, rounding edges, and exhaustive invariants over a grid of inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "domain/money.h"

#define HOUR_MS 3600000LL
#define NOW 1800000000000LL

static void rounding(void **state) {
  (void)state;
  static const struct { int64_t a, b, c, want; } cases[] = {
      {3400, 2000, 5200, 1308}, /* 1307.69 */
      {1, 1, 2, 1},             /* 0.5 rounds up */
      {1, 1, 3, 0},             /* 0.33 */
      {2, 1, 3, 1},             /* 0.67 */
      {0, 5, 7, 0},
      {MONEY_MAX_MINOR, 10000, 10000, MONEY_MAX_MINOR}, /* no overflow in the product */
      {MONEY_MAX_MINOR, MONEY_MAX_MINOR, MONEY_MAX_MINOR, MONEY_MAX_MINOR},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    assert_int_equal(money_mul_div_round(cases[i].a, cases[i].b, cases[i].c), cases[i].want);
  }
  assert_int_equal(money_bps(10000, 250), 250);
  assert_int_equal(money_bps(199, 250), 5);  /* 4.975 */
  assert_int_equal(money_bps(180, 250), 5);  /* 4.5 up */
  assert_int_equal(money_bps(179, 250), 4);  /* 4.475 */
  assert_int_equal(money_bps(12345, 0), 0);
  assert_int_equal(money_bps(12345, 10000), 12345);
}

static const struct wallet_balances seed_wallet = {.principal = 12000, .bonus = 3600, .silver = 8800};
static const struct voucher_offer seed_vouchers[] = {
    {.value = 1800, .min_spend = 0, .expires_at_ms = NOW + HOUR_MS, .active = true},
    {.value = 3000, .min_spend = 2000, .expires_at_ms = NOW + 72 * HOUR_MS, .active = true},
};

static void quote_issue_examples(void **state) {
  (void)state;
  struct quote q;
  money_quote(5200, &seed_wallet, seed_vouchers, 2, NOW, &q);
  assert_int_equal(q.selected_voucher, 0);
  assert_int_equal(q.deduction.voucher, 1800);
  assert_int_equal(q.deduction.bonus, 3400);
  assert_int_equal(q.deduction.principal, 0);
  assert_int_equal(q.deduction.silver, 0);
  assert_int_equal(q.deduction.external, 0);
  assert_int_equal(q.payable, 0);
  assert_int_equal(q.remaining.bonus, 200);
  assert_int_equal(q.remaining.principal, 12000);
  money_quote(50000, &seed_wallet, seed_vouchers, 2, NOW, &q);
  assert_int_equal(q.deduction.voucher, 1800);
  assert_int_equal(q.deduction.bonus, 3600);
  assert_int_equal(q.deduction.principal, 12000);
  assert_int_equal(q.deduction.silver, 8800);
  assert_int_equal(q.deduction.external, 23800);
  assert_int_equal(q.remaining.principal + q.remaining.bonus + q.remaining.silver, 0);
}

static void voucher_selection(void **state) {
  (void)state;
  struct quote q;
  /* below min spend: the 3000 voucher is not usable, the 1800 one is */
  money_quote(1500, &seed_wallet, seed_vouchers, 2, NOW, &q);
  assert_int_equal(q.selected_voucher, 0);
  assert_int_equal(q.deduction.voucher, 1500); /* min(order, value) */
  assert_int_equal(q.deduction.bonus, 0);
  /* the early voucher expired: the later one is chosen when the order reaches its minimum */
  money_quote(5200, &seed_wallet, seed_vouchers, 2, NOW + 2 * HOUR_MS, &q);
  assert_int_equal(q.selected_voucher, 1);
  assert_int_equal(q.deduction.voucher, 3000);
  /* same expiry: the higher value wins; inactive ones never */
  struct voucher_offer same[] = {
      {.value = 500, .expires_at_ms = NOW + HOUR_MS, .active = true},
      {.value = 900, .expires_at_ms = NOW + HOUR_MS, .active = true},
      {.value = 5000, .expires_at_ms = NOW + 1, .active = false},
      {.value = 7000, .expires_at_ms = 0, .active = true}, /* never expires: last in line */
  };
  money_quote(5200, &seed_wallet, same, 4, NOW, &q);
  assert_int_equal(q.selected_voucher, 1);
  /* exactly at expiry it is expired */
  struct voucher_offer edge[] = {{.value = 100, .expires_at_ms = NOW, .active = true}};
  money_quote(5200, &seed_wallet, edge, 1, NOW, &q);
  assert_int_equal(q.selected_voucher, -1);
  assert_int_equal(q.deduction.voucher, 0);
}

static void quote_invariants_grid(void **state) {
  (void)state;
  static const int64_t amounts[] = {0, 1, 99, 100, 1799, 1800, 5200, 12000, 50000, 999999};
  for (size_t o = 1; o < 10; o++) {
    for (size_t p = 0; p < 10; p++) {
      for (size_t b = 0; b < 10; b += 3) {
        for (size_t s = 0; s < 10; s += 4) {
          struct wallet_balances w = {amounts[p], amounts[b], amounts[s]};
          struct quote q;
          money_quote(amounts[o], &w, seed_vouchers, 2, NOW, &q);
          const struct deduction *d = &q.deduction;
          assert_int_equal(d->voucher + d->bonus + d->principal + d->silver + d->external, amounts[o]);
          assert_true(d->bonus <= w.bonus && d->principal <= w.principal && d->silver <= w.silver);
          assert_true(q.remaining.bonus >= 0 && q.remaining.principal >= 0 && q.remaining.silver >= 0);
          /* order of use: principal only once bonus is exhausted, silver only after principal */
          if (d->principal > 0) assert_int_equal(d->bonus, w.bonus);
          if (d->silver > 0) assert_int_equal(d->principal, w.principal);
          if (d->external > 0) assert_int_equal(d->silver, w.silver);
        }
      }
    }
  }
}

static void clawback_issue_examples(void **state) {
  (void)state;
  struct clawback c;
  /* wallet {10000, 2000}, refund 3000 with bonusConsumed 1200 -> {13000, 800} */
  struct wallet_balances w1 = {.principal = 10000, .bonus = 2000};
  money_clawback(3000, 1200, 3000, 3000, &w1, &c); /* the whole 3000 order refunded */
  assert_int_equal(c.bonus_consumed, 1200);
  assert_int_equal(c.from_bonus, 1200);
  assert_int_equal(c.from_principal, 0);
  assert_int_equal(c.after.principal, 13000);
  assert_int_equal(c.after.bonus, 800);
  /* wallet {4000, 200}, refund 1000 with bonusConsumed 800 -> {4400, 0}, fromPrincipal 600 */
  struct wallet_balances w2 = {.principal = 4000, .bonus = 200};
  money_clawback(1000, 800, 1000, 1000, &w2, &c);
  assert_int_equal(c.reclaim, 800);
  assert_int_equal(c.from_bonus, 200);
  assert_int_equal(c.from_principal, 600);
  assert_int_equal(c.after.principal, 4400);
  assert_int_equal(c.after.bonus, 0);
  /* refund 2000 of the 5200 payment (bonus 3400) at {12000, 200, 8800} -> {12892, 0, 8800} */
  struct wallet_balances w3 = {.principal = 12000, .bonus = 200, .silver = 8800};
  money_clawback(5200, 3400, 2000, 2000, &w3, &c);
  assert_int_equal(c.bonus_consumed, 1308);
  assert_int_equal(c.from_bonus, 200);
  assert_int_equal(c.from_principal, 1108);
  assert_int_equal(c.after.principal, 12892);
  assert_int_equal(c.after.bonus, 0);
  assert_int_equal(c.after.silver, 8800);
}

static void clawback_edges(void **state) {
  (void)state;
  struct clawback c;
  /* reclaim never exceeds the refund */
  struct wallet_balances w = {.principal = 0, .bonus = 10000};
  money_clawback(1000, 1000, 10, 10, &w, &c);
  assert_int_equal(c.bonus_consumed, 10);
  assert_int_equal(c.reclaim, 10);
  /* a refund that goes back to the gateway cannot take more than the wallet holds */
  struct wallet_balances poor = {.principal = 100, .bonus = 0};
  money_clawback(10000, 5000, 10000, 0, &poor, &c);
  assert_int_equal(c.reclaim, 5000);
  assert_int_equal(c.from_principal, 100);
  assert_int_equal(c.unrecovered, 4900);
  assert_int_equal(c.after.principal, 0);
  /* no bonus used: nothing reclaimed, refund credited in full */
  money_clawback(5000, 0, 2500, 2500, &poor, &c);
  assert_int_equal(c.reclaim, 0);
  assert_int_equal(c.after.principal, 2600);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(rounding),           cmocka_unit_test(quote_issue_examples),
      cmocka_unit_test(voucher_selection),  cmocka_unit_test(quote_invariants_grid),
      cmocka_unit_test(clawback_issue_examples), cmocka_unit_test(clawback_edges),
  };
  return cmocka_run_group_tests_name("money", tests, NULL, NULL);
}
