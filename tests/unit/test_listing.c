/* test_listing.c — what a page of a list costs, and its order (D56), on a SQLite store of
 * 6,000 audit entries, 3,000 merchants, 6,000 members of one merchant and 6,000 staff users,
 * written with known times. SQLite counts the virtual-machine instructions of every statement
 * (a progress handler installed on each connection the process opens), and a page must cost
 * about its own rows whatever the table's size: before D56 a page of the whole audit log, of
 * the merchants, of a merchant's members or of a merchant's staff sorted every row.
 * The audit log (service/audit_query.c): newest first by at_ms, then id, also where ids
 * disagree with times; pages that walk the whole log or one merchant's part without gaps or
 * repeats (three entries share every millisecond); time windows; cursors that name no entry
 * or another merchant's entry. Merchants: newest first by created_at_ms, then id (two share
 * every millisecond, client-chosen ids that disagree with times). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "service/audit_query.h"
#include "service/members.h"
#include "service/merchants.h"
#include "service/users.h"
#include "store/db.h"
#include "store/migrate.h"

#define ENTRIES 6000
#define PER_MS 3                 /* entries a millisecond */
#define BASE_MS 1700000000000LL  /* the oldest entry's time */
#define MERCHANTS 3000
#define MEMBERS 6000             /* of merchant "mc_00000" */
#define PAGE_BUDGET 20000 /* instructions a page may cost: ~460 for 20 rows; before D56 79,507 */

static char g_dir[PATH_MAX];
static db_conn *g_c;
static long long g_vm_steps; /* every instruction of every statement on every connection */

static int count_step(void *arg) {
  (void)arg;
  g_vm_steps++;
  return 0;
}

static int count_on_open(sqlite3 *db, char **err, const struct sqlite3_api_routines *api) {
  (void)err;
  (void)api;
  sqlite3_progress_handler(db, 1, count_step, NULL);
  return SQLITE_OK;
}

/* Entry i (0 oldest .. ENTRIES-1 newest): at_ms BASE_MS + i / PER_MS, merchant m1 or m2 by
 * i % 2, and an id that does not follow time: "aud_" + a permutation of i. */
static void entry_id(int i, char *out, size_t len) {
  snprintf(out, len, "aud_%06d", (int)((long long)i * 7919 % ENTRIES));
}

