/* wallet_ops.c — grants, top-ups and top-up bonus rules (see wallet_ops.h). */
#include "service/wallet_ops.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/ids.h"
#include "service/audit.h"
#include "service/ledger.h"

static const db_sql q_voucher_insert = {
    "voucher_insert",
    "INSERT INTO vouchers (id, merchant_id, member_id, type, value, min_spend, expires_at_ms, status, "
    "created_at_ms, updated_at_ms) VALUES ($1, $2, $3, 'CASH_OFF', $4, $5, $6, 'ACTIVE', $7, $7)", NULL};
static const db_sql q_grant_insert = {
    "grant_insert",
    "INSERT INTO grants (id, merchant_id, member_id, type, amount, voucher_id, actor, reason, created_at_ms) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)", NULL};
static const db_sql q_topup_insert = {
    "topup_insert",
    "INSERT INTO topups (id, merchant_id, member_id, amount, bonus_amount, currency, method, status, "
    "expires_at_ms, created_at_ms, updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)", NULL};
static const db_sql q_topup_load = {
    "topup_load",
    "SELECT id, merchant_id, member_id, currency, method, status, COALESCE(external_txn_id, ''), amount, "
    "bonus_amount, expires_at_ms, created_at_ms FROM topups WHERE id = $1", NULL};
static const db_sql q_topup_status = {
    "topup_status",
    "UPDATE topups SET status = $2, external_txn_id = $3, updated_at_ms = $4 "
    "WHERE id = $1 AND status = 'PENDING_EXTERNAL'", NULL};
static const db_sql q_rules = {
    "topup_rules",
    "SELECT min_amount, bonus_amount FROM topup_bonus_rules WHERE merchant_id = $1 ORDER BY min_amount", NULL};
static const db_sql q_rules_clear = {"topup_rules_clear", "DELETE FROM topup_bonus_rules WHERE merchant_id = $1", NULL};
static const db_sql q_rule_insert = {
    "topup_rule_insert", "INSERT INTO topup_bonus_rules (merchant_id, min_amount, bonus_amount) VALUES ($1, $2, $3)", NULL};

/* Dr marketing, Cr the member's bucket: the merchant pays for what it gives away. */
static int credit_gift(db_conn *c, const struct money_ctx *m, enum ledger_kind bucket, int64_t amount,
                       const char *ref_type, const char *ref_id, const char *memo) {
  struct ledger_account acc, marketing;
  int rc = ledger_account(c, bucket, m->merchant_id, m->member_id, m->currency, &acc);
  if (rc >= 0) rc = ledger_account(c, ACC_MARKETING, m->merchant_id, m->merchant_id, m->currency, &marketing);
  /* the member's accounts before any merchant or platform row, as a payment does (D22):
   * otherwise this grant (marketing, then the bucket) and a payment by the same member using
   * a voucher (the buckets, then marketing) deadlock on PostgreSQL */
  if (rc >= 0) rc = ledger_lock_owner(c, m->member_id);
  if (rc < 0) return rc;
  struct ledger_line lines[] = {{&marketing, amount}, {&acc, -amount}};
  return ledger_post(c, m->merchant_id, "GRANT", ref_type, ref_id, memo, m->currency, lines, 2, NULL, 0);
}

/* Prefetch (db_prefetch) what credit_gift reads, in its order: the bucket, the merchant's
 * marketing account, the member's lock (D55). */
static int credit_gift_prefetch(db_conn *c, const char *merchant_id, const char *member_id,
                                const char *currency, enum ledger_kind bucket) {
  int rc = ledger_account_prefetch(c, bucket, member_id, currency);
  if (rc >= 0) rc = ledger_account_prefetch(c, ACC_MARKETING, merchant_id, currency);
  return rc < 0 ? rc : ledger_lock_owner_prefetch(c, member_id);
}

