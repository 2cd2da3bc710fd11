/* members.c — /api/merchants/{merchantId}/members[/{memberId}]: a merchant's members (its
 * customers) for staff: list (filters status, phone), create, get, patch (disabling
 * revokes the member's tokens). Scope, existence and validation live in service/members.c. */
#include <string.h>

#include "api/api.h"
#include "api/util.h"
#include "http/json_decode.h"
#include "service/members.h"

static json_t *member_json(const struct member *m) {
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "id", m->id, "merchantId", m->merchant_id,
                   "phone", m->phone, "displayName", m->display_name, "status", m->status,
                   "tokenVersion", (json_int_t)m->token_version, "createdAtMs", (json_int_t)m->created_at_ms,
                   "updatedAtMs", (json_int_t)m->updated_at_ms);
}

static int reply_member(struct http_req *req, int rc, struct svc_error *err, const struct member *m,
                        int status) {
  if (rc == SVC_OK) http_reply_json(req, status, member_json(m));
  return api_finish(req, rc, err);
}

struct list_ctx {
  char status[16], phone_raw[41], phone[PHONE_MAX], cursor[65];
  int limit;
  json_t *items;
};

static void emit(const struct member *m, void *arg) {
  json_array_append_new(((struct list_ctx *)arg)->items, member_json(m));
}

static int list_run(db_conn *c, struct http_req *req) {
  struct list_ctx *l = req->ctx;
  struct actor a = api_actor(req);
  struct member_filter f = {.status = l->status, .phone = l->phone, .cursor = l->cursor, .limit = l->limit};
  char next[65];
  struct svc_error err = {0};
  json_t *items = json_array();
  if (!items) return DB_ERR;
  l->items = items;
  int rc = member_list(c, &a, http_param(req, "merchantId"), &f, emit, l, next, sizeof next, &err);
  if (rc == SVC_OK) http_reply_json(req, 200, api_page_reply(items, next));
  else json_decref(items);
  return api_finish(req, rc, &err);
}

void api_members_list(struct http_req *req) {
  struct list_ctx *l = api_ctx(req, sizeof *l);
  if (!l || api_page(req, &l->limit, l->cursor, sizeof l->cursor) != 0) return;
  if (api_query_str(req, "status", l->status, sizeof l->status) != 0) return;
  if (api_query_str(req, "phone", l->phone_raw, sizeof l->phone_raw) != 0) return;
  if (l->status[0] && strcmp(l->status, "ACTIVE") != 0 && strcmp(l->status, "DISABLED") != 0) {
    http_reply_error(req, MPS_E_BAD_REQUEST, "status must be ACTIVE or DISABLED",
                     json_pack("{s:s}", "parameter", "status"));
    return;
  }
  if (l->phone_raw[0] && phone_normalize(l->phone_raw, l->phone) != 0) {
    http_reply_error(req, MPS_E_BAD_REQUEST, "phone must be 6 to 20 digits with an optional leading +",
                     json_pack("{s:s}", "parameter", "phone"));
    return;
  }
  http_defer(req, DB_JOB_READ, list_run);
}

struct create_body {
  char phone[41], display_name[129];
};

static const struct json_field create_spec[] = {
    {.name = "phone", .type = JF_STRING, .required = true, .offset = offsetof(struct create_body, phone), .size = 41, .min = 1},
    {.name = "displayName", .type = JF_STRING, .required = true, .offset = offsetof(struct create_body, display_name), .size = 129, .min = 1},
};

static int create_run(db_conn *c, struct http_req *req) {
  struct create_body *b = req->ctx;
  struct actor a = api_actor(req);
  struct member_input in = {.phone = b->phone, .display_name = b->display_name};
  struct member m;
  struct svc_error err = {0};
  int rc = member_create(c, &a, http_param(req, "merchantId"), &in, &m, &err);
  return reply_member(req, rc, &err, &m, 201);
}

void api_members_create(struct http_req *req) {
  struct create_body *b = api_ctx(req, sizeof *b);
  if (!b || http_decode_body(req, create_spec, sizeof create_spec / sizeof create_spec[0], b) != 0) return;
  http_defer(req, DB_JOB_WRITE, create_run);
}

static int get_run(db_conn *c, struct http_req *req) {
  struct actor a = api_actor(req);
  struct member m;
  struct svc_error err = {0};
  int rc = member_get(c, &a, http_param(req, "merchantId"), http_param(req, "memberId"), &m, &err);
  return reply_member(req, rc, &err, &m, 200);
}

void api_members_get(struct http_req *req) { http_defer(req, DB_JOB_READ, get_run); }

struct patch_body {
  char display_name[129], status[16];
  bool has_name, has_status;
};

static const struct json_field patch_spec[] = {
    {.name = "displayName", .type = JF_STRING, .offset = offsetof(struct patch_body, display_name), .size = 129, .min = 1, .present = JF_PRESENT(struct patch_body, has_name)},
    {.name = "status", .type = JF_STRING, .offset = offsetof(struct patch_body, status), .size = 16, .min = 1, .present = JF_PRESENT(struct patch_body, has_status)},
};

static int patch_run(db_conn *c, struct http_req *req) {
  struct patch_body *b = req->ctx;
  struct actor a = api_actor(req);
  struct member_patch p = {.display_name = b->has_name ? b->display_name : NULL,
                           .status = b->has_status ? b->status : NULL};
  struct member m;
  struct svc_error err = {0};
  int rc = member_update(c, &a, http_param(req, "merchantId"), http_param(req, "memberId"), &p, &m, &err);
  return reply_member(req, rc, &err, &m, 200);
}

void api_members_patch(struct http_req *req) {
  struct patch_body *b = api_ctx(req, sizeof *b);
  if (!b || http_decode_body(req, patch_spec, sizeof patch_spec / sizeof patch_spec[0], b) != 0) return;
  http_defer(req, DB_JOB_WRITE, patch_run);
}
