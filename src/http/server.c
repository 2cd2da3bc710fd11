/* server.c — libmicrohttpd glue: the request lifecycle and graceful shutdown.
 *
 * Phases of one request (one struct http_req per request, in MHD's per-request slot):
 *   HEADERS  first call: request id, route match, Content-Length checked against the limit
 *   BODY     body chunks appended to a bounded buffer (oversize bodies are drained, then 413)
 *   WAIT     the handler deferred work to the store; the connection is suspended until the
 *            job's done() resumes it from the store thread
 *   REPLY    a reply is set and queued
 * The completion callback writes the access-log line, records metrics and frees it all. */
#include "http/server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <assert.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/ids.h"
#include "common/log.h"
#include "http/auth.h"
#include "http/http.h"
#include "http/metrics.h"
#include "http/ratelimit.h"

enum phase { PHASE_HEADERS = 0, PHASE_BODY, PHASE_WAIT, PHASE_REPLY };

/* A body that is too large is drained up to this many times the limit, then the
 * connection is cut: a client streaming gigabytes gets no more of our time. */
#define DRAIN_FACTOR 4

/* libmicrohttpd's memory for one connection: the request line and headers (up to about
 * 15 KB of them) and the reply's headers. It zeroes the whole pool between two requests of a
 * connection, so 64 KiB had cost 8% of mpsd's CPU under the read load (D49). */
#define HTTP_CONNECTION_MEMORY (16 * 1024)

static bool request_id_valid(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n >= HTTP_REQUEST_ID_MAX) return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

static struct http_req *req_new(struct app *app, struct MHD_Connection *conn, const char *method,
                                const char *url) {
  struct http_req *req = calloc(1, sizeof *req);
  if (!req) return NULL;
  req->app = app;
  req->conn = conn;
  req->method = strcmp(method, "HEAD") == 0 ? "GET" : method; /* MHD drops HEAD bodies */
  req->log_method = method;
  req->path = url;
  req->start_ns = clock_mono_ns();
  const char *rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
  if (rid && request_id_valid(rid)) {
    snprintf(req->request_id, sizeof req->request_id, "%s", rid);
  } else if (id_new("req", req->request_id, sizeof req->request_id) != 0) {
    snprintf(req->request_id, sizeof req->request_id, "req_unknown");
  }
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (!ci || !ci->client_addr ||
      getnameinfo(ci->client_addr, ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                                           : sizeof(struct sockaddr_in),
                  req->client_ip, sizeof req->client_ip, NULL, 0, NI_NUMERICHOST) != 0) {
    snprintf(req->client_ip, sizeof req->client_ip, "unknown");
  }
  metrics_inflight_add(1);
  return req;
}

static void req_free(struct http_req *req) {
  json_decref(req->json);
  free(req->body);
  free(req->reply_body);
  if (req->ctx_free && req->ctx) req->ctx_free(req->ctx);
  free(req);
}

