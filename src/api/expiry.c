/* expiry.c — POST /admin/transactions/expire-due: run one expiry batch now (the background
 * sweep, src/worker/expiry.c, does the same every MPS_EXPIRY_SWEEP_INTERVAL_S). Answers
 * {expiredPayments, expiredTopups, more}; `more` says a batch was full and more may be due. */
#include "api/api.h"
#include "api/util.h"
#include "common/clock.h"
#include "service/audit.h"
#include "service/expiry.h"

static int expire_run(db_conn *c, struct http_req *req) {
  struct actor a = api_actor(req);
  struct expiry_counts n;
  int rc = expiry_run(c, &a, clock_now_ms(), EXPIRY_BATCH, &n);
  if (rc < 0) return rc;
  json_t *body = json_pack("{s:i, s:i, s:b}", "expiredPayments", n.payments, "expiredTopups", n.topups, "more", n.more);
  struct audit_record r;
  http_audit_caller(req, &r);
  r.action = "TRANSACTIONS_EXPIRE_DUE";
  r.target = "";
  r.status = "SUCCESS";
  r.details = body;
  rc = audit_append(c, &r);
  if (rc < 0) {
    json_decref(body);
    return rc;
  }
  http_reply_json(req, 200, body);
  return DB_JOB_COMMIT;
}

void api_admin_expire_due(struct http_req *req) { http_defer(req, DB_JOB_WRITE, expire_run); }
