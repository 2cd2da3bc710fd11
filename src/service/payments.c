/* payments.c — quote, pay, settle and release (see payments.h). */
#include "service/payments.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/ids.h"
#include "common/json_text.h"
#include "service/audit.h"
#include "service/ledger.h"

static const db_sql q_insert = {
    "payment_insert",
    "INSERT INTO payments (id, merchant_id, member_id, store_id, currency, order_amount, status, "
    "voucher_id, deduct_voucher, deduct_bonus, deduct_principal, deduct_silver, deduct_external, "
    "fee_bps, fee_amount, expires_at_ms, created_at_ms, updated_at_ms) VALUES ($1, $2, $3, $4, $5, "
    "$6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17)", NULL};
static const db_sql q_load = {"payment_load", "SELECT " PAYMENT_COLS " FROM payments WHERE id = $1", NULL};
static const db_sql q_status = {
    "payment_status",
    "UPDATE payments SET status = $2, fee_amount = $3, external_txn_id = $4, updated_at_ms = $5 "
    "WHERE id = $1 AND status = 'PENDING_EXTERNAL'", NULL};
static const db_sql q_voucher_set = {
    "voucher_set_status",
    "UPDATE vouchers SET status = $2, payment_id = $3, updated_at_ms = $4 WHERE id = $1 AND status = $5", NULL};
static const db_sql q_event_seq = {
    "payment_event_seq", "SELECT COALESCE(MAX(seq), 0) FROM payment_events WHERE payment_id = $1", NULL};
static const db_sql q_event = {
    "payment_event_insert",
    "INSERT INTO payment_events (payment_id, seq, type, at_ms, details) VALUES ($1, $2, $3, $4, $5)", NULL};
/* a new payment's history: created, then what it became, in one statement */
static const db_sql q_event_first = {
    "payment_event_first",
    "INSERT INTO payment_events (payment_id, seq, type, at_ms, details) "
    "VALUES ($1, 1, 'created', $2, '{}'), ($1, 2, $3, $2, $4)", NULL};
static const db_sql q_outbox = {
    "outbox_insert",
    "INSERT INTO outbox_events (id, merchant_id, topic, aggregate_id, payload, created_at_ms) "
    "VALUES ($1, $2, $3, $4, $5, $6)", NULL};

int outbox_add_text(db_conn *c, const char *merchant_id, const char *topic, const char *aggregate_id,
                    const char *payload) {
  char id[ID_MAX_LEN];
  if (!payload || id_new("evt", id, sizeof id) != 0) return DB_ERR;
  db_val v[] = {db_text(id), db_text(merchant_id), db_text(topic), db_text(aggregate_id), db_text(payload), db_int(clock_now_ms())};
  return db_run_later(c, &q_outbox, v, 6, 1);
}

int outbox_add(db_conn *c, const char *merchant_id, const char *topic, const char *aggregate_id,
               json_t *payload) {
  char *text = json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS);
  int rc = outbox_add_text(c, merchant_id, topic, aggregate_id, text);
  free(text);
  return rc;
}

/* What payment_event_text reads first: the payment's last event. */
int payment_event_prefetch(db_conn *c, const char *payment_id) {
  db_val k[] = {db_text(payment_id)};
  return db_prefetch(c, &q_event_seq, k, 1);
}

/* Appends after the payment's last event; details_text is compact JSON. */
static int payment_event_text(db_conn *c, const char *payment_id, const char *type, const char *details_text) {
  int64_t seq = 0;
  db_val k[] = {db_text(payment_id)};
  int rc = db_query_int(c, &q_event_seq, k, 1, &seq);
  if (rc < 0) return rc;
  db_val v[] = {db_text(payment_id), db_int(seq + 1), db_text(type), db_int(clock_now_ms()), db_text(details_text)};
  rc = db_run_later(c, &q_event, v, 5, 1);
  return rc < 0 ? rc : DB_OK;
}

