/* payments.c — GET /api/wallet, POST /api/payment/quote, POST /api/payment/verify: a
 * member's wallet, the smart-deduction quote and paying it (Idempotency-Key required). */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "api/body_specs.h"
#include "api/util.h"
#include "common/clock.h"
#include "common/json_text.h"
#include "http/json_decode.h"
#include "http/server.h"
#include "service/payments.h"

/* The replies of the read endpoints as text straight away (as the payment's own): building a
 * jansson tree and dumping it had been a tenth of a read's CPU. Keys in the order jansson kept. */
static void buckets_text(struct json_text *t, const char *key, const struct wallet_balances *b) {
  json_text_open(t, key);
  json_text_int(t, "principal", b->principal);
  json_text_int(t, "bonus", b->bonus);
  json_text_int(t, "silver", b->silver);
  json_text_close(t);
}

static void voucher_text(struct json_text *t, const char *key, const struct wallet_voucher *v) {
  json_text_open(t, key);
  json_text_str(t, "id", v->id);
  json_text_int(t, "value", v->value);
  json_text_int(t, "minSpend", v->min_spend);
  json_text_int(t, "expiresAtMs", v->expires_at_ms);
  json_text_str(t, "status", v->status);
  json_text_close(t);
}

static char *quote_text(int64_t order, const struct quote *q, const struct wallet_view *w,
                        const char *currency, size_t *len) {
  const struct deduction *d = &q->deduction;
  struct json_text t;
  json_text_init(&t);
  json_text_open(&t, NULL);
  json_text_int(&t, "orderAmount", order);
  if (q->selected_voucher >= 0) voucher_text(&t, "selectedVoucher", &w->vouchers[q->selected_voucher]);
  else json_text_str(&t, "selectedVoucher", NULL);
  json_text_open(&t, "deduction");
  json_text_int(&t, "voucher", d->voucher);
  json_text_int(&t, "bonus", d->bonus);
  json_text_int(&t, "principal", d->principal);
  json_text_int(&t, "silver", d->silver);
  json_text_int(&t, "external", d->external);
  json_text_close(&t);
  json_text_int(&t, "payable", q->payable);
  buckets_text(&t, "remainingWallet", &q->remaining);
  json_text_str(&t, "currency", currency);
  json_text_close(&t);
  return json_text_finish(&t, len);
}

static char *wallet_text(const struct money_ctx *m, const struct wallet_view *w, size_t *len) {
  struct json_text t;
  json_text_init(&t);
  json_text_open(&t, NULL);
  json_text_str(&t, "merchantId", m->merchant_id);
  json_text_str(&t, "userId", m->member_id);
  json_text_str(&t, "currency", m->currency);
  buckets_text(&t, "balance", &w->balance);
  buckets_text(&t, "held", &w->held);
  buckets_text(&t, "available", &w->available);
  json_text_array(&t, "vouchers");
  for (int i = 0; i < w->voucher_count; i++) voucher_text(&t, NULL, &w->vouchers[i]);
  json_text_close(&t);
  json_text_close(&t);
  return json_text_finish(&t, len);
}

struct pay_body {
  char merchant_id[65], user_id[65], store_id[65];
  int64_t order_amount;
  int64_t now_ms; /* a quote's or a payment's time, set by its prefetch before each run */
  struct api_idem idem;
};

static const struct json_field pay_spec[] = {
    {.name = "merchantId", .type = JF_STRING, .required = true, .offset = offsetof(struct pay_body, merchant_id), .size = 65, .min = 1},
    {.name = "userId", .type = JF_STRING, .required = true, .offset = offsetof(struct pay_body, user_id), .size = 65, .min = 1},
    {.name = "orderAmount", .type = JF_INT, .required = true, .offset = offsetof(struct pay_body, order_amount), .min = 1, .max = MONEY_MAX_MINOR},
    {.name = "storeId", .type = JF_STRING, .offset = offsetof(struct pay_body, store_id), .size = 65},
};
const struct api_body_spec api_spec_payment = {"POST /api/payment/quote, POST /api/payment/verify", pay_spec, sizeof pay_spec / sizeof pay_spec[0], sizeof(struct pay_body)};

