/* ledger_query.c — listing journal entries with their lines (see ledger_query.h). One
 * statement per shape (merchant or all, cursor or not): the page of entry ids is chosen by
 * walking journal_entries_merchant (or the primary key) from the newest entry down, then
 * joined with its lines and their accounts, so a page is one round trip. */
#include "service/ledger_query.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#define LQ_SELECT \
  "SELECT e.id, e.merchant_id, e.kind, e.ref_type, e.ref_id, e.memo, e.created_at_ms, l.line_no, " \
  "COALESCE(l.account_id, ''), COALESCE(a.owner_kind, ''), COALESCE(a.owner_id, ''), " \
  "COALESCE(a.kind, ''), COALESCE(l.amount, 0), COALESCE(l.currency, '') FROM (SELECT id FROM " \
  "journal_entries WHERE ($1 = '' OR kind = $1) AND ($2 = '' OR ref_type = $2) AND " \
  "($3 = '' OR ref_id = $3) AND created_at_ms >= $4 AND created_at_ms < $5 "
#define LQ_TAIL \
  "ORDER BY id DESC LIMIT $6) page JOIN journal_entries e ON e.id = page.id " \
  "LEFT JOIN journal_lines l ON l.entry_id = e.id LEFT JOIN ledger_accounts a ON a.id = l.account_id " \
  "ORDER BY e.id DESC, l.line_no"

static const db_sql q_all = {"ledger_entries_all", LQ_SELECT LQ_TAIL, NULL};
static const db_sql q_all_after = {"ledger_entries_all_after", LQ_SELECT "AND id < $7 " LQ_TAIL, NULL};
static const db_sql q_merchant = {"ledger_entries_merchant", LQ_SELECT "AND merchant_id = $7 " LQ_TAIL, NULL};
static const db_sql q_merchant_after = {
    "ledger_entries_merchant_after", LQ_SELECT "AND merchant_id = $7 AND id < $8 " LQ_TAIL, NULL};

static int check_scope(const struct actor *a, const char *merchant_id, struct svc_error *err) {
  if (merchant_id[0]) return svc_scope(a, merchant_id, err);
  if (!a->p || a->p->kind == PRINCIPAL_PLATFORM) return SVC_OK;
  return svc_fail(err, MPS_E_FORBIDDEN, NULL, "only platform staff read every merchant's ledger");
}

int ledger_entries_list(db_conn *c, const struct actor *a, const struct ledger_entry_filter *f,
                        const struct ledger_entry_sink *sink, char *next_cursor, size_t next_len,
                        struct svc_error *err) {
  assert(f->limit >= 1 && f->limit <= PAGE_MAX && next_len > 0);
  assert(f->merchant_id && f->kind && f->ref_type && f->ref_id && f->cursor);
  next_cursor[0] = '\0';
  int rc = check_scope(a, f->merchant_id, err);
  if (rc != SVC_OK) return rc;
  const bool merchant = f->merchant_id[0] != '\0', after = f->cursor[0] != '\0';
  const db_sql *q = merchant ? (after ? &q_merchant_after : &q_merchant) : (after ? &q_all_after : &q_all);
  db_val v[8] = {db_text(f->kind), db_text(f->ref_type), db_text(f->ref_id), db_int(f->start_ms),
                 db_int(f->end_ms), db_int(f->limit + 1)};
  int n = 6;
  if (merchant) v[n++] = db_text(f->merchant_id);
  if (after) v[n++] = db_text(f->cursor);
  db_cursor *cur = NULL;
  rc = db_query(c, q, v, n, &cur);
  if (rc < 0) return rc;
  char last[65] = "";
  int entries = 0, lines = 0;
  const long max_rows = (long)(f->limit + 1) * (LEDGER_QUERY_MAX_LINES + 1);
  for (long row = 0; row < max_rows && (rc = db_step(cur)) == DB_ROW; row++) {
    const char *id = db_col_text(cur, 0);
    if (strcmp(id, last) != 0) { /* a new entry */
      if (entries == f->limit) { /* one more exists: the page ends at the previous entry */
        snprintf(next_cursor, next_len, "%s", last);
        break;
      }
      struct ledger_entry_row e = {.id = id, .merchant_id = db_col_text(cur, 1), .kind = db_col_text(cur, 2),
                                   .ref_type = db_col_text(cur, 3), .ref_id = db_col_text(cur, 4),
                                   .memo = db_col_text(cur, 5), .created_at_ms = db_col_int(cur, 6)};
      sink->entry(&e, sink->arg);
      snprintf(last, sizeof last, "%s", id);
      entries++;
      lines = 0;
    }
    if (db_col_null(cur, 7) || lines >= LEDGER_QUERY_MAX_LINES) continue; /* an entry without lines */
    struct ledger_line_row l = {.line_no = db_col_int(cur, 7), .account_id = db_col_text(cur, 8),
                                .owner_kind = db_col_text(cur, 9), .owner_id = db_col_text(cur, 10),
                                .account_kind = db_col_text(cur, 11), .amount = db_col_int(cur, 12),
                                .currency = db_col_text(cur, 13)};
    sink->line(&l, sink->arg);
    lines++;
  }
  db_reset(cur);
  return rc < 0 ? rc : SVC_OK;
}
