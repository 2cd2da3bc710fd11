/* wallet_ops.c — POST /api/merchant/grants (bonus, silver, vouchers), POST /api/wallet/topup
 * (Idempotency-Key required), GET and PUT /api/merchants/{merchantId}/topup-bonus-rules. */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "api/body_specs.h"
#include "api/util.h"
#include "http/json_decode.h"
#include "http/server.h"
#include "service/wallet_ops.h"

struct grant_body {
  char merchant_id[65], user_id[65], type[10], expires_at[40], reason[257];
  int64_t amount, value, min_spend;
  bool has_amount, has_value;
  struct api_idem idem;
};

static const struct json_field grant_spec[] = {
    {.name = "merchantId", .type = JF_STRING, .required = true, .offset = offsetof(struct grant_body, merchant_id), .size = 65, .min = 1},
    {.name = "userId", .type = JF_STRING, .required = true, .offset = offsetof(struct grant_body, user_id), .size = 65, .min = 1},
    {.name = "type", .type = JF_STRING, .required = true, .offset = offsetof(struct grant_body, type), .size = 10, .min = 1},
    {.name = "amount", .type = JF_INT, .offset = offsetof(struct grant_body, amount), .min = 1, .max = MONEY_MAX_MINOR, .present = JF_PRESENT(struct grant_body, has_amount)},
    {.name = "value", .type = JF_INT, .offset = offsetof(struct grant_body, value), .min = 1, .max = MONEY_MAX_MINOR, .present = JF_PRESENT(struct grant_body, has_value)},
    {.name = "minSpend", .type = JF_INT, .offset = offsetof(struct grant_body, min_spend), .min = 0, .max = MONEY_MAX_MINOR},
    {.name = "expiresAt", .type = JF_STRING, .offset = offsetof(struct grant_body, expires_at), .size = 40},
    {.name = "reason", .type = JF_STRING, .offset = offsetof(struct grant_body, reason), .size = 257},
};
const struct api_body_spec api_spec_grant = {"POST /api/merchant/grants", grant_spec, sizeof grant_spec / sizeof grant_spec[0], sizeof(struct grant_body)};

static int grant_work(db_conn *c, struct http_req *req) {
  struct grant_body *b = req->ctx;
  struct money_ctx m;
  int result = 0;
  if (api_money_ctx(c, req, b->merchant_id, b->user_id, &m, &result) != 0) return result;
  struct actor a = api_actor(req);
  bool voucher = strcmp(b->type, "VOUCHER") == 0;
  int64_t expires_ms = 0;
  if (b->expires_at[0] && api_parse_time(b->expires_at, &expires_ms) != 0) {
    http_reply_error(req, MPS_E_VALIDATION_FAILED, "field 'expiresAt' must be RFC 3339 UTC",
                     json_pack("{s:s, s:s}", "field", "expiresAt", "reason", "is not a time"));
    return DB_JOB_ROLLBACK;
  }
  struct grant_input in = {.type = b->type, .amount = voucher ? b->value : b->amount, .min_spend = b->min_spend,
                           .expires_at_ms = expires_ms, .reason = b->reason};
  struct grant_result g;
  struct svc_error err = {0};
  int rc = grant_create(c, &a, &m, &in, &g, &err);
  if (rc == SVC_OK) {
    http_reply_json(req, 201, json_pack("{s:s, s:s, s:s, s:s, s:I, s:s?}", "grantId", g.id, "merchantId", m.merchant_id,
                                        "userId", m.member_id, "type", b->type, "amount", (json_int_t)in.amount,
                                        "voucherId", g.voucher_id[0] ? g.voucher_id : NULL));
  }
  return api_finish(req, rc, &err);
}

/* The merchant and member and the key's claim, with the token check: one round trip;
 * grant_create reads the rest in a second (D55). */
static int grant_prefetch(db_conn *c, struct http_req *req) {
  struct grant_body *b = req->ctx;
  int rc = money_ctx_prefetch(c, b->merchant_id, b->user_id);
  return rc < 0 ? rc : api_idem_prefetch(c, &b->idem);
}

