/* db.c — the engine-independent half of db.h: URL dispatch to a backend, argument
 * checks and cursor bookkeeping around the backend vtable, transactions and savepoints,
 * the prepared-statement cache keyed by descriptor address, and error-text helpers. */
#include <assert.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "store/db.h"
#include "store/db_impl.h"

#define URL_SCHEME_MAX 32 /* longest scheme we look at */

void db_fmt_err(char *err, size_t err_len, const char *fmt, ...) {
  if (err == NULL || err_len == 0) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(err, err_len, fmt, ap);
  va_end(ap);
  if (n < 0) err[0] = '\0';
}

void db_set_errmsg(db_conn *c, const char *fmt, ...) {
  assert(c != NULL);
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
  va_end(ap);
  if (n < 0) c->errmsg[0] = '\0';
}

/* ---- URL dispatch ------------------------------------------------------------------- */

/* Length of a leading URI scheme ("postgres" in "postgres://..."), 0 when none.
 * Scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) followed by ':'. */
static size_t url_scheme_len(const char *url) {
  if (!isalpha((unsigned char)url[0])) return 0;
  for (size_t i = 1; i < URL_SCHEME_MAX && url[i] != '\0'; i++) {
    unsigned char ch = (unsigned char)url[i];
    if (ch == ':') return i;
    if (!isalnum(ch) && ch != '+' && ch != '-' && ch != '.') return 0;
  }
  return 0;
}

static bool scheme_is(const char *url, size_t len, const char *name) {
  return strlen(name) == len && strncasecmp(url, name, len) == 0;
}

db_conn *db_open(const char *url, char *err, size_t err_len) { return db_open_flags(url, 0, err, err_len); }

db_conn *db_open_flags(const char *url, int flags, char *err, size_t err_len) {
  if (err != NULL && err_len > 0) err[0] = '\0';
  if (url == NULL || url[0] == '\0') {
    db_fmt_err(err, err_len, "database URL is empty");
    return NULL;
  }
  size_t slen = url_scheme_len(url);
  if (slen == 0) return db_sqlite_open(url, flags, err, err_len); /* a plain path */
  if (scheme_is(url, slen, "postgres") || scheme_is(url, slen, "postgresql"))
    return db_pg_open(url, flags, err, err_len);
  if (scheme_is(url, slen, "sqlite")) {
    const char *path = url + slen + 1;
    if (strncmp(path, "//", 2) == 0) path += 2; /* sqlite:///abs/path */
    if (path[0] == '\0') {
      db_fmt_err(err, err_len, "database URL \"%s\" names no file", url);
      return NULL;
    }
    return db_sqlite_open(path, flags, err, err_len);
  }
  db_fmt_err(err, err_len,
             "unsupported database URL scheme \"%.*s\": use sqlite:PATH, a file path, "
             "postgres:// or postgresql://",
             (int)slen, url);
  return NULL;
}

void db_close(db_conn *c) {
  if (c == NULL) return;
  assert(c->cursor == NULL && "db_close with an open cursor: call db_reset first");
  c->ops->close(c);
}

enum db_kind db_conn_kind(const db_conn *c) {
  assert(c != NULL);
  return c->kind;
}

uint64_t db_round_trips(const db_conn *c) {
  assert(c != NULL);
  return c->round_trips;
}

uint64_t db_holds_merged(const db_conn *c) {
  assert(c != NULL);
  return c->holds_merged;
}

int db_conn_lane(const db_conn *c) {
  assert(c != NULL && c->lane >= 0);
  return c->lane;
}

void db_group_begin(db_conn *c) {
  assert(c != NULL && !c->in_group);
  c->in_group = true;
  c->memo_count = 0;
}

void db_group_end(db_conn *c) {
  assert(c != NULL);
  c->in_group = false;
  c->memo_count = 0;
}

static int memo_find(const db_conn *c, const char *key) {
  for (int i = 0; i < c->memo_count; i++)
    if (strcmp(c->memo[i].key, key) == 0) return i;
  return -1;
}

bool db_in_group(const db_conn *c) { return c != NULL && c->in_group; }

bool db_group_memo_get(db_conn *c, const char *key, char *out, size_t out_len) {
  assert(c != NULL && key != NULL && out != NULL && out_len > 0);
  int i = c->in_group ? memo_find(c, key) : -1;
  if (i < 0) return false;
  snprintf(out, out_len, "%s", c->memo[i].value);
  return true;
}

