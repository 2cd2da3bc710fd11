/* service.c — shared service-layer helpers (see service.h). */
#include "service/service.h"

#include "service/audit.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int svc_fail(struct svc_error *err, enum mps_err code, json_t *details, const char *fmt, ...) {
  err->code = code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
  json_decref(err->details);
  err->details = details;
  return code == MPS_E_MERCHANT_SCOPE_DENIED || code == MPS_E_FORBIDDEN ? SVC_DENIED : SVC_REJECT;
}

void svc_error_clear(struct svc_error *err) {
  json_decref(err->details);
  memset(err, 0, sizeof *err);
}

int svc_scope(const struct actor *a, const char *merchant_id, struct svc_error *err) {
  if (!a->p || a->p->kind == PRINCIPAL_PLATFORM) return SVC_OK;
  if (merchant_id && strcmp(a->p->merchant_id, merchant_id) == 0) return SVC_OK;
  return svc_fail(err, MPS_E_MERCHANT_SCOPE_DENIED, json_pack("{s:s?}", "merchantId", merchant_id),
                  "this merchant's data belongs to another merchant");
}

const char *actor_id(const struct actor *a) { return a->p ? a->p->subject : "system"; }
const char *actor_role(const struct actor *a) { return a->p ? a->p->role->name : "system"; }

static int audit_success(db_conn *c, const struct actor *a, const char *merchant_id, const char *action,
                         const char *target, json_t *details, const char *details_text, bool lane) {
  struct audit_record r = {.actor = actor_id(a), .role = actor_role(a), .merchant_id = merchant_id,
                           .action = action, .target = target ? target : "", .status = "SUCCESS",
                           .request_id = a->request_id ? a->request_id : "system", .details = details,
                           .details_text = details_text, .lane = lane};
  return audit_append(c, &r);
}

int svc_audit(db_conn *c, const struct actor *a, const char *merchant_id, const char *action,
              const char *target, json_t *details) {
  return audit_success(c, a, merchant_id, action, target, details, NULL, false);
}

int svc_audit_money(db_conn *c, const struct actor *a, const char *merchant_id, const char *action,
                    const char *target, json_t *details) {
  return audit_success(c, a, merchant_id, action, target, details, NULL, true);
}

int svc_audit_money_text(db_conn *c, const struct actor *a, const char *merchant_id, const char *action,
                         const char *target, const char *details_text) {
  return audit_success(c, a, merchant_id, action, target, NULL, details_text, true);
}
