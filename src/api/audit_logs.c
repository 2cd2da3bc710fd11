/* audit_logs.c — GET /admin/audit-logs (platform staff: the whole log, optionally one
 * merchant) and GET /api/audit/logs?merchantId= (one merchant's log: its staff, or platform
 * staff). Filters: merchantId, action, status, actor, startTime (inclusive), endTime
 * (exclusive); cursor pagination, newest first. */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "api/util.h"
#include "common/clock.h"
#include "service/audit_query.h"

struct audit_list_ctx {
  char merchant_id[65], action[65], status[16], actor[65], cursor[65];
  int64_t start_ms, end_ms;
  int limit;
  json_t *items;
};

static bool valid_action(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 64) return false;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    if (!((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_')) return false;
  }
  return true;
}

static int bad_param(struct http_req *req, const char *name, const char *message) {
  http_reply_error(req, MPS_E_BAD_REQUEST, message, json_pack("{s:s}", "parameter", name));
  return -1;
}

/* merchantId, action, status, actor: 0, or -1 with a 400 reply naming the parameter. */
static int parse_strings(struct http_req *req, struct audit_list_ctx *l, bool merchant_required) {
  if (api_query_str(req, "merchantId", l->merchant_id, sizeof l->merchant_id) != 0) return -1;
  if (merchant_required && !l->merchant_id[0]) {
    return bad_param(req, "merchantId", "query parameter 'merchantId' is required");
  }
  if (l->merchant_id[0] && !api_valid_id(l->merchant_id)) {
    return bad_param(req, "merchantId", "merchantId must be 1 to 64 characters of letters, digits, '_' or '-'");
  }
  if (api_query_str(req, "action", l->action, sizeof l->action) != 0) return -1;
  if (l->action[0] && !valid_action(l->action)) {
    return bad_param(req, "action", "action must be an audit action such as ACCESS or MERCHANT_CREATE");
  }
  if (api_query_str(req, "status", l->status, sizeof l->status) != 0) return -1;
  if (l->status[0] && !audit_status_valid(l->status)) {
    return bad_param(req, "status", "status must be SUCCESS, DENIED, BLOCKED or FAILED");
  }
  if (api_query_str(req, "actor", l->actor, sizeof l->actor) != 0) return -1;
  if (l->actor[0] && !api_valid_id(l->actor)) {
    return bad_param(req, "actor", "actor must be a user or member id (1 to 64 id characters)");
  }
  return 0;
}

/* Every filter and the page: 0, or -1 with a 400 reply. */
static int parse_filters(struct http_req *req, struct audit_list_ctx *l, bool merchant_required) {
  if (api_page(req, &l->limit, l->cursor, sizeof l->cursor) != 0) return -1;
  if (parse_strings(req, l, merchant_required) != 0) return -1;
  bool has_start = false, has_end = false;
  if (api_query_time(req, "startTime", &l->start_ms, &has_start) != 0) return -1;
  if (api_query_time(req, "endTime", &l->end_ms, &has_end) != 0) return -1;
  if (!has_start) l->start_ms = 0;
  if (!has_end) l->end_ms = INT64_MAX;
  if (l->end_ms < l->start_ms) return bad_param(req, "endTime", "endTime must not be before startTime");
  return 0;
}

static json_t *entry_json(const struct audit_entry *e) {
  char at[40];
  clock_rfc3339(e->at_ms, at, sizeof at);
  json_error_t jerr;
  json_t *details = json_loads(e->details, 0, &jerr);
  if (!json_is_object(details)) { /* never written so; shown rather than dropped */
    json_decref(details);
    details = json_pack("{s:s}", "unparsed", e->details);
  }
  return json_pack("{s:s, s:s, s:I, s:s, s:s, s:s?, s:s, s:s, s:s, s:s, s:o}", "id", e->id, "at", at,
                   "atMs", (json_int_t)e->at_ms, "actor", e->actor, "role", e->role, "merchantId",
                   e->merchant_id[0] ? e->merchant_id : NULL, "action", e->action, "target",
                   e->target, "status", e->status, "requestId", e->request_id, "details", details);
}

static void emit(const struct audit_entry *e, void *arg) {
  json_t *item = entry_json(e);
  if (item) json_array_append_new(((struct audit_list_ctx *)arg)->items, item);
}

static int list_run(db_conn *c, struct http_req *req) {
  struct audit_list_ctx *l = req->ctx;
  struct actor a = api_actor(req);
  struct audit_filter f = {.merchant_id = l->merchant_id, .action = l->action, .status = l->status,
                           .actor = l->actor, .start_ms = l->start_ms, .end_ms = l->end_ms,
                           .cursor = l->cursor, .limit = l->limit};
  char next[128];
  struct svc_error err = {0};
  json_t *items = json_array();
  if (!items) return DB_ERR;
  l->items = items;
  int rc = audit_list(c, &a, &f, emit, l, next, sizeof next, &err);
  if (rc == SVC_OK) http_reply_json(req, 200, api_page_reply(items, next));
  else json_decref(items);
  return api_finish(req, rc, &err);
}

static void list(struct http_req *req, bool merchant_required) {
  struct audit_list_ctx *l = api_ctx(req, sizeof *l);
  if (!l || parse_filters(req, l, merchant_required) != 0) return;
  http_defer(req, DB_JOB_READ, list_run);
}

void api_admin_audit_logs(struct http_req *req) { list(req, false); }
void api_audit_logs(struct http_req *req) { list(req, true); }
