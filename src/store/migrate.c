/* migrate.c — applying the embedded migrations (migrations_gen.c) and reporting their
 * status: the schema_migrations table, one transaction per migration (with an advisory
 * lock on PostgreSQL), and a checksum per migration so an edited one is noticed. */
#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "store/db.h"
#include "store/db_impl.h"
#include "store/migrate.h"

#define MIGRATE_MAX 10000        /* most schema_migrations rows we read */
#define MIGRATE_HASH_BYTES 32
#define MIGRATE_HEX_LEN (2 * MIGRATE_HASH_BYTES + 1)
#define MIGRATE_LOCK_KEY "7236281229423715943" /* pg advisory lock: "mps_mig" */

static const char CREATE_TABLE_SQL[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " applied_at_ms BIGINT NOT NULL,"
    " checksum TEXT NOT NULL)";

static const db_sql Q_LOCK = {
    .name = "migrate_lock", .sql = "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK_KEY ")"};
static const db_sql Q_EXISTS = {
    .name = "migrate_exists",
    .sql = "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
           " AND name = 'schema_migrations'",
    .sql_pg = "SELECT CASE WHEN to_regclass('schema_migrations') IS NULL THEN 0 ELSE 1 END"};
static const db_sql Q_LIST = {
    .name = "migrate_list",
    .sql = "SELECT version, name, checksum FROM schema_migrations ORDER BY version"};
static const db_sql Q_APPLIED = {
    .name = "migrate_applied", .sql = "SELECT count(*) FROM schema_migrations WHERE version = $1"};
/* SQLite: any row is a foreign key a migration broke (a table rebuild, 0007). */
static const db_sql Q_FK_CHECK = {.name = "migrate_fk_check", .sql = "PRAGMA foreign_key_check"};
static const db_sql Q_INSERT = {
    .name = "migrate_insert",
    .sql = "INSERT INTO schema_migrations (version, name, applied_at_ms, checksum)"
           " VALUES ($1, $2, $3, $4)"};

/* What the database says it has applied, checked against what this binary knows. */
struct applied_scan {
  int current;
  int count;
  int unknown;
  int mismatched; /* known versions whose name or checksum differs */
  int first_bad;  /* the first of those, for the message */
};

static int64_t wall_ms(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return 0;
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Hex BLAKE2b-256 of the migration's SQL text. */
static int checksum_hex(const char *sql, char out[MIGRATE_HEX_LEN]) {
  if (sodium_init() < 0) return -1;
  unsigned char h[MIGRATE_HASH_BYTES];
  if (crypto_generichash(h, sizeof h, (const unsigned char *)sql, strlen(sql), NULL, 0) != 0)
    return -1;
  sodium_bin2hex(out, MIGRATE_HEX_LEN, h, sizeof h);
  return 0;
}

static const struct migration *find_known(const struct migration *list, size_t n, int version) {
  for (size_t i = 0; i < n; i++)
    if (list[i].version == version) return &list[i];
  return NULL;
}

static int ensure_table(db_conn *c, char *err, size_t err_len) {
  int rc = db_begin_write(c);
  if (rc == DB_OK && db_conn_kind(c) == DB_POSTGRES) rc = db_run(c, &Q_LOCK, NULL, 0, NULL);
  if (rc == DB_OK) rc = db_exec_script(c, CREATE_TABLE_SQL);
  if (rc == DB_OK) rc = db_commit(c);
  if (rc != DB_OK) {
    db_fmt_err(err, err_len, "schema_migrations: %s", db_errmsg(c));
    (void)db_rollback(c);
  }
  return rc;
}

static void scan_row(db_cursor *cur, const struct migration *list, size_t n,
                     struct applied_scan *sc) {
  int version = (int)db_col_int(cur, 0);
  const struct migration *m = find_known(list, n, version);
  sc->count++;
  if (version > sc->current) sc->current = version;
  if (m == NULL) {
    sc->unknown++;
    return;
  }
  char sum[MIGRATE_HEX_LEN];
  bool same = checksum_hex(m->sql, sum) == 0 && strcmp(sum, db_col_text(cur, 2)) == 0 &&
              strcmp(m->name, db_col_text(cur, 1)) == 0;
  if (!same && sc->mismatched++ == 0) sc->first_bad = version;
}

static int scan_applied(db_conn *c, const struct migration *list, size_t n,
                        struct applied_scan *sc, char *err, size_t err_len) {
  memset(sc, 0, sizeof *sc);
  db_cursor *cur = NULL;
  int rc = db_query(c, &Q_LIST, NULL, 0, &cur);
  int rows = 0;
  while (rc >= 0 && rows < MIGRATE_MAX && (rc = db_step(cur)) == DB_ROW) {
    scan_row(cur, list, n, sc);
    rows++;
  }
  db_reset(cur);
  if (rc == DB_ROW) {
    db_fmt_err(err, err_len, "schema_migrations holds more than %d rows", MIGRATE_MAX);
    return DB_ERR;
  }
  if (rc < 0) {
    db_fmt_err(err, err_len, "schema_migrations: %s", db_errmsg(c));
    return rc;
  }
  return DB_OK;
}

/* The scan's verdict as an error message, DB_OK when applying may proceed. */
static int scan_verdict(const struct applied_scan *sc, const struct migration *list, size_t n,
                        char *err, size_t err_len) {
  if (sc->mismatched > 0) {
    const struct migration *m = find_known(list, n, sc->first_bad);
    db_fmt_err(err, err_len,
               "migration %d (%s) differs from the one applied (checksum or name): a "
               "migration was edited after it was applied; %d such",
               sc->first_bad, m != NULL ? m->name : "?", sc->mismatched);
    return DB_ERR;
  }
  if (sc->unknown > 0) {
    db_fmt_err(err, err_len,
               "the database holds %d migration(s) this binary does not know (current %d): "
               "a newer version ran against it",
               sc->unknown, sc->current);
    return DB_ERR;
  }
  return DB_OK;
}

/* Read-only, so it also runs inside a caller's (read) transaction. */
int migrate_status_get(db_conn *c, struct migrate_status *st, char *err, size_t err_len) {
  assert(c != NULL && st != NULL);
  if (err != NULL && err_len > 0) err[0] = '\0';
  memset(st, 0, sizeof *st);
  size_t n = 0;
  const struct migration *list = migrations_for(db_conn_kind(c), &n);
  int64_t exists = 0;
  int rc = db_query_int(c, &Q_EXISTS, NULL, 0, &exists);
  if (rc != DB_ROW) {
    db_fmt_err(err, err_len, "schema_migrations: %s", db_errmsg(c));
    return rc < 0 ? rc : DB_ERR;
  }
  struct applied_scan sc = {0};
  if (exists) rc = scan_applied(c, list, n, &sc, err, err_len);
  if (rc < 0) return rc;
  st->current = sc.current;
  st->latest = n > 0 ? list[n - 1].version : 0;
  st->unknown = sc.unknown;
  st->pending = (int)n - (sc.count - sc.unknown);
  assert(st->pending >= 0);
  /* An edited migration is an error; unknown versions are reported in the counts. */
  if (sc.mismatched > 0) return scan_verdict(&sc, list, n, err, err_len);
  return DB_OK;
}

/* Apply one migration with its row, inside the lock; *did is 0 when another node had
 * already applied it. */
static int apply_one(db_conn *c, const struct migration *m, int *did, char *err,
                     size_t err_len) {
  char sum[MIGRATE_HEX_LEN];
  *did = 0;
  if (checksum_hex(m->sql, sum) != 0) {
    db_fmt_err(err, err_len, "libsodium failed to initialise");
    return DB_ERR;
  }
  int64_t already = 0;
  /* SQLite's way to change a table: foreign keys off (outside the transaction, where the
   * pragma takes effect), the change, foreign_key_check, COMMIT, foreign keys on again. With
   * them on, DROP TABLE of a rebuilt parent would delete through to its children's checks. */
  bool sqlite = db_conn_kind(c) == DB_SQLITE, dangling = false;
  int rc = sqlite ? db_exec_script(c, "PRAGMA foreign_keys=OFF") : DB_OK;
  if (rc == DB_OK) rc = db_begin_write(c);
  if (rc == DB_OK && !sqlite) rc = db_run(c, &Q_LOCK, NULL, 0, NULL);
  db_val key = db_int(m->version);
  if (rc == DB_OK) rc = db_query_int(c, &Q_APPLIED, &key, 1, &already);
  if (rc >= 0 && already == 0) {
    rc = db_exec_script(c, m->sql);
    db_val row[4] = {db_int(m->version), db_text(m->name), db_int(wall_ms()), db_text(sum)};
    if (rc == DB_OK) rc = db_run(c, &Q_INSERT, row, 4, NULL);
    int64_t broken = 0;
    if (rc >= 0 && sqlite) {
      int fk = db_query_int(c, &Q_FK_CHECK, NULL, 0, &broken);
      dangling = fk == DB_ROW;
      rc = dangling ? DB_CONSTRAINT : fk;
    }
  }
  if (rc >= 0) rc = db_commit(c);
  if (rc < 0) {
    db_fmt_err(err, err_len, "migration %d (%s): %s", m->version, m->name,
               dangling ? "it leaves rows whose foreign keys point nowhere" : db_errmsg(c));
    (void)db_rollback(c);
  }
  if (sqlite && db_exec_script(c, "PRAGMA foreign_keys=ON") != DB_OK && rc >= 0) {
    db_fmt_err(err, err_len, "migration %d (%s): cannot turn foreign keys back on: %s", m->version,
               m->name, db_errmsg(c));
    rc = DB_ERR;
  }
  if (rc < 0) return rc;
  *did = already == 0;
  return DB_OK;
}

/* Runs its own transactions: call it outside any. */
int migrate_apply(db_conn *c, int *applied, char *err, size_t err_len) {
  assert(c != NULL && applied != NULL);
  assert(!db_in_transaction(c) && "migrate_apply runs its own transactions");
  if (err != NULL && err_len > 0) err[0] = '\0';
  *applied = 0;
  size_t n = 0;
  const struct migration *list = migrations_for(db_conn_kind(c), &n);
  int rc = ensure_table(c, err, err_len);
  struct applied_scan sc;
  if (rc == DB_OK) rc = scan_applied(c, list, n, &sc, err, err_len);
  if (rc == DB_OK) rc = scan_verdict(&sc, list, n, err, err_len);
  if (rc == DB_OK && sc.count != sc.current) {
    db_fmt_err(err, err_len, "schema_migrations has gaps: %d rows up to version %d", sc.count,
               sc.current);
    rc = DB_ERR;
  }
  for (size_t i = 0; i < n && rc == DB_OK; i++) {
    assert(list[i].version == (int)i + 1 && "migrations are numbered 1..N");
    if (list[i].version <= sc.current) continue; /* applied (the scan found no gap) */
    int did = 0;
    rc = apply_one(c, &list[i], &did, err, err_len);
    *applied += did;
  }
  return rc;
}