int grant_create(db_conn *c, const struct actor *a, const struct money_ctx *m,
                 const struct grant_input *in, struct grant_result *out, struct svc_error *err) {
  bool voucher = strcmp(in->type, "VOUCHER") == 0;
  if (!voucher && strcmp(in->type, "BONUS") != 0 && strcmp(in->type, "SILVER") != 0) {
    return svc_fail(err, MPS_E_VALIDATION_FAILED, json_pack("{s:s}", "field", "type"), "type must be BONUS, SILVER or VOUCHER");
  }
  int64_t now = clock_now_ms();
  if (voucher && in->expires_at_ms != 0 && in->expires_at_ms <= now) {
    return svc_fail(err, MPS_E_VALIDATION_FAILED, json_pack("{s:s}", "field", "expiresAt"), "expiresAt is in the past");
  }
  memset(out, 0, sizeof *out);
  if (id_new("gra", out->id, sizeof out->id) != 0) return DB_ERR;
  /* what the gift and the audit entry read, in one round trip on PostgreSQL (D55), in the
   * order credit_gift takes it */
  enum ledger_kind bucket = strcmp(in->type, "BONUS") == 0 ? ACC_BONUS : ACC_SILVER;
  int rc = voucher ? DB_OK : credit_gift_prefetch(c, m->merchant_id, m->member_id, m->currency, bucket);
  if (rc >= 0) rc = audit_prefetch_head(c, m->merchant_id, true);
  if (rc < 0) return rc;
  if (voucher) {
    if (id_new("vou", out->voucher_id, sizeof out->voucher_id) != 0) return DB_ERR;
    db_val v[] = {db_text(out->voucher_id), db_text(m->merchant_id), db_text(m->member_id), db_int(in->amount),
                  db_int(in->min_spend), db_int(in->expires_at_ms), db_int(now)};
    rc = db_run_later(c, &q_voucher_insert, v, 7, 1);
  } else {
    rc = credit_gift(c, m, bucket, in->amount, "grant", out->id, in->type);
  }
  db_val g[] = {db_text(out->id), db_text(m->merchant_id), db_text(m->member_id), db_text(in->type), db_int(in->amount),
                voucher ? db_text(out->voucher_id) : db_null(), db_text(actor_id(a)), db_text(in->reason ? in->reason : ""), db_int(now)};
  if (rc >= 0) rc = db_run_later(c, &q_grant_insert, g, 9, 1);
  json_t *d = json_pack("{s:s, s:s, s:I, s:s?}", "userId", m->member_id, "type", in->type, "amount", (json_int_t)in->amount,
                        "voucherId", voucher ? out->voucher_id : NULL);
  if (rc >= 0) rc = outbox_add(c, m->merchant_id, "grant.created", out->id, d);
  if (rc >= 0) rc = svc_audit_money(c, a, m->merchant_id, "GRANT", out->id, d);
  json_decref(d);
  return rc < 0 ? rc : SVC_OK;
}

int topup_rules_prefetch(db_conn *c, const char *merchant_id) {
  db_val k[] = {db_text(merchant_id)};
  return db_prefetch(c, &q_rules, k, 1);
}

int topup_rules_get(db_conn *c, const char *merchant_id, struct topup_rule *out, int *count) {
  *count = 0;
  db_val k[] = {db_text(merchant_id)};
  db_cursor *cur = NULL;
  int rc = db_query(c, &q_rules, k, 1, &cur);
  if (rc < 0) return rc;
  while ((rc = db_step(cur)) == DB_ROW && *count < TOPUP_RULES_MAX) {
    out[*count].min_amount = db_col_int(cur, 0);
    out[*count].bonus_amount = db_col_int(cur, 1);
    (*count)++;
  }
  db_reset(cur);
  return rc < 0 ? rc : DB_OK;
}

int topup_rules_set(db_conn *c, const struct actor *a, const char *merchant_id,
                    const struct topup_rule *rules, int count, struct svc_error *err) {
  assert(count >= 0 && count <= TOPUP_RULES_MAX);
  int rc = svc_scope(a, merchant_id, err);
  if (rc != SVC_OK) return rc;
  for (int i = 0; i < count; i++) {
    for (int j = 0; j < i; j++) {
      if (rules[j].min_amount == rules[i].min_amount) {
        return svc_fail(err, MPS_E_VALIDATION_FAILED, json_pack("{s:s}", "field", "rules"), "two rules have the same minAmount");
      }
    }
  }
  db_val k[] = {db_text(merchant_id)};
  rc = db_run(c, &q_rules_clear, k, 1, NULL);
  for (int i = 0; rc >= 0 && i < count; i++) {
    db_val v[] = {db_text(merchant_id), db_int(rules[i].min_amount), db_int(rules[i].bonus_amount)};
    rc = db_run(c, &q_rule_insert, v, 3, NULL);
  }
  json_t *d = json_pack("{s:i}", "rules", count);
  if (rc >= 0) rc = svc_audit(c, a, merchant_id, "TOPUP_RULES_SET", merchant_id, d);
  json_decref(d);
  return rc < 0 ? rc : SVC_OK;
}

