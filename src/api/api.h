/* api.h — every route handler, one group per file (named after the URL it serves).
 * The routing table in http/routes.c points at these. */
#ifndef MPS_API_API_H
#define MPS_API_API_H

#include "http/http.h"

/* api/health.c — GET /health, GET /health/deep */
void api_health(struct http_req *req);
void api_health_deep(struct http_req *req);
/* api/metrics.c — GET /metrics */
void api_metrics(struct http_req *req);

#endif
