/* auth_mock.c — POST /api/auth/mock-login {role, merchantId, userId} -> {token, profile}:
 * a token for any role without a password, as in the MealQuest seed, for demos and tests.
 * It exists only when MPS_DEV_MODE=1 (otherwise 404, as if the route were not there), and
 * its tokens carry token version 0, which mpsd accepts only in development mode.
 * Roles: the seed's CUSTOMER/CLERK/MANAGER/OWNER, or any mps role name; a platform role
 * is chosen when no merchantId is given. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "api/util.h"
#include "common/clock.h"
#include "common/ids.h"
#include "http/json_decode.h"
#include "http/server.h"

struct mock_body {
  char role[32], merchant_id[65], user_id[65];
};

static const struct json_field mock_spec[] = {
    {.name = "role", .type = JF_STRING, .required = true, .offset = offsetof(struct mock_body, role), .size = 32, .min = 1},
    {.name = "merchantId", .type = JF_STRING, .offset = offsetof(struct mock_body, merchant_id), .size = 65},
    {.name = "userId", .type = JF_STRING, .offset = offsetof(struct mock_body, user_id), .size = 65},
};

json_t *principal_json(const struct principal *p) {
  return json_pack("{s:s, s:s, s:s, s:s?, s:I}", "userId", p->subject, "kind",
                   principal_kind_name(p->kind), "role", p->role->name, "merchantId",
                   p->merchant_id[0] ? p->merchant_id : NULL, "expiresAtMs",
                   (json_int_t)p->expires_at_ms);
}

static void lower(char *s) {
  for (; *s; s++) *s = (char)tolower((unsigned char)*s);
}

void api_auth_mock_login(struct http_req *req) {
  if (!req->app->cfg.dev_mode) {
    http_reply_error(req, MPS_E_NOT_FOUND, "no route for this path", json_pack("{s:s}", "path", req->path));
    return;
  }
  struct mock_body b = {0};
  if (http_decode_body(req, mock_spec, sizeof mock_spec / sizeof mock_spec[0], &b) != 0) return;
  lower(b.role);
  if (strcmp(b.role, "customer") == 0) snprintf(b.role, sizeof b.role, "member");
  struct principal p = {0};
  p.kind = strcmp(b.role, "member") == 0 ? PRINCIPAL_MEMBER
           : b.merchant_id[0]            ? PRINCIPAL_MERCHANT
                                         : PRINCIPAL_PLATFORM;
  p.role = role_find(p.kind, b.role);
  if (!p.role) {
    http_reply_error(req, MPS_E_VALIDATION_FAILED,
                     p.kind == PRINCIPAL_PLATFORM ? "unknown platform role (give merchantId for a merchant role)"
                                                  : "unknown role",
                     json_pack("{s:s, s:s}", "field", "role", "reason", "is not a known role"));
    return;
  }
  if (p.kind != PRINCIPAL_PLATFORM && !api_valid_id(b.merchant_id)) {
    http_reply_error(req, MPS_E_VALIDATION_FAILED, "merchantId is required for this role",
                     json_pack("{s:s, s:s}", "field", "merchantId", "reason", "is required"));
    return;
  }
  if (b.user_id[0] && !api_valid_id(b.user_id)) {
    http_reply_error(req, MPS_E_VALIDATION_FAILED, "userId must be 1 to 64 id characters",
                     json_pack("{s:s, s:s}", "field", "userId", "reason", "is not an id"));
    return;
  }
  if (b.user_id[0]) snprintf(p.subject, sizeof p.subject, "%s", b.user_id);
  else id_new("dev", p.subject, sizeof p.subject);
  snprintf(p.merchant_id, sizeof p.merchant_id, "%s", b.merchant_id);
  p.token_version = 0;
  int64_t now = clock_now_ms();
  p.expires_at_ms = (now / 1000 + req->app->cfg.jwt_ttl_s) * 1000;
  char token[TOKEN_MAX_LEN];
  if (token_issue(&p, req->app->cfg.jwt_secret, now, req->app->cfg.jwt_ttl_s, token, sizeof token) != 0) {
    http_reply_error(req, MPS_E_INTERNAL, "could not sign the token", NULL);
    return;
  }
  http_reply_json(req, 200, json_pack("{s:s, s:o}", "token", token, "profile", principal_json(&p)));
}
