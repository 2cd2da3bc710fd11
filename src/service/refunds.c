/* refunds.c — refunds of PAID payments (see refunds.h). */
#include "service/refunds.h"

#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/ids.h"
#include "service/audit.h"
#include "service/ledger.h"
#include "service/payments.h"

/* PostgreSQL: refunds of one payment queue on its row, so each sees the refunded amount the
 * previous one left (SQLite's single writer serialises them anyway). Only a payment of the
 * merchant the request names (and its token allows) is locked: another merchant's is
 * answered 404 without having been held. */
static const db_sql q_lock_payment = {
    "refund_lock_payment", "SELECT id FROM payments WHERE id = $1 AND merchant_id = $2",
    "SELECT id FROM payments WHERE id = $1 AND merchant_id = $2 FOR UPDATE"};
static const db_sql q_refund_insert = {
    "refund_insert",
    "INSERT INTO refunds (id, payment_id, merchant_id, amount, wallet_share, external_share, clawback_bonus, "
    "clawback_principal, unrecovered, fee_reversal, external_status, actor, created_at_ms) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)", NULL};
static const db_sql q_refunded = {
    "payment_add_refunded",
    "UPDATE payments SET refunded_amount = refunded_amount + $2, updated_at_ms = $3 "
    "WHERE id = $1 AND refunded_amount = $4 AND status = 'PAID'", NULL};

/* The accounts a refund touches. */
struct refund_accounts {
  struct ledger_account principal, bonus, silver, payable, marketing, fee_income, refund_payable;
};

/* The member's three buckets (member_balances reads them). */
static const enum ledger_kind BUCKETS[3] = {ACC_PRINCIPAL, ACC_BONUS, ACC_SILVER};

static int buckets_prefetch(db_conn *c, const struct payment *p) {
  int rc = DB_OK;
  for (int i = 0; i < 3 && rc >= 0; i++) rc = ledger_account_prefetch(c, BUCKETS[i], p->member_id, p->currency);
  return rc;
}

/* What refund_create reads once the payment is known, in one round trip on PostgreSQL, in
 * the order it is taken: the accounts (accounts_load), the member's lock, the buckets' balances
 * under it (member_balances), the payment's last event and the chain head (record). */
static int refund_reads_prefetch(db_conn *c, const struct payment *p) {
  const char *m = p->merchant_id, *cur = p->currency;
  static const enum ledger_kind merchant_kinds[] = {ACC_PAYABLE, ACC_MARKETING};
  static const enum ledger_kind platform_kinds[] = {ACC_FEE_INCOME, ACC_REFUND_PAYABLE};
  int rc = buckets_prefetch(c, p);
  for (size_t i = 0; i < 2 && rc >= 0; i++) rc = ledger_account_prefetch(c, merchant_kinds[i], m, cur);
  for (size_t i = 0; i < 2 && rc >= 0; i++) rc = ledger_account_prefetch(c, platform_kinds[i], NULL, cur);
  if (rc >= 0) rc = ledger_lock_owner_prefetch(c, p->member_id);
  if (rc >= 0) rc = buckets_prefetch(c, p);
  if (rc >= 0) rc = payment_event_prefetch(c, p->id);
  if (rc >= 0) rc = audit_prefetch_head(c, m, true);
  return rc;
}

static int accounts_load(db_conn *c, const struct payment *p, struct refund_accounts *a) {
  const char *m = p->merchant_id, *cur = p->currency;
  int rc = ledger_account(c, ACC_PRINCIPAL, m, p->member_id, cur, &a->principal);
  if (rc == DB_OK) rc = ledger_account(c, ACC_BONUS, m, p->member_id, cur, &a->bonus);
  if (rc == DB_OK) rc = ledger_account(c, ACC_SILVER, m, p->member_id, cur, &a->silver);
  if (rc == DB_OK) rc = ledger_account(c, ACC_PAYABLE, m, m, cur, &a->payable);
  if (rc == DB_OK) rc = ledger_account(c, ACC_MARKETING, m, m, cur, &a->marketing);
  if (rc == DB_OK) rc = ledger_account(c, ACC_FEE_INCOME, m, NULL, cur, &a->fee_income);
  if (rc == DB_OK) rc = ledger_account(c, ACC_REFUND_PAYABLE, m, NULL, cur, &a->refund_payable);
  return rc;
}

