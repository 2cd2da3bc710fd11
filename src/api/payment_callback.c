/* payment_callback.c — POST /api/payment/callback: the payment gateway reports that the
 * external part of a payment (pay_…) or an external top-up (top_…) succeeded or failed.
 *
 * Public route, authenticated by an HMAC-SHA256 signature of the raw body in
 * X-Payment-Signature under MPS_PAYMENT_CALLBACK_SECRET (domain/signature.h). Order:
 *   1. no secret configured        -> 503 NOT_READY (never accept unsigned callbacks)
 *   2. signature missing or wrong  -> 401 UNAUTHORIZED, a DENIED audit entry, nothing else
 *   3. body fields, status         -> 400
 *   4. service/callbacks.h in one WRITE job: the effect and the record of the callback with
 *      its reply commit together; a replay answers the stored reply byte for byte
 *      (header Idempotent-Replayed: true). */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "api/body_specs.h"
#include "api/util.h"
#include "common/clock.h"
#include "domain/money.h"
#include "domain/signature.h"
#include "http/json_decode.h"
#include "http/server.h"
#include "service/audit.h"
#include "service/callbacks.h"

#define SIGNATURE_HEADER "X-Payment-Signature"

struct cb_body {
  char merchant_id[65], txn_id[65], external_txn_id[129], status[16], callback_id[CALLBACK_ID_MAX + 1];
  int64_t paid_amount;
  /* a refused signature: why, and what the body claimed (unverified, for the audit) */
  const char *sig_reason;
  char claimed_txn[65], claimed_callback[65], claimed_merchant[65];
};

static const struct json_field cb_spec[] = {
    {.name = "merchantId", .type = JF_STRING, .required = true, .offset = offsetof(struct cb_body, merchant_id), .size = 65, .min = 1},
    {.name = "paymentTxnId", .type = JF_STRING, .required = true, .offset = offsetof(struct cb_body, txn_id), .size = 65, .min = 1},
    {.name = "externalTxnId", .type = JF_STRING, .required = true, .offset = offsetof(struct cb_body, external_txn_id), .size = 129, .min = 1},
    {.name = "status", .type = JF_STRING, .required = true, .offset = offsetof(struct cb_body, status), .size = 16, .min = 1},
    {.name = "paidAmount", .type = JF_INT, .required = true, .offset = offsetof(struct cb_body, paid_amount), .min = 0, .max = MONEY_MAX_MINOR},
    {.name = "callbackId", .type = JF_STRING, .required = true, .offset = offsetof(struct cb_body, callback_id), .size = CALLBACK_ID_MAX + 1, .min = 1},
};
const struct api_body_spec api_spec_callback = {"POST /api/payment/callback", cb_spec, sizeof cb_spec / sizeof cb_spec[0], sizeof(struct cb_body)};

static bool printable(const char *s) {
  for (; *s; s++) {
    if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e) return false;
  }
  return true;
}

static void claimed(const struct http_req *req, const char *name, char *out, size_t len) {
  const char *v = json_is_object(req->json) ? json_string_value(json_object_get(req->json, name)) : NULL;
  snprintf(out, len, "%s", v && printable(v) ? v : "");
}

/* The DENIED audit entry of a refused signature; the 401 reply is already set. Platform
 * chain: nothing the body claims is verified, so it goes into no merchant's chain. */
static int deny_run(db_conn *c, struct http_req *req) {
  struct cb_body *b = req->ctx;
  struct audit_record r;
  http_audit_caller(req, &r);
  json_t *details = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "code", "UNAUTHORIZED", "reason", b->sig_reason,
                              "client_ip", req->client_ip, "claimedMerchantId", b->claimed_merchant,
                              "claimedPaymentTxnId", b->claimed_txn, "claimedCallbackId", b->claimed_callback);
  r.action = "PAYMENT_CALLBACK";
  r.target = b->claimed_txn[0] ? b->claimed_txn : "POST /api/payment/callback";
  r.status = "DENIED";
  r.details = details;
  int rc = audit_append(c, &r);
  json_decref(details);
  return rc < 0 ? rc : DB_JOB_COMMIT;
}

static struct callback_in callback_in_of(const struct cb_body *b) {
  return (struct callback_in){.callback_id = b->callback_id, .merchant_id = b->merchant_id, .txn_id = b->txn_id,
                              .external_txn_id = b->external_txn_id, .status = b->status,
                              .paid_amount = b->paid_amount};
}

