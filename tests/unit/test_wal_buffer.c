/* test_wal_buffer.c — the buffering WAL VFS (store/wal_buffer.h): a writer opened with it
 * publishes only frames that are in the file (a plain reader sees each commit at once, and
 * never a torn one), a transaction that spills pages before its commit and one larger than the
 * buffer stay intact, and a writer killed mid-run leaves a database that passes
 * integrity_check and holds every commit it reported. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/db.h"
#include "store/db_impl.h"
#include "store/wal_buffer.h"

#define URL_LEN 512
#define ERR_LEN 512

static char g_dir[PATH_MAX];

static void url_of(const char *name, char *url, size_t len) {
  int n = snprintf(url, len, "sqlite:%s/%s.db", g_dir, name);
  assert_true(n > 0 && (size_t)n < len);
}

static db_conn *open_ok(const char *url, int flags) {
  char err[ERR_LEN];
  db_conn *c = db_open_flags(url, flags, err, sizeof err);
  if (c == NULL) fail_msg("db_open_flags(%s): %s", url, err);
  return c;
}

static void script_ok(db_conn *c, const char *sql) {
  int rc = db_exec_script(c, sql);
  if (rc != DB_OK) fail_msg("%s: rc %d: %s", sql, rc, db_errmsg(c));
}

static int64_t count_rows(db_conn *c) {
  static const db_sql q = {.name = "wb_count", .sql = "SELECT count(*) FROM t_wb"};
  int64_t n = -1;
  assert_int_equal(db_query_int(c, &q, NULL, 0, &n), DB_ROW);
  return n;
}

static void integrity_ok(db_conn *c) {
  static const db_sql q = {.name = "wb_integrity", .sql = "PRAGMA integrity_check"};
  db_cursor *cur = NULL;
  assert_int_equal(db_query(c, &q, NULL, 0, &cur), DB_OK);
  assert_int_equal(db_step(cur), DB_ROW);
  assert_string_equal(db_col_text(cur, 0), "ok");
  db_reset(cur);
}

/* rows k = first .. first + n - 1 with a text of len bytes, in one transaction */
static void insert_rows(db_conn *c, int64_t first, int n, int len) {
  static const db_sql ins = {.name = "wb_insert",
                             .sql = "INSERT INTO t_wb (k, v) VALUES ($1, printf('%.*c', $2, 'x'))"};
  assert_int_equal(db_begin_write(c), DB_OK);
  for (int i = 0; i < n; i++) {
    db_val v[] = {db_int(first + i), db_int(len)};
    assert_int_equal(db_run(c, &ins, v, 2, NULL), DB_OK);
  }
  assert_int_equal(db_commit(c), DB_OK);
}

static void commits_are_visible_at_once(void **state) {
  (void)state;
  char url[URL_LEN];
  url_of("visible", url, sizeof url);
  db_conn *w = open_ok(url, DB_OPEN_WAL_BUFFER);
  script_ok(w, "CREATE TABLE t_wb (k INTEGER PRIMARY KEY, v TEXT NOT NULL)");
  db_conn *r = open_ok(url, 0);
  int64_t rows = 0;
  unsigned long long asked0 = 0, written0 = 0, asked = 0, written = 0;
  wal_buffer_counts(&asked0, &written0);
  for (int t = 0; t < 200; t++) { /* many small commits: each one read back by the reader */
    insert_rows(w, rows, 50, 200);
    rows += 50;
    assert_int_equal(count_rows(r), rows);
  }
  wal_buffer_counts(&asked, &written);
  assert_true(asked - asked0 >= 200 * 6); /* two per frame, three frames or more per commit */
  assert_true((written - written0) * 3 < asked - asked0); /* gathered: a commit in one write */
  /* a tiny page cache spills pages to the WAL before the commit; 12 MB of rows also
   * overflows the 8 MB buffer: the reader sees nothing of it until the commit, then all */
  script_ok(w, "PRAGMA cache_size=50");
  assert_int_equal(db_begin_write(w), DB_OK);
  static const db_sql big = {.name = "wb_big",
                             .sql = "INSERT INTO t_wb (k, v) SELECT $1 + value, printf('%.*c', 300, 'y') "
                                    "FROM generate_series(0, 39999)"};
  db_val v[] = {db_int(rows)};
  int rc = db_run(w, &big, v, 1, NULL);
  if (rc != DB_OK) { /* generate_series is an extension in some builds: a recursive CTE then */
    static const db_sql cte = {.name = "wb_big_cte",
                               .sql = "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s "
                                      "WHERE i < 39999) INSERT INTO t_wb (k, v) "
                                      "SELECT $1 + i, printf('%.*c', 300, 'y') FROM s"};
    assert_int_equal(db_run(w, &cte, v, 1, NULL), DB_OK);
  }
  assert_int_equal(count_rows(r), rows);
  assert_int_equal(db_commit(w), DB_OK);
  rows += 40000;
  assert_int_equal(count_rows(r), rows);
  integrity_ok(r);
  db_close(w);
  integrity_ok(r);
  assert_int_equal(count_rows(r), rows);
  db_close(r);
}

