/* test_router.c — the path matcher: literals, {captures}, 404 vs 405 with Allow, bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "http/router.h"

static void h(struct http_req *req) { (void)req; }

static const struct route table[] = {
    {"GET", "/health", h, "a.c", 0, 0},
    {"GET", "/api/merchants/{id}", h, "b.c", 0, 0},
    {"PATCH", "/api/merchants/{id}", h, "b.c", 0, 0},
    {"GET", "/api/merchants/{id}/stores/{storeId}", h, "c.c", 0, 0},
    {"POST", "/api/merchants", h, "b.c", 0, 0},
};
#define N (sizeof table / sizeof table[0])

static void literal_match(void **state) {
  (void)state;
  const struct route *r;
  struct route_params p;
  char allow[64];
  assert_int_equal(router_match(table, N, "GET", "/health", &r, &p, allow, sizeof allow), ROUTE_FOUND);
  assert_ptr_equal(r, &table[0]);
  assert_int_equal(p.count, 0);
  assert_int_equal(router_index(table, r), 0);
}

static void captures(void **state) {
  (void)state;
  const struct route *r;
  struct route_params p;
  char allow[64];
  assert_int_equal(router_match(table, N, "GET", "/api/merchants/m_1/stores/s_2", &r, &p, allow,
                                sizeof allow), ROUTE_FOUND);
  assert_ptr_equal(r, &table[3]);
  assert_int_equal(p.count, 2);
  assert_string_equal(p.values[0], "m_1");
  assert_string_equal(p.values[1], "s_2");
  assert_int_equal(p.name_lens[1], strlen("storeId"));
  assert_memory_equal(p.names[1], "storeId", 7);
}

static void method_not_allowed_lists_allow(void **state) {
  (void)state;
  const struct route *r;
  struct route_params p;
  char allow[64];
  assert_int_equal(router_match(table, N, "DELETE", "/api/merchants/m_1", &r, &p, allow,
                                sizeof allow), ROUTE_NO_METHOD);
  assert_null(r);
  assert_string_equal(allow, "GET, PATCH");
}

/* fuzz_router found it: with allow_len 0 the router ran strlen over the caller's buffer
 * (read past it, or through NULL) */
static void method_not_allowed_without_allow_buffer(void **state) {
  (void)state;
  const struct route *r;
  struct route_params p;
  assert_int_equal(router_match(table, N, "DELETE", "/api/merchants/m_1", &r, &p, NULL, 0), ROUTE_NO_METHOD);
  assert_null(r);
  char one = 'x'; /* not terminated: must not be read */
  assert_int_equal(router_match(table, N, "DELETE", "/api/merchants/m_1", &r, &p, &one, 0), ROUTE_NO_METHOD);
  assert_int_equal(one, 'x');
  char small[8];
  assert_int_equal(router_match(table, N, "DELETE", "/api/merchants/m_1", &r, &p, small, sizeof small), ROUTE_NO_METHOD);
  assert_string_equal(small, "GET"); /* whole entries only */
}

static void no_path(void **state) {
  (void)state;
  const struct route *r;
  struct route_params p;
  char allow[64];
  const char *misses[] = {"/", "", "/healthz", "/health/", "/api/merchants/", "/api/merchants//stores/x",
                          "health", "/api/merchants/m/stores/s/extra", "//health"};
  for (size_t i = 0; i < sizeof misses / sizeof misses[0]; i++) {
    assert_int_equal(router_match(table, N, "GET", misses[i], &r, &p, allow, sizeof allow),
                     ROUTE_NO_PATH);
  }
}

static void long_segment_refused(void **state) {
  (void)state;
  char path[400] = "/api/merchants/";
  memset(path + strlen(path), 'x', ROUTE_PARAM_MAX); /* one byte too many for a capture */
  const struct route *r;
  struct route_params p;
  char allow[64];
  assert_int_equal(router_match(table, N, "GET", path, &r, &p, allow, sizeof allow), ROUTE_NO_PATH);
  path[strlen("/api/merchants/") + ROUTE_PARAM_MAX - 1] = '\0';
  assert_int_equal(router_match(table, N, "GET", path, &r, &p, allow, sizeof allow), ROUTE_FOUND);
}

static void deep_path_bounded(void **state) {
  (void)state;
  char path[1024] = "";
  for (int i = 0; i < 100; i++) strcat(path, "/a");
  const struct route *r;
  struct route_params p;
  char allow[64];
  assert_int_equal(router_match(table, N, "GET", path, &r, &p, allow, sizeof allow), ROUTE_NO_PATH);
}

static void real_table_is_sane(void **state) {
  (void)state;
  size_t n = 0;
  const struct route *t = routes_table(&n);
  assert_true(n > 0);
  for (size_t i = 0; i < n; i++) {
    assert_true(t[i].pattern[0] == '/');
    assert_non_null(t[i].handler);
    assert_non_null(strstr(t[i].file, "src/api/"));
    assert_true(t[i].access != 0); /* every route states who may call it */
    /* no two routes answer the same method + path */
    for (size_t j = i + 1; j < n; j++) {
      assert_false(strcmp(t[i].method, t[j].method) == 0 && strcmp(t[i].pattern, t[j].pattern) == 0);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(literal_match),         cmocka_unit_test(captures),
      cmocka_unit_test(method_not_allowed_lists_allow), cmocka_unit_test(method_not_allowed_without_allow_buffer),
      cmocka_unit_test(no_path),
      cmocka_unit_test(long_segment_refused),  cmocka_unit_test(deep_path_bounded),
      cmocka_unit_test(real_table_is_sane),
  };
  return cmocka_run_group_tests_name("router", tests, NULL, NULL);
}