int payment_event(db_conn *c, const char *payment_id, const char *type, json_t *details) {
  char *text = details ? json_dumps(details, JSON_COMPACT | JSON_SORT_KEYS) : strdup("{}"); /* no leaked {} */
  if (!text) return DB_ERR;
  int rc = payment_event_text(c, payment_id, type, text);
  free(text);
  return rc;
}

void payment_read_row(db_cursor *cur, struct payment *p) {
  memset(p, 0, sizeof *p);
  db_col_copy(cur, 0, p->id, sizeof p->id);
  db_col_copy(cur, 1, p->merchant_id, sizeof p->merchant_id);
  db_col_copy(cur, 2, p->member_id, sizeof p->member_id);
  db_col_copy(cur, 3, p->currency, sizeof p->currency);
  db_col_copy(cur, 4, p->status, sizeof p->status);
  db_col_copy(cur, 5, p->voucher_id, sizeof p->voucher_id);
  db_col_copy(cur, 6, p->external_txn_id, sizeof p->external_txn_id);
  p->order_amount = db_col_int(cur, 7);
  p->fee_amount = db_col_int(cur, 8);
  p->refunded_amount = db_col_int(cur, 9);
  p->expires_at_ms = db_col_int(cur, 10);
  p->created_at_ms = db_col_int(cur, 11);
  p->updated_at_ms = db_col_int(cur, 12);
  p->fee_bps = (int)db_col_int(cur, 13);
  p->d = (struct deduction){db_col_int(cur, 14), db_col_int(cur, 15), db_col_int(cur, 16),
                            db_col_int(cur, 17), db_col_int(cur, 18)};
}

int payment_load_prefetch(db_conn *c, const char *id) {
  db_val k[] = {db_text(id)};
  return db_prefetch(c, &q_load, k, 1);
}

int payment_load(db_conn *c, const char *id, struct payment *p) {
  db_val k[] = {db_text(id)};
  db_cursor *cur = NULL;
  int rc = db_query(c, &q_load, k, 1, &cur);
  if (rc < 0) return rc;
  rc = db_step(cur);
  if (rc == DB_ROW) payment_read_row(cur, p);
  db_reset(cur);
  return rc;
}

json_t *payment_json(const struct payment *p) {
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:{s:I, s:I, s:I, s:I, s:I}, s:I, s:s?, s:I, s:I, s:s?, s:I, s:I}",
                   "paymentTxnId", p->id, "merchantId", p->merchant_id, "userId", p->member_id,
                   "currency", p->currency, "status", p->status, "orderAmount", (json_int_t)p->order_amount,
                   "deduction", "voucher", (json_int_t)p->d.voucher, "bonus", (json_int_t)p->d.bonus,
                   "principal", (json_int_t)p->d.principal, "silver", (json_int_t)p->d.silver,
                   "external", (json_int_t)p->d.external, "payable", (json_int_t)p->d.external,
                   "voucherId", p->voucher_id[0] ? p->voucher_id : NULL,
                   "feeAmount", (json_int_t)p->fee_amount, "refundedAmount", (json_int_t)p->refunded_amount,
                   "externalTxnId", p->external_txn_id[0] ? p->external_txn_id : NULL,
                   "expiresAtMs", (json_int_t)p->expires_at_ms, "createdAtMs", (json_int_t)p->created_at_ms);
}

void payment_json_members(struct json_text *t, const struct payment *p) {
  json_text_str(t, "paymentTxnId", p->id);
  json_text_str(t, "merchantId", p->merchant_id);
  json_text_str(t, "userId", p->member_id);
  json_text_str(t, "currency", p->currency);
  json_text_str(t, "status", p->status);
  json_text_int(t, "orderAmount", p->order_amount);
  json_text_open(t, "deduction");
  json_text_int(t, "voucher", p->d.voucher);
  json_text_int(t, "bonus", p->d.bonus);
  json_text_int(t, "principal", p->d.principal);
  json_text_int(t, "silver", p->d.silver);
  json_text_int(t, "external", p->d.external);
  json_text_close(t);
  json_text_int(t, "payable", p->d.external);
  json_text_str(t, "voucherId", p->voucher_id[0] ? p->voucher_id : NULL);
  json_text_int(t, "feeAmount", p->fee_amount);
  json_text_int(t, "refundedAmount", p->refunded_amount);
  json_text_str(t, "externalTxnId", p->external_txn_id[0] ? p->external_txn_id : NULL);
  json_text_int(t, "expiresAtMs", p->expires_at_ms);
  json_text_int(t, "createdAtMs", p->created_at_ms);
}

