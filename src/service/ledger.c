/* ledger.c — accounts, postings and holds (see ledger.h). */
#include "service/ledger.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/ids.h"

struct kind_info {
  const char *name, *owner;
  int normal;
  int floored;
};

static const struct kind_info kinds[ACC_KIND_COUNT] = {
    [ACC_PRINCIPAL] = {"principal", "member", -1, 1},
    [ACC_BONUS] = {"bonus", "member", -1, 1},
    [ACC_SILVER] = {"silver", "member", -1, 1},
    [ACC_PAYABLE] = {"payable", "merchant", -1, 0},
    [ACC_MARKETING] = {"marketing", "merchant", 1, 0},
    [ACC_FEE_INCOME] = {"fee_income", "platform", -1, 0},
    [ACC_GATEWAY_CLEARING] = {"gateway_clearing", "platform", 1, 0},
    [ACC_CASH] = {"cash", "platform", 1, 0},
    [ACC_REFUND_PAYABLE] = {"refund_payable", "platform", -1, 0},
};

const char *ledger_kind_name(enum ledger_kind k) {
  assert(k >= 0 && k < ACC_KIND_COUNT);
  return kinds[k].name;
}

static const db_sql q_acc_insert = {
    "ledger_account_insert",
    "INSERT INTO ledger_accounts (id, merchant_id, owner_kind, owner_id, kind, currency, normal, "
    "balance, held, has_floor, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 0, $8, $9) "
    "ON CONFLICT (owner_kind, owner_id, kind, currency) DO NOTHING", NULL};
#define ACC_GET_SQL                                                                              \
  "SELECT id, normal, balance, held, has_floor FROM ledger_accounts "                            \
  "WHERE owner_kind = $1 AND owner_id = $2 AND kind = $3 AND currency = $4"
#define ACC_GET_SQL_PG                                                                           \
  "SELECT a.id, a.normal, a.balance + " LEDGER_LANES_SUM ", a.held, a.has_floor FROM ledger_accounts a " \
  "WHERE a.owner_kind = $1 AND a.owner_id = $2 AND a.kind = $3 AND a.currency = $4"
static const db_sql q_acc_get = {"ledger_account_get", ACC_GET_SQL, ACC_GET_SQL_PG};
/* The same lookup right after this transaction created the account: a descriptor of its own,
 * so that it never takes an answer prefetched before the insert for a later read of the same
 * account (a refund reads a member's buckets three times: D55). */
static const db_sql q_acc_get_created = {"ledger_account_get_created", ACC_GET_SQL, ACC_GET_SQL_PG};
static const db_sql q_entry_insert = {
    "journal_entry_insert",
    "INSERT INTO journal_entries (id, merchant_id, kind, ref_type, ref_id, memo, created_at_ms) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7)", NULL};
static const db_sql q_line_insert = {
    "journal_line_insert",
    "INSERT INTO journal_lines (entry_id, line_no, account_id, amount, currency) "
    "VALUES ($1, $2, $3, $4, $5)", NULL};
static const db_sql q_apply = {
    "ledger_apply",
    "UPDATE ledger_accounts SET balance = balance + normal * $2 WHERE id = $1 AND currency = $3 "
    /* far from INT64_MAX: SQLite would silently turn an overflow into a float */
    "AND abs(balance + normal * $2) < 4000000000000000000", NULL};
/* A hot account's posting into its lane (PostgreSQL). The account row is read, not locked or
 * written: it checks the currency and that there is no floor, and gives the sign. */
static const db_sql q_apply_lane = {
    "ledger_apply_lane",
    "INSERT INTO ledger_account_lanes AS l (account_id, lane, balance) "
    "SELECT id, $2, normal * $4 FROM ledger_accounts WHERE id = $1 AND currency = $3 AND has_floor = 0 "
    "ON CONFLICT (account_id, lane) DO UPDATE SET balance = l.balance + EXCLUDED.balance "
    "WHERE abs(l.balance + EXCLUDED.balance) < 4000000000000000000", NULL};
static const db_sql q_hold_insert = {
    "ledger_hold_insert",
    "INSERT INTO ledger_holds (id, account_id, amount, ref_type, ref_id, status, created_at_ms, "
    "updated_at_ms) VALUES ($1, $2, $3, $4, $5, 'HELD', $6, $6)", NULL};
static const db_sql q_hold_apply = {
    "ledger_hold_apply", "UPDATE ledger_accounts SET held = held + $2 WHERE id = $1", NULL};
static const db_sql q_holds_of = {
    "ledger_holds_of",
    "SELECT id, account_id, amount FROM ledger_holds WHERE ref_type = $1 AND ref_id = $2 "
    "AND status = 'HELD' ORDER BY id", NULL};
static const db_sql q_hold_end = {
    "ledger_hold_end", "UPDATE ledger_holds SET status = $2, updated_at_ms = $3 WHERE id = $1 AND status = 'HELD'", NULL};