int db_group_memo_set(db_conn *c, const char *key, const char *value) {
  assert(c != NULL && key != NULL && value != NULL);
  if (!c->in_group) return DB_OK;
  if (strlen(key) >= DB_GROUP_MEMO_KEY || strlen(value) >= DB_GROUP_MEMO_VALUE) {
    db_set_errmsg(c, "group memo: key or value too long");
    return DB_ERR;
  }
  int i = memo_find(c, key);
  if (i < 0) {
    if (c->memo_count == DB_GROUP_MEMO_SLOTS) {
      db_set_errmsg(c, "group memo: full");
      return DB_ERR;
    }
    i = c->memo_count++;
    snprintf(c->memo[i].key, sizeof c->memo[i].key, "%s", key);
  }
  snprintf(c->memo[i].value, sizeof c->memo[i].value, "%s", value);
  return DB_OK;
}

const char *db_errmsg(const db_conn *c) {
  if (c == NULL) return "no connection";
  return c->errmsg;
}

/* ---- statements and cursors --------------------------------------------------------- */

int db_query(db_conn *c, const db_sql *q, const db_val *args, int nargs, db_cursor **out) {
  assert(c != NULL && q != NULL && q->sql != NULL && out != NULL);
  assert(nargs >= 0 && nargs <= DB_MAX_PARAMS);
  assert(nargs == 0 || args != NULL);
  assert(c->cursor == NULL && "one open cursor per connection: db_reset the previous one");
  *out = NULL;
  for (int i = 0; i < nargs; i++) {
    assert(args[i].type == DB_T_NULL || args[i].type == DB_T_INT || args[i].type == DB_T_TEXT);
    assert(args[i].type != DB_T_TEXT || args[i].s != NULL);
  }
  int rc = c->ops->query(c, q, args, nargs, out);
  assert((rc == DB_OK) == (*out != NULL));
  if (rc == DB_OK) c->cursor = *out;
  return rc;
}

int db_step(db_cursor *cur) {
  assert(cur != NULL && cur->conn->cursor == cur);
  return cur->conn->ops->step(cur);
}

bool db_col_null(db_cursor *cur, int col) {
  assert(cur != NULL && cur->conn->cursor == cur && col >= 0);
  return cur->conn->ops->col_null(cur, col);
}

int64_t db_col_int(db_cursor *cur, int col) {
  assert(cur != NULL && cur->conn->cursor == cur && col >= 0);
  return cur->conn->ops->col_int(cur, col);
}

const char *db_col_text(db_cursor *cur, int col) {
  assert(cur != NULL && cur->conn->cursor == cur && col >= 0);
  const char *s = cur->conn->ops->col_text(cur, col);
  return s != NULL ? s : "";
}

void db_col_copy(db_cursor *cur, int col, char *dst, size_t n) {
  assert(dst != NULL && n > 0);
  const char *src = db_col_text(cur, col);
  size_t len = strnlen(src, n - 1);
  memcpy(dst, src, len);
  dst[len] = '\0';
}

void db_reset(db_cursor *cur) {
  if (cur == NULL) return;
  db_conn *c = cur->conn;
  assert(c != NULL);
  if (c->cursor != cur) return; /* already reset */
  c->ops->reset(cur);
  c->cursor = NULL;
}

int db_run(db_conn *c, const db_sql *q, const db_val *args, int nargs, int64_t *changes) {
  if (changes != NULL) *changes = 0;
  db_cursor *cur = NULL;
  int rc = db_query(c, q, args, nargs, &cur);
  if (rc < 0) return rc;
  long steps = 0;
  do {
    rc = db_step(cur);
  } while (rc == DB_ROW && ++steps < DB_STEP_MAX);
  if (rc == DB_ROW) {
    db_set_errmsg(c, "%s: more than %ld rows", db_qname(q), DB_STEP_MAX);
    rc = DB_ERR;
  }
  if (rc == DB_DONE && changes != NULL) *changes = c->ops->changes(cur);
  db_reset(cur);
  return rc < 0 ? rc : DB_OK;
}

/* db_run with a row-count check (expect_changes >= 0); race (DB_RACE_*) turns a constraint
 * refusal or another count into DB_BUSY. */
static int run_counted(db_conn *c, const db_sql *q, const db_val *args, int nargs, int64_t expect_changes,
                       int race) {
  int64_t changed = 0;
  int rc = db_run(c, q, args, nargs, &changed);
  if (rc == DB_CONSTRAINT && (race & DB_RACE_CONSTRAINT)) return DB_BUSY;
  if (rc < 0) return rc;
  if (expect_changes >= 0 && changed != expect_changes)
    return db_count_mismatch(c, db_qname(q), changed, expect_changes, race);
  return DB_OK;
}

