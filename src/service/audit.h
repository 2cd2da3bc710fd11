/* audit.h — the append-only, hash-chained audit log.
 *
 * Entries form one chain per merchant (chain = merchant id) plus one for the platform
 * (chain "platform"), so appends for different merchants never wait on each other. Each
 * entry's hash is SHA-256 over its previous hash and every field, length-prefixed; the
 * chain head (audit_chain_heads) holds the last seq and hash, so removing the newest entry
 * is detected too. audit_verify() recomputes every chain.
 *
 * Money entries (payments, refunds, top-ups, grants: one per operation, the hot path) set
 * `lane`: on a PostgreSQL pool connection with lane k > 0 (db_conn_lane) they go to the
 * merchant's chain "<chain>#k" instead, so concurrent payments of one merchant do not queue
 * on one chain head; each lane is a chain of its own, verified like any other. */
#ifndef MPS_SERVICE_AUDIT_H
#define MPS_SERVICE_AUDIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/db.h"

struct audit_record {
  const char *actor;       /* user/member id, or "anonymous", or "system" */
  const char *role;        /* role name or "none" */
  const char *merchant_id; /* NULL or "" for platform-level events */
  const char *action;      /* e.g. "LOGIN", "MERCHANT_CREATE", "ACCESS" */
  const char *target;      /* what it acted on (id, route), "" when none */
  const char *status;      /* SUCCESS | DENIED | BLOCKED | FAILED */
  const char *request_id;
  json_t *details;         /* borrowed; NULL for details_text */
  const char *details_text; /* compact JSON with sorted keys, used when details is NULL; NULL for {} */
  bool lane;               /* a money entry: may use the connection's lane chain */
};

/* Append one entry inside the caller's transaction. DB_OK or a db_rc. */
int audit_append(db_conn *c, const struct audit_record *r);
/* Prefetch (db_prefetch) the chain head that an entry of merchant_id (money: with `lane`
 * set) will lock: its transaction appends nothing else to that chain before it. */
int audit_prefetch_head(db_conn *c, const char *merchant_id, bool money);

struct audit_verify_report {
  int64_t chains;
  int64_t entries;
  int64_t problems;
  char first_problem[512];
};

/* Recompute every chain; problems counts broken links, edited entries, gaps and heads that
 * do not match. DB_OK when it could read everything (check report->problems). */
int audit_verify(db_conn *c, struct audit_verify_report *report);

#endif
