/* ledger_entries.c — the journal, read-only:
 *   GET /admin/ledger-entries                          platform admin, finance, viewer; every
 *       merchant or one (filter merchantId)
 *   GET /api/merchants/{merchantId}/ledger-entries     the merchant's owner and finance;
 *       platform admin and finance
 * Filters: kind, refType, refId, startTime (inclusive), endTime (exclusive); cursor
 * pagination, newest first. Each entry comes with its lines: accountId, the account's
 * owner and kind, amount (signed: + debit, - credit) and currency. */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "api/util.h"
#include "common/clock.h"
#include "service/ledger_query.h"

struct lq_ctx {
  char merchant_id[65], kind[33], ref_type[33], ref_id[65], cursor[65];
  int64_t start_ms, end_ms;
  int limit;
  json_t *items;
  json_t *lines; /* of the entry being built */
};

static bool valid_word(const char *s, bool upper) {
  size_t n = strlen(s);
  if (n == 0 || n > 32) return false;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    bool letter = upper ? (ch >= 'A' && ch <= 'Z') : (ch >= 'a' && ch <= 'z');
    if (!(letter || (ch >= '0' && ch <= '9') || ch == '_')) return false;
  }
  return true;
}

static int bad_param(struct http_req *req, const char *name, const char *message) {
  http_reply_error(req, MPS_E_BAD_REQUEST, message, json_pack("{s:s}", "parameter", name));
  return -1;
}

static int parse_filters(struct http_req *req, struct lq_ctx *l, bool admin) {
  if (api_page(req, &l->limit, l->cursor, sizeof l->cursor) != 0) return -1;
  if (admin) {
    if (api_query_str(req, "merchantId", l->merchant_id, sizeof l->merchant_id) != 0) return -1;
    if (l->merchant_id[0] && !api_valid_id(l->merchant_id)) {
      return bad_param(req, "merchantId", "merchantId must be 1 to 64 characters of letters, digits, '_' or '-'");
    }
  } else {
    const char *mid = http_param(req, "merchantId");
    if (!mid || !api_valid_id(mid)) {
      http_reply_error(req, MPS_E_NOT_FOUND, "no such merchant", json_pack("{s:s}", "parameter", "merchantId"));
      return -1;
    }
    snprintf(l->merchant_id, sizeof l->merchant_id, "%s", mid);
  }
  if (api_query_str(req, "kind", l->kind, sizeof l->kind) != 0) return -1;
  if (l->kind[0] && !valid_word(l->kind, true)) {
    return bad_param(req, "kind", "kind must be an entry kind such as PAYMENT, FEE, GRANT or TOPUP");
  }
  if (api_query_str(req, "refType", l->ref_type, sizeof l->ref_type) != 0) return -1;
  if (l->ref_type[0] && !valid_word(l->ref_type, false)) {
    return bad_param(req, "refType", "refType must be a reference type such as payment, topup or grant");
  }
  if (api_query_str(req, "refId", l->ref_id, sizeof l->ref_id) != 0) return -1;
  if (l->ref_id[0] && !api_valid_id(l->ref_id)) {
    return bad_param(req, "refId", "refId must be an id (1 to 64 id characters)");
  }
  bool has_start = false, has_end = false;
  if (api_query_time(req, "startTime", &l->start_ms, &has_start) != 0) return -1;
  if (api_query_time(req, "endTime", &l->end_ms, &has_end) != 0) return -1;
  if (!has_start) l->start_ms = 0;
  if (!has_end) l->end_ms = INT64_MAX;
  if (l->end_ms < l->start_ms) return bad_param(req, "endTime", "endTime must not be before startTime");
  return 0;
}

static void on_entry(const struct ledger_entry_row *e, void *arg) {
  struct lq_ctx *l = arg;
  char at[40];
  clock_rfc3339(e->created_at_ms, at, sizeof at);
  json_t *lines = json_array();
  json_t *item = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:o}", "id", e->id, "merchantId", e->merchant_id,
                           "kind", e->kind, "refType", e->ref_type, "refId", e->ref_id, "memo", e->memo,
                           "createdAt", at, "createdAtMs", (json_int_t)e->created_at_ms, "lines", lines);
  l->lines = item ? lines : NULL; /* json_pack stole lines (and freed it on failure) */
  if (item) json_array_append_new(l->items, item);
}

static void on_line(const struct ledger_line_row *r, void *arg) {
  struct lq_ctx *l = arg;
  if (!l->lines) return;
  json_t *line = json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:s}", "lineNo", (json_int_t)r->line_no,
                           "accountId", r->account_id, "ownerKind", r->owner_kind, "ownerId", r->owner_id,
                           "accountKind", r->account_kind, "amount", (json_int_t)r->amount, "currency", r->currency);
  if (line) json_array_append_new(l->lines, line);
}

static int list_run(db_conn *c, struct http_req *req) {
  struct lq_ctx *l = req->ctx;
  struct actor a = api_actor(req);
  struct ledger_entry_filter f = {.merchant_id = l->merchant_id, .kind = l->kind, .ref_type = l->ref_type,
                                  .ref_id = l->ref_id, .start_ms = l->start_ms, .end_ms = l->end_ms,
                                  .cursor = l->cursor, .limit = l->limit};
  struct ledger_entry_sink sink = {on_entry, on_line, l};
  char next[65];
  struct svc_error err = {0};
  json_t *items = json_array();
  if (!items) return DB_ERR;
  l->items = items; /* a retried run starts over with a fresh array */
  l->lines = NULL;
  int rc = ledger_entries_list(c, &a, &f, &sink, next, sizeof next, &err);
  if (rc == SVC_OK) http_reply_json(req, 200, api_page_reply(items, next));
  else json_decref(items);
  return api_finish(req, rc, &err);
}

static void list(struct http_req *req, bool admin) {
  struct lq_ctx *l = api_ctx(req, sizeof *l);
  if (!l || parse_filters(req, l, admin) != 0) return;
  http_defer(req, DB_JOB_READ, list_run);
}

void api_admin_ledger_entries(struct http_req *req) { list(req, true); }
void api_ledger_entries(struct http_req *req) { list(req, false); }
