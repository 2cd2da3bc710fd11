/* wallet.c — loading the context of a money operation (merchant, member, currency, fee)
 * and a member's wallet: posted, held and available buckets and usable vouchers. */
#include <stdio.h>
#include <string.h>

#include "service/ledger.h"
#include "service/payments.h"

static const db_sql q_ctx = {
    "money_ctx",
    "SELECT m.status, m.currency, COALESCE(m.platform_fee_bps, -1), "
    "COALESCE(b.status, ''), COALESCE(b.id, '') FROM merchants m "
    "LEFT JOIN members b ON b.merchant_id = m.id AND b.id = $2 WHERE m.id = $1", NULL};
static const db_sql q_vouchers = {
    "wallet_vouchers",
    "SELECT id, value, min_spend, expires_at_ms, status FROM vouchers WHERE merchant_id = $1 "
    "AND member_id = $2 AND status IN ('ACTIVE', 'HELD') AND (expires_at_ms = 0 OR expires_at_ms > $3) "
    "ORDER BY CASE WHEN expires_at_ms = 0 THEN 1 ELSE 0 END, expires_at_ms, value DESC, id LIMIT $4", NULL};

int money_ctx_prefetch(db_conn *c, const char *merchant_id, const char *member_id) {
  db_val k[] = {db_text(merchant_id), db_text(member_id)};
  return db_prefetch(c, &q_ctx, k, 2);
}

int money_ctx_allowed(const struct actor *a, const char *merchant_id, const char *member_id,
                      struct svc_error *err) {
  int rc = svc_scope(a, merchant_id, err);
  if (rc != SVC_OK) return rc;
  if (a->p && a->p->kind == PRINCIPAL_MEMBER && strcmp(a->p->subject, member_id) != 0) {
    return svc_fail(err, MPS_E_FORBIDDEN, json_pack("{s:s}", "userId", member_id),
                    "members act only for themselves");
  }
  return SVC_OK;
}

int money_ctx_load(db_conn *c, const struct actor *a, const char *merchant_id,
                   const char *member_id, int default_fee_bps, struct money_ctx *out,
                   struct svc_error *err) {
  int rc = money_ctx_allowed(a, merchant_id, member_id, err);
  if (rc != SVC_OK) return rc;
  db_val k[] = {db_text(merchant_id), db_text(member_id)};
  db_cursor *cur = NULL;
  rc = db_query(c, &q_ctx, k, 2, &cur);
  if (rc < 0) return rc;
  rc = db_step(cur);
  char mstatus[16] = "", bstatus[16] = "";
  if (rc == DB_ROW) {
    db_col_copy(cur, 0, mstatus, sizeof mstatus);
    db_col_copy(cur, 1, out->currency, sizeof out->currency);
    int64_t bps = db_col_int(cur, 2);
    out->fee_bps = bps < 0 ? default_fee_bps : (int)bps;
    db_col_copy(cur, 3, bstatus, sizeof bstatus);
  }
  db_reset(cur);
  if (rc < 0) return rc;
  if (rc == DB_DONE) return svc_fail(err, MPS_E_NOT_FOUND, json_pack("{s:s}", "merchantId", merchant_id), "no merchant '%s'", merchant_id);
  if (strcmp(mstatus, "ACTIVE") != 0) {
    return svc_fail(err, MPS_E_CONFLICT, json_pack("{s:s}", "status", mstatus), "the merchant is %s and takes no money", mstatus);
  }
  if (!bstatus[0]) return svc_fail(err, MPS_E_NOT_FOUND, json_pack("{s:s}", "userId", member_id), "no member '%s' at this merchant", member_id);
  if (strcmp(bstatus, "ACTIVE") != 0) {
    return svc_fail(err, MPS_E_CONFLICT, json_pack("{s:s}", "status", bstatus), "the member is %s", bstatus);
  }
  snprintf(out->merchant_id, sizeof out->merchant_id, "%s", merchant_id);
  snprintf(out->member_id, sizeof out->member_id, "%s", member_id);
  return SVC_OK;
}

/* The member's buckets, every currency (the caller keeps its own: a member's accounts are in
 * their merchant's currency, and the query needs no more than the member's id, known before
 * the merchant's row is read). Member buckets have a floor and so no lane parts. */
static const db_sql q_buckets = {
    "wallet_buckets",
    "SELECT kind, currency, balance, held FROM ledger_accounts WHERE owner_kind = 'member' AND owner_id = $1",
    NULL};

