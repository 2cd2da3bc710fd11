/* transactions.c — listing and reading payments (see transactions.h). Twelve list
 * statements, by whether a merchant, a member and a cursor are given, so each walks an index
 * (payments_member, payments_merchant or the primary key) from the newest payment down: a
 * member's few payments are found without reading the merchant's many; and by whether a
 * status or a time window is asked for. A page without them (the console's default and most
 * pages) has a statement without the optional filters, which PostgreSQL plans once for all
 * arguments; the filtered form, whose "$1 = '' OR ..." tests depend on the arguments, is
 * planned again on every call, as its one plan for all of them would sort the whole table (D59). */
#include "service/transactions.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define TXN_COLS "SELECT " PAYMENT_COLS ", COALESCE(store_id, '') FROM payments "
/* filtered: $1 status or '', $2 member or '', $3..$4 the window, $5 the limit, then the merchant, the cursor */
#define TXN_WHERE \
  "WHERE ($1 = '' OR status = $1) AND ($2 = '' OR member_id = $2) AND created_at_ms >= $3 " \
  "AND created_at_ms < $4 "
#define TXN_ORDER "ORDER BY id DESC LIMIT $5"
#define TXN_MEMBER "AND merchant_id = $6 AND member_id = $2 " /* $2 = '' OR ... hides the index */
/* unfiltered: $1 the limit, then the merchant, the member, the cursor. The limit as a
 * subquery: PostgreSQL then costs a plan for one call's limit no lower than the plan for any
 * limit, keeps that one (the index walk from the newest down, for every scope) after five
 * calls and plans no more (D59); a limit it can see makes every call's own plan look cheaper. */
#define TXN_PLAIN_ORDER "ORDER BY id DESC LIMIT (SELECT $1)"

enum txn_scope { SCOPE_ALL, SCOPE_MERCHANT, SCOPE_MEMBER };

/* [filtered][scope][after] */
static const db_sql q_list[2][3][2] = {
    {{{"txn_list_plain_all", TXN_COLS TXN_PLAIN_ORDER, NULL},
      {"txn_list_plain_all_after", TXN_COLS "WHERE id < $2 " TXN_PLAIN_ORDER, NULL}},
     {{"txn_list_plain_merchant", TXN_COLS "WHERE merchant_id = $2 " TXN_PLAIN_ORDER, NULL},
      {"txn_list_plain_merchant_after", TXN_COLS "WHERE merchant_id = $2 AND id < $3 " TXN_PLAIN_ORDER, NULL}},
     {{"txn_list_plain_member", TXN_COLS "WHERE merchant_id = $2 AND member_id = $3 " TXN_PLAIN_ORDER, NULL},
      {"txn_list_plain_member_after",
       TXN_COLS "WHERE merchant_id = $2 AND member_id = $3 AND id < $4 " TXN_PLAIN_ORDER, NULL}}},
    {{{"txn_list_all", TXN_COLS TXN_WHERE TXN_ORDER, NULL},
      {"txn_list_all_after", TXN_COLS TXN_WHERE "AND id < $6 " TXN_ORDER, NULL}},
     {{"txn_list_merchant", TXN_COLS TXN_WHERE "AND merchant_id = $6 " TXN_ORDER, NULL},
      {"txn_list_merchant_after", TXN_COLS TXN_WHERE "AND merchant_id = $6 AND id < $7 " TXN_ORDER, NULL}},
     {{"txn_list_member", TXN_COLS TXN_WHERE TXN_MEMBER TXN_ORDER, NULL},
      {"txn_list_member_after", TXN_COLS TXN_WHERE TXN_MEMBER "AND id < $7 " TXN_ORDER, NULL}}},
};
static const db_sql q_get = {"txn_get", TXN_COLS "WHERE id = $1", NULL};
static const db_sql q_events = {
    "txn_events",
    "SELECT seq, type, at_ms, details FROM payment_events WHERE payment_id = $1 ORDER BY seq LIMIT $2", NULL};
