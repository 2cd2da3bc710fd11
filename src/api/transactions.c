/* transactions.c — payments as "transactions":
 *   GET /api/merchants/{merchantId}/transactions[/{paymentTxnId}]  merchant staff, platform
 *       staff, and members (only their own: the list is narrowed to them, another member's
 *       payment is 404)
 *   GET /admin/transactions[/{paymentTxnId}]                        platform staff, every
 *       merchant (filter merchantId)
 * Filters: status, userId, startTime (inclusive), endTime (exclusive); cursor pagination,
 * newest first. One payment comes with its event history and its refunds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/util.h"
#include "common/clock.h"
#include "common/json_text.h"
#include "service/transactions.h"

struct txn_list_ctx {
  char merchant_id[65], status[20], user_id[65], cursor[65];
  int64_t start_ms, end_ms;
  int limit;
  struct json_text *items;
};

static void time_member(struct json_text *j, const char *key, int64_t ms) {
  char at[40];
  clock_rfc3339(ms, at, sizeof at);
  json_text_str(j, key, at);
}

/* A transaction: the payment's members, then where and when. Written as text: the list of
 * 20 had spent most of a read in building and dumping jansson trees. */
static void txn_members(struct json_text *j, const struct txn *t) {
  payment_json_members(j, &t->p);
  json_text_str(j, "storeId", t->store_id[0] ? t->store_id : NULL);
  json_text_int(j, "feeBps", t->p.fee_bps);
  json_text_int(j, "updatedAtMs", t->p.updated_at_ms);
  time_member(j, "createdAt", t->p.created_at_ms);
  time_member(j, "updatedAt", t->p.updated_at_ms);
}

static int bad_param(struct http_req *req, const char *name, const char *message) {
  http_reply_error(req, MPS_E_BAD_REQUEST, message, json_pack("{s:s}", "parameter", name));
  return -1;
}

/* merchantId (admin route only), status, userId, times and the page: 0, or -1 with a 400. */
static int parse_filters(struct http_req *req, struct txn_list_ctx *l, bool admin) {
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
  if (api_query_str(req, "status", l->status, sizeof l->status) != 0) return -1;
  if (l->status[0] && !txn_status_valid(l->status)) {
    return bad_param(req, "status", "status must be PENDING_EXTERNAL, PAID, FAILED or EXPIRED");
  }
  if (api_query_str(req, "userId", l->user_id, sizeof l->user_id) != 0) return -1;
  if (l->user_id[0] && !api_valid_id(l->user_id)) {
    return bad_param(req, "userId", "userId must be a member id (1 to 64 id characters)");
  }
  bool has_start = false, has_end = false;
  if (api_query_time(req, "startTime", &l->start_ms, &has_start) != 0) return -1;
  if (api_query_time(req, "endTime", &l->end_ms, &has_end) != 0) return -1;
  if (!has_start) l->start_ms = 0;
  if (!has_end) l->end_ms = INT64_MAX;
  if (l->end_ms < l->start_ms) return bad_param(req, "endTime", "endTime must not be before startTime");
  return 0;
}

static void emit(const struct txn *t, void *arg) {
  struct json_text *j = ((struct txn_list_ctx *)arg)->items;
  json_text_open(j, NULL);
  txn_members(j, t);
  json_text_close(j);
}

static struct txn_filter list_filter(const struct txn_list_ctx *l) {
  return (struct txn_filter){.merchant_id = l->merchant_id, .status = l->status, .member_id = l->user_id,
                             .start_ms = l->start_ms, .end_ms = l->end_ms, .cursor = l->cursor, .limit = l->limit};
}

/* The page with the token check: one round trip. */
static int list_prefetch(db_conn *c, struct http_req *req) {
  struct actor a = api_actor(req);
  struct txn_filter f = list_filter(req->ctx);
  return txn_list_prefetch(c, &a, &f);
}

static int list_run(db_conn *c, struct http_req *req) {
  struct txn_list_ctx *l = req->ctx;
  struct actor a = api_actor(req);
  struct txn_filter f = list_filter(l);
  char next[65];
  struct svc_error err = {0};
  struct json_text j; /* api_page_reply's shape: {"items":[...],"next_cursor":...} */
  json_text_init(&j);
  json_text_open(&j, NULL);
  json_text_array(&j, "items");
  l->items = &j;
  int rc = txn_list(c, &a, &f, emit, l, next, sizeof next, &err);
  l->items = NULL;
  if (rc == SVC_OK) {
    json_text_close(&j);
    json_text_str(&j, "next_cursor", next[0] ? next : NULL);
    json_text_close(&j);
    size_t len = 0;
    char *text = json_text_finish(&j, &len);
    http_reply_json_text(req, 200, text, len);
  } else {
    json_text_free(&j);
  }
  return api_finish(req, rc, &err);
}

