/* db_pg.c — the PostgreSQL backend of db.h over libpq: connecting, statements prepared
 * lazily under per-connection names and cached by descriptor address, text parameters and
 * results, SQLSTATE mapping, transaction control and reconnection of a lost connection. */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store/db.h"
#include "store/db_impl.h"
#include "store/db_pg_set.h"

#define PG_CONNECT_TIMEOUT_S "10" /* default; the URL's connect_timeout wins */
#define PG_STMT_NAME_LEN 24
#define PG_INT_TEXT_LEN 24 /* "-9223372036854775808" + NUL */

struct pg_stmt {
  char name[PG_STMT_NAME_LEN];
  const char *sql; /* the text it was prepared from */
  int nparams;
  bool reads_only; /* a SELECT that locks nothing: allowed in a read transaction */
  struct pg_stmt *checked; /* its count-checked form (prepare_checked), once held back so */
  char *own_sql;           /* the checked or set form's text, owned */
  struct pg_stmt *set;     /* its set form (D63, set_stmt), once merged */
  bool no_set;             /* it has none (or it would not prepare) */
  Oid types[DB_MAX_PARAMS]; /* its parameters' types, as the server settled them */
};

struct pg_cursor {
  struct db_cursor base;
  PGresult *res;
  const char *name;
  int row;   /* current row, -1 before the first */
  int nrows;
};

/* A statement held back, sent with the next statement or COMMIT in one libpq pipeline (one
 * round trip for all of them): a write of db_run_later, a query of db_prefetch (its answer is
 * kept, `ahead` >= 0) or the transaction's BEGIN (st NULL, sql set). Parameters are copied
 * into the arena. */
/* A write group of 32 wallet payments (exec.c, D62) holds back 16 (a PAID payment with a fee)
 * to 23 (a voucher, three buckets, a fee) writes each, with 1-2 KB of arguments; past these a
 * pipeline is sent early to make room (a round trip more, nothing else) */
#define PG_LATER_MAX 800
#define PG_LATER_ARENA (256 * 1024)
struct pg_later {
  struct pg_stmt *st;
  const char *sql; /* a plain command (BEGIN) when st is NULL */
  const char *name;
  int nparams;
  int off[DB_MAX_PARAMS]; /* into the arena; -1 for NULL */
  int64_t expect;         /* rows it must change; -1 for any */
  bool checked;           /* st is the count-checked form: the server checks expect (D58) */
  int race;               /* DB_RACE_*: what is reported as DB_BUSY (db_run_later_race, _taken) */
  int ahead;              /* index into pg_conn.ahead, or -1 */
  /* a write group's merging (D63, merge_holds) */
  const db_sql *q;
  struct pg_stmt *base; /* the statement held, st being its checked form or base itself */
  int nbase;            /* its arguments (nparams without the count of a checked form) */
  int merge;            /* enum db_merge */
  bool skip;            /* merged into another hold: not sent */
  int into;             /* a skipped prefetch: the later entry whose answer carries its own */
  bool in_set;          /* off[] is into pg_conn.set_arena: arrays of a set form */
};

/* A query run ahead by db_prefetch: its descriptor and arguments (as text, in the ahead
 * arena) to know it again, and its answer once the pipeline carrying it came back. */
/* a refund prefetches 20 in all (D55), a reader's batch of 8 reads up to 32 (D60), a write
 * group of 32 payments ~200 (D62, with arguments up to ~1 KB a payment: long keys and ids);
 * past these a prefetch runs when asked instead */
#define PG_AHEAD_MAX 256
#define PG_AHEAD_ARENA (64 * 1024)
struct pg_ahead {
  const db_sql *q; /* NULL once taken */
  int nparams;
  int off[DB_MAX_PARAMS]; /* into the ahead arena; -1 for NULL */
  PGresult *res;          /* the answer; NULL until it came */
  bool sent;
};

struct pg_conn {
  struct db_conn base;
  PGconn *pg;
  struct pg_cursor cursor;
  unsigned stmt_counter; /* source of statement names */
  char version[64];
  struct pg_later later[PG_LATER_MAX];
  int nlater;
  bool begin_held; /* the transaction's BEGIN is the first held-back statement, not sent yet */
  bool read_open;  /* a read transaction (D53): no BEGIN on the server, SELECTs only */
  size_t arena_used;
  char arena[PG_LATER_ARENA];
  struct pg_ahead ahead[PG_AHEAD_MAX];
  int nahead;
  size_t ahead_used;
  char ahead_arena[PG_AHEAD_ARENA];
  bool indexes;    /* DB_OPEN_INDEXES: every session plans no sequential scan (pg_session_setup) */
  bool own_lane;   /* DB_OPEN_LANE: every session holds a lane of its own (claim_lane) */
  char *set_arena; /* the arrays of merged holds (PG_SET_ARENA bytes, allocated at the first merge) */
  size_t set_used;
};

/* The last statement of a pipeline, whose result the caller wants: a prepared statement with
 * its values, or a plain command (COMMIT). */
struct pg_final {
  const char *name;
  const struct pg_stmt *st;
  int nparams;
  const char *const *values;
  const char *sql;
};

/* DB_TXN_BEGIN_READ sends nothing (D53): a read transaction's statements run in the implicit
 * transaction of their pipeline. */
static const char *const TXN_SQL[DB_TXN_COUNT] = {
    [DB_TXN_BEGIN] = "BEGIN",
    [DB_TXN_BEGIN_WRITE] = "BEGIN",
    [DB_TXN_COMMIT] = "COMMIT",
    [DB_TXN_ROLLBACK] = "ROLLBACK",
    [DB_TXN_SAVEPOINT] = "SAVEPOINT sp",
    [DB_TXN_RELEASE] = "RELEASE SAVEPOINT sp",
    [DB_TXN_ROLLBACK_TO] = "ROLLBACK TO SAVEPOINT sp",
};

static struct pg_conn *pgc(db_conn *c) {
  assert(c != NULL && c->kind == DB_POSTGRES);
  return (struct pg_conn *)c;
}

/* libpq messages end in a newline; error text should not. */
static void pg_set_err(struct pg_conn *p, const char *what, const char *msg) {
  size_t len = msg != NULL ? strlen(msg) : 0;
  while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' ')) len--;
  if (len > DB_ERRMSG_LEN) len = DB_ERRMSG_LEN;
  db_set_errmsg(&p->base, "%s: %.*s", what, (int)len, msg != NULL ? msg : "");
}

/* Map a failed result (res may be NULL) to a db_rc and record its message. */
static int pg_fail(struct pg_conn *p, const char *what, const PGresult *res) {
  const char *msg = res != NULL ? PQresultErrorMessage(res) : NULL;
  if (msg == NULL || msg[0] == '\0') msg = PQerrorMessage(p->pg);
  pg_set_err(p, what, msg);
  if (PQstatus(p->pg) != CONNECTION_OK) return DB_CONN;
  const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
  if (state == NULL) return res == NULL ? DB_CONN : DB_ERR;
  if (strncmp(state, "23", 2) == 0) return DB_CONSTRAINT;
  if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
      strcmp(state, "55P03") == 0)
    return DB_BUSY;
  if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0) return DB_CONN;
  return DB_ERR;
}

/* A statement and the forms made of it (checked, set, the set form's checked). */
static void free_stmt(struct pg_stmt *st) {
  if (st == NULL) return;
  free_stmt(st->checked);
  free_stmt(st->set);
  free(st->own_sql);
  free(st);
}

static void pg_free_stmt(db_conn *c, void *entry) {
  (void)c;
  free_stmt(entry);
}

