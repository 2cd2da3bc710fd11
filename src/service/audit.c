/* audit.c — appending to and verifying the hash-chained audit log (see audit.h). */
#include "service/audit.h"

#include <assert.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/ids.h"
#include "common/sha256.h"

#define GENESIS_HASH "0000000000000000000000000000000000000000000000000000000000000000"
#define HASH_HEX_LEN SHA256_HEX_LEN
#define AUDIT_VERIFY_MAX_ROWS 100000000LL /* a bound for the walk; far above any real log */

static const db_sql q_head_init = {
    "audit_head_init",
    "INSERT INTO audit_chain_heads (chain, seq, hash) VALUES ($1, 0, '" GENESIS_HASH "') "
    "ON CONFLICT (chain) DO NOTHING", NULL};
static const db_sql q_head_get = {
    "audit_head_get", "SELECT seq, hash FROM audit_chain_heads WHERE chain = $1",
    "SELECT seq, hash FROM audit_chain_heads WHERE chain = $1 FOR UPDATE"};
static const db_sql q_head_set = {
    "audit_head_set", "UPDATE audit_chain_heads SET seq = $2, hash = $3 WHERE chain = $1", NULL};
static const db_sql q_insert = {
    "audit_insert",
    "INSERT INTO audit_log (id, chain, seq, at_ms, actor, role, merchant_id, action, target, "
    "status, request_id, details, prev_hash, hash) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)", NULL};

/* The fields in a fixed order; the same function serves append and verify. */
struct audit_fields {
  const char *prev_hash, *id, *chain, *seq, *at_ms, *actor, *role, *merchant_id, *action,
      *target, *status, *request_id, *details;
};

/* SHA-256 of the length-prefixed fields; 0, or -1 when the library failed. */
static int entry_hash(const struct audit_fields *f, char out[HASH_HEX_LEN]) {
  const char *parts[] = {f->prev_hash, f->id,     f->chain,  f->seq,    f->at_ms,
                         f->actor,     f->role,   f->merchant_id, f->action, f->target,
                         f->status,    f->request_id, f->details};
  return sha256_parts_hex(parts, sizeof parts / sizeof parts[0], out);
}

static int head_get(db_conn *c, const db_val *a, int64_t *seq, char hash[HASH_HEX_LEN]) {
  db_cursor *cur = NULL;
  int rc = db_query(c, &q_head_get, a, 1, &cur);
  if (rc < 0) return rc;
  rc = db_step(cur);
  if (rc == DB_ROW) {
    *seq = db_col_int(cur, 0);
    snprintf(hash, HASH_HEX_LEN, "%s", db_col_text(cur, 1));
  }
  db_reset(cur);
  return rc;
}

/* In a PostgreSQL write group (db.h) the head an earlier job of the group left: the head its
 * prefetch read is the one before the group ran. */
static bool head_memo(db_conn *c, const char *chain, int64_t *seq, char hash[HASH_HEX_LEN]) {
  char v[DB_GROUP_MEMO_VALUE];
  if (!db_group_memo_get(c, chain, v, sizeof v)) return false;
  long long s = -1;
  char h[HASH_HEX_LEN];
  if (sscanf(v, "%lld %64s", &s, h) != 2 || s < 0 || strlen(h) != HASH_HEX_LEN - 1) return false;
  *seq = s;
  memcpy(hash, h, HASH_HEX_LEN);
  return true;
}

/* The chain's head, locked (PostgreSQL) for this transaction; created on a chain's first entry. */
static int head_lock(db_conn *c, const char *chain, int64_t *seq, char hash[HASH_HEX_LEN]) {
  if (head_memo(c, chain, seq, hash)) return DB_OK; /* locked by the group's first job */
  db_val a[] = {db_text(chain)};
  int rc = head_get(c, a, seq, hash);
  if (rc != DB_DONE) return rc == DB_ROW ? DB_OK : rc;
  rc = db_run(c, &q_head_init, a, 1, NULL);
  if (rc < 0) return rc;
  rc = head_get(c, a, seq, hash);
  return rc == DB_ROW ? DB_OK : (rc < 0 ? rc : DB_ERR);
}

/* The chain an entry of merchant_id goes to: the merchant's ("platform" without one), or its
 * lane chain "<merchant>#<lane>" for a money entry on a pool connection with a lane. */
static int chain_name(db_conn *c, const char *merchant_id, bool money, char *out, size_t len) {
  const char *base = (merchant_id && merchant_id[0]) ? merchant_id : "platform";
  int lane = money ? db_conn_lane(c) : 0;
  int n = lane > 0 ? snprintf(out, len, "%s#%d", base, lane) : snprintf(out, len, "%s", base);
  return n < 0 || (size_t)n >= len ? DB_ERR : DB_OK;
}