static int account_get(db_conn *c, const db_sql *q, const db_val *k, struct ledger_account *out) {
  db_cursor *cur = NULL;
  int rc = db_query(c, q, k, 4, &cur);
  if (rc < 0) return rc;
  rc = db_step(cur);
  if (rc == DB_ROW) {
    db_col_copy(cur, 0, out->id, sizeof out->id);
    out->normal = (int)db_col_int(cur, 1);
    out->balance = db_col_int(cur, 2);
    out->held = db_col_int(cur, 3);
    out->has_floor = (int)db_col_int(cur, 4);
  }
  db_reset(cur);
  return rc;
}

static const db_sql q_lock_owner = {
    "ledger_lock_owner", "SELECT id FROM ledger_accounts WHERE owner_id = $1 ORDER BY id",
    "SELECT id FROM ledger_accounts WHERE owner_id = $1 ORDER BY id FOR UPDATE"};

int ledger_lock_owner_prefetch(db_conn *c, const char *owner_id) {
  if (db_conn_kind(c) == DB_SQLITE) return DB_OK;
  db_val k[] = {db_text(owner_id)};
  return db_prefetch(c, &q_lock_owner, k, 1);
}

int ledger_lock_owner(db_conn *c, const char *owner_id) {
  if (db_conn_kind(c) == DB_SQLITE) return DB_OK; /* the single writer already serialises */
  db_val k[] = {db_text(owner_id)};
  db_cursor *cur = NULL;
  int rc = db_query(c, &q_lock_owner, k, 1, &cur);
  if (rc < 0) return rc;
  for (int i = 0; i < 64 && (rc = db_step(cur)) == DB_ROW; i++) {
  }
  db_reset(cur);
  return rc < 0 ? rc : DB_OK;
}

/* The lookup key of (kind, owner) in k[4]: (owner kind, owner id, kind, currency). */
static void account_key(enum ledger_kind kind, const char *owner_id, const char *currency, db_val k[4]) {
  assert(kind >= 0 && kind < ACC_KIND_COUNT && currency);
  const struct kind_info *ki = &kinds[kind];
  const char *owner = strcmp(ki->owner, "platform") == 0 ? "platform" : owner_id;
  assert(owner && owner[0]);
  k[0] = db_text(ki->owner);
  k[1] = db_text(owner);
  k[2] = db_text(ki->name);
  k[3] = db_text(currency);
}

int ledger_account_prefetch(db_conn *c, enum ledger_kind kind, const char *owner_id, const char *currency) {
  db_val k[4];
  account_key(kind, owner_id, currency, k);
  return db_prefetch(c, &q_acc_get, k, 4);
}

int ledger_account_find(db_conn *c, enum ledger_kind kind, const char *owner_id,
                        const char *currency, struct ledger_account *out) {
  db_val k[4];
  account_key(kind, owner_id, currency, k);
  memset(out, 0, sizeof *out);
  return account_get(c, &q_acc_get, k, out);
}

int ledger_account(db_conn *c, enum ledger_kind kind, const char *merchant_id, const char *owner_id,
                   const char *currency, struct ledger_account *out) {
  assert(merchant_id);
  db_val k[4];
  account_key(kind, owner_id, currency, k);
  const struct kind_info *ki = &kinds[kind];
  const char *owner = k[1].s;
  int rc = account_get(c, &q_acc_get, k, out); /* the common case: it exists */
  if (rc != DB_DONE) return rc == DB_ROW ? DB_OK : rc;
  char id[ID_MAX_LEN];
  if (id_new("acc", id, sizeof id) != 0) return DB_ERR;
  const char *scope = strcmp(ki->owner, "platform") == 0 ? "" : merchant_id;
  db_val v[] = {db_text(id), db_text(scope), db_text(ki->owner), db_text(owner), db_text(ki->name),
                db_text(currency), db_int(ki->normal), db_int(ki->floored), db_int(clock_now_ms())};
  rc = db_run(c, &q_acc_insert, v, 9, NULL);
  if (rc < 0) return rc;
  rc = account_get(c, &q_acc_get_created, k, out);
  return rc == DB_ROW ? DB_OK : (rc < 0 ? rc : DB_ERR);
}

