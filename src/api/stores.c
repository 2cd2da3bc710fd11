/* stores.c — /api/merchants/{merchantId}/stores[/{storeId}]: a merchant's stores (outlets):
 * list, create, get, patch. Scope, existence and validation live in service/stores.c. */
#include <string.h>

#include "api/api.h"
#include "api/util.h"
#include "http/json_decode.h"
#include "service/stores.h"

static json_t *store_json(const struct store *s) {
  return json_pack("{s:s, s:s, s:s, s:s?, s:s, s:I, s:I}", "id", s->id, "merchantId", s->merchant_id,
                   "name", s->name, "address", s->address[0] ? s->address : NULL, "status", s->status,
                   "createdAtMs", (json_int_t)s->created_at_ms, "updatedAtMs", (json_int_t)s->updated_at_ms);
}

static int reply_store(struct http_req *req, int rc, struct svc_error *err, const struct store *s,
                       int status) {
  if (rc == SVC_OK) http_reply_json(req, status, store_json(s));
  return api_finish(req, rc, err);
}

struct list_ctx {
  char status[16], cursor[65];
  int limit;
  json_t *items;
};

static void emit(const struct store *s, void *arg) {
  json_array_append_new(((struct list_ctx *)arg)->items, store_json(s));
}

static int list_run(db_conn *c, struct http_req *req) {
  struct list_ctx *l = req->ctx;
  struct actor a = api_actor(req);
  struct store_filter f = {.status = l->status, .cursor = l->cursor, .limit = l->limit};
  char next[65];
  struct svc_error err = {0};
  json_t *items = json_array();
  if (!items) return DB_ERR;
  l->items = items;
  int rc = store_list(c, &a, http_param(req, "merchantId"), &f, emit, l, next, sizeof next, &err);
  if (rc == SVC_OK) http_reply_json(req, 200, api_page_reply(items, next));
  else json_decref(items);
  return api_finish(req, rc, &err);
}

void api_stores_list(struct http_req *req) {
  struct list_ctx *l = api_ctx(req, sizeof *l);
  if (!l || api_page(req, &l->limit, l->cursor, sizeof l->cursor) != 0) return;
  if (api_query_str(req, "status", l->status, sizeof l->status) != 0) return;
  if (l->status[0] && strcmp(l->status, "ACTIVE") != 0 && strcmp(l->status, "INACTIVE") != 0) {
    http_reply_error(req, MPS_E_BAD_REQUEST, "status must be ACTIVE or INACTIVE",
                     json_pack("{s:s}", "parameter", "status"));
    return;
  }
  http_defer(req, DB_JOB_READ, list_run);
}

struct create_body {
  char name[129], address[257];
};

static const struct json_field create_spec[] = {
    {.name = "name", .type = JF_STRING, .required = true, .offset = offsetof(struct create_body, name), .size = 129, .min = 1},
    {.name = "address", .type = JF_STRING, .offset = offsetof(struct create_body, address), .size = 257},
};

static int create_run(db_conn *c, struct http_req *req) {
  struct create_body *b = req->ctx;
  struct actor a = api_actor(req);
  struct store_input in = {.name = b->name, .address = b->address};
  struct store s;
  struct svc_error err = {0};
  int rc = store_create(c, &a, http_param(req, "merchantId"), &in, &s, &err);
  return reply_store(req, rc, &err, &s, 201);
}

void api_stores_create(struct http_req *req) {
  struct create_body *b = api_ctx(req, sizeof *b);
  if (!b || http_decode_body(req, create_spec, sizeof create_spec / sizeof create_spec[0], b) != 0) return;
  http_defer(req, DB_JOB_WRITE, create_run);
}

static int get_run(db_conn *c, struct http_req *req) {
  struct actor a = api_actor(req);
  struct store s;
  struct svc_error err = {0};
  int rc = store_get(c, &a, http_param(req, "merchantId"), http_param(req, "storeId"), &s, &err);
  return reply_store(req, rc, &err, &s, 200);
}

void api_stores_get(struct http_req *req) { http_defer(req, DB_JOB_READ, get_run); }

struct patch_body {
  char name[129], address[257], status[16];
  bool has_name, has_address, has_status;
};

static const struct json_field patch_spec[] = {
    {.name = "name", .type = JF_STRING, .offset = offsetof(struct patch_body, name), .size = 129, .min = 1, .present = JF_PRESENT(struct patch_body, has_name)},
    {.name = "address", .type = JF_STRING, .offset = offsetof(struct patch_body, address), .size = 257, .present = JF_PRESENT(struct patch_body, has_address)},
    {.name = "status", .type = JF_STRING, .offset = offsetof(struct patch_body, status), .size = 16, .min = 1, .present = JF_PRESENT(struct patch_body, has_status)},
};

static int patch_run(db_conn *c, struct http_req *req) {
  struct patch_body *b = req->ctx;
  struct actor a = api_actor(req);
  struct store_patch p = {.name = b->has_name ? b->name : NULL,
                          .address = b->has_address ? b->address : NULL,
                          .status = b->has_status ? b->status : NULL};
  struct store s;
  struct svc_error err = {0};
  int rc = store_update(c, &a, http_param(req, "merchantId"), http_param(req, "storeId"), &p, &s, &err);
  return reply_store(req, rc, &err, &s, 200);
}

void api_stores_patch(struct http_req *req) {
  struct patch_body *b = api_ctx(req, sizeof *b);
  if (!b || http_decode_body(req, patch_spec, sizeof patch_spec / sizeof patch_spec[0], b) != 0) return;
  http_defer(req, DB_JOB_WRITE, patch_run);
}
