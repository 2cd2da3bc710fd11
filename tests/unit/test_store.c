/* test_store.c — the store layer (src/store): db_open URL handling and errors, parameters
 * of every type, $N ordering, constraint mapping, transactions and savepoints, the
 * executor (group commit, per-job rollback, failed COMMIT, busy retries, queue bounds,
 * draining stop, read-only readers) and migrations (apply, re-apply, status, unknown
 * versions, edited migrations).
 *
 * Every case runs on SQLite (a fresh file per case in a temporary directory) and again on
 * PostgreSQL when MPS_TEST_PG_URL=postgres://... is set (skipped otherwise); PostgreSQL
 * cases work in their own schema mps_unit_store_<pid>, created at start and dropped at
 * the end, so reruns and concurrent runs pass. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/db.h"
#include "store/db_impl.h" /* db_in_transaction, db_begin_read */
#include "store/exec.h"
#include "store/migrate.h"
#include "service/transactions.h"

#define URL_LEN 2048
#define ERR_LEN 512

struct backend {
  enum db_kind kind;
};
static struct backend B_SQLITE = {DB_SQLITE};
static struct backend B_PG = {DB_POSTGRES};

static char g_tmpdir[PATH_MAX]; /* SQLite files live here */
static char g_pg_url[URL_LEN];  /* "" when MPS_TEST_PG_URL is unset */
static char g_pg_base[URL_LEN]; /* MPS_TEST_PG_URL itself */
static char g_pg_schema[64];    /* mps_unit_store_<pid>: concurrent runs do not collide */
static int g_url_seq;           /* fresh SQLite file per call */

/* ---- helpers ------------------------------------------------------------------------ */

/* A URL for this case's backend: a fresh SQLite file, or the PostgreSQL test schema. */
static const char *case_url(void **state, char *buf, size_t len) {
  const struct backend *b = *state;
  if (b->kind == DB_POSTGRES) {
    if (g_pg_url[0] == '\0') skip();
    snprintf(buf, len, "%s", g_pg_url);
    return buf;
  }
  int n = snprintf(buf, len, "sqlite:%s/case%03d.db", g_tmpdir, ++g_url_seq);
  assert_true(n > 0 && (size_t)n < len);
  return buf;
}

static db_conn *open_ok(const char *url) {
  char err[ERR_LEN];
  db_conn *c = db_open(url, err, sizeof err);
  if (c == NULL) fail_msg("db_open(%s): %s", url, err);
  return c;
}

static void script_ok(db_conn *c, const char *sql) {
  int rc = db_exec_script(c, sql);
  if (rc != DB_OK) fail_msg("%s: rc %d: %s", sql, rc, db_errmsg(c));
}

static int64_t query_int_ok(db_conn *c, const db_sql *q, const db_val *args, int nargs) {
  int64_t v = -1;
  int rc = db_query_int(c, q, args, nargs, &v);
  if (rc != DB_ROW) fail_msg("%s: rc %d: %s", q->name, rc, db_errmsg(c));
  return v;
}

static db_exec *exec_ok(const char *url, int readers, int batch_max, int queue_max) {
  struct db_exec_config cfg = {.url = url, .readers = readers, .pool_size = readers + 1,
                               .batch_max = batch_max, .queue_max = queue_max};
  char err[ERR_LEN];
  db_exec *ex = db_exec_start(&cfg, err, sizeof err);
  if (ex == NULL) fail_msg("db_exec_start: %s", err);
  return ex;
}