/* DB_OPEN_LANE (D66): the session takes the first lane of 0..DB_MAX_LANES-1 whose session
 * advisory lock (class PG_LANE_LOCK_CLASS, "mpsl") it gets, so no two sessions of the database
 * hold one lane at once, whichever mpsd node they belong to. The lock goes with the session
 * (a lost connection, PQreset, close), and the next session claims again. A lane is a share of
 * a hot account's balance and a merchant's audit chain, never an identity: a reconnected
 * session may take another. One round trip a lane tried; at start-up a node's connections take
 * the lanes in turn, so the k-th tries k + 1 times when it is alone on the database. */
#define PG_LANE_LOCK_CLASS "1836086124"
static int claim_lane(struct pg_conn *p) {
  for (int k = 0; k < DB_MAX_LANES; k++) {
    char num[16];
    snprintf(num, sizeof num, "%d", k);
    const char *const vals[1] = {num};
    PGresult *res = PQexecParams(p->pg,
                                 "SELECT CASE WHEN pg_try_advisory_lock(" PG_LANE_LOCK_CLASS ", $1::int4) "
                                 "THEN 1 ELSE 0 END",
                                 1, NULL, vals, NULL, NULL, 0);
    p->base.round_trips++;
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
      int rc = pg_fail(p, "lane claim", res);
      PQclear(res);
      return rc == DB_OK ? DB_ERR : rc;
    }
    bool got = strcmp(PQgetvalue(res, 0, 0), "1") == 0;
    PQclear(res);
    if (got) {
      p->base.lane = k;
      return DB_OK;
    }
  }
  db_set_errmsg(&p->base,
                "lane claim: all %d lanes are held by other sessions of this database (every mpsd "
                "pool connection holds one: fewer nodes or a smaller MPS_DB_POOL_SIZE)",
                DB_MAX_LANES);
  return DB_ERR;
}

/* Session settings; run after every (re)connect. */
static int pg_session_setup(struct pg_conn *p) {
  PGresult *res = PQexec(p->pg, p->indexes ? "SET client_min_messages = warning; SET enable_seqscan = off"
                                           : "SET client_min_messages = warning");
  p->base.round_trips++;
  int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? DB_OK : pg_fail(p, "session setup", res);
  PQclear(res);
  if (rc == DB_OK && p->own_lane) rc = claim_lane(p);
  int v = PQserverVersion(p->pg);
  if (v >= 100000)
    snprintf(p->version, sizeof p->version, "postgresql %d.%d", v / 10000, v % 10000);
  else
    snprintf(p->version, sizeof p->version, "postgresql %d.%d.%d", v / 10000,
             (v / 100) % 100, v % 100);
  return rc;
}

/* An integer argument is declared int8 (bigint) when the statement is prepared: left to
 * inference, `balance + normal * $2` would make $2 an int4 (from `normal INTEGER`) and
 * refuse every amount of 2^31 minor units or more. Text and NULL stay for the server to
 * infer. The first call's argument types decide, so a parameter is always passed with one
 * type (every call site passes the same db_val kinds). */
#define PG_INT8_OID 20

/* The parameters a statement text uses: the highest $N, or -1 when one of $1..$N is
 * missing (declared types would let the server accept the gap; SQLite refuses it too). */
static int sql_param_count(const char *sql) {
  bool seen[DB_MAX_PARAMS + 1] = {false};
  int max = 0;
  for (const char *s = sql; *s != '\0'; s++) {
    if (*s != '$' || s[1] < '0' || s[1] > '9') continue;
    int n = 0;
    while (s[1] >= '0' && s[1] <= '9' && n <= DB_MAX_PARAMS) n = n * 10 + (*++s - '0');
    if (n < 1 || n > DB_MAX_PARAMS) return -1;
    seen[n] = true;
    if (n > max) max = n;
  }
  for (int k = 1; k <= max; k++)
    if (!seen[k]) return -1;
  return max;
}

/* sql after its leading blanks. */
static const char *skip_space(const char *sql) {
  while (*sql == ' ' || *sql == '\n' || *sql == '\t') sql++;
  return sql;
}

/* True for a statement a read transaction may run: a SELECT that takes no row locks and draws
 * no sequence number. READ ONLY would have refused the rest (a write, a data-modifying WITH, a
 * lock); read transactions send no BEGIN (D53), so this stands in for it. What it cannot see is
 * a SELECT calling a function that writes: mps has no such function. */
static bool reads_only(const char *sql) {
  if (strncasecmp(skip_space(sql), "SELECT", 6) != 0) return false;
  static const char *const locks[] = {"FOR UPDATE", "FOR SHARE", "FOR NO KEY", "FOR KEY SHARE", "nextval("};
  for (size_t i = 0; i < sizeof locks / sizeof locks[0]; i++)
    if (strcasestr(sql, locks[i]) != NULL) return false;
  return true;
}

/* A query (SELECT, or WITH ... SELECT): what a prefetch may merge (a write is refused by its
 * set form). */
static bool is_query(const char *sql) {
  const char *s = skip_space(sql);
  return strncasecmp(s, "SELECT", 6) == 0 || strncasecmp(s, "WITH", 4) == 0;
}

/* A read transaction runs only what reads_only() admits; anything else fails there. */
static int refuse_in_read(struct pg_conn *p, const db_sql *q, const struct pg_stmt *st) {
  if (!p->read_open || st->reads_only) return DB_OK;
  db_set_errmsg(&p->base, "%s: cannot write or lock rows in a read-only transaction", db_qname(q));
  return DB_ERR;
}

static int pg_prepare_new(struct pg_conn *p, const db_sql *q, const char *sql,
                          const db_val *args, int nargs, struct pg_stmt *st) {
  int len = snprintf(st->name, sizeof st->name, "mps_%u", ++p->stmt_counter);
  assert(len > 0 && (size_t)len < sizeof st->name);
  (void)len;
  assert(nargs >= 0 && nargs <= DB_MAX_PARAMS);
  int used = sql_param_count(sql);
  if (used < 0) {
    db_set_errmsg(&p->base, "%s: parameters must be numbered $1..$N without gaps", db_qname(q));
    return DB_ERR;
  }
  Oid types[DB_MAX_PARAMS];
  int typed = nargs < used ? nargs : used;
  for (int k = 0; k < typed; k++) types[k] = args[k].type == DB_T_INT ? PG_INT8_OID : 0;
  PGresult *res = PQprepare(p->pg, st->name, sql, typed, typed > 0 ? types : NULL);
  p->base.round_trips++;
  int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? DB_OK : pg_fail(p, db_qname(q), res);
  PQclear(res);
  if (rc != DB_OK) return rc;
  res = PQdescribePrepared(p->pg, st->name);
  p->base.round_trips++;
  rc = PQresultStatus(res) == PGRES_COMMAND_OK ? DB_OK : pg_fail(p, db_qname(q), res);
  if (rc == DB_OK) st->nparams = PQnparams(res);
  for (int k = 0; rc == DB_OK && k < st->nparams && k < DB_MAX_PARAMS; k++) st->types[k] = PQparamtype(res, k);
  PQclear(res);
  if (rc == DB_OK && st->nparams > DB_MAX_PARAMS) {
    db_set_errmsg(&p->base, "%s: %d parameters, at most %d", db_qname(q), st->nparams,
                  DB_MAX_PARAMS);
    rc = DB_ERR;
  }
  st->sql = sql;
  st->reads_only = reads_only(sql);
  return rc;
}

