/* db_sqlite.c — the SQLite backend of db.h: opening with durable PRAGMAs (WAL,
 * synchronous=FULL), lazily prepared persistent statements cached per connection, the
 * $1..$N parameter mapping, result-code mapping and transaction-control statements. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/db.h"
#include "store/db_impl.h"
#include "store/wal_buffer.h"

#define SQ_BUSY_TIMEOUT_MS 5000
#define SQ_FILE_MODE 0600 /* money data: owner only; SQLite gives -wal/-shm the same mode */
#define SQ_PARAM_NAME_LEN 8 /* "$100" + NUL fits */

/* One prepared statement: argument k (0-based) binds to parameter index map[k]. */
struct sq_stmt {
  sqlite3_stmt *stmt;
  const char *sql; /* the text it was prepared from, to notice a reused descriptor address */
  int nparams;
  int map[DB_MAX_PARAMS];
};

struct sq_cursor {
  struct db_cursor base;
  sqlite3_stmt *stmt;
  const char *name; /* the descriptor's name, for error text */
  int pending_rc; /* result of the first sqlite3_step, done in query */
  bool pending;
  bool finished; /* DB_DONE or an error was returned: never step again */
};

struct sq_conn {
  struct db_conn base;
  sqlite3 *db;
  struct sq_cursor cursor;
  sqlite3_stmt *txn[DB_TXN_COUNT];
  char version[64];
  int wal_frames; /* frames in the WAL after the last commit, once db_sqlite_wal_watch ran */
};

static const char *const TXN_SQL[DB_TXN_COUNT] = {
    [DB_TXN_BEGIN] = "BEGIN",
    [DB_TXN_BEGIN_WRITE] = "BEGIN IMMEDIATE",
    [DB_TXN_BEGIN_READ] = "BEGIN",
    [DB_TXN_COMMIT] = "COMMIT",
    [DB_TXN_ROLLBACK] = "ROLLBACK",
    [DB_TXN_SAVEPOINT] = "SAVEPOINT sp",
    [DB_TXN_RELEASE] = "RELEASE SAVEPOINT sp",
    [DB_TXN_ROLLBACK_TO] = "ROLLBACK TO SAVEPOINT sp",
};

static struct sq_conn *sq(db_conn *c) {
  assert(c != NULL && c->kind == DB_SQLITE);
  return (struct sq_conn *)c;
}

/* Map an SQLite result code to a db_rc. */
static int sq_map_rc(int rc) {
  switch (rc & 0xff) {
  case SQLITE_OK: return DB_OK;
  case SQLITE_ROW: return DB_ROW;
  case SQLITE_DONE: return DB_DONE;
  case SQLITE_CONSTRAINT: return DB_CONSTRAINT;
  case SQLITE_BUSY:
  case SQLITE_LOCKED: return DB_BUSY;
  case SQLITE_IOERR:
  case SQLITE_FULL:
  case SQLITE_CANTOPEN: return DB_CONN;
  default: return DB_ERR;
  }
}

/* Record the connection's current error under `what` and return its db_rc. */
static int sq_fail(struct sq_conn *s, const char *what, int rc) {
  db_set_errmsg(&s->base, "%s: %s (sqlite %d)", what, sqlite3_errmsg(s->db), rc);
  int mapped = sq_map_rc(rc);
  return mapped < 0 ? mapped : DB_ERR;
}

static void sq_free_stmt(db_conn *c, void *entry) {
  (void)c;
  struct sq_stmt *st = entry;
  if (st == NULL) return;
  sqlite3_finalize(st->stmt);
  free(st);
}