static void sleep_ms(int ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* A gate a job can wait at, so tests can line jobs up behind it. */
struct gate {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool entered;
  bool open;
};

static void gate_init(struct gate *g) {
  pthread_mutex_init(&g->mu, NULL);
  pthread_cond_init(&g->cv, NULL);
  g->entered = false;
  g->open = false;
}

static void gate_destroy(struct gate *g) {
  pthread_cond_destroy(&g->cv);
  pthread_mutex_destroy(&g->mu);
}

static void gate_pass(struct gate *g) { /* called by the job */
  pthread_mutex_lock(&g->mu);
  g->entered = true;
  pthread_cond_broadcast(&g->cv);
  while (!g->open) pthread_cond_wait(&g->cv, &g->mu);
  pthread_mutex_unlock(&g->mu);
}

static void gate_wait_entered(struct gate *g) {
  pthread_mutex_lock(&g->mu);
  while (!g->entered) pthread_cond_wait(&g->cv, &g->mu);
  pthread_mutex_unlock(&g->mu);
}

static void gate_open(struct gate *g) {
  pthread_mutex_lock(&g->mu);
  g->open = true;
  pthread_cond_broadcast(&g->cv);
  pthread_mutex_unlock(&g->mu);
}

static int gate_job(db_conn *c, void *arg) {
  (void)c;
  gate_pass(arg);
  return DB_JOB_COMMIT;
}

/* ---- db_open ------------------------------------------------------------------------ */

static void open_errors(void **state) {
  (void)state;
  char err[ERR_LEN];
  assert_null(db_open("mysql://localhost/x", err, sizeof err));
  assert_non_null(strstr(err, "unsupported database URL scheme \"mysql\""));
  assert_null(db_open("", err, sizeof err));
  assert_non_null(strstr(err, "empty"));
  assert_null(db_open("sqlite:", err, sizeof err));
  assert_non_null(strstr(err, "names no file"));

  /* A path below a regular file cannot be created, not even by root. */
  char path[PATH_MAX + 64];
  snprintf(path, sizeof path, "%s/plainfile", g_tmpdir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fclose(f);
  char url[PATH_MAX + 128];
  snprintf(url, sizeof url, "sqlite:%s/plainfile/x.db", g_tmpdir);
  assert_null(db_open(url, err, sizeof err));
  assert_non_null(strstr(err, "x.db"));
  assert_non_null(strstr(err, "Not a directory"));
  snprintf(url, sizeof url, "%s/no/such/dir/x.db", g_tmpdir);
  assert_null(db_open(url, err, sizeof err));
  assert_true(strlen(err) > 0);

  /* Nothing listens on port 1. */
  err[0] = '\0';
  assert_null(db_open("postgres://127.0.0.1:1/x?connect_timeout=2", err, sizeof err));
  assert_non_null(strstr(err, "cannot connect to postgresql"));
}

static void open_forms(void **state) {
  (void)state;
  char url[PATH_MAX + 64];
  snprintf(url, sizeof url, "%s/plain.db", g_tmpdir); /* a plain path */
  db_conn *c = open_ok(url);
  struct stat sb;
  assert_int_equal(stat(url, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600); /* owner only */
  assert_int_equal(db_conn_kind(c), DB_SQLITE);
  assert_int_equal(db_ping(c), DB_OK);
  assert_non_null(strstr(db_server_version(c), "sqlite 3."));
  db_close(c);
  snprintf(url, sizeof url, "sqlite://%s/plain.db", g_tmpdir); /* sqlite:///abs */
  c = open_ok(url);
  static const db_sql q = {.name = "journal", .sql = "PRAGMA journal_mode"};
  db_cursor *cur = NULL;
  assert_int_equal(db_query(c, &q, NULL, 0, &cur), DB_OK);
  assert_int_equal(db_step(cur), DB_ROW);
  assert_string_equal(db_col_text(cur, 0), "wal");
  db_reset(cur);
  static const db_sql sync = {.name = "sync", .sql = "PRAGMA synchronous"};
  assert_int_equal(query_int_ok(c, &sync, NULL, 0), 2); /* FULL */
  static const db_sql fk = {.name = "fk", .sql = "PRAGMA foreign_keys"};
  assert_int_equal(query_int_ok(c, &fk, NULL, 0), 1);
  db_close(c);
}

/* ---- statements --------------------------------------------------------------------- */

static const db_sql Q_P_INS = {
    .name = "p_ins", .sql = "INSERT INTO t_params (id, i, s, n) VALUES ($1, $2, $3, $4)"};
static const db_sql Q_P_SEL = {.name = "p_sel",
                               .sql = "SELECT id, i, s, n FROM t_params WHERE id = $1"};

static void check_param_row(db_conn *c, int64_t id, int64_t i, const char *s) {
  db_cursor *cur = NULL;
  db_val key = db_int(id);
  assert_int_equal(db_query(c, &Q_P_SEL, &key, 1, &cur), DB_OK);
  assert_int_equal(db_step(cur), DB_ROW);
  assert_int_equal(db_col_int(cur, 0), id);
  assert_int_equal(db_col_int(cur, 1), i);
  assert_string_equal(db_col_text(cur, 2), s);
  assert_false(db_col_null(cur, 2));
  assert_true(db_col_null(cur, 3));
  assert_int_equal(db_col_int(cur, 3), 0);
  assert_string_equal(db_col_text(cur, 3), "");
  assert_int_equal(db_step(cur), DB_DONE);
  assert_int_equal(db_step(cur), DB_DONE); /* stays done */
  db_reset(cur);
  db_reset(cur); /* always safe */
}

static void params_every_type(void **state) {
  char url[URL_LEN];
  db_conn *c = open_ok(case_url(state, url, sizeof url));
  script_ok(c, "DROP TABLE IF EXISTS t_params;"
               "CREATE TABLE t_params (id BIGINT PRIMARY KEY, i BIGINT, s TEXT, n TEXT)");
  const char *odd = "it's \"quoted\" $1 ?; -- not a comment\n\xc3\xa9\xe2\x82\xac";
  struct {
    int64_t id, i;
    const char *s;
  } rows[] = {{1, 0, ""}, {2, INT64_MAX, "max"}, {3, INT64_MIN, "min"}, {4, -42, odd}};
  for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
    db_val args[4] = {db_int(rows[k].id), db_int(rows[k].i), db_text(rows[k].s), db_null()};
    int64_t changes = -1;
    assert_int_equal(db_run(c, &Q_P_INS, args, 4, &changes), DB_OK);
    assert_int_equal(changes, 1);
  }
  db_val nul[4] = {db_int(5), db_null(), db_text(NULL), db_null()}; /* db_text(NULL) = NULL */
  assert_int_equal(db_run(c, &Q_P_INS, nul, 4, NULL), DB_OK);
  for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++)
    check_param_row(c, rows[k].id, rows[k].i, rows[k].s);
  db_cursor *cur = NULL;
  db_val five = db_int(5);
  assert_int_equal(db_query(c, &Q_P_SEL, &five, 1, &cur), DB_OK);
  assert_int_equal(db_step(cur), DB_ROW);
  assert_true(db_col_null(cur, 1) && db_col_null(cur, 2));
  db_reset(cur);
  /* No row: db_query_int says DB_DONE. */
  static const db_sql q_none = {.name = "none", .sql = "SELECT i FROM t_params WHERE id = $1"};
  db_val missing = db_int(999);
  int64_t v = 7;
  assert_int_equal(db_query_int(c, &q_none, &missing, 1, &v), DB_DONE);
  /* Wrong argument count is refused. */
  assert_int_equal(db_run(c, &Q_P_INS, NULL, 0, NULL), DB_ERR);
  assert_non_null(strstr(db_errmsg(c), "p_ins"));
  db_close(c);
}

/* $2 may come before $1 in the text; a parameter may repeat. */
static void params_out_of_order(void **state) {
  char url[URL_LEN];
  db_conn *c = open_ok(case_url(state, url, sizeof url));
  script_ok(c, "DROP TABLE IF EXISTS t_order;"
               "CREATE TABLE t_order (a BIGINT NOT NULL, b TEXT NOT NULL, c BIGINT NOT NULL)");
  static const db_sql ins = {.name = "order_ins",
                             .sql = "INSERT INTO t_order (b, c, a) VALUES ($2, $1, $1)"};
  db_val args[2] = {db_int(10), db_text("ten")};
  assert_int_equal(db_run(c, &ins, args, 2, NULL), DB_OK);
  static const db_sql sel = {
      .name = "order_sel", .sql = "SELECT a + c, b FROM t_order WHERE b = $2 AND a = $1"};
  db_cursor *cur = NULL;
  assert_int_equal(db_query(c, &sel, args, 2, &cur), DB_OK);
  assert_int_equal(db_step(cur), DB_ROW);
  assert_int_equal(db_col_int(cur, 0), 20);
  assert_string_equal(db_col_text(cur, 1), "ten");
  assert_int_equal(db_step(cur), DB_DONE);
  db_reset(cur);
  /* A gap in the numbering is refused on both engines. */
  static const db_sql gap = {.name = "gap", .sql = "SELECT a FROM t_order WHERE a = $2"};
  db_val two[2] = {db_int(1), db_int(10)};
  assert_true(db_query(c, &gap, two, 2, &cur) < 0);
  assert_null(cur);
  db_close(c);
}

/* An integer parameter next to an INTEGER column is still 64 bits: PostgreSQL infers
 * `normal * $2` as int4 unless the driver declares the type (an amount of 2^31 minor
 * units or more failed there: the ledger's balance update). */
static void params_int_beside_int4_column(void **state) {
  char url[URL_LEN];
  db_conn *c = open_ok(case_url(state, url, sizeof url));
  script_ok(c, "DROP TABLE IF EXISTS t_int4;"
               "CREATE TABLE t_int4 (id BIGINT PRIMARY KEY, normal INTEGER NOT NULL, "
               "balance BIGINT NOT NULL); INSERT INTO t_int4 VALUES (1, -1, 0)");
  static const db_sql upd = {.name = "int4_upd",
                             .sql = "UPDATE t_int4 SET balance = balance + normal * $2 WHERE id = $1"};
  db_val args[2] = {db_int(1), db_int(-5000000000)};
  int64_t changes = 0;
  assert_int_equal(db_run(c, &upd, args, 2, &changes), DB_OK);
  assert_int_equal(changes, 1);
  args[1] = db_int(INT64_MIN / 4);
  assert_int_equal(db_run(c, &upd, args, 2, &changes), DB_OK);
  static const db_sql sel = {.name = "int4_sel", .sql = "SELECT balance FROM t_int4 WHERE id = $1"};
  int64_t v = 0;
  assert_int_equal(db_query_int(c, &sel, args, 1, &v), DB_ROW);
  assert_true(v == 5000000000 - INT64_MIN / 4);
  db_close(c);
}

/* A descriptor whose address is reused with other text is re-prepared; a failed
 * re-prepare leaves the old statement usable. */
static void descriptor_reuse(void **state) {
  char url[URL_LEN];
  db_conn *c = open_ok(case_url(state, url, sizeof url));
  static const char one[] = "SELECT 1", two[] = "SELECT 2", bad[] = "SELEKT 3";
  db_sql q = {.name = "reuse", .sql = one};
  assert_int_equal(query_int_ok(c, &q, NULL, 0), 1);
  q.sql = two;
  assert_int_equal(query_int_ok(c, &q, NULL, 0), 2);
  q.sql = bad;
  int64_t v = 0;
  assert_int_equal(db_query_int(c, &q, NULL, 0, &v), DB_ERR);
  q.sql = two;
  assert_int_equal(query_int_ok(c, &q, NULL, 0), 2);
  db_sql pg = {.name = "variant", .sql = one, .sql_pg = two}; /* sql_pg wins on PostgreSQL */
  assert_int_equal(query_int_ok(c, &pg, NULL, 0), db_conn_kind(c) == DB_POSTGRES ? 2 : 1);
  db_close(c);
}

static void constraint_mapping(void **state) {
  char url[URL_LEN];
  db_conn *c = open_ok(case_url(state, url, sizeof url));
  script_ok(c, "DROP TABLE IF EXISTS t_cons;"
               "CREATE TABLE t_cons (id BIGINT PRIMARY KEY, v TEXT NOT NULL,"
               " k BIGINT CHECK (k >= 0))");
  static const db_sql ins = {.name = "cons_ins",
                             .sql = "INSERT INTO t_cons (id, v, k) VALUES ($1, $2, $3)"};
  db_val ok[3] = {db_int(1), db_text("x"), db_int(1)};
  assert_int_equal(db_run(c, &ins, ok, 3, NULL), DB_OK);
  assert_int_equal(db_run(c, &ins, ok, 3, NULL), DB_CONSTRAINT); /* unique */
  assert_true(strlen(db_errmsg(c)) > 0);
  db_val nul[3] = {db_int(2), db_null(), db_int(1)};
  assert_int_equal(db_run(c, &ins, nul, 3, NULL), DB_CONSTRAINT); /* not null */
  db_val neg[3] = {db_int(3), db_text("y"), db_int(-1)};
  assert_int_equal(db_run(c, &ins, neg, 3, NULL), DB_CONSTRAINT); /* check */
  static const db_sql bad = {.name = "bad_sql", .sql = "SELEKT nonsense"};
  assert_int_equal(db_run(c, &bad, NULL, 0, NULL), DB_ERR);
  assert_non_null(strstr(db_errmsg(c), "bad_sql"));
  assert_int_equal(db_exec_script(c, "THIS IS NOT SQL"), DB_ERR);
  /* The connection still works, and only row 1 exists. */
  static const db_sql cnt = {.name = "cons_cnt", .sql = "SELECT count(*) FROM t_cons"};
  assert_int_equal(query_int_ok(c, &cnt, NULL, 0), 1);
  db_close(c);
}

static const db_sql Q_SP_INS = {.name = "sp_ins", .sql = "INSERT INTO t_sp (v) VALUES ($1)"};
static const db_sql Q_SP_CNT = {.name = "sp_cnt", .sql = "SELECT count(*) FROM t_sp"};

static void transactions_and_savepoints(void **state) {
  char url[URL_LEN];
  db_conn *c = open_ok(case_url(state, url, sizeof url));
  script_ok(c, "DROP TABLE IF EXISTS t_sp; CREATE TABLE t_sp (v TEXT PRIMARY KEY)");
  db_val a = db_text("a"), b = db_text("b"), d = db_text("d");
  assert_int_equal(db_begin(c), DB_OK);
  assert_int_equal(db_run(c, &Q_SP_INS, &a, 1, NULL), DB_OK);
  assert_int_equal(db_rollback(c), DB_OK);
  assert_int_equal(query_int_ok(c, &Q_SP_CNT, NULL, 0), 0);
  assert_int_equal(db_rollback(c), DB_OK); /* no transaction: harmless */

  assert_int_equal(db_begin_write(c), DB_OK);
  assert_int_equal(db_run(c, &Q_SP_INS, &a, 1, NULL), DB_OK);
  assert_int_equal(db_savepoint(c), DB_OK);
  assert_int_equal(db_run(c, &Q_SP_INS, &b, 1, NULL), DB_OK);
  assert_int_equal(db_run(c, &Q_SP_INS, &b, 1, NULL), DB_CONSTRAINT);
  assert_int_equal(db_rollback_to(c), DB_OK); /* b undone, a kept */
  assert_int_equal(db_savepoint(c), DB_OK);
  assert_int_equal(db_run(c, &Q_SP_INS, &d, 1, NULL), DB_OK);
  assert_int_equal(db_release(c), DB_OK);
  assert_int_equal(db_commit(c), DB_OK);
  assert_int_equal(query_int_ok(c, &Q_SP_CNT, NULL, 0), 2);
  static const db_sql has_b = {.name = "sp_b", .sql = "SELECT count(*) FROM t_sp WHERE v = $1"};
  assert_int_equal(query_int_ok(c, &has_b, &b, 1), 0);
  assert_int_equal(db_ping(c), DB_OK);
  const char *want = db_conn_kind(c) == DB_SQLITE ? "sqlite 3." : "postgresql ";
  assert_non_null(strstr(db_server_version(c), want));
  db_close(c);
}

/* db_run_later: held-back writes (a PostgreSQL pipeline) are seen by the next query, keep
 * their order, fail where they must (a row count, a constraint, at COMMIT at the latest)
 * and vanish with a rollback; more than a pipeline holds, and a value too big to hold, work. */
static const db_sql Q_LT_INS = {.name = "lt_ins", .sql = "INSERT INTO t_lt (k, v) VALUES ($1, $2)"};
static const db_sql Q_LT_UPD = {.name = "lt_upd", .sql = "UPDATE t_lt SET v = v || $2 WHERE k = $1"};
static const db_sql Q_LT_CNT = {.name = "lt_cnt", .sql = "SELECT count(*) FROM t_lt"};
static const db_sql Q_LT_LEN = {.name = "lt_len", .sql = "SELECT length(v) FROM t_lt WHERE k = $1"};

static void run_later(void **state) {
  char url[URL_LEN];
  db_conn *c = open_ok(case_url(state, url, sizeof url));
  script_ok(c, "DROP TABLE IF EXISTS t_lt; CREATE TABLE t_lt (k BIGINT PRIMARY KEY, v TEXT NOT NULL)");
  /* 100 inserts (more than one pipeline holds) and updates in order, then a query sees them */
  assert_int_equal(db_begin_write(c), DB_OK);
  for (int k = 0; k < 100; k++) {
    db_val a[] = {db_int(k), db_text("x")};
    assert_int_equal(db_run_later(c, &Q_LT_INS, a, 2, 1), DB_OK);
    db_val u[] = {db_int(k), db_text("y")};
    assert_int_equal(db_run_later(c, &Q_LT_UPD, u, 2, 1), DB_OK);
  }
  assert_int_equal(query_int_ok(c, &Q_LT_CNT, NULL, 0), 100);
  db_val k7 = db_int(7);
  assert_int_equal(query_int_ok(c, &Q_LT_LEN, &k7, 1), 2); /* "xy": the update ran after */
  /* a value bigger than the pipeline's arena runs at once */
  size_t big_len = 70000;
  char *big = malloc(big_len + 1);
  assert_non_null(big);
  memset(big, 'b', big_len);
  big[big_len] = '\0';
  db_val bg[] = {db_int(1000), db_text(big)};
  assert_int_equal(db_run_later(c, &Q_LT_INS, bg, 2, 1), DB_OK);
  free(big);
  assert_int_equal(db_commit(c), DB_OK);
  assert_int_equal(query_int_ok(c, &Q_LT_CNT, NULL, 0), 101);

  /* held back, then rolled back: nothing */
  assert_int_equal(db_begin_write(c), DB_OK);
  db_val n1[] = {db_int(2000), db_text("n")};
  assert_int_equal(db_run_later(c, &Q_LT_INS, n1, 2, 1), DB_OK);
  assert_int_equal(db_rollback(c), DB_OK);
  assert_int_equal(query_int_ok(c, &Q_LT_CNT, NULL, 0), 101);

  /* a duplicate key fails by COMMIT at the latest; nothing of the transaction stays */
  assert_int_equal(db_begin_write(c), DB_OK);
  db_val n2[] = {db_int(3000), db_text("n")}, dup[] = {db_int(5), db_text("d")};
  assert_int_equal(db_run_later(c, &Q_LT_INS, n2, 2, 1), DB_OK);
  int rc = db_run_later(c, &Q_LT_INS, dup, 2, 1);
  if (rc == DB_OK) rc = db_commit(c);
  assert_int_equal(rc, DB_CONSTRAINT);
  (void)db_rollback(c);
  assert_int_equal(query_int_ok(c, &Q_LT_CNT, NULL, 0), 101);

  /* a row count other than expected is a failure (at the next query at the latest) */
  assert_int_equal(db_begin_write(c), DB_OK);
  db_val missing[] = {db_int(99999), db_text("z")};
  rc = db_run_later(c, &Q_LT_UPD, missing, 2, 1);
  if (rc == DB_OK) rc = db_query_int(c, &Q_LT_CNT, NULL, 0, &(int64_t){0});
  assert_int_equal(rc, DB_ERR);
  assert_non_null(strstr(db_errmsg(c), "not 1"));
  (void)db_rollback(c);
  db_val any[] = {db_int(99999), db_text("z")}; /* -1: any count */
  assert_int_equal(db_begin_write(c), DB_OK);
  assert_int_equal(db_run_later(c, &Q_LT_UPD, any, 2, -1), DB_OK);
  assert_int_equal(db_commit(c), DB_OK);

  /* ... also when COMMIT is next (on PostgreSQL it travels with the held-back writes): the
   * transaction is rolled back, nothing of it stays (D58) */
  db_val n3[] = {db_int(4000), db_text("n")};
  for (int taken = 0; taken < 2; taken++) {
    assert_int_equal(db_begin_write(c), DB_OK);
    assert_int_equal(db_run_later(c, &Q_LT_INS, n3, 2, 1), DB_OK);
    /* db_run_later_taken: that other count is DB_BUSY (a concurrent transaction took the row) */
    rc = taken ? db_run_later_taken(c, &Q_LT_UPD, missing, 2, 1) : db_run_later(c, &Q_LT_UPD, missing, 2, 1);
    if (rc == DB_OK) rc = db_commit(c);
    assert_int_equal(rc, taken ? DB_BUSY : DB_ERR);
    assert_non_null(strstr(db_errmsg(c), "changed 0 rows, not 1"));
    (void)db_rollback(c);
    assert_int_equal(query_int_ok(c, &Q_LT_CNT, NULL, 0), 101);
  }
  /* ... and the expected count passes */
  assert_int_equal(db_begin_write(c), DB_OK);
  db_val k9[] = {db_int(9), db_text("t")};
  assert_int_equal(db_run_later_taken(c, &Q_LT_UPD, k9, 2, 1), DB_OK);
  assert_int_equal(db_commit(c), DB_OK);
  db_val key9 = db_int(9);
  assert_int_equal(query_int_ok(c, &Q_LT_LEN, &key9, 1), 3); /* "xyt" */
  db_close(c);
}

/* db_round_trips: on PostgreSQL one for each pipeline or statement waited for (a held-back
 * BEGIN, held-back writes and a prefetch go with the next query; the prefetched answer costs
 * nothing more), two for a statement's first prepare; none ever on SQLite. The statements of
 * run_later above, on a connection of its own. */

static void round_trips(void **state) {
  char url[URL_LEN];
  db_conn *c = open_ok(case_url(state, url, sizeof url));
  bool pg = db_conn_kind(c) == DB_POSTGRES;
  script_ok(c, "DROP TABLE IF EXISTS t_lt; CREATE TABLE t_lt (k BIGINT PRIMARY KEY, v TEXT NOT NULL)");
  for (int pass = 0; pass < 2; pass++) { /* the first pass prepares the statements */
    uint64_t before = db_round_trips(c);
    assert_int_equal(db_begin_write(c), DB_OK);
    for (int k = 0; k < 3; k++) {
      db_val a[] = {db_int(pass * 10 + k), db_text("xy")};
      assert_int_equal(db_run_later(c, &Q_LT_INS, a, 2, 1), DB_OK);
    }
    db_val k1 = db_int(pass * 10 + 1);
    assert_int_equal(db_prefetch(c, &Q_LT_LEN, &k1, 1), DB_OK);
    assert_int_equal(query_int_ok(c, &Q_LT_CNT, NULL, 0), 3 * (pass + 1));
    assert_int_equal(query_int_ok(c, &Q_LT_LEN, &k1, 1), 2); /* the prefetched answer */
    assert_int_equal(db_commit(c), DB_OK);
    uint64_t used = db_round_trips(c) - before;
    if (!pg) assert_int_equal(used, 0);
    else if (pass == 0) assert_true(used > 2);
    else assert_int_equal(used, 2); /* BEGIN, the inserts, the prefetch and the count; COMMIT */
  }
  db_close(c);
}

static const db_sql Q_PF_GET = {.name = "pf_get", .sql = "SELECT v FROM t_pf WHERE k = $1"};
static const db_sql Q_PF_SUM = {.name = "pf_sum", .sql = "SELECT COALESCE(sum(k), 0) FROM t_pf WHERE k >= $1 AND v = $2"};
static const db_sql Q_PF_BAD = {.name = "pf_bad", .sql = "SELECT abs($1)"}; /* fails on INT64_MIN */
static const db_sql Q_PF_INS = {.name = "pf_ins", .sql = "INSERT INTO t_pf (k, v) VALUES ($1, $2)"};

static void prefetch(void **state) {
  char url[URL_LEN];
  db_conn *c = open_ok(case_url(state, url, sizeof url));
  script_ok(c, "DROP TABLE IF EXISTS t_pf; CREATE TABLE t_pf (k BIGINT PRIMARY KEY, v BIGINT NOT NULL)");
  assert_int_equal(db_begin(c), DB_OK);
  for (int k = 1; k <= 40; k++) {
    db_val a[] = {db_int(k), db_int(k * 10)};
    assert_int_equal(db_run_later(c, &Q_PF_INS, a, 2, 1), DB_OK);
  }
  assert_int_equal(db_commit(c), DB_OK);

  /* answers go to the query with equal arguments, in any order; more prefetches than the
   * store keeps simply run when asked */
  assert_int_equal(db_begin(c), DB_OK);
  for (int k = 1; k <= 40; k++) { /* more than PG_AHEAD_MAX (32) */
    db_val a[] = {db_int(k)};
    assert_int_equal(db_prefetch(c, &Q_PF_GET, a, 1), DB_OK);
  }
  db_val s1[] = {db_int(5), db_int(50)}, s2[] = {db_int(5), db_int(60)};
  assert_int_equal(db_prefetch(c, &Q_PF_SUM, s1, 2), DB_OK);
  assert_int_equal(db_prefetch(c, &Q_PF_SUM, s2, 2), DB_OK);
  assert_int_equal(query_int_ok(c, &Q_PF_SUM, s2, 2), 6);
  assert_int_equal(query_int_ok(c, &Q_PF_SUM, s1, 2), 5);
  for (int k = 40; k >= 1; k--) {
    db_val a[] = {db_int(k)};
    assert_int_equal(query_int_ok(c, &Q_PF_GET, a, 1), k * 10);
  }
  /* an argument that differs is another query: it runs, the prefetch is not used */
  db_val a3[] = {db_int(3)}, a4[] = {db_int(4)};
  assert_int_equal(db_prefetch(c, &Q_PF_GET, a3, 1), DB_OK);
  assert_int_equal(query_int_ok(c, &Q_PF_GET, a4, 1), 40);
  /* an answer no one asked for ends with its transaction */
  assert_int_equal(db_commit(c), DB_OK);
  assert_false(db_in_transaction(c));
  assert_int_equal(db_begin(c), DB_OK);
  db_val upd[] = {db_int(3), db_int(33)};
  static const db_sql q_upd = {.name = "pf_upd", .sql = "UPDATE t_pf SET v = $2 WHERE k = $1"};
  assert_int_equal(db_run_expect(c, &q_upd, upd, 2, 1), DB_OK);
  assert_int_equal(query_int_ok(c, &Q_PF_GET, a3, 1), 33);
  assert_int_equal(db_commit(c), DB_OK);

  /* a prefetch not sent yet when the savepoint is rolled back: the query still answers */
  assert_int_equal(db_begin(c), DB_OK);
  assert_int_equal(db_savepoint(c), DB_OK);
  assert_int_equal(db_prefetch(c, &Q_PF_GET, a4, 1), DB_OK);
  assert_int_equal(db_rollback_to(c), DB_OK);
  assert_int_equal(query_int_ok(c, &Q_PF_GET, a4, 1), 40);
  assert_int_equal(db_commit(c), DB_OK);

  /* a prefetched query that fails: reported by a later call; the transaction is lost */
  assert_int_equal(db_begin(c), DB_OK);
  db_val bad[] = {db_int(INT64_MIN)};
  int rc = db_prefetch(c, &Q_PF_BAD, bad, 1);
  int64_t v = 0;
  if (rc == DB_OK) rc = db_query_int(c, &Q_PF_BAD, bad, 1, &v);
  assert_true(rc < 0);
  assert_int_equal(db_rollback(c), DB_OK);
  assert_false(db_in_transaction(c));

  /* a transaction that never ran a statement: COMMIT and ROLLBACK both leave none open */
  assert_int_equal(db_begin(c), DB_OK);
  assert_true(db_in_transaction(c));
  assert_int_equal(db_commit(c), DB_OK);
  assert_false(db_in_transaction(c));
  assert_int_equal(db_begin_read(c), DB_OK);
  assert_int_equal(db_rollback(c), DB_OK);
  assert_false(db_in_transaction(c));
  assert_int_equal(query_int_ok(c, &Q_PF_GET, a4, 1), 40);
  db_close(c);
}

/* PostgreSQL: a prefetched write whose answer no one took refuses COMMIT (nothing stays) */
static void prefetch_unclaimed_write(void **state) {
  char url[URL_LEN];
  case_url(state, url, sizeof url);
  if (((struct backend *)*state)->kind != DB_POSTGRES) skip();
  db_conn *c = open_ok(url);
  script_ok(c, "DROP TABLE IF EXISTS t_pf; CREATE TABLE t_pf (k BIGINT PRIMARY KEY, v BIGINT NOT NULL)");
  assert_int_equal(db_begin(c), DB_OK);
  db_val w[] = {db_int(7), db_int(70)}, k8[] = {db_int(8)};
  assert_int_equal(db_prefetch(c, &Q_PF_INS, w, 2), DB_OK);
  int64_t v = 0;
  assert_int_equal(db_query_int(c, &Q_PF_GET, k8, 1, &v), DB_DONE); /* sends the prefetch */
  assert_int_equal(db_commit(c), DB_ERR);
  assert_non_null(strstr(db_errmsg(c), "never asked for"));
  assert_false(db_in_transaction(c));
  db_val k7[] = {db_int(7)};
  assert_int_equal(db_query_int(c, &Q_PF_GET, k7, 1, &v), DB_DONE);
  /* taken, it commits */
  assert_int_equal(db_begin(c), DB_OK);
  assert_int_equal(db_prefetch(c, &Q_PF_INS, w, 2), DB_OK);
  assert_int_equal(db_query_int(c, &Q_PF_GET, k8, 1, &v), DB_DONE);
  assert_int_equal(db_run_expect(c, &Q_PF_INS, w, 2, 1), DB_OK);
  assert_int_equal(db_commit(c), DB_OK);
  assert_int_equal(query_int_ok(c, &Q_PF_GET, k7, 1), 70);
  db_close(c);
}

/* db_run_later_race: a key another transaction took is DB_BUSY (at COMMIT at the latest) */
static void run_later_race(void **state) {
  char url[URL_LEN];
  db_conn *c = open_ok(case_url(state, url, sizeof url));
  script_ok(c, "DROP TABLE IF EXISTS t_pf; CREATE TABLE t_pf (k BIGINT PRIMARY KEY, v BIGINT NOT NULL CHECK (v >= 0))");
  db_val one[] = {db_int(1), db_int(1)}, neg[] = {db_int(2), db_int(-1)}, two[] = {db_int(2), db_int(2)};
  assert_int_equal(db_begin(c), DB_OK);
  assert_int_equal(db_run_later_race(c, &Q_PF_INS, one, 2, 1), DB_OK);
  assert_int_equal(db_commit(c), DB_OK);
  const db_val *cases[] = {one, neg}; /* a unique key taken, a CHECK refusal */
  for (int i = 0; i < 2; i++) {
    assert_int_equal(db_begin(c), DB_OK);
    assert_int_equal(db_run_later(c, &Q_PF_INS, two, 2, 1), DB_OK);
    int rc = db_run_later_race(c, &Q_PF_INS, cases[i], 2, 1);
    if (rc == DB_OK) rc = db_commit(c);
    assert_int_equal(rc, DB_BUSY);
    assert_int_equal(db_rollback(c), DB_OK);
  }
  db_val k2[] = {db_int(2)};
  int64_t v = 0;
  assert_int_equal(db_query_int(c, &Q_PF_GET, k2, 1, &v), DB_DONE); /* nothing of them stayed */
  db_close(c);
}

/* ---- executor ----------------------------------------------------------------------- */

#define GC_THREADS 8
#define GC_JOBS 200

static const db_sql Q_GC_INS = {.name = "gc_ins",
                                .sql = "INSERT INTO t_gc (thread, seq) VALUES ($1, $2)"};
static const db_sql Q_GC_BUMP = {.name = "gc_bump",
                                 .sql = "UPDATE t_gc_counter SET n = n + 1 WHERE id = 1"};
static const db_sql Q_GC_ROWS = {.name = "gc_rows", .sql = "SELECT count(*) FROM t_gc"};
static const db_sql Q_GC_N = {.name = "gc_n", .sql = "SELECT n FROM t_gc_counter WHERE id = 1"};

struct gc_thread {
  db_exec *ex;
  int thread;
  int failures;
};

struct gc_arg {
  int thread, seq;
};

static int gc_run(db_conn *c, void *arg) {
  const struct gc_arg *a = arg;
  db_val args[2] = {db_int(a->thread), db_int(a->seq)};
  int rc = db_run(c, &Q_GC_INS, args, 2, NULL);
  if (rc == DB_OK) rc = db_run(c, &Q_GC_BUMP, NULL, 0, NULL);
  return rc < 0 ? rc : DB_JOB_COMMIT;
}

static void *gc_thread_main(void *arg) {
  struct gc_thread *t = arg;
  for (int seq = 0; seq < GC_JOBS; seq++) {
    struct gc_arg a = {t->thread, seq};
    db_job job = {.mode = DB_JOB_WRITE, .run = gc_run, .arg = &a};
    if (db_exec_run_sync(t->ex, &job) != DB_JOB_COMMIT) t->failures++;
  }
  return NULL;
}

struct count_arg {
  const db_sql *q;
  int64_t value;
};

static int count_run(db_conn *c, void *arg) {
  struct count_arg *a = arg;
  int rc = db_query_int(c, a->q, NULL, 0, &a->value);
  return rc < 0 ? rc : DB_JOB_COMMIT;
}

static int64_t exec_count(db_exec *ex, const db_sql *q) {
  struct count_arg a = {.q = q, .value = -1};
  db_job job = {.mode = DB_JOB_READ, .run = count_run, .arg = &a};
  assert_int_equal(db_exec_run_sync(ex, &job), DB_JOB_COMMIT);
  return a.value;
}

/* SQLite: the checkpointer thread copies the WAL back while the executor runs: after a few
 * hundred group commits of 4 KB rows (fewer WAL pages than the writer's own checkpoint waits
 * for) the main database file has grown. */
static const db_sql Q_CK_INS = {.name = "ck_ins", .sql = "INSERT INTO t_ck (v) VALUES (zeroblob(4000))"};

static int ck_run(db_conn *c, void *arg) {
  (void)arg;
  int rc = db_run(c, &Q_CK_INS, NULL, 0, NULL);
  return rc < 0 ? rc : DB_JOB_COMMIT;
}

static off_t file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? st.st_size : -1;
}