static int pg_prepare(struct pg_conn *p, const db_sql *q, const db_val *args, int nargs,
                      struct pg_stmt **out) {
  const char *sql = q->sql_pg != NULL ? q->sql_pg : q->sql;
  struct pg_stmt *old = db_cache_find(&p->base.cache, q);
  if (old != NULL && old->sql == sql) {
    *out = old;
    return DB_OK;
  }
  if (old == NULL && p->base.cache.used >= DB_CACHE_MAX) {
    db_set_errmsg(&p->base, "%s: statement cache full (%d)", db_qname(q), DB_CACHE_MAX);
    assert(0 && "statement cache full: are db_sql descriptors static?");
    return DB_ERR;
  }
  struct pg_stmt *st = calloc(1, sizeof *st);
  if (st == NULL) {
    db_set_errmsg(&p->base, "%s: out of memory", db_qname(q));
    return DB_ERR;
  }
  int rc = pg_prepare_new(p, q, sql, args, nargs, st);
  if (rc == DB_OK) rc = db_cache_put(&p->base.cache, q, st);
  if (rc != DB_OK) {
    free(st);
    return rc;
  }
  /* A reused descriptor address: the old server-side statement just stays unused. */
  pg_free_stmt(&p->base, old);
  *out = st;
  return DB_OK;
}

/* The statement prepared (cached) for these arguments, their count checked. */
static int pg_prepare_args(struct pg_conn *p, const db_sql *q, const db_val *args, int nargs,
                           struct pg_stmt **out) {
  if (nargs < 0 || nargs > DB_MAX_PARAMS) {
    db_set_errmsg(&p->base, "%s: %d arguments, at most %d", db_qname(q), nargs, DB_MAX_PARAMS);
    return DB_ERR;
  }
  int rc = pg_prepare(p, q, args, nargs, out);
  if (rc != DB_OK) return rc;
  if (nargs != (*out)->nparams) {
    db_set_errmsg(&p->base, "%s: %d arguments for %d parameters", db_qname(q), nargs, (*out)->nparams);
    return DB_ERR;
  }
  return DB_OK;
}

/* Forget the held-back statements (sent, or belonging to a transaction that is gone). */
static void drop_later(struct pg_conn *p) {
  p->nlater = 0;
  p->arena_used = 0;
  p->begin_held = false;
}

/* A prefetched write that was sent but whose answer no one took: its effect is in the
 * transaction while the code that asked for it never ran (db_prefetch's promise broken).
 * COMMIT refuses such a transaction. Returns its name, or NULL. */
static const char *unclaimed_write(const struct pg_conn *p) {
  static const char *const writes[] = {"INSERT", "UPDATE", "DELETE"};
  for (int i = 0; i < p->nahead; i++) {
    const struct pg_ahead *a = &p->ahead[i];
    if (a->q == NULL || !a->sent) continue;
    const char *sql = a->q->sql_pg != NULL ? a->q->sql_pg : a->q->sql;
    for (size_t w = 0; w < sizeof writes / sizeof writes[0]; w++)
      if (strncmp(sql, writes[w], strlen(writes[w])) == 0) return db_qname(a->q);
  }
  return NULL;
}

/* Forget every prefetched answer and every prefetch not sent yet (the transaction ends: no
 * one will ask). The held-back writes stay, in their order. */
static void drop_ahead(struct pg_conn *p) {
  for (int i = 0; i < p->nahead; i++) PQclear(p->ahead[i].res);
  p->nahead = 0;
  p->ahead_used = 0;
  int kept = 0;
  for (int i = 0; i < p->nlater; i++)
    if (p->later[i].ahead < 0) p->later[kept++] = p->later[i];
  p->nlater = kept;
}

/* A new session on the same URL: the server forgot every prepared statement and whatever
 * the old session held. DB_OK when connected again. */
static int restart_session(struct pg_conn *p, const char *what) {
  db_cache_clear(&p->base.cache, pg_free_stmt, &p->base);
  p->base.savepoint_depth = 0;
  drop_ahead(p);
  drop_later(p);
  PQreset(p->pg);
  if (PQstatus(p->pg) != CONNECTION_OK) {
    pg_set_err(p, what, PQerrorMessage(p->pg));
    return DB_CONN;
  }
  return pg_session_setup(p);
}

/* s as an int64: false when it is empty, not a whole decimal integer, or out of range */
static bool parse_i64(const char *s, int64_t *out) {
  if (s == NULL || *s == '\0') return false;
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  *out = (int64_t)v;
  return errno == 0 && *end == '\0';
}

static int64_t cmd_tuples(const PGresult *res) {
  int64_t v = 0;
  return parse_i64(PQcmdTuples((PGresult *)res), &v) ? v : 0;
}

/* A held-back write's row count is checked on the server (D58). COMMIT travels in the
 * pipeline of the held-back writes, so a count checked when their answers come back would be
 * checked after the transaction committed. Every write with a count to expect is held back in
 * a checked form,
 *   WITH mps_w AS (<write> RETURNING 1) SELECT CASE WHEN count(*) = $K THEN 0
 *     ELSE ('mps: changed ' || count(*) || ' rows, not ' || $K)::int END FROM mps_w
 * ($K the count wanted), where another count fails the statement (22P02: that text is no
 * integer) and with it the pipeline: the COMMIT after it is not run, and the caller's ROLLBACK
 * ends the transaction. Only a plain INSERT ... VALUES goes as it is (it writes its rows or
 * fails); a write that cannot be wrapped (its own WITH or RETURNING) is not held back. */
#define PG_COUNT_MARK "mps: changed "
static bool count_can_differ(const char *sql) {
  if (strncasecmp(skip_space(sql), "INSERT", 6) != 0) return true;
  return strcasestr(sql, "VALUES") == NULL || strcasestr(sql, "CONFLICT") != NULL ||
         strcasestr(sql, "SELECT") != NULL;
}

/* st's checked form, prepared once: DB_OK, DB_NOT_HELD when it can have none (a WITH or a
 * RETURNING of its own, no parameter left for the count: the caller runs it now and checks
 * its count itself), or a failure. */
static int prepare_checked(struct pg_conn *p, const db_sql *q, struct pg_stmt *st, const db_val *args,
                           int nargs) {
  if (st->checked != NULL) return DB_OK;
  const char *start = skip_space(st->sql);
  if (strncasecmp(start, "WITH", 4) == 0 || strncasecmp(start, "SELECT", 6) == 0 ||
      strcasestr(st->sql, "RETURNING") != NULL || nargs + 1 > DB_MAX_PARAMS)
    return DB_NOT_HELD;
  static const char form[] = "WITH mps_w AS (%s RETURNING 1) SELECT CASE WHEN count(*) = $%d THEN 0 "
                             "ELSE ('" PG_COUNT_MARK "' || count(*) || ' rows, not ' || $%d)::int END FROM mps_w";
  size_t cap = strlen(st->sql) + sizeof form + 16;
  char *sql = malloc(cap);
  struct pg_stmt *ck = calloc(1, sizeof *ck);
  if (sql == NULL || ck == NULL) {
    free(sql);
    free(ck);
    db_set_errmsg(&p->base, "%s: out of memory", db_qname(q));
    return DB_ERR;
  }
  int n = snprintf(sql, cap, form, st->sql, nargs + 1, nargs + 1);
  assert(n > 0 && (size_t)n < cap);
  (void)n;
  db_val typed[DB_MAX_PARAMS];
  memcpy(typed, args, (size_t)nargs * sizeof *args);
  typed[nargs] = db_int(0); /* an int8 parameter */
  int rc = pg_prepare_new(p, q, sql, typed, nargs + 1, ck);
  if (rc != DB_OK) {
    free(sql);
    free(ck);
    return rc;
  }
  ck->own_sql = sql;
  st->checked = ck;
  return DB_OK;
}