int db_count_mismatch(db_conn *c, const char *name, long long got, long long want, int race) {
  db_set_errmsg(c, "%s: changed %lld rows, not %lld", name, got, want);
  return (race & DB_RACE_COUNT) ? DB_BUSY : DB_ERR;
}

static int run_later(db_conn *c, const db_sql *q, const db_val *args, int nargs, int64_t expect_changes,
                     int race, int merge) {
  assert(c != NULL && q != NULL && c->cursor == NULL);
  assert(nargs >= 0 && nargs <= DB_MAX_PARAMS && (nargs == 0 || args != NULL));
  if (c->ops->run_later != NULL) {
    int rc = c->ops->run_later(c, q, args, nargs, expect_changes, race, merge);
    if (rc != DB_NOT_HELD) return rc;
  }
  return run_counted(c, q, args, nargs, expect_changes, race);
}

int db_run_later(db_conn *c, const db_sql *q, const db_val *args, int nargs, int64_t expect_changes) {
  return run_later(c, q, args, nargs, expect_changes, DB_RACE_NONE, DB_MERGE_NONE);
}

int db_run_later_race(db_conn *c, const db_sql *q, const db_val *args, int nargs, int64_t expect_changes) {
  return run_later(c, q, args, nargs, expect_changes, DB_RACE_CONSTRAINT, DB_MERGE_NONE);
}

int db_run_later_taken(db_conn *c, const db_sql *q, const db_val *args, int nargs, int64_t expect_changes) {
  return run_later(c, q, args, nargs, expect_changes, DB_RACE_COUNT, DB_MERGE_NONE);
}

int db_run_later_merge(db_conn *c, const db_sql *q, const db_val *args, int nargs, int64_t expect_changes,
                       enum db_merge how, bool constraint_race) {
  assert(how >= DB_MERGE_NONE && how <= DB_MERGE_SUM);
  assert(how != DB_MERGE_SUM || (nargs > 0 && args[nargs - 1].type == DB_T_INT));
  return run_later(c, q, args, nargs, expect_changes, constraint_race ? DB_RACE_CONSTRAINT : DB_RACE_NONE, (int)how);
}

int db_prefetch(db_conn *c, const db_sql *q, const db_val *args, int nargs) {
  assert(c != NULL && q != NULL && q->sql != NULL && c->cursor == NULL);
  assert(nargs >= 0 && nargs <= DB_MAX_PARAMS && (nargs == 0 || args != NULL));
  assert(c->ops->in_txn(c) && "a prefetched answer lives until the transaction ends");
  return c->ops->prefetch != NULL ? c->ops->prefetch(c, q, args, nargs) : DB_OK;
}

int db_run_expect(db_conn *c, const db_sql *q, const db_val *args, int nargs, int64_t expect_changes) {
  return run_counted(c, q, args, nargs, expect_changes, DB_RACE_NONE);
}

int db_query_int(db_conn *c, const db_sql *q, const db_val *args, int nargs, int64_t *out) {
  assert(out != NULL);
  *out = 0;
  db_cursor *cur = NULL;
  int rc = db_query(c, q, args, nargs, &cur);
  if (rc < 0) return rc;
  rc = db_step(cur);
  if (rc == DB_ROW) *out = db_col_int(cur, 0);
  db_reset(cur);
  return rc;
}

int db_exec_script(db_conn *c, const char *sql) {
  assert(c != NULL && sql != NULL);
  assert(c->cursor == NULL);
  return c->ops->script(c, sql);
}

/* ---- transactions ------------------------------------------------------------------- */

static int txn(db_conn *c, enum db_txn_op op) {
  assert(c != NULL && op >= 0 && op < DB_TXN_COUNT);
  assert(c->cursor == NULL && "reset the cursor before ending a transaction or savepoint");
  return c->ops->txn(c, op);
}

static int begin(db_conn *c, enum db_txn_op op) {
  assert(!c->ops->in_txn(c) && "transactions do not nest: use a savepoint");
  c->savepoint_depth = 0;
  return txn(c, op);
}

int db_begin(db_conn *c) { return begin(c, DB_TXN_BEGIN); }
int db_begin_write(db_conn *c) { return begin(c, DB_TXN_BEGIN_WRITE); }
int db_begin_read(db_conn *c) { return begin(c, DB_TXN_BEGIN_READ); }

int db_commit(db_conn *c) {
  int rc = txn(c, DB_TXN_COMMIT);
  if (rc == DB_OK) c->savepoint_depth = 0;
  return rc;
}

