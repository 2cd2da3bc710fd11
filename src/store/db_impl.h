/* db_impl.h — private to src/store: the backend vtable behind db.h, the shared part of
 * every connection (error text, cursor and savepoint bookkeeping, the prepared-statement
 * cache keyed by descriptor address) and a few internal calls used by exec.c.
 * Nothing outside src/store includes this file. */
#ifndef MPS_STORE_DB_IMPL_H
#define MPS_STORE_DB_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "store/db.h"

#define DB_MAX_PARAMS 100      /* most $N parameters in one statement */
#define DB_ERRMSG_LEN 512      /* error text kept per connection */
#define DB_CACHE_SLOTS 1024    /* prepared statements per connection: table size (2^n) */
#define DB_CACHE_MAX 768       /* ... and most entries (load factor 0.75) */
#define DB_STEP_MAX (1L << 30) /* most rows one db_run walks through */

/* Transaction-control statements every backend provides. */
enum db_txn_op {
  DB_TXN_BEGIN = 0,
  DB_TXN_BEGIN_WRITE, /* SQLite: BEGIN IMMEDIATE */
  DB_TXN_BEGIN_READ,  /* PostgreSQL: nothing sent, SELECTs only (D53) */
  DB_TXN_COMMIT,
  DB_TXN_ROLLBACK,
  DB_TXN_SAVEPOINT,
  DB_TXN_RELEASE,
  DB_TXN_ROLLBACK_TO, /* rolls back to the savepoint; the caller then releases it */
  DB_TXN_COUNT
};

/* The part of a cursor db.c sees; backends embed it first. */
struct db_cursor {
  db_conn *conn;
};

#define DB_NOT_HELD 1 /* run_later: too big to hold back */
/* run_later's race: what a concurrent transaction's win looks like, reported as DB_BUSY */
enum db_race { DB_RACE_NONE = 0, DB_RACE_CONSTRAINT = 1, DB_RACE_COUNT = 2 };

struct db_ops {
  void (*close)(db_conn *c);
  /* Prepare (cached), bind and execute; on success *out is the open cursor. */
  int (*query)(db_conn *c, const db_sql *q, const db_val *args, int nargs, db_cursor **out);
  int (*step)(db_cursor *cur);
  bool (*col_null)(db_cursor *cur, int col);
  int64_t (*col_int)(db_cursor *cur, int col);
  const char *(*col_text)(db_cursor *cur, int col);
  int64_t (*changes)(db_cursor *cur); /* rows changed by the statement of cur */
  void (*reset)(db_cursor *cur);
  int (*script)(db_conn *c, const char *sql);
  int (*txn)(db_conn *c, enum db_txn_op op);
  bool (*in_txn)(db_conn *c);
  int64_t (*rows_written)(db_conn *c); /* see db_rows_written; NULL when the engine has no counter */
  /* db_run_later (race: DB_RACE_* of db_run_later_race and db_run_later_taken; merge: enum
   * db_merge of db_run_later_merge); NULL when the engine runs every statement at once.
   * DB_NOT_HELD: run it now. */
  int (*run_later)(db_conn *c, const db_sql *q, const db_val *args, int nargs, int64_t expect, int race, int merge);
  /* db_prefetch; NULL when a query costs no round trip */
  int (*prefetch)(db_conn *c, const db_sql *q, const db_val *args, int nargs);
  int (*reconnect)(db_conn *c); /* re-establish a lost connection; DB_OK when usable */
  const char *(*server_version)(db_conn *c);
};

/* One slot of the prepared-statement cache: key is the descriptor address, entry is the
 * backend's prepared statement record. Open addressing with linear probing; entries are
 * never deleted one by one, only all at once (db_cache_clear). */
struct db_cache_slot {
  const db_sql *key;
  void *entry;
};

struct db_cache {
  struct db_cache_slot slots[DB_CACHE_SLOTS];
  size_t used;
};