static void quote_wallet(const struct wallet_view *wallet, int64_t order_amount, int64_t now_ms,
                         struct quote *out) {
  struct voucher_offer offers[WALLET_MAX_VOUCHERS];
  for (int i = 0; i < wallet->voucher_count; i++) {
    const struct wallet_voucher *v = &wallet->vouchers[i];
    offers[i] = (struct voucher_offer){.value = v->value, .min_spend = v->min_spend,
                                       .expires_at_ms = v->expires_at_ms,
                                       .active = strcmp(v->status, "ACTIVE") == 0};
  }
  money_quote(order_amount, &wallet->available, offers, (size_t)wallet->voucher_count, now_ms, out);
}

int payment_quote(db_conn *c, const struct money_ctx *m, int64_t order_amount, int64_t now_ms,
                  struct wallet_view *wallet, struct quote *out) {
  int rc = wallet_load(c, m, now_ms, wallet);
  if (rc < 0) return rc;
  quote_wallet(wallet, order_amount, now_ms, out);
  return DB_OK;
}

/* The member's three buckets and the merchant's accounts a payment touches. Only the
 * member's balances are read (the quote); the others' `balance` may leave out their lane
 * parts on PostgreSQL (q_pay_accounts_pg). */
struct pay_accounts {
  struct ledger_account principal, bonus, silver, payable, marketing, fee_income, clearing;
};

static const db_sql q_pay_accounts = {
    "pay_accounts",
    /* SQLite (on PostgreSQL q_pay_accounts_pg): one search of the unique (owner_kind, owner_id,
     * kind, currency) index per owner; an OR of the three, or an IN list of kinds, builds a
     * temporary b-tree on every run */
    "SELECT id, owner_kind, kind, normal, balance, held, has_floor FROM ledger_accounts "
    "WHERE owner_kind = 'member' AND owner_id = $1 AND currency = $3 "
    "UNION ALL SELECT id, owner_kind, kind, normal, balance, held, has_floor FROM ledger_accounts "
    "WHERE owner_kind = 'merchant' AND owner_id = $2 AND currency = $3 "
    "UNION ALL SELECT id, owner_kind, kind, normal, balance, held, has_floor FROM ledger_accounts "
    "WHERE owner_kind = 'platform' AND owner_id = 'platform' AND currency = $3",
    NULL};

/* PostgreSQL: the same accounts, the member's locked first (D22), as ledger_lock_owner does,
 * in the same statement: a row locked FOR UPDATE is returned as the lock holder before us left
 * it (read committed), which a later statement would also see. The merchant's and the
 * platform's accounts are read, not locked: their lines never refuse (no floor), and their
 * balance here is the row's part only (no lanes summed, struct pay_accounts). The member's
 * buckets have a floor and so no lane parts. The currency is the merchant's, read here, so
 * that the query can go in the first round trip with the key's claim, before the merchant is
 * loaded (payment_create_prefetch, D55); a merchant's currency never changes. Only the named
 * member's rows at the named merchant are locked: a request naming someone else's member is
 * refused later without having held that member's accounts. */