/* Build the argument -> parameter-index map; parameters must be exactly $1..$N. */
static int sq_map_params(struct sq_conn *s, const db_sql *q, struct sq_stmt *st) {
  int n = sqlite3_bind_parameter_count(st->stmt);
  if (n > DB_MAX_PARAMS) {
    db_set_errmsg(&s->base, "%s: %d parameters, at most %d", db_qname(q), n, DB_MAX_PARAMS);
    return DB_ERR;
  }
  for (int k = 0; k < n; k++) {
    char name[SQ_PARAM_NAME_LEN];
    int len = snprintf(name, sizeof name, "$%d", k + 1);
    assert(len > 0 && (size_t)len < sizeof name);
    (void)len;
    int idx = sqlite3_bind_parameter_index(st->stmt, name);
    if (idx <= 0) {
      db_set_errmsg(&s->base, "%s: parameters must be $1..$%d; %s is missing", db_qname(q), n,
                    name);
      return DB_ERR;
    }
    st->map[k] = idx;
  }
  st->nparams = n;
  return DB_OK;
}

/* A new prepared statement for q, not yet cached. */
static int sq_prepare_new(struct sq_conn *s, const db_sql *q, struct sq_stmt **out) {
  struct sq_stmt *st = calloc(1, sizeof *st);
  if (st == NULL) {
    db_set_errmsg(&s->base, "%s: out of memory", db_qname(q));
    return DB_ERR;
  }
  int rc = sqlite3_prepare_v3(s->db, q->sql, -1, SQLITE_PREPARE_PERSISTENT, &st->stmt, NULL);
  if (rc != SQLITE_OK || st->stmt == NULL) {
    if (rc == SQLITE_OK) db_set_errmsg(&s->base, "%s: empty statement", db_qname(q));
    int mapped = rc != SQLITE_OK ? sq_fail(s, db_qname(q), rc) : DB_ERR;
    sq_free_stmt(&s->base, st);
    return mapped;
  }
  st->sql = q->sql;
  rc = sq_map_params(s, q, st);
  if (rc != DB_OK) {
    sq_free_stmt(&s->base, st);
    return rc;
  }
  *out = st;
  return DB_OK;
}

/* The cached statement for q, prepared on first use. */
static int sq_prepare(struct sq_conn *s, const db_sql *q, struct sq_stmt **out) {
  struct sq_stmt *old = db_cache_find(&s->base.cache, q);
  if (old != NULL && old->sql == q->sql) {
    *out = old;
    return DB_OK;
  }
  if (old == NULL && s->base.cache.used >= DB_CACHE_MAX) {
    db_set_errmsg(&s->base, "%s: statement cache full (%d)", db_qname(q), DB_CACHE_MAX);
    assert(0 && "statement cache full: are db_sql descriptors static?");
    return DB_ERR;
  }
  struct sq_stmt *st = NULL;
  int rc = sq_prepare_new(s, q, &st);
  if (rc == DB_OK) rc = db_cache_put(&s->base.cache, q, st);
  if (rc != DB_OK) {
    sq_free_stmt(&s->base, st);
    return rc;
  }
  sq_free_stmt(&s->base, old); /* the descriptor address was reused with new text */
  *out = st;
  return DB_OK;
}

static int sq_bind(struct sq_conn *s, const db_sql *q, struct sq_stmt *st, const db_val *args,
                   int nargs) {
  if (nargs != st->nparams) {
    db_set_errmsg(&s->base, "%s: %d arguments for %d parameters", db_qname(q), nargs,
                  st->nparams);
    return DB_ERR;
  }
  for (int k = 0; k < nargs; k++) {
    int idx = st->map[k];
    int rc;
    switch (args[k].type) {
    case DB_T_INT: rc = sqlite3_bind_int64(st->stmt, idx, args[k].i); break;
    case DB_T_TEXT: rc = sqlite3_bind_text(st->stmt, idx, args[k].s, -1, SQLITE_STATIC); break;
    case DB_T_NULL: rc = sqlite3_bind_null(st->stmt, idx); break;
    default: rc = SQLITE_MISUSE; break;
    }
    if (rc != SQLITE_OK) return sq_fail(s, db_qname(q), rc);
  }
  return DB_OK;
}

