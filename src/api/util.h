/* util.h — what handlers share: the acting principal, mapping service outcomes onto
 * replies and job results, pagination parameters, and small JSON helpers. */
#ifndef MPS_API_UTIL_H
#define MPS_API_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "http/http.h"
#include "service/service.h"

/* The actor for service calls: the authenticated principal, or the system. */
struct actor api_actor(const struct http_req *req);

/* Map a service outcome to the reply and the job result:
 *   SVC_OK      -> DB_JOB_COMMIT (the handler sets its own reply before or after)
 *   SVC_REJECT  -> error reply from err, DB_JOB_ROLLBACK
 *   SVC_DENIED  -> 403 reply, a DENIED audit entry written by a chained job, DB_JOB_ROLLBACK
 *   < 0         -> returned as is (503 from the job wrapper)
 * err is cleared. */
int api_finish(struct http_req *req, int rc, struct svc_error *err);

/* limit (1..100, default 20) and cursor ("" when absent, else 1..64 id characters) from
 * the query string. 0, or -1 with a 400 reply. */
int api_page(struct http_req *req, int *limit, char *cursor, size_t cursor_len);
/* The limit parameter's text: decimal digits only (no blanks, no sign, at most
 * API_LIMIT_TEXT_MAX of them) naming 1 to PAGE_MAX, into *out. 0, or -1 with *out unchanged. */
#define API_LIMIT_TEXT_MAX 8
int api_parse_limit(const char *s, int *out);
/* An optional query filter of bounded length; -1 with a 400 reply when too long. */
int api_query_str(struct http_req *req, const char *name, char *out, size_t out_len);
/* An optional RFC 3339 or epoch-milliseconds time in the query; -1 with a 400 reply. */
int api_query_time(struct http_req *req, const char *name, int64_t *out_ms, bool *present);

/* RFC 3339 UTC (…Z or +00:00, optional fraction) or epoch milliseconds (decimal digits
 * only, at most API_TIME_TEXT_MAX of them). Only instants from 1970-01-01T00:00:00Z to
 * 9999-12-31T23:59:59.999Z (API_TIME_MAX_MS), and only real calendar times: February 30 or
 * 24:00 are refused, not moved to another day. 0, or -1 with *out_ms unchanged. */
#define API_TIME_TEXT_MAX 40
#define API_TIME_MAX_MS 253402300799999LL
int api_parse_time(const char *s, int64_t *out_ms);

/* Allocate the handler's context (zeroed, freed with the request). NULL -> 500 replied. */
void *api_ctx(struct http_req *req, size_t size);

/* {"items":[...], "next_cursor": "..."|null} */
json_t *api_page_reply(json_t *items, const char *next_cursor);

/* Idempotency-Key handling for POSTs that move money (service/idempotency.h).
 * api_idem_prepare (event thread): the header is required (400 when missing or longer than
 * 128 bytes), the request hash covers method, route and the canonical JSON body, the scope
 * is the caller plus the route. api_idem_run (store thread): replay or 422, else run work
 * and store its reply in the same transaction. */
struct api_idem {
  char key[129];
  char hash[65];
  char scope[200];
  int64_t at_ms; /* when the request came: the claim's time, the same in every run of its job */
};
int api_idem_prepare(struct http_req *req, struct api_idem *out);
/* Prefetch the claim api_idem_run makes first (db_prefetch): for a run() prefetch hook. */
int api_idem_prefetch(db_conn *c, const struct api_idem *idem);
int api_idem_run(db_conn *c, struct http_req *req, const struct api_idem *idem,
                 int (*work)(db_conn *c, struct http_req *req));

/* ids from clients: 1..64 of [A-Za-z0-9_-] */
bool api_valid_id(const char *s);

#endif
