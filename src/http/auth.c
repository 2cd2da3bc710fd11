/* auth.c — bearer tokens, token revocation, audited denials and the merchant-scope guard. */
#include "http/auth.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/clock.h"
#include "common/log.h"
#include "http/server.h"
#include "service/audit.h"

static void unauthorized(struct http_req *req, const char *reason) {
  http_reply_error(req, MPS_E_UNAUTHORIZED, NULL, json_pack("{s:s}", "reason", reason));
  http_add_header(req, "WWW-Authenticate", "Bearer");
}

int auth_authenticate(struct http_req *req) {
  const char *h = http_header(req, "Authorization");
  if (!h || !*h) {
    unauthorized(req, "no bearer token");
    return -1;
  }
  if (strncasecmp(h, "Bearer ", 7) != 0) {
    unauthorized(req, "the Authorization header is not 'Bearer <token>'");
    return -1;
  }
  const char *token = h + 7;
  while (*token == ' ') token++;
  const char *reason = "invalid";
  if (token_verify(token, req->app->cfg.jwt_secret, clock_now_ms(), &req->principal, &reason) != 0) {
    unauthorized(req, reason);
    return -1;
  }
  if (req->principal.token_version == 0 && !req->app->cfg.dev_mode) {
    unauthorized(req, "development tokens are not accepted");
    return -1;
  }
  req->authenticated = true;
  return 0;
}

static const db_sql q_user_version = {
    "auth_user_version",
    "SELECT u.token_version, u.status, u.kind, COALESCE(u.merchant_id, ''), u.role, "
    "COALESCE(m.status, '') FROM users u LEFT JOIN merchants m ON m.id = u.merchant_id WHERE u.id = $1",
    NULL};
static const db_sql q_member_version = {
    "auth_member_version",
    "SELECT token_version, status FROM members WHERE id = $1 AND merchant_id = $2", NULL};

/* The query that says whether the caller's token still holds, and its arguments; NULL when
 * there is nothing to check (no token, or a development token, checked at entry). */
static const db_sql *version_query(const struct http_req *req, db_val a[2], int *n) {
  const struct principal *p = &req->principal;
  if (!req->authenticated || p->token_version == 0) return NULL;
  a[0] = db_text(p->subject);
  a[1] = db_text(p->merchant_id);
  *n = p->kind == PRINCIPAL_MEMBER ? 2 : 1;
  return p->kind == PRINCIPAL_MEMBER ? &q_member_version : &q_user_version;
}

int auth_prefetch(db_conn *c, const struct http_req *req) {
  db_val a[2];
  int n = 0;
  const db_sql *q = version_query(req, a, &n);
  return q ? db_prefetch(c, q, a, n) : DB_OK;
}

int auth_check_current(db_conn *c, struct http_req *req) {
  const struct principal *p = &req->principal;
  db_cursor *cur = NULL;
  db_val a[2];
  int n = 0;
  const db_sql *q = version_query(req, a, &n);
  if (!q) return 0;
  int rc = db_query(c, q, a, n, &cur);
  if (rc < 0) return rc - 1;
  rc = db_step(cur);
  bool ok = false;
  if (rc == DB_ROW) {
    ok = db_col_int(cur, 0) == p->token_version && strcmp(db_col_text(cur, 1), "ACTIVE") == 0;
    if (ok && p->kind != PRINCIPAL_MEMBER) { /* the role and scope in the token still hold */
      ok = strcmp(db_col_text(cur, 2), principal_kind_name(p->kind)) == 0 &&
           strcmp(db_col_text(cur, 3), p->merchant_id) == 0 &&
           strcmp(db_col_text(cur, 4), p->role->name) == 0;
      /* a suspended or rejected merchant's staff are out at once, not when tokens expire */
      const char *ms = db_col_text(cur, 5);
      if (ok && (strcmp(ms, "SUSPENDED") == 0 || strcmp(ms, "REJECTED") == 0)) ok = false;
    }
  }
  db_reset(cur);
  if (rc < 0) return rc - 1;
  if (!ok) {
    unauthorized(req, "the token was revoked (password, role or status changed, or the merchant suspended)");
    return -1;
  }
  return 0;
}

void http_audit_caller(const struct http_req *req, struct audit_record *r) {
  memset(r, 0, sizeof *r);
  r->actor = req->authenticated ? req->principal.subject : "anonymous";
  r->role = req->authenticated ? req->principal.role->name : "none";
  r->merchant_id = req->authenticated ? req->principal.merchant_id : NULL;
  r->request_id = req->request_id;
}

static int deny_run(db_conn *c, struct http_req *req) {
  struct audit_record r;
  http_audit_caller(req, &r);
  char target[160];
  snprintf(target, sizeof target, "%s %s", req->method, req->path);
  json_t *details = json_pack("{s:s, s:s}", "code", req->deny_code, "client_ip", req->client_ip);
  r.action = "ACCESS";
  r.target = target;
  r.status = "DENIED";
  r.details = details;
  const char *scope = http_param(req, "merchantId");
  if (scope && req->authenticated && req->principal.kind == PRINCIPAL_PLATFORM) r.merchant_id = scope;
  int rc = audit_append(c, &r);
  json_decref(details);
  return rc < 0 ? rc : DB_JOB_COMMIT;
}

int auth_check_scope(struct http_req *req) {
  const char *mid = http_param(req, "merchantId");
  if (!mid || !req->authenticated || req->principal.kind == PRINCIPAL_PLATFORM) return 0;
  if (strcmp(mid, req->principal.merchant_id) == 0) return 0;
  http_deny(req, MPS_E_MERCHANT_SCOPE_DENIED, "this merchant's data belongs to another merchant",
            json_pack("{s:s}", "merchantId", mid));
  return -1;
}

void http_deny(struct http_req *req, enum mps_err code, const char *message, json_t *details) {
  http_reply_error(req, code, message, details);
  req->deny_code = mps_error(code)->code;
  http_defer(req, DB_JOB_WRITE, deny_run);
}

void http_chain_deny(struct http_req *req, enum mps_err code, const char *message, json_t *details) {
  http_reply_error(req, code, message, details);
  req->deny_code = mps_error(code)->code;
  http_defer_next(req, DB_JOB_WRITE, deny_run);
}