static int sq_query(db_conn *c, const db_sql *q, const db_val *args, int nargs,
                    db_cursor **out) {
  struct sq_conn *s = sq(c);
  struct sq_stmt *st = NULL;
  int rc = sq_prepare(s, q, &st);
  if (rc != DB_OK) return rc;
  rc = sq_bind(s, q, st, args, nargs);
  if (rc != DB_OK) {
    sqlite3_reset(st->stmt);
    return rc;
  }
  /* Execute now so that errors (constraints, busy) surface from db_query on both
   * engines; db_step hands out this first result. */
  int src = sqlite3_step(st->stmt);
  if (src != SQLITE_ROW && src != SQLITE_DONE) {
    rc = sq_fail(s, db_qname(q), src);
    sqlite3_reset(st->stmt);
    return rc;
  }
  struct sq_cursor *cur = &s->cursor;
  *cur = (struct sq_cursor){.base = {.conn = c}, .stmt = st->stmt, .name = db_qname(q),
                            .pending_rc = src,
                            .pending = true};
  *out = &cur->base;
  return DB_OK;
}

static int sq_step(db_cursor *base) {
  struct sq_cursor *cur = (struct sq_cursor *)base;
  struct sq_conn *s = sq(base->conn);
  if (cur->finished) return DB_DONE;
  int rc = cur->pending ? cur->pending_rc : sqlite3_step(cur->stmt);
  cur->pending = false;
  if (rc == SQLITE_ROW) return DB_ROW;
  cur->finished = true;
  if (rc == SQLITE_DONE) return DB_DONE;
  return sq_fail(s, cur->name, rc);
}

static bool sq_col_null(db_cursor *base, int col) {
  struct sq_cursor *cur = (struct sq_cursor *)base;
  assert(col < sqlite3_column_count(cur->stmt));
  return sqlite3_column_type(cur->stmt, col) == SQLITE_NULL;
}

static int64_t sq_col_int(db_cursor *base, int col) {
  struct sq_cursor *cur = (struct sq_cursor *)base;
  assert(col < sqlite3_column_count(cur->stmt));
  return sqlite3_column_int64(cur->stmt, col);
}

static const char *sq_col_text(db_cursor *base, int col) {
  struct sq_cursor *cur = (struct sq_cursor *)base;
  assert(col < sqlite3_column_count(cur->stmt));
  return (const char *)sqlite3_column_text(cur->stmt, col);
}

static int64_t sq_changes(db_cursor *base) {
  return sqlite3_changes64(sq(base->conn)->db);
}

static int64_t sq_rows_written(db_conn *c) { return sqlite3_total_changes64(sq(c)->db); }

static void sq_reset(db_cursor *base) {
  struct sq_cursor *cur = (struct sq_cursor *)base;
  /* The return value repeats the last step's error, already reported. */
  (void)sqlite3_reset(cur->stmt);
  cur->stmt = NULL;
}

static int sq_script(db_conn *c, const char *sql) {
  struct sq_conn *s = sq(c);
  char *msg = NULL;
  int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
  if (rc != SQLITE_OK) {
    db_set_errmsg(c, "script: %s (sqlite %d)", msg != NULL ? msg : sqlite3_errmsg(s->db),
                  rc);
    sqlite3_free(msg);
    int mapped = sq_map_rc(rc);
    return mapped < 0 ? mapped : DB_ERR;
  }
  return DB_OK;
}

static int sq_txn(db_conn *c, enum db_txn_op op) {
  struct sq_conn *s = sq(c);
  if (s->txn[op] == NULL) {
    int rc = sqlite3_prepare_v3(s->db, TXN_SQL[op], -1, SQLITE_PREPARE_PERSISTENT,
                                &s->txn[op], NULL);
    if (rc != SQLITE_OK) return sq_fail(s, TXN_SQL[op], rc);
  }
  int rc = sqlite3_step(s->txn[op]);
  int rrc = sqlite3_reset(s->txn[op]);
  (void)rrc; /* repeats rc's error */
  if (rc != SQLITE_DONE) return sq_fail(s, TXN_SQL[op], rc);
  return DB_OK;
}

static bool sq_in_txn(db_conn *c) { return sqlite3_get_autocommit(sq(c)->db) == 0; }

