/* util.c — handler helpers (see util.h). */
#include "api/util.h"

#include "common/clock.h"
#include "service/idempotency.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct actor api_actor(const struct http_req *req) {
  return (struct actor){.p = req->authenticated ? &req->principal : NULL,
                        .request_id = req->request_id,
                        .client_ip = req->client_ip};
}

int api_finish(struct http_req *req, int rc, struct svc_error *err) {
  int result = DB_JOB_COMMIT;
  if (rc == SVC_REJECT) {
    http_reply_error(req, err->code, err->message, err->details);
    err->details = NULL;
    result = DB_JOB_ROLLBACK;
  } else if (rc == SVC_DENIED) {
    http_chain_deny(req, err->code, err->message, err->details);
    err->details = NULL;
    result = DB_JOB_ROLLBACK;
  } else if (rc < 0) {
    result = rc;
  }
  svc_error_clear(err);
  return result;
}

bool api_valid_id(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 64) return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  }
  return true;
}

/* A decimal number of 1 to max_digits digits and at most max, into *out: digits only
 * (strtol and strtoll would also take leading blanks and a sign, " 5", "+5", and saturate
 * on overflow). 0, or -1 with *out unchanged. */
static int parse_digits(const char *s, size_t max_digits, int64_t max, int64_t *out) {
  int64_t v = 0;
  size_t i = 0;
  for (; s[i] != '\0'; i++) {
    if (s[i] < '0' || s[i] > '9' || i >= max_digits) return -1;
    v = v * 10 + (s[i] - '0');
    if (v > max) return -1;
  }
  if (i == 0) return -1;
  *out = v;
  return 0;
}

int api_parse_limit(const char *s, int *out) {
  int64_t v = 0;
  if (parse_digits(s, API_LIMIT_TEXT_MAX, PAGE_MAX, &v) != 0 || v < 1) return -1;
  *out = (int)v;
  return 0;
}

int api_page(struct http_req *req, int *limit, char *cursor, size_t cursor_len) {
  *limit = PAGE_DEFAULT;
  cursor[0] = '\0';
  const char *l = http_query(req, "limit");
  if (l && api_parse_limit(l, limit) != 0) {
    http_reply_error(req, MPS_E_BAD_REQUEST, "limit must be a whole number from 1 to 100",
                     json_pack("{s:s, s:s}", "parameter", "limit", "value", l));
    return -1;
  }
  const char *c = http_query(req, "cursor");
  if (c && *c) {
    if (!api_valid_id(c) || strlen(c) >= cursor_len) {
      http_reply_error(req, MPS_E_BAD_REQUEST, "cursor is not one this API returned",
                       json_pack("{s:s}", "parameter", "cursor"));
      return -1;
    }
    snprintf(cursor, cursor_len, "%s", c);
  }
  return 0;
}

int api_query_str(struct http_req *req, const char *name, char *out, size_t out_len) {
  out[0] = '\0';
  const char *v = http_query(req, name);
  if (!v) return 0;
  if (strlen(v) >= out_len) {
    char msg[128];
    snprintf(msg, sizeof msg, "query parameter '%s' is longer than %zu bytes", name, out_len - 1);
    http_reply_error(req, MPS_E_BAD_REQUEST, msg, json_pack("{s:s}", "parameter", name));
    return -1;
  }
  snprintf(out, out_len, "%s", v);
  return 0;
}


int api_parse_time(const char *s, int64_t *out) {
  if (s[0] >= '0' && s[0] <= '9' && s[strspn(s, "0123456789")] == '\0') return parse_digits(s, API_TIME_TEXT_MAX, API_TIME_MAX_MS, out); /* epoch ms */
  struct tm tm = {0};
  int ms = 0;
  const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest) return -1;
  if (*rest == '.') {
    rest++;
    int digits = 0;
    while (*rest >= '0' && *rest <= '9' && digits < 9) {
      if (digits < 3) ms = ms * 10 + (*rest - '0');
      rest++, digits++;
    }
    while (digits > 0 && digits < 3) ms *= 10, digits++;
  }
  if (strcmp(rest, "Z") != 0 && strcmp(rest, "+00:00") != 0) return -1;
  /* timegm normalises what strptime lets through (February 30 -> March 2, 24:00, :60); a
   * time that changes on the way is not the one the client wrote */
  struct tm written = tm;
  time_t t = timegm(&tm);
  if (t < 0 || tm.tm_year != written.tm_year || tm.tm_mon != written.tm_mon || tm.tm_mday != written.tm_mday ||
      tm.tm_hour != written.tm_hour || tm.tm_min != written.tm_min || tm.tm_sec != written.tm_sec) {
    return -1;
  }
  *out = (int64_t)t * 1000 + ms;
  return 0;
}