static const db_sql q_refunds = {
    "txn_refunds",
    "SELECT id, amount, wallet_share, external_share, clawback_bonus, clawback_principal, unrecovered, "
    "fee_reversal, external_status, actor, created_at_ms FROM refunds WHERE payment_id = $1 "
    "ORDER BY created_at_ms, id LIMIT $2", NULL};

bool txn_status_valid(const char *s) {
  static const char *const statuses[] = {"PENDING_EXTERNAL", "PAID", "FAILED", "EXPIRED"};
  for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
    if (strcmp(s, statuses[i]) == 0) return true;
  }
  return false;
}

static void read_txn(db_cursor *cur, struct txn *t) {
  memset(t, 0, sizeof *t);
  payment_read_row(cur, &t->p);
  db_col_copy(cur, PAYMENT_COL_COUNT, t->store_id, sizeof t->store_id);
}

static bool is_member(const struct actor *a) { return a->p && a->p->kind == PRINCIPAL_MEMBER; }

/* Platform staff and the system: any merchant or all; others: their own merchant. */
static int check_scope(const struct actor *a, const char *merchant_id, struct svc_error *err) {
  if (merchant_id[0]) return svc_scope(a, merchant_id, err);
  if (!a->p || a->p->kind == PRINCIPAL_PLATFORM) return SVC_OK;
  return svc_fail(err, MPS_E_FORBIDDEN, NULL, "only platform staff list every merchant's transactions");
}

/* The page's query and its arguments (*n of v[7]). */
static const db_sql *list_query(const struct actor *a, const struct txn_filter *f, db_val v[7], int *n) {
  assert(f->limit >= 1 && f->limit <= PAGE_MAX);
  assert(f->merchant_id && f->status && f->member_id && f->cursor);
  const char *member = is_member(a) ? a->p->subject : f->member_id; /* members: only their own */
  const bool after = f->cursor[0] != '\0';
  enum txn_scope scope = !f->merchant_id[0] ? SCOPE_ALL : member[0] ? SCOPE_MEMBER : SCOPE_MERCHANT;
  /* every merchant's payments of one member: only the filtered form has the member test */
  const bool filtered = f->status[0] || f->start_ms != 0 || f->end_ms != INT64_MAX ||
                        (scope == SCOPE_ALL && member[0]);
  *n = 0;
  if (filtered) {
    v[(*n)++] = db_text(f->status);
    v[(*n)++] = db_text(member);
    v[(*n)++] = db_int(f->start_ms);
    v[(*n)++] = db_int(f->end_ms);
  }
  v[(*n)++] = db_int(f->limit + 1);
  if (scope != SCOPE_ALL) v[(*n)++] = db_text(f->merchant_id);
  if (!filtered && scope == SCOPE_MEMBER) v[(*n)++] = db_text(member);
  if (after) v[(*n)++] = db_text(f->cursor);
  assert(*n <= 7);
  return &q_list[filtered][scope][after];
}

int txn_list_prefetch(db_conn *c, const struct actor *a, const struct txn_filter *f) {
  db_val v[7];
  int n = 0;
  const db_sql *q = list_query(a, f, v, &n);
  return db_prefetch(c, q, v, n);
}

int txn_list(db_conn *c, const struct actor *a, const struct txn_filter *f,
             void (*emit)(const struct txn *t, void *arg), void *arg, char *next_cursor,
             size_t next_len, struct svc_error *err) {
  assert(next_len > 0);
  next_cursor[0] = '\0';
  int rc = check_scope(a, f->merchant_id, err);
  if (rc != SVC_OK) return rc;
  db_val v[7];
  int n = 0;
  const db_sql *q = list_query(a, f, v, &n);
  db_cursor *cur = NULL;
  rc = db_query(c, q, v, n, &cur);
  if (rc < 0) return rc;
  char last[65] = "";
  int rows = 0;
  while ((rc = db_step(cur)) == DB_ROW) {
    if (rows == f->limit) { /* one more exists: the page ends at the previous row */
      snprintf(next_cursor, next_len, "%s", last);
      break;
    }
    struct txn t;
    read_txn(cur, &t);
    emit(&t, arg);
    snprintf(last, sizeof last, "%s", t.p.id);
    rows++;
  }
  db_reset(cur);
  return rc < 0 ? rc : SVC_OK;
}