static const db_sql q_pay_accounts_pg = {
    "pay_accounts_pg", /* PostgreSQL only (FOR UPDATE): pay_accounts_query never gives it to SQLite */
    "WITH m AS (SELECT id, owner_kind, kind, normal, balance, held, has_floor, currency "
    "FROM ledger_accounts WHERE owner_id = $1 AND owner_kind = 'member' AND merchant_id = $2 "
    "ORDER BY id FOR UPDATE), "
    "cur AS (SELECT currency FROM merchants WHERE id = $2) "
    "SELECT id, owner_kind, kind, normal, balance, held, has_floor "
    "FROM m WHERE currency = (SELECT currency FROM cur) "
    "UNION ALL SELECT id, owner_kind, kind, normal, balance, held, has_floor FROM ledger_accounts "
    "WHERE owner_kind = 'merchant' AND owner_id = $2 AND currency = (SELECT currency FROM cur) "
    "UNION ALL SELECT id, owner_kind, kind, normal, balance, held, has_floor FROM ledger_accounts "
    "WHERE owner_kind = 'platform' AND owner_id = 'platform' AND currency = (SELECT currency FROM cur)",
    NULL};

/* The accounts query for this connection and its arguments in k[3]; returns their count.
 * currency: the merchant's (PostgreSQL reads it in the query: may be NULL there). */
static int pay_accounts_query(db_conn *c, const char *merchant_id, const char *member_id,
                              const char *currency, db_val k[3], const db_sql **q) {
  k[0] = db_text(member_id);
  k[1] = db_text(merchant_id);
  if (db_conn_kind(c) == DB_POSTGRES) {
    *q = &q_pay_accounts_pg;
    return 2;
  }
  assert(currency != NULL);
  k[2] = db_text(currency);
  *q = &q_pay_accounts;
  return 3;
}

/* Where a row of q_pay_accounts belongs in struct pay_accounts, or NULL. */
static struct ledger_account *slot_of(struct pay_accounts *a, const char *owner, const char *kind) {
  static const struct { const char *owner, *kind; size_t off; } map[] = {
      {"member", "principal", offsetof(struct pay_accounts, principal)},
      {"member", "bonus", offsetof(struct pay_accounts, bonus)},
      {"member", "silver", offsetof(struct pay_accounts, silver)},
      {"merchant", "payable", offsetof(struct pay_accounts, payable)},
      {"merchant", "marketing", offsetof(struct pay_accounts, marketing)},
      {"platform", "fee_income", offsetof(struct pay_accounts, fee_income)},
      {"platform", "gateway_clearing", offsetof(struct pay_accounts, clearing)},
  };
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
    if (strcmp(map[i].owner, owner) == 0 && strcmp(map[i].kind, kind) == 0) {
      return (struct ledger_account *)((char *)a + map[i].off);
    }
  }
  return NULL;
}

static int pay_accounts_prefetch(db_conn *c, const char *merchant_id, const char *member_id,
                                 const char *currency) {
  db_val k[3];
  const db_sql *q = NULL;
  int n = pay_accounts_query(c, merchant_id, member_id, currency, k, &q);
  return db_prefetch(c, q, k, n);
}

/* All seven accounts in one query (the hot path: they exist after a member's first top-up),
 * the member's locked on PostgreSQL; any that do not exist yet are created one by one. */