static int callback_prefetch_run(db_conn *c, struct http_req *req) {
  struct callback_in in = callback_in_of(req->ctx);
  return callback_prefetch(c, &in);
}

static int callback_run(db_conn *c, struct http_req *req) {
  struct cb_body *b = req->ctx;
  struct callback_in in = callback_in_of(b);
  struct actor a = api_actor(req);
  int64_t now = clock_now_ms();
  struct callback_outcome o;
  int rc = callback_process(c, &a, &in, now, &o);
  if (rc < 0) {
    callback_outcome_clear(&o);
    return rc;
  }
  if (o.kind == CALLBACK_REPLAY) {
    http_reply_text(req, o.replay_status, "application/json", o.replay_body, strlen(o.replay_body));
    http_add_header(req, "Idempotent-Replayed", "true");
    callback_outcome_clear(&o);
    return DB_JOB_ROLLBACK; /* nothing new to write */
  }
  if (o.kind == CALLBACK_APPLIED) {
    http_reply_json(req, 200, o.reply);
    o.reply = NULL;
  } else {
    http_reply_error(req, o.err.code, o.err.message, o.err.details);
    o.err.details = NULL;
  }
  callback_outcome_clear(&o);
  rc = callback_record(c, &in, req->status, req->reply_body, now);
  return rc < 0 ? rc : DB_JOB_COMMIT; /* a refusal is recorded too */
}

void api_payment_callback(struct http_req *req) {
  struct cb_body *b = api_ctx(req, sizeof *b);
  if (!b) return;
  const char *secrets = req->app->cfg.payment_callback_secret;
  enum sig_result sr = sig_verify(http_header(req, SIGNATURE_HEADER), secrets, req->body ? req->body : "",
                                  req->body ? req->body_len : 0, clock_now_ms() / 1000, SIG_TOLERANCE_S);
  if (sr == SIG_NO_SECRET) {
    http_reply_error(req, MPS_E_NOT_READY, "gateway callbacks are off: MPS_PAYMENT_CALLBACK_SECRET is not set",
                     json_pack("{s:s}", "setting", "MPS_PAYMENT_CALLBACK_SECRET"));
    return;
  }
  if (sr != SIG_OK) {
    b->sig_reason = sig_result_name(sr);
    claimed(req, "paymentTxnId", b->claimed_txn, sizeof b->claimed_txn);
    claimed(req, "callbackId", b->claimed_callback, sizeof b->claimed_callback);
    claimed(req, "merchantId", b->claimed_merchant, sizeof b->claimed_merchant);
    http_reply_error(req, MPS_E_UNAUTHORIZED, "the callback signature is missing, malformed, stale or wrong",
                     json_pack("{s:s, s:s}", "header", SIGNATURE_HEADER, "reason", b->sig_reason));
    http_defer(req, DB_JOB_WRITE, deny_run);
    return;
  }
  if (http_decode_body(req, cb_spec, sizeof cb_spec / sizeof cb_spec[0], b) != 0) return;
  const char *bad = NULL, *why = "is not an id";
  if (!api_valid_id(b->merchant_id)) bad = "merchantId";
  else if (!api_valid_id(b->txn_id)) bad = "paymentTxnId";
  else if (!printable(b->external_txn_id)) bad = "externalTxnId", why = "must be printable ASCII without spaces";
  else if (!printable(b->callback_id)) bad = "callbackId", why = "must be printable ASCII without spaces";
  if (bad) {
    char msg[96];
    snprintf(msg, sizeof msg, "field '%s' %s", bad, why);
    http_reply_error(req, MPS_E_VALIDATION_FAILED, msg, json_pack("{s:s, s:s}", "field", bad, "reason", why));
    return;
  }
  if (strcmp(b->status, "SUCCEEDED") != 0 && strcmp(b->status, "PAID") != 0 && strcmp(b->status, "FAILED") != 0) {
    http_reply_error(req, MPS_E_VALIDATION_FAILED, "field 'status' must be SUCCEEDED, PAID or FAILED",
                     json_pack("{s:s, s:s}", "field", "status", "reason", "is not SUCCEEDED, PAID or FAILED"));
    return;
  }
  http_defer_prefetched(req, DB_JOB_WRITE, callback_prefetch_run, callback_run);
}
