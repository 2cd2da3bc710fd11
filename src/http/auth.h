/* auth.h — authentication for routes that are not public (called by server.c's dispatch
 * and job wrapper; handlers see req->principal). */
#ifndef MPS_HTTP_AUTH_H
#define MPS_HTTP_AUTH_H

#include "http/http.h"

/* Verify the Bearer token. 0 with req->principal set, or -1 with a 401 reply set. */
int auth_authenticate(struct http_req *req);
/* Inside a store job: the token's subject still exists, is active, and the token's version
 * is current (a password rotation or disabling revokes earlier tokens). 0, or -1 with a
 * 401 reply set; < -1 is a store error (db_rc - 1). */
int auth_check_current(db_conn *c, struct http_req *req);
/* Prefetch (db_prefetch) the query auth_check_current runs. DB_OK or a db_rc. */
int auth_prefetch(db_conn *c, const struct http_req *req);
/* The merchant-scope guard for routes with a {merchantId} path segment: merchant staff and
 * members may only name their own merchant. 0, or -1 with an audited 403
 * MERCHANT_SCOPE_DENIED (before the body is read, so every such call is refused alike). */
int auth_check_scope(struct http_req *req);

#endif
