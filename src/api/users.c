/* users.c — staff accounts over HTTP: /admin/users[/{id}] (platform users) and
 * /api/merchants/{merchantId}/users[/{userId}] (a merchant's staff). Passwords are hashed
 * by a READ job on a reader thread, then a chained WRITE job stores the account. Nobody
 * changes their own role or status (no self-lockout, no self-promotion). */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "api/util.h"
#include "http/json_decode.h"
#include "service/users.h"

static json_t *user_json(const struct user *u) {
  return json_pack("{s:s, s:s, s:s?, s:s, s:s, s:s, s:s, s:I, s:I}", "id", u->id, "kind", u->kind,
                   "merchantId", u->merchant_id[0] ? u->merchant_id : NULL, "email", u->email,
                   "displayName", u->display_name, "role", u->role, "status", u->status,
                   "createdAtMs", (json_int_t)u->created_at_ms, "updatedAtMs", (json_int_t)u->updated_at_ms);
}

/* The scope of the URL: platform users, or one merchant's staff. */
static const char *url_kind(struct http_req *req) { return http_param(req, "merchantId") ? "merchant" : "platform"; }
static const char *url_merchant(struct http_req *req) {
  const char *m = http_param(req, "merchantId");
  return m ? m : "";
}
static const char *url_user(struct http_req *req) {
  const char *id = http_param(req, "userId");
  return id ? id : http_param(req, "id");
}

struct user_body {
  char email[129], display_name[129], role[16], status[10], password[PASSWORD_MAX_LEN + 1];
  bool has_name, has_role, has_status, has_password;
  char hash[PASSWORD_HASH_MAX];
};

static const struct json_field create_spec[] = {
    {.name = "email", .type = JF_STRING, .required = true, .offset = offsetof(struct user_body, email), .size = 129, .min = 3},
    {.name = "displayName", .type = JF_STRING, .required = true, .offset = offsetof(struct user_body, display_name), .size = 129, .min = 1},
    {.name = "role", .type = JF_STRING, .required = true, .offset = offsetof(struct user_body, role), .size = 16, .min = 1},
    {.name = "password", .type = JF_STRING, .required = true, .offset = offsetof(struct user_body, password), .size = PASSWORD_MAX_LEN + 1, .min = 1},
};

static const struct json_field patch_spec[] = {
    {.name = "displayName", .type = JF_STRING, .offset = offsetof(struct user_body, display_name), .size = 129, .min = 1, .present = JF_PRESENT(struct user_body, has_name)},
    {.name = "role", .type = JF_STRING, .offset = offsetof(struct user_body, role), .size = 16, .min = 1, .present = JF_PRESENT(struct user_body, has_role)},
    {.name = "status", .type = JF_STRING, .offset = offsetof(struct user_body, status), .size = 10, .min = 1, .present = JF_PRESENT(struct user_body, has_status)},
    {.name = "password", .type = JF_STRING, .offset = offsetof(struct user_body, password), .size = PASSWORD_MAX_LEN + 1, .min = 1, .present = JF_PRESENT(struct user_body, has_password)},
};

static int create_run(db_conn *c, struct http_req *req) {
  struct user_body *b = req->ctx;
  struct actor a = api_actor(req);
  struct user_input in = {.kind = url_kind(req), .merchant_id = url_merchant(req), .email = b->email,
                          .display_name = b->display_name, .role = b->role, .password_hash = b->hash};
  struct user u;
  struct svc_error err = {0};
  int rc = user_create(c, &a, &in, &u, &err);
  if (rc == SVC_OK) http_reply_json(req, 201, user_json(&u));
  return api_finish(req, rc, &err);
}

static int patch_run(db_conn *c, struct http_req *req) {
  struct user_body *b = req->ctx;
  struct actor a = api_actor(req);
  struct user_patch p = {.display_name = b->has_name ? b->display_name : NULL,
                         .role = b->has_role ? b->role : NULL,
                         .status = b->has_status ? b->status : NULL,
                         .password_hash = b->has_password ? b->hash : NULL};
  struct user u;
  struct svc_error err = {0};
  int rc = user_update(c, &a, url_kind(req), url_merchant(req), url_user(req), &p, &u, &err);
  if (rc == SVC_OK) http_reply_json(req, 200, user_json(&u));
  return api_finish(req, rc, &err);
}

