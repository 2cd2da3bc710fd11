/* service.h — what every use case shares: who is acting, how an outcome is reported, and
 * the merchant-scope rule.
 *
 * A service function runs inside one store transaction (given as db_conn) and returns:
 *   SVC_OK      done; the caller commits
 *   SVC_REJECT  a business refusal described in *err; the caller rolls back
 *   SVC_DENIED  the actor may not touch this merchant; *err says so; the caller answers 403
 *               and records a DENIED audit entry
 *   < 0         a store error (db_rc); the caller rolls back and answers 503 */
#ifndef MPS_SERVICE_SERVICE_H
#define MPS_SERVICE_SERVICE_H

#include <jansson.h>
#include <stdbool.h>

#include "common/errors.h"
#include "common/token.h"
#include "store/db.h"

enum svc_rc { SVC_OK = 0, SVC_REJECT = 1, SVC_DENIED = 2 };

struct actor {
  const struct principal *p; /* NULL for the system (mpsctl, workers, public onboarding) */
  const char *request_id;
  const char *client_ip;
};

struct svc_error {
  enum mps_err code;
  char message[256];
  json_t *details; /* owned; svc_error_clear frees it */
};

int svc_fail(struct svc_error *err, enum mps_err code, json_t *details, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void svc_error_clear(struct svc_error *err);

/* Platform staff and the system act on any merchant; everyone else only on their own.
 * SVC_OK or SVC_DENIED (err set). */
int svc_scope(const struct actor *a, const char *merchant_id, struct svc_error *err);

/* Append a SUCCESS audit entry for what the actor did to target (in the caller's
 * transaction; details borrowed, may be NULL). DB_OK or < 0. */
int svc_audit(db_conn *c, const struct actor *a, const char *merchant_id, const char *action,
              const char *target, json_t *details);
/* The same for a money operation (payment, refund, top-up, grant): on a PostgreSQL pool
 * connection it goes to the merchant's lane chain (service/audit.h). */
int svc_audit_money(db_conn *c, const struct actor *a, const char *merchant_id, const char *action,
                    const char *target, json_t *details);
/* svc_audit_money with the details already written as compact JSON with sorted keys (the
 * payment path writes them with json_text, without building a jansson tree). */
int svc_audit_money_text(db_conn *c, const struct actor *a, const char *merchant_id, const char *action,
                         const char *target, const char *details_text);

/* Audit helpers: the actor's fields for an audit record. */
const char *actor_id(const struct actor *a);
const char *actor_role(const struct actor *a);

/* Pagination shared by list endpoints: limit 1..100 (default 20), cursor = last id seen. */
#define PAGE_DEFAULT 20
#define PAGE_MAX 100

#endif