static enum MHD_Result queue_reply(struct http_req *req) {
  assert(req->status >= 100 && req->status <= 599);
  struct MHD_Response *resp = MHD_create_response_from_buffer(
      req->reply_len, req->reply_body ? req->reply_body : (char *)"", 
      req->reply_body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
  if (!resp) return MHD_NO;
  req->reply_body = NULL; /* MHD owns it now */
  bool has_type = false;
  for (int i = 0; i < req->header_count; i++) {
    if (strcmp(req->headers[i].name, "Content-Type") == 0) has_type = true;
    MHD_add_response_header(resp, req->headers[i].name, req->headers[i].value);
  }
  if (!has_type) MHD_add_response_header(resp, "Content-Type", "application/json");
  MHD_add_response_header(resp, "X-Request-Id", req->request_id);
  if (atomic_load(&req->app->stopping)) MHD_add_response_header(resp, "Connection", "close");
  enum MHD_Result rc = MHD_queue_response(req->conn, (unsigned)req->status, resp);
  MHD_destroy_response(resp);
  req->phase = PHASE_REPLY;
  return rc;
}

static int job_run(db_conn *c, void *arg);
static void job_done(db_job *job);

/* After a job: a store failure becomes 503 (the chain stops); a chained job is queued.
 * True when the chained job was queued: its done() resumes the connection. */
static bool after_job(struct http_req *req) {
  db_job *job = &req->job;
  if (job->status < 0) {
    req->next_run = NULL;
    struct log_line l;
    log_begin(&l, LOG_ERROR, "store error");
    log_int(&l, "db_rc", job->status);
    log_str(&l, "route", req->route ? req->route->pattern : "");
    log_str(&l, "request_id", req->request_id);
    log_end(&l);
    http_reply_error(req, MPS_E_STORE_UNAVAILABLE, NULL, NULL);
  }
  if (job->status >= 0 && req->next_run) { /* a chained job: queue it */
    req->deferred_run = req->next_run;
    req->deferred_prefetch = NULL; /* the hook was the first run's: it may prefetch a write (a key's claim) */
    req->next_run = NULL;
    req->job = (db_job){.mode = req->next_mode, .run = job_run, .done = job_done, .arg = req};
    if (db_exec_submit(req->app->exec, &req->job) == 0) return true;
    http_reply_error(req, MPS_E_OVERLOADED, NULL, NULL);
    http_add_header(req, "Retry-After", "1");
  }
  assert(req->status != 0);
  return false;
}

static void job_done(db_job *job) {
  struct http_req *req = job->arg;
  if (!after_job(req)) MHD_resume_connection(req->conn);
}

/* A READ job on SQLite runs right here when a lent connection is free (db_exec_run_inline):
 * no queue, no suspend and resume. A chained job (a login's audit entry, say) goes through
 * the queue: suspend first, as start_deferred does. So does a read that saw a commit not yet
 * synced: job_done resumes it once the commit is durable. */
enum inline_outcome { INLINE_NOT_RUN, INLINE_REPLY, INLINE_WAITING };

static enum inline_outcome run_inline(struct http_req *req) {
  if (req->job.mode != DB_JOB_READ) return INLINE_NOT_RUN;
  req->phase = PHASE_WAIT; /* as on a store thread: the job may chain (http_defer_next) */
  int ran = db_exec_run_inline(req->app->exec, &req->job);
  if (ran == 0) {
    req->phase = PHASE_BODY;
    return INLINE_NOT_RUN;
  }
  if (ran == 2) {
    MHD_suspend_connection(req->conn);
    db_exec_done_when_durable(req->app->exec, &req->job);
    return INLINE_WAITING;
  }
  if (req->job.status >= 0 && req->next_run) {
    MHD_suspend_connection(req->conn);
    job_done(&req->job);
    return INLINE_WAITING;
  }
  bool queued = after_job(req);
  assert(!queued);
  (void)queued;
  return INLINE_REPLY;
}

/* The token check's query and the handler's, ahead of job_run (the executor calls it first,
 * or with other jobs' prefetches: exec.h). */
static int job_prefetch(db_conn *c, void *arg) {
  struct http_req *req = arg;
  int rc = auth_prefetch(c, req);
  return rc < 0 ? rc : req->deferred_prefetch(c, req);
}

static int job_run(db_conn *c, void *arg) {
  struct http_req *req = arg;
  req->next_run = NULL; /* a retried run decides again */
  int rc = auth_check_current(c, req);
  if (rc == -1) return DB_JOB_ROLLBACK; /* 401 set */
  if (rc < -1) return rc + 1;
  return req->deferred_run(c, req);
}

void http_defer(struct http_req *req, enum db_job_mode mode,
                int (*run)(db_conn *c, struct http_req *req)) {
  assert(req->phase == PHASE_BODY && !req->deferred_run);
  req->deferred_run = run;
  req->job = (db_job){.mode = mode, .run = job_run, .done = job_done, .arg = req};
}

void http_defer_prefetched(struct http_req *req, enum db_job_mode mode,
                           int (*prefetch)(db_conn *c, struct http_req *req),
                           int (*run)(db_conn *c, struct http_req *req)) {
  http_defer(req, mode, run);
  req->deferred_prefetch = prefetch;
  req->job.prefetch = job_prefetch;
}

void http_defer_next(struct http_req *req, enum db_job_mode mode,
                     int (*run)(db_conn *c, struct http_req *req)) {
  assert(req->phase == PHASE_WAIT);
  req->next_run = run;
  req->next_mode = mode;
}

/* Suspend first, then submit: done() may run before submit returns. */
static void start_deferred(struct http_req *req) {
  req->phase = PHASE_WAIT;
  MHD_suspend_connection(req->conn);
  if (db_exec_submit(req->app->exec, &req->job) != 0) {
    http_reply_error(req, atomic_load(&req->app->stopping) ? MPS_E_SHUTTING_DOWN : MPS_E_OVERLOADED,
                     NULL, NULL);
    http_add_header(req, "Retry-After", "1");
    MHD_resume_connection(req->conn);
  }
}

static void parse_json_body(struct http_req *req) {
  const char *type = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Content-Type");
  /* exactly application/json, optionally followed by parameters (; charset=utf-8) */
  bool json = type && strncasecmp(type, "application/json", 16) == 0 &&
              (type[16] == '\0' || type[16] == ';' || type[16] == ' ' || type[16] == '\t');
  if (!json) {
    http_reply_error(req, MPS_E_UNSUPPORTED_MEDIA_TYPE, "the body must be application/json",
                     json_pack("{s:s?}", "content_type", type));
    return;
  }
  json_error_t jerr;
  /* any JSON value parses; a non-object is then refused by the decoder (VALIDATION_FAILED) */
  req->json = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
  if (!req->json) {
    char msg[256];
    snprintf(msg, sizeof msg, "invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
             jerr.text);
    http_reply_error(req, MPS_E_INVALID_JSON, msg,
                     json_pack("{s:i, s:i, s:i, s:s}", "line", jerr.line, "column", jerr.column,
                               "position", jerr.position, "reason", jerr.text));
  }
}

/* The route's rate class, keyed by client IP (logins, callbacks) or by the caller. Admin
 * writes are counted after authentication, per subject; see dispatch. */
static bool rate_limited(struct http_req *req) {
  int cls = req->route->rate;
  if (cls == RATE_NONE) return false;
  const char *key = req->client_ip;
  char subject_key[96];
  if (cls == RATE_ADMIN_WRITE) {
    const char *auth = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Authorization");
    /* before verification the token is only a key; a forged one just gets its own bucket */
    snprintf(subject_key, sizeof subject_key, "%.40s|%.48s", req->client_ip,
             auth && strlen(auth) > 48 ? auth + strlen(auth) - 48 : (auth ? auth : ""));
    key = subject_key;
  }
  int retry_s = 1;
  if (ratelimit_take((enum rate_class)cls, key, clock_now_ms(), &retry_s) == 0) return false;
  char retry[16];
  snprintf(retry, sizeof retry, "%d", retry_s);
  http_reply_error(req, MPS_E_RATE_LIMITED, "too many requests; retry later",
                   json_pack("{s:i}", "retry_after_s", retry_s));
  http_add_header(req, "Retry-After", retry);
  return true;
}

/* The whole request is in: route it and run the handler. */
static void dispatch(struct http_req *req) {
  if (req->body_too_large) {
    char msg[96];
    snprintf(msg, sizeof msg, "the body is larger than %d bytes", req->app->cfg.max_body_bytes);
    http_reply_error(req, MPS_E_PAYLOAD_TOO_LARGE, msg,
                     json_pack("{s:i}", "max_body_bytes", req->app->cfg.max_body_bytes));
    return;
  }
  if (atomic_load(&req->app->stopping)) {
    http_reply_error(req, MPS_E_SHUTTING_DOWN, NULL, NULL);
    http_add_header(req, "Retry-After", "1");
    return;
  }
  char allow[64];
  enum route_match m = router_match(req->app->routes, req->app->route_count, req->method,
                                    req->path, &req->route, &req->params, allow, sizeof allow);
  if (m == ROUTE_NO_PATH) {
    char path[257]; /* echo at most 256 bytes of what was asked for */
    snprintf(path, sizeof path, "%s", req->path);
    http_reply_error(req, MPS_E_NOT_FOUND, "no route for this path", json_pack("{s:s}", "path", path));
    return;
  }
  if (m == ROUTE_NO_METHOD) {
    http_reply_error(req, MPS_E_METHOD_NOT_ALLOWED, "this path does not take this method",
                     json_pack("{s:s, s:s}", "method", req->method, "allow", allow));
    http_add_header(req, "Allow", allow);
    return;
  }
  if (rate_limited(req)) return;
  if (!(req->route->access & R_PUBLIC)) {
    if (auth_authenticate(req) != 0) return;
    if (!(req->route->access & req->principal.role->bit)) {
      http_deny(req, MPS_E_FORBIDDEN, "this role may not use this route",
                json_pack("{s:s, s:s}", "role", req->principal.role->name, "kind",
                          principal_kind_name(req->principal.kind)));
      return;
    }
    if (auth_check_scope(req) != 0) return;
  }
  if (req->body_len > 0) {
    parse_json_body(req);
    if (req->status) return;
  }
  req->route->handler(req);
}

/* The declared Content-Length against the limit: 0 within it (or none declared), 1 over it
 * but small enough to drain so the client, still sending, reads a clean 413, 2 so large
 * that the connection is answered at once and closed. */
static int body_limit_check_upfront(struct http_req *req) {
  const char *cl = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Content-Length");
  if (!cl) return 0;
  char *end = NULL;
  unsigned long long n = strtoull(cl, &end, 10);
  unsigned long long limit = (unsigned long long)req->app->cfg.max_body_bytes;
  if (end == cl || n <= limit) return 0;
  return n > limit * DRAIN_FACTOR ? 2 : 1;
}

static int append_body(struct http_req *req, const char *data, size_t size) {
  size_t limit = (size_t)req->app->cfg.max_body_bytes;
  if (req->body_too_large || req->body_len + size > limit) {
    req->body_too_large = true;
    req->body_len += size; /* counts drained bytes */
    return req->body_len > limit * DRAIN_FACTOR ? -1 : 0;
  }
  if (req->body_len + size + 1 > req->body_cap) {
    size_t cap = req->body_cap ? req->body_cap : 4096;
    while (cap < req->body_len + size + 1) cap *= 2;
    if (cap > limit + 1) cap = limit + 1;
    char *nb = realloc(req->body, cap);
    if (!nb) return -1;
    req->body = nb;
    req->body_cap = cap;
  }
  memcpy(req->body + req->body_len, data, size);
  req->body_len += size;
  req->body[req->body_len] = '\0';
  return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
  struct app *app = cls;
  struct http_req *req = *con_cls;
  if (!req) {
    req = req_new(app, conn, method, url);
    if (!req) return MHD_NO;
    *con_cls = req;
    req->phase = PHASE_BODY;
    int over = body_limit_check_upfront(req);
    if (over) req->body_too_large = true; /* drained, then 413 */
    if (over == 2) {
      dispatch(req);
      return queue_reply(req); /* allowed before the body is read; MHD then closes */
    }
    return MHD_YES;
  }
  if (req->phase == PHASE_BODY && *upload_data_size > 0) {
    if (append_body(req, upload_data, *upload_data_size) != 0) return MHD_NO;
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (req->phase == PHASE_BODY) {
    dispatch(req);
    if (req->deferred_run) { /* store work (a reply may already be set, e.g. an audited 403) */
      enum inline_outcome o = run_inline(req);
      if (o == INLINE_REPLY) return queue_reply(req);
      if (o == INLINE_NOT_RUN) start_deferred(req);
      return MHD_YES;
    }
    if (req->status == 0) http_reply_error(req, MPS_E_INTERNAL, "the handler set no reply", NULL);
    return queue_reply(req);
  }
  if (req->phase == PHASE_WAIT) return queue_reply(req); /* resumed by job_done */
  return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  struct http_req *req = *con_cls;
  if (!req) return;
  *con_cls = NULL;
  int64_t dur_ns = clock_mono_ns() - req->start_ns;
  int status = req->phase == PHASE_REPLY ? req->status : 0; /* 0: client went away */
  metrics_observe(router_index(req->app->routes, req->route), status, dur_ns);
  struct log_line l;
  log_begin(&l, LOG_INFO, "request");
  log_str(&l, "method", req->log_method);
  log_str(&l, "path", req->path);
  log_str(&l, "route", req->route ? req->route->pattern : "");
  log_int(&l, "status", status);
  log_int(&l, "duration_us", dur_ns / 1000);
  log_str(&l, "request_id", req->request_id);
  if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK) log_int(&l, "termination", (int64_t)toe);
  log_end(&l);
  metrics_inflight_add(-1);
  req_free(req);
}

/* MHD hands us its own format strings; their arguments match by MHD's contract. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
  char msg[512];
  vsnprintf(msg, sizeof msg, fmt, ap);
#pragma GCC diagnostic pop
  size_t n = strlen(msg);
  while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = '\0';
  struct log_line l;
  log_begin(&l, LOG_WARN, "http");
  log_str(&l, "detail", msg);
  log_end(&l);
}

int server_start(struct app *app, char *err, size_t err_len) {
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)app->cfg.port)};
  if (inet_pton(AF_INET, app->cfg.listen_addr, &addr.sin_addr) != 1) {
    snprintf(err, err_len, "bad listen address '%s'", app->cfg.listen_addr);
    return -1;
  }
  metrics_init(app->routes, app->route_count);
  ratelimit_configure(RATE_LOGIN, app->cfg.rate_login_per_min);
  ratelimit_configure(RATE_ACCOUNT, app->cfg.rate_account_per_min);
  ratelimit_configure(RATE_ADMIN_WRITE, app->cfg.rate_admin_write_per_min);
  ratelimit_configure(RATE_CALLBACK, app->cfg.rate_callback_per_min);
  unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
  struct MHD_Daemon *d = MHD_start_daemon(
      flags, (uint16_t)app->cfg.port, NULL, NULL, on_request, app,
      MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, app, /* must come first to catch every message */
      MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
      MHD_OPTION_THREAD_POOL_SIZE, (unsigned)app->cfg.http_threads,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned)app->cfg.max_connections,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)app->cfg.connection_timeout_s,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONNECTION_MEMORY,
      MHD_OPTION_NOTIFY_COMPLETED, on_completed, app,
      MHD_OPTION_END);
  if (!d) {
    snprintf(err, err_len, "cannot listen on %s:%d (in use, or not permitted)",
             app->cfg.listen_addr, app->cfg.port);
    return -1;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  app->port = info ? (int)info->port : app->cfg.port;
  app->daemon = d;
  return 0;
}

