/* routes.c — THE routing table. One line per route: method, path pattern, handler, and the
 * file the handler lives in. docs/openapi.yaml is checked against this table by a test
 * (`mpsd --routes` prints it). Keep it sorted by path. */
#include "api/api.h"
#include "http/router.h"

static const struct route table[] = {
    {"GET", "/health", api_health, "src/api/health.c"},
    {"GET", "/health/deep", api_health_deep, "src/api/health.c"},
    {"GET", "/metrics", api_metrics, "src/api/metrics.c"},
};

const struct route *routes_table(size_t *count) {
  *count = sizeof table / sizeof table[0];
  return table;
}