static int pay_accounts_load(db_conn *c, const char *merchant_id, const char *member_id,
                             const char *currency, struct pay_accounts *a) {
  memset(a, 0, sizeof *a);
  db_val k[3];
  const db_sql *q = NULL;
  int n = pay_accounts_query(c, merchant_id, member_id, currency, k, &q);
  db_cursor *cur = NULL;
  int rc = db_query(c, q, k, n, &cur);
  if (rc < 0) return rc;
  for (int i = 0; i < 16 && (rc = db_step(cur)) == DB_ROW; i++) {
    struct ledger_account *acc = slot_of(a, db_col_text(cur, 1), db_col_text(cur, 2));
    if (!acc) continue;
    db_col_copy(cur, 0, acc->id, sizeof acc->id);
    acc->normal = (int)db_col_int(cur, 3);
    acc->balance = db_col_int(cur, 4);
    acc->held = db_col_int(cur, 5);
    acc->has_floor = (int)db_col_int(cur, 6);
  }
  db_reset(cur);
  if (rc < 0) return rc;
  static const struct { enum ledger_kind kind; size_t off; bool member; } need[] = {
      {ACC_PRINCIPAL, offsetof(struct pay_accounts, principal), true},
      {ACC_BONUS, offsetof(struct pay_accounts, bonus), true},
      {ACC_SILVER, offsetof(struct pay_accounts, silver), true},
      {ACC_PAYABLE, offsetof(struct pay_accounts, payable), false},
      {ACC_MARKETING, offsetof(struct pay_accounts, marketing), false},
      {ACC_FEE_INCOME, offsetof(struct pay_accounts, fee_income), false},
      {ACC_GATEWAY_CLEARING, offsetof(struct pay_accounts, clearing), false},
  };
  for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
    struct ledger_account *acc = (struct ledger_account *)((char *)a + need[i].off);
    if (acc->id[0]) continue;
    rc = ledger_account(c, need[i].kind, merchant_id, need[i].member ? member_id : merchant_id, currency, acc);
    if (rc < 0) return rc;
  }
  return DB_OK;
}

/* The quote from balances read in this transaction (after the member's lock, D22). */
static int quote_from_accounts(db_conn *c, const struct money_ctx *m, const struct pay_accounts *a,
                               int64_t order_amount, int64_t now_ms, struct wallet_view *w,
                               struct quote *q) {
  WALLET_VIEW_CLEAR(w);
  w->balance = (struct wallet_balances){a->principal.balance, a->bonus.balance, a->silver.balance};
  w->held = (struct wallet_balances){a->principal.held, a->bonus.held, a->silver.held};
  w->available = (struct wallet_balances){a->principal.balance - a->principal.held,
                                          a->bonus.balance - a->bonus.held,
                                          a->silver.balance - a->silver.held};
  int rc = wallet_vouchers_load(c, m, now_ms, w);
  if (rc < 0) return rc;
  quote_wallet(w, order_amount, now_ms, q);
  return DB_OK;
}

/* The PAYMENT entry (what the member gave, from which buckets) and the FEE entry. */
static int post_payment(db_conn *c, const struct payment *p, const struct pay_accounts *a, int64_t fee) {
  const struct deduction *d = &p->d;
  /* Row locks are taken in line order. After the member's accounts (locked first, D22) the
   * merchant's payable comes before its marketing, as in a refund (payable, then the
   * clawback's marketing): in the other order a voucher payment and a refund at the same
   * merchant deadlock on PostgreSQL. */
  struct ledger_line lines[] = {
      {&a->bonus, d->bonus},         {&a->principal, d->principal}, {&a->silver, d->silver},
      {&a->payable, -p->order_amount}, {&a->marketing, d->voucher}, {&a->clearing, d->external},
  };
  int rc = ledger_post(c, p->merchant_id, "PAYMENT", "payment", p->id, "payment", p->currency, lines, 6, NULL, 0);
  if (rc < 0 || fee == 0) return rc;
  struct ledger_line fee_lines[] = {{&a->payable, fee}, {&a->fee_income, -fee}};
  return ledger_post(c, p->merchant_id, "FEE", "payment", p->id, "platform fee", p->currency, fee_lines, 2, NULL, 0);
}

/* The change a history event and the audit entry record, as compact JSON with sorted keys
 * (what json_dumps(JSON_COMPACT | JSON_SORT_KEYS) writes); with_user adds the member. */
static char *change_text(const struct payment *p, bool with_user) {
  struct json_text t;
  json_text_init(&t);
  json_text_open(&t, NULL);
  json_text_int(&t, "external", p->d.external);
  json_text_int(&t, "orderAmount", p->order_amount);
  json_text_str(&t, "status", p->status);
  if (with_user) json_text_str(&t, "userId", p->member_id);
  json_text_close(&t);
  return json_text_finish(&t, NULL);
}