static void exec_checkpointer(void **state) {
  char url[URL_LEN];
  case_url(state, url, sizeof url);
  const char *path = url + strlen("sqlite:");
  db_conn *c = open_ok(url);
  script_ok(c, "CREATE TABLE t_ck (id INTEGER PRIMARY KEY, v BLOB NOT NULL)");
  db_close(c); /* the last connection: checkpoints, the WAL is gone */
  off_t before = file_size(path);
  assert_true(before > 0);
  db_exec *ex = exec_ok(url, 1, 64, 1000);
  for (int i = 0; i < 400; i++) { /* one job at a time: one group commit each */
    db_job job = {.mode = DB_JOB_WRITE, .run = ck_run};
    assert_int_equal(db_exec_run_sync(ex, &job), DB_JOB_COMMIT);
  }
  off_t after = -1;
  for (int waited = 0; waited < 3000; waited += 50) { /* the idle checkpoint: <= 1 s */
    after = file_size(path);
    if (after >= before + 400 * 4000) break;
    sleep_ms(50);
  }
  assert_true(after >= before + 400 * 4000);
  db_exec_stop(ex); /* that the WAL starts over: exec_wal_starts_over */
}

static void exec_group_commit(void **state) {
  char url[URL_LEN];
  case_url(state, url, sizeof url);
  db_conn *c = open_ok(url);
  script_ok(c, "DROP TABLE IF EXISTS t_gc; DROP TABLE IF EXISTS t_gc_counter;"
               "CREATE TABLE t_gc (thread INTEGER NOT NULL, seq INTEGER NOT NULL,"
               " PRIMARY KEY (thread, seq));"
               "CREATE TABLE t_gc_counter (id INTEGER PRIMARY KEY, n BIGINT NOT NULL);"
               "INSERT INTO t_gc_counter (id, n) VALUES (1, 0)");
  db_close(c);
  db_exec *ex = exec_ok(url, 2, 64, 1000);
  assert_int_equal(db_exec_kind(ex), ((struct backend *)*state)->kind);
  struct gc_thread threads[GC_THREADS];
  pthread_t tids[GC_THREADS];
  for (int i = 0; i < GC_THREADS; i++) {
    threads[i] = (struct gc_thread){.ex = ex, .thread = i};
    assert_int_equal(pthread_create(&tids[i], NULL, gc_thread_main, &threads[i]), 0);
  }
  for (int i = 0; i < GC_THREADS; i++) {
    assert_int_equal(pthread_join(tids[i], NULL), 0);
    assert_int_equal(threads[i].failures, 0);
  }
  const int64_t total = GC_THREADS * GC_JOBS;
  assert_int_equal(exec_count(ex, &Q_GC_ROWS), total);
  assert_int_equal(exec_count(ex, &Q_GC_N), total);
  struct db_exec_stats st;
  db_exec_stats(ex, &st);
  assert_int_equal(st.jobs_done, (uint64_t)total + 2);
  assert_int_equal(st.jobs_failed, 0);
  assert_int_equal(st.queue_depth, 0);
  for (int i = 0; i < DB_STAGE_COUNT; i++) { /* the stage histograms: every observation in one bucket */
    uint64_t n = 0;
    for (int k = 0; k <= DB_EXEC_HIST_BUCKETS; k++) n += st.stage[i].buckets[k];
    assert_int_equal(n, st.stage[i].count);
  }
  assert_int_equal(st.stage[DB_STAGE_QUEUE].count, st.jobs_done); /* every job was queued once */
  if (db_exec_kind(ex) == DB_SQLITE) {
    assert_true(st.write_groups > 0 && st.write_groups < (uint64_t)total);
    print_message("# group commit: %d jobs in %llu groups\n", (int)total,
                  (unsigned long long)st.write_groups);
    /* a group runs once; the two counting reads once each; every write waited for a sync */
    assert_int_equal(st.stage[DB_STAGE_RUN].count, st.write_groups + 2);
    assert_true(st.stage[DB_STAGE_DURABLE].count >= (uint64_t)total &&
                st.stage[DB_STAGE_DURABLE].count <= (uint64_t)total + 2);
    assert_int_equal(st.stage[DB_STAGE_SYNC].count, st.wal_syncs);
    assert_true(st.wal_syncs > 0);
  } else {
    assert_int_equal(st.stage[DB_STAGE_RUN].count, st.jobs_done);
    assert_int_equal(st.stage[DB_STAGE_DURABLE].count, 0);
    assert_int_equal(st.stage[DB_STAGE_SYNC].count, 0);
  }
  db_exec_stop(ex);
}

/* Jobs lined up behind a gate, so the SQLite writer takes them as one group. */
struct rb_arg {
  const char *v;
  int result;    /* what run returns after inserting */
  bool dup;      /* also insert "seed" again (a constraint failure) */
  atomic_int calls;
};

static const db_sql Q_RB_INS = {.name = "rb_ins", .sql = "INSERT INTO t_rb (v) VALUES ($1)"};
static const db_sql Q_RB_HAS = {.name = "rb_has",
                                .sql = "SELECT count(*) FROM t_rb WHERE v = $1"};

static int rb_run(db_conn *c, void *arg) {
  struct rb_arg *a = arg;
  atomic_fetch_add(&a->calls, 1);
  db_val v = db_text(a->v);
  int rc = db_run(c, &Q_RB_INS, &v, 1, NULL);
  if (rc < 0) return rc;
  if (a->dup) {
    db_val dup = db_text("seed");
    return db_run(c, &Q_RB_INS, &dup, 1, NULL); /* DB_CONSTRAINT */
  }
  return a->result;
}

/* Submit jobs[0..n) while the executor is held at a gate job; returns groups used. */
static uint64_t run_behind_gate(db_exec *ex, db_job *jobs, int n) {
  struct gate g;
  gate_init(&g);
  db_job gate = {.mode = DB_JOB_WRITE, .run = gate_job, .arg = &g};
  struct db_exec_stats before, after;
  db_exec_stats(ex, &before);
  assert_int_equal(db_exec_submit(ex, &gate), 0);
  gate_wait_entered(&g);
  for (int i = 0; i < n; i++) assert_int_equal(db_exec_submit(ex, &jobs[i]), 0);
  gate_open(&g);
  for (int spins = 0; spins < 10000; spins++) { /* up to 10 s */
    db_exec_stats(ex, &after);
    if (after.jobs_done >= before.jobs_done + (uint64_t)n + 1) break;
    sleep_ms(1);
  }
  assert_int_equal(after.jobs_done, before.jobs_done + (uint64_t)n + 1);
  gate_destroy(&g);
  return after.write_groups - before.write_groups;
}

static int64_t count_v(db_conn *c, const char *v) {
  db_val arg = db_text(v);
  return query_int_ok(c, &Q_RB_HAS, &arg, 1);
}

static void exec_job_rollback(void **state) {
  char url[URL_LEN];
  case_url(state, url, sizeof url);
  db_conn *c = open_ok(url);
  script_ok(c, "DROP TABLE IF EXISTS t_rb; CREATE TABLE t_rb (v TEXT PRIMARY KEY);"
               "INSERT INTO t_rb (v) VALUES ('seed')");
  db_exec *ex = exec_ok(url, 1, 64, 100);
  struct rb_arg args[3] = {{.v = "a", .result = DB_JOB_COMMIT},
                           {.v = "b", .result = DB_JOB_ROLLBACK},
                           {.v = "c", .dup = true}};
  db_job jobs[3];
  for (int i = 0; i < 3; i++) jobs[i] = (db_job){.mode = DB_JOB_WRITE, .run = rb_run,
                                                 .arg = &args[i]};
  struct db_exec_stats before, after;
  db_exec_stats(ex, &before);
  uint64_t groups = run_behind_gate(ex, jobs, 3);
  db_exec_stats(ex, &after);
  if (db_exec_kind(ex) == DB_SQLITE) {
    assert_int_equal(groups, 2); /* gate, then a+b+c */
    /* b wrote before it refused: the group ran again, each job in a savepoint */
    assert_int_equal(after.group_reruns - before.group_reruns, 1);
    assert_int_equal(atomic_load(&args[0].calls), 2);
    assert_int_equal(atomic_load(&args[1].calls), 2);
    assert_int_equal(atomic_load(&args[2].calls), 1); /* only after the undo */
  }
  assert_int_equal(jobs[0].status, DB_JOB_COMMIT);
  assert_int_equal(jobs[1].status, DB_JOB_ROLLBACK);
  assert_int_equal(jobs[2].status, DB_CONSTRAINT);
  db_exec_stop(ex);
  assert_int_equal(count_v(c, "a"), 1);
  assert_int_equal(count_v(c, "b"), 0);
  assert_int_equal(count_v(c, "c"), 0);
  db_close(c);
}

/* A job that refuses before writing needs no undo: its group runs once, without savepoints. */
static int refuse_run(db_conn *c, void *arg) {
  atomic_fetch_add((atomic_int *)arg, 1);
  (void)count_v(c, "a"); /* it reads, then refuses */
  return DB_JOB_ROLLBACK;
}

static void exec_refusal_without_writes(void **state) {
  char url[URL_LEN];
  case_url(state, url, sizeof url);
  db_conn *c = open_ok(url);
  script_ok(c, "DROP TABLE IF EXISTS t_rb; CREATE TABLE t_rb (v TEXT PRIMARY KEY)");
  db_exec *ex = exec_ok(url, 1, 64, 100);
  struct rb_arg a = {.v = "a", .result = DB_JOB_COMMIT}, d = {.v = "d", .result = DB_JOB_COMMIT};
  atomic_int refusals = 0;
  db_job jobs[3] = {{.mode = DB_JOB_WRITE, .run = rb_run, .arg = &a},
                    {.mode = DB_JOB_WRITE, .run = refuse_run, .arg = &refusals},
                    {.mode = DB_JOB_WRITE, .run = rb_run, .arg = &d}};
  struct db_exec_stats before, after;
  db_exec_stats(ex, &before);
  uint64_t groups = run_behind_gate(ex, jobs, 3);
  db_exec_stats(ex, &after);
  assert_int_equal(jobs[0].status, DB_JOB_COMMIT);
  assert_int_equal(jobs[1].status, DB_JOB_ROLLBACK);
  assert_int_equal(jobs[2].status, DB_JOB_COMMIT);
  assert_int_equal(after.group_reruns, before.group_reruns);
  assert_int_equal(atomic_load(&a.calls), 1);
  assert_int_equal(atomic_load(&refusals), 1);
  if (db_exec_kind(ex) == DB_SQLITE) assert_int_equal(groups, 2);
  db_exec_stop(ex);
  assert_int_equal(count_v(c, "a"), 1);
  assert_int_equal(count_v(c, "d"), 1);
  db_close(c);
}

/* A deferred foreign key fails at COMMIT: on SQLite the whole group fails with it. */
static const db_sql Q_FK_CHILD = {.name = "fk_child",
                                  .sql = "INSERT INTO t_fkc (id, p) VALUES ($1, $2)"};

static int fk_run(db_conn *c, void *arg) {
  const int64_t *parent = arg;
  static atomic_int next_id = 1;
  db_val args[2] = {db_int(atomic_fetch_add(&next_id, 1)), db_int(*parent)};
  int rc = db_run(c, &Q_FK_CHILD, args, 2, NULL);
  return rc < 0 ? rc : DB_JOB_COMMIT;
}