static int grant_run(db_conn *c, struct http_req *req) {
  struct grant_body *b = req->ctx;
  return api_idem_run(c, req, &b->idem, grant_work);
}

void api_grants_create(struct http_req *req) {
  struct grant_body *b = api_ctx(req, sizeof *b);
  if (!b || http_decode_body(req, grant_spec, sizeof grant_spec / sizeof grant_spec[0], b) != 0) return;
  bool voucher = strcmp(b->type, "VOUCHER") == 0;
  const char *need = voucher ? (b->has_value ? NULL : "value") : (b->has_amount ? NULL : "amount");
  if (need) {
    char msg[96];
    snprintf(msg, sizeof msg, "field '%s' is required for a %s grant", need, b->type);
    http_reply_error(req, MPS_E_VALIDATION_FAILED, msg, json_pack("{s:s, s:s}", "field", need, "reason", "is required"));
    return;
  }
  if (api_idem_prepare(req, &b->idem) != 0) return;
  http_defer_prefetched(req, DB_JOB_WRITE, grant_prefetch, grant_run);
}

struct topup_body {
  char merchant_id[65], user_id[65], method[10];
  int64_t amount;
  struct api_idem idem;
};

static const struct json_field topup_spec[] = {
    {.name = "merchantId", .type = JF_STRING, .required = true, .offset = offsetof(struct topup_body, merchant_id), .size = 65, .min = 1},
    {.name = "userId", .type = JF_STRING, .required = true, .offset = offsetof(struct topup_body, user_id), .size = 65, .min = 1},
    {.name = "amount", .type = JF_INT, .required = true, .offset = offsetof(struct topup_body, amount), .min = 1, .max = MONEY_MAX_MINOR},
    {.name = "method", .type = JF_STRING, .offset = offsetof(struct topup_body, method), .size = 10},
};
const struct api_body_spec api_spec_topup = {"POST /api/wallet/topup", topup_spec, sizeof topup_spec / sizeof topup_spec[0], sizeof(struct topup_body)};

static int topup_work(db_conn *c, struct http_req *req) {
  struct topup_body *b = req->ctx;
  struct money_ctx m;
  int result = 0;
  if (api_money_ctx(c, req, b->merchant_id, b->user_id, &m, &result) != 0) return result;
  struct actor a = api_actor(req);
  struct topup t;
  struct svc_error err = {0};
  int rc = topup_create(c, &a, &m, b->amount, b->method, req->app->cfg.payment_pending_ttl_s, &t, &err);
  if (rc == SVC_OK) http_reply_json(req, strcmp(t.status, "SUCCEEDED") == 0 ? 201 : 202, topup_json(&t));
  return api_finish(req, rc, &err);
}

/* The merchant and member, the key's claim and the bonus rules, with the token check: one
 * round trip; topup_create reads the rest in a second (D55). */
static int topup_prefetch(db_conn *c, struct http_req *req) {
  struct topup_body *b = req->ctx;
  int rc = money_ctx_prefetch(c, b->merchant_id, b->user_id);
  if (rc >= 0) rc = api_idem_prefetch(c, &b->idem);
  return rc < 0 ? rc : topup_rules_prefetch(c, b->merchant_id);
}

static int topup_run(db_conn *c, struct http_req *req) {
  struct topup_body *b = req->ctx;
  return api_idem_run(c, req, &b->idem, topup_work);
}

void api_topup_create(struct http_req *req) {
  struct topup_body *b = api_ctx(req, sizeof *b);
  if (!b || http_decode_body(req, topup_spec, sizeof topup_spec / sizeof topup_spec[0], b) != 0) return;
  if (!b->method[0]) snprintf(b->method, sizeof b->method, "%s", req->principal.kind == PRINCIPAL_MEMBER ? "EXTERNAL" : "CASH");
  if (api_idem_prepare(req, &b->idem) != 0) return;
  http_defer_prefetched(req, DB_JOB_WRITE, topup_prefetch, topup_run);
}

