/* health.c — GET /health (the process is up and serving) and GET /health/deep (a real
 * round trip through the store executor: ping, schema version current; 503 when not). */
#include <stdio.h>

#include "api/api.h"
#include "build_info.h"
#include "common/clock.h"
#include "http/server.h"
#include "store/migrate.h"

void api_health(struct http_req *req) {
  int64_t uptime_ms = clock_now_ms() - req->app->started_ms;
  http_reply_json(req, 200, json_pack("{s:s, s:s, s:I}", "status", "ok", "version", MPS_VERSION,
                                      "uptime_ms", (json_int_t)uptime_ms));
}

static int deep_run(db_conn *c, struct http_req *req) {
  int64_t t0 = clock_mono_ns();
  if (db_ping(c) != DB_OK) {
    http_reply_error(req, MPS_E_NOT_READY, "the store does not answer",
                     json_pack("{s:s}", "store", db_errmsg(c)));
    return DB_JOB_ROLLBACK;
  }
  struct migrate_status st;
  char err[256] = "";
  if (migrate_status_get(c, &st, err, sizeof err) != DB_OK) {
    http_reply_error(req, MPS_E_NOT_READY, "cannot read the schema version",
                     json_pack("{s:s}", "store", err));
    return DB_JOB_ROLLBACK;
  }
  int64_t rt_us = (clock_mono_ns() - t0) / 1000;
  json_t *schema = json_pack("{s:i, s:i, s:i}", "current", st.current, "latest", st.latest,
                             "pending", st.pending);
  if (st.pending > 0 || st.unknown > 0) {
    http_reply_error(req, MPS_E_NOT_READY, "the schema is not at this build's version",
                     json_pack("{s:o}", "schema", schema));
    return DB_JOB_ROLLBACK;
  }
  http_reply_json(req, 200,
                  json_pack("{s:s, s:{s:s, s:s, s:I, s:o}}", "status", "ok", "store", "kind",
                            db_conn_kind(c) == DB_SQLITE ? "sqlite" : "postgres", "version",
                            db_server_version(c), "round_trip_us", (json_int_t)rt_us, "schema",
                            schema));
  return DB_JOB_COMMIT;
}

void api_health_deep(struct http_req *req) { http_defer(req, DB_JOB_READ, deep_run); }
