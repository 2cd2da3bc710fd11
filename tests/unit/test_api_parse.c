/* test_api_parse.c — the query-parameter parsers of api/util.h that turn client text into
 * numbers: limit (api_parse_limit) and times (api_parse_time: epoch milliseconds or RFC 3339
 * UTC). Regression tests for what tests/fuzz/fuzz_amount.c found. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "api/util.h"

static int64_t parse_time(const char *s) {
  int64_t ms = -7;
  if (api_parse_time(s, &ms) != 0) {
    assert_int_equal(ms, -7); /* a refusal leaves the output alone */
    return -1;
  }
  return ms;
}

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

static void time_forms(void **state) {
  (void)state;
  assert_int_equal(parse_time("0"), 0);
  assert_int_equal(parse_time("1764000000000"), 1764000000000LL);
  assert_int_equal(parse_time("2026-01-02T03:04:05Z"), 1767323045000LL);
  assert_int_equal(parse_time("2026-01-02T03:04:05.123456Z"), 1767323045123LL);
  assert_int_equal(parse_time("2026-01-02T03:04:05+00:00"), 1767323045000LL);
  assert_int_equal(parse_time("2024-02-29T12:00:00Z"), 1709208000000LL);
  assert_int_equal(parse_time("9999-12-31T23:59:59.999Z"), API_TIME_MAX_MS);
  assert_int_equal(parse_time("253402300799999"), API_TIME_MAX_MS);
  assert_int_equal(parse_time("2026-01-02T03:04:05+07:00"), -1);
  assert_int_equal(parse_time("yesterday"), -1);
  assert_int_equal(parse_time(""), -1);
}

/* fuzz_amount found "99999999999999999999" read as INT64_MAX (strtoll saturates) */
static void epoch_out_of_range_is_refused(void **state) {
  (void)state;
  assert_int_equal(parse_time("99999999999999999999"), -1);
  assert_int_equal(parse_time("9223372036854775807"), -1);
  assert_int_equal(parse_time("9223372036854775808"), -1);
  assert_int_equal(parse_time("253402300800000"), -1);
  assert_int_equal(parse_time("-1"), -1);
  assert_int_equal(parse_time("-0"), -1);
  assert_int_equal(parse_time("+5"), -1);
  assert_int_equal(parse_time(" 5"), -1);
}

/* fuzz_amount found "2026-02-30T00:00:00Z" read as March 2 (timegm normalises) */
static void impossible_calendar_times_are_refused(void **state) {
  (void)state;
  assert_int_equal(parse_time("2026-02-30T00:00:00Z"), -1);
  assert_int_equal(parse_time("2026-02-29T00:00:00Z"), -1); /* not a leap year */
  assert_int_equal(parse_time("2026-04-31T00:00:00Z"), -1);
  assert_int_equal(parse_time("2026-01-01T24:00:00Z"), -1);
  assert_int_equal(parse_time("2026-12-31T23:59:60Z"), -1);
  assert_int_equal(parse_time("1969-12-31T23:59:59Z"), -1); /* before the epoch */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(limit_accepts_1_to_100),
      cmocka_unit_test(limit_refuses_blanks_and_signs),
      cmocka_unit_test(time_forms),
      cmocka_unit_test(epoch_out_of_range_is_refused),
      cmocka_unit_test(impossible_calendar_times_are_refused),
  };
  return cmocka_run_group_tests_name("api_parse", tests, NULL, NULL);
}
