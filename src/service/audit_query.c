/* audit_query.c — listing the audit log (see audit_query.h). Four statements, by whether a
 * merchant and a cursor are given, so each walks an index (audit_log_merchant or the
 * primary key) from the newest entry down instead of filtering the whole table. */
#include "service/audit_query.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#define AQ_COLS \
  "SELECT id, at_ms, actor, role, COALESCE(merchant_id, ''), action, target, status, " \
  "request_id, details FROM audit_log WHERE ($1 = '' OR action = $1) AND " \
  "($2 = '' OR status = $2) AND ($3 = '' OR actor = $3) AND at_ms >= $4 AND at_ms < $5 "
#define AQ_ORDER "ORDER BY id DESC LIMIT $6"

static const db_sql q_all = {"audit_list_all", AQ_COLS AQ_ORDER, NULL};
static const db_sql q_all_after = {"audit_list_all_after", AQ_COLS "AND id < $7 " AQ_ORDER, NULL};
static const db_sql q_merchant = {"audit_list_merchant", AQ_COLS "AND merchant_id = $7 " AQ_ORDER, NULL};
static const db_sql q_merchant_after = {
    "audit_list_merchant_after", AQ_COLS "AND merchant_id = $7 AND id < $8 " AQ_ORDER, NULL};

bool audit_status_valid(const char *s) {
  static const char *const statuses[] = {"SUCCESS", "DENIED", "BLOCKED", "FAILED"};
  for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
    if (strcmp(s, statuses[i]) == 0) return true;
  }
  return false;
}

static void read_entry(db_cursor *cur, struct audit_entry *e) {
  e->id = db_col_text(cur, 0);
  e->at_ms = db_col_int(cur, 1);
  e->actor = db_col_text(cur, 2);
  e->role = db_col_text(cur, 3);
  e->merchant_id = db_col_text(cur, 4);
  e->action = db_col_text(cur, 5);
  e->target = db_col_text(cur, 6);
  e->status = db_col_text(cur, 7);
  e->request_id = db_col_text(cur, 8);
  e->details = db_col_text(cur, 9);
}

/* Who may read what: platform staff and the system anything; others one merchant, theirs. */
static int check_scope(const struct actor *a, const char *merchant_id, struct svc_error *err) {
  if (merchant_id[0]) return svc_scope(a, merchant_id, err);
  if (!a->p || a->p->kind == PRINCIPAL_PLATFORM) return SVC_OK;
  return svc_fail(err, MPS_E_FORBIDDEN, NULL, "only platform staff read the whole audit log");
}

static int run_query(db_conn *c, const struct audit_filter *f, db_cursor **cur) {
  const bool merchant = f->merchant_id[0] != '\0', after = f->cursor[0] != '\0';
  const db_sql *q = merchant ? (after ? &q_merchant_after : &q_merchant) : (after ? &q_all_after : &q_all);
  db_val v[8] = {db_text(f->action), db_text(f->status), db_text(f->actor), db_int(f->start_ms),
                 db_int(f->end_ms), db_int(f->limit + 1)};
  int n = 6;
  if (merchant) v[n++] = db_text(f->merchant_id);
  if (after) v[n++] = db_text(f->cursor);
  return db_query(c, q, v, n, cur);
}

int audit_list(db_conn *c, const struct actor *a, const struct audit_filter *f,
               void (*emit)(const struct audit_entry *e, void *arg), void *arg,
               char *next_cursor, size_t next_len, struct svc_error *err) {
  assert(f->limit >= 1 && f->limit <= PAGE_MAX && next_len > 0);
  assert(f->merchant_id && f->action && f->status && f->actor && f->cursor);
  next_cursor[0] = '\0';
  int rc = check_scope(a, f->merchant_id, err);
  if (rc != SVC_OK) return rc;
  db_cursor *cur = NULL;
  rc = run_query(c, f, &cur);
  if (rc < 0) return rc;
  char last[128] = "";
  int n = 0;
  while ((rc = db_step(cur)) == DB_ROW) {
    if (n == f->limit) { /* one more exists: the page ends at the previous row */
      snprintf(next_cursor, next_len, "%s", last);
      break;
    }
    struct audit_entry e;
    read_entry(cur, &e);
    emit(&e, arg);
    snprintf(last, sizeof last, "%s", e.id);
    n++;
  }
  db_reset(cur);
  return rc < 0 ? rc : SVC_OK;
}
