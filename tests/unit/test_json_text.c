/* test_json_text.c — the JSON text writer prints exactly what jansson's compact dump prints
 * (random strings, every control character, UTF-8, integer limits, nesting), refuses what
 * jansson refuses, and the payment's text members equal payment_json's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "api/api.h"
#include "common/json_text.h"
#include "service/payments.h"

static char *jansson_text(json_t *o) {
  char *s = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  assert_non_null(s);
  return s;
}

static void same_as_jansson_for_every_byte(void **state) {
  (void)state;
  /* every byte 1..127 on its own, as key and as value */
  for (int b = 1; b < 128; b++) {
    char s[2] = {(char)b, 0};
    struct json_text t;
    json_text_init(&t);
    json_text_open(&t, NULL);
    json_text_str(&t, s, s);
    json_text_close(&t);
    char *mine = json_text_finish(&t, NULL);
    assert_non_null(mine);
    char *theirs = jansson_text(json_pack("{s:s}", s, s));
    assert_string_equal(mine, theirs);
    free(mine);
    free(theirs);
  }
}

static void same_as_jansson_random(void **state) {
  (void)state;
  static const char *const utf8[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x92\xb0", "Rp", "\"", "\\", "\x1f", "/"};
  srand(20261201);
  for (int round = 0; round < 2000; round++) {
    struct json_text t;
    json_text_init(&t);
    json_t *ref = json_object();
    json_t *inner = json_object();
    json_text_open(&t, NULL);
    int members = rand() % 6;
    for (int m = 0; m < members; m++) {
      char key[8], val[64] = "";
      snprintf(key, sizeof key, "k%d", m);
      int parts = rand() % 8;
      for (int p = 0; p < parts; p++) {
        if (rand() % 2) {
          strcat(val, utf8[rand() % 8]);
        } else {
          char ch[2] = {(char)(1 + rand() % 127), 0};
          strcat(val, ch);
        }
      }
      switch (rand() % 3) {
        case 0:
          json_text_str(&t, key, val);
          json_object_set_new(ref, key, json_string(val));
          break;
        case 1: {
          int64_t v = (int64_t)(((uint64_t)rand() << 40) ^ ((uint64_t)rand() << 20) ^ (uint64_t)rand());
          if (rand() % 2) v = -v;
          json_text_int(&t, key, v);
          json_object_set_new(ref, key, json_integer(v));
          break;
        }
        default:
          json_text_str(&t, key, NULL);
          json_object_set_new(ref, key, json_null());
      }
    }
    json_text_open(&t, "in");
    json_text_int(&t, "min", INT64_MIN);
    json_text_int(&t, "max", INT64_MAX);
    json_text_int(&t, "zero", 0);
    json_text_close(&t);
    json_object_set_new(inner, "min", json_integer(INT64_MIN));
    json_object_set_new(inner, "max", json_integer(INT64_MAX));
    json_object_set_new(inner, "zero", json_integer(0));
    json_object_set_new(ref, "in", inner);
    json_text_close(&t);
    size_t len = 0;
    char *mine = json_text_finish(&t, &len);
    assert_non_null(mine);
    assert_int_equal(len, strlen(mine));
    char *theirs = jansson_text(ref);
    assert_string_equal(mine, theirs);
    free(mine);
    free(theirs);
  }
}

static void refuses_what_jansson_refuses(void **state) {
  (void)state;
  static const char *const bad[] = {"\xc3", "\xff", "a\x80", "\xed\xa0\x80" /* a surrogate */, "\xc0\xaf"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_null(json_string(bad[i])); /* the reference refuses it */
    struct json_text t;
    json_text_init(&t);
    json_text_open(&t, NULL);
    json_text_str(&t, "v", bad[i]);
    json_text_close(&t);
    assert_null(json_text_finish(&t, NULL));
  }
  struct json_text t; /* an object left open is no text */
  json_text_init(&t);
  json_text_open(&t, NULL);
  json_text_int(&t, "a", 1);
  assert_null(json_text_finish(&t, NULL));
  json_text_init(&t); /* too deep */
  json_text_open(&t, NULL);
  for (int d = 0; d < JSON_TEXT_MAX_DEPTH; d++) json_text_open(&t, "x");
  assert_null(json_text_finish(&t, NULL));
}

static struct payment sample_payment(bool voucher, bool external) {
  struct payment p;
  memset(&p, 0, sizeof p);
  snprintf(p.id, sizeof p.id, "pay_01JDXQ0000000000000000000");
  snprintf(p.merchant_id, sizeof p.merchant_id, "m_shop");
  snprintf(p.member_id, sizeof p.member_id, "u_\"quoted\"");
  snprintf(p.currency, sizeof p.currency, "IDR");
  snprintf(p.status, sizeof p.status, external ? "PENDING_EXTERNAL" : "PAID");
  if (voucher) snprintf(p.voucher_id, sizeof p.voucher_id, "vch_1");
  if (external) snprintf(p.external_txn_id, sizeof p.external_txn_id, "gw-\xc3\xa9\n1");
  p.order_amount = 5000000000LL;
  p.d = (struct deduction){voucher ? 1000 : 0, 20, 4999998980LL, 0, external ? 7 : 0};
  p.fee_amount = 12;
  p.refunded_amount = 3;
  p.expires_at_ms = external ? 1764633600000LL : 0;
  p.created_at_ms = 1764633000000LL;
  return p;
}

static void payment_text_equals_payment_json(void **state) {
  (void)state;
  for (int v = 0; v < 2; v++) {
    for (int e = 0; e < 2; e++) {
      struct payment p = sample_payment(v, e);
      struct json_text t;
      json_text_init(&t);
      json_text_open(&t, NULL);
      payment_json_members(&t, &p);
      json_text_close(&t);
      char *mine = json_text_finish(&t, NULL);
      assert_non_null(mine);
      char *theirs = jansson_text(payment_json(&p));
      assert_string_equal(mine, theirs);
      free(mine);
      free(theirs);
    }
  }
}

static void verify_reply_has_quote_and_intent(void **state) {
  (void)state;
  for (int e = 0; e < 2; e++) {
    struct payment p = sample_payment(false, e);
    size_t len = 0;
    char *text = api_payment_verify_reply(&p, &len);
    assert_non_null(text);
    json_error_t jerr;
    json_t *o = json_loadb(text, len, 0, &jerr);
    assert_non_null(o);
    json_t *ref = payment_json(&p);
    json_object_set_new(ref, "quote", json_pack("{s:I, s:I}", "orderAmount", (json_int_t)p.order_amount,
                                                "payable", (json_int_t)p.d.external));
    if (e) {
      json_object_set_new(ref, "paymentIntent",
                          json_pack("{s:s, s:I, s:s, s:I, s:s}", "paymentTxnId", p.id, "amount",
                                    (json_int_t)p.d.external, "currency", p.currency, "expiresAtMs",
                                    (json_int_t)p.expires_at_ms, "callback", "POST /api/payment/callback"));
    }
    assert_true(json_equal(o, ref));
    char *theirs = jansson_text(ref);
    assert_string_equal(text, theirs); /* the same bytes, in the same order */
    json_decref(o);
    free(theirs);
    free(text);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(same_as_jansson_for_every_byte),
      cmocka_unit_test(same_as_jansson_random),
      cmocka_unit_test(refuses_what_jansson_refuses),
      cmocka_unit_test(payment_text_equals_payment_json),
      cmocka_unit_test(verify_reply_has_quote_and_intent),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
