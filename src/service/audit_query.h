/* audit_query.h — reading the audit log: filtered, newest first, cursor-paginated.
 * Platform staff read every entry; merchant staff and members only entries of their own
 * merchant (the merchant-scope rule of service.h). Appending and verifying are audit.h. */
#ifndef MPS_SERVICE_AUDIT_QUERY_H
#define MPS_SERVICE_AUDIT_QUERY_H

#include <stdbool.h>
#include <stdint.h>

#include "service/service.h"

/* One entry as read; the strings are valid only during the emit callback. */
struct audit_entry {
  const char *id, *actor, *role, *merchant_id, *action, *target, *status, *request_id;
  const char *details; /* JSON object text */
  int64_t at_ms;
};

struct audit_filter {
  const char *merchant_id; /* "": every merchant and the platform (platform staff only) */
  const char *action;      /* "": any */
  const char *status;      /* "": any; else SUCCESS | DENIED | BLOCKED | FAILED */
  const char *actor;       /* "": any */
  int64_t start_ms;        /* at_ms >= start_ms (0: no lower bound) */
  int64_t end_ms;          /* at_ms < end_ms (INT64_MAX: no upper bound) */
  const char *cursor;      /* "": first page; else the id of the previous page's last entry */
  int limit;               /* 1..PAGE_MAX */
};

/* Calls emit for each matching entry, newest first (by at_ms, then id); *next_cursor is set when
 * more exist. SVC_OK, SVC_DENIED (another merchant, or no merchant for a merchant-side
 * caller), SVC_REJECT (a cursor that names no entry of the listed merchant) or a db_rc. */
int audit_list(db_conn *c, const struct actor *a, const struct audit_filter *f,
               void (*emit)(const struct audit_entry *e, void *arg), void *arg,
               char *next_cursor, size_t next_len, struct svc_error *err);

/* Is s one of the four statuses of the audit log? */
bool audit_status_valid(const char *s);

#endif
