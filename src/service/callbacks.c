/* callbacks.c — what a verified gateway callback does (see callbacks.h). */
#include "service/callbacks.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/ledger.h"
#include "service/payments.h"
#include "service/wallet_ops.h"

static const db_sql q_by_id = {
    "callback_by_id", "SELECT result_status, result_body FROM payment_callbacks WHERE callback_id = $1", NULL};
/* the first callback that was applied (200) with this gateway transaction */
static const db_sql q_by_txn = {
    "callback_by_txn",
    "SELECT payment_id, result_status, result_body FROM payment_callbacks "
    "WHERE external_txn_id = $1 AND result_status = 200 ORDER BY received_at_ms, callback_id LIMIT 1", NULL};
/* a callback id taken meanwhile (a duplicate for no known row, which nothing locks) is a
 * unique-key refusal, DB_BUSY: the job runs again and replays the other one's result */
static const db_sql q_insert = {
    "callback_insert",
    "INSERT INTO payment_callbacks (callback_id, merchant_id, payment_id, external_txn_id, status, "
    "paid_amount, result_status, result_body, received_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)", NULL};
static const db_sql q_lock_payment = {
    "callback_lock_payment", "SELECT id FROM payments WHERE id = $1",
    "SELECT id FROM payments WHERE id = $1 FOR UPDATE"};
static const db_sql q_lock_topup = {
    "callback_lock_topup", "SELECT id FROM topups WHERE id = $1",
    "SELECT id FROM topups WHERE id = $1 FOR UPDATE"};

void callback_outcome_clear(struct callback_outcome *o) {
  free(o->replay_body);
  o->replay_body = NULL;
  json_decref(o->reply);
  o->reply = NULL;
  svc_error_clear(&o->err);
}

/* The lock of the row a callback is for (by its id's prefix), or NULL for an unknown kind. */
static const db_sql *lock_query(const char *txn_id) {
  if (strncmp(txn_id, "pay_", 4) == 0) return &q_lock_payment;
  if (strncmp(txn_id, "top_", 4) == 0) return &q_lock_topup;
  return NULL;
}

static int lock_row(db_conn *c, const db_sql *q, const char *id) {
  db_val k[] = {db_text(id)};
  db_cursor *cur = NULL;
  int rc = db_query(c, q, k, 1, &cur);
  if (rc < 0) return rc;
  rc = db_step(cur);
  db_reset(cur);
  return rc < 0 ? rc : DB_OK;
}

/* A stored result into out as a REPLAY. DB_ROW when found, DB_DONE, < 0. For the
 * transaction id, *other is set when the stored one is about another payment. */
static int find_stored(db_conn *c, const db_sql *q, const char *key, const char *txn_id,
                       struct callback_outcome *out, bool *other) {
  db_val k[] = {db_text(key)};
  db_cursor *cur = NULL;
  int rc = db_query(c, q, k, 1, &cur);
  if (rc < 0) return rc;
  rc = db_step(cur);
  if (rc == DB_ROW) {
    int col = 0;
    if (q == &q_by_txn) *other = strcmp(db_col_text(cur, col++), txn_id) != 0;
    out->kind = CALLBACK_REPLAY;
    out->replay_status = (int)db_col_int(cur, col);
    out->replay_body = strdup(db_col_text(cur, col + 1));
    if (!out->replay_body) rc = DB_ERR;
  }
  db_reset(cur);
  return rc;
}

__attribute__((format(printf, 4, 5)))
static int refuse(struct callback_outcome *out, enum mps_err code, json_t *details, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  out->kind = CALLBACK_REFUSED;
  svc_fail(&out->err, code, details, "%s", msg);
  return DB_OK;
}

static bool is_success(const char *status) {
  return strcmp(status, "SUCCEEDED") == 0 || strcmp(status, "PAID") == 0;
}

/* paidAmount against what the gateway was asked for: equal for success; for a failure 0
 * or the amount (gateways report either). */
static bool amount_ok(const struct callback_in *in, int64_t expected) {
  if (is_success(in->status)) return in->paid_amount == expected;
  return in->paid_amount == 0 || in->paid_amount == expected;
}

