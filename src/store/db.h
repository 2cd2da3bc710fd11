/* db.h — the store driver interface: one connection, prepared statements, typed
 * parameters and a row cursor, with an SQLite and a PostgreSQL backend.
 *
 * Every query is a `db_sql` descriptor declared once (usually `static const`) with its
 * SQL text in `$1, $2, ...` parameter style, which both engines accept. A descriptor may
 * carry a PostgreSQL-only variant where the dialects must differ. A connection prepares
 * each descriptor lazily on first use and caches it for its lifetime (keyed by the
 * descriptor's address), so user input never reaches SQL text.
 *
 * A connection is used by one thread at a time. Concurrency lives in exec.h.
 *
 * Dialect note: on PostgreSQL a failed statement aborts the whole transaction (only a
 * savepoint or rollback recovers), on SQLite only the statement is undone. Code that
 * expects a conflict should avoid the error (INSERT ... ON CONFLICT) rather than carry on
 * after it; a COMMIT of an aborted PostgreSQL transaction returns DB_ERR. */
#ifndef MPS_STORE_DB_H
#define MPS_STORE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum db_kind { DB_SQLITE = 1, DB_POSTGRES = 2 };

/* Result codes of every db_* call. Negative values are failures. */
enum db_rc {
  DB_OK = 0,
  DB_ROW = 1,         /* db_step: a row is available */
  DB_DONE = 2,        /* db_step: no more rows */
  DB_ERR = -1,        /* any other failure; details via db_errmsg() */
  DB_CONSTRAINT = -2, /* unique / foreign key / check violation */
  DB_BUSY = -3,       /* lock timeout, serialization failure: the caller may retry */
  DB_CONN = -4,       /* connection lost or store unavailable */
};

/* A query descriptor. `sql` is used on both engines unless `sql_pg` is set. */
typedef struct db_sql {
  const char *name; /* short identifier for logs and metrics, e.g. "merchant_insert" */
  const char *sql;
  const char *sql_pg; /* optional PostgreSQL variant */
} db_sql;

enum db_type { DB_T_NULL = 0, DB_T_INT = 1, DB_T_TEXT = 2 };

typedef struct db_val {
  enum db_type type;
  int64_t i;
  const char *s; /* NUL-terminated; not copied, must outlive the statement run */
} db_val;

static inline db_val db_int(int64_t v) { return (db_val){.type = DB_T_INT, .i = v}; }
static inline db_val db_text(const char *s) {
  return s ? (db_val){.type = DB_T_TEXT, .s = s} : (db_val){.type = DB_T_NULL};
}
static inline db_val db_null(void) { return (db_val){.type = DB_T_NULL}; }

typedef struct db_conn db_conn;
typedef struct db_cursor db_cursor; /* owned by the connection; one open at a time */

/* Open a connection. `url` is "sqlite:PATH" (or a plain path) or "postgres://..." /
 * "postgresql://...". On failure returns NULL and writes a message into err. */
db_conn *db_open(const char *url, char *err, size_t err_len);
void db_close(db_conn *c);
enum db_kind db_conn_kind(const db_conn *c);

/* A connection's lane: for an executor's PostgreSQL pool connection, the lane its session
 * claimed, one no other session of the database holds, whichever mpsd node it belongs to
 * (0..DB_MAX_LANES-1, D66); 0 for every other connection. Two pool transactions running at
 * once never share a lane, so rows keyed by lane (a hot account's balance part, a merchant's
 * payment audit chain) never make them wait for each other (docs/money.md, "hot accounts"). */