int api_money_ctx(db_conn *c, struct http_req *req, const char *merchant_id, const char *user_id,
                  struct money_ctx *m, int *result) {
  struct actor a = api_actor(req);
  struct svc_error err = {0};
  int rc = money_ctx_load(c, &a, merchant_id, user_id, req->app->cfg.platform_fee_bps, m, &err);
  if (rc == SVC_OK) return 0;
  *result = api_finish(req, rc, &err);
  return -1;
}

/* Everything a quote or a wallet reads at *now_ms (set here), with the token check: one round trip. */
static int wallet_read_prefetch(db_conn *c, const char *merchant_id, const char *user_id, int64_t *now_ms) {
  *now_ms = clock_now_ms();
  int rc = money_ctx_prefetch(c, merchant_id, user_id);
  return rc < 0 ? rc : wallet_prefetch(c, merchant_id, user_id, *now_ms);
}

static int quote_prefetch(db_conn *c, struct http_req *req) {
  struct pay_body *b = req->ctx;
  return wallet_read_prefetch(c, b->merchant_id, b->user_id, &b->now_ms);
}

static int quote_run(db_conn *c, struct http_req *req) {
  struct pay_body *b = req->ctx;
  struct money_ctx m;
  int result = 0;
  if (api_money_ctx(c, req, b->merchant_id, b->user_id, &m, &result) != 0) return result;
  struct wallet_view w;
  struct quote q;
  int rc = payment_quote(c, &m, b->order_amount, b->now_ms, &w, &q);
  if (rc < 0) return rc;
  size_t len = 0;
  char *text = quote_text(b->order_amount, &q, &w, m.currency, &len);
  http_reply_json_text(req, 200, text, len);
  return DB_JOB_COMMIT;
}

static int decode_pay(struct http_req *req, struct pay_body **out) {
  struct pay_body *b = api_ctx(req, sizeof *b);
  if (!b || http_decode_body(req, pay_spec, sizeof pay_spec / sizeof pay_spec[0], b) != 0) return -1;
  if (!api_valid_id(b->merchant_id) || !api_valid_id(b->user_id) || (b->store_id[0] && !api_valid_id(b->store_id))) {
    http_reply_error(req, MPS_E_VALIDATION_FAILED, "merchantId, userId and storeId must be ids",
                     json_pack("{s:s, s:s}", "field", !api_valid_id(b->merchant_id) ? "merchantId" : !api_valid_id(b->user_id) ? "userId" : "storeId", "reason", "is not an id"));
    return -1;
  }
  *out = b;
  return 0;
}

void api_payment_quote(struct http_req *req) {
  struct pay_body *b;
  if (decode_pay(req, &b) != 0) return;
  http_defer_prefetched(req, DB_JOB_READ, quote_prefetch, quote_run);
}

char *api_payment_verify_reply(const struct payment *p, size_t *len) {
  struct json_text t;
  json_text_init(&t);
  json_text_open(&t, NULL);
  payment_json_members(&t, p);
  json_text_open(&t, "quote");
  json_text_int(&t, "orderAmount", p->order_amount);
  json_text_int(&t, "payable", p->d.external);
  json_text_close(&t);
  if (p->d.external > 0) {
    json_text_open(&t, "paymentIntent");
    json_text_str(&t, "paymentTxnId", p->id);
    json_text_int(&t, "amount", p->d.external);
    json_text_str(&t, "currency", p->currency);
    json_text_int(&t, "expiresAtMs", p->expires_at_ms);
    json_text_str(&t, "callback", "POST /api/payment/callback");
    json_text_close(&t);
  }
  json_text_close(&t);
  return json_text_finish(&t, len);
}

