/* test_api_parse.c — the query-parameter parsers of api/util.h that turn client text into
 * numbers: limit (api_parse_limit) and times (api_parse_time: epoch milliseconds or RFC 3339
 * UTC). Regression tests for what tests/fuzz/fuzz_amount.c found. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "api/util.h"

static void limit_accepts_1_to_100(void **state) {
  (void)state;
  int limit = 0;
  assert_int_equal(api_parse_limit("1", &limit), 0);
  assert_int_equal(limit, 1);
  assert_int_equal(api_parse_limit("100", &limit), 0);
  assert_int_equal(limit, 100);
  assert_int_equal(api_parse_limit("007", &limit), 0);
  assert_int_equal(limit, 7);
  limit = 20;
  assert_int_equal(api_parse_limit("0", &limit), -1);
  assert_int_equal(api_parse_limit("101", &limit), -1);
  assert_int_equal(api_parse_limit("", &limit), -1);
  assert_int_equal(api_parse_limit("99999999999999999999", &limit), -1);
  assert_int_equal(limit, 20);
}

/* fuzz_amount found " 5" (strtol skips blanks): limit is digits only */
static void limit_refuses_blanks_and_signs(void **state) {
  (void)state;
  int limit = 20;
  static const char *const bad[] = {" 5", "\t5", "+5", "-5", "5 ", "5x", "0x10", "1e2", "00000000005"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(api_parse_limit(bad[i], &limit), -1);
    assert_int_equal(limit, 20);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(limit_accepts_1_to_100),
      cmocka_unit_test(limit_refuses_blanks_and_signs),
  };
  return cmocka_run_group_tests_name("api_parse", tests, NULL, NULL);
}