int audit_prefetch_head(db_conn *c, const char *merchant_id, bool money) {
  if (db_in_group(c)) return DB_OK; /* locked by the group's first append, after its members (db.h) */
  char chain[160];
  int rc = chain_name(c, merchant_id, money, chain, sizeof chain);
  db_val a[] = {db_text(chain)};
  return rc < 0 ? rc : db_prefetch(c, &q_head_get, a, 1);
}

int audit_append(db_conn *c, const struct audit_record *r) {
  assert(r && r->action && r->status && r->request_id);
  char chain[160];
  if (chain_name(c, r->merchant_id, r->lane, chain, sizeof chain) != DB_OK) return DB_ERR;
  int64_t seq = 0;
  char prev[HASH_HEX_LEN];
  int rc = head_lock(c, chain, &seq, prev);
  if (rc != DB_OK) return rc;
  char id[ID_MAX_LEN], seq_s[24], at_s[24], hash[HASH_HEX_LEN];
  if (id_new("aud", id, sizeof id) != 0) return DB_ERR;
  int64_t at_ms = clock_now_ms();
  snprintf(seq_s, sizeof seq_s, "%lld", (long long)(seq + 1));
  snprintf(at_s, sizeof at_s, "%lld", (long long)at_ms);
  char *dumped = r->details ? json_dumps(r->details, JSON_COMPACT | JSON_SORT_KEYS) : NULL; /* freed below */
  if (r->details && !dumped) return DB_ERR;
  const char *details = dumped ? dumped : (r->details_text ? r->details_text : "{}");
  struct audit_fields f = {prev, id, chain, seq_s, at_s, r->actor ? r->actor : "anonymous",
                           r->role ? r->role : "none", r->merchant_id ? r->merchant_id : "",
                           r->action, r->target ? r->target : "", r->status, r->request_id,
                           details};
  if (entry_hash(&f, hash) != 0) {
    free(dumped);
    return DB_ERR;
  }
  db_val v[] = {db_text(id), db_text(chain), db_int(seq + 1), db_int(at_ms), db_text(f.actor),
                db_text(f.role), r->merchant_id && r->merchant_id[0] ? db_text(r->merchant_id) : db_null(),
                db_text(r->action), db_text(f.target), db_text(r->status), db_text(r->request_id),
                db_text(details), db_text(prev), db_text(hash)};
  rc = db_run_later(c, &q_insert, v, 14, 1);
  free(dumped);
  if (rc < 0) return rc;
  db_val h[] = {db_text(chain), db_int(seq + 1), db_text(hash)};
  rc = db_run_later_merge(c, &q_head_set, h, 3, 1, DB_MERGE_LAST, false); /* a group's jobs: the last head stays */
  if (rc < 0) return rc;
  char memo[DB_GROUP_MEMO_VALUE];
  snprintf(memo, sizeof memo, "%lld %s", (long long)(seq + 1), hash);
  return db_group_memo_set(c, chain, memo);
}

static const db_sql q_walk = {
    "audit_walk",
    "SELECT id, chain, seq, at_ms, actor, role, COALESCE(merchant_id, ''), action, target, "
    "status, request_id, details, prev_hash, hash FROM audit_log ORDER BY chain, seq", NULL};