static void exec_commit_failure(void **state) {
  char url[URL_LEN];
  case_url(state, url, sizeof url);
  db_conn *c = open_ok(url);
  script_ok(c, "DROP TABLE IF EXISTS t_fkc; DROP TABLE IF EXISTS t_fkp;"
               "CREATE TABLE t_fkp (id INTEGER PRIMARY KEY);"
               "CREATE TABLE t_fkc (id INTEGER PRIMARY KEY,"
               " p INTEGER REFERENCES t_fkp (id) DEFERRABLE INITIALLY DEFERRED);"
               "INSERT INTO t_fkp (id) VALUES (1)");
  db_exec *ex = exec_ok(url, 1, 64, 100);
  int64_t good = 1, missing = 42;
  db_job jobs[2] = {{.mode = DB_JOB_WRITE, .run = fk_run, .arg = &good},
                    {.mode = DB_JOB_WRITE, .run = fk_run, .arg = &missing}};
  run_behind_gate(ex, jobs, 2);
  assert_int_equal(jobs[1].status, DB_CONSTRAINT); /* its COMMIT failed */
  static const db_sql cnt = {.name = "fk_cnt", .sql = "SELECT count(*) FROM t_fkc"};
  if (db_exec_kind(ex) == DB_SQLITE) {
    assert_true(jobs[0].status < 0); /* same group: not durable either */
    db_exec_stop(ex);
    assert_int_equal(query_int_ok(c, &cnt, NULL, 0), 0);
  } else {
    assert_int_equal(jobs[0].status, DB_JOB_COMMIT); /* its own transaction */
    db_exec_stop(ex);
    assert_int_equal(query_int_ok(c, &cnt, NULL, 0), 1);
  }
  db_close(c);
}

struct busy_arg {
  int busy_first; /* return DB_BUSY this many times, then commit */
  atomic_int calls;
};

static int busy_run(db_conn *c, void *arg) {
  (void)c;
  struct busy_arg *a = arg;
  int n = atomic_fetch_add(&a->calls, 1);
  return n < a->busy_first ? DB_BUSY : DB_JOB_COMMIT;
}

static void exec_busy_retry(void **state) {
  char url[URL_LEN];
  db_exec *ex = exec_ok(case_url(state, url, sizeof url), 1, 8, 10);
  struct busy_arg twice = {.busy_first = 2}, always = {.busy_first = 1000};
  for (int mode = DB_JOB_READ; mode <= DB_JOB_WRITE; mode++) {
    atomic_store(&twice.calls, 0);
    atomic_store(&always.calls, 0);
    db_job ok = {.mode = mode, .run = busy_run, .arg = &twice};
    assert_int_equal(db_exec_run_sync(ex, &ok), DB_JOB_COMMIT);
    assert_int_equal(atomic_load(&twice.calls), 3);
    db_job fail = {.mode = mode, .run = busy_run, .arg = &always};
    assert_int_equal(db_exec_run_sync(ex, &fail), DB_BUSY);
    assert_int_equal(atomic_load(&always.calls), 4); /* 1 + 3 retries */
  }
  struct db_exec_stats st;
  db_exec_stats(ex, &st);
  assert_int_equal(st.busy_retries, 2 * (2 + 3));
  assert_int_equal(st.jobs_failed, 2);
  db_exec_stop(ex);
}

static void exec_queue_full(void **state) {
  char url[URL_LEN], err[ERR_LEN];
  struct db_exec_config cfg = {.url = case_url(state, url, sizeof url), .readers = 1,
                               .pool_size = 1, .batch_max = 1, .queue_max = 2};
  db_exec *ex = db_exec_start(&cfg, err, sizeof err);
  if (ex == NULL) fail_msg("db_exec_start: %s", err);
  struct gate g;
  gate_init(&g);
  db_job gate = {.mode = DB_JOB_WRITE, .run = gate_job, .arg = &g};
  assert_int_equal(db_exec_submit(ex, &gate), 0);
  gate_wait_entered(&g); /* off the queue, holding the only WRITE thread */
  struct busy_arg none = {.busy_first = 0};
  db_job more[4];
  for (int i = 0; i < 4; i++) {
    more[i] = (db_job){.mode = DB_JOB_WRITE, .run = busy_run, .arg = &none};
    assert_int_equal(db_exec_submit(ex, &more[i]), i < 2 ? 0 : -1);
  }
  db_job sync = {.mode = DB_JOB_WRITE, .run = busy_run, .arg = &none};
  assert_int_equal(db_exec_run_sync(ex, &sync), DB_ERR); /* refused, not waited for */
  struct db_exec_stats st;
  db_exec_stats(ex, &st);
  assert_int_equal(st.rejected, 3);
  assert_int_equal(st.queue_depth, 2);
  gate_open(&g);
  db_exec_stop(ex);
  assert_int_equal(more[0].status, DB_JOB_COMMIT);
  assert_int_equal(more[1].status, DB_JOB_COMMIT);
  gate_destroy(&g);
}

/* Stop finishes every queued job; submits after stop began are refused. */
struct drain_ctx {
  atomic_int done;
  struct gate gate;
  db_exec *ex;
  int late_submit_rc;
};

static void drain_done(db_job *job) {
  struct drain_ctx *d = job->arg;
  if (job->status == DB_JOB_COMMIT) atomic_fetch_add(&d->done, 1);
}

static int drain_run(db_conn *c, void *arg) {
  (void)c;
  (void)arg;
  return DB_JOB_COMMIT;
}

static int drain_first_run(db_conn *c, void *arg) {
  (void)c;
  struct drain_ctx *d = arg;
  gate_pass(&d->gate);
  db_job late = {.mode = DB_JOB_READ, .run = drain_run, .arg = d};
  d->late_submit_rc = db_exec_submit(d->ex, &late);
  return DB_JOB_COMMIT;
}

static void *stop_thread(void *arg) {
  db_exec_stop(arg);
  return NULL;
}

static void exec_stop_drains(void **state) {
  char url[URL_LEN];
  struct drain_ctx d = {.late_submit_rc = 99};
  gate_init(&d.gate);
  d.ex = exec_ok(case_url(state, url, sizeof url), 2, 16, 1000);
  enum { N = 300 };
  db_job *jobs = calloc(N, sizeof *jobs);
  assert_non_null(jobs);
  jobs[0] = (db_job){.mode = DB_JOB_WRITE, .run = drain_first_run, .done = drain_done, .arg = &d};
  assert_int_equal(db_exec_submit(d.ex, &jobs[0]), 0);
  gate_wait_entered(&d.gate);
  for (int i = 1; i < N; i++) {
    jobs[i] = (db_job){.mode = i % 2 ? DB_JOB_READ : DB_JOB_WRITE, .run = drain_run,
                       .done = drain_done, .arg = &d};
    assert_int_equal(db_exec_submit(d.ex, &jobs[i]), 0);
  }
  pthread_t tid;
  assert_int_equal(pthread_create(&tid, NULL, stop_thread, d.ex), 0);
  sleep_ms(200); /* let stop begin: it then waits for the gated job */
  gate_open(&d.gate);
  assert_int_equal(pthread_join(tid, NULL), 0);
  assert_int_equal(atomic_load(&d.done), N);
  assert_int_equal(d.late_submit_rc, -1);
  for (int i = 0; i < N; i++) assert_true(jobs[i].enqueued_ns > 0);
  free(jobs);
  gate_destroy(&d.gate);
}

static const db_sql Q_RO_INS = {.name = "ro_ins", .sql = "INSERT INTO t_ro (v) VALUES (1)"};

static int ro_write_run(db_conn *c, void *arg) {
  (void)arg;
  int rc = db_run(c, &Q_RO_INS, NULL, 0, NULL);
  return rc < 0 ? rc : DB_JOB_COMMIT;
}

/* A read that locks rows, or a data-modifying WITH: refused in a read job too (PostgreSQL
 * sends no BEGIN READ ONLY, D53; SQLite's readers are query_only and know no FOR UPDATE). */
static const db_sql Q_RO_LOCK = {.name = "ro_lock", .sql = "SELECT v FROM t_ro FOR UPDATE"};
static const db_sql Q_RO_WITH = {.name = "ro_with", .sql = "WITH x AS (INSERT INTO t_ro (v) VALUES (2) RETURNING v) SELECT v FROM x"};
static int ro_other_run(db_conn *c, void *arg) {
  const db_sql *q = arg;
  db_cursor *cur = NULL;
  int rc = db_query(c, q, NULL, 0, &cur);
  if (rc < 0) return rc;
  while ((rc = db_step(cur)) == DB_ROW) {}
  db_reset(cur);
  return rc < 0 ? rc : DB_JOB_COMMIT;
}

/* ... and a prefetched write is refused when it is held, before anything is sent */
static int ro_prefetch_write_run(db_conn *c, void *arg) {
  (void)arg;
  int rc = db_prefetch(c, &Q_RO_WITH, NULL, 0);
  return rc < 0 ? rc : ro_other_run(c, (void *)&Q_RO_WITH);
}

/* READ jobs run read-only: a write in one fails. */
static void exec_read_jobs_are_read_only(void **state) {
  char url[URL_LEN];
  case_url(state, url, sizeof url);
  db_conn *c = open_ok(url);
  script_ok(c, "DROP TABLE IF EXISTS t_ro; CREATE TABLE t_ro (v INTEGER)");
  db_close(c);
  db_exec *ex = exec_ok(url, 1, 8, 10);
  db_job rd = {.mode = DB_JOB_READ, .run = ro_write_run};
  assert_true(db_exec_run_sync(ex, &rd) < 0);
  db_job wr = {.mode = DB_JOB_WRITE, .run = ro_write_run};
  assert_int_equal(db_exec_run_sync(ex, &wr), DB_JOB_COMMIT);
  db_job lock = {.mode = DB_JOB_READ, .run = ro_other_run, .arg = (void *)&Q_RO_LOCK};
  assert_true(db_exec_run_sync(ex, &lock) < 0);
  db_job with = {.mode = DB_JOB_READ, .run = ro_other_run, .arg = (void *)&Q_RO_WITH};
  assert_true(db_exec_run_sync(ex, &with) < 0);
  db_job pf = {.mode = DB_JOB_READ, .run = ro_prefetch_write_run};
  assert_true(db_exec_run_sync(ex, &pf) < 0);
  static const db_sql cnt = {.name = "ro_cnt", .sql = "SELECT count(*) FROM t_ro"};
  assert_int_equal(exec_count(ex, &cnt), 1);
  if (((struct backend *)*state)->kind == DB_POSTGRES) { /* SQLite has neither statement */
    /* the same statements in a WRITE job lock and write as asked */
    db_job lock_w = {.mode = DB_JOB_WRITE, .run = ro_other_run, .arg = (void *)&Q_RO_LOCK};
    assert_int_equal(db_exec_run_sync(ex, &lock_w), DB_JOB_COMMIT);
    db_job with_w = {.mode = DB_JOB_WRITE, .run = ro_other_run, .arg = (void *)&Q_RO_WITH};
    assert_int_equal(db_exec_run_sync(ex, &with_w), DB_JOB_COMMIT);
    assert_int_equal(exec_count(ex, &cnt), 2);
  }
  db_exec_stop(ex);
}

/* D60: a PostgreSQL reader runs queued READ jobs together: their prefetches go in one
 * round trip and each job reads its own answers. A job that leaves its prefetch unclaimed
 * disturbs no other (one with equal arguments may take it); a statement that fails makes
 * the jobs from the first failed one on run again alone, so only the job whose statement
 * fails fails, whether it failed in the batch's pipeline or after it. */
struct batch_job {
  db_job job;
  int id;        /* reads t_batch's row id */
  bool fail;     /* prefetches and asks for a division by zero */
  bool fail_late; /* prefetches its row, then asks for a division by zero instead */
  bool early;    /* prefetches, then returns without asking */
  char got[16];  /* the row's v */
  bool prefetched; /* its prefetch was called */
};

static const db_sql Q_BATCH = {.name = "batch_get", .sql = "SELECT v FROM t_batch WHERE id = $1"};
static const db_sql Q_BATCH_FAIL = {.name = "batch_fail", .sql = "SELECT 1 / CAST($1 AS integer)"};

static int batch_prefetch(db_conn *c, void *arg) {
  struct batch_job *j = arg;
  j->prefetched = true;
  db_val a[] = {db_int(j->fail ? 0 : j->id)};
  return db_prefetch(c, j->fail ? &Q_BATCH_FAIL : &Q_BATCH, a, 1);
}

static int batch_run(db_conn *c, void *arg) {
  struct batch_job *j = arg;
  j->got[0] = '\0';
  if (j->early) return DB_JOB_ROLLBACK;
  bool fail = j->fail || j->fail_late;
  db_val a[] = {db_int(fail ? 0 : j->id)};
  db_cursor *cur = NULL;
  int rc = db_query(c, fail ? &Q_BATCH_FAIL : &Q_BATCH, a, 1, &cur);
  if (rc < 0) return rc;
  rc = db_step(cur);
  if (rc == DB_ROW) snprintf(j->got, sizeof j->got, "%s", db_col_text(cur, 0));
  db_reset(cur);
  return rc == DB_ROW ? DB_JOB_COMMIT : rc < 0 ? rc : DB_ERR;
}

/* Submits jobs[0..n) behind a gate holding the only reader, then lets them run. */
static void batch_submit_all(db_exec *ex, struct batch_job *jobs, int n) {
  struct gate g;
  gate_init(&g);
  db_job gate = {.mode = DB_JOB_READ, .run = gate_job, .arg = &g};
  assert_int_equal(db_exec_submit(ex, &gate), 0);
  gate_wait_entered(&g);
  for (int i = 0; i < n; i++) {
    jobs[i].job = (db_job){.mode = DB_JOB_READ, .prefetch = batch_prefetch, .run = batch_run, .arg = &jobs[i]};
    assert_int_equal(db_exec_submit(ex, &jobs[i].job), 0);
  }
  gate_open(&g);
  db_job last = {.mode = DB_JOB_READ, .run = gate_job, .arg = &g}; /* queued after them: they are done */
  assert_int_equal(db_exec_run_sync(ex, &last), DB_JOB_COMMIT);
  gate_destroy(&g);
}

/* Job `early` returned at once, job `failed` failed, every other job read its own row. */
static void batch_check(const struct batch_job *jobs, int n, int early, int failed) {
  for (int i = 0; i < n; i++) {
    char want[16];
    snprintf(want, sizeof want, "v%d", jobs[i].id);
    if (i == failed) {
      assert_true(jobs[i].job.status < 0);
    } else if (i == early) {
      assert_int_equal(jobs[i].job.status, DB_JOB_ROLLBACK);
    } else {
      assert_int_equal(jobs[i].job.status, DB_JOB_COMMIT);
      assert_string_equal(jobs[i].got, want);
    }
  }
}

static void exec_read_batch(void **state) {
  if (((struct backend *)*state)->kind != DB_POSTGRES) skip(); /* SQLite prefetches nothing */
  char url[URL_LEN], err[ERR_LEN];
  case_url(state, url, sizeof url);
  db_conn *c = open_ok(url);
  script_ok(c, "DROP TABLE IF EXISTS t_batch; CREATE TABLE t_batch (id INTEGER PRIMARY KEY, v TEXT);"
               "INSERT INTO t_batch SELECT i, 'v' || i FROM generate_series(1, 20) AS i");
  db_close(c);
  struct db_exec_config cfg = {.url = url, .readers = 1, .pool_size = 1, .queue_max = 100, .read_batch = 8};
  db_exec *ex = db_exec_start(&cfg, err, sizeof err);
  if (ex == NULL) fail_msg("db_exec_start: %s", err);
  struct db_exec_stats before, after;
  struct batch_job jobs[10];
  memset(jobs, 0, sizeof jobs);
  jobs[0].id = 1; /* the statement prepared first (a round trip of its own) */
  jobs[0].job = (db_job){.mode = DB_JOB_READ, .prefetch = batch_prefetch, .run = batch_run, .arg = &jobs[0]};
  assert_int_equal(db_exec_run_sync(ex, &jobs[0].job), DB_JOB_COMMIT);
  assert_true(jobs[0].prefetched); /* db_exec_run_sync keeps a job's prefetch */
  for (int i = 0; i < 8; i++) jobs[i].id = i + 1;
  db_exec_stats(ex, &before);
  batch_submit_all(ex, jobs, 8);
  db_exec_stats(ex, &after);
  assert_int_equal(after.round_trips - before.round_trips, 1); /* eight jobs, one round trip */
  for (int i = 0; i < 8; i++) {
    char want[16];
    snprintf(want, sizeof want, "v%d", i + 1);
    assert_int_equal(jobs[i].job.status, DB_JOB_COMMIT);
    assert_string_equal(jobs[i].got, want);
  }
  memset(jobs, 0, sizeof jobs); /* two batches (8 and 2), a failure and an unclaimed prefetch in the first */
  for (int i = 0; i < 10; i++) jobs[i].id = 11 + i;
  jobs[2].early = true;
  jobs[5].fail = true;
  batch_submit_all(ex, jobs, 10);
  batch_check(jobs, 10, 2, 5);
  db_exec_stats(ex, &after);
  assert_int_equal(after.jobs_failed - before.jobs_failed, 1);
  /* A failure after the batch's pipeline: the jobs before it keep their answers, the failed
   * one and those after it run alone; a job takes the unclaimed answer of an equal query. */
  memset(jobs, 0, sizeof jobs);
  for (int i = 0; i < 10; i++) jobs[i].id = 11 + i;
  jobs[2].early = true;
  jobs[3].id = jobs[2].id;
  jobs[5].fail_late = true;
  db_exec_stats(ex, &before);
  batch_submit_all(ex, jobs, 10);
  db_exec_stats(ex, &after);
  /* the batch's pipeline, job 5's query in it, then alone: job 5, 6 and 7; the batch of 8 and 9 */
  assert_int_equal(after.round_trips - before.round_trips, 6);
  assert_int_equal(after.jobs_failed - before.jobs_failed, 1);
  batch_check(jobs, 10, 2, 5);
  db_exec_stop(ex);
}

