/* terminals.c — /api/merchants/{merchantId}/terminals[/{terminalId}]: a merchant's
 * terminals: list (filters status, storeId), create, get, patch. Scope, existence, the
 * store rule and validation live in service/terminals.c. */
#include <string.h>

#include "api/api.h"
#include "api/util.h"
#include "http/json_decode.h"
#include "service/terminals.h"

static json_t *terminal_json(const struct terminal *t) {
  return json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s, s:I, s:I}", "id", t->id, "merchantId", t->merchant_id,
                   "storeId", t->store_id, "name", t->name, "serialNo", t->serial_no[0] ? t->serial_no : NULL,
                   "status", t->status, "createdAtMs", (json_int_t)t->created_at_ms,
                   "updatedAtMs", (json_int_t)t->updated_at_ms);
}

static int reply_terminal(struct http_req *req, int rc, struct svc_error *err,
                          const struct terminal *t, int status) {
  if (rc == SVC_OK) http_reply_json(req, status, terminal_json(t));
  return api_finish(req, rc, err);
}

struct list_ctx {
  char status[16], store_id[65], cursor[65];
  int limit;
  json_t *items;
};

static void emit(const struct terminal *t, void *arg) {
  json_array_append_new(((struct list_ctx *)arg)->items, terminal_json(t));
}

static int list_run(db_conn *c, struct http_req *req) {
  struct list_ctx *l = req->ctx;
  struct actor a = api_actor(req);
  struct terminal_filter f = {.status = l->status, .store_id = l->store_id, .cursor = l->cursor,
                              .limit = l->limit};
  char next[65];
  struct svc_error err = {0};
  json_t *items = json_array();
  if (!items) return DB_ERR;
  l->items = items;
  int rc = terminal_list(c, &a, http_param(req, "merchantId"), &f, emit, l, next, sizeof next, &err);
  if (rc == SVC_OK) http_reply_json(req, 200, api_page_reply(items, next));
  else json_decref(items);
  return api_finish(req, rc, &err);
}

void api_terminals_list(struct http_req *req) {
  struct list_ctx *l = api_ctx(req, sizeof *l);
  if (!l || api_page(req, &l->limit, l->cursor, sizeof l->cursor) != 0) return;
  if (api_query_str(req, "status", l->status, sizeof l->status) != 0) return;
  if (api_query_str(req, "storeId", l->store_id, sizeof l->store_id) != 0) return;
  if (l->status[0] && strcmp(l->status, "ACTIVE") != 0 && strcmp(l->status, "INACTIVE") != 0) {
    http_reply_error(req, MPS_E_BAD_REQUEST, "status must be ACTIVE or INACTIVE",
                     json_pack("{s:s}", "parameter", "status"));
    return;
  }
  http_defer(req, DB_JOB_READ, list_run);
}

struct create_body {
  char store_id[65], name[129], serial_no[65];
};

static const struct json_field create_spec[] = {
    {.name = "storeId", .type = JF_STRING, .required = true, .offset = offsetof(struct create_body, store_id), .size = 65, .min = 1},
    {.name = "name", .type = JF_STRING, .required = true, .offset = offsetof(struct create_body, name), .size = 129, .min = 1},
    {.name = "serialNo", .type = JF_STRING, .offset = offsetof(struct create_body, serial_no), .size = 65, .min = 1},
};

static int create_run(db_conn *c, struct http_req *req) {
  struct create_body *b = req->ctx;
  struct actor a = api_actor(req);
  struct terminal_input in = {.store_id = b->store_id, .name = b->name, .serial_no = b->serial_no};
  struct terminal t;
  struct svc_error err = {0};
  int rc = terminal_create(c, &a, http_param(req, "merchantId"), &in, &t, &err);
  return reply_terminal(req, rc, &err, &t, 201);
}

void api_terminals_create(struct http_req *req) {
  struct create_body *b = api_ctx(req, sizeof *b);
  if (!b || http_decode_body(req, create_spec, sizeof create_spec / sizeof create_spec[0], b) != 0) return;
  http_defer(req, DB_JOB_WRITE, create_run);
}

static int get_run(db_conn *c, struct http_req *req) {
  struct actor a = api_actor(req);
  struct terminal t;
  struct svc_error err = {0};
  int rc = terminal_get(c, &a, http_param(req, "merchantId"), http_param(req, "terminalId"), &t, &err);
  return reply_terminal(req, rc, &err, &t, 200);
}

void api_terminals_get(struct http_req *req) { http_defer(req, DB_JOB_READ, get_run); }

struct patch_body {
  char store_id[65], name[129], serial_no[65], status[16];
  bool has_store, has_name, has_serial, has_status;
};

static const struct json_field patch_spec[] = {
    {.name = "storeId", .type = JF_STRING, .offset = offsetof(struct patch_body, store_id), .size = 65, .min = 1, .present = JF_PRESENT(struct patch_body, has_store)},
    {.name = "name", .type = JF_STRING, .offset = offsetof(struct patch_body, name), .size = 129, .min = 1, .present = JF_PRESENT(struct patch_body, has_name)},
    {.name = "serialNo", .type = JF_STRING, .offset = offsetof(struct patch_body, serial_no), .size = 65, .present = JF_PRESENT(struct patch_body, has_serial)},
    {.name = "status", .type = JF_STRING, .offset = offsetof(struct patch_body, status), .size = 16, .min = 1, .present = JF_PRESENT(struct patch_body, has_status)},
};

static int patch_run(db_conn *c, struct http_req *req) {
  struct patch_body *b = req->ctx;
  struct actor a = api_actor(req);
  struct terminal_patch p = {.store_id = b->has_store ? b->store_id : NULL,
                             .name = b->has_name ? b->name : NULL,
                             .serial_no = b->has_serial ? b->serial_no : NULL,
                             .status = b->has_status ? b->status : NULL};
  struct terminal t;
  struct svc_error err = {0};
  int rc = terminal_update(c, &a, http_param(req, "merchantId"), http_param(req, "terminalId"), &p, &t, &err);
  return reply_terminal(req, rc, &err, &t, 200);
}

void api_terminals_patch(struct http_req *req) {
  struct patch_body *b = api_ctx(req, sizeof *b);
  if (!b || http_decode_body(req, patch_spec, sizeof patch_spec / sizeof patch_spec[0], b) != 0) return;
  http_defer(req, DB_JOB_WRITE, patch_run);
}