#define DB_MAX_LANES 256
int db_conn_lane(const db_conn *c);
/* A PostgreSQL write group (exec.h): several queued WRITE jobs in one transaction, every
 * job's prefetch sent before any job ran, so a prefetched answer cannot show what an earlier
 * job of the group wrote. A job that changes a row a later job of the group reads through a
 * prefetch leaves the new value here (the audit chain's head: audit.c); the rows that only one
 * job may touch are kept apart by the jobs' group keys instead. Outside a group get finds
 * nothing and set does nothing; the memo is forgotten when the group's transaction ends.
 * get: true with the value copied into out (cut to out_len). set: DB_OK, or DB_ERR when the
 * key (< DB_GROUP_MEMO_KEY bytes) or value (< DB_GROUP_MEMO_VALUE) is too long or the memo is
 * full: the job then fails and the group runs its jobs alone, where nothing is memoised. */
#define DB_GROUP_MEMO_KEY 192
#define DB_GROUP_MEMO_VALUE 128
#define DB_GROUP_MEMO_SLOTS 48
bool db_group_memo_get(db_conn *c, const char *key, char *out, size_t out_len);
/* A write group runs on the connection: a row every job of the group locks (the audit chain's
 * head) is better not prefetched, so that the group locks it after all its keys' rows, in the
 * order a transaction alone does (its member, then the head), and two groups or a group and a
 * refund cannot wait for each other in a cycle. */
bool db_in_group(const db_conn *c);
int db_group_memo_set(db_conn *c, const char *key, const char *value);
/* Answers this connection has waited for from its server since it was opened: PostgreSQL
 * round trips (a pipeline, a statement run alone, a prepare); 0 on SQLite, in process. */
uint64_t db_round_trips(const db_conn *c);
/* Holds (db_run_later) a PostgreSQL write group sent inside another hold's statement, or not
 * at all (DB_MERGE_LAST), since the connection opened (D63); 0 on SQLite. */
uint64_t db_holds_merged(const db_conn *c);
const char *db_errmsg(const db_conn *c);

/* Run a statement with parameters. On success the cursor is positioned before the
 * first row; call db_step until DB_DONE, then db_reset. For statements without
 * results, db_run runs to completion and reports rows changed. */
int db_query(db_conn *c, const db_sql *q, const db_val *args, int nargs, db_cursor **out);
int db_step(db_cursor *cur);                  /* DB_ROW, DB_DONE or < 0 */
bool db_col_null(db_cursor *cur, int col);
int64_t db_col_int(db_cursor *cur, int col);  /* 0 when NULL */
const char *db_col_text(db_cursor *cur, int col); /* "" when NULL; valid until next step/reset */
/* The column's text copied into dst (n > 0 bytes, always NUL-terminated, cut to fit, as
 * snprintf "%s" would, without its cost: a list of 20 payments copies 140 strings). */
void db_col_copy(db_cursor *cur, int col, char *dst, size_t n);
void db_reset(db_cursor *cur);                /* release the cursor; always call */

int db_run(db_conn *c, const db_sql *q, const db_val *args, int nargs, int64_t *changes);
/* A write whose answer the caller does not need now: the store may hold it back and send it
 * with the connection's next statement or COMMIT (PostgreSQL: one libpq pipeline, one round
 * trip for all of them; SQLite runs it at once). expect_changes >= 0 makes another row count
 * a failure (DB_ERR; PostgreSQL checks it on the server, so the transaction cannot commit
 * with it, D58); -1 takes any. Its failure is returned by this call or by a later call
 * on the connection (a query, COMMIT): the transaction is then lost. Use it only for writes
 * whose failure the caller would not handle otherwise than by giving up; order is kept. */
int db_run_later(db_conn *c, const db_sql *q, const db_val *args, int nargs, int64_t expect_changes);
/* db_run_later for a write whose constraint refusal (a unique key taken, a CHECK) means that
 * a concurrent transaction got there first: that refusal is reported as DB_BUSY, so the job
 * runs again from its start and sees what the other one committed. */
int db_run_later_race(db_conn *c, const db_sql *q, const db_val *args, int nargs, int64_t expect_changes);
/* db_run_later for a write whose other row count means that a concurrent transaction got
 * there first (a voucher it takes only while ACTIVE): that count is reported as DB_BUSY, so
 * the job runs again from its start. */
