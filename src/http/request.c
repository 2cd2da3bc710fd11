/* request.c — the handler-facing request API of http.h: parameters, query, headers,
 * replies and the error envelope. Reply functions may run on a store thread (inside a
 * deferred job); everything touching MHD state runs on the event thread only. */
#include <assert.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "http/http.h"
#include "http/json_decode.h"

const char *http_param(const struct http_req *req, const char *name) {
  size_t len = strlen(name);
  for (int i = 0; i < req->params.count; i++) {
    if (req->params.name_lens[i] == len && memcmp(req->params.names[i], name, len) == 0) {
      return req->params.values[i];
    }
  }
  return NULL;
}

const char *http_query(const struct http_req *req, const char *name) {
  return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_header(const struct http_req *req, const char *name) {
  return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

static void set_reply(struct http_req *req, int status, char *body, size_t len) {
  free(req->reply_body);
  req->status = status;
  req->reply_body = body;
  req->reply_len = len;
}

void http_reply_json(struct http_req *req, int status, json_t *body) {
  assert(body);
  char *text = json_dumps(body, JSON_COMPACT);
  json_decref(body);
  if (!text) {
    static const char oom[] = "{\"error\":{\"code\":\"INTERNAL\",\"message\":\"out of memory\"}}";
    char *copy = strdup(oom);
    set_reply(req, 500, copy, copy ? strlen(copy) : 0);
    return;
  }
  set_reply(req, status, text, strlen(text));
}

void http_reply_json_text(struct http_req *req, int status, char *text, size_t len) {
  if (!text) {
    http_reply_error(req, MPS_E_INTERNAL, "out of memory", NULL);
    return;
  }
  set_reply(req, status, text, len);
}

void http_reply_text(struct http_req *req, int status, const char *content_type,
                     const char *text, size_t len) {
  char *copy = malloc(len + 1);
  if (!copy) {
    http_reply_error(req, MPS_E_INTERNAL, "out of memory", NULL);
    return;
  }
  memcpy(copy, text, len);
  copy[len] = '\0';
  set_reply(req, status, copy, len);
  http_add_header(req, "Content-Type", content_type);
}

void http_reply_error(struct http_req *req, enum mps_err code, const char *message,
                      json_t *details) {
  const struct mps_error_info *info = mps_error(code);
  char ts[32];
  clock_rfc3339(clock_now_ms(), ts, sizeof ts);
  json_t *err = json_pack("{s:s, s:s, s:o}", "code", info->code, "message",
                          message ? message : info->description, "details",
                          details ? details : json_object());
  json_t *env = err ? json_pack("{s:o, s:s, s:s}", "error", err, "request_id", req->request_id,
                                "timestamp", ts)
                    : NULL;
  if (!env) {
    static const char oom[] = "{\"error\":{\"code\":\"INTERNAL\",\"message\":\"out of memory\"}}";
    char *copy = strdup(oom);
    set_reply(req, 500, copy, copy ? strlen(copy) : 0);
    return;
  }
  http_reply_json(req, info->http_status, env);
}

void http_add_header(struct http_req *req, const char *name, const char *value) {
  for (int i = 0; i < req->header_count; i++) {
    if (strcmp(req->headers[i].name, name) == 0) {
      snprintf(req->headers[i].value, sizeof req->headers[i].value, "%s", value);
      return;
    }
  }
  assert(req->header_count < HTTP_EXTRA_HEADERS);
  if (req->header_count >= HTTP_EXTRA_HEADERS) return;
  struct http_header_kv *h = &req->headers[req->header_count++];
  h->name = name;
  snprintf(h->value, sizeof h->value, "%s", value);
}

int http_decode_body(struct http_req *req, const struct json_field *spec, size_t count,
                     void *out) {
  if (!req->json) {
    http_reply_error(req, MPS_E_VALIDATION_FAILED, "a JSON object body is required",
                     json_pack("{s:s}", "field", ""));
    return -1;
  }
  struct json_decode_error err;
  if (json_decode(req->json, spec, count, out, &err) == 0) return 0;
  char msg[256];
  if (err.field[0]) snprintf(msg, sizeof msg, "field '%s' %s", err.field, err.reason);
  else snprintf(msg, sizeof msg, "%s", err.reason);
  http_reply_error(req, MPS_E_VALIDATION_FAILED, msg,
                   json_pack("{s:s, s:s}", "field", err.field, "reason", err.reason));
  return -1;
}