/* D62: a PostgreSQL pool thread runs queued keyed WRITE jobs of different keys in one
 * transaction: every prefetch in the first round trip, every write with COMMIT in the second.
 * A job passes what it changed in a row the next jobs read through their prefetch (here a
 * shared counter, as the audit chain's head) in the group memo; a job that does not commit
 * makes every job of its group run again alone, so only it fails or rolls back. */
struct group_job {
  db_job job;
  int id;           /* its own row of t_grp */
  int64_t value;    /* what it writes there */
  bool fail;        /* fails after writing */
  bool reject;      /* rolls back (a business refusal) after writing */
  int runs;         /* run() calls */
  int order;        /* when it last ran (grp_clock) */
};

static atomic_int grp_clock;

static const db_sql Q_GRP_GET = {.name = "grp_get", .sql = "SELECT v FROM t_grp WHERE id = $1 FOR UPDATE"};
static const db_sql Q_GRP_SET = {.name = "grp_set", .sql = "UPDATE t_grp SET v = $2 WHERE id = $1"};
static const db_sql Q_GRP_FAIL = {.name = "grp_fail", .sql = "INSERT INTO t_grp (id, v) VALUES (0, 0)"};

static int grp_prefetch(db_conn *c, void *arg) {
  struct group_job *j = arg;
  db_val mine[] = {db_int(j->id)}, shared[] = {db_int(0)}, odd[] = {db_int(21)};
  int rc = db_prefetch(c, &Q_GRP_GET, mine, 1);
  if (rc >= 0) rc = db_prefetch(c, &Q_GRP_GET, shared, 1);
  return rc < 0 || j->id % 2 == 0 ? rc : db_prefetch(c, &Q_GRP_GET, odd, 1);
}

static int grp_read(db_conn *c, int id, int64_t *v) {
  db_val a[] = {db_int(id)};
  return db_query_int(c, &Q_GRP_GET, a, 1, v) == DB_ROW ? DB_OK : DB_ERR;
}

static int grp_run(db_conn *c, void *arg) {
  struct group_job *j = arg;
  j->runs++;
  j->order = atomic_fetch_add(&grp_clock, 1);
  int64_t mine = -1;
  if (grp_read(c, j->id, &mine) != DB_OK) return DB_ERR;
  /* every job counts in row 0, an odd one in row 21 too: two memo keys */
  int rc = DB_OK;
  for (int k = 0; k < (j->id % 2 ? 2 : 1) && rc >= 0; k++) {
    int row = k == 0 ? 0 : 21;
    const char *key = k == 0 ? "grp counter" : "grp odd";
    int64_t shared = -1;
    char memo[32];
    if (db_group_memo_get(c, key, memo, sizeof memo)) shared = strtoll(memo, NULL, 10);
    else if (grp_read(c, row, &shared) != DB_OK) return DB_ERR;
    db_val set_shared[] = {db_int(row), db_int(shared + 1)};
    rc = db_run_later(c, &Q_GRP_SET, set_shared, 2, 1);
    snprintf(memo, sizeof memo, "%lld", (long long)(shared + 1));
    if (rc >= 0) rc = db_group_memo_set(c, key, memo);
  }
  db_val set_mine[] = {db_int(j->id), db_int(j->value)};
  if (rc >= 0) rc = db_run_later(c, &Q_GRP_SET, set_mine, 2, 1);
  if (rc >= 0 && j->fail) rc = db_run_later(c, &Q_GRP_FAIL, NULL, 0, 1); /* id 0 is taken */
  if (rc < 0) return rc;
  return j->reject ? DB_JOB_ROLLBACK : DB_JOB_COMMIT;
}

/* Submits jobs[0..n) behind a gate holding the only pool connection, then lets them run and
 * waits until they are done. */
static void submit_gated(db_exec *ex, db_job *const *jobs, int n) {
  struct gate g;
  gate_init(&g);
  db_job gate = {.mode = DB_JOB_WRITE, .run = gate_job, .arg = &g};
  assert_int_equal(db_exec_submit(ex, &gate), 0);
  gate_wait_entered(&g);
  for (int i = 0; i < n; i++) assert_int_equal(db_exec_submit(ex, jobs[i]), 0);
  gate_open(&g);
  db_job last = {.mode = DB_JOB_WRITE, .run = gate_job, .arg = &g}; /* queued after them: they are done */
  assert_int_equal(db_exec_run_sync(ex, &last), DB_JOB_COMMIT);
  gate_destroy(&g);
}

/* keys[i] is job i's group key (NULL: none), withs[i] its group_with (NULL: all "m"). */
static void grp_submit_with(db_exec *ex, struct group_job *jobs, const char *const *keys,
                            const char *const *withs, int n) {
  db_job *all[16];
  assert_true(n <= 16);
  for (int i = 0; i < n; i++) {
    jobs[i].job = (db_job){.mode = DB_JOB_WRITE, .prefetch = grp_prefetch, .run = grp_run,
                           .arg = &jobs[i], .group_key = keys ? keys[i] : NULL,
                           .group_with = withs ? withs[i] : "m"};
    all[i] = &jobs[i].job;
  }
  submit_gated(ex, all, n);
}

static void grp_submit_all(db_exec *ex, struct group_job *jobs, const char *const *keys, int n) {
  grp_submit_with(ex, jobs, keys, NULL, n);
}

static const db_sql Q_GRP_SHARED = {.name = "grp_shared", .sql = "SELECT v FROM t_grp WHERE id = 0"};
static const db_sql Q_GRP_SUM = {.name = "grp_sum", .sql = "SELECT COALESCE(sum(v), 0) FROM t_grp WHERE id BETWEEN 1 AND 20"};
static const db_sql Q_GRP_ODD = {.name = "grp_odd", .sql = "SELECT v FROM t_grp WHERE id = 21"};

/* The group's jobs: commit, round trips, groups and reruns */
static void grp_expect(db_exec *ex, const struct db_exec_stats *before, uint64_t trips, uint64_t groups,
                       uint64_t reruns) {
  struct db_exec_stats after;
  db_exec_stats(ex, &after);
  if (trips > 0) assert_int_equal(after.round_trips - before->round_trips, trips);
  assert_int_equal(after.write_groups - before->write_groups, groups);
  assert_int_equal(after.group_reruns - before->group_reruns, reruns);
}

/* A fresh t_grp (rows 0..21 at 0) and an executor of pool_size connections, groups of 8. */
static db_exec *grp_start(const char *url, int pool_size, struct db_exec_config *cfg) {
  char err[ERR_LEN];
  db_conn *c = open_ok(url);
  script_ok(c, "DROP TABLE IF EXISTS t_grp; CREATE TABLE t_grp (id INTEGER PRIMARY KEY, v BIGINT NOT NULL);"
               "INSERT INTO t_grp SELECT i, 0 FROM generate_series(0, 21) AS i");
  db_close(c);
  *cfg = (struct db_exec_config){.url = url, .readers = 1, .pool_size = pool_size, .queue_max = 100, .write_group = 8};
  db_exec *ex = db_exec_start(cfg, err, sizeof err);
  if (ex == NULL) fail_msg("db_exec_start: %s", err);
  return ex;
}

static void pg_exec_write_group(void **state) {
  char url[URL_LEN], err[ERR_LEN];
  case_url(state, url, sizeof url);
  struct db_exec_config cfg;
  db_exec *ex = grp_start(url, 1, &cfg);
  struct group_job jobs[12];
  static const char *const keys[12] = {"k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9", "k10", "k11", "k12"};
  memset(jobs, 0, sizeof jobs);
  /* the statements and their set forms (D63) prepared first */
  jobs[0] = (struct group_job){.id = 1, .value = 1};
  jobs[1] = (struct group_job){.id = 2, .value = 1};
  grp_submit_all(ex, jobs, keys, 2);
  assert_int_equal(jobs[0].job.status, DB_JOB_COMMIT);
  assert_int_equal(jobs[1].job.status, DB_JOB_COMMIT);
  assert_int_equal(exec_count(ex, &Q_GRP_SHARED), 2);
  /* eight keyed jobs: one group, two round trips; each saw the counter the one before left */
  struct db_exec_stats before;
  memset(jobs, 0, sizeof jobs);
  for (int i = 0; i < 8; i++) jobs[i] = (struct group_job){.id = i + 1, .value = 10 + i};
  db_exec_stats(ex, &before);
  grp_submit_all(ex, jobs, keys, 8);
  grp_expect(ex, &before, 2, 1, 0);
  for (int i = 0; i < 8; i++) assert_int_equal(jobs[i].job.status, DB_JOB_COMMIT);
  assert_int_equal(exec_count(ex, &Q_GRP_SHARED), 10);
  assert_int_equal(exec_count(ex, &Q_GRP_SUM), 10 + 11 + 12 + 13 + 14 + 15 + 16 + 17);
  /* ten jobs and a group of at most eight: 8 and 2 */
  memset(jobs, 0, sizeof jobs);
  for (int i = 0; i < 10; i++) jobs[i] = (struct group_job){.id = i + 1, .value = 1};
  db_exec_stats(ex, &before);
  grp_submit_all(ex, jobs, keys, 10);
  grp_expect(ex, &before, 4, 2, 0);
  assert_int_equal(exec_count(ex, &Q_GRP_SHARED), 20);
  /* one key twice: never in one group (k1 k1 k2 k2: groups {k1 k2} twice) */
  static const char *const twice[4] = {"k1", "k1", "k2", "k2"};
  memset(jobs, 0, sizeof jobs);
  for (int i = 0; i < 4; i++) jobs[i] = (struct group_job){.id = i + 1, .value = 2};
  db_exec_stats(ex, &before);
  grp_submit_all(ex, jobs, twice, 4);
  grp_expect(ex, &before, 4, 2, 0);
  assert_int_equal(exec_count(ex, &Q_GRP_SHARED), 24);
  /* no key: each alone */
  memset(jobs, 0, sizeof jobs);
  for (int i = 0; i < 3; i++) jobs[i] = (struct group_job){.id = i + 1, .value = 3};
  db_exec_stats(ex, &before);
  grp_submit_all(ex, jobs, NULL, 3);
  grp_expect(ex, &before, 6, 0, 0);
  assert_int_equal(exec_count(ex, &Q_GRP_SHARED), 27);
  assert_int_equal(exec_count(ex, &Q_GRP_ODD), 14);
  /* a refusal in a group: it runs alone, the others once more as a group */
  memset(jobs, 0, sizeof jobs);
  for (int i = 0; i < 6; i++) jobs[i] = (struct group_job){.id = i + 1, .value = 3};
  jobs[3].reject = true;
  db_exec_stats(ex, &before);
  grp_submit_all(ex, jobs, keys, 6);
  grp_expect(ex, &before, 0, 2, 1);
  for (int i = 0; i < 6; i++) {
    assert_int_equal(jobs[i].job.status, i == 3 ? DB_JOB_ROLLBACK : DB_JOB_COMMIT);
    assert_int_equal(jobs[i].runs, i <= 3 ? 2 : 1); /* the first group stopped at job 3 */
  }
  assert_int_equal(exec_count(ex, &Q_GRP_SHARED), 32);
  assert_int_equal(exec_count(ex, &Q_GRP_ODD), 17); /* ids 1, 3 and 5 (id 4 was refused) */
  /* a refusal, then a held-back write the server refuses in COMMIT's pipeline (no job to
   * blame): the second group runs each job alone; only those two fail or roll back */
  memset(jobs, 0, sizeof jobs);
  for (int i = 0; i < 6; i++) jobs[i] = (struct group_job){.id = i + 1, .value = 100 + i};
  jobs[2].fail = true;
  jobs[4].reject = true;
  db_exec_stats(ex, &before);
  grp_submit_all(ex, jobs, keys, 6);
  grp_expect(ex, &before, 0, 2, 2);
  for (int i = 0; i < 6; i++) {
    int want = i == 2 ? -1 : i == 4 ? DB_JOB_ROLLBACK : DB_JOB_COMMIT;
    if (want < 0) assert_true(jobs[i].job.status < 0);
    else assert_int_equal(jobs[i].job.status, want);
    /* group 1 up to job 4's refusal, job 4 alone; group 2 of the five, then each alone */
    assert_int_equal(jobs[i].runs, i == 4 || i == 5 ? 2 : 3);
  }
  assert_int_equal(exec_count(ex, &Q_GRP_SHARED), 36); /* the four that committed */
  assert_int_equal(exec_count(ex, &Q_GRP_ODD), 18);    /* id 1; 3 failed, 5 was refused */
  /* rows 1, 2, 4 and 6 hold 100, 101, 103, 105; rows 3 and 5 kept 3, rows 7-10 1 */
  assert_int_equal(exec_count(ex, &Q_GRP_SUM), 100 + 101 + 3 + 103 + 3 + 105 + 1 + 1 + 1 + 1);
  /* a group runs in the order of its keys, whatever the queue's; a group_with apart never
   * shares a group (k1..k8 queued backwards, two merchants taking turns) */
  static const char *const backwards[8] = {"k8", "k7", "k6", "k5", "k4", "k3", "k2", "k1"};
  static const char *const withs[8] = {"a", "b", "a", "b", "a", "b", "a", "b"};
  memset(jobs, 0, sizeof jobs);
  for (int i = 0; i < 8; i++) jobs[i] = (struct group_job){.id = 8 - i, .value = 5};
  db_exec_stats(ex, &before);
  grp_submit_with(ex, jobs, backwards, withs, 8);
  grp_expect(ex, &before, 4, 2, 0);
  for (int i = 0; i < 8; i++) {
    assert_int_equal(jobs[i].job.status, DB_JOB_COMMIT);
    for (int k = 0; k < 8; k++) /* in each group, a smaller key ran first */
      if (k != i && strcmp(withs[k], withs[i]) == 0 && strcmp(backwards[k], backwards[i]) < 0)
        assert_true(jobs[k].order < jobs[i].order);
  }
  assert_int_equal(exec_count(ex, &Q_GRP_SHARED), 44);
  assert_int_equal(exec_count(ex, &Q_GRP_ODD), 22);
  db_exec_stop(ex);
  /* write_group 1: keyed jobs run alone */
  cfg.write_group = 1;
  ex = db_exec_start(&cfg, err, sizeof err);
  if (ex == NULL) fail_msg("db_exec_start: %s", err);
  memset(jobs, 0, sizeof jobs);
  for (int i = 0; i < 4; i++) jobs[i] = (struct group_job){.id = i + 1, .value = 4};
  db_exec_stats(ex, &before);
  grp_submit_all(ex, jobs, keys, 4);
  grp_expect(ex, &before, 0, 0, 0);
  assert_int_equal(exec_count(ex, &Q_GRP_SHARED), 48);
  assert_int_equal(exec_count(ex, &Q_GRP_ODD), 24);
  db_exec_stop(ex);
  cfg.write_group = 33;
  assert_null(db_exec_start(&cfg, err, sizeof err));
  assert_non_null(strstr(err, "write_group"));
}

/* D67: a queued keyed job whose key a running job holds waits for a later group, so the
 * group formed meanwhile does not wait for that job's row locks. Pool of two: A (key k1) holds
 * one connection at a gate, an unkeyed gate job the other while B (k1), C (k2), D (k3) queue in
 * that order; when the second connection comes free it takes C and D as a group and B only
 * after them (before D67 it took B first, its key the smallest: B, C, D in one group). */
static atomic_int g_keys_done;
static void keys_done(db_job *job) {
  (void)job;
  atomic_fetch_add(&g_keys_done, 1);
}

