/* http.h — what an API handler sees: the request (method, path params, query, headers,
 * parsed JSON body, request id) and the ways to answer it.
 *
 * A handler runs on an HTTP event thread and must not block. It either answers at once
 * (http_reply_*), or hands store work to the executor with http_defer(): the connection
 * is suspended, run() executes on a store thread inside a transaction and sets the reply
 * there, and the connection resumes when the job is final. If the job's transaction fails
 * (store error, failed group commit) the reply is replaced by a 503 envelope, so nothing
 * is ever acknowledged that was not committed. */
#ifndef MPS_HTTP_HTTP_H
#define MPS_HTTP_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/errors.h"
#include "common/token.h"
#include "http/router.h"
#include "store/exec.h"

struct app; /* the server's shared state (server.h) */

#define HTTP_REQUEST_ID_MAX 64
#define HTTP_EXTRA_HEADERS 4

struct http_header_kv {
  const char *name; /* static string */
  char value[128];
};

struct http_req {
  /* request */
  struct app *app;
  const char *method;     /* as routed: HEAD is served by GET */
  const char *log_method; /* as the client sent it */
  const char *path;
  const struct route *route;
  struct route_params params;
  char request_id[HTTP_REQUEST_ID_MAX];
  char *body; /* NUL-terminated, body_len bytes */
  size_t body_len;
  json_t *json; /* parsed body, or NULL when there was none */
  int64_t start_ns;
  char client_ip[48];
  struct principal principal; /* valid when authenticated */
  bool authenticated;

  /* reply */
  int status;
  char *reply_body; /* malloc'd; handed to MHD */
  size_t reply_len;
  struct http_header_kv headers[HTTP_EXTRA_HEADERS];
  int header_count;

  /* deferred store work */
  db_job job;
  int (*deferred_run)(db_conn *c, struct http_req *req);
  int (*deferred_prefetch)(db_conn *c, struct http_req *req); /* see http_defer_prefetched */
  int (*next_run)(db_conn *c, struct http_req *req); /* chained job, see http_defer_next */
  enum db_job_mode next_mode;
  const char *deny_code; /* static: the code of an audited denial */
  void *ctx; /* the handler's own state for run(); freed by ctx_free when set */
  void (*ctx_free)(void *ctx);

  void *conn;      /* struct MHD_Connection *, private to server.c */
  int phase;       /* private to server.c */
  size_t body_cap; /* private to server.c */
  bool body_too_large;
};

/* A path parameter by name ({id} -> "id"), or NULL. */
const char *http_param(const struct http_req *req, const char *name);
/* A query-string argument or request header (event thread only), or NULL. */
const char *http_query(const struct http_req *req, const char *name);
const char *http_header(const struct http_req *req, const char *name);

/* Answer with a JSON value (the reference is stolen). */
void http_reply_json(struct http_req *req, int status, json_t *body);
/* The same with the body already written as JSON text (malloc'd; the reply owns it; NULL
 * replies 500 out of memory). */
void http_reply_json_text(struct http_req *req, int status, char *text, size_t len);
/* Answer with raw text of a content type (copied). */
void http_reply_text(struct http_req *req, int status, const char *content_type,
                     const char *text, size_t len);
/* Answer with the error envelope. details may be NULL (reference stolen). */
void http_reply_error(struct http_req *req, enum mps_err code, const char *message,
                      json_t *details);
/* Add a response header (e.g. "Allow", "Retry-After"). */
void http_add_header(struct http_req *req, const char *name, const char *value);

/* Decode the JSON body with a json_decode spec; on failure answers 400 (naming the field)
 * and returns -1. */
struct json_field;
int http_decode_body(struct http_req *req, const struct json_field *spec, size_t count,
                     void *out);

/* Hand work to the store. run() executes on a store thread with the connection inside a
 * transaction and must set the reply; its return value is a db_job_result. */
void http_defer(struct http_req *req, enum db_job_mode mode,
                int (*run)(db_conn *c, struct http_req *req));

/* http_defer with a prefetch hook: prefetch() names (db_prefetch) the queries run() starts
 * with; it runs before the caller's token is checked again, so that those queries and the
 * check share one round trip to the store. It runs before every run() (a job may run again
 * after DB_BUSY), never before a job chained after it (http_defer_next), and may set what
 * run() reads in the request's context (a time, say); returns DB_OK or a db_rc. */
void http_defer_prefetched(struct http_req *req, enum db_job_mode mode,
                           int (*prefetch)(db_conn *c, struct http_req *req),
                           int (*run)(db_conn *c, struct http_req *req));

/* From inside a deferred run(): once this job has ended (committed or rolled back as it
 * asked; a store error cancels the chain), run another job (for work
 * that must not hold the SQLite writer, e.g. password hashing on a reader before the
 * audit write). The reply of the last job is the one sent. */
void http_defer_next(struct http_req *req, enum db_job_mode mode,
                     int (*run)(db_conn *c, struct http_req *req));

/* Refuse with 403 (code FORBIDDEN or MERCHANT_SCOPE_DENIED...) and append a DENIED entry
 * to the audit log. Event thread only, instead of any other reply. */
void http_deny(struct http_req *req, enum mps_err code, const char *message, json_t *details);

/* The same from inside a deferred run(): sets the 403 reply and chains the audit write
 * (runs after this job, which may be read-only). */
void http_chain_deny(struct http_req *req, enum mps_err code, const char *message, json_t *details);

/* The audit fields of the caller: actor, role, the request id. */
struct audit_record;
void http_audit_caller(const struct http_req *req, struct audit_record *r);

#endif