static void wait_inflight(int64_t deadline_ns) {
  struct timespec ts = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
  while (metrics_inflight() > 0 && clock_mono_ns() < deadline_ns) nanosleep(&ts, NULL);
}

int server_on_stop(struct app *app, void (*fn)(void *arg), void *arg) {
  if (app->on_stop_count >= APP_STOP_HOOKS) return -1;
  app->on_stop[app->on_stop_count].fn = fn;
  app->on_stop[app->on_stop_count++].arg = arg;
  return 0;
}

void server_shutdown(struct app *app) {
  struct MHD_Daemon *d = app->daemon;
  assert(d);
  atomic_store(&app->stopping, true);
  MHD_socket lfd = MHD_quiesce_daemon(d);
  if (lfd != MHD_INVALID_SOCKET) close(lfd);
  /* background workers first: they submit store jobs and wait for them */
  while (app->on_stop_count > 0) {
    app->on_stop_count--;
    app->on_stop[app->on_stop_count].fn(app->on_stop[app->on_stop_count].arg);
  }
  int64_t deadline = clock_mono_ns() + (int64_t)app->cfg.shutdown_timeout_s * 1000000000LL;
  wait_inflight(deadline);
  int64_t left = metrics_inflight();
  /* Finishing the store queue resumes every suspended connection with its reply. */
  db_exec_stop(app->exec);
  wait_inflight(clock_mono_ns() + 1000000000LL);
  MHD_stop_daemon(d);
  app->daemon = NULL;
  log_info("http server stopped; %lld requests were still open at the deadline", (long long)left);
}