static void pg_exec_write_group_running_keys(void **state) {
  char url[URL_LEN];
  case_url(state, url, sizeof url);
  struct db_exec_config cfg;
  db_exec *ex = grp_start(url, 2, &cfg);
  atomic_store(&g_keys_done, 0);
  struct gate ga, ge;
  gate_init(&ga);
  gate_init(&ge);
  db_job a = {.mode = DB_JOB_WRITE, .run = gate_job, .arg = &ga, .done = keys_done, .group_key = "k1", .group_with = "m"};
  db_job e = {.mode = DB_JOB_WRITE, .run = gate_job, .arg = &ge, .done = keys_done};
  assert_int_equal(db_exec_submit(ex, &a), 0);
  gate_wait_entered(&ga);
  assert_int_equal(db_exec_submit(ex, &e), 0);
  gate_wait_entered(&ge);
  struct group_job jobs[3];
  static const char *const keys[3] = {"k1", "k2", "k3"};
  memset(jobs, 0, sizeof jobs);
  for (int i = 0; i < 3; i++) {
    jobs[i] = (struct group_job){.id = i + 1, .value = 7};
    jobs[i].job = (db_job){.mode = DB_JOB_WRITE, .prefetch = grp_prefetch, .run = grp_run, .done = keys_done,
                           .arg = &jobs[i], .group_key = keys[i], .group_with = "m"};
    assert_int_equal(db_exec_submit(ex, &jobs[i].job), 0);
  }
  struct db_exec_stats before;
  db_exec_stats(ex, &before);
  gate_open(&ge);
  for (int i = 0; i < 1000 && atomic_load(&g_keys_done) < 4; i++) sleep_ms(5); /* E, C, D and B */
  assert_int_equal(atomic_load(&g_keys_done), 4);
  gate_open(&ga);
  for (int i = 0; i < 1000 && atomic_load(&g_keys_done) < 5; i++) sleep_ms(5);
  assert_int_equal(atomic_load(&g_keys_done), 5);
  grp_expect(ex, &before, 0, 1, 0); /* one group: C and D */
  for (int i = 0; i < 3; i++) {
    assert_int_equal(jobs[i].job.status, DB_JOB_COMMIT);
    assert_int_equal(jobs[i].runs, 1);
  }
  assert_true(jobs[0].order > jobs[1].order && jobs[0].order > jobs[2].order);
  assert_true(jobs[1].order < jobs[2].order); /* in the group, in key order */
  assert_int_equal(exec_count(ex, &Q_GRP_SHARED), 3);
  db_exec_stop(ex);
  gate_destroy(&ga);
  gate_destroy(&ge);
}

/* D63: a write group's holds of one statement go as one statement over arrays: plain INSERTs
 * (one row and several), an UPDATE of each job's own row (ROWS), the shared head (LAST, the last
 * job's values stay) and the shared lane (SUM). What lands is what the jobs one by one would
 * have written, texts with quotes, backslashes, braces and NULLs included; a merged statement
 * that fails (two jobs' ROWS on one row, a key taken) makes the group run alone. */
struct merge_job {
  db_job job;
  int id;
  int acct; /* the t_mrg_acct row it adds 1 to */
  bool dup; /* its second row takes the id of the first group's first job's */
  int runs;
};

static const db_sql Q_MRG_ROW = {.name = "mrg_row", .sql = "INSERT INTO t_mrg_row (id, job, note) VALUES ($1, $2, $3)"};
static const db_sql Q_MRG_EV = {.name = "mrg_ev", .sql = "INSERT INTO t_mrg_ev (id, s, k) VALUES ($1, 1, 'made'), ($1, 2, $2)"};
static const db_sql Q_MRG_ACCT = {.name = "mrg_acct", .sql = "UPDATE t_mrg_acct SET bal = bal + $2 WHERE id = $1"};
static const db_sql Q_MRG_HEAD_GET = {.name = "mrg_head_get", .sql = "SELECT seq FROM t_mrg_head WHERE id = 0 FOR UPDATE"};
static const db_sql Q_MRG_HEAD = {.name = "mrg_head", .sql = "UPDATE t_mrg_head SET seq = $2, h = $3 WHERE id = $1"};
static const db_sql Q_MRG_LANE = {
    .name = "mrg_lane",
    .sql = "INSERT INTO t_mrg_lane AS l (id, bal) SELECT $1, $2 ON CONFLICT (id) DO UPDATE SET bal = l.bal + EXCLUDED.bal"};

/* Each job prefetches the rows of t_mrg_look for its id (id % 3 of them, the second with a NULL)
 * and their count through a WITH that locks them: merged, the answers must come back split,
 * each job's its own. */
static const db_sql Q_MRG_LOOK = {.name = "mrg_look", .sql = "SELECT n, s FROM t_mrg_look WHERE k = $1 ORDER BY n DESC"};
static const db_sql Q_MRG_LOOK_N = {
    .name = "mrg_look_n", .sql = "WITH x AS (SELECT n FROM t_mrg_look WHERE k = $1 FOR UPDATE) SELECT count(*) FROM x"};

static int mrg_prefetch(db_conn *c, void *arg) {
  struct merge_job *j = arg;
  db_val k[] = {db_int(j->id)};
  int rc = db_prefetch(c, &Q_MRG_LOOK, k, 1);
  return rc < 0 ? rc : db_prefetch(c, &Q_MRG_LOOK_N, k, 1);
}

static int mrg_check_look(db_conn *c, const struct merge_job *j) {
  db_val k[] = {db_int(j->id)};
  db_cursor *cur = NULL;
  int rc = db_query(c, &Q_MRG_LOOK, k, 1, &cur);
  if (rc < 0) return rc;
  int want = j->id % 3, got = 0;
  while ((rc = db_step(cur)) == DB_ROW) {
    char s[32];
    int n = want - got++;
    snprintf(s, sizeof s, "s%d-%d", j->id, n);
    if (db_col_int(cur, 0) != n || (n == 2 ? !db_col_null(cur, 1) : strcmp(db_col_text(cur, 1), s) != 0)) rc = DB_ERR;
    if (rc == DB_ERR) break;
  }
  db_reset(cur);
  if (rc < 0) return rc;
  int64_t count = -1;
  if (got != want || db_query_int(c, &Q_MRG_LOOK_N, k, 1, &count) != DB_ROW || count != want) return DB_ERR;
  return DB_OK;
}

static int mrg_run(db_conn *c, void *arg) {
  struct merge_job *j = arg;
  j->runs++;
  if (mrg_check_look(c, j) != DB_OK) return DB_ERR;
  char note[64], row_id[32], memo[32];
  snprintf(note, sizeof note, "n%d \"q\" \\b {x,y} 'z'", j->id);
  int rc = DB_OK;
  for (int r = 0; r < 2 && rc >= 0; r++) { /* two rows a job; job 2's second without a note */
    snprintf(row_id, sizeof row_id, "r%d-%d", j->dup && r == 1 ? 1 : j->id, r);
    db_val v[] = {db_text(row_id), db_int(j->id), j->id == 2 && r == 1 ? db_null() : db_text(note)};
    rc = db_run_later(c, &Q_MRG_ROW, v, 3, 1);
  }
  snprintf(row_id, sizeof row_id, "e%d", j->id);
  db_val ev[] = {db_text(row_id), db_text(note)};
  if (rc >= 0) rc = db_run_later(c, &Q_MRG_EV, ev, 2, 2);
  db_val acct[] = {db_int(j->acct), db_int(1)};
  if (rc >= 0) rc = db_run_later_merge(c, &Q_MRG_ACCT, acct, 2, 1, DB_MERGE_ROWS, false);
  int64_t seq = 0; /* the head as the audit chain's: through the memo after the group's first job */
  if (rc >= 0 && db_group_memo_get(c, "mrg head", memo, sizeof memo)) seq = strtoll(memo, NULL, 10);
  else if (rc >= 0 && db_query_int(c, &Q_MRG_HEAD_GET, NULL, 0, &seq) != DB_ROW) rc = DB_ERR;
  char h[16];
  snprintf(h, sizeof h, "h%d", j->id);
  db_val head[] = {db_int(0), db_int(seq + 1), db_text(h)};
  if (rc >= 0) rc = db_run_later_merge(c, &Q_MRG_HEAD, head, 3, 1, DB_MERGE_LAST, false);
  snprintf(memo, sizeof memo, "%lld", (long long)(seq + 1));
  if (rc >= 0) rc = db_group_memo_set(c, "mrg head", memo);
  db_val lane[] = {db_int(7), db_int(j->id)};
  if (rc >= 0) rc = db_run_later_merge(c, &Q_MRG_LANE, lane, 2, 1, DB_MERGE_SUM, false);
  return rc < 0 ? rc : DB_JOB_COMMIT;
}

static void mrg_submit(db_exec *ex, struct merge_job *jobs, int n) {
  static const char *const keys[8] = {"k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8"};
  db_job *all[8];
  assert_true(n <= 8);
  for (int i = 0; i < n; i++) {
    jobs[i].job = (db_job){.mode = DB_JOB_WRITE, .prefetch = mrg_prefetch, .run = mrg_run, .arg = &jobs[i],
                           .group_key = keys[i], .group_with = "m"};
    all[i] = &jobs[i].job;
  }
  submit_gated(ex, all, n);
}

/* rows as written: their ids, notes and events exactly as the jobs gave them */
static const db_sql Q_MRG_ROWS = {
    .name = "mrg_rows",
    .sql = "SELECT count(*) FROM t_mrg_row r JOIN t_mrg_ev e1 ON e1.id = 'e' || r.job AND e1.s = 1 AND e1.k = 'made' "
           "JOIN t_mrg_ev e2 ON e2.id = e1.id AND e2.s = 2 AND e2.k = 'n' || r.job || ' \"q\" \\b {x,y} ''z''' "
           "WHERE r.id IN ('r' || r.job || '-0', 'r' || r.job || '-1') AND (r.note = e2.k OR (r.note IS NULL AND r.job = 2))"};
static const db_sql Q_MRG_NULLS = {.name = "mrg_nulls", .sql = "SELECT count(*) FROM t_mrg_row WHERE note IS NULL"};
static const db_sql Q_MRG_BAL = {.name = "mrg_bal", .sql = "SELECT COALESCE(sum(bal), 0) FROM t_mrg_acct"};
static const db_sql Q_MRG_SEQ = {.name = "mrg_seq", .sql = "SELECT seq * 100 + CAST(substr(h, 2) AS INTEGER) FROM t_mrg_head WHERE id = 0"};
static const db_sql Q_MRG_LANE_BAL = {.name = "mrg_lane_bal", .sql = "SELECT bal FROM t_mrg_lane WHERE id = 7"};

/* the planner settings of the pool connection: back as they were after a merged pipeline (the
 * executor's sessions plan no sequential scan, D65) */
static const db_sql Q_MRG_PLANS = {
    .name = "mrg_plans",
    .sql = "SELECT CASE WHEN current_setting('plan_cache_mode') = 'auto' AND current_setting('enable_seqscan') = 'off' "
           "AND current_setting('enable_hashjoin') = 'on' AND current_setting('enable_mergejoin') = 'on' THEN 1 ELSE 0 END"};

static int64_t pool_count(db_exec *ex, const db_sql *q) {
  struct count_arg a = {.q = q, .value = -1};
  db_job job = {.mode = DB_JOB_WRITE, .run = count_run, .arg = &a};
  assert_int_equal(db_exec_run_sync(ex, &job), DB_JOB_COMMIT);
  return a.value;
}

/* grp_expect's groups and reruns, and the holds merged */
static void mrg_expect(db_exec *ex, const struct db_exec_stats *before, uint64_t merged, uint64_t groups, uint64_t reruns) {
  struct db_exec_stats after;
  db_exec_stats(ex, &after);
  assert_int_equal(after.holds_merged - before->holds_merged, merged);
  grp_expect(ex, before, 0, groups, reruns);
}

static void pg_exec_write_group_merge(void **state) {
  char url[URL_LEN], err[ERR_LEN];
  case_url(state, url, sizeof url);
  db_conn *c = open_ok(url);
  script_ok(c, "DROP TABLE IF EXISTS t_mrg_row, t_mrg_ev, t_mrg_acct, t_mrg_head, t_mrg_lane, t_mrg_look;"
               "CREATE TABLE t_mrg_row (id TEXT PRIMARY KEY, job BIGINT NOT NULL, note TEXT);"
               "CREATE TABLE t_mrg_ev (id TEXT NOT NULL, s INTEGER NOT NULL, k TEXT NOT NULL, PRIMARY KEY (id, s));"
               "CREATE TABLE t_mrg_acct (id INTEGER PRIMARY KEY, bal BIGINT NOT NULL);"
               "INSERT INTO t_mrg_acct SELECT i, 0 FROM generate_series(1, 99) AS i;"
               "CREATE TABLE t_mrg_head (id INTEGER PRIMARY KEY, seq BIGINT NOT NULL, h TEXT NOT NULL);"
               "INSERT INTO t_mrg_head VALUES (0, 0, 'h0');"
               "CREATE TABLE t_mrg_lane (id INTEGER PRIMARY KEY, bal BIGINT NOT NULL);"
               "CREATE TABLE t_mrg_look (k INTEGER NOT NULL, n INTEGER NOT NULL, s TEXT, PRIMARY KEY (k, n));"
               "INSERT INTO t_mrg_look SELECT k, n, CASE WHEN n = 2 THEN NULL ELSE 's' || k || '-' || n END "
               "FROM generate_series(1, 99) AS k, generate_series(1, 2) AS n WHERE n <= k % 3");
  db_close(c);
  struct db_exec_config cfg = {.url = url, .readers = 1, .pool_size = 1, .queue_max = 100, .write_group = 8};
  db_exec *ex = db_exec_start(&cfg, err, sizeof err);
  if (ex == NULL) fail_msg("db_exec_start: %s", err);
  struct merge_job jobs[8];
  struct db_exec_stats before;
  /* eight jobs, one group. BEGIN's pipeline carries the 8 + 8 prefetches in two statements
   * (7 + 7 merged). The first job's rows, event and account go before its head read (1: its
   * two rows); COMMIT's pipeline then carries 14 rows, 7 events and 7 accounts of the others
   * and 8 heads and 8 lanes of all, one statement each: 13 + 6 + 6 + 7 + 7. */
  memset(jobs, 0, sizeof jobs);
  for (int i = 0; i < 8; i++) jobs[i] = (struct merge_job){.id = i + 1, .acct = i + 1};
  db_exec_stats(ex, &before);
  mrg_submit(ex, jobs, 8);
  for (int i = 0; i < 8; i++) assert_int_equal(jobs[i].job.status, DB_JOB_COMMIT);
  mrg_expect(ex, &before, 7 + 7 + 1 + 13 + 6 + 6 + 7 + 7, 1, 0);
  assert_int_equal(exec_count(ex, &Q_MRG_ROWS), 16);
  assert_int_equal(exec_count(ex, &Q_MRG_NULLS), 1);
  assert_int_equal(exec_count(ex, &Q_MRG_BAL), 8);
  assert_int_equal(exec_count(ex, &Q_MRG_SEQ), 8 * 100 + 8); /* seq 8 and the last job's h8 */
  assert_int_equal(exec_count(ex, &Q_MRG_LANE_BAL), 36);     /* 1 + 2 + ... + 8 */
  assert_int_equal(pool_count(ex, &Q_MRG_PLANS), 1);
  /* the same again, set forms prepared: BEGIN's pipeline with the prefetches, the first job's
   * head read, COMMIT */
  memset(jobs, 0, sizeof jobs);
  for (int i = 0; i < 2; i++) jobs[i] = (struct merge_job){.id = 41 + i, .acct = 41 + i};
  db_exec_stats(ex, &before);
  mrg_submit(ex, jobs, 2);
  mrg_expect(ex, &before, 2 + 1 + 1 + 1 + 1, 1, 0); /* prefetches, rows of 41, rows of 42, heads, lanes */
  struct db_exec_stats after;
  db_exec_stats(ex, &after);
  assert_int_equal(after.round_trips - before.round_trips, 3);
  /* two jobs' ROWS on one row: the merged UPDATE changes it once, a count short; alone, both */
  memset(jobs, 0, sizeof jobs);
  for (int i = 0; i < 4; i++) jobs[i] = (struct merge_job){.id = 11 + i, .acct = 11 + i};
  jobs[3].acct = jobs[1].acct;
  db_exec_stats(ex, &before);
  mrg_submit(ex, jobs, 4);
  for (int i = 0; i < 4; i++) {
    assert_int_equal(jobs[i].job.status, DB_JOB_COMMIT);
    assert_int_equal(jobs[i].runs, 2);
  }
  mrg_expect(ex, &before, 3 + 3 + 1 + 5 + 2 + 2 + 3 + 3, 1, 1);
  assert_int_equal(exec_count(ex, &Q_MRG_ROWS), 28);
  assert_int_equal(exec_count(ex, &Q_MRG_BAL), 14);
  assert_int_equal(exec_count(ex, &Q_MRG_SEQ), 14 * 100 + 14);
  assert_int_equal(exec_count(ex, &Q_MRG_LANE_BAL), 36 + 83 + 11 + 12 + 13 + 14);
  /* a row id taken: the merged INSERT fails; alone, only the job that took it fails */
  memset(jobs, 0, sizeof jobs);
  for (int i = 0; i < 4; i++) jobs[i] = (struct merge_job){.id = 21 + i, .acct = 21 + i};
  jobs[2].dup = true;
  db_exec_stats(ex, &before);
  mrg_submit(ex, jobs, 4);
  for (int i = 0; i < 4; i++) {
    if (i == 2) assert_true(jobs[i].job.status < 0);
    else assert_int_equal(jobs[i].job.status, DB_JOB_COMMIT);
  }
  mrg_expect(ex, &before, 3 + 3 + 1 + 5 + 2 + 2 + 3 + 3, 1, 1);
  assert_int_equal(exec_count(ex, &Q_MRG_ROWS), 34);
  assert_int_equal(exec_count(ex, &Q_MRG_BAL), 17);
  assert_int_equal(exec_count(ex, &Q_MRG_SEQ), 17 * 100 + 24);
  assert_int_equal(exec_count(ex, &Q_MRG_LANE_BAL), 169 + 21 + 22 + 24);
  assert_int_equal(pool_count(ex, &Q_MRG_PLANS), 1); /* a merged pipeline that failed */
  db_exec_stop(ex);
  /* write_group 1: nothing merged */
  cfg.write_group = 1;
  ex = db_exec_start(&cfg, err, sizeof err);
  if (ex == NULL) fail_msg("db_exec_start: %s", err);
  memset(jobs, 0, sizeof jobs);
  for (int i = 0; i < 3; i++) jobs[i] = (struct merge_job){.id = 31 + i, .acct = 31 + i};
  db_exec_stats(ex, &before);
  mrg_submit(ex, jobs, 3);
  mrg_expect(ex, &before, 0, 0, 0);
  assert_int_equal(exec_count(ex, &Q_MRG_ROWS), 40);
  assert_int_equal(exec_count(ex, &Q_MRG_SEQ), 20 * 100 + 33);
  assert_int_equal(exec_count(ex, &Q_MRG_LANE_BAL), 236 + 31 + 32 + 33);
  db_exec_stop(ex);
}

