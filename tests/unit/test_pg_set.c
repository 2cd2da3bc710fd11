/* test_pg_set.c — the set forms of statements (D63, db_pg_set.c): the texts made from mps's own
 * statement shapes, the shapes refused, and the array literals. test_store runs them on
 * PostgreSQL (pg_exec_write_group_merge). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "store/db_pg_set.h"

static const char *const TEXT3[] = {"text", "int8", "text"};

static void check_form(const char *sql, int n, const char *const *types, const char *want) {
  char *got = pg_set_form(sql, n, types);
  if (want == NULL) {
    if (got != NULL) fail_msg("expected no set form for %s, got %s", sql, got);
    return;
  }
  if (got == NULL) fail_msg("no set form for %s", sql);
  assert_string_equal(got, want);
  free(got);
}

static void insert_one_row(void **state) {
  (void)state;
  check_form("INSERT INTO t (a, b, c) VALUES ($1, $2, $3)", 3, TEXT3,
             "INSERT INTO t (a, b, c) SELECT mps_u.mps_1, mps_u.mps_2, mps_u.mps_3 "
             "FROM unnest($1::text[], $2::int8[], $3::text[]) AS mps_u(mps_1, mps_2, mps_3)");
  /* a parameter twice, a literal with a $ and a quote inside, blanks and a ; at the end */
  check_form("  INSERT INTO t (a, b, c, d) VALUES ($1, 'x''$2', $2, $2);\n", 2, TEXT3,
             "INSERT INTO t (a, b, c, d) SELECT mps_u.mps_1, 'x''$2', mps_u.mps_2, mps_u.mps_2 "
             "FROM unnest($1::text[], $2::int8[]) AS mps_u(mps_1, mps_2)");
}

static void insert_rows(void **state) {
  (void)state;
  check_form("INSERT INTO e (p, s, k) VALUES ($1, 1, 'created'), ($1, 2, $2)", 2, TEXT3,
             "INSERT INTO e (p, s, k) SELECT mps_v.* FROM unnest($1::text[], $2::int8[]) AS mps_u(mps_1, mps_2) "
             "CROSS JOIN LATERAL (VALUES (mps_u.mps_1, 1, 'created'), (mps_u.mps_1, 2, mps_u.mps_2)) AS mps_v");
}

static void update(void **state) {
  (void)state;
  check_form("UPDATE a SET balance = balance + normal * $2 WHERE id = $1 AND currency = $3 "
             "AND abs(balance + normal * $2) < 4000000000000000000",
             3, TEXT3,
             "UPDATE a SET balance = balance + normal * mps_u.mps_2  FROM unnest($1::text[], $2::int8[], "
             "$3::text[]) AS mps_u(mps_1, mps_2, mps_3) WHERE id = mps_u.mps_1 AND currency = mps_u.mps_3 "
             "AND abs(balance + normal * mps_u.mps_2) < 4000000000000000000");
}

static void query(void **state) {
  (void)state;
  check_form("SELECT a, b FROM t WHERE k = $1 AND s IN ('x', 'y') ORDER BY a LIMIT 5", 1, TEXT3,
             "SELECT mps_u.mps_i, mps_q.* FROM unnest($1::text[]) WITH ORDINALITY AS mps_u(mps_1, mps_i) "
             "CROSS JOIN LATERAL (SELECT a, b FROM t WHERE k = mps_u.mps_1 AND s IN ('x', 'y') ORDER BY a LIMIT 5) AS mps_q");
  /* a WITH of queries, rows locked (FOR UPDATE, FOR NO KEY UPDATE) */
  check_form("WITH m AS (SELECT id FROM a WHERE o = $1 AND n = $2 FOR UPDATE) SELECT id FROM m UNION ALL "
             "SELECT id FROM a WHERE o = $1 FOR NO KEY UPDATE",
             2, TEXT3,
             "SELECT mps_u.mps_i, mps_q.* FROM unnest($1::text[], $2::int8[]) WITH ORDINALITY AS mps_u(mps_1, mps_2, mps_i) "
             "CROSS JOIN LATERAL (WITH m AS (SELECT id FROM a WHERE o = mps_u.mps_1 AND n = mps_u.mps_2 FOR UPDATE) "
             "SELECT id FROM m UNION ALL SELECT id FROM a WHERE o = mps_u.mps_1 FOR NO KEY UPDATE) AS mps_q");
}