int txn_get(db_conn *c, const struct actor *a, const char *merchant_id, const char *payment_id,
            struct txn *out, struct svc_error *err) {
  if (merchant_id) {
    int rc = svc_scope(a, merchant_id, err);
    if (rc != SVC_OK) return rc;
  } else if (a->p && a->p->kind != PRINCIPAL_PLATFORM) {
    return svc_fail(err, MPS_E_FORBIDDEN, NULL, "only platform staff read any merchant's transactions");
  }
  db_val k[] = {db_text(payment_id)};
  db_cursor *cur = NULL;
  int rc = db_query(c, &q_get, k, 1, &cur);
  if (rc < 0) return rc;
  rc = db_step(cur);
  if (rc == DB_ROW) read_txn(cur, out);
  db_reset(cur);
  if (rc < 0) return rc;
  /* absent, another merchant's, or (members) another member's: the same answer */
  bool visible = rc == DB_ROW && (!merchant_id || strcmp(out->p.merchant_id, merchant_id) == 0) &&
                 (!is_member(a) || strcmp(out->p.member_id, a->p->subject) == 0);
  if (!visible) {
    return svc_fail(err, MPS_E_NOT_FOUND, json_pack("{s:s}", "paymentTxnId", payment_id),
                    "no transaction '%s'%s", payment_id, merchant_id ? " at this merchant" : "");
  }
  return SVC_OK;
}

int txn_events(db_conn *c, const char *payment_id, void (*emit)(const struct txn_event *e, void *arg),
               void *arg) {
  db_val k[] = {db_text(payment_id), db_int(TXN_MAX_EVENTS)};
  db_cursor *cur = NULL;
  int rc = db_query(c, &q_events, k, 2, &cur);
  if (rc < 0) return rc;
  for (int i = 0; i < TXN_MAX_EVENTS && (rc = db_step(cur)) == DB_ROW; i++) {
    struct txn_event e = {.seq = db_col_int(cur, 0), .type = db_col_text(cur, 1), .at_ms = db_col_int(cur, 2),
                          .details = db_col_text(cur, 3)};
    emit(&e, arg);
  }
  db_reset(cur);
  return rc < 0 ? rc : DB_OK;
}

int txn_refunds(db_conn *c, const char *payment_id, void (*emit)(const struct txn_refund *r, void *arg),
                void *arg) {
  db_val k[] = {db_text(payment_id), db_int(TXN_MAX_REFUNDS)};
  db_cursor *cur = NULL;
  int rc = db_query(c, &q_refunds, k, 2, &cur);
  if (rc < 0) return rc;
  for (int i = 0; i < TXN_MAX_REFUNDS && (rc = db_step(cur)) == DB_ROW; i++) {
    struct txn_refund r = {.id = db_col_text(cur, 0), .amount = db_col_int(cur, 1),
                           .wallet_share = db_col_int(cur, 2), .external_share = db_col_int(cur, 3),
                           .clawback_bonus = db_col_int(cur, 4), .clawback_principal = db_col_int(cur, 5),
                           .unrecovered = db_col_int(cur, 6), .fee_reversal = db_col_int(cur, 7),
                           .external_status = db_col_text(cur, 8), .actor = db_col_text(cur, 9),
                           .created_at_ms = db_col_int(cur, 10)};
    emit(&r, arg);
  }
  db_reset(cur);
  return rc < 0 ? rc : DB_OK;
}