/* Spendable (posted - held) or posted balances of the member's three buckets. */
static int member_balances(db_conn *c, const struct payment *p, bool spendable, struct wallet_balances *out) {
  int64_t *dst[3] = {&out->principal, &out->bonus, &out->silver};
  for (int i = 0; i < 3; i++) {
    struct ledger_account acc;
    int rc = ledger_account_find(c, BUCKETS[i], p->member_id, p->currency, &acc); /* absent: zero */
    if (rc < 0) return rc;
    *dst[i] = acc.balance - (spendable ? acc.held : 0);
  }
  return DB_OK;
}

static int post_refund(db_conn *c, const struct payment *p, const struct refund *r, const struct refund_accounts *a) {
  const struct refund_shares *s = &r->shares;
  struct ledger_line refund[] = {
      {&a->payable, r->amount}, {&a->principal, -s->wallet_share}, {&a->refund_payable, -s->external_share}};
  int rc = ledger_post(c, p->merchant_id, "REFUND", "refund", r->id, p->id, p->currency, refund, 3, NULL, 0);
  if (rc < 0) return rc;
  /* after the wallet share is credited: the clawback may take from it */
  int64_t back = s->clawback.from_bonus + s->clawback.from_principal;
  struct ledger_line clawback[] = {
      {&a->bonus, s->clawback.from_bonus}, {&a->principal, s->clawback.from_principal}, {&a->marketing, -back}};
  rc = ledger_post(c, p->merchant_id, "CLAWBACK", "refund", r->id, "consumed bonus", p->currency, clawback, 3, NULL, 0);
  if (rc < 0) return rc;
  struct ledger_line fee[] = {{&a->fee_income, s->fee_reversal}, {&a->payable, -s->fee_reversal}};
  return ledger_post(c, p->merchant_id, "FEE_REVERSAL", "refund", r->id, "platform fee", p->currency, fee, 2, NULL, 0);
}

json_t *refund_json(const struct refund *r) {
  const struct refund_shares *s = &r->shares;
  const struct clawback *cb = &s->clawback;
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I}, "
                   "s:{s:I, s:I, s:I, s:I, s:I}, s:{s:I, s:s}, s:I, s:I}",
                   "refundTxnId", r->id, "paymentTxnId", r->payment_id, "merchantId", r->merchant_id,
                   "userId", r->member_id, "currency", r->currency, "refundAmount", (json_int_t)r->amount,
                   "refundedAmount", (json_int_t)r->refunded_amount, "orderAmount", (json_int_t)r->order_amount,
                   "walletRefund", (json_int_t)s->wallet_share,
                   "wallet", "principal", (json_int_t)r->wallet.principal, "bonus", (json_int_t)r->wallet.bonus,
                   "silver", (json_int_t)r->wallet.silver,
                   "clawback", "bonusConsumed", (json_int_t)cb->bonus_consumed, "reclaimTarget", (json_int_t)cb->reclaim,
                   "fromBonus", (json_int_t)cb->from_bonus, "fromPrincipal", (json_int_t)cb->from_principal,
                   "unrecovered", (json_int_t)cb->unrecovered,
                   "externalRefund", "amount", (json_int_t)s->external_share, "status", r->external_status,
                   "feeReversal", (json_int_t)s->fee_reversal, "createdAtMs", (json_int_t)r->created_at_ms);
}

static int record(db_conn *c, const struct actor *a, const struct refund *r) {
  const struct refund_shares *s = &r->shares;
  db_val v[] = {db_text(r->id), db_text(r->payment_id), db_text(r->merchant_id), db_int(r->amount),
                db_int(s->wallet_share), db_int(s->external_share), db_int(s->clawback.from_bonus),
                db_int(s->clawback.from_principal), db_int(s->clawback.unrecovered), db_int(s->fee_reversal),
                db_text(r->external_status), db_text(actor_id(a)), db_int(r->created_at_ms)};
  int rc = db_run_later(c, &q_refund_insert, v, 13, 1);
  json_t *j = refund_json(r);
  if (rc >= 0) rc = payment_event(c, r->payment_id, "refunded", j);
  if (rc >= 0) rc = outbox_add(c, r->merchant_id, "refund.succeeded", r->id, j);
  if (rc >= 0) rc = svc_audit_money(c, a, r->merchant_id, "REFUND", r->id, j);
  json_decref(j);
  return rc;
}

int refund_create_prefetch(db_conn *c, const struct actor *a, const char *merchant_id, const char *payment_id) {
  struct svc_error err = {0};
  int allowed = svc_scope(a, merchant_id, &err);
  svc_error_clear(&err);
  if (allowed != SVC_OK) return DB_OK;
  db_val k[] = {db_text(payment_id), db_text(merchant_id)};
  int rc = db_prefetch(c, &q_lock_payment, k, 2);
  return rc < 0 ? rc : payment_load_prefetch(c, payment_id);
}