int db_run_later_taken(db_conn *c, const db_sql *q, const db_val *args, int nargs, int64_t expect_changes);
/* How a PostgreSQL write group (D62) may send the holds of one statement that its jobs made
 * as one statement over arrays (D63, db_pg_set.h); outside a group, and on SQLite, nothing
 * changes. A plain INSERT ... VALUES is always sent so (it writes its rows or fails), and so
 * is a prefetched query (db_prefetch; its answer is split again per prefetch). The
 * caller vouches that holds of different jobs touch different rows (ROWS) or the one row as
 * said (LAST, SUM), and that reordering them among the group's other writes changes nothing
 * but which of two failures comes first: any failure makes every job of the group run alone. */
enum db_merge {
  DB_MERGE_NONE = 0,
  /* an UPDATE each hold of which changes its own rows: one UPDATE over arrays whose count is
   * checked against the sum of the holds' (a row two holds matched is changed once: a count
   * short, and the group runs alone) */
  DB_MERGE_ROWS,
  /* a write setting a row to the values given: of holds alike in their first argument only
   * the last is sent (every one would change the same rows, and the last's values stay) */
  DB_MERGE_LAST,
  /* a write adding its last argument, an integer: holds alike in every other argument are
   * sent as one adding their sum */
  DB_MERGE_SUM,
};
/* db_run_later (db_run_later_race when constraint_race) whose holds a write group may merge */
int db_run_later_merge(db_conn *c, const db_sql *q, const db_val *args, int nargs, int64_t expect_changes,
                       enum db_merge how, bool constraint_race);
/* Run a query ahead of its use, inside a transaction: the store may send it with the
 * connection's next round trip (PostgreSQL: in the pipeline of the held-back writes and the
 * next statement) and keep its answer for the db_query of the same descriptor with equal
 * arguments that follows; the answer is then what the query saw at the point it was
 * prefetched. The caller promises that nothing it runs in between changes that answer (a
 * read of rows the transaction does not write meanwhile, or a row lock). An answer nobody
 * asks for is dropped when the transaction ends. A hint: the store may also do nothing (SQLite,
 * where a query costs no round trip), and the query then runs when asked. A failure of the
 * prefetched query is returned by a later call, as for db_run_later. */
int db_prefetch(db_conn *c, const db_sql *q, const db_val *args, int nargs);
/* db_run now, with the same row-count check (expect_changes >= 0; DB_ERR on another count). */
int db_run_expect(db_conn *c, const db_sql *q, const db_val *args, int nargs, int64_t expect_changes);
/* Convenience: run a query expected to return at most one row with one integer column.
 * Returns DB_ROW with *out set, DB_DONE when no row, or < 0. */
int db_query_int(db_conn *c, const db_sql *q, const db_val *args, int nargs, int64_t *out);

/* Raw SQL for migrations and set-up only (may hold several statements; no parameters). */
int db_exec_script(db_conn *c, const char *sql);

/* Transactions. db_begin_write takes the write lock at once on SQLite (BEGIN IMMEDIATE). On
 * PostgreSQL BEGIN is held back and sent with the transaction's first statement (one round
 * trip less), so a lost connection is reported by that statement, not by db_begin. */
int db_begin(db_conn *c);
int db_begin_write(db_conn *c);
int db_commit(db_conn *c);
int db_rollback(db_conn *c);
/* Savepoints nest inside a transaction: used by the SQLite group-commit writer to run
 * several jobs in one transaction while keeping each job all-or-nothing. */
int db_savepoint(db_conn *c);
int db_release(db_conn *c);
int db_rollback_to(db_conn *c);

/* Cheap liveness probe (SELECT 1). */
int db_ping(db_conn *c);

/* Human-readable server description, e.g. "sqlite 3.40.1" or "postgresql 15.20". */
const char *db_server_version(db_conn *c);

#endif