/* Safe to call in any state: without an open transaction it does nothing. */
int db_rollback(db_conn *c) {
  assert(c != NULL);
  c->savepoint_depth = 0;
  if (!c->ops->in_txn(c)) return DB_OK;
  return txn(c, DB_TXN_ROLLBACK);
}

int db_savepoint(db_conn *c) {
  assert(c != NULL && c->savepoint_depth == 0 && "savepoints nest one deep");
  assert(c->ops->in_txn(c) && "a savepoint needs an open transaction");
  int rc = txn(c, DB_TXN_SAVEPOINT);
  if (rc == DB_OK) c->savepoint_depth = 1;
  return rc;
}

int db_release(db_conn *c) {
  assert(c != NULL && c->savepoint_depth == 1);
  int rc = txn(c, DB_TXN_RELEASE);
  c->savepoint_depth = 0; /* on failure the savepoint is unusable either way */
  return rc;
}

/* Undo everything since db_savepoint and drop the savepoint. */
int db_rollback_to(db_conn *c) {
  assert(c != NULL && c->savepoint_depth == 1);
  int rc = txn(c, DB_TXN_ROLLBACK_TO);
  if (rc == DB_OK) rc = txn(c, DB_TXN_RELEASE);
  c->savepoint_depth = 0;
  return rc;
}

bool db_in_transaction(db_conn *c) {
  assert(c != NULL);
  return c->ops->in_txn(c);
}

int64_t db_rows_written(db_conn *c) {
  assert(c != NULL);
  return c->ops->rows_written ? c->ops->rows_written(c) : -1;
}

int db_reconnect_if_lost(db_conn *c) {
  assert(c != NULL && c->cursor == NULL);
  return c->ops->reconnect(c);
}

bool db_reset_leaked_cursor(db_conn *c) {
  assert(c != NULL);
  if (c->cursor == NULL) return false;
  db_reset(c->cursor);
  return true;
}

int db_ping(db_conn *c) {
  static const db_sql q = {.name = "ping", .sql = "SELECT 1"};
  int64_t one = 0;
  int rc = db_query_int(c, &q, NULL, 0, &one);
  if (rc < 0) return rc;
  if (rc != DB_ROW || one != 1) {
    db_set_errmsg(c, "ping: unexpected answer");
    return DB_ERR;
  }
  return DB_OK;
}

const char *db_server_version(db_conn *c) {
  assert(c != NULL);
  return c->ops->server_version(c);
}

/* ---- prepared-statement cache ------------------------------------------------------- */

static size_t cache_hash(const db_sql *q) {
  uint64_t h = (uint64_t)(uintptr_t)q;
  h ^= h >> 33;
  h *= UINT64_C(0xff51afd7ed558ccd);
  h ^= h >> 33;
  return (size_t)(h & (DB_CACHE_SLOTS - 1));
}

void *db_cache_find(const struct db_cache *cache, const db_sql *q) {
  assert(cache != NULL && q != NULL);
  size_t i = cache_hash(q);
  for (size_t probes = 0; probes < DB_CACHE_SLOTS; probes++) {
    const struct db_cache_slot *s = &cache->slots[i];
    if (s->key == q) return s->entry;
    if (s->key == NULL) return NULL;
    i = (i + 1) & (DB_CACHE_SLOTS - 1);
  }
  return NULL;
}

int db_cache_put(struct db_cache *cache, const db_sql *q, void *entry) {
  assert(cache != NULL && q != NULL && entry != NULL);
  assert(cache->used <= DB_CACHE_MAX);
  size_t i = cache_hash(q);
  for (size_t probes = 0; probes < DB_CACHE_SLOTS; probes++) {
    struct db_cache_slot *s = &cache->slots[i];
    if (s->key == q) { /* replace (the descriptor's text changed) */
      s->entry = entry;
      return DB_OK;
    }
    if (s->key == NULL) {
      if (cache->used >= DB_CACHE_MAX) return DB_ERR; /* keep probes short */
      s->key = q;
      s->entry = entry;
      cache->used++;
      return DB_OK;
    }
    i = (i + 1) & (DB_CACHE_SLOTS - 1);
  }
  assert(0 && "statement cache probe ran past a non-full table");
  return DB_ERR;
}

void db_cache_clear(struct db_cache *cache, void (*free_entry)(db_conn *c, void *entry),
                    db_conn *c) {
  assert(cache != NULL);
  for (size_t i = 0; i < DB_CACHE_SLOTS; i++) {
    struct db_cache_slot *s = &cache->slots[i];
    if (s->key != NULL && free_entry != NULL) free_entry(c, s->entry);
    s->key = NULL;
    s->entry = NULL;
  }
  cache->used = 0;
}