/* Is this failure a checked form's refusal of another count? Then *got and *want are set. */
static bool count_refusal(const PGresult *res, long long *got, long long *want) {
  const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
  const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
  if (state == NULL || msg == NULL || strcmp(state, "22P02") != 0) return false;
  const char *mark = strstr(msg, PG_COUNT_MARK);
  return mark != NULL && sscanf(mark, PG_COUNT_MARK "%lld rows, not %lld", got, want) == 2;
}

/* Read what one statement of the pipeline answered, up to its end (a NULL result). */
static int pipeline_result(struct pg_conn *p, const char *name, int64_t expect, bool checked, int race,
                           PGresult **keep) {
  PGresult *res = PQgetResult(p->pg);
  int rc = DB_OK;
  ExecStatusType es = PQresultStatus(res);
  long long got = 0, want = 0;
  if (res == NULL) {
    rc = pg_fail(p, name, NULL);
  } else if (es == PGRES_PIPELINE_ABORTED) {
    db_set_errmsg(&p->base, "%s: not run, an earlier statement of its pipeline failed", name);
    rc = DB_ERR;
  } else if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK) {
    if (checked && count_refusal(res, &got, &want)) { /* the server refused another count */
      rc = db_count_mismatch(&p->base, name, got, want, race);
    } else {
      rc = pg_fail(p, name, res);
      if (rc == DB_CONSTRAINT && (race & DB_RACE_CONSTRAINT)) rc = DB_BUSY;
    }
  } else if (!checked && expect >= 0 && cmd_tuples(res) != expect) {
    rc = db_count_mismatch(&p->base, name, cmd_tuples(res), expect, race);
  }
  if (keep && rc == DB_OK) *keep = res;
  else PQclear(res);
  for (int i = 0; res != NULL && i < 4; i++) { /* the end marker; bounded */
    PGresult *more = PQgetResult(p->pg);
    if (more == NULL) break;
    PQclear(more);
  }
  return rc;
}

/* A write group's merging (D63). The holds of one statement from the group's jobs become one
 * statement as db_merge says, sent where the first of them was: a group's jobs run one after
 * another and hold alike, so a statement's first hold comes before the first hold of every
 * statement after it, and rows a hold refers to (a journal entry, a payment) are still written
 * first. A merged statement that fails fails the group, which then runs its jobs alone (exec.c,
 * D62): merging changes what is sent, never what commits. */
#define PG_SET_ARENA (2 * PG_LATER_ARENA + 64 * 1024) /* every argument escaped, with quotes and commas */

static const char *later_arg(const struct pg_conn *p, const struct pg_later *l, int k) {
  assert(!l->in_set && k >= 0 && k < l->nparams);
  return l->off[k] < 0 ? NULL : p->arena + l->off[k];
}

/* b is a hold that may merge with a (same statement, form and way; both prefetched or neither) */
static bool alike(const struct pg_later *a, const struct pg_later *b) {
  return !b->skip && (b->ahead < 0) == (a->ahead < 0) && b->st != NULL && b->base == a->base &&
         b->merge == a->merge && b->checked == a->checked && b->nbase == a->nbase && !b->in_set;
}

static bool same_args(const struct pg_conn *p, const struct pg_later *a, const struct pg_later *b, int from, int to) {
  for (int k = from; k < to; k++) {
    const char *x = later_arg(p, a, k), *y = later_arg(p, b, k);
    if (x == NULL || y == NULL ? x != y : strcmp(x, y) != 0) return false;
  }
  return true;
}

/* LAST: a hold with a later one alike in its first argument is not sent. */
static void merge_last(struct pg_conn *p, int n) {
  for (int i = 0; i < n; i++) {
    struct pg_later *a = &p->later[i];
    if (a->skip || a->merge != DB_MERGE_LAST || a->nbase < 1) continue;
    for (int j = i + 1; j < n; j++) {
      const struct pg_later *b = &p->later[j];
      if (alike(a, b) && b->expect == a->expect && same_args(p, a, b, 0, 1)) {
        a->skip = true;
        p->base.holds_merged++;
        break;
      }
    }
  }
}

/* SUM: holds alike in every argument but the last become the first of them adding their sum
 * (its text written into the arena; with no room there, or past int64, they stay apart). */
static void merge_sum(struct pg_conn *p, int n) {
  for (int i = 0; i < n; i++) {
    struct pg_later *a = &p->later[i];
    if (a->skip || a->merge != DB_MERGE_SUM || a->nbase < 1) continue;
    if (p->arena_used + PG_INT_TEXT_LEN > PG_LATER_ARENA) return;
    const int last = a->nbase - 1;
    int64_t sum = 0;
    if (!parse_i64(later_arg(p, a, last), &sum)) continue;
    bool grew = false;
    for (int j = i + 1; j < n; j++) {
      struct pg_later *b = &p->later[j];
      int64_t add = 0;
      if (!alike(a, b) || b->expect != a->expect || !same_args(p, a, b, 0, last) ||
          !parse_i64(later_arg(p, b, last), &add) || __builtin_add_overflow(sum, add, &add))
        continue;
      sum = add;
      b->skip = true;
      p->base.holds_merged++;
      grew = true;
    }
    if (!grew) continue;
    int len = snprintf(p->arena + p->arena_used, PG_INT_TEXT_LEN, "%" PRId64, sum);
    assert(len > 0 && len < PG_INT_TEXT_LEN);
    a->off[last] = (int)p->arena_used;
    p->arena_used += (size_t)len + 1;
  }
}

/* st's set form, prepared once (with its checked form when checked), or NULL when it has none
 * or it would not prepare: its holds then go one by one. A failed prepare inside the
 * transaction lost it; the group runs alone, and the statement is never tried again. */
static struct pg_stmt *set_stmt(struct pg_conn *p, const struct pg_later *l) {
  struct pg_stmt *st = l->base;
  if (st->set != NULL && (!l->checked || st->set->checked != NULL)) return st->set;
  if (st->no_set) return NULL;
  st->no_set = true; /* until it is made */
  const char *names[DB_MAX_PARAMS];
  for (int k = 0; k < l->nbase; k++) names[k] = pg_set_type_name(st->types[k]);
  db_val typed[DB_MAX_PARAMS];
  for (int k = 0; k < l->nbase; k++) typed[k] = db_text(""); /* typed by the text's casts */
  if (st->set == NULL) {
    char *sql = pg_set_form(st->sql, l->nbase, names);
    struct pg_stmt *set = sql != NULL ? calloc(1, sizeof *set) : NULL;
    if (set == NULL) {
      free(sql);
      return NULL;
    }
    set->own_sql = sql;
    if (pg_prepare_new(p, l->q, sql, typed, l->nbase, set) != DB_OK || set->nparams != l->nbase) {
      free_stmt(set);
      return NULL;
    }
    st->set = set;
  }
  if (l->checked && prepare_checked(p, l->q, st->set, typed, l->nbase) != DB_OK) return NULL;
  st->no_set = false;
  return st->set;
}

/* ROWS (and every plain INSERT ... VALUES, every prefetched query): the holds alike with a,
 * two or more, become one statement of a's set form, its arguments arrays of theirs, in a's
 * place. A query's answer is split again by element when it comes (split_answer). */