static int audit_payment(db_conn *c, const struct actor *a, const struct payment *p, const char *action) {
  char *d = change_text(p, true);
  int rc = d ? svc_audit_money_text(c, a, p->merchant_id, action, p->id, d) : DB_ERR;
  free(d);
  return rc;
}

/* The history of a change: a new payment's first two events (created, then event), or event
 * appended after the last one. */
static int record_event(db_conn *c, const struct payment *p, bool created, const char *event) {
  char *change = change_text(p, false);
  if (!change) return DB_ERR;
  int rc;
  if (created) {
    db_val v[] = {db_text(p->id), db_int(clock_now_ms()), db_text(event), db_text(change)};
    rc = db_run_later(c, &q_event_first, v, 4, 2);
  } else {
    rc = payment_event_text(c, p->id, event, change);
  }
  free(change);
  return rc < 0 ? rc : DB_OK;
}

/* created: a new payment (its history starts here). */
static int record_state(db_conn *c, const struct actor *a, const struct payment *p, bool created,
                        const char *event, const char *topic, const char *audit_action) {
  /* the history row records the change; the outbox carries the whole payment to consumers */
  int rc = record_event(c, p, created, event);
  struct json_text t;
  json_text_init(&t);
  json_text_open(&t, NULL);
  payment_json_members(&t, p);
  json_text_close(&t);
  char *payload = json_text_finish(&t, NULL);
  if (rc >= 0) rc = outbox_add_text(c, p->merchant_id, topic, p->id, payload);
  free(payload);
  if (rc >= 0) rc = audit_payment(c, a, p, audit_action);
  return rc < 0 ? rc : DB_OK;
}

static int hold_wallet(db_conn *c, const struct payment *p, const struct pay_accounts *a) {
  int rc = ledger_hold(c, a->bonus.id, p->d.bonus, "payment", p->id);
  if (rc >= 0) rc = ledger_hold(c, a->principal.id, p->d.principal, "payment", p->id);
  if (rc >= 0) rc = ledger_hold(c, a->silver.id, p->d.silver, "payment", p->id);
  return rc;
}

static int insert_payment(db_conn *c, const struct payment *p, const char *store_id) {
  db_val v[] = {db_text(p->id), db_text(p->merchant_id), db_text(p->member_id), db_text(store_id),
                db_text(p->currency), db_int(p->order_amount), db_text(p->status),
                p->voucher_id[0] ? db_text(p->voucher_id) : db_null(), db_int(p->d.voucher), db_int(p->d.bonus),
                db_int(p->d.principal), db_int(p->d.silver), db_int(p->d.external), db_int(p->fee_bps),
                db_int(p->fee_amount), db_int(p->expires_at_ms), db_int(p->created_at_ms)};
  return db_run_later(c, &q_insert, v, 17, 1);
}

static const db_sql q_store_ok = {"payment_store_ok",
    "SELECT 1 FROM stores WHERE id = $1 AND merchant_id = $2 AND status = 'ACTIVE'", NULL};

int payment_create_prefetch(db_conn *c, const struct actor *a, const char *merchant_id,
                            const char *member_id, const char *store_id, int64_t now_ms) {
  if (db_conn_kind(c) != DB_POSTGRES) return DB_OK; /* SQLite: a query costs no round trip */
  /* Nothing is locked for a request its token alone refuses (another merchant's data, a
   * member paying for someone else): money_ctx_load answers it without these reads. */
  struct svc_error err = {0};
  int allowed = money_ctx_allowed(a, merchant_id, member_id, &err);
  svc_error_clear(&err);
  if (allowed != SVC_OK) return DB_OK;
  int rc = DB_OK;
  if (store_id) {
    db_val k[] = {db_text(store_id), db_text(merchant_id)};
    rc = db_prefetch(c, &q_store_ok, k, 2);
  }
  if (rc >= 0) rc = pay_accounts_prefetch(c, merchant_id, member_id, NULL);
  if (rc >= 0) rc = wallet_vouchers_prefetch(c, merchant_id, member_id, now_ms);
  if (rc >= 0) rc = audit_prefetch_head(c, merchant_id, true);
  return rc;
}