static void refused(void **state) {
  (void)state;
  const char *const shapes[] = {
      "INSERT INTO t (a) VALUES ($1) ON CONFLICT (a) DO NOTHING",
      "INSERT INTO t (a) VALUES ($1) RETURNING a",
      "INSERT INTO t (a) SELECT $1",
      "INSERT INTO t (a) VALUES (DEFAULT), ($1)",
      "INSERT INTO t (a) VALUES ($1) junk",
      "INSERT INTO t (a) VALUES",
      "INSERT INTO t (a) VALUES ($1); DELETE FROM t",
      "INSERT INTO t (a) VALUES ('unclosed, $1)",
      "UPDATE t SET a = $1 FROM u WHERE t.id = u.id",
      "UPDATE t SET a = $1 WHERE id = $1 RETURNING a",
      "UPDATE t SET a = $1",
      "UPDATE t SET a = (SELECT max(b) FROM u) WHERE id = $1",
      "WITH x AS (SELECT 1) UPDATE t SET a = $1 WHERE id = $1",
      "DELETE FROM t WHERE id = $1",
      "UPDATE t SET a = $2 WHERE id = $1", /* $2 past n = 1 */
      "WITH x AS (UPDATE t SET a = 1 WHERE id = $1 RETURNING a) SELECT a FROM x",
      "WITH x AS (INSERT INTO t (a) VALUES ($1) RETURNING a) SELECT a FROM x",
      "WITH x AS (DELETE FROM t WHERE id = $1 RETURNING a) SELECT a FROM x",
      "SELECT nextval('s'), $1",
      "SELECT a FROM t WHERE b = $1 UNION SELECT 1; SELECT 2",
  };
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) check_form(shapes[i], 1, TEXT3, NULL);
  const char *const unknown[] = {"text", NULL};
  check_form("INSERT INTO t (a, b) VALUES ($1, $2)", 2, unknown, NULL); /* a type it does not carry */
  check_form("INSERT INTO t (a) VALUES (1)", 0, NULL, NULL);            /* nothing to pair up */
  assert_string_equal(pg_set_type_name(20), "int8");
  assert_string_equal(pg_set_type_name(25), "text");
  assert_null(pg_set_type_name(17)); /* bytea */
  assert_null(pg_set_type_name(0));
}

static void arrays(void **state) {
  (void)state;
  char buf[64];
  size_t used = 0;
  const char *const v[] = {"a", "b\"c", NULL, "d\\e", ""};
  assert_true(pg_set_array(buf, &used, sizeof buf, v, 5));
  assert_string_equal(buf, "{\"a\",\"b\\\"c\",NULL,\"d\\\\e\",\"\"}");
  assert_int_equal(used, strlen(buf) + 1);
  size_t at = used; /* a second array after the first */
  assert_true(pg_set_array(buf, &used, sizeof buf, v, 1));
  assert_string_equal(buf + at, "{\"a\"}");
  assert_true(pg_set_array(buf, &used, sizeof buf, v, 0));
  assert_string_equal(buf + at + 6, "{}");
  /* every size too small fails and leaves used as it was */
  const size_t need = strlen("{\"a\",\"b\\\"c\",NULL,\"d\\\\e\",\"\"}") + 1;
  for (size_t cap = 0; cap <= need; cap++) {
    size_t u = 0;
    bool ok = pg_set_array(buf, &u, cap, v, 5);
    assert_int_equal(ok, cap == need);
    assert_int_equal(u, ok ? need : 0);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(insert_one_row), cmocka_unit_test(insert_rows), cmocka_unit_test(update), cmocka_unit_test(query),
      cmocka_unit_test(refused), cmocka_unit_test(arrays),
  };
  return cmocka_run_group_tests_name("pg_set", tests, NULL, NULL);
}