/* Inline reads: SQLite READ jobs run on the caller's thread on a lent, read-only connection;
 * anything else (a WRITE job, PostgreSQL, no lent connection) is left to the queue. */
static int inline_count_run(db_conn *c, void *arg) {
  static const db_sql cnt = {.name = "inline_cnt", .sql = "SELECT count(*) FROM t_ro"};
  return db_query_int(c, &cnt, NULL, 0, arg) == DB_ROW ? DB_JOB_COMMIT : DB_ERR;
}

static void exec_inline_reads(void **state) {
  char url[URL_LEN];
  case_url(state, url, sizeof url);
  bool pg = ((struct backend *)*state)->kind == DB_POSTGRES;
  db_conn *c = open_ok(url);
  script_ok(c, "DROP TABLE IF EXISTS t_ro; CREATE TABLE t_ro (v INTEGER); INSERT INTO t_ro VALUES (1), (2)");
  db_close(c);
  struct db_exec_config cfg = {.url = url, .readers = 1, .pool_size = 2, .batch_max = 8,
                               .queue_max = 10, .inline_readers = 1};
  char err[ERR_LEN];
  db_exec *ex = db_exec_start(&cfg, err, sizeof err);
  if (ex == NULL) fail_msg("db_exec_start: %s", err);
  int64_t n = 0;
  db_job rd = {.mode = DB_JOB_READ, .run = inline_count_run, .arg = &n};
  struct db_exec_stats st;
  if (pg) {
    assert_int_equal(db_exec_run_inline(ex, &rd), 0);
  } else {
    for (int i = 0; i < 3; i++) { /* the lent connection comes back each time */
      n = 0;
      assert_int_equal(db_exec_run_inline(ex, &rd), 1);
      assert_int_equal(rd.status, DB_JOB_COMMIT);
      assert_int_equal(n, 2);
    }
    db_exec_stats(ex, &st);
    assert_int_equal(st.jobs_inline, 3);
    db_job wr_inline = {.mode = DB_JOB_READ, .run = ro_write_run}; /* read-only, as the readers */
    assert_int_equal(db_exec_run_inline(ex, &wr_inline), 1);
    assert_true(wr_inline.status < 0);
  }
  db_job wr = {.mode = DB_JOB_WRITE, .run = ro_write_run};
  assert_int_equal(db_exec_run_inline(ex, &wr), 0);
  assert_int_equal(wr.status, 0);
  db_exec_stop(ex);
  /* none lent: always the queue */
  cfg.inline_readers = 0;
  ex = db_exec_start(&cfg, err, sizeof err);
  if (ex == NULL) fail_msg("db_exec_start: %s", err);
  assert_int_equal(db_exec_run_inline(ex, &rd), 0);
  db_exec_stop(ex);
  cfg.inline_readers = 65;
  assert_null(db_exec_start(&cfg, err, sizeof err));
  assert_non_null(strstr(err, "inline_readers"));
}

/* SQLite: a write is answered only after the sync thread made it durable, and so is a read
 * that saw it (inline or on a reader thread); the sync thread is held at a gate before its
 * fdatasync(). */
struct durable_probe {
  atomic_int done;
  int64_t seen;
};

static void durable_done(db_job *job) {
  struct durable_probe *p = job->arg;
  atomic_fetch_add(&p->done, 1);
}

static int durable_insert_run(db_conn *c, void *arg) {
  (void)arg;
  static const db_sql ins = {.name = "durable_ins", .sql = "INSERT INTO t_dur (v) VALUES (7)"};
  int rc = db_run(c, &ins, NULL, 0, NULL);
  return rc < 0 ? rc : DB_JOB_COMMIT;
}

static int durable_count_run(db_conn *c, void *arg) {
  struct durable_probe *p = arg;
  static const db_sql cnt = {.name = "durable_cnt", .sql = "SELECT count(*) FROM t_dur"};
  return db_query_int(c, &cnt, NULL, 0, &p->seen) == DB_ROW ? DB_JOB_COMMIT : DB_ERR;
}

static void sync_gate(void *arg) { gate_pass(arg); }

static void wait_done(struct durable_probe *p, int want) {
  for (int i = 0; i < 5000 && atomic_load(&p->done) < want; i++) sleep_ms(1);
  assert_int_equal(atomic_load(&p->done), want);
}

static void exec_durable_replies(void **state) {
  char url[URL_LEN];
  case_url(state, url, sizeof url);
  db_conn *c = open_ok(url);
  script_ok(c, "DROP TABLE IF EXISTS t_dur; CREATE TABLE t_dur (v INTEGER)");
  db_close(c);
  struct gate g;
  gate_init(&g);
  struct db_exec_config cfg = {.url = url, .readers = 1, .pool_size = 2, .batch_max = 8,
                               .queue_max = 10, .inline_readers = 1, .before_sync = sync_gate,
                               .before_sync_arg = &g};
  char err[ERR_LEN];
  db_exec *ex = db_exec_start(&cfg, err, sizeof err);
  if (ex == NULL) fail_msg("db_exec_start: %s", err);
  struct durable_probe wp = {0}, ip = {0}, rp = {0};
  db_job wr = {.mode = DB_JOB_WRITE, .run = durable_insert_run, .done = durable_done, .arg = &wp};
  assert_int_equal(db_exec_submit(ex, &wr), 0);
  gate_wait_entered(&g); /* committed; the sync thread waits before its fdatasync() */
  db_job in = {.mode = DB_JOB_READ, .run = durable_count_run, .done = durable_done, .arg = &ip};
  assert_int_equal(db_exec_run_inline(ex, &in), 2); /* it saw a commit that is not durable */
  assert_int_equal(ip.seen, 1);
  db_exec_done_when_durable(ex, &in);
  db_job rd = {.mode = DB_JOB_READ, .run = durable_count_run, .done = durable_done, .arg = &rp};
  assert_int_equal(db_exec_submit(ex, &rd), 0);
  sleep_ms(50);
  assert_int_equal(atomic_load(&wp.done), 0); /* nobody is answered before the sync */
  assert_int_equal(atomic_load(&ip.done), 0);
  assert_int_equal(atomic_load(&rp.done), 0);
  gate_open(&g);
  wait_done(&wp, 1);
  wait_done(&ip, 1);
  wait_done(&rp, 1);
  assert_int_equal(wr.status, DB_JOB_COMMIT);
  assert_int_equal(rp.seen, 1);
  /* everything synced: a read is answered at once */
  struct durable_probe np = {0};
  db_job now = {.mode = DB_JOB_READ, .run = durable_count_run, .arg = &np};
  assert_int_equal(db_exec_run_inline(ex, &now), 1);
  assert_int_equal(np.seen, 1);
  struct db_exec_stats st;
  db_exec_stats(ex, &st);
  assert_true(st.wal_syncs >= 1);
  assert_int_equal(st.durable_waits, 2);
  assert_int_equal(st.jobs_done, 4);
  db_exec_stop(ex);
  gate_destroy(&g);
}

/* SQLite: the writer lets the WAL start over once it holds wal_restart_frames frames (D48).
 * 400 commits of a 4000-byte row: the WAL file ends at 81-114 frames with a limit of 64, at
 * 647-1199 with none. Allowed: four times the limit, not twice and a few groups: when the
 * writer's checkpoint meets the checkpointer thread's pass (likelier on a loaded machine) it
 * copies nothing and is tried again a quarter of the limit later (seen once beside the
 * PostgreSQL API suite). */
static void exec_wal_starts_over(void **state) {
  char url[URL_LEN];
  case_url(state, url, sizeof url);
  db_conn *c = open_ok(url);
  script_ok(c, "CREATE TABLE t_ck (id INTEGER PRIMARY KEY, v BLOB NOT NULL)");
  db_close(c);
  struct db_exec_config cfg = {.url = url, .readers = 1, .batch_max = 8, .queue_max = 10,
                               .wal_restart_frames = 63};
  char err[ERR_LEN] = "";
  assert_null(db_exec_start(&cfg, err, sizeof err));
  assert_non_null(strstr(err, "wal_restart_frames 63 is outside"));
  cfg.wal_restart_frames = 64;
  db_exec *ex = db_exec_start(&cfg, err, sizeof err);
  if (ex == NULL) fail_msg("db_exec_start: %s", err);
  for (int i = 0; i < 400; i++) {
    db_job job = {.mode = DB_JOB_WRITE, .run = ck_run};
    assert_int_equal(db_exec_run_sync(ex, &job), DB_JOB_COMMIT);
  }
  struct db_exec_stats st;
  db_exec_stats(ex, &st);
  assert_true(st.writer_checkpoints >= 3);
  char wal[URL_LEN + 8];
  snprintf(wal, sizeof wal, "%s-wal", url + strlen("sqlite:"));
  off_t wal_size = file_size(wal);
  assert_true(wal_size > 0 && wal_size <= (off_t)(4 * 64) * (4096 + 24) + 32);
  db_exec_stop(ex);
  c = open_ok(url);
  int64_t n = 0;
  static const db_sql cnt = {.name = "ck_cnt", .sql = "SELECT count(*) FROM t_ck"};
  assert_int_equal(db_query_int(c, &cnt, NULL, 0, &n), DB_ROW);
  assert_int_equal(n, 400);
  db_close(c);
}

/* READ jobs have threads of their own: a read is answered while every writing thread is
 * busy (D54). PostgreSQL with no readers: the pool takes the reads as well. */
static int count_ro_run(db_conn *c, void *arg) {
  static const db_sql cnt = {.name = "rw_cnt", .sql = "SELECT count(*) FROM t_rw"};
  return db_query_int(c, &cnt, NULL, 0, arg) == DB_ROW ? DB_JOB_COMMIT : DB_ERR;
}

static void exec_reads_beside_busy_writers(void **state) {
  char url[URL_LEN], err[ERR_LEN];
  case_url(state, url, sizeof url);
  bool pg = ((struct backend *)*state)->kind == DB_POSTGRES;
  db_conn *c = open_ok(url);
  script_ok(c, "DROP TABLE IF EXISTS t_rw; CREATE TABLE t_rw (v INTEGER); INSERT INTO t_rw VALUES (1)");
  db_close(c);
  struct db_exec_config cfg = {.url = url, .readers = 1, .pool_size = 1, .batch_max = 1, .queue_max = 10};
  db_exec *ex = db_exec_start(&cfg, err, sizeof err);
  if (ex == NULL) fail_msg("db_exec_start: %s", err);
  struct gate g;
  gate_init(&g);
  db_job wr = {.mode = DB_JOB_WRITE, .run = gate_job, .arg = &g};
  assert_int_equal(db_exec_submit(ex, &wr), 0);
  gate_wait_entered(&g); /* the only writing thread is held inside its job */
  int64_t n = 0;
  db_job rd = {.mode = DB_JOB_READ, .run = count_ro_run, .arg = &n};
  assert_int_equal(db_exec_run_sync(ex, &rd), DB_JOB_COMMIT);
  assert_int_equal(n, 1);
  gate_open(&g);
  db_exec_stop(ex);
  gate_destroy(&g);
  if (!pg) {
    cfg.readers = 0; /* SQLite always has its readers */
    assert_null(db_exec_start(&cfg, err, sizeof err));
    assert_non_null(strstr(err, "readers 0 is outside 1..64"));
    return;
  }
  cfg.readers = 0;
  ex = db_exec_start(&cfg, err, sizeof err);
  if (ex == NULL) fail_msg("db_exec_start: %s", err);
  n = 0;
  assert_int_equal(db_exec_run_sync(ex, &rd), DB_JOB_COMMIT);
  assert_int_equal(n, 1);
  db_exec_stop(ex);
  cfg.readers = 65;
  assert_null(db_exec_start(&cfg, err, sizeof err));
  assert_non_null(strstr(err, "readers 65 is outside 0..64"));
}

static void exec_config_errors(void **state) {
  char url[URL_LEN], err[ERR_LEN];
  case_url(state, url, sizeof url);
  bool pg = ((struct backend *)*state)->kind == DB_POSTGRES;
  struct db_exec_config good = {.url = url, .readers = 1, .pool_size = 1, .batch_max = 1,
                                .queue_max = 1};
  struct db_exec_config bad[4] = {good, good, good, good};
  bad[0].queue_max = 0;
  bad[1].queue_max = 1000001;
  if (pg) {
    bad[2].pool_size = 0;
    bad[3].pool_size = 257;
  } else {
    bad[2].readers = 65;
    bad[3].batch_max = 1025;
  }
  for (int i = 0; i < 4; i++) {
    err[0] = '\0';
    assert_null(db_exec_start(&bad[i], err, sizeof err));
    assert_non_null(strstr(err, "outside"));
  }
  assert_null(db_exec_start(NULL, err, sizeof err));
  if (!pg) {
    struct db_exec_config mem = good;
    mem.url = "sqlite::memory:";
    assert_null(db_exec_start(&mem, err, sizeof err));
    assert_non_null(strstr(err, "in-memory"));
  }
  db_exec *ex = db_exec_start(&good, err, sizeof err);
  assert_non_null(ex);
  db_exec_stop(ex);
}

/* PostgreSQL: a pool connection killed by the server is re-established for the next job. */
static int pid_run(db_conn *c, void *arg) {
  static const db_sql q = {.name = "backend_pid", .sql = "SELECT pg_backend_pid()"};
  int rc = db_query_int(c, &q, NULL, 0, arg);
  return rc < 0 ? rc : DB_JOB_COMMIT;
}

static void exec_pg_reconnect(void **state) {
  char url[URL_LEN];
  case_url(state, url, sizeof url);
  if (((struct backend *)*state)->kind != DB_POSTGRES) skip();
  db_exec *ex = exec_ok(url, 0, 1, 10); /* pool_size 1 */
  int64_t pid = 0, pid2 = 0;
  db_job job = {.mode = DB_JOB_READ, .run = pid_run, .arg = &pid};
  assert_int_equal(db_exec_run_sync(ex, &job), DB_JOB_COMMIT);
  db_conn *c = open_ok(url);
  static const db_sql kill = {
      .name = "kill", .sql = "SELECT CASE WHEN pg_terminate_backend($1::int) THEN 1 ELSE 0 END"};
  db_val p = db_int(pid);
  assert_int_equal(query_int_ok(c, &kill, &p, 1), 1);
  db_close(c);
  sleep_ms(100);
  job.arg = &pid2;
  assert_int_equal(db_exec_run_sync(ex, &job), DB_JOB_COMMIT);
  assert_true(pid2 != pid && pid2 > 0);
  /* the executor's sessions plan no sequential scan (D65), a re-established one too; a
   * connection of its own (mpsctl's) plans as the server is configured */
  static const db_sql noseq = {
      .name = "noseq", .sql = "SELECT CASE WHEN current_setting('enable_seqscan') = 'off' THEN 1 ELSE 0 END"};
  assert_int_equal(exec_count(ex, &noseq), 1);
  c = open_ok(url);
  assert_int_equal(query_int_ok(c, &noseq, NULL, 0), 0);
  db_close(c);
  db_exec_stop(ex);
}