int payment_create(db_conn *c, const struct actor *a, const struct money_ctx *m,
                   int64_t order_amount, const char *store_id, int64_t pending_ttl_s, int64_t now_ms,
                   struct payment *out, struct svc_error *err) {
  assert(order_amount > 0 && order_amount <= MONEY_MAX_MINOR);
  if (store_id) { /* a till of this merchant, open for business */
    int64_t one = 0;
    db_val k[] = {db_text(store_id), db_text(m->merchant_id)};
    int src = db_query_int(c, &q_store_ok, k, 2, &one);
    if (src < 0) return src;
    if (src == DB_DONE) {
      return svc_fail(err, MPS_E_UNPROCESSABLE, json_pack("{s:s}", "field", "storeId"),
                      "storeId '%s' is not an active store of this merchant", store_id);
    }
  }
  /* What the payment reads (the accounts, the vouchers, the audit chain head) was prefetched
   * by payment_create_prefetch; nothing written since changes it. The quote must see the
   * balances as they are inside this transaction. On SQLite the single writer already
   * serialises; on PostgreSQL the member's accounts are locked first (D22) by the query that
   * reads them: under READ COMMITTED it returns them as the previous lock holder committed
   * them. (A member's very first payment may create accounts after the lock; their balance is
   * zero, and the CHECK floor plus a re-quote on DB_CONSTRAINT or DB_BUSY stays the last
   * word.) */
  struct pay_accounts acc;
  int rc = pay_accounts_load(c, m->merchant_id, m->member_id, m->currency, &acc);
  struct wallet_view w;
  struct quote q;
  if (rc >= 0) rc = quote_from_accounts(c, m, &acc, order_amount, now_ms, &w, &q);
  if (rc < 0) return rc;
  struct payment *p = out;
  memset(p, 0, sizeof *p);
  if (id_new("pay", p->id, sizeof p->id) != 0) return DB_ERR;
  snprintf(p->merchant_id, sizeof p->merchant_id, "%s", m->merchant_id);
  snprintf(p->member_id, sizeof p->member_id, "%s", m->member_id);
  snprintf(p->currency, sizeof p->currency, "%s", m->currency);
  if (q.selected_voucher >= 0) snprintf(p->voucher_id, sizeof p->voucher_id, "%s", w.vouchers[q.selected_voucher].id);
  p->order_amount = order_amount;
  p->d = q.deduction;
  p->fee_bps = m->fee_bps;
  p->created_at_ms = p->updated_at_ms = now_ms;
  bool paid = q.deduction.external == 0;
  snprintf(p->status, sizeof p->status, "%s", paid ? "PAID" : "PENDING_EXTERNAL");
  p->fee_amount = paid ? money_bps(order_amount, m->fee_bps) : 0;
  p->expires_at_ms = paid ? 0 : now_ms + pending_ttl_s * 1000;
  rc = insert_payment(c, p, store_id);
  if (rc >= 0 && p->voucher_id[0]) {
    db_val v[] = {db_text(p->voucher_id), db_text(paid ? "USED" : "HELD"), db_text(p->id), db_int(now_ms), db_text("ACTIVE")};
    rc = db_run_later_taken(c, &q_voucher_set, v, 5, 1); /* taken meanwhile: the job runs again */
  }
  if (rc >= 0) rc = paid ? post_payment(c, p, &acc, p->fee_amount) : hold_wallet(c, p, &acc);
  if (rc >= 0) rc = record_state(c, a, p, true, paid ? "paid" : "held", paid ? "payment.paid" : "payment.pending", "PAYMENT");
  return rc < 0 ? rc : SVC_OK;
}