static json_t *amount_details(const struct callback_in *in, int64_t expected) {
  return json_pack("{s:s, s:I, s:I}", "field", "paidAmount", "expected", (json_int_t)expected, "received",
                   (json_int_t)in->paid_amount);
}

static json_t *state_details(const char *status, int64_t expires_at_ms) {
  return json_pack("{s:s, s:I}", "status", status, "expiresAtMs", (json_int_t)expires_at_ms);
}

static int on_payment(db_conn *c, const struct actor *a, const struct callback_in *in, int64_t now_ms,
                      struct callback_outcome *out) {
  struct payment p;
  int rc = payment_load(c, in->txn_id, &p);
  if (rc < 0) return rc;
  if (rc == DB_DONE || strcmp(p.merchant_id, in->merchant_id) != 0) {
    return refuse(out, MPS_E_NOT_FOUND, json_pack("{s:s, s:s}", "paymentTxnId", in->txn_id, "merchantId", in->merchant_id),
                  "merchant %s has no payment %s", in->merchant_id, in->txn_id);
  }
  /* what the change will read, with the lock below: one round trip */
  bool pending = strcmp(p.status, "PENDING_EXTERNAL") == 0;
  if (pending && p.expires_at_ms > now_ms && (rc = payment_resolve_prefetch(c, &p, is_success(in->status))) < 0) return rc;
  /* the member's accounts next, as every other wallet operation takes them (D22): the
   * holds end and the entry posts in one lock order */
  if (pending && (rc = ledger_lock_owner(c, p.member_id)) < 0) return rc;
  if (pending && p.expires_at_ms <= now_ms) {
    /* its deadline has passed: expired, whether or not the sweep has got to it yet */
    struct svc_error e = {0};
    rc = payment_release(c, a, &p, "EXPIRED", "callback after the deadline", &e);
    svc_error_clear(&e);
    if (rc != SVC_OK) return rc < 0 ? rc : DB_ERR;
  }
  if (strcmp(p.status, "PENDING_EXTERNAL") != 0) {
    return refuse(out, MPS_E_CONFLICT, state_details(p.status, p.expires_at_ms),
                  "payment %s is %s, not waiting for its external part", p.id, p.status);
  }
  if (!amount_ok(in, p.d.external)) {
    return refuse(out, MPS_E_UNPROCESSABLE, amount_details(in, p.d.external),
                  "paidAmount must equal the payable amount %lld of payment %s", (long long)p.d.external, p.id);
  }
  bool ok = is_success(in->status);
  rc = ok ? payment_settle_external(c, a, &p, in->external_txn_id, &out->err)
          : payment_release(c, a, &p, "FAILED", "gateway reported failure", &out->err);
  if (rc != SVC_OK) return rc < 0 ? rc : DB_ERR; /* the state was checked under the lock */
  out->kind = CALLBACK_APPLIED;
  out->reply = json_pack("{s:s, s:s, s:o}", "callbackId", in->callback_id, "outcome", ok ? "SETTLED" : "FAILED",
                         "payment", payment_json(&p));
  return out->reply ? DB_OK : DB_ERR;
}