static void merge_rows_of(struct pg_conn *p, int i, int n) {
  struct pg_later *a = &p->later[i];
  int idx[PG_LATER_MAX];
  int count = 0;
  int64_t expect = 0;
  for (int j = i; j < n; j++) {
    const struct pg_later *b = &p->later[j];
    if (j > i && !alike(a, b)) continue;
    idx[count++] = j;
    expect = b->expect < 0 || expect < 0 ? -1 : expect + b->expect;
  }
  if (count < 2 || (a->checked && expect < 0)) return;
  struct pg_stmt *set = set_stmt(p, a);
  if (set == NULL) return;
  if (p->set_arena == NULL && (p->set_arena = malloc(PG_SET_ARENA)) == NULL) return;
  size_t used = p->set_used;
  int off[DB_MAX_PARAMS];
  const char *values[PG_LATER_MAX];
  for (int k = 0; k < a->nbase; k++) {
    for (int c = 0; c < count; c++) values[c] = later_arg(p, &p->later[idx[c]], k);
    off[k] = (int)used;
    if (!pg_set_array(p->set_arena, &used, PG_SET_ARENA, values, count)) return; /* no room: one by one */
  }
  int nparams = a->nbase;
  if (a->checked) {
    if (used + PG_INT_TEXT_LEN > PG_SET_ARENA) return;
    off[nparams++] = (int)used;
    int len = snprintf(p->set_arena + used, PG_INT_TEXT_LEN, "%" PRId64, expect);
    assert(len > 0 && len < PG_INT_TEXT_LEN);
    used += (size_t)len + 1;
  }
  p->set_used = used;
  int race = 0;
  for (int c = 0; c < count; c++) {
    race |= p->later[idx[c]].race;
    if (c == 0) continue;
    p->later[idx[c]].skip = true;
    p->later[idx[c]].into = i;
  }
  p->base.holds_merged += (uint64_t)(count - 1);
  a->st = a->checked ? set->checked : set;
  a->nparams = nparams;
  memcpy(a->off, off, (size_t)nparams * sizeof off[0]);
  a->expect = expect;
  a->race = race;
  a->in_set = true;
}

/* The answer of merged query i (all, its first column the element's number) split into the
 * answers of the prefetches it carries, in their order: each a result of its own, as if it
 * had run alone. */
#define PG_SPLIT_COLS 64
static int split_answer(struct pg_conn *p, const PGresult *all, int i, int n) {
  const int nf = PQnfields(all) - 1, nrows = PQntuples(all);
  if (nf < 0 || nf > PG_SPLIT_COLS) {
    db_set_errmsg(&p->base, "%s: a merged answer of %d columns", p->later[i].name, nf);
    return DB_ERR;
  }
  PGresAttDesc attrs[PG_SPLIT_COLS];
  for (int c = 0; c < nf; c++)
    attrs[c] = (PGresAttDesc){.name = PQfname(all, c + 1), .tableid = PQftable(all, c + 1),
                              .columnid = PQftablecol(all, c + 1), .format = PQfformat(all, c + 1),
                              .typid = PQftype(all, c + 1), .typlen = PQfsize(all, c + 1), .atttypmod = PQfmod(all, c + 1)};
  int row = 0, element = 0;
  for (int j = i; j < n; j++) {
    const struct pg_later *l = &p->later[j];
    if (j > i && !(l->skip && l->into == i)) continue;
    element++;
    PGresult *res = PQmakeEmptyPGresult(p->pg, PGRES_TUPLES_OK);
    if (res == NULL || PQsetResultAttrs(res, nf, nf > 0 ? attrs : NULL) != 1) {
      PQclear(res);
      db_set_errmsg(&p->base, "%s: out of memory", l->name);
      return DB_ERR;
    }
    for (int t = 0; row < nrows && strtol(PQgetvalue(all, row, 0), NULL, 10) == element; row++, t++)
      for (int c = 0; c < nf; c++) {
        bool null = PQgetisnull(all, row, c + 1);
        if (PQsetvalue(res, t, c, null ? NULL : PQgetvalue(all, row, c + 1), null ? -1 : PQgetlength(all, row, c + 1)) != 1) {
          PQclear(res);
          db_set_errmsg(&p->base, "%s: out of memory", l->name);
          return DB_ERR;
        }
      }
    assert(l->ahead >= 0 && p->ahead[l->ahead].res == NULL);
    p->ahead[l->ahead].res = res;
  }
  if (row != nrows) { /* the rows came out of their elements' order: cannot be with a nested loop */
    db_set_errmsg(&p->base, "%s: a merged answer's rows out of order", p->later[i].name);
    return DB_ERR;
  }
  return DB_OK;
}

/* Merge the held-back holds; *from and *to are the first and the last statement of a set
 * form (-1 when none). Between them the pipeline runs under SET_PLANS, undone by
 * SET_PLANS_UNDO after them. A set form's plan is one whatever the number of holds: a nested
 * loop over the arrays probing each row's key. Left to itself the server plans it again on
 * every call for its arrays' lengths (a third of a millisecond each), and a plan made once
 * while a table was small (a new database) scans that whole table on every call after. */
static const char *const SET_PLANS[] = {
    "SELECT set_config('plan_cache_mode', 'force_generic_plan', false), set_config('enable_seqscan', 'off', false), "
    "set_config('enable_hashjoin', 'off', false), set_config('enable_mergejoin', 'off', false)"};
static const char *const SET_PLANS_UNDO[] = {"RESET plan_cache_mode", "RESET enable_seqscan", "RESET enable_hashjoin",
                                             "RESET enable_mergejoin"};
/* RESET would go back to the session's start: a DB_OPEN_INDEXES session's own setting again */
static const char *const SET_PLANS_UNDO_INDEXES[] = {"RESET plan_cache_mode", "SET enable_seqscan = off",
                                                     "RESET enable_hashjoin", "RESET enable_mergejoin"};
#define NCMDS(a) ((int)(sizeof(a) / sizeof(a)[0]))
static_assert(NCMDS(SET_PLANS_UNDO) == NCMDS(SET_PLANS_UNDO_INDEXES), "one count for both");

/* The plain commands a pipeline carries before later[i] (i == n: after the last), the set
 * forms being later[from..to] (-1 when none): SET_PLANS before the first, the undo after the
 * last. Their count in *count. */
static const char *const *plan_cmds(const struct pg_conn *p, int i, int from, int to, int *count) {
  *count = 0;
  if (to >= 0 && i == to + 1) {
    *count = NCMDS(SET_PLANS_UNDO);
    return p->indexes ? SET_PLANS_UNDO_INDEXES : SET_PLANS_UNDO;
  }
  if (i == from) *count = NCMDS(SET_PLANS);
  return SET_PLANS;
}

static bool send_cmds(struct pg_conn *p, const char *const *cmds, int n) {
  for (int i = 0; i < n; i++)
    if (PQsendQueryParams(p->pg, cmds[i], 0, NULL, NULL, NULL, NULL, 0) != 1) return false;
  return true;
}

/* A pipeline's answers: the first failure is the one returned, its text kept in first (the
 * statements after it only say "not run"). */
static void note_result(const struct pg_conn *p, int *rc, int r, char first[DB_ERRMSG_LEN]) {
  if (*rc != DB_OK || r == DB_OK) return;
  snprintf(first, DB_ERRMSG_LEN, "%s", p->base.errmsg);
  *rc = r;
}

static void merge_holds(struct pg_conn *p, int *from, int *to) {
  const int n = p->nlater;
  p->set_used = 0; /* the last pipeline's arrays were sent */
  merge_last(p, n);
  merge_sum(p, n);
  *from = *to = -1;
  for (int i = 0; i < n; i++) {
    const struct pg_later *a = &p->later[i];
    if (!a->skip && !a->in_set && a->st != NULL && a->merge == DB_MERGE_ROWS) merge_rows_of(p, i, n);
    if (!a->in_set) continue;
    if (*from < 0) *from = i;
    *to = i;
  }
}