/* READ job without store work: argon2id off the event thread, then the write. */
static int hash_run(db_conn *c, struct http_req *req) {
  (void)c;
  struct user_body *b = req->ctx;
  int rc = password_hash(b->password, b->hash);
  sodium_memzero(b->password, sizeof b->password);
  if (rc != 0) {
    http_reply_error(req, MPS_E_INTERNAL, "could not hash the password", NULL);
    return DB_JOB_ROLLBACK;
  }
  http_reply_error(req, MPS_E_INTERNAL, "the change did not finish", NULL); /* replaced next */
  http_defer_next(req, DB_JOB_WRITE, req->method[0] == 'P' && req->method[1] == 'O' ? create_run : patch_run);
  return DB_JOB_COMMIT;
}

static int check_password(struct http_req *req, const char *password) {
  const char *why = password_check_policy(password);
  if (!why) return 0;
  char msg[128];
  snprintf(msg, sizeof msg, "field 'password' %s", why);
  http_reply_error(req, MPS_E_VALIDATION_FAILED, msg, json_pack("{s:s, s:s}", "field", "password", "reason", why));
  return -1;
}

void api_users_create(struct http_req *req) {
  struct user_body *b = api_ctx(req, sizeof *b);
  if (!b || http_decode_body(req, create_spec, sizeof create_spec / sizeof create_spec[0], b) != 0) return;
  if (check_password(req, b->password) != 0) return;
  http_defer(req, DB_JOB_READ, hash_run);
}

void api_users_patch(struct http_req *req) {
  struct user_body *b = api_ctx(req, sizeof *b);
  if (!b || http_decode_body(req, patch_spec, sizeof patch_spec / sizeof patch_spec[0], b) != 0) return;
  if ((b->has_role || b->has_status) && strcmp(url_user(req), req->principal.subject) == 0) {
    http_reply_error(req, MPS_E_CONFLICT, "you cannot change your own role or status",
                     json_pack("{s:s}", "field", b->has_role ? "role" : "status"));
    return;
  }
  if (b->has_password) {
    if (check_password(req, b->password) != 0) return;
    http_defer(req, DB_JOB_READ, hash_run);
    return;
  }
  http_defer(req, DB_JOB_WRITE, patch_run);
}

static int get_run(db_conn *c, struct http_req *req) {
  struct actor a = api_actor(req);
  struct user u;
  struct svc_error err = {0};
  int rc = user_get(c, &a, url_kind(req), url_merchant(req), url_user(req), &u, &err);
  if (rc == SVC_OK) http_reply_json(req, 200, user_json(&u));
  return api_finish(req, rc, &err);
}

void api_users_get(struct http_req *req) { http_defer(req, DB_JOB_READ, get_run); }

struct list_ctx {
  int limit;
  char cursor[65];
};

static void emit(const struct user *u, void *arg) { json_array_append_new(arg, user_json(u)); }

static int list_run(db_conn *c, struct http_req *req) {
  struct list_ctx *l = req->ctx;
  struct actor a = api_actor(req);
  struct svc_error err = {0};
  char next[65];
  json_t *items = json_array();
  int rc = user_list(c, &a, url_kind(req), url_merchant(req), l->cursor, l->limit, emit, items, next, sizeof next, &err);
  if (rc == SVC_OK) http_reply_json(req, 200, api_page_reply(items, next));
  else json_decref(items);
  return api_finish(req, rc, &err);
}

void api_users_list(struct http_req *req) {
  struct list_ctx *l = api_ctx(req, sizeof *l);
  if (!l || api_page(req, &l->limit, l->cursor, sizeof l->cursor) != 0) return;
  http_defer(req, DB_JOB_READ, list_run);
}
