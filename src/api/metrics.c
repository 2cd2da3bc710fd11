/* metrics.c — GET /metrics: Prometheus text exposition (http/metrics.c holds the data). */
#include <stdlib.h>

#include "api/api.h"
#include "http/metrics.h"
#include "http/server.h"

void api_metrics(struct http_req *req) {
  size_t len = 0;
  char *text = metrics_render(req->app->exec, &len);
  if (!text) {
    http_reply_error(req, MPS_E_INTERNAL, "out of memory rendering metrics", NULL);
    return;
  }
  http_reply_text(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
  free(text);
}