static int64_t bonus_for(const struct topup_rule *rules, int count, int64_t amount) {
  int64_t bonus = 0;
  for (int i = 0; i < count; i++) {
    if (amount >= rules[i].min_amount) bonus = rules[i].bonus_amount; /* ordered: the largest fits last */
  }
  return bonus;
}

json_t *topup_json(const struct topup *t) {
  return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s?, s:I, s:I}", "topupId", t->id, "merchantId",
                   t->merchant_id, "userId", t->member_id, "currency", t->currency, "amount", (json_int_t)t->amount,
                   "bonusAmount", (json_int_t)t->bonus_amount, "method", t->method, "status", t->status,
                   "externalTxnId", t->external_txn_id[0] ? t->external_txn_id : NULL,
                   "expiresAtMs", (json_int_t)t->expires_at_ms, "createdAtMs", (json_int_t)t->created_at_ms);
}

/* What post_topup and the audit entry read, in one round trip on PostgreSQL (D55): the
 * accounts, the member's lock (again for the bonus's gift, which takes it itself) and the
 * chain head, in the order they are taken. */
static int topup_reads_prefetch(db_conn *c, const struct topup *t, bool cash) {
  int rc = DB_OK;
  if (cash) {
    rc = ledger_account_prefetch(c, ACC_PRINCIPAL, t->member_id, t->currency);
    if (rc >= 0) rc = ledger_account_prefetch(c, ACC_CASH, NULL, t->currency);
    if (rc >= 0) rc = ledger_lock_owner_prefetch(c, t->member_id);
    if (rc >= 0 && t->bonus_amount > 0) rc = credit_gift_prefetch(c, t->merchant_id, t->member_id, t->currency, ACC_BONUS);
  }
  return rc < 0 ? rc : audit_prefetch_head(c, t->merchant_id, true);
}

/* Dr cash (till) or gateway clearing, Cr principal; then the bonus rule's gift. */
static int post_topup(db_conn *c, const struct topup *t) {
  struct money_ctx m = {0};
  snprintf(m.merchant_id, sizeof m.merchant_id, "%s", t->merchant_id);
  snprintf(m.member_id, sizeof m.member_id, "%s", t->member_id);
  snprintf(m.currency, sizeof m.currency, "%s", t->currency);
  struct ledger_account principal, source;
  bool cash = strcmp(t->method, "CASH") == 0;
  int rc = ledger_account(c, ACC_PRINCIPAL, t->merchant_id, t->member_id, t->currency, &principal);
  if (rc >= 0) rc = ledger_account(c, cash ? ACC_CASH : ACC_GATEWAY_CLEARING, t->merchant_id, NULL, t->currency, &source);
  if (rc >= 0) rc = ledger_lock_owner(c, t->member_id); /* the member first (see credit_gift) */
  if (rc < 0) return rc;
  struct ledger_line lines[] = {{&source, t->amount}, {&principal, -t->amount}};
  rc = ledger_post(c, t->merchant_id, "TOPUP", "topup", t->id, t->method, t->currency, lines, 2, NULL, 0);
  if (rc >= 0 && t->bonus_amount > 0) rc = credit_gift(c, &m, ACC_BONUS, t->bonus_amount, "topup", t->id, "top-up bonus");
  return rc;
}