/* A child writes commits and reports each on a pipe; it is killed mid-run. Every reported
 * commit is in the database afterwards, and the database is intact. */
static void killed_writer_loses_nothing_reported(void **state) {
  (void)state;
  char url[URL_LEN];
  url_of("killed", url, sizeof url);
  db_conn *c = open_ok(url, 0);
  script_ok(c, "CREATE TABLE t_wb (k INTEGER PRIMARY KEY, v TEXT NOT NULL)");
  db_close(c);
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) { /* the child: no cmocka asserts, exit codes only */
    close(fds[0]);
    char err[ERR_LEN];
    db_conn *w = db_open_flags(url, DB_OPEN_WAL_BUFFER, err, sizeof err);
    if (w == NULL || db_exec_script(w, "PRAGMA synchronous=NORMAL") != DB_OK) _exit(2);
    static const db_sql ins = {.name = "wb_child_insert",
                               .sql = "INSERT INTO t_wb (k, v) VALUES ($1, printf('%.*c', 500, 'z'))"};
    for (int64_t k = 0; k < 100000000; k += 20) {
      if (db_begin_write(w) != DB_OK) _exit(3);
      for (int i = 0; i < 20; i++) {
        db_val v[] = {db_int(k + i)};
        if (db_run(w, &ins, v, 1, NULL) != DB_OK) _exit(4);
      }
      if (db_commit(w) != DB_OK) _exit(5);
      int64_t done = k + 20;
      if (write(fds[1], &done, sizeof done) != (ssize_t)sizeof done) _exit(6);
    }
    _exit(0);
  }
  close(fds[1]);
  int64_t reported = 0, got;
  while (reported < 20000 && read(fds[0], &got, sizeof got) == (ssize_t)sizeof got) reported = got;
  assert_int_equal(kill(pid, SIGKILL), 0);
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFSIGNALED(status));
  while (read(fds[0], &got, sizeof got) == (ssize_t)sizeof got) reported = got; /* sent before the kill */
  close(fds[0]);
  assert_true(reported >= 20000);
  c = open_ok(url, 0); /* recovers from the WAL the child left */
  integrity_ok(c);
  int64_t n = count_rows(c);
  assert_true(n >= reported);
  assert_int_equal(n % 20, 0); /* whole transactions only */
  db_close(c);
}

static int remove_tree(const char *dir) {
  char cmd[PATH_MAX + 16];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static int setup(void **state) {
  (void)state;
  const char *base = getenv("TMPDIR");
  snprintf(g_dir, sizeof g_dir, "%s/mps-wal-buffer-XXXXXX", base && base[0] ? base : "/tmp");
  return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  return remove_tree(g_dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(commits_are_visible_at_once),
      cmocka_unit_test(killed_writer_loses_nothing_reported),
  };
  return cmocka_run_group_tests_name("wal_buffer", tests, setup, teardown);
}