static int setup(void **state) {
  (void)state;
  if (sqlite3_auto_extension((void (*)(void))count_on_open) != SQLITE_OK) return -1;
  const char *tmp = getenv("TMPDIR");
  snprintf(g_dir, sizeof g_dir, "%s/mps-test-listing-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
  if (mkdtemp(g_dir) == NULL) return -1;
  char url[PATH_MAX + 16], err[512];
  snprintf(url, sizeof url, "sqlite:%s/a.db", g_dir);
  g_c = db_open(url, err, sizeof err);
  int applied = 0;
  if (g_c == NULL || migrate_apply(g_c, &applied, err, sizeof err) != DB_OK) {
    fprintf(stderr, "store: %s\n", err);
    return -1;
  }
  char sql[2048];
  snprintf(sql, sizeof sql,
           "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %d) "
           "INSERT INTO audit_log (id, chain, seq, at_ms, actor, role, merchant_id, action, target, "
           "status, request_id, details, prev_hash, hash) "
           "SELECT printf('aud_%%06d', i * 7919 %% %d), 'c' || (i %% 2), i, %lld + i / %d, 'u_test', "
           "'owner', 'm' || (1 + i %% 2), 'ACCESS', 'GET /x', 'SUCCESS', 'req', '{}', '', '' FROM n",
           ENTRIES - 1, ENTRIES, BASE_MS, PER_MS);
  if (db_exec_script(g_c, sql) != DB_OK) {
    fprintf(stderr, "insert: %s\n", db_errmsg(g_c));
    return -1;
  }
  /* merchant i: id mc_<permutation of i>, created BASE_MS + i / 2; two staff each; merchant
   * mc_00000 (i = 0) has the members, one created a millisecond */
  snprintf(sql, sizeof sql,
           "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %d) "
           "INSERT INTO merchants (id, name, currency, time_zone, status, created_at_ms, updated_at_ms) "
           "SELECT printf('mc_%%05d', i * 7919 %% %d), 'M', 'USD', 'UTC', 'ACTIVE', %lld + i / 2, 0 FROM n; "
           "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %d) "
           "INSERT INTO users (id, kind, merchant_id, email, display_name, role, password_hash, status, "
           "created_at_ms, updated_at_ms) SELECT printf('usr_%%05d', i), 'merchant', "
           "printf('mc_%%05d', (i / 2) * 7919 %% %d), printf('u%%d@x', i), 'U', 'owner', 'x', 'ACTIVE', 0, 0 FROM n; "
           "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %d) "
           "INSERT INTO members (id, merchant_id, phone, display_name, status, created_at_ms, updated_at_ms) "
           "SELECT printf('mem_%%05d', i), 'mc_00000', printf('+1555%%07d', i), 'B', 'ACTIVE', 0, 0 FROM n",
           MERCHANTS - 1, MERCHANTS, BASE_MS, 2 * MERCHANTS - 1, MERCHANTS, MEMBERS - 1);
  if (db_exec_script(g_c, sql) != DB_OK) {
    fprintf(stderr, "insert: %s\n", db_errmsg(g_c));
    return -1;
  }
  return db_exec_script(g_c, "ANALYZE") == DB_OK ? 0 : -1;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static int teardown(void **state) {
  (void)state;
  if (g_c) db_close(g_c);
  if (g_dir[0]) nftw(g_dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
  return 0;
}

/* One page: its ids into ids[] (at most 100), the next cursor into next. */
struct page {
  char ids[100][65];
  int64_t at[100];
  int n;
};

static void emit(const struct audit_entry *e, void *arg) {
  struct page *p = arg;
  assert_true(p->n < 100);
  snprintf(p->ids[p->n], sizeof p->ids[p->n], "%s", e->id);
  p->at[p->n++] = e->at_ms;
}

static int list(const char *merchant, int64_t start, int64_t end, const char *cursor, int limit,
                struct page *p, char next[64], long long *steps, struct svc_error *err) {
  struct actor a = {.p = NULL, .request_id = "test"};
  struct audit_filter f = {.merchant_id = merchant, .action = "", .status = "", .actor = "",
                           .start_ms = start, .end_ms = end, .cursor = cursor, .limit = limit};
  memset(p, 0, sizeof *p);
  long long before = g_vm_steps;
  int rc = audit_list(g_c, &a, &f, emit, p, next, 64, err);
  *steps = g_vm_steps - before;
  return rc;
}

/* The expected ids, newest first, of merchant ("" any) within [start, end): entries with a
 * higher time first, then the higher id. */
static int expected(const char *merchant, int64_t start, int64_t end, char (*out)[16], int max) {
  int n = 0;
  for (int ms = ENTRIES / PER_MS - 1; ms >= 0; ms--) {
    if (BASE_MS + ms < start || BASE_MS + ms >= end) continue;
    char same[PER_MS][16];
    int k = 0;
    for (int i = ms * PER_MS; i < (ms + 1) * PER_MS; i++) {
      if (merchant[0] && (i % 2 == 0) != (strcmp(merchant, "m1") == 0)) continue;
      entry_id(i, same[k++], sizeof same[0]);
    }
    for (int x = 0; x < k; x++) { /* highest id first among one millisecond */
      for (int y = x + 1; y < k; y++) {
        if (strcmp(same[y], same[x]) > 0) {
          char t[16];
          memcpy(t, same[x], sizeof t);
          memcpy(same[x], same[y], sizeof t);
          memcpy(same[y], t, sizeof t);
        }
      }
      assert_true(n < max);
      memcpy(out[n++], same[x], sizeof same[x]);
    }
  }
  return n;
}

/* Walks every page of limit entries and checks them against the expected order; each page
 * must cost at most PAGE_BUDGET instructions. Returns the number of pages. */
static int walk(const char *merchant, int64_t start, int64_t end, int limit) {
  static char want[ENTRIES][16];
  int total = expected(merchant, start, end, want, ENTRIES), seen = 0, pages = 0;
  char cursor[64] = "", next[64];
  for (; pages <= ENTRIES; pages++) {
    struct page p;
    struct svc_error err = {0};
    long long steps = 0;
    assert_int_equal(list(merchant, start, end, cursor, limit, &p, next, &steps, &err), SVC_OK);
    if (steps > PAGE_BUDGET) fail_msg("page %d of merchant '%s' cost %lld instructions", pages, merchant, steps);
    for (int i = 0; i < p.n; i++, seen++) {
      assert_true(seen < total);
      if (strcmp(p.ids[i], want[seen]) != 0) fail_msg("entry %d: %s, want %s", seen, p.ids[i], want[seen]);
      assert_true(p.at[i] >= start && p.at[i] < end);
    }
    if (!next[0]) break;
    assert_int_equal(p.n, limit);
    snprintf(cursor, sizeof cursor, "%s", next);
  }
  assert_int_equal(seen, total);
  return pages + 1;
}

static void order_and_pages(void **state) {
  (void)state;
  assert_int_equal(walk("", 0, INT64_MAX, 100), ENTRIES / 100);
  assert_int_equal(walk("m1", 0, INT64_MAX, 100), ENTRIES / 2 / 100);
  walk("", 0, INT64_MAX, 7); /* page ends inside a millisecond's three entries */
  walk("m2", 0, INT64_MAX, 2);
}

static void time_windows(void **state) {
  (void)state;
  const int64_t old_start = BASE_MS + 10, old_end = BASE_MS + 40; /* far from the newest */
  walk("", old_start, old_end, 4);
  walk("m1", old_start, old_end, 4);
  walk("m2", BASE_MS + 1500, BASE_MS + 1501, 1); /* one millisecond */
  struct page p;
  char next[64];
  long long steps = 0;
  struct svc_error err = {0};
  assert_int_equal(list("", BASE_MS + ENTRIES, INT64_MAX, "", 20, &p, next, &steps, &err), SVC_OK);
  assert_int_equal(p.n, 0);
  assert_string_equal(next, "");
}

/* Each page costs about its rows, wherever it starts: the first page of the whole log, one
 * deep in it (a cursor five entries from the oldest), one merchant's. */
static void a_page_costs_its_rows(void **state) {
  (void)state;
  static char want[ENTRIES][16];
  assert_int_equal(expected("", 0, INT64_MAX, want, ENTRIES), ENTRIES);
  struct page p;
  char next[64];
  long long first = 0, deep = 0, merchant = 0;
  struct svc_error err = {0};
  assert_int_equal(list("", 0, INT64_MAX, "", 20, &p, next, &first, &err), SVC_OK);
  assert_int_equal(p.n, 20);
  assert_int_equal(list("", 0, INT64_MAX, want[ENTRIES - 5], 20, &p, next, &deep, &err), SVC_OK);
  assert_int_equal(p.n, 4);
  assert_string_equal(p.ids[3], want[ENTRIES - 1]);
  assert_int_equal(list("m1", 0, INT64_MAX, "", 20, &p, next, &merchant, &err), SVC_OK);
  assert_int_equal(p.n, 20);
  print_message("VM instructions a page: first %lld, deep %lld, merchant %lld\n", first, deep, merchant);
  assert_true(first <= PAGE_BUDGET && deep <= PAGE_BUDGET && merchant <= PAGE_BUDGET);
}

static void cursors_that_name_no_entry(void **state) {
  (void)state;
  struct page p;
  char next[64], cursor[16];
  long long steps = 0;
  struct svc_error err = {0};
  assert_int_equal(list("", 0, INT64_MAX, "aud_nosuch", 20, &p, next, &steps, &err), SVC_REJECT);
  assert_int_equal(err.code, MPS_E_BAD_REQUEST);
  assert_string_equal(json_string_value(json_object_get(err.details, "parameter")), "cursor");
  json_decref(err.details);
  entry_id(1, cursor, sizeof cursor); /* m2's entry */
  struct svc_error err2 = {0};
  assert_int_equal(list("m1", 0, INT64_MAX, cursor, 20, &p, next, &steps, &err2), SVC_REJECT);
  assert_int_equal(err2.code, MPS_E_BAD_REQUEST);
  json_decref(err2.details);
  struct svc_error err3 = {0};
  assert_int_equal(list("m2", 0, INT64_MAX, cursor, 20, &p, next, &steps, &err3), SVC_OK);
  assert_int_equal(p.n, 0); /* entry 1 is m2's oldest: nothing after it */
}

/* ---- merchants, members, staff ---------------------------------------------------- */

static void emit_merchant(const struct merchant *m, void *arg) {
  struct page *p = arg;
  assert_true(p->n < 100);
  snprintf(p->ids[p->n], sizeof p->ids[p->n], "%s", m->id);
  p->at[p->n++] = m->created_at_ms;
}

static void emit_member(const struct member *m, void *arg) {
  struct page *p = arg;
  assert_true(p->n < 100);
  snprintf(p->ids[p->n++], sizeof p->ids[0], "%s", m->id);
}

static void emit_user(const struct user *u, void *arg) {
  struct page *p = arg;
  assert_true(p->n < 100);
  snprintf(p->ids[p->n++], sizeof p->ids[0], "%s", u->id);
}

/* Every page of merchants, 7 at a time: newest first by created_at_ms, then id, each page
 * within the budget; a cursor that names no merchant gives an empty page. */
static void merchants_in_order(void **state) {
  (void)state;
  static char want[MERCHANTS][16];
  int total = 0;
  for (int ms = MERCHANTS / 2 - 1; ms >= 0; ms--) { /* merchants 2ms and 2ms+1, higher id first */
    char a[16], b[16];
    snprintf(a, sizeof a, "mc_%05d", (int)((long long)(2 * ms) * 7919 % MERCHANTS));
    snprintf(b, sizeof b, "mc_%05d", (int)((long long)(2 * ms + 1) * 7919 % MERCHANTS));
    memcpy(want[total++], strcmp(a, b) > 0 ? a : b, 16);
    memcpy(want[total++], strcmp(a, b) > 0 ? b : a, 16);
  }
  struct actor a = {.p = NULL, .request_id = "test"};
  char cursor[64] = "", next[64];
  int seen = 0;
  for (int pages = 0; pages <= MERCHANTS; pages++) {
    struct page p = {0};
    struct svc_error err = {0};
    struct merchant_filter f = {.status = "", .cursor = cursor, .limit = 7};
    long long before = g_vm_steps;
    assert_int_equal(merchant_list(g_c, &a, &f, emit_merchant, &p, next, sizeof next, &err), SVC_OK);
    if (g_vm_steps - before > PAGE_BUDGET) fail_msg("merchants page %d cost %lld", pages, g_vm_steps - before);
    for (int i = 0; i < p.n; i++, seen++) {
      assert_true(seen < total);
      if (strcmp(p.ids[i], want[seen]) != 0) fail_msg("merchant %d: %s, want %s", seen, p.ids[i], want[seen]);
    }
    if (!next[0]) break;
    snprintf(cursor, sizeof cursor, "%s", next);
  }
  assert_int_equal(seen, MERCHANTS);
  struct page p = {0};
  struct svc_error err = {0};
  struct merchant_filter f = {.status = "", .cursor = "mc_nosuch", .limit = 20};
  assert_int_equal(merchant_list(g_c, &a, &f, emit_merchant, &p, next, sizeof next, &err), SVC_OK);
  assert_int_equal(p.n, 0);
}

/* A merchant's members: the first page, one deep in the list, one by phone; staff of one
 * merchant among 3,000: each within the budget. */
static void members_and_staff_pages(void **state) {
  (void)state;
  struct actor a = {.p = NULL, .request_id = "test"};
  char next[64];
  struct {
    const char *phone, *cursor;
    int n;
    const char *first;
  } cases[] = {{"", "", 20, "mem_05999"}, {"", "mem_00010", 10, "mem_00009"}, {"+15550004321", "", 1, "mem_04321"}};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    struct page p = {0};
    struct svc_error err = {0};
    struct member_filter f = {.status = "", .phone = cases[k].phone, .cursor = cases[k].cursor, .limit = 20};
    long long before = g_vm_steps;
    assert_int_equal(member_list(g_c, &a, "mc_00000", &f, emit_member, &p, next, sizeof next, &err), SVC_OK);
    long long cost = g_vm_steps - before;
    print_message("members page %zu: %d rows, %lld instructions\n", k, p.n, cost);
    assert_int_equal(p.n, cases[k].n);
    assert_string_equal(p.ids[0], cases[k].first);
    for (int i = 1; i < p.n; i++) assert_true(strcmp(p.ids[i - 1], p.ids[i]) > 0);
    assert_true(cost <= PAGE_BUDGET);
  }
  struct page p = {0};
  struct svc_error err = {0};
  char merchant[16];
  snprintf(merchant, sizeof merchant, "mc_%05d", (int)(1234LL * 7919 % MERCHANTS)); /* merchant 1234 */
  long long before = g_vm_steps;
  assert_int_equal(user_list(g_c, &a, "merchant", merchant, "", 20, emit_user, &p, next, sizeof next, &err), SVC_OK);
  long long cost = g_vm_steps - before;
  print_message("staff of one merchant: %d rows, %lld instructions\n", p.n, cost);
  assert_int_equal(p.n, 2);
  assert_string_equal(p.ids[0], "usr_02469");
  assert_string_equal(p.ids[1], "usr_02468");
  assert_true(cost <= PAGE_BUDGET);
  memset(&p, 0, sizeof p);
  assert_int_equal(user_list(g_c, &a, "platform", NULL, "", 20, emit_user, &p, next, sizeof next, &err), SVC_OK);
  assert_int_equal(p.n, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(order_and_pages),
      cmocka_unit_test(time_windows),
      cmocka_unit_test(a_page_costs_its_rows),
      cmocka_unit_test(cursors_that_name_no_entry),
      cmocka_unit_test(merchants_in_order),
      cmocka_unit_test(members_and_staff_pages),
  };
  return cmocka_run_group_tests_name("listing", tests, setup, teardown);
}