static int sq_reconnect(db_conn *c) {
  (void)sq(c);
  return DB_OK; /* a file does not disconnect */
}

static const char *sq_server_version(db_conn *c) { return sq(c)->version; }

static void sq_close(db_conn *c) {
  struct sq_conn *s = sq(c);
  db_cache_clear(&c->cache, sq_free_stmt, c);
  for (int i = 0; i < DB_TXN_COUNT; i++) sqlite3_finalize(s->txn[i]);
  int rc = sqlite3_close(s->db);
  assert(rc == SQLITE_OK && "statements left unfinalized");
  (void)rc;
  free(s);
}

static const struct db_ops SQ_OPS = {
    .close = sq_close,
    .query = sq_query,
    .step = sq_step,
    .col_null = sq_col_null,
    .col_int = sq_col_int,
    .col_text = sq_col_text,
    .changes = sq_changes,
    .reset = sq_reset,
    .script = sq_script,
    .txn = sq_txn,
    .in_txn = sq_in_txn,
    .rows_written = sq_rows_written,
    .reconnect = sq_reconnect,
    .server_version = sq_server_version,
};

static int sq_wal_hook(void *arg, sqlite3 *db, const char *name, int frames) {
  (void)db;
  (void)name;
  ((struct sq_conn *)arg)->wal_frames = frames;
  return SQLITE_OK;
}

int db_sqlite_wal_watch(db_conn *c) {
  if (c->ops != &SQ_OPS) return -1;
  struct sq_conn *s = (struct sq_conn *)c;
  (void)sqlite3_wal_hook(s->db, sq_wal_hook, s); /* replaces the automatic checkpoint's hook */
  return 0;
}

int db_sqlite_wal_frames(db_conn *c) {
  return c->ops == &SQ_OPS ? ((struct sq_conn *)c)->wal_frames : 0;
}

int db_sqlite_sync_db_file(db_conn *c) {
  if (c->ops != &SQ_OPS) return -1;
  sqlite3_file *f = NULL;
  int rc = sqlite3_file_control(((struct sq_conn *)c)->db, "main", SQLITE_FCNTL_FILE_POINTER, &f);
  if (rc != SQLITE_OK || f == NULL || f->pMethods == NULL) return -1;
  return f->pMethods->xSync(f, SQLITE_SYNC_NORMAL) == SQLITE_OK ? 0 : -1;
}

int db_sqlite_wal_path(db_conn *c, char *out, size_t out_len) {
  if (c->ops != &SQ_OPS) return -1;
  struct sq_conn *s = (struct sq_conn *)c;
  const char *main_file = sqlite3_db_filename(s->db, "main");
  if (!main_file || !main_file[0]) return -1;
  const char *wal = sqlite3_filename_wal(main_file);
  if (!wal || !wal[0]) return -1;
  int n = snprintf(out, out_len, "%s", wal);
  return n < 0 || (size_t)n >= out_len ? -1 : 0;
}