/* D66: a pool session's lane is its own among every session of the database, whichever
 * process opened it: each holds its lane's advisory lock, no two hold one lane, a plain
 * connection claims none, a closed session's lane is free again and a re-established session
 * claims one again. (Other test processes may share the database: no lane number is assumed.) */
static const db_sql q_lane_locks = {
    .name = "lane_locks",
    .sql = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 1836086124 "
           "AND objsubid = 2 AND granted AND pid = $1::int AND ($2::int < 0 OR objid = $2::int)"};
static const db_sql q_backend_pid = {.name = "backend_pid", .sql = "SELECT pg_backend_pid()"};

static int64_t lane_locks(db_conn *obs, db_conn *c, int lane) {
  db_val a[] = {db_int(query_int_ok(c, &q_backend_pid, NULL, 0)), db_int(lane)};
  return query_int_ok(obs, &q_lane_locks, a, 2);
}

static db_conn *open_lane_ok(const char *url) {
  char err[ERR_LEN];
  db_conn *c = db_open_flags(url, DB_OPEN_LANE, err, sizeof err);
  if (c == NULL) fail_msg("db_open_flags(%s, DB_OPEN_LANE): %s", url, err);
  return c;
}

static void pg_own_lanes(void **state) {
  char url[URL_LEN];
  case_url(state, url, sizeof url);
  if (((struct backend *)*state)->kind != DB_POSTGRES) skip();
  db_conn *obs = open_ok(url);
  enum { N = 4 };
  db_conn *c[N];
  for (int i = 0; i < N; i++) {
    c[i] = open_lane_ok(url);
    int lane = db_conn_lane(c[i]);
    assert_true(lane >= 0 && lane < DB_MAX_LANES);
    for (int j = 0; j < i; j++) assert_int_not_equal(db_conn_lane(c[j]), lane);
    assert_int_equal(lane_locks(obs, c[i], lane), 1);
    assert_int_equal(lane_locks(obs, c[i], -1), 1); /* that one only */
  }
  db_conn *plain = open_ok(url);
  assert_int_equal(db_conn_lane(plain), 0);
  assert_int_equal(lane_locks(obs, plain, -1), 0);
  db_close(plain);

  /* closed: its lane can be taken again (the server lets go as the backend exits) */
  int freed = db_conn_lane(c[1]);
  db_close(c[1]);
  static const db_sql try_lane = {
      .name = "try_lane",
      .sql = "SELECT CASE WHEN pg_try_advisory_lock(1836086124, $1::int4) THEN 1 ELSE 0 END"};
  static const db_sql unlock_lane = {
      .name = "unlock_lane",
      .sql = "SELECT CASE WHEN pg_advisory_unlock(1836086124, $1::int4) THEN 1 ELSE 0 END"};
  db_val fl = db_int(freed);
  int64_t got = 0;
  for (int i = 0; i < 200 && got == 0; i++) {
    got = query_int_ok(obs, &try_lane, &fl, 1);
    if (got == 0) sleep_ms(10);
  }
  assert_int_equal(got, 1);
  assert_int_equal(query_int_ok(obs, &unlock_lane, &fl, 1), 1);

  /* lost: the session that replaces it claims a lane again, still its own */
  static const db_sql kill = {
      .name = "kill", .sql = "SELECT CASE WHEN pg_terminate_backend($1::int) THEN 1 ELSE 0 END"};
  db_val pid = db_int(query_int_ok(c[0], &q_backend_pid, NULL, 0));
  assert_int_equal(query_int_ok(obs, &kill, &pid, 1), 1);
  sleep_ms(100);
  int64_t v = 0;
  assert_true(db_query_int(c[0], &q_backend_pid, NULL, 0, &v) < 0);
  assert_int_equal(db_reconnect_if_lost(c[0]), DB_OK);
  assert_int_not_equal(query_int_ok(c[0], &q_backend_pid, NULL, 0), pid.i);
  int lane = db_conn_lane(c[0]);
  assert_int_equal(lane_locks(obs, c[0], lane), 1);
  assert_int_not_equal(lane, db_conn_lane(c[2]));
  assert_int_not_equal(lane, db_conn_lane(c[3]));
  for (int i = 0; i < N; i++)
    if (i != 1) db_close(c[i]);
  db_close(obs);
}

/* ---- migrations --------------------------------------------------------------------- */

/* Start a migration case from an empty schema: every migration creates tables, so dropping
 * only some of them would make re-applying fail. SQLite cases get a fresh file anyway. */
static void reset_schema(db_conn *c) {
  if (db_conn_kind(c) == DB_POSTGRES) {
    char sql[256];
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", g_pg_schema, g_pg_schema);
    script_ok(c, sql);
    return;
  }
  script_ok(c, "DROP TABLE IF EXISTS schema_migrations; DROP TABLE IF EXISTS idempotency_keys");
}

static void migrations_apply_and_status(void **state) {
  char url[URL_LEN], err[ERR_LEN];
  db_conn *c = open_ok(case_url(state, url, sizeof url));
  reset_schema(c);
  size_t n = 0;
  const struct migration *list = migrations_for(db_conn_kind(c), &n);
  assert_true(n >= 1 && list != NULL);
  assert_int_equal(list[0].version, 1);
  assert_string_equal(list[0].name, "idempotency");
  struct migrate_status st;
  assert_int_equal(migrate_status_get(c, &st, err, sizeof err), DB_OK);
  assert_int_equal(st.current, 0);
  assert_int_equal(st.latest, (int)n);
  assert_int_equal(st.pending, (int)n);
  assert_int_equal(st.unknown, 0);
  int applied = -1;
  if (migrate_apply(c, &applied, err, sizeof err) != DB_OK) fail_msg("apply: %s", err);
  assert_int_equal(applied, (int)n);
  assert_int_equal(migrate_apply(c, &applied, err, sizeof err), DB_OK);
  assert_int_equal(applied, 0); /* idempotent */
  assert_int_equal(migrate_status_get(c, &st, err, sizeof err), DB_OK);
  assert_int_equal(st.current, (int)n);
  assert_int_equal(st.pending, 0);
  /* The idempotency table is there with its CHECK. */
  static const db_sql ins = {
      .name = "idem_ins",
      .sql = "INSERT INTO idempotency_keys (scope, idem_key, request_hash, state,"
             " created_at_ms) VALUES ($1, $2, $3, $4, $5)"};
  db_val row[5] = {db_text("m1"), db_text("k1"), db_text("h"), db_text("running"), db_int(1)};
  assert_int_equal(db_run(c, &ins, row, 5, NULL), DB_OK);
  row[1] = db_text("k2");
  row[3] = db_text("bogus");
  assert_int_equal(db_run(c, &ins, row, 5, NULL), DB_CONSTRAINT);
  db_close(c);
}

static void migrations_refuse_unknown_and_edited(void **state) {
  char url[URL_LEN], err[ERR_LEN];
  db_conn *c = open_ok(case_url(state, url, sizeof url));
  reset_schema(c);
  int applied = 0;
  if (migrate_apply(c, &applied, err, sizeof err) != DB_OK) fail_msg("apply: %s", err);
  /* A newer binary applied version 9999. */
  script_ok(c, "INSERT INTO schema_migrations (version, name, applied_at_ms, checksum)"
               " VALUES (9999, 'future', 0, 'x')");
  assert_int_equal(migrate_apply(c, &applied, err, sizeof err), DB_ERR);
  assert_non_null(strstr(err, "does not know"));
  assert_int_equal(applied, 0);
  struct migrate_status st;
  assert_int_equal(migrate_status_get(c, &st, err, sizeof err), DB_OK);
  assert_int_equal(st.unknown, 1);
  assert_int_equal(st.current, 9999);
  script_ok(c, "DELETE FROM schema_migrations WHERE version = 9999");
  /* Migration 1 was edited after it was applied. */
  script_ok(c, "UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1");
  assert_int_equal(migrate_status_get(c, &st, err, sizeof err), DB_ERR);
  assert_non_null(strstr(err, "edited"));
  assert_non_null(strstr(err, "idempotency"));
  assert_int_equal(migrate_apply(c, &applied, err, sizeof err), DB_ERR);
  db_close(c);
}

/* D59: PostgreSQL plans a page of a merchant's transactions without filters once for every
 * call (its limit in a subquery: no call's plan looks cheaper than the shared one), where a
 * visible limit had it planned again on every call. Read from pg_prepared_statements on the
 * same connection; the filtered form runs beside it, as a page with a status. */
static void emit_none(const struct txn *t, void *arg) {
  (void)t;
  (void)arg;
}

static int64_t plans_of(db_conn *c, const char *column, const char *like) {
  char sql[256];
  snprintf(sql, sizeof sql, "SELECT COALESCE(SUM(%s), -1) FROM pg_prepared_statements WHERE statement LIKE $1", column);
  const db_sql q = {"test_plans", sql, NULL};
  db_val a[] = {db_text(like)};
  return query_int_ok(c, &q, a, 1);
}

static void txn_list_planned_once(void **state) {
  if (((struct backend *)*state)->kind != DB_POSTGRES) skip();
  char url[URL_LEN], err[ERR_LEN], next[65];
  db_conn *c = open_ok(case_url(state, url, sizeof url));
  reset_schema(c);
  int applied = 0;
  if (migrate_apply(c, &applied, err, sizeof err) != DB_OK) fail_msg("apply: %s", err);
  /* 4,000 payments of ten merchants, analysed: a plan's cost then depends on the limit */
  script_ok(c, "INSERT INTO payments (id, merchant_id, member_id, currency, order_amount, status, "
               "deduct_voucher, deduct_bonus, deduct_principal, deduct_silver, deduct_external, fee_bps, "
               "created_at_ms, updated_at_ms) SELECT 'pay_' || lpad(i::text, 6, '0'), 'm' || (i % 10), "
               "'mem_' || (i % 97), 'USD', 100, 'PAID', 0, 0, 100, 0, 0, 0, i, i "
               "FROM generate_series(1, 4000) AS i; ANALYZE payments");
  const struct actor system = {0};
  struct svc_error e;
  for (int i = 0; i < 12; i++) {
    struct txn_filter f = {.merchant_id = "m1", .status = "", .member_id = "", .start_ms = 0,
                           .end_ms = INT64_MAX, .cursor = "", .limit = 20};
    assert_int_equal(db_begin_read(c), DB_OK);
    assert_int_equal(txn_list(c, &system, &f, emit_none, NULL, next, sizeof next, &e), SVC_OK);
    f.status = "PAID";
    assert_int_equal(txn_list(c, &system, &f, emit_none, NULL, next, sizeof next, &e), SVC_OK);
    assert_int_equal(db_rollback(c), DB_OK);
  }
  const char *plain = "%FROM payments WHERE merchant_id = $2 ORDER BY id DESC%";
  assert_true(plans_of(c, "generic_plans", plain) >= 6);
  assert_true(plans_of(c, "custom_plans", plain) <= 5);
  db_close(c);
}

/* The deep health check reads the status inside a READ job: read-only, no nesting. */
struct status_arg {
  struct migrate_status st;
  int rc;
  char err[ERR_LEN];
};

static int status_run(db_conn *c, void *arg) {
  struct status_arg *a = arg;
  a->rc = migrate_status_get(c, &a->st, a->err, sizeof a->err);
  return a->rc < 0 ? a->rc : DB_JOB_COMMIT;
}

static void migrations_status_in_read_job(void **state) {
  char url[URL_LEN], err[ERR_LEN];
  db_conn *c = open_ok(case_url(state, url, sizeof url));
  reset_schema(c);
  db_exec *ex = exec_ok(url, 1, 8, 10);
  struct status_arg a = {.rc = 99};
  db_job job = {.mode = DB_JOB_READ, .run = status_run, .arg = &a};
  assert_int_equal(db_exec_run_sync(ex, &job), DB_JOB_COMMIT);
  assert_int_equal(a.st.current, 0); /* no table yet: nothing applied */
  assert_true(a.st.pending >= 1 && a.st.pending == a.st.latest);
  int applied = 0;
  if (migrate_apply(c, &applied, err, sizeof err) != DB_OK) fail_msg("apply: %s", err);
  assert_int_equal(db_exec_run_sync(ex, &job), DB_JOB_COMMIT);
  assert_int_equal(a.st.current, a.st.latest);
  assert_int_equal(a.st.pending, 0);
  db_exec_stop(ex);
  db_close(c);
}

/* ---- set-up ------------------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path) == 0 ? 0 : -1;
}

/* Run one set-up statement on the base PostgreSQL URL. */
static int pg_admin(const char *sql) {
  char err[ERR_LEN];
  db_conn *c = db_open(g_pg_base, err, sizeof err);
  if (c == NULL) {
    fprintf(stderr, "MPS_TEST_PG_URL: %s\n", err);
    return -1;
  }
  int rc = db_exec_script(c, sql);
  if (rc != DB_OK) fprintf(stderr, "MPS_TEST_PG_URL: %s\n", db_errmsg(c));
  db_close(c);
  return rc == DB_OK ? 0 : -1;
}

/* The PostgreSQL URL with search_path set to our own schema, created empty. */
static int pg_prepare_schema(const char *base) {
  char sql[256];
  int n = snprintf(g_pg_base, sizeof g_pg_base, "%s", base);
  if (n <= 0 || (size_t)n >= sizeof g_pg_base) return -1;
  snprintf(g_pg_schema, sizeof g_pg_schema, "mps_unit_store_%ld", (long)getpid());
  snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s",
           g_pg_schema, g_pg_schema);
  if (pg_admin(sql) != 0) return -1;
  n = snprintf(g_pg_url, sizeof g_pg_url, "%s%coptions=-csearch_path%%3D%s", base,
               strchr(base, '?') != NULL ? '&' : '?', g_pg_schema);
  return n > 0 && (size_t)n < sizeof g_pg_url ? 0 : -1;
}

static int group_setup(void **state) {
  (void)state;
  const char *tmp = getenv("TMPDIR");
  int n = snprintf(g_tmpdir, sizeof g_tmpdir, "%s/mps-test-store-XXXXXX",
                   tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
  if (n <= 0 || (size_t)n >= sizeof g_tmpdir || mkdtemp(g_tmpdir) == NULL) return -1;
  const char *pg = getenv("MPS_TEST_PG_URL");
  if (pg != NULL && pg[0] != '\0') return pg_prepare_schema(pg);
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  if (g_tmpdir[0] != '\0') nftw(g_tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  if (g_pg_url[0] != '\0') {
    char sql[128];
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", g_pg_schema);
    return pg_admin(sql);
  }
  return 0;
}

#define ONE(f) {#f, f, NULL, NULL, NULL}
#define BOTH(f) {"sqlite_" #f, f, NULL, NULL, &B_SQLITE}, {"pg_" #f, f, NULL, NULL, &B_PG}

int main(void) {
  const struct CMUnitTest tests[] = {
      ONE(open_errors),
      ONE(open_forms),
      BOTH(params_every_type),
      BOTH(params_out_of_order),
      BOTH(params_int_beside_int4_column),
      BOTH(descriptor_reuse),
      BOTH(constraint_mapping),
      BOTH(transactions_and_savepoints),
      BOTH(run_later),
      BOTH(round_trips),
      BOTH(prefetch),
      BOTH(run_later_race),
      {"pg_prefetch_unclaimed_write", prefetch_unclaimed_write, NULL, NULL, &B_PG},
      BOTH(exec_group_commit),
      {"sqlite_exec_checkpointer", exec_checkpointer, NULL, NULL, &B_SQLITE},
      BOTH(exec_job_rollback),
      BOTH(exec_refusal_without_writes),
      BOTH(exec_commit_failure),
      BOTH(exec_busy_retry),
      BOTH(exec_queue_full),
      BOTH(exec_stop_drains),
      BOTH(exec_read_jobs_are_read_only),
      BOTH(exec_reads_beside_busy_writers),
      BOTH(exec_inline_reads),
      BOTH(exec_read_batch),
      {"pg_exec_write_group", pg_exec_write_group, NULL, NULL, &B_PG},
      {"pg_exec_write_group_merge", pg_exec_write_group_merge, NULL, NULL, &B_PG},
      {"pg_exec_write_group_running_keys", pg_exec_write_group_running_keys, NULL, NULL, &B_PG},
      {"sqlite_exec_durable_replies", exec_durable_replies, NULL, NULL, &B_SQLITE},
      {"sqlite_exec_wal_starts_over", exec_wal_starts_over, NULL, NULL, &B_SQLITE},
      BOTH(exec_config_errors),
      {"pg_exec_reconnect", exec_pg_reconnect, NULL, NULL, &B_PG},
      {"pg_own_lanes", pg_own_lanes, NULL, NULL, &B_PG},
      BOTH(migrations_apply_and_status),
      BOTH(txn_list_planned_once),
      BOTH(migrations_refuse_unknown_and_edited),
      BOTH(migrations_status_in_read_job),
  };
  return cmocka_run_group_tests_name("store", tests, group_setup, group_teardown);
}
