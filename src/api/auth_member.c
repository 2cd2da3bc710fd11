/* auth_member.c — POST /api/auth/member/request-code {merchantId, phone} and
 * POST /api/auth/member/login {merchantId, phone, code} -> {token, profile}. Public, rate
 * limited per client IP (route) and per phone (here). */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "api/body_specs.h"
#include "api/util.h"
#include "common/clock.h"
#include "domain/phone.h"
#include "http/json_decode.h"
#include "http/ratelimit.h"
#include "http/server.h"
#include "service/member_auth.h"

struct member_body {
  char merchant_id[65], phone[41], code[7];
  char phone_norm[PHONE_MAX];
};

static const struct json_field code_spec[] = {
    {.name = "merchantId", .type = JF_STRING, .required = true, .offset = offsetof(struct member_body, merchant_id), .size = 65, .min = 1},
    {.name = "phone", .type = JF_STRING, .required = true, .offset = offsetof(struct member_body, phone), .size = 41, .min = 1},
    {.name = "code", .type = JF_STRING, .required = true, .offset = offsetof(struct member_body, code), .size = 7, .min = 6},
};
const struct api_body_spec api_spec_member_code = {"POST /api/auth/member/request-code", code_spec, 2, sizeof(struct member_body)};
const struct api_body_spec api_spec_member_login = {"POST /api/auth/member/login", code_spec, 3, sizeof(struct member_body)};

/* Decode, normalise the phone and take a per-phone token. 0, or -1 with a reply set. */
static int decode(struct http_req *req, struct member_body *b, size_t fields) {
  if (http_decode_body(req, code_spec, fields, b) != 0) return -1;
  if (!api_valid_id(b->merchant_id)) {
    http_reply_error(req, MPS_E_VALIDATION_FAILED, "field 'merchantId' is not an id",
                     json_pack("{s:s, s:s}", "field", "merchantId", "reason", "is not an id"));
    return -1;
  }
  if (phone_normalize(b->phone, b->phone_norm) != 0) {
    http_reply_error(req, MPS_E_VALIDATION_FAILED, "field 'phone' must be 6 to 20 digits with an optional leading +",
                     json_pack("{s:s, s:s}", "field", "phone", "reason", "is not a phone number"));
    return -1;
  }
  char key[96];
  snprintf(key, sizeof key, "member:%s:%s", b->merchant_id, b->phone_norm);
  int retry_s = 1;
  if (ratelimit_take(RATE_ACCOUNT, key, clock_now_ms(), &retry_s) != 0) {
    char retry[16];
    snprintf(retry, sizeof retry, "%d", retry_s);
    http_reply_error(req, MPS_E_RATE_LIMITED, "too many attempts for this phone; retry later",
                     json_pack("{s:i}", "retry_after_s", retry_s));
    http_add_header(req, "Retry-After", retry);
    return -1;
  }
  return 0;
}

static int request_run(db_conn *c, struct http_req *req) {
  struct member_body *b = req->ctx;
  struct actor a = api_actor(req);
  struct svc_error err = {0};
  int rc = member_code_request(c, &a, b->merchant_id, b->phone_norm, req->app->cfg.jwt_secret,
                               req->app->cfg.login_code_ttl_s, &err);
  if (rc == SVC_OK) {
    http_reply_json(req, 202, json_pack("{s:b, s:s, s:i}", "sent", 1, "phone", b->phone_norm,
                                        "expiresInS", req->app->cfg.login_code_ttl_s));
  }
  return api_finish(req, rc, &err);
}

void api_member_request_code(struct http_req *req) {
  struct member_body *b = api_ctx(req, sizeof *b);
  if (!b || decode(req, b, api_spec_member_code.count) != 0) return;
  http_defer(req, DB_JOB_WRITE, request_run);
}

static int login_run(db_conn *c, struct http_req *req) {
  struct member_body *b = req->ctx;
  struct actor a = api_actor(req);
  struct svc_error err = {0};
  struct member_login_result res;
  int rc = member_code_login(c, &a, b->merchant_id, b->phone_norm, b->code, req->app->cfg.jwt_secret, &res, &err);
  if (rc != SVC_OK) return api_finish(req, rc, &err);
  if (!res.ok) { /* commit: the attempt counter and the audit entry must stay */
    http_reply_error(req, MPS_E_UNAUTHORIZED, "the code is wrong, expired or used up",
                     json_pack("{s:s}", "reason", res.reason));
    return DB_JOB_COMMIT;
  }
  struct principal p = {.kind = PRINCIPAL_MEMBER, .role = role_find(PRINCIPAL_MEMBER, "member"),
                        .token_version = res.token_version};
  snprintf(p.subject, sizeof p.subject, "%s", res.member_id);
  snprintf(p.merchant_id, sizeof p.merchant_id, "%s", b->merchant_id);
  int64_t now = clock_now_ms();
  p.expires_at_ms = (now / 1000 + req->app->cfg.jwt_ttl_s) * 1000;
  char token[TOKEN_MAX_LEN];
  if (token_issue(&p, req->app->cfg.jwt_secret, now, req->app->cfg.jwt_ttl_s, token, sizeof token) != 0) {
    http_reply_error(req, MPS_E_INTERNAL, "could not sign the token", NULL);
    return DB_JOB_ROLLBACK;
  }
  json_t *profile = principal_json(&p);
  json_object_set_new(profile, "displayName", json_string(res.display_name));
  json_object_set_new(profile, "phone", json_string(b->phone_norm));
  json_object_set_new(profile, "created", json_boolean(res.created));
  http_reply_json(req, 200, json_pack("{s:s, s:s, s:I, s:o}", "token", token, "tokenType", "Bearer",
                                      "expiresAtMs", (json_int_t)p.expires_at_ms, "profile", profile));
  return DB_JOB_COMMIT;
}

void api_member_login(struct http_req *req) {
  struct member_body *b = api_ctx(req, sizeof *b);
  if (!b || decode(req, b, api_spec_member_login.count) != 0) return;
  for (const char *p = b->code; *p; p++) {
    if (*p < '0' || *p > '9') {
      http_reply_error(req, MPS_E_VALIDATION_FAILED, "field 'code' must be 6 digits",
                       json_pack("{s:s, s:s}", "field", "code", "reason", "must be 6 digits"));
      return;
    }
  }
  http_defer(req, DB_JOB_WRITE, login_run);
}