/* The shared head of every connection; backends embed it first. */
struct db_conn {
  const struct db_ops *ops;
  enum db_kind kind;
  db_cursor *cursor;   /* the open cursor, NULL when none: one at a time */
  int savepoint_depth; /* 0 or 1 */
  int lane;            /* db_conn_lane(): the lane a PostgreSQL pool session claimed, else 0 */
  uint64_t round_trips; /* db_round_trips(): counted by the backend at each wait for an answer */
  uint64_t holds_merged; /* db_holds_merged(): holds a write group sent inside another's statement (D63) */
  bool in_group;        /* exec.c runs a PostgreSQL write group on it (db_group_begin) */
  int memo_count;       /* db_group_memo_set entries, in_group only */
  struct {
    char key[DB_GROUP_MEMO_KEY];
    char value[DB_GROUP_MEMO_VALUE];
  } memo[DB_GROUP_MEMO_SLOTS];
  struct db_cache cache;
  char errmsg[DB_ERRMSG_LEN];
};

/* A descriptor's name for error text. */
static inline const char *db_qname(const db_sql *q) {
  return q != NULL && q->name != NULL ? q->name : "query";
}

/* Backends. */
/* flags: DB_OPEN_WAL_BUFFER (SQLite: the VFS of store/wal_buffer.h; only for a connection one
 * thread uses for its whole life); DB_OPEN_INDEXES (PostgreSQL: the session plans no
 * sequential scan where an index serves, enable_seqscan off from its every connect, D65). A
 * backend ignores the flags that are not its own. */
#define DB_OPEN_WAL_BUFFER 1
#define DB_OPEN_INDEXES 2
#define DB_OPEN_LANE 4 /* PostgreSQL: the session claims a lane no other session holds (db.h, D66) */
db_conn *db_sqlite_open(const char *path, int flags, char *err, size_t err_len);
db_conn *db_open_flags(const char *url, int flags, char *err, size_t err_len);
db_conn *db_pg_open(const char *url, int flags, char *err, size_t err_len);

/* Error text helpers (truncate silently; err may be NULL when err_len is 0). */
void db_set_errmsg(db_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A write changed `got` rows where `want` were expected: the message, and DB_BUSY when race
 * has DB_RACE_COUNT (a concurrent transaction got there first), else DB_ERR. */
int db_count_mismatch(db_conn *c, const char *name, long long got, long long want, int race);
void db_fmt_err(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Statement cache: find the entry for q (NULL when absent), add one (DB_ERR when full). */
void *db_cache_find(const struct db_cache *cache, const db_sql *q);
int db_cache_put(struct db_cache *cache, const db_sql *q, void *entry);
/* Visit and forget every entry (free_entry may be NULL). */
void db_cache_clear(struct db_cache *cache, void (*free_entry)(db_conn *c, void *entry),
                    db_conn *c);

/* Internal calls for exec.c. */
/* A PostgreSQL write group starts or ends on the connection (db_group_memo_get/set): end
 * forgets the memo. */
void db_group_begin(db_conn *c);
void db_group_end(db_conn *c);
int db_begin_read(db_conn *c);        /* read transaction (read-only on PostgreSQL) */
bool db_in_transaction(db_conn *c);   /* a transaction is open on the connection */
/* A counter of the rows this connection has inserted, updated or deleted: a job that left it
 * unchanged wrote nothing that a rollback would have to undo. -1 when the engine has none. */
int64_t db_rows_written(db_conn *c);
int db_reconnect_if_lost(db_conn *c); /* PostgreSQL: PQreset a broken connection */
bool db_reset_leaked_cursor(db_conn *c); /* reset a cursor a job forgot; true if there was one */
/* SQLite: the path of the database's WAL file into out; -1 on another engine, for an
 * in-memory database or when out is too small. */
int db_sqlite_wal_path(db_conn *c, char *out, size_t out_len);
/* SQLite: stop checkpointing inside this connection's COMMIT (SQLite's automatic checkpoint)
 * and count instead the frames in the WAL after each of its commits (db_sqlite_wal_frames;
 * 0 before the first). -1 on another engine. */
int db_sqlite_wal_watch(db_conn *c);
int db_sqlite_wal_frames(db_conn *c);
/* SQLite: sync the database file through the connection's own descriptor of it (never one of
 * ours: closing any descriptor of the file drops this process's locks on it). 0, or -1. */
int db_sqlite_sync_db_file(db_conn *c);

#endif