/* Send the held-back statements and then f (may be NULL) in one pipeline, one round trip;
 * read every answer, keeping those of prefetched queries. Returns the first failure (the rest
 * of the pipeline was then skipped by the server and the transaction is lost), else DB_OK
 * with f's result in *out. */
static int pg_pipeline(struct pg_conn *p, const struct pg_final *f, PGresult **out) {
  if (out) *out = NULL;
  int generic_from = -1, generic_to = -1;
  if (p->base.in_group) merge_holds(p, &generic_from, &generic_to);
  int n = p->nlater;
  drop_later(p);
  if (PQenterPipelineMode(p->pg) != 1) return pg_fail(p, "pipeline", NULL);
  bool sent = true;
  for (int i = 0; i <= n && sent; i++) {
    int ncmds = 0;
    const char *const *cmds = plan_cmds(p, i, generic_from, generic_to, &ncmds);
    sent = send_cmds(p, cmds, ncmds);
    if (i == n) break;
    const struct pg_later *l = &p->later[i];
    if (l->skip && l->ahead >= 0) p->ahead[l->ahead].sent = true; /* its answer comes in another's */
    if (l->skip || !sent) continue;
    if (l->st == NULL) {
      sent = PQsendQueryParams(p->pg, l->sql, 0, NULL, NULL, NULL, NULL, 0) == 1;
      continue;
    }
    const char *values[DB_MAX_PARAMS];
    const char *arena = l->in_set ? p->set_arena : p->arena;
    for (int k = 0; k < l->nparams; k++) values[k] = l->off[k] < 0 ? NULL : arena + l->off[k];
    sent = PQsendQueryPrepared(p->pg, l->st->name, l->nparams, l->nparams > 0 ? values : NULL, NULL,
                               NULL, 0) == 1;
    if (l->ahead >= 0) p->ahead[l->ahead].sent = true;
  }
  if (sent && f) {
    sent = f->st ? PQsendQueryPrepared(p->pg, f->st->name, f->nparams, f->nparams > 0 ? f->values : NULL,
                                       NULL, NULL, 0) == 1
                 : PQsendQueryParams(p->pg, f->sql, 0, NULL, NULL, NULL, NULL, 0) == 1;
  }
  if (sent) sent = PQpipelineSync(p->pg) == 1;
  if (sent) p->base.round_trips++;
  if (!sent) { /* the connection broke: nothing more to read on it */
    int rc = pg_fail(p, "pipeline", NULL);
    /* a send refused on a live connection leaves it in pipeline mode with part of a
     * pipeline queued, where every later command would fail: start the session over */
    if (PQstatus(p->pg) == CONNECTION_OK) (void)restart_session(p, "pipeline send");
    return rc == DB_OK ? DB_CONN : rc;
  }
  int rc = DB_OK;
  char first[DB_ERRMSG_LEN];
  for (int i = 0; i <= n; i++) {
    int ncmds = 0;
    const char *const *cmds = plan_cmds(p, i, generic_from, generic_to, &ncmds);
    for (int k = 0; k < ncmds; k++) note_result(p, &rc, pipeline_result(p, cmds[k], -1, false, DB_RACE_NONE, NULL), first);
    if (i == n) break;
    const struct pg_later *l = &p->later[i];
    if (l->skip) continue;
    PGresult *all = NULL; /* a merged query's answer, every element's rows */
    PGresult **keep = l->ahead < 0 || rc != DB_OK ? NULL : l->in_set ? &all : &p->ahead[l->ahead].res;
    int r = pipeline_result(p, l->name, l->expect, l->checked, l->race, keep);
    if (r == DB_OK && all != NULL) r = split_answer(p, all, i, n);
    PQclear(all);
    note_result(p, &rc, r, first);
  }
  if (f) note_result(p, &rc, pipeline_result(p, f->name, -1, false, DB_RACE_NONE, rc == DB_OK ? out : NULL), first);
  if (rc != DB_OK) db_set_errmsg(&p->base, "%s", first);
  /* Up to the sync point; more results before it mean we lost count: drain them (bounded). */
  bool synced = false;
  for (int i = 0; i < 2 * n + 8 && !synced; i++) {
    PGresult *r = PQgetResult(p->pg);
    if (r == NULL) continue;
    synced = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
    PQclear(r);
  }
  if (!synced || PQexitPipelineMode(p->pg) != 1) {
    if (out && *out) {
      PQclear(*out);
      *out = NULL;
    }
    pg_set_err(p, "pipeline end", PQerrorMessage(p->pg));
    /* A connection left in pipeline mode would refuse every later command while it looks
     * healthy: start its session over (the transaction is lost either way). */
    (void)restart_session(p, "pipeline end");
    rc = DB_CONN;
  }
  return rc;
}

/* An argument as libpq takes it: text, NULL for NULL; integers are written into buf. */
static const char *arg_text(const db_val *a, char buf[PG_INT_TEXT_LEN]) {
  switch (a->type) {
  case DB_T_INT: {
    int len = snprintf(buf, PG_INT_TEXT_LEN, "%" PRId64, a->i);
    assert(len > 0 && len < PG_INT_TEXT_LEN);
    (void)len;
    return buf;
  }
  case DB_T_TEXT: return a->s;
  default: return NULL;
  }
}

/* The prefetch of this query with these arguments, or -1. */
static int ahead_find(const struct pg_conn *p, const db_sql *q, const char *const *values, int nargs) {
  for (int i = 0; i < p->nahead; i++) {
    const struct pg_ahead *a = &p->ahead[i];
    if (a->q != q || a->nparams != nargs) continue;
    bool same = true;
    for (int k = 0; k < nargs && same; k++) {
      if (a->off[k] < 0 || values[k] == NULL) same = a->off[k] < 0 && values[k] == NULL;
      else same = strcmp(p->ahead_arena + a->off[k], values[k]) == 0;
    }
    if (same) return i;
  }
  return -1;
}

/* The answer of a prefetch, sent now if it had not gone yet; the prefetch is used up. */
static int ahead_take(struct pg_conn *p, int i, PGresult **res) {
  struct pg_ahead *a = &p->ahead[i];
  if (!a->sent) {
    int rc = pg_pipeline(p, NULL, NULL);
    if (rc != DB_OK) return rc;
  }
  *res = a->res;
  a->res = NULL;
  a->q = NULL;
  if (*res == NULL) {
    db_set_errmsg(&p->base, "prefetch: no answer");
    return DB_ERR;
  }
  return DB_OK;
}

