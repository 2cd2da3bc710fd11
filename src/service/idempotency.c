/* idempotency.c — claim, replay and complete idempotency keys (see idempotency.h). */
#include "service/idempotency.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/sha256.h"

static const db_sql q_claim = {
    "idem_claim",
    "INSERT INTO idempotency_keys (scope, idem_key, request_hash, state, created_at_ms) "
    "VALUES ($1, $2, $3, 'running', $4) ON CONFLICT (scope, idem_key) DO NOTHING", NULL};
static const db_sql q_get = {
    "idem_get",
    "SELECT request_hash, state, COALESCE(response_status, 0), COALESCE(response_body, '') "
    "FROM idempotency_keys WHERE scope = $1 AND idem_key = $2", NULL};
static const db_sql q_insert_done = {
    "idem_insert_done",
    "INSERT INTO idempotency_keys (scope, idem_key, request_hash, state, response_status, "
    "response_body, created_at_ms, completed_at_ms) VALUES ($1, $2, $3, 'done', $4, $5, $6, $6)", NULL};
static const db_sql q_done = {
    "idem_done",
    "UPDATE idempotency_keys SET state = 'done', response_status = $3, response_body = $4, "
    "completed_at_ms = $5 WHERE scope = $1 AND idem_key = $2 AND state = 'running'", NULL};

void idem_hash(const char *const *parts, size_t count, char out[IDEM_HASH_HEX]) {
  if (sha256_parts_hex(parts, count, out) != 0) out[0] = '\0'; /* matches no stored hash */
}

/* What idem_claim runs first. Prefetching the PostgreSQL claim, a write, is safe: idem_claim
 * always follows and asks for its answer. */
int idem_prefetch(db_conn *c, const char *scope, const char *key, const char *request_hash,
                  int64_t at_ms) {
  db_val v[] = {db_text(scope), db_text(key), db_text(request_hash), db_int(at_ms)};
  if (db_conn_kind(c) == DB_SQLITE) return db_prefetch(c, &q_get, v, 2);
  return db_prefetch(c, &q_claim, v, 4);
}

int idem_claim(db_conn *c, const char *scope, const char *key, const char *request_hash,
               int64_t at_ms, int *status, char **body) {
  *body = NULL;
  db_val v[] = {db_text(scope), db_text(key), db_text(request_hash), db_int(at_ms)};
  bool single_writer = db_conn_kind(c) == DB_SQLITE; /* write transactions run one at a time */
  if (!single_writer) {
    int64_t inserted = 0;
    int rc = db_run(c, &q_claim, v, 4, &inserted);
    if (rc < 0) return rc;
    if (inserted == 1) return IDEM_NEW;
  }
  db_cursor *cur = NULL;
  int rc = db_query(c, &q_get, v, 2, &cur);
  if (rc < 0) return rc;
  rc = db_step(cur);
  int outcome = single_writer && rc == DB_DONE ? IDEM_NEW : DB_ERR;
  if (rc == DB_ROW) {
    if (strcmp(db_col_text(cur, 0), request_hash) != 0) {
      outcome = IDEM_MISMATCH;
    } else if (strcmp(db_col_text(cur, 1), "done") == 0) {
      *status = (int)db_col_int(cur, 2);
      *body = strdup(db_col_text(cur, 3));
      outcome = *body ? IDEM_REPLAY : DB_ERR;
    } else {
      outcome = DB_BUSY; /* claimed but not done within a committed transaction: cannot happen; retry */
    }
  }
  db_reset(cur);
  return rc < 0 ? rc : outcome;
}

int idem_complete(db_conn *c, const char *scope, const char *key, const char *request_hash,
                  int status, const char *body) {
  if (db_conn_kind(c) == DB_SQLITE) {
    db_val v[] = {db_text(scope), db_text(key), db_text(request_hash), db_int(status), db_text(body),
                  db_int(clock_now_ms())};
    int rc = db_run_expect(c, &q_insert_done, v, 6, 1);
    return rc == DB_CONSTRAINT ? DB_BUSY : rc; /* another writer took the key since the claim: run again, replay */
  }
  db_val v[] = {db_text(scope), db_text(key), db_int(status), db_text(body), db_int(clock_now_ms())};
  return db_run_later_merge(c, &q_done, v, 5, 1, DB_MERGE_ROWS, false); /* sent with COMMIT; a key per job */
}