int refund_create(db_conn *c, const struct actor *a, const char *merchant_id, const char *payment_id,
                  int64_t amount, struct refund *out, struct svc_error *err) {
  int rc = svc_scope(a, merchant_id, err);
  if (rc != SVC_OK) return rc;
  db_val k[] = {db_text(payment_id), db_text(merchant_id)};
  db_cursor *cur = NULL;
  rc = db_query(c, &q_lock_payment, k, 2, &cur);
  if (rc < 0) return rc;
  while ((rc = db_step(cur)) == DB_ROW) {
  }
  db_reset(cur);
  if (rc < 0) return rc;
  struct payment p;
  rc = payment_load(c, payment_id, &p);
  if (rc < 0) return rc;
  if (rc == DB_DONE || strcmp(p.merchant_id, merchant_id) != 0) { /* another merchant's: as if absent */
    return svc_fail(err, MPS_E_NOT_FOUND, json_pack("{s:s}", "paymentTxnId", payment_id),
                    "no payment '%s' at this merchant", payment_id);
  }
  if (strcmp(p.status, "PAID") != 0) {
    return svc_fail(err, MPS_E_CONFLICT, json_pack("{s:s, s:s}", "paymentTxnId", p.id, "status", p.status),
                    "the payment is %s; only a PAID payment can be refunded", p.status);
  }
  int64_t refundable = p.order_amount - p.refunded_amount;
  if (amount < 1 || amount > refundable) {
    return svc_fail(err, MPS_E_UNPROCESSABLE,
                    json_pack("{s:s, s:I, s:I, s:I, s:I}", "field", "refundAmount", "refundAmount", (json_int_t)amount,
                              "orderAmount", (json_int_t)p.order_amount, "refundedAmount", (json_int_t)p.refunded_amount,
                              "refundable", (json_int_t)refundable),
                    refundable == 0 ? "the payment is refunded in full already"
                                    : "refundAmount is more than is left to refund (%lld)", (long long)refundable);
  }

  struct refund_accounts acc; /* created if new, then locked, then read */
  rc = refund_reads_prefetch(c, &p);
  if (rc >= 0) rc = accounts_load(c, &p, &acc);
  if (rc >= 0) rc = ledger_lock_owner(c, p.member_id);
  struct refund_input in = {.order_amount = p.order_amount, .d = p.d, .fee_amount = p.fee_amount,
                            .refunded_before = p.refunded_amount, .refund_amount = amount};
  if (rc >= 0) rc = member_balances(c, &p, true, &in.wallet);
  if (rc < 0) return rc;

  struct refund *r = out;
  memset(r, 0, sizeof *r);
  if (refund_compute(&in, &r->shares) != 0) return DB_ERR; /* checked above: cannot happen */
  if (id_new("rfd", r->id, sizeof r->id) != 0) return DB_ERR;
  snprintf(r->payment_id, sizeof r->payment_id, "%s", p.id);
  snprintf(r->merchant_id, sizeof r->merchant_id, "%s", p.merchant_id);
  snprintf(r->member_id, sizeof r->member_id, "%s", p.member_id);
  snprintf(r->currency, sizeof r->currency, "%s", p.currency);
  snprintf(r->external_status, sizeof r->external_status, "%s", r->shares.external_share > 0 ? "OWED" : "NONE");
  r->amount = amount;
  r->order_amount = p.order_amount;
  r->refunded_amount = p.refunded_amount + amount;
  r->created_at_ms = clock_now_ms();

  rc = post_refund(c, &p, r, &acc);
  if (rc == DB_CONSTRAINT) rc = DB_BUSY; /* the wallet changed under us: run again */
  /* the buckets as posted now, read after the entries in the same round trip as the next */
  if (rc >= 0) rc = buckets_prefetch(c, &p);
  int64_t changed = 0;
  db_val u[] = {db_text(p.id), db_int(amount), db_int(r->created_at_ms), db_int(p.refunded_amount)};
  if (rc >= 0) rc = db_run(c, &q_refunded, u, 4, &changed);
  if (rc >= 0 && changed != 1) rc = DB_BUSY; /* another refund came first: run again */
  /* LOYALTY HOOK (cards and points arrive later): reverse here, in this transaction, the
   * points the refunded share earned — round(points earned × refund / order), cumulative like
   * the shares above. The seed's refunds never reversed loyalty points (a known defect). */
  if (rc >= 0) rc = member_balances(c, &p, false, &r->wallet);
  if (rc >= 0) rc = record(c, a, r);
  return rc < 0 ? rc : SVC_OK;
}
