/* test_json_decode.c — the declarative body decoder: types, bounds, required, unknown
 * fields, fractional amounts refused, presence flags. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "http/json_decode.h"

struct body {
  char name[16];
  int64_t amount;
  bool live;
  bool has_live;
  json_t *meta;
};

static const struct json_field spec[] = {
    {.name = "name", .type = JF_STRING, .required = true, .offset = offsetof(struct body, name),
     .size = sizeof(((struct body *)0)->name), .min = 1},
    {.name = "amount", .type = JF_INT, .required = true, .offset = offsetof(struct body, amount),
     .min = 1, .max = 1000000},
    {.name = "live", .type = JF_BOOL, .offset = offsetof(struct body, live),
     .present = JF_PRESENT(struct body, has_live)},
    {.name = "meta", .type = JF_OBJECT, .offset = offsetof(struct body, meta)},
};
#define N (sizeof spec / sizeof spec[0])

static int decode(const char *text, struct body *b, struct json_decode_error *err) {
  json_error_t jerr;
  json_t *j = json_loads(text, 0, &jerr);
  assert_non_null(j);
  memset(b, 0, sizeof *b);
  memset(err, 0, sizeof *err);
  int rc = json_decode(j, spec, N, b, err);
  json_decref(j);
  return rc;
}

static void good_body(void **state) {
  (void)state;
  struct body b;
  struct json_decode_error e;
  assert_int_equal(decode("{\"name\":\"shop\",\"amount\":5200,\"live\":true}", &b, &e), 0);
  assert_string_equal(b.name, "shop");
  assert_int_equal(b.amount, 5200);
  assert_true(b.live);
  assert_true(b.has_live);
  assert_int_equal(decode("{\"name\":\"shop\",\"amount\":1}", &b, &e), 0);
  assert_false(b.has_live);
}

struct bad_case {
  const char *json, *field, *reason_part;
};

static void bad_bodies_name_the_field(void **state) {
  (void)state;
  static const struct bad_case cases[] = {
      {"{\"amount\":5}", "name", "required"},
      {"{\"name\":\"x\"}", "amount", "required"},
      {"{\"name\":\"x\",\"amount\":52.5}", "amount", "not a fraction"},
      {"{\"name\":\"x\",\"amount\":\"5200\"}", "amount", "integer"},
      {"{\"name\":\"x\",\"amount\":0}", "amount", "from 1 to 1000000"},
      {"{\"name\":\"x\",\"amount\":1000001}", "amount", "from 1"},
      {"{\"name\":7,\"amount\":1}", "name", "string"},
      {"{\"name\":\"\",\"amount\":1}", "name", "bytes long"},
      {"{\"name\":\"0123456789abcdef\",\"amount\":1}", "name", "bytes long"},
      {"{\"name\":\"x\",\"amount\":1,\"live\":1}", "live", "true or false"},
      {"{\"name\":\"x\",\"amount\":1,\"meta\":[]}", "meta", "object"},
      {"{\"name\":\"x\",\"amount\":1,\"amuont\":1}", "amuont", "not a known field"},
      {"[1,2]", "", "JSON object"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct body b;
    struct json_decode_error e;
    assert_int_equal(decode(cases[i].json, &b, &e), -1);
    assert_string_equal(e.field, cases[i].field);
    assert_non_null(strstr(e.reason, cases[i].reason_part));
  }
}

static void null_counts_as_absent(void **state) {
  (void)state;
  struct body b;
  struct json_decode_error e;
  assert_int_equal(decode("{\"name\":\"x\",\"amount\":1,\"live\":null}", &b, &e), 0);
  assert_false(b.has_live);
  assert_int_equal(decode("{\"name\":null,\"amount\":1}", &b, &e), -1);
  assert_string_equal(e.field, "name");
}

/* fuzz_json_decode: an unknown field name longer than the error's field buffer was cut in
 * the middle of a UTF-8 character; the 400 reply could not be encoded and became a 500 */
static void long_unknown_field_is_cut_at_a_character(void **state) {
  (void)state;
  struct body b;
  struct json_decode_error e;
  for (size_t ascii = 55; ascii < 66; ascii++) { /* the cut falls before, inside, after é / € / 😀 */
    static const char *const chars[] = {"\\u00e9", "\\u20ac", "\\ud83d\\ude00"};
    for (size_t c = 0; c < 3; c++) {
      char text[256];
      int n = snprintf(text, sizeof text, "{\"name\":\"x\",\"amount\":1,\"%.*s%s%s\":1}", (int)ascii,
                       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", chars[c], chars[c]);
      assert_true(n > 0 && (size_t)n < sizeof text);
      assert_int_equal(decode(text, &b, &e), -1);
      assert_string_equal(e.reason, "is not a known field");
      assert_true(strlen(e.field) >= (ascii < sizeof e.field - 1 ? ascii : sizeof e.field - 1));
      json_t *reply = json_string(e.field); /* NULL when not valid UTF-8 */
      assert_non_null(reply);
      json_decref(reply);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(good_body),
      cmocka_unit_test(bad_bodies_name_the_field),
      cmocka_unit_test(null_counts_as_absent),
      cmocka_unit_test(long_unknown_field_is_cut_at_a_character),
  };
  return cmocka_run_group_tests_name("json_decode", tests, NULL, NULL);
}
