/* auth_login.c — POST /admin/login and POST /merchant/login {email, password} -> {token,
 * profile}, and GET /api/me (who the token says the caller is).
 *
 * The password check (argon2id, ~70 ms) runs in a READ job on a store reader thread; the
 * audit entry (LOGIN SUCCESS / FAILED / BLOCKED) follows in a chained WRITE job. Unknown
 * email and wrong password answer the same 401 after the same work, so accounts cannot be
 * discovered. A suspended or rejected merchant's staff cannot log in. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "api/body_specs.h"
#include "api/util.h"
#include "common/clock.h"
#include "http/json_decode.h"
#include "http/ratelimit.h"
#include "http/server.h"
#include "service/audit.h"
#include "service/users.h"

struct login_ctx {
  char email[129], password[PASSWORD_MAX_LEN + 1];
  const char *kind;
  const char *outcome;  /* SUCCESS | FAILED | BLOCKED */
  const char *reason;
  struct user user;
};

static const struct json_field login_spec[] = {
    {.name = "email", .type = JF_STRING, .required = true, .offset = offsetof(struct login_ctx, email), .size = 129, .min = 3},
    {.name = "password", .type = JF_STRING, .required = true, .offset = offsetof(struct login_ctx, password), .size = PASSWORD_MAX_LEN + 1, .min = 1},
};
const struct api_body_spec api_spec_login = {"POST /admin/login, POST /merchant/login", login_spec, sizeof login_spec / sizeof login_spec[0], sizeof(struct login_ctx)};

static int audit_run(db_conn *c, struct http_req *req) {
  struct login_ctx *l = req->ctx;
  bool known = l->user.id[0] != '\0';
  struct audit_record r = {.actor = known ? l->user.id : "anonymous", .role = known ? l->user.role : "none",
                           .merchant_id = known ? l->user.merchant_id : NULL, .action = "LOGIN",
                           .target = l->email, .status = l->outcome, .request_id = req->request_id};
  json_t *d = json_pack("{s:s, s:s, s:s?}", "kind", l->kind, "client_ip", req->client_ip, "reason", l->reason);
  r.details = d;
  int rc = audit_append(c, &r);
  json_decref(d);
  return rc < 0 ? rc : DB_JOB_COMMIT;
}

static void refuse(struct http_req *req, struct login_ctx *l, const char *reason) {
  l->outcome = "FAILED";
  l->reason = reason;
  http_reply_error(req, MPS_E_UNAUTHORIZED, "wrong email or password", NULL);
}

static int verify_run(db_conn *c, struct http_req *req) {
  struct login_ctx *l = req->ctx;
  struct login_candidate cand;
  int rc = user_login_lookup(c, l->kind, l->email, &cand);
  if (rc < 0) return rc;
  if (cand.found) l->user = cand.user;
  bool ok = password_verify(cand.found ? cand.password_hash : NULL, l->password);
  sodium_memzero(l->password, sizeof l->password);
  http_defer_next(req, DB_JOB_WRITE, audit_run);
  if (!ok) {
    refuse(req, l, cand.found ? "wrong password" : "unknown email");
    return DB_JOB_COMMIT;
  }
  if (strcmp(cand.user.status, "ACTIVE") != 0) {
    refuse(req, l, "account disabled");
    return DB_JOB_COMMIT;
  }
  if (cand.user.merchant_id[0] && strcmp(cand.merchant_status, "SUSPENDED") == 0) {
    refuse(req, l, "merchant suspended");
    return DB_JOB_COMMIT;
  }
  if (cand.user.merchant_id[0] && strcmp(cand.merchant_status, "REJECTED") == 0) {
    refuse(req, l, "merchant rejected");
    return DB_JOB_COMMIT;
  }
  struct principal p = {.kind = strcmp(l->kind, "platform") == 0 ? PRINCIPAL_PLATFORM : PRINCIPAL_MERCHANT,
                        .token_version = cand.user.token_version};
  p.role = role_find(p.kind, cand.user.role);
  snprintf(p.subject, sizeof p.subject, "%s", cand.user.id);
  snprintf(p.merchant_id, sizeof p.merchant_id, "%s", cand.user.merchant_id);
  int64_t now = clock_now_ms();
  p.expires_at_ms = (now / 1000 + req->app->cfg.jwt_ttl_s) * 1000;
  char token[TOKEN_MAX_LEN];
  if (!p.role || token_issue(&p, req->app->cfg.jwt_secret, now, req->app->cfg.jwt_ttl_s, token, sizeof token) != 0) {
    l->outcome = "FAILED";
    l->reason = "could not sign a token";
    http_reply_error(req, MPS_E_INTERNAL, "could not sign the token", NULL);
    return DB_JOB_COMMIT;
  }
  l->outcome = "SUCCESS";
  json_t *profile = principal_json(&p);
  json_object_set_new(profile, "email", json_string(cand.user.email));
  json_object_set_new(profile, "displayName", json_string(cand.user.display_name));
  http_reply_json(req, 200, json_pack("{s:s, s:s, s:I, s:o}", "token", token, "tokenType", "Bearer",
                                      "expiresAtMs", (json_int_t)p.expires_at_ms, "profile", profile));
  return DB_JOB_COMMIT;
}

static void login(struct http_req *req, const char *kind) {
  struct login_ctx *l = api_ctx(req, sizeof *l);
  if (!l) return;
  l->kind = kind;
  if (http_decode_body(req, login_spec, 2, l) != 0) return;
  char key[160];
  snprintf(key, sizeof key, "%s:%s", kind, l->email);
  int retry_s = 1;
  if (ratelimit_take(RATE_ACCOUNT, key, clock_now_ms(), &retry_s) != 0) {
    char retry[16];
    snprintf(retry, sizeof retry, "%d", retry_s);
    l->outcome = "BLOCKED";
    l->reason = "too many attempts for this account";
    http_reply_error(req, MPS_E_RATE_LIMITED, "too many login attempts for this account; retry later",
                     json_pack("{s:i}", "retry_after_s", retry_s));
    http_add_header(req, "Retry-After", retry);
    http_defer(req, DB_JOB_WRITE, audit_run);
    return;
  }
  http_defer(req, DB_JOB_READ, verify_run);
}

void api_admin_login(struct http_req *req) { login(req, "platform"); }
void api_merchant_login(struct http_req *req) { login(req, "merchant"); }

static int me_run(db_conn *c, struct http_req *req) {
  (void)c; /* the token was checked against the store by the job wrapper */
  http_reply_json(req, 200, principal_json(&req->principal));
  return DB_JOB_COMMIT;
}

void api_me(struct http_req *req) { http_defer(req, DB_JOB_READ, me_run); }