static int pg_query(db_conn *c, const db_sql *q, const db_val *args, int nargs,
                    db_cursor **out) {
  struct pg_conn *p = pgc(c);
  if (nargs < 0 || nargs > DB_MAX_PARAMS) {
    db_set_errmsg(c, "%s: %d arguments, at most %d", db_qname(q), nargs, DB_MAX_PARAMS);
    return DB_ERR;
  }
  const char *values[DB_MAX_PARAMS];
  char ints[DB_MAX_PARAMS][PG_INT_TEXT_LEN];
  for (int k = 0; k < nargs; k++) values[k] = arg_text(&args[k], ints[k]);
  PGresult *res = NULL;
  int rc = DB_OK;
  int ahead = p->nahead > 0 ? ahead_find(p, q, values, nargs) : -1;
  if (ahead >= 0) {
    rc = ahead_take(p, ahead, &res);
    if (rc != DB_OK) return rc;
  } else {
    struct pg_stmt *st = NULL;
    rc = pg_prepare_args(p, q, args, nargs, &st);
    if (rc == DB_OK) rc = refuse_in_read(p, q, st);
    if (rc != DB_OK) return rc;
    if (p->nlater > 0) { /* the held-back statements go first, in the same round trip */
      struct pg_final f = {.name = db_qname(q), .st = st, .nparams = nargs, .values = values};
      rc = pg_pipeline(p, &f, &res);
      if (rc != DB_OK) return rc;
    } else {
      res = PQexecPrepared(p->pg, st->name, nargs, nargs > 0 ? values : NULL, NULL, NULL, 0);
      p->base.round_trips++;
    }
  }
  ExecStatusType es = PQresultStatus(res);
  if (es != PGRES_TUPLES_OK && es != PGRES_COMMAND_OK) {
    rc = pg_fail(p, db_qname(q), res);
    PQclear(res);
    return rc;
  }
  struct pg_cursor *cur = &p->cursor;
  *cur = (struct pg_cursor){
      .base = {.conn = c}, .res = res, .name = db_qname(q), .row = -1, .nrows = PQntuples(res)};
  *out = &cur->base;
  return DB_OK;
}

static int pg_step(db_cursor *base) {
  struct pg_cursor *cur = (struct pg_cursor *)base;
  assert(cur->res != NULL && cur->row >= -1 && cur->row <= cur->nrows);
  if (cur->row < cur->nrows) cur->row++;
  return cur->row < cur->nrows ? DB_ROW : DB_DONE;
}

static void pg_check_col(const struct pg_cursor *cur, int col) {
  assert(cur->res != NULL && cur->row >= 0 && cur->row < cur->nrows && "no current row");
  assert(col < PQnfields(cur->res) && "column out of range");
  (void)cur;
  (void)col;
}

static bool pg_col_null(db_cursor *base, int col) {
  struct pg_cursor *cur = (struct pg_cursor *)base;
  pg_check_col(cur, col);
  return PQgetisnull(cur->res, cur->row, col) != 0;
}

static int64_t pg_col_int(db_cursor *base, int col) {
  struct pg_cursor *cur = (struct pg_cursor *)base;
  pg_check_col(cur, col);
  if (PQgetisnull(cur->res, cur->row, col)) return 0;
  int64_t v = 0;
  bool ok = parse_i64(PQgetvalue(cur->res, cur->row, col), &v);
  assert(ok && "column is not an integer");
  (void)ok;
  return v;
}

static const char *pg_col_text(db_cursor *base, int col) {
  struct pg_cursor *cur = (struct pg_cursor *)base;
  pg_check_col(cur, col);
  return PQgetvalue(cur->res, cur->row, col); /* "" for NULL */
}

static int64_t pg_changes(db_cursor *base) { return cmd_tuples(((struct pg_cursor *)base)->res); }

static void pg_reset(db_cursor *base) {
  struct pg_cursor *cur = (struct pg_cursor *)base;
  PQclear(cur->res);
  cur->res = NULL;
}

/* Arguments copied as text into an arena at *used (of cap bytes), their offsets into off
 * (-1 for NULL). Returns false, copying nothing, when they do not fit. */
static size_t args_size(const db_val *args, int nargs) {
  size_t need = 0;
  for (int k = 0; k < nargs; k++)
    need += args[k].type == DB_T_TEXT ? strlen(args[k].s) + 1 : args[k].type == DB_T_INT ? PG_INT_TEXT_LEN : 0;
  return need;
}

static bool copy_args(char *arena, size_t *used, size_t cap, const db_val *args, int nargs, int *off) {
  if (*used + args_size(args, nargs) > cap) return false;
  for (int k = 0; k < nargs; k++) {
    char buf[PG_INT_TEXT_LEN];
    const char *text = arg_text(&args[k], buf);
    if (text == NULL) {
      off[k] = -1;
      continue;
    }
    size_t len = strlen(text) + 1;
    memcpy(arena + *used, text, len);
    off[k] = (int)*used;
    *used += len;
  }
  assert(*used <= cap);
  return true;
}

/* Hold a prepared statement back for the next pipeline (ahead: its prefetch slot, or -1).
 * DB_NOT_HELD when its arguments are too big to hold. */
static int hold(struct pg_conn *p, const db_sql *q, const db_val *args, int nargs, int64_t expect,
                int race, int merge, int ahead) {
  struct pg_stmt *st = NULL;
  int rc = pg_prepare_args(p, q, args, nargs, &st);
  if (rc == DB_OK) rc = refuse_in_read(p, q, st);
  if (rc != DB_OK) return rc;
  struct pg_stmt *base = st;
  const int nbase = nargs;
  db_val with_count[DB_MAX_PARAMS];
  const bool checked = expect >= 0 && count_can_differ(st->sql);
  if (checked) { /* the server checks the count: the statement's checked form, expect its last argument */
    rc = prepare_checked(p, q, st, args, nargs);
    if (rc != DB_OK) return rc; /* DB_NOT_HELD: the caller runs it now and checks the count itself */
    memcpy(with_count, args, (size_t)nargs * sizeof *args);
    with_count[nargs] = db_int(expect);
    args = with_count;
    nargs++;
    st = st->checked;
  }
  size_t need = args_size(args, nargs);
  if (need > PG_LATER_ARENA) return DB_NOT_HELD; /* too big to hold back: the caller runs it now */
  if (p->nlater == PG_LATER_MAX || p->arena_used + need > PG_LATER_ARENA) {
    rc = pg_pipeline(p, NULL, NULL); /* make room */
    if (rc != DB_OK) return rc;
  }
  struct pg_later *l = &p->later[p->nlater];
  if (ahead < 0 && !count_can_differ(base->sql)) merge = DB_MERGE_ROWS; /* a plain INSERT ... VALUES */
  if (ahead >= 0) merge = is_query(base->sql) ? DB_MERGE_ROWS : DB_MERGE_NONE; /* not a prefetched write */
  *l = (struct pg_later){.st = st, .name = db_qname(q), .nparams = nargs, .expect = expect,
                         .checked = checked, .race = race, .ahead = ahead,
                         .q = q, .base = base, .nbase = nbase, .merge = merge, .into = -1};
  bool copied = copy_args(p->arena, &p->arena_used, PG_LATER_ARENA, args, nargs, l->off);
  assert(copied);
  (void)copied;
  p->nlater++;
  return DB_OK;
}

static int pg_run_later(db_conn *c, const db_sql *q, const db_val *args, int nargs,
                        int64_t expect, int race, int merge) {
  return hold(pgc(c), q, args, nargs, expect, race, merge, -1);
}

/* A hint: when the prefetch table or its arena is full the query simply runs when asked. */
static int pg_prefetch(db_conn *c, const db_sql *q, const db_val *args, int nargs) {
  struct pg_conn *p = pgc(c);
  if (p->nahead == PG_AHEAD_MAX || nargs < 0 || nargs > DB_MAX_PARAMS) return DB_OK;
  struct pg_ahead *a = &p->ahead[p->nahead];
  size_t used = p->ahead_used;
  if (!copy_args(p->ahead_arena, &used, PG_AHEAD_ARENA, args, nargs, a->off)) return DB_OK;
  int rc = hold(p, q, args, nargs, -1, DB_RACE_NONE, DB_MERGE_NONE, p->nahead);
  if (rc == DB_NOT_HELD) return DB_OK;
  if (rc != DB_OK) return rc;
  a->q = q;
  a->nparams = nargs;
  a->res = NULL;
  a->sent = false;
  p->ahead_used = used;
  p->nahead++;
  return DB_OK;
}