static void list(struct http_req *req, bool admin) {
  struct txn_list_ctx *l = api_ctx(req, sizeof *l);
  if (!l || parse_filters(req, l, admin) != 0) return;
  http_defer_prefetched(req, DB_JOB_READ, list_prefetch, list_run);
}

void api_transactions_list(struct http_req *req) { list(req, false); }
void api_admin_transactions_list(struct http_req *req) { list(req, true); }

static void emit_event(const struct txn_event *e, void *arg) {
  char at[40];
  clock_rfc3339(e->at_ms, at, sizeof at);
  json_error_t jerr;
  json_t *details = json_loads(e->details, 0, &jerr);
  if (!json_is_object(details)) { /* never written so; shown rather than dropped */
    json_decref(details);
    details = json_pack("{s:s}", "unparsed", e->details);
  }
  json_t *item = json_pack("{s:I, s:s, s:s, s:I, s:o}", "seq", (json_int_t)e->seq, "type", e->type, "at", at,
                           "atMs", (json_int_t)e->at_ms, "details", details);
  if (item) json_array_append_new(arg, item);
}

static void emit_refund(const struct txn_refund *r, void *arg) {
  char at[40];
  clock_rfc3339(r->created_at_ms, at, sizeof at);
  json_t *item = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:s, s:s, s:I}", "refundId", r->id,
                           "amount", (json_int_t)r->amount, "walletShare", (json_int_t)r->wallet_share,
                           "externalShare", (json_int_t)r->external_share, "clawbackBonus", (json_int_t)r->clawback_bonus,
                           "clawbackPrincipal", (json_int_t)r->clawback_principal, "unrecovered",
                           (json_int_t)r->unrecovered, "feeReversal", (json_int_t)r->fee_reversal,
                           "externalStatus", r->external_status, "actor", r->actor, "createdAt", at,
                           "createdAtMs", (json_int_t)r->created_at_ms);
  if (item) json_array_append_new(arg, item);
}

static int get_run(db_conn *c, struct http_req *req) {
  const char *merchant_id = http_param(req, "merchantId"); /* NULL on the admin route */
  struct actor a = api_actor(req);
  struct txn t;
  struct svc_error err = {0};
  int rc = txn_get(c, &a, merchant_id, http_param(req, "paymentTxnId"), &t, &err);
  if (rc != SVC_OK) return api_finish(req, rc, &err);
  json_t *events = json_array(), *refunds = json_array();
  rc = events && refunds ? txn_events(c, t.p.id, emit_event, events) : DB_ERR;
  if (rc >= 0) rc = txn_refunds(c, t.p.id, emit_refund, refunds);
  char *events_text = rc >= 0 ? json_dumps(events, JSON_COMPACT) : NULL;
  char *refunds_text = rc >= 0 ? json_dumps(refunds, JSON_COMPACT) : NULL;
  json_decref(events);
  json_decref(refunds);
  char *text = NULL;
  size_t len = 0;
  if (events_text && refunds_text) {
    struct json_text j;
    json_text_init(&j);
    json_text_open(&j, NULL);
    txn_members(&j, &t);
    json_text_raw(&j, "events", events_text);
    json_text_raw(&j, "refunds", refunds_text);
    json_text_close(&j);
    text = json_text_finish(&j, &len);
  }
  free(events_text);
  free(refunds_text);
  if (!text) return rc < 0 ? rc : DB_ERR;
  http_reply_json_text(req, 200, text, len);
  return DB_JOB_COMMIT;
}

static void get(struct http_req *req) {
  if (!api_valid_id(http_param(req, "paymentTxnId"))) {
    http_reply_error(req, MPS_E_NOT_FOUND, "no such transaction", json_pack("{s:s}", "parameter", "paymentTxnId"));
    return;
  }
  http_defer(req, DB_JOB_READ, get_run);
}

void api_transactions_get(struct http_req *req) { get(req); }
void api_admin_transactions_get(struct http_req *req) { get(req); }