int payment_resolve_prefetch(db_conn *c, const struct payment *p, bool settle) {
  int rc = settle ? pay_accounts_prefetch(c, p->merchant_id, p->member_id, p->currency) : DB_OK;
  if (rc >= 0) rc = ledger_end_holds_prefetch(c, "payment", p->id);
  if (rc >= 0) rc = payment_event_prefetch(c, p->id);
  if (rc >= 0) rc = audit_prefetch_head(c, p->merchant_id, true);
  return rc < 0 ? rc : DB_OK;
}

int payment_settle_external(db_conn *c, const struct actor *a, struct payment *p,
                            const char *external_txn_id, struct svc_error *err) {
  if (strcmp(p->status, "PENDING_EXTERNAL") != 0) {
    return svc_fail(err, MPS_E_CONFLICT, json_pack("{s:s}", "status", p->status), "the payment is %s, not pending", p->status);
  }
  struct pay_accounts acc;
  int rc = pay_accounts_load(c, p->merchant_id, p->member_id, p->currency, &acc);
  /* end the holds before posting: available (balance - held) never dips below zero */
  if (rc >= 0) rc = ledger_end_holds(c, "payment", p->id, "POSTED", NULL);
  int64_t fee = money_bps(p->order_amount, p->fee_bps);
  if (rc >= 0) rc = post_payment(c, p, &acc, fee);
  int64_t now = clock_now_ms();
  if (rc >= 0 && p->voucher_id[0]) {
    db_val v[] = {db_text(p->voucher_id), db_text("USED"), db_text(p->id), db_int(now), db_text("HELD")};
    rc = db_run_later(c, &q_voucher_set, v, 5, 1); /* held by this payment, which is locked */
  }
  db_val s[] = {db_text(p->id), db_text("PAID"), db_int(fee), db_text(external_txn_id), db_int(now)};
  /* held back: the caller locked the payment and saw it pending, so it changes its one row */
  if (rc >= 0) rc = db_run_later(c, &q_status, s, 5, 1);
  if (rc < 0) return rc;
  snprintf(p->status, sizeof p->status, "PAID");
  snprintf(p->external_txn_id, sizeof p->external_txn_id, "%s", external_txn_id);
  p->fee_amount = fee;
  p->updated_at_ms = now;
  rc = record_state(c, a, p, false, "paid", "payment.paid", "PAYMENT_SETTLE");
  return rc < 0 ? rc : SVC_OK;
}

int payment_release(db_conn *c, const struct actor *a, struct payment *p, const char *status,
                    const char *reason, struct svc_error *err) {
  assert(strcmp(status, "FAILED") == 0 || strcmp(status, "EXPIRED") == 0);
  if (strcmp(p->status, "PENDING_EXTERNAL") != 0) {
    return svc_fail(err, MPS_E_CONFLICT, json_pack("{s:s}", "status", p->status), "the payment is %s, not pending", p->status);
  }
  int rc = ledger_end_holds(c, "payment", p->id, "RELEASED", NULL);
  int64_t now = clock_now_ms();
  if (rc >= 0 && p->voucher_id[0]) {
    db_val v[] = {db_text(p->voucher_id), db_text("ACTIVE"), db_null(), db_int(now), db_text("HELD")};
    rc = db_run_later(c, &q_voucher_set, v, 5, 1); /* held by this payment; sent with its status update */
  }
  int64_t changed = 0;
  db_val s[] = {db_text(p->id), db_text(status), db_int(0), db_null(), db_int(now)};
  if (rc >= 0) rc = db_run(c, &q_status, s, 5, &changed);
  if (rc >= 0 && changed != 1) rc = DB_BUSY;
  if (rc < 0) return rc;
  snprintf(p->status, sizeof p->status, "%s", status);
  p->updated_at_ms = now;
  bool failed = strcmp(status, "FAILED") == 0;
  rc = record_state(c, a, p, false, failed ? "failed" : "expired", failed ? "payment.failed" : "payment.expired",
                    failed ? "PAYMENT_FAIL" : "PAYMENT_EXPIRE");
  (void)reason;
  return rc < 0 ? rc : SVC_OK;
}