static int verify_work(db_conn *c, struct http_req *req) {
  struct pay_body *b = req->ctx;
  struct money_ctx m;
  int result = 0;
  if (api_money_ctx(c, req, b->merchant_id, b->user_id, &m, &result) != 0) return result;
  struct actor a = api_actor(req);
  struct payment p;
  struct svc_error err = {0};
  int rc = payment_create(c, &a, &m, b->order_amount, b->store_id[0] ? b->store_id : NULL,
                          req->app->cfg.payment_pending_ttl_s, b->now_ms, &p, &err);
  if (rc == SVC_OK) {
    size_t len = 0;
    char *text = api_payment_verify_reply(&p, &len);
    http_reply_json_text(req, p.d.external > 0 ? 202 : 200, text, len);
  }
  return api_finish(req, rc, &err);
}

/* The token check, the merchant and member, the key's claim and then what the payment reads
 * (the store, its accounts locked, its vouchers, the audit chain head): one round trip (D55). */
static int verify_prefetch(db_conn *c, struct http_req *req) {
  struct pay_body *b = req->ctx;
  b->now_ms = clock_now_ms();
  int rc = money_ctx_prefetch(c, b->merchant_id, b->user_id);
  if (rc >= 0) rc = api_idem_prefetch(c, &b->idem);
  if (rc < 0) return rc;
  struct actor a = api_actor(req);
  return payment_create_prefetch(c, &a, b->merchant_id, b->user_id, b->store_id[0] ? b->store_id : NULL, b->now_ms);
}

static int verify_run(db_conn *c, struct http_req *req) {
  struct pay_body *b = req->ctx;
  return api_idem_run(c, req, &b->idem, verify_work);
}

void api_payment_verify(struct http_req *req) {
  struct pay_body *b;
  if (decode_pay(req, &b) != 0 || api_idem_prepare(req, &b->idem) != 0) return;
  http_defer_prefetched(req, DB_JOB_WRITE, verify_prefetch, verify_run);
  /* PostgreSQL write groups (D62): payments of other members at the same merchant may share its
   * transaction; what a payment locks and changes besides the merchant's audit chain head
   * (memoised) and lane rows is its member's */
  req->job.group_key = b->user_id;
  req->job.group_with = b->merchant_id;
}

struct wallet_q {
  char merchant_id[65], user_id[65];
  int64_t now_ms; /* set by wallet_get_prefetch before each run */
};

static int wallet_get_prefetch(db_conn *c, struct http_req *req) {
  struct wallet_q *q = req->ctx;
  return wallet_read_prefetch(c, q->merchant_id, q->user_id, &q->now_ms);
}

static int wallet_run(db_conn *c, struct http_req *req) {
  struct wallet_q *q = req->ctx;
  struct money_ctx m;
  int result = 0;
  if (api_money_ctx(c, req, q->merchant_id, q->user_id, &m, &result) != 0) return result;
  struct wallet_view w;
  int rc = wallet_load(c, &m, q->now_ms, &w);
  if (rc < 0) return rc;
  size_t len = 0;
  char *text = wallet_text(&m, &w, &len);
  http_reply_json_text(req, 200, text, len);
  return DB_JOB_COMMIT;
}

void api_wallet_get(struct http_req *req) {
  struct wallet_q *q = api_ctx(req, sizeof *q);
  if (!q || api_query_str(req, "merchantId", q->merchant_id, sizeof q->merchant_id) != 0 ||
      api_query_str(req, "userId", q->user_id, sizeof q->user_id) != 0) return;
  if (!q->user_id[0] && req->principal.kind == PRINCIPAL_MEMBER) {
    snprintf(q->user_id, sizeof q->user_id, "%s", req->principal.subject); /* a member's own */
  }
  if (!api_valid_id(q->merchant_id) || !api_valid_id(q->user_id)) {
    http_reply_error(req, MPS_E_BAD_REQUEST, "merchantId and userId query parameters are required",
                     json_pack("{s:s}", "parameter", !api_valid_id(q->merchant_id) ? "merchantId" : "userId"));
    return;
  }
  http_defer_prefetched(req, DB_JOB_READ, wallet_get_prefetch, wallet_run);
}