static int on_topup(db_conn *c, const struct actor *a, const struct callback_in *in, int64_t now_ms,
                    struct callback_outcome *out) {
  struct topup t;
  int rc = topup_load(c, in->txn_id, &t);
  if (rc < 0) return rc;
  if (rc == DB_DONE || strcmp(t.merchant_id, in->merchant_id) != 0) {
    return refuse(out, MPS_E_NOT_FOUND, json_pack("{s:s, s:s}", "paymentTxnId", in->txn_id, "merchantId", in->merchant_id),
                  "merchant %s has no top-up %s", in->merchant_id, in->txn_id);
  }
  if (strcmp(t.status, "PENDING_EXTERNAL") == 0 && t.expires_at_ms <= now_ms) {
    struct svc_error e = {0};
    rc = topup_fail(c, a, &t, "EXPIRED", &e);
    svc_error_clear(&e);
    if (rc != SVC_OK) return rc < 0 ? rc : DB_ERR;
  }
  if (strcmp(t.status, "PENDING_EXTERNAL") != 0) {
    return refuse(out, MPS_E_CONFLICT, state_details(t.status, t.expires_at_ms),
                  "top-up %s is %s, not waiting for the gateway", t.id, t.status);
  }
  if (!amount_ok(in, t.amount)) {
    return refuse(out, MPS_E_UNPROCESSABLE, amount_details(in, t.amount),
                  "paidAmount must equal the amount %lld of top-up %s", (long long)t.amount, t.id);
  }
  bool ok = is_success(in->status);
  rc = ok ? topup_settle(c, a, &t, in->external_txn_id, &out->err) : topup_fail(c, a, &t, "FAILED", &out->err);
  if (rc != SVC_OK) return rc < 0 ? rc : DB_ERR;
  out->kind = CALLBACK_APPLIED;
  out->reply = json_pack("{s:s, s:s, s:o}", "callbackId", in->callback_id, "outcome", ok ? "SETTLED" : "FAILED",
                         "topup", topup_json(&t));
  return out->reply ? DB_OK : DB_ERR;
}

int callback_prefetch(db_conn *c, const struct callback_in *in) {
  db_val t[] = {db_text(in->txn_id)}, id[] = {db_text(in->callback_id)}, ext[] = {db_text(in->external_txn_id)};
  const db_sql *lock = lock_query(in->txn_id);
  /* the row's lock first, as callback_process takes it: the reads after it see what a
   * concurrent callback for the row committed */
  int rc = lock ? db_prefetch(c, lock, t, 1) : DB_OK;
  if (rc >= 0) rc = db_prefetch(c, &q_by_id, id, 1);
  if (rc >= 0) rc = db_prefetch(c, &q_by_txn, ext, 1);
  if (rc >= 0 && lock == &q_lock_payment) rc = payment_load_prefetch(c, in->txn_id);
  return rc < 0 ? rc : DB_OK;
}

int callback_process(db_conn *c, const struct actor *a, const struct callback_in *in,
                     int64_t now_ms, struct callback_outcome *out) {
  memset(out, 0, sizeof *out);
  const db_sql *lock = lock_query(in->txn_id);
  bool payment = lock == &q_lock_payment, topup = lock == &q_lock_topup;
  /* lock first: a concurrent callback for the same row has then either committed (and
   * is seen below) or not started */
  int rc = lock ? lock_row(c, lock, in->txn_id) : DB_OK;
  if (rc < 0) return rc;
  bool other = false;
  rc = find_stored(c, &q_by_id, in->callback_id, NULL, out, &other);
  if (rc < 0 || rc == DB_ROW) return rc < 0 ? rc : DB_OK;
  rc = find_stored(c, &q_by_txn, in->external_txn_id, in->txn_id, out, &other);
  if (rc < 0) return rc;
  if (rc == DB_ROW && !other) return DB_OK; /* the first result of this gateway transaction */
  if (rc == DB_ROW) {
    callback_outcome_clear(out);
    memset(out, 0, sizeof *out);
    return refuse(out, MPS_E_CONFLICT, json_pack("{s:s}", "externalTxnId", in->external_txn_id),
                  "externalTxnId %s was already applied to another transaction", in->external_txn_id);
  }
  if (payment) return on_payment(c, a, in, now_ms, out);
  if (topup) return on_topup(c, a, in, now_ms, out);
  return refuse(out, MPS_E_NOT_FOUND, json_pack("{s:s, s:s}", "paymentTxnId", in->txn_id, "merchantId", in->merchant_id),
                "merchant %s has no payment or top-up %s", in->merchant_id, in->txn_id);
}

int callback_record(db_conn *c, const struct callback_in *in, int status, const char *body,
                    int64_t now_ms) {
  db_val v[] = {db_text(in->callback_id), db_text(in->merchant_id), db_text(in->txn_id),
                db_text(in->external_txn_id), db_text(in->status), db_int(in->paid_amount),
                db_int(status), db_text(body ? body : ""), db_int(now_ms)};
  return db_run_later_race(c, &q_insert, v, 9, 1); /* sent with COMMIT */
}