static json_t *rules_json(const char *merchant_id, const struct topup_rule *r, int n) {
  json_t *arr = json_array();
  for (int i = 0; i < n; i++) {
    json_array_append_new(arr, json_pack("{s:I, s:I}", "minAmount", (json_int_t)r[i].min_amount,
                                         "bonusAmount", (json_int_t)r[i].bonus_amount));
  }
  return json_pack("{s:s, s:o}", "merchantId", merchant_id, "rules", arr);
}

static int rules_get_run(db_conn *c, struct http_req *req) {
  const char *merchant_id = http_param(req, "merchantId");
  struct actor a = api_actor(req);
  struct svc_error err = {0};
  int rc = svc_scope(&a, merchant_id, &err);
  if (rc != SVC_OK) return api_finish(req, rc, &err);
  struct topup_rule rules[TOPUP_RULES_MAX];
  int n = 0;
  rc = topup_rules_get(c, merchant_id, rules, &n);
  if (rc < 0) return rc;
  http_reply_json(req, 200, rules_json(merchant_id, rules, n));
  return DB_JOB_COMMIT;
}

void api_topup_rules_get(struct http_req *req) { http_defer(req, DB_JOB_READ, rules_get_run); }

struct rules_body {
  json_t *rules;
  struct topup_rule parsed[TOPUP_RULES_MAX];
  int count;
};

static const struct json_field rules_spec[] = {
    {.name = "rules", .type = JF_ARRAY, .required = true, .offset = offsetof(struct rules_body, rules), .min = 0, .max = TOPUP_RULES_MAX},
};
const struct api_body_spec api_spec_topup_rules = {"PUT /api/merchants/{merchantId}/topup-bonus-rules", rules_spec, sizeof rules_spec / sizeof rules_spec[0], sizeof(struct rules_body)};

struct rule_item {
  int64_t min_amount, bonus_amount;
};

static const struct json_field rule_spec[] = {
    {.name = "minAmount", .type = JF_INT, .required = true, .offset = offsetof(struct rule_item, min_amount), .min = 1, .max = MONEY_MAX_MINOR},
    {.name = "bonusAmount", .type = JF_INT, .required = true, .offset = offsetof(struct rule_item, bonus_amount), .min = 1, .max = MONEY_MAX_MINOR},
};
const struct api_body_spec api_spec_topup_rule = {"PUT /api/merchants/{merchantId}/topup-bonus-rules rules[]", rule_spec, sizeof rule_spec / sizeof rule_spec[0], sizeof(struct rule_item)};

static int rules_put_run(db_conn *c, struct http_req *req) {
  struct rules_body *b = req->ctx;
  const char *merchant_id = http_param(req, "merchantId");
  struct actor a = api_actor(req);
  struct svc_error err = {0};
  int rc = topup_rules_set(c, &a, merchant_id, b->parsed, b->count, &err);
  if (rc == SVC_OK) http_reply_json(req, 200, rules_json(merchant_id, b->parsed, b->count));
  return api_finish(req, rc, &err);
}

void api_topup_rules_put(struct http_req *req) {
  struct rules_body *b = api_ctx(req, sizeof *b);
  if (!b || http_decode_body(req, rules_spec, 1, b) != 0) return;
  size_t i;
  json_t *item;
  json_array_foreach(b->rules, i, item) {
    struct rule_item r = {0};
    struct json_decode_error e;
    if (json_decode(item, rule_spec, 2, &r, &e) != 0) {
      char field[96], msg[320];
      snprintf(field, sizeof field, "rules[%zu].%s", i, e.field);
      snprintf(msg, sizeof msg, "field '%s' %s", field, e.reason);
      http_reply_error(req, MPS_E_VALIDATION_FAILED, msg, json_pack("{s:s, s:s}", "field", field, "reason", e.reason));
      return;
    }
    b->parsed[b->count++] = (struct topup_rule){r.min_amount, r.bonus_amount};
  }
  http_defer(req, DB_JOB_WRITE, rules_put_run);
}