/* Held-back writes must reach the server before anything that is not a pipeline. */
static int pg_flush_later(struct pg_conn *p) { return p->nlater > 0 ? pg_pipeline(p, NULL, NULL) : DB_OK; }

static int pg_script(db_conn *c, const char *sql) {
  struct pg_conn *p = pgc(c);
  if (p->read_open) {
    db_set_errmsg(c, "script: not in a read-only transaction");
    return DB_ERR;
  }
  int frc = pg_flush_later(p);
  if (frc != DB_OK) return frc;
  PGresult *res = PQexec(p->pg, sql);
  p->base.round_trips++;
  ExecStatusType es = PQresultStatus(res);
  int rc = (es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK) ? DB_OK
                                                            : pg_fail(p, "script", res);
  PQclear(res);
  return rc;
}

static bool pg_in_server_txn(struct pg_conn *p) {
  PGTransactionStatusType ts = PQtransactionStatus(p->pg);
  return ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR || ts == PQTRANS_ACTIVE;
}

/* The end of a read transaction: its statements ran, each pipeline in an implicit
 * transaction of its own, so there is nothing to send; answers not asked for are dropped. */
static int read_end(struct pg_conn *p, enum db_txn_op op) {
  if (op != DB_TXN_COMMIT && op != DB_TXN_ROLLBACK) {
    db_set_errmsg(&p->base, "%s: not in a read-only transaction", TXN_SQL[op]);
    return DB_ERR;
  }
  for (int i = 0; i < p->nlater; i++) assert(p->later[i].ahead >= 0); /* refuse_in_read kept writes out */
  drop_ahead(p);
  drop_later(p);
  p->read_open = false;
  return DB_OK;
}

static int pg_txn(db_conn *c, enum db_txn_op op) {
  struct pg_conn *p = pgc(c);
  if (op == DB_TXN_BEGIN_READ) {
    p->read_open = true; /* nothing to send: see TXN_SQL */
    return DB_OK;
  }
  if (p->read_open) return read_end(p, op);
  if (op == DB_TXN_BEGIN || op == DB_TXN_BEGIN_WRITE) {
    /* held back: it goes with the transaction's first statement, in the same round trip */
    assert(!p->begin_held);
    if (p->nlater == PG_LATER_MAX) {
      int rc = pg_pipeline(p, NULL, NULL);
      if (rc != DB_OK) return rc;
    }
    p->later[p->nlater++] = (struct pg_later){.sql = TXN_SQL[op], .name = TXN_SQL[op], .expect = -1, .ahead = -1};
    p->begin_held = true;
    return DB_OK;
  }
  const char *unclaimed = op == DB_TXN_COMMIT ? unclaimed_write(p) : NULL;
  if (unclaimed != NULL) {
    db_set_errmsg(c, "%s: prefetched, written and never asked for: the transaction is rolled back", unclaimed);
    drop_ahead(p);
    drop_later(p);
    PGresult *res = PQexec(p->pg, "ROLLBACK");
    p->base.round_trips++;
    PQclear(res);
    return DB_ERR;
  }
  /* no one will ask for them now (after a rollback to a savepoint they may no longer hold) */
  if (op == DB_TXN_COMMIT || op == DB_TXN_ROLLBACK || op == DB_TXN_ROLLBACK_TO) drop_ahead(p);
  if (op == DB_TXN_ROLLBACK || op == DB_TXN_ROLLBACK_TO) drop_later(p); /* what would be undone need not be sent */
  if (p->begin_held && p->nlater == 1 && (op == DB_TXN_COMMIT || op == DB_TXN_ROLLBACK)) {
    drop_later(p); /* the transaction never reached the server: nothing to end */
    return DB_OK;
  }
  if (op == DB_TXN_ROLLBACK && !pg_in_server_txn(p)) return DB_OK; /* its BEGIN was never sent */
  PGresult *res = NULL;
  int rc = DB_OK;
  if (p->nlater > 0) { /* COMMIT and the held-back statements: one round trip */
    struct pg_final f = {.name = TXN_SQL[op], .sql = TXN_SQL[op]};
    rc = pg_pipeline(p, &f, &res);
    if (rc != DB_OK) return rc;
  } else {
    res = PQexec(p->pg, TXN_SQL[op]);
    p->base.round_trips++;
  }
  rc = PQresultStatus(res) == PGRES_COMMAND_OK ? DB_OK : pg_fail(p, TXN_SQL[op], res);
  /* COMMIT of a transaction an error aborted answers "ROLLBACK": nothing was written. */
  if (rc == DB_OK && op == DB_TXN_COMMIT && strcmp(PQcmdStatus(res), "COMMIT") != 0) {
    db_set_errmsg(c, "COMMIT: the transaction had failed and was rolled back");
    rc = DB_ERR;
  }
  PQclear(res);
  return rc;
}

/* A transaction open: held back (its BEGIN not sent yet) or on the server. */
static bool pg_in_txn(db_conn *c) {
  struct pg_conn *p = pgc(c);
  return p->read_open || p->begin_held || pg_in_server_txn(p);
}

/* After PQreset the server has forgotten every prepared statement. */
static int pg_reconnect(db_conn *c) {
  struct pg_conn *p = pgc(c);
  if (PQstatus(p->pg) == CONNECTION_OK) return DB_OK;
  return restart_session(p, "reconnect");
}

static const char *pg_server_version(db_conn *c) { return pgc(c)->version; }

static void pg_close(db_conn *c) {
  struct pg_conn *p = pgc(c);
  db_cache_clear(&c->cache, pg_free_stmt, c);
  PQfinish(p->pg);
  free(p->set_arena);
  free(p);
}

static const struct db_ops PG_OPS = {
    .close = pg_close,
    .query = pg_query,
    .step = pg_step,
    .col_null = pg_col_null,
    .col_int = pg_col_int,
    .col_text = pg_col_text,
    .changes = pg_changes,
    .reset = pg_reset,
    .script = pg_script,
    .txn = pg_txn,
    .in_txn = pg_in_txn,
    .run_later = pg_run_later,
    .prefetch = pg_prefetch,
    .reconnect = pg_reconnect,
    .server_version = pg_server_version,
};

db_conn *db_pg_open(const char *url, int flags, char *err, size_t err_len) {
  assert(url != NULL);
  struct pg_conn *p = calloc(1, sizeof *p);
  if (p == NULL) {
    db_fmt_err(err, err_len, "out of memory");
    return NULL;
  }
  p->base.ops = &PG_OPS;
  p->base.kind = DB_POSTGRES;
  p->indexes = (flags & DB_OPEN_INDEXES) != 0;
  p->own_lane = (flags & DB_OPEN_LANE) != 0;
  /* Later keywords win, so the URL (expanded from dbname) overrides our defaults. */
  const char *const keys[] = {"connect_timeout", "application_name", "dbname", NULL};
  const char *const vals[] = {PG_CONNECT_TIMEOUT_S, "mps", url, NULL};
  p->pg = PQconnectdbParams(keys, vals, 1);
  if (p->pg == NULL || PQstatus(p->pg) != CONNECTION_OK) {
    db_fmt_err(err, err_len, "cannot connect to postgresql: %s",
               p->pg != NULL ? PQerrorMessage(p->pg) : "out of memory");
    size_t n = err != NULL ? strnlen(err, err_len) : 0;
    while (n > 0 && err[n - 1] == '\n') err[--n] = '\0';
    PQfinish(p->pg);
    free(p);
    return NULL;
  }
  if (pg_session_setup(p) != DB_OK) {
    db_fmt_err(err, err_len, "postgresql session setup: %s", p->base.errmsg);
    pg_close(&p->base);
    return NULL;
  }
  return &p->base;
}