int api_query_time(struct http_req *req, const char *name, int64_t *out_ms, bool *present) {
  *present = false;
  const char *v = http_query(req, name);
  if (!v || !*v) return 0;
  if (api_parse_time(v, out_ms) != 0) {
    char msg[160];
    snprintf(msg, sizeof msg, "query parameter '%s' must be RFC 3339 UTC (2026-01-02T03:04:05Z) or epoch milliseconds", name);
    http_reply_error(req, MPS_E_BAD_REQUEST, msg, json_pack("{s:s, s:s}", "parameter", name, "value", v));
    return -1;
  }
  *present = true;
  return 0;
}

void *api_ctx(struct http_req *req, size_t size) {
  void *p = calloc(1, size);
  if (!p) {
    http_reply_error(req, MPS_E_INTERNAL, "out of memory", NULL);
    return NULL;
  }
  req->ctx = p;
  req->ctx_free = free;
  return p;
}

json_t *api_page_reply(json_t *items, const char *next_cursor) {
  return json_pack("{s:o, s:s?}", "items", items, "next_cursor",
                   next_cursor && *next_cursor ? next_cursor : NULL);
}

int api_idem_prepare(struct http_req *req, struct api_idem *out) {
  const char *key = http_header(req, "Idempotency-Key");
  if (!key || !*key || strlen(key) > IDEM_KEY_MAX) {
    http_reply_error(req, MPS_E_BAD_REQUEST,
                     key && *key ? "Idempotency-Key is longer than 128 bytes"
                                 : "this request moves money and needs an Idempotency-Key header",
                     json_pack("{s:s}", "header", "Idempotency-Key"));
    return -1;
  }
  for (const char *p = key; *p; p++) {
    if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e) {
      http_reply_error(req, MPS_E_BAD_REQUEST, "Idempotency-Key must be printable ASCII without spaces",
                       json_pack("{s:s}", "header", "Idempotency-Key"));
      return -1;
    }
  }
  snprintf(out->key, sizeof out->key, "%s", key);
  out->at_ms = clock_now_ms();
  char *canonical = req->json ? json_dumps(req->json, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  const char *parts[] = {req->method, req->route->pattern, req->path, canonical ? canonical : ""};
  idem_hash(parts, 4, out->hash);
  free(canonical);
  snprintf(out->scope, sizeof out->scope, "%s|%s %s", req->authenticated ? req->principal.subject : req->client_ip,
           req->method, req->route->pattern);
  return 0;
}

int api_idem_prefetch(db_conn *c, const struct api_idem *idem) {
  return idem_prefetch(c, idem->scope, idem->key, idem->hash, idem->at_ms);
}

int api_idem_run(db_conn *c, struct http_req *req, const struct api_idem *idem,
                 int (*work)(db_conn *c, struct http_req *req)) {
  int status = 0;
  char *body = NULL;
  int rc = idem_claim(c, idem->scope, idem->key, idem->hash, idem->at_ms, &status, &body);
  if (rc < 0) return rc;
  if (rc == IDEM_REPLAY) {
    http_reply_text(req, status, "application/json", body, strlen(body));
    http_add_header(req, "Idempotent-Replayed", "true");
    free(body);
    return DB_JOB_ROLLBACK; /* nothing new to write */
  }
  if (rc == IDEM_MISMATCH) {
    http_reply_error(req, MPS_E_UNPROCESSABLE, "this Idempotency-Key was used with a different request",
                     json_pack("{s:s}", "header", "Idempotency-Key"));
    return DB_JOB_ROLLBACK;
  }
  rc = work(c, req);
  if (rc != DB_JOB_COMMIT) return rc; /* a refusal is not stored: the key stays free */
  int s = idem_complete(c, idem->scope, idem->key, idem->hash, req->status, req->reply_body ? req->reply_body : "");
  return s < 0 ? s : DB_JOB_COMMIT;
}