static void problem(struct audit_verify_report *rep, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void problem(struct audit_verify_report *rep, const char *fmt, ...) {
  if (rep->problems++ > 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(rep->first_problem, sizeof rep->first_problem, fmt, ap);
  va_end(ap);
}

struct chain_state {
  char chain[128];
  int64_t seq;
  char hash[HASH_HEX_LEN];
};

static void check_row(db_cursor *cur, struct chain_state *cs, struct audit_verify_report *rep) {
  const char *chain = db_col_text(cur, 1);
  if (strcmp(chain, cs->chain) != 0) {
    snprintf(cs->chain, sizeof cs->chain, "%s", chain);
    cs->seq = 0;
    snprintf(cs->hash, sizeof cs->hash, "%s", GENESIS_HASH);
  }
  int64_t seq = db_col_int(cur, 2);
  if (seq != cs->seq + 1) problem(rep, "chain %s: entry missing before seq %lld", chain, (long long)seq);
  if (strcmp(db_col_text(cur, 12), cs->hash) != 0) problem(rep, "chain %s: broken link at seq %lld", chain, (long long)seq);
  char seq_s[24];
  snprintf(seq_s, sizeof seq_s, "%lld", (long long)seq);
  struct audit_fields f = {db_col_text(cur, 12), db_col_text(cur, 0), chain, seq_s,
                           db_col_text(cur, 3), db_col_text(cur, 4), db_col_text(cur, 5),
                           db_col_text(cur, 6), db_col_text(cur, 7), db_col_text(cur, 8),
                           db_col_text(cur, 9), db_col_text(cur, 10), db_col_text(cur, 11)};
  char hash[HASH_HEX_LEN];
  if (entry_hash(&f, hash) != 0) problem(rep, "chain %s: cannot hash the entry at seq %lld", chain, (long long)seq);
  else if (strcmp(hash, db_col_text(cur, 13)) != 0) problem(rep, "chain %s: entry edited at seq %lld", chain, (long long)seq);
  cs->seq = seq;
  db_col_copy(cur, 13, cs->hash, sizeof cs->hash);
  rep->entries++;
}

/* Every head must equal the last entry of its chain (catches removal of the newest
 * entries), and no entry may lie beyond its chain's head or in a chain without one
 * (catches appended forgeries). Streamed: one row per chain, any number of chains. */
static const db_sql q_heads = {
    "audit_heads",
    "SELECT h.chain, h.seq, h.hash, l.seq, COALESCE(l.hash, '') FROM audit_chain_heads h "
    "LEFT JOIN audit_log l ON l.chain = h.chain AND l.seq = h.seq ORDER BY h.chain", NULL};
static const db_sql q_beyond = {
    "audit_beyond_head",
    "SELECT l.chain, l.seq, COALESCE(h.seq, -1) FROM audit_log l "
    "LEFT JOIN audit_chain_heads h ON h.chain = l.chain "
    "WHERE h.chain IS NULL OR l.seq > h.seq ORDER BY l.chain, l.seq", NULL};

static void check_head(db_cursor *cur, struct audit_verify_report *rep) {
  const char *chain = db_col_text(cur, 0);
  int64_t head_seq = db_col_int(cur, 1);
  bool found = !db_col_null(cur, 3);
  rep->chains++;
  if (head_seq == 0 && !found) return; /* a chain with no entries yet */
  if (!found) {
    problem(rep, "chain %s: newest entries removed (head seq %lld has no entry)", chain, (long long)head_seq);
  } else if (strcmp(db_col_text(cur, 4), db_col_text(cur, 2)) != 0) {
    problem(rep, "chain %s: head hash does not match the entry at seq %lld", chain, (long long)head_seq);
  }
}

static int verify_heads(db_conn *c, struct audit_verify_report *rep) {
  db_cursor *cur = NULL;
  int rc = db_query(c, &q_heads, NULL, 0, &cur);
  if (rc < 0) return rc;
  int64_t rows = 0;
  while ((rc = db_step(cur)) == DB_ROW && rows++ < AUDIT_VERIFY_MAX_ROWS) check_head(cur, rep);
  db_reset(cur);
  if (rc < 0) return rc;
  rc = db_query(c, &q_beyond, NULL, 0, &cur);
  if (rc < 0) return rc;
  rows = 0;
  while ((rc = db_step(cur)) == DB_ROW && rows++ < AUDIT_VERIFY_MAX_ROWS) {
    int64_t head = db_col_int(cur, 2);
    if (head < 0) {
      problem(rep, "chain %s: entry at seq %lld has no chain head", db_col_text(cur, 0), (long long)db_col_int(cur, 1));
    } else {
      problem(rep, "chain %s: entry at seq %lld lies beyond the chain head (seq %lld)", db_col_text(cur, 0),
              (long long)db_col_int(cur, 1), (long long)head);
    }
  }
  db_reset(cur);
  return rc < 0 ? rc : DB_OK;
}

int audit_verify(db_conn *c, struct audit_verify_report *rep) {
  memset(rep, 0, sizeof *rep);
  struct chain_state cs = {.chain = "", .seq = 0};
  db_cursor *cur = NULL;
  int rc = db_query(c, &q_walk, NULL, 0, &cur);
  if (rc < 0) return rc;
  int64_t rows = 0;
  while ((rc = db_step(cur)) == DB_ROW && rows++ < AUDIT_VERIFY_MAX_ROWS) check_row(cur, &cs, rep);
  db_reset(cur);
  if (rc < 0) return rc;
  if (rc == DB_ROW) problem(rep, "stopped after %lld entries: the log is larger than this check's bound", AUDIT_VERIFY_MAX_ROWS);
  return verify_heads(c, rep);
}
