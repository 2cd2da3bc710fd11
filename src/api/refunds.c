/* refunds.c — POST /api/payment/refund {merchantId, paymentTxnId, refundAmount}
 * (Idempotency-Key required): refund part or all of a PAID payment (service/refunds.h).
 * Merchant owner, manager and finance only (the routing table); the service checks the
 * merchant scope and that the payment is this merchant's. */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "api/body_specs.h"
#include "api/util.h"
#include "http/json_decode.h"
#include "http/server.h"
#include "service/refunds.h"

struct refund_body {
  char merchant_id[65], payment_id[65];
  int64_t amount;
  struct api_idem idem;
};

static const struct json_field refund_spec[] = {
    {.name = "merchantId", .type = JF_STRING, .required = true, .offset = offsetof(struct refund_body, merchant_id), .size = 65, .min = 1},
    {.name = "paymentTxnId", .type = JF_STRING, .required = true, .offset = offsetof(struct refund_body, payment_id), .size = 65, .min = 1},
    {.name = "refundAmount", .type = JF_INT, .required = true, .offset = offsetof(struct refund_body, amount), .min = 1, .max = MONEY_MAX_MINOR},
};
const struct api_body_spec api_spec_refund = {"POST /api/payment/refund", refund_spec, sizeof refund_spec / sizeof refund_spec[0], sizeof(struct refund_body)};

static int refund_work(db_conn *c, struct http_req *req) {
  struct refund_body *b = req->ctx;
  struct actor a = api_actor(req);
  struct refund r;
  struct svc_error err = {0};
  int rc = refund_create(c, &a, b->merchant_id, b->payment_id, b->amount, &r, &err);
  if (rc == SVC_OK) http_reply_json(req, 200, refund_json(&r));
  return api_finish(req, rc, &err);
}

/* The key's claim, the payment's lock and row, with the token check: one round trip. */
static int refund_prefetch(db_conn *c, struct http_req *req) {
  struct refund_body *b = req->ctx;
  int rc = api_idem_prefetch(c, &b->idem);
  if (rc < 0) return rc;
  struct actor a = api_actor(req);
  return refund_create_prefetch(c, &a, b->merchant_id, b->payment_id);
}

static int refund_run(db_conn *c, struct http_req *req) {
  struct refund_body *b = req->ctx;
  return api_idem_run(c, req, &b->idem, refund_work);
}

void api_payment_refund(struct http_req *req) {
  struct refund_body *b = api_ctx(req, sizeof *b);
  if (!b || http_decode_body(req, refund_spec, sizeof refund_spec / sizeof refund_spec[0], b) != 0) return;
  if (!api_valid_id(b->merchant_id) || !api_valid_id(b->payment_id)) {
    const char *field = !api_valid_id(b->merchant_id) ? "merchantId" : "paymentTxnId";
    http_reply_error(req, MPS_E_VALIDATION_FAILED, "merchantId and paymentTxnId must be ids",
                     json_pack("{s:s, s:s}", "field", field, "reason", "is not an id"));
    return;
  }
  if (api_idem_prepare(req, &b->idem) != 0) return;
  http_defer_prefetched(req, DB_JOB_WRITE, refund_prefetch, refund_run);
}