int wallet_prefetch(db_conn *c, const char *merchant_id, const char *member_id, int64_t now_ms) {
  db_val k[] = {db_text(member_id)};
  int rc = db_prefetch(c, &q_buckets, k, 1);
  return rc < 0 ? rc : wallet_vouchers_prefetch(c, merchant_id, member_id, now_ms);
}

int wallet_load(db_conn *c, const struct money_ctx *m, int64_t now_ms, struct wallet_view *out) {
  WALLET_VIEW_CLEAR(out);
  db_val k[] = {db_text(m->member_id)};
  db_cursor *cur = NULL;
  int rc = db_query(c, &q_buckets, k, 1, &cur);
  if (rc < 0) return rc;
  const struct { const char *kind; int64_t *balance, *held; } buckets[] = {
      {"principal", &out->balance.principal, &out->held.principal},
      {"bonus", &out->balance.bonus, &out->held.bonus},
      {"silver", &out->balance.silver, &out->held.silver},
  };
  for (int i = 0; i < 64 && (rc = db_step(cur)) == DB_ROW; i++) { /* absent: zero */
    if (strcmp(db_col_text(cur, 1), m->currency) != 0) continue;
    for (size_t b = 0; b < sizeof buckets / sizeof buckets[0]; b++) {
      if (strcmp(db_col_text(cur, 0), buckets[b].kind) != 0) continue;
      *buckets[b].balance = db_col_int(cur, 2);
      *buckets[b].held = db_col_int(cur, 3);
    }
  }
  db_reset(cur);
  if (rc == DB_ROW) rc = DB_DONE; /* more than 64 accounts of one member: not reached */
  if (rc < 0) return rc;
  out->available = (struct wallet_balances){out->balance.principal - out->held.principal,
                                            out->balance.bonus - out->held.bonus,
                                            out->balance.silver - out->held.silver};
  return wallet_vouchers_load(c, m, now_ms, out);
}

/* SQLite: whether the member holds any usable voucher, the common answer being no. There the
 * ordered query builds two temporary b-trees (one for the IN list, one for ORDER BY ... LIMIT)
 * even when no row matches, which had cost a payment more than the payment row's insert; this
 * probe walks the index prefix, filtering the status (the unary + keeps SQLite from turning
 * the IN list into an index loop over a temporary table). PostgreSQL has no such cost and
 * goes straight to the ordered query (a statement less). */
static const db_sql q_vouchers_any = {
    "wallet_vouchers_any",
    "SELECT 1 FROM vouchers WHERE merchant_id = $1 AND member_id = $2 AND +status IN ('ACTIVE', 'HELD') LIMIT 1",
    NULL};

int wallet_vouchers_prefetch(db_conn *c, const char *merchant_id, const char *member_id, int64_t now_ms) {
  if (db_conn_kind(c) == DB_SQLITE) return DB_OK; /* the probe first, see below */
  db_val v[] = {db_text(merchant_id), db_text(member_id), db_int(now_ms), db_int(WALLET_MAX_VOUCHERS)};
  return db_prefetch(c, &q_vouchers, v, 4);
}

int wallet_vouchers_load(db_conn *c, const struct money_ctx *m, int64_t now_ms, struct wallet_view *out) {
  out->voucher_count = 0;
  db_val v[] = {db_text(m->merchant_id), db_text(m->member_id), db_int(now_ms), db_int(WALLET_MAX_VOUCHERS)};
  int rc;
  if (db_conn_kind(c) == DB_SQLITE) {
    int64_t any = 0;
    rc = db_query_int(c, &q_vouchers_any, v, 2, &any);
    if (rc < 0) return rc;
    if (rc == DB_DONE) return DB_OK;
  }
  db_cursor *cur = NULL;
  rc = db_query(c, &q_vouchers, v, 4, &cur);
  if (rc < 0) return rc;
  while ((rc = db_step(cur)) == DB_ROW && out->voucher_count < WALLET_MAX_VOUCHERS) {
    struct wallet_voucher *w = &out->vouchers[out->voucher_count++];
    db_col_copy(cur, 0, w->id, sizeof w->id);
    w->value = db_col_int(cur, 1);
    w->min_spend = db_col_int(cur, 2);
    w->expires_at_ms = db_col_int(cur, 3);
    db_col_copy(cur, 4, w->status, sizeof w->status);
  }
  db_reset(cur);
  return rc < 0 ? rc : DB_OK;
}
