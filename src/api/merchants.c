/* merchants.c — /admin/merchants* (platform staff: create, list, get, patch, approve,
 * reject, suspend, reactivate) and GET /api/merchants/{merchantId} (a merchant's own
 * profile for its staff). */
#include <string.h>

#include "api/api.h"
#include "api/util.h"
#include "http/json_decode.h"
#include "service/merchants.h"

json_t *merchant_json(const struct merchant *m) {
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:s?, s:o, s:I, s:I}", "id", m->id, "name", m->name,
                   "currency", m->currency, "timeZone", m->time_zone, "status", m->status,
                   "statusReason", m->status_reason[0] ? m->status_reason : NULL, "contactEmail",
                   m->contact_email[0] ? m->contact_email : NULL, "platformFeeBps",
                   m->platform_fee_bps >= 0 ? json_integer(m->platform_fee_bps) : json_null(),
                   "createdAtMs", (json_int_t)m->created_at_ms, "updatedAtMs", (json_int_t)m->updated_at_ms);
}

struct create_body {
  char id[65], name[129], currency[4], time_zone[65], contact_email[129];
};

static const struct json_field create_spec[] = {
    {.name = "id", .type = JF_STRING, .offset = offsetof(struct create_body, id), .size = 65, .min = 3},
    {.name = "name", .type = JF_STRING, .required = true, .offset = offsetof(struct create_body, name), .size = 129, .min = 1},
    {.name = "currency", .type = JF_STRING, .required = true, .offset = offsetof(struct create_body, currency), .size = 4, .min = 3},
    {.name = "timeZone", .type = JF_STRING, .required = true, .offset = offsetof(struct create_body, time_zone), .size = 65, .min = 1},
    {.name = "contactEmail", .type = JF_STRING, .offset = offsetof(struct create_body, contact_email), .size = 129},
};

static int reply_merchant(struct http_req *req, int rc, struct svc_error *err,
                          const struct merchant *m, int status) {
  if (rc == SVC_OK) http_reply_json(req, status, merchant_json(m));
  return api_finish(req, rc, err);
}

static int create_run(db_conn *c, struct http_req *req) {
  struct create_body *b = req->ctx;
  struct actor a = api_actor(req);
  struct merchant_input in = {.id = b->id, .name = b->name, .currency = b->currency,
                              .time_zone = b->time_zone, .contact_email = b->contact_email,
                              .status = "ACTIVE"};
  struct merchant m;
  struct svc_error err = {0};
  return reply_merchant(req, merchant_create(c, &a, &in, &m, &err), &err, &m, 201);
}

void api_admin_merchants_create(struct http_req *req) {
  struct create_body *b = api_ctx(req, sizeof *b);
  if (!b || http_decode_body(req, create_spec, sizeof create_spec / sizeof create_spec[0], b) != 0) return;
  http_defer(req, DB_JOB_WRITE, create_run);
}

struct list_ctx {
  char status[16], cursor[65];
  int limit;
  json_t *items;
};

static void emit(const struct merchant *m, void *arg) {
  json_array_append_new(((struct list_ctx *)arg)->items, merchant_json(m));
}

static int list_run(db_conn *c, struct http_req *req) {
  struct list_ctx *l = req->ctx;
  struct actor a = api_actor(req);
  struct merchant_filter f = {.status = l->status, .cursor = l->cursor, .limit = l->limit};
  char next[65];
  struct svc_error err = {0};
  json_t *items = json_array();
  l->items = items;
  int rc = merchant_list(c, &a, &f, emit, l, next, sizeof next, &err);
  if (rc == SVC_OK) http_reply_json(req, 200, api_page_reply(items, next));
  else json_decref(items);
  return api_finish(req, rc, &err);
}

void api_admin_merchants_list(struct http_req *req) {
  struct list_ctx *l = api_ctx(req, sizeof *l);
  if (!l || api_page(req, &l->limit, l->cursor, sizeof l->cursor) != 0) return;
  if (api_query_str(req, "status", l->status, sizeof l->status) != 0) return;
  static const char *statuses[] = {"", "PENDING", "ACTIVE", "REJECTED", "SUSPENDED"};
  bool known = false;
  for (size_t i = 0; i < 5; i++) known |= strcmp(l->status, statuses[i]) == 0;
  if (!known) {
    http_reply_error(req, MPS_E_BAD_REQUEST, "status must be PENDING, ACTIVE, REJECTED or SUSPENDED",
                     json_pack("{s:s}", "parameter", "status"));
    return;
  }
  http_defer(req, DB_JOB_READ, list_run);
}

