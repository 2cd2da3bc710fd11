/* audit_query.c — listing the audit log (see audit_query.h). Newest first by (at_ms, id):
 * audit_log_time (at_ms, id) and audit_log_merchant (merchant_id, at_ms, id) hold the entries
 * in that order, so a page is read from an index in order with or without a time window, and
 * a later page starts at its cursor's entry (whose time is read first) instead of walking the
 * newer entries again (D56). Two statements, by whether a merchant is given. */
#include "service/audit_query.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

/* $5 is the upper time bound: the window's end, or on a later page the cursor entry's time + 1
 * when that is earlier; entries of the cursor's own millisecond come after it when their id is
 * lower ($7 = '' on the first page). */
#define AQ_COLS \
  "SELECT id, at_ms, actor, role, COALESCE(merchant_id, ''), action, target, status, " \
  "request_id, details FROM audit_log WHERE ($1 = '' OR action = $1) AND " \
  "($2 = '' OR status = $2) AND ($3 = '' OR actor = $3) AND at_ms >= $4 AND at_ms < $5 " \
  "AND ($7 = '' OR at_ms < $8 OR id < $7) "
#define AQ_ORDER "ORDER BY at_ms DESC, id DESC LIMIT $6"

static const db_sql q_all = {"audit_list_all", AQ_COLS AQ_ORDER, NULL};
static const db_sql q_merchant = {"audit_list_merchant", AQ_COLS "AND merchant_id = $9 " AQ_ORDER, NULL};
static const db_sql q_cursor_at = {
    "audit_cursor_at", "SELECT at_ms FROM audit_log WHERE id = $1 AND ($2 = '' OR merchant_id = $2)", NULL};

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

/* The time of the cursor's entry (of the listed merchant when one is given): DB_OK, or
 * SVC_REJECT when there is no such entry. */
static int cursor_at(db_conn *c, const struct audit_filter *f, int64_t *at_ms, struct svc_error *err) {
  db_val a[] = {db_text(f->cursor), db_text(f->merchant_id)};
  int rc = db_query_int(c, &q_cursor_at, a, 2, at_ms);
  if (rc == DB_DONE) {
    return svc_fail(err, MPS_E_BAD_REQUEST, json_pack("{s:s}", "parameter", "cursor"),
                    "cursor is not one this API returned");
  }
  return rc == DB_ROW ? DB_OK : rc;
}

static int run_query(db_conn *c, const struct audit_filter *f, db_cursor **cur, struct svc_error *err) {
  int64_t end_ms = f->end_ms, cursor_ms = 0;
  if (f->cursor[0]) {
    int rc = cursor_at(c, f, &cursor_ms, err);
    if (rc != DB_OK) return rc;
    if (cursor_ms < end_ms) end_ms = cursor_ms + 1; /* at_ms is at most INT64_MAX - 1 here */
  }
  const bool merchant = f->merchant_id[0] != '\0';
  db_val v[9] = {db_text(f->action), db_text(f->status), db_text(f->actor), db_int(f->start_ms),
                 db_int(end_ms),     db_int(f->limit + 1), db_text(f->cursor), db_int(cursor_ms)};
  int n = 8;
  if (merchant) v[n++] = db_text(f->merchant_id);
  return db_query(c, merchant ? &q_merchant : &q_all, v, n, cur);
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
  rc = run_query(c, f, &cur, err);
  if (rc != DB_OK) return rc;
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
