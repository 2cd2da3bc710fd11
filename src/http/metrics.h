/* metrics.h — request counters and latency histograms per route, kept in fixed arrays of
 * atomics (no locks on the request path), rendered in Prometheus text format. */
#ifndef MPS_HTTP_METRICS_H
#define MPS_HTTP_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "http/router.h"

#define METRICS_MAX_ROUTES 256

struct db_exec;

/* Size the tables for a routing table; call once before serving. */
void metrics_init(const struct route *table, size_t count);
/* route_index: index in the table, or (size_t)-1 for requests that matched no route. */
void metrics_observe(size_t route_index, int status, int64_t duration_ns);
void metrics_inflight_add(int delta);
int64_t metrics_inflight(void);
/* Prometheus text exposition; malloc'd, caller frees. Includes store stats when ex. */
char *metrics_render(struct db_exec *ex, size_t *len);

#endif