static int get_run(db_conn *c, struct http_req *req) {
  const char *id = http_param(req, "id") ? http_param(req, "id") : http_param(req, "merchantId");
  struct actor a = api_actor(req);
  struct merchant m;
  struct svc_error err = {0};
  return reply_merchant(req, merchant_get(c, &a, id, &m, &err), &err, &m, 200);
}

void api_admin_merchants_get(struct http_req *req) { http_defer(req, DB_JOB_READ, get_run); }
void api_merchant_profile_get(struct http_req *req) { http_defer(req, DB_JOB_READ, get_run); }

struct patch_body {
  char name[129], time_zone[65], contact_email[129];
  int64_t fee_bps;
  bool has_name, has_tz, has_email, has_fee;
};

static const struct json_field patch_spec[] = {
    {.name = "name", .type = JF_STRING, .offset = offsetof(struct patch_body, name), .size = 129, .min = 1, .present = JF_PRESENT(struct patch_body, has_name)},
    {.name = "timeZone", .type = JF_STRING, .offset = offsetof(struct patch_body, time_zone), .size = 65, .min = 1, .present = JF_PRESENT(struct patch_body, has_tz)},
    {.name = "contactEmail", .type = JF_STRING, .offset = offsetof(struct patch_body, contact_email), .size = 129, .min = 3, .present = JF_PRESENT(struct patch_body, has_email)},
    {.name = "platformFeeBps", .type = JF_INT, .offset = offsetof(struct patch_body, fee_bps), .min = -1, .max = 10000, .present = JF_PRESENT(struct patch_body, has_fee)},
};

static int patch_run(db_conn *c, struct http_req *req) {
  struct patch_body *b = req->ctx;
  struct actor a = api_actor(req);
  struct merchant_patch p = {.name = b->has_name ? b->name : NULL,
                             .time_zone = b->has_tz ? b->time_zone : NULL,
                             .contact_email = b->has_email ? b->contact_email : NULL,
                             .set_fee = b->has_fee, .fee_bps = (int)b->fee_bps};
  if (b->has_fee && req->principal.role->bit != R_P_ADMIN) {
    http_reply_error(req, MPS_E_FORBIDDEN, "only a platform admin sets a merchant's fee", NULL);
    return DB_JOB_ROLLBACK;
  }
  struct merchant m;
  struct svc_error err = {0};
  return reply_merchant(req, merchant_update(c, &a, http_param(req, "id"), &p, &m, &err), &err, &m, 200);
}

void api_admin_merchants_patch(struct http_req *req) {
  struct patch_body *b = api_ctx(req, sizeof *b);
  if (!b || http_decode_body(req, patch_spec, sizeof patch_spec / sizeof patch_spec[0], b) != 0) return;
  http_defer(req, DB_JOB_WRITE, patch_run);
}

struct transition_body {
  char reason[257];
  const char *action;
};

static const struct json_field reason_spec[] = {
    {.name = "reason", .type = JF_STRING, .offset = offsetof(struct transition_body, reason), .size = 257},
};

static int transition_run(db_conn *c, struct http_req *req) {
  struct transition_body *b = req->ctx;
  struct actor a = api_actor(req);
  struct merchant m;
  struct svc_error err = {0};
  int rc = merchant_transition(c, &a, http_param(req, "id"), b->action, b->reason[0] ? b->reason : NULL, &m, &err);
  return reply_merchant(req, rc, &err, &m, 200);
}

static void transition(struct http_req *req, const char *action, bool reason_required) {
  struct transition_body *b = api_ctx(req, sizeof *b);
  if (!b) return;
  b->action = action;
  if (req->json && http_decode_body(req, reason_spec, 1, b) != 0) return;
  if (reason_required && !b->reason[0]) {
    http_reply_error(req, MPS_E_VALIDATION_FAILED, "field 'reason' is required",
                     json_pack("{s:s, s:s}", "field", "reason", "reason", "is required"));
    return;
  }
  http_defer(req, DB_JOB_WRITE, transition_run);
}

void api_admin_merchants_approve(struct http_req *req) { transition(req, "approve", false); }
void api_admin_merchants_reject(struct http_req *req) { transition(req, "reject", true); }
void api_admin_merchants_suspend(struct http_req *req) { transition(req, "suspend", true); }
void api_admin_merchants_reactivate(struct http_req *req) { transition(req, "reactivate", false); }