int topup_create(db_conn *c, const struct actor *a, const struct money_ctx *m, int64_t amount,
                 const char *method, int64_t pending_ttl_s, struct topup *out, struct svc_error *err) {
  bool cash = strcmp(method, "CASH") == 0;
  if (!cash && strcmp(method, "EXTERNAL") != 0) {
    return svc_fail(err, MPS_E_VALIDATION_FAILED, json_pack("{s:s}", "field", "method"), "method must be CASH or EXTERNAL");
  }
  if (cash && a->p && a->p->kind == PRINCIPAL_MEMBER) {
    return svc_fail(err, MPS_E_FORBIDDEN, json_pack("{s:s}", "method", method), "cash is taken by staff at the till");
  }
  struct topup_rule rules[TOPUP_RULES_MAX];
  int n = 0;
  int rc = topup_rules_get(c, m->merchant_id, rules, &n);
  if (rc < 0) return rc;
  struct topup *t = out;
  memset(t, 0, sizeof *t);
  if (id_new("top", t->id, sizeof t->id) != 0) return DB_ERR;
  snprintf(t->merchant_id, sizeof t->merchant_id, "%s", m->merchant_id);
  snprintf(t->member_id, sizeof t->member_id, "%s", m->member_id);
  snprintf(t->currency, sizeof t->currency, "%s", m->currency);
  snprintf(t->method, sizeof t->method, "%s", method);
  snprintf(t->status, sizeof t->status, "%s", cash ? "SUCCEEDED" : "PENDING_EXTERNAL");
  t->amount = amount;
  t->bonus_amount = bonus_for(rules, n, amount);
  t->created_at_ms = clock_now_ms();
  t->expires_at_ms = cash ? 0 : t->created_at_ms + pending_ttl_s * 1000;
  rc = topup_reads_prefetch(c, t, cash);
  db_val v[] = {db_text(t->id), db_text(t->merchant_id), db_text(t->member_id), db_int(amount), db_int(t->bonus_amount),
                db_text(t->currency), db_text(method), db_text(t->status), db_int(t->expires_at_ms), db_int(t->created_at_ms)};
  if (rc >= 0) rc = db_run_later(c, &q_topup_insert, v, 10, 1);
  if (rc >= 0 && cash) rc = post_topup(c, t);
  json_t *d = topup_json(t);
  if (rc >= 0) rc = outbox_add(c, t->merchant_id, cash ? "topup.succeeded" : "topup.pending", t->id, d);
  if (rc >= 0) rc = svc_audit_money(c, a, t->merchant_id, "TOPUP", t->id, d);
  json_decref(d);
  return rc < 0 ? rc : SVC_OK;
}

int topup_load(db_conn *c, const char *id, struct topup *t) {
  db_val k[] = {db_text(id)};
  db_cursor *cur = NULL;
  int rc = db_query(c, &q_topup_load, k, 1, &cur);
  if (rc < 0) return rc;
  rc = db_step(cur);
  if (rc == DB_ROW) {
    memset(t, 0, sizeof *t);
    db_col_copy(cur, 0, t->id, sizeof t->id);
    db_col_copy(cur, 1, t->merchant_id, sizeof t->merchant_id);
    db_col_copy(cur, 2, t->member_id, sizeof t->member_id);
    db_col_copy(cur, 3, t->currency, sizeof t->currency);
    db_col_copy(cur, 4, t->method, sizeof t->method);
    db_col_copy(cur, 5, t->status, sizeof t->status);
    db_col_copy(cur, 6, t->external_txn_id, sizeof t->external_txn_id);
    t->amount = db_col_int(cur, 7);
    t->bonus_amount = db_col_int(cur, 8);
    t->expires_at_ms = db_col_int(cur, 9);
    t->created_at_ms = db_col_int(cur, 10);
  }
  db_reset(cur);
  return rc;
}

static int topup_finish(db_conn *c, const struct actor *a, struct topup *t, const char *status,
                        const char *external_txn_id, struct svc_error *err) {
  if (strcmp(t->status, "PENDING_EXTERNAL") != 0) {
    return svc_fail(err, MPS_E_CONFLICT, json_pack("{s:s}", "status", t->status), "the top-up is %s, not pending", t->status);
  }
  int64_t changed = 0;
  db_val v[] = {db_text(t->id), db_text(status), db_text(external_txn_id), db_int(clock_now_ms())};
  int rc = db_run(c, &q_topup_status, v, 4, &changed);
  if (rc >= 0 && changed != 1) rc = DB_BUSY;
  snprintf(t->status, sizeof t->status, "%s", status);
  if (external_txn_id) snprintf(t->external_txn_id, sizeof t->external_txn_id, "%s", external_txn_id);
  bool ok = strcmp(status, "SUCCEEDED") == 0;
  if (rc >= 0 && ok) rc = post_topup(c, t);
  json_t *d = topup_json(t);
  if (rc >= 0) rc = outbox_add(c, t->merchant_id, ok ? "topup.succeeded" : "topup.failed", t->id, d);
  if (rc >= 0) rc = svc_audit_money(c, a, t->merchant_id, ok ? "TOPUP_SETTLE" : "TOPUP_FAIL", t->id, d);
  json_decref(d);
  return rc < 0 ? rc : SVC_OK;
}

int topup_settle(db_conn *c, const struct actor *a, struct topup *t, const char *external_txn_id,
                 struct svc_error *err) {
  return topup_finish(c, a, t, "SUCCEEDED", external_txn_id, err);
}

int topup_fail(db_conn *c, const struct actor *a, struct topup *t, const char *status,
               struct svc_error *err) {
  assert(strcmp(status, "FAILED") == 0 || strcmp(status, "EXPIRED") == 0);
  return topup_finish(c, a, t, status, NULL, err);
}