int ledger_post(db_conn *c, const char *merchant_id, const char *kind, const char *ref_type,
                const char *ref_id, const char *memo, const char *currency,
                const struct ledger_line *lines, int count, char *entry_id_out, size_t id_len) {
  assert(count >= 2 && count <= LEDGER_MAX_LINES);
  int64_t sum = 0, nonzero = 0;
  for (int i = 0; i < count; i++) {
    sum += lines[i].amount;
    nonzero += lines[i].amount != 0;
  }
  assert(sum == 0); /* a caller bug, never input: every entry balances by construction */
  if (sum != 0) return DB_ERR;
  if (nonzero == 0) return DB_OK; /* nothing moves */
  char id[ID_MAX_LEN];
  if (id_new("jnl", id, sizeof id) != 0) return DB_ERR;
  db_val e[] = {db_text(id), db_text(merchant_id), db_text(kind), db_text(ref_type), db_text(ref_id),
                db_text(memo ? memo : ""), db_int(clock_now_ms())};
  int rc = db_run_later(c, &q_entry_insert, e, 7, 1);
  int line_no = 0;
  bool lanes = db_conn_kind(c) == DB_POSTGRES; /* SQLite's single writer never queues */
  for (int i = 0; rc >= 0 && i < count; i++) {
    if (lines[i].amount == 0) continue;
    const char *account_id = lines[i].account->id;
    assert(account_id[0]);
    db_val l[] = {db_text(id), db_int(++line_no), db_text(account_id), db_int(lines[i].amount), db_text(currency)};
    rc = db_run_later(c, &q_line_insert, l, 5, 1);
    if (rc < 0) break;
    /* A balance change must touch exactly one row (else: unknown account, currency mismatch
     * or overflow). All are held back with the rest; the CHECK refusal of a floored one (a
     * member's bucket) means another transaction spent the money first, and comes back as
     * DB_BUSY, here or at COMMIT: the job runs again and quotes again. */
    bool floored = lines[i].account->has_floor;
    if (lanes && !floored) {
      /* a write group's jobs add to the one lane of the connection: their sum in one (D63) */
      db_val a[] = {db_text(account_id), db_int(db_conn_lane(c)), db_text(currency), db_int(lines[i].amount)};
      rc = db_run_later_merge(c, &q_apply_lane, a, 4, 1, DB_MERGE_SUM, false);
    } else { /* a write group's jobs are of different members, each moving its own buckets */
      db_val a[] = {db_text(account_id), db_int(lines[i].amount), db_text(currency)};
      rc = db_run_later_merge(c, &q_apply, a, 3, 1, floored ? DB_MERGE_ROWS : DB_MERGE_NONE, floored);
    }
  }
  if (rc < 0) return rc;
  if (entry_id_out) snprintf(entry_id_out, id_len, "%s", id);
  return DB_OK;
}

int ledger_hold(db_conn *c, const char *account_id, int64_t amount, const char *ref_type,
                const char *ref_id) {
  if (amount == 0) return DB_OK;
  assert(amount > 0);
  db_val a[] = {db_text(account_id), db_int(amount)};
  int rc = db_run_later_race(c, &q_hold_apply, a, 2, 1); /* the floor CHECK refuses overdraft: DB_BUSY */
  if (rc < 0) return rc;
  char id[ID_MAX_LEN];
  if (id_new("hld", id, sizeof id) != 0) return DB_ERR;
  db_val h[] = {db_text(id), db_text(account_id), db_int(amount), db_text(ref_type), db_text(ref_id), db_int(clock_now_ms())};
  return db_run_later(c, &q_hold_insert, h, 6, 1);
}

int ledger_end_holds_prefetch(db_conn *c, const char *ref_type, const char *ref_id) {
  db_val k[] = {db_text(ref_type), db_text(ref_id)};
  return db_prefetch(c, &q_holds_of, k, 2);
}

int ledger_end_holds(db_conn *c, const char *ref_type, const char *ref_id, const char *status,
                     int *count_out) {
  assert(strcmp(status, "POSTED") == 0 || strcmp(status, "RELEASED") == 0);
  struct { char id[65], account[65]; int64_t amount; } holds[LEDGER_MAX_LINES];
  int n = 0;
  db_val k[] = {db_text(ref_type), db_text(ref_id)};
  db_cursor *cur = NULL;
  int rc = db_query(c, &q_holds_of, k, 2, &cur);
  if (rc < 0) return rc;
  while ((rc = db_step(cur)) == DB_ROW && n < LEDGER_MAX_LINES) {
    db_col_copy(cur, 0, holds[n].id, sizeof holds[n].id);
    db_col_copy(cur, 1, holds[n].account, sizeof holds[n].account);
    holds[n].amount = db_col_int(cur, 2);
    n++;
  }
  db_reset(cur);
  if (rc < 0) return rc;
  int64_t now = clock_now_ms();
  for (int i = 0; i < n; i++) {
    /* held back: the caller holds the row the holds are for (a payment, locked), so no one
     * else ends them meanwhile and each changes its one row */
    db_val e[] = {db_text(holds[i].id), db_text(status), db_int(now)};
    rc = db_run_later(c, &q_hold_end, e, 3, 1);
    if (rc < 0) return rc;
    db_val a[] = {db_text(holds[i].account), db_int(-holds[i].amount)};
    rc = db_run_later(c, &q_hold_apply, a, 2, 1);
    if (rc < 0) return rc;
  }
  if (count_out) *count_out = n;
  return DB_OK;
}