/* Durability and integrity settings; journal_mode must really become WAL. */
static int sq_configure(struct sq_conn *s, const char *path, char *err, size_t err_len) {
  int rc = sqlite3_extended_result_codes(s->db, 1);
  if (rc == SQLITE_OK) rc = sqlite3_busy_timeout(s->db, SQ_BUSY_TIMEOUT_MS);
  if (rc != SQLITE_OK) {
    db_fmt_err(err, err_len, "sqlite %s: %s", path, sqlite3_errmsg(s->db));
    return DB_ERR;
  }
  static const db_sql wal = {.name = "journal_mode", .sql = "PRAGMA journal_mode=WAL"};
  db_cursor *cur = NULL;
  rc = db_query(&s->base, &wal, NULL, 0, &cur);
  if (rc == DB_OK) {
    bool is_wal = db_step(cur) == DB_ROW && strcmp(db_col_text(cur, 0), "wal") == 0;
    db_reset(cur);
    if (!is_wal && strcmp(path, ":memory:") != 0) {
      db_fmt_err(err, err_len, "sqlite %s: cannot switch to WAL journal mode", path);
      return DB_ERR;
    }
  }
  if (rc == DB_OK)
    rc = sq_script(&s->base, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-32768; PRAGMA temp_store=MEMORY; PRAGMA secure_delete=OFF; PRAGMA mmap_size=1073741824;");
  if (rc != DB_OK) {
    db_fmt_err(err, err_len, "sqlite %s: %s", path, s->base.errmsg);
    return rc;
  }
  return DB_OK;
}

/* Never open() and close() the database file ourselves: closing any descriptor of a file
 * drops every POSIX lock this process holds on it, SQLite's included, and another process
 * (mpsctl) could then think it is alone and delete the WAL under us. SQLite creates the
 * file; a new one is then made owner-only with chmod(), which touches no descriptor, before
 * WAL mode creates its -wal and -shm companions (they inherit the mode). */
static bool sq_file_missing(const char *path) {
  struct stat st;
  return strcmp(path, ":memory:") != 0 && stat(path, &st) != 0 && errno == ENOENT;
}

/* Why a path cannot be opened, in the system's words, when SQLite only says "unable". */
static void sq_explain(const char *path, char *err, size_t err_len, const char *sqlite_msg) {
  char dir[1024];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash == dir) slash[1] = '\0';
  else if (slash) *slash = '\0';
  else snprintf(dir, sizeof dir, ".");
  struct stat st;
  const char *why = NULL;
  if (stat(dir, &st) != 0) why = strerror(errno);
  else if (!S_ISDIR(st.st_mode)) why = strerror(ENOTDIR);
  else if (access(dir, W_OK | X_OK) != 0) why = strerror(errno);
  if (why) {
    db_fmt_err(err, err_len, "cannot open sqlite database \"%s\": %s: %s", path, dir, why);
  } else {
    db_fmt_err(err, err_len, "cannot open sqlite database \"%s\": %s", path, sqlite_msg);
  }
}

/* Process-wide SQLite settings, once, before its first use: no memory statistics (their
 * global mutex is taken on every allocation and showed up in profiles), and the
 * multi-thread mode that fits one connection per thread. */
static int sq_global_rc = SQLITE_OK;
static void sq_global_init(void) {
  sq_global_rc = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  if (sq_global_rc == SQLITE_OK) sq_global_rc = sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
  if (sq_global_rc == SQLITE_MISUSE) sq_global_rc = SQLITE_OK; /* already initialised elsewhere */
  if (sq_global_rc == SQLITE_OK) sq_global_rc = sqlite3_initialize();
  if (sq_global_rc == SQLITE_OK) sq_global_rc = wal_buffer_register();
}

db_conn *db_sqlite_open(const char *path, int open_flags, char *err, size_t err_len) {
  assert(path != NULL && path[0] != '\0');
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, sq_global_init);
  if (sq_global_rc != SQLITE_OK) {
    db_fmt_err(err, err_len, "sqlite cannot initialise: %s", sqlite3_errstr(sq_global_rc));
    return NULL;
  }
  bool created = sq_file_missing(path);
  struct sq_conn *s = calloc(1, sizeof *s);
  if (s == NULL) {
    db_fmt_err(err, err_len, "out of memory");
    return NULL;
  }
  s->base.ops = &SQ_OPS;
  s->base.kind = DB_SQLITE;
  snprintf(s->version, sizeof s->version, "sqlite %s", sqlite3_libversion());
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  const char *vfs = (open_flags & DB_OPEN_WAL_BUFFER) ? WAL_BUFFER_VFS : NULL;
  int rc = sqlite3_open_v2(path, &s->db, flags, vfs);
  if (rc == SQLITE_OK && created && chmod(path, SQ_FILE_MODE) != 0) rc = SQLITE_CANTOPEN;
  if (rc != SQLITE_OK) {
    sq_explain(path, err, err_len, s->db != NULL ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
    sqlite3_close(s->db);
    free(s);
    return NULL;
  }
  if (sq_configure(s, path, err, err_len) != DB_OK) {
    sq_close(&s->base);
    return NULL;
  }
  return &s->base;
}
