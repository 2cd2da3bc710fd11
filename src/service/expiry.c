/* expiry.c — expire overdue pending payments and top-ups (see expiry.h). */
#include "service/expiry.h"

#include <stdio.h>
#include <string.h>

#include "service/ledger.h"
#include "service/payments.h"
#include "service/wallet_ops.h"

static const db_sql q_due_payments = {
    "expiry_due_payments",
    "SELECT id FROM payments WHERE status = 'PENDING_EXTERNAL' AND expires_at_ms <= $1 "
    "ORDER BY expires_at_ms, id LIMIT $2",
    "SELECT id FROM payments WHERE status = 'PENDING_EXTERNAL' AND expires_at_ms <= $1 "
    "ORDER BY expires_at_ms, id LIMIT $2 FOR UPDATE SKIP LOCKED"};
static const db_sql q_due_topups = {
    "expiry_due_topups",
    "SELECT id FROM topups WHERE status = 'PENDING_EXTERNAL' AND expires_at_ms <= $1 "
    "ORDER BY expires_at_ms, id LIMIT $2",
    "SELECT id FROM topups WHERE status = 'PENDING_EXTERNAL' AND expires_at_ms <= $1 "
    "ORDER BY expires_at_ms, id LIMIT $2 FOR UPDATE SKIP LOCKED"};

#define ID_LEN 65

/* The due ids (the cursor must be closed before other statements run). */
static int due_ids(db_conn *c, const db_sql *q, int64_t now_ms, int limit, char (*ids)[ID_LEN], int *n) {
  *n = 0;
  db_val k[] = {db_int(now_ms), db_int(limit)};
  db_cursor *cur = NULL;
  int rc = db_query(c, q, k, 2, &cur);
  if (rc < 0) return rc;
  while (*n < limit && (rc = db_step(cur)) == DB_ROW) snprintf(ids[(*n)++], ID_LEN, "%s", db_col_text(cur, 0));
  db_reset(cur);
  return rc < 0 ? rc : DB_OK;
}

int expiry_run(db_conn *c, const struct actor *a, int64_t now_ms, int limit, struct expiry_counts *out) {
  memset(out, 0, sizeof *out);
  if (limit < 1) limit = 1;
  if (limit > EXPIRY_BATCH) limit = EXPIRY_BATCH;
  static _Thread_local char ids[EXPIRY_BATCH][ID_LEN];
  int n = 0;
  int rc = due_ids(c, &q_due_payments, now_ms, limit, ids, &n);
  out->more = n == limit;
  for (int i = 0; rc >= 0 && i < n; i++) {
    struct payment p;
    rc = payment_load(c, ids[i], &p);
    if (rc != DB_ROW) continue; /* rc < 0 ends the loop */
    if (strcmp(p.status, "PENDING_EXTERNAL") != 0 || p.expires_at_ms > now_ms) {
      rc = DB_OK;
      continue;
    }
    rc = ledger_lock_owner(c, p.member_id); /* the member's accounts in one order (D22) */
    if (rc < 0) break;
    struct svc_error err = {0};
    rc = payment_release(c, a, &p, "EXPIRED", "deadline passed", &err);
    svc_error_clear(&err);
    if (rc == SVC_OK) out->payments++;
    else if (rc > 0) rc = DB_ERR; /* checked above: cannot happen */
  }
  if (rc < 0) return rc;
  rc = due_ids(c, &q_due_topups, now_ms, limit, ids, &n);
  out->more = out->more || n == limit;
  for (int i = 0; rc >= 0 && i < n; i++) {
    struct topup t;
    rc = topup_load(c, ids[i], &t);
    if (rc != DB_ROW) continue;
    if (strcmp(t.status, "PENDING_EXTERNAL") != 0 || t.expires_at_ms > now_ms) {
      rc = DB_OK;
      continue;
    }
    struct svc_error err = {0};
    rc = topup_fail(c, a, &t, "EXPIRED", &err);
    svc_error_clear(&err);
    if (rc == SVC_OK) out->topups++;
    else if (rc > 0) rc = DB_ERR;
  }
  return rc < 0 ? rc : DB_OK;
}
