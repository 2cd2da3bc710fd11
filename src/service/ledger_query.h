/* ledger_query.h — reading the journal: entries with their lines, filtered, newest first,
 * cursor-paginated. Platform staff read every merchant's entries (merchant_id "" = all);
 * merchant staff only their own merchant's (the merchant-scope rule of service.h).
 * Writing is ledger.h. */
#ifndef MPS_SERVICE_LEDGER_QUERY_H
#define MPS_SERVICE_LEDGER_QUERY_H

#include <stdbool.h>
#include <stdint.h>

#include "service/service.h"

#define LEDGER_QUERY_MAX_LINES 64 /* a bound on the lines read per entry */

struct ledger_entry_filter {
  const char *merchant_id; /* "": every merchant (platform staff only) */
  const char *kind;        /* "": any; else PAYMENT, FEE, GRANT, TOPUP, ... */
  const char *ref_type;    /* "": any; else payment, topup, grant, ... */
  const char *ref_id;      /* "": any */
  int64_t start_ms;        /* created_at_ms >= start_ms (0: no lower bound) */
  int64_t end_ms;          /* created_at_ms < end_ms (INT64_MAX: no upper bound) */
  const char *cursor;      /* "": first page; else the last id of the previous page */
  int limit;               /* 1..PAGE_MAX */
};

/* As read; strings are valid only during the callback. */
struct ledger_entry_row {
  const char *id, *merchant_id, *kind, *ref_type, *ref_id, *memo;
  int64_t created_at_ms;
};
struct ledger_line_row {
  int64_t line_no;
  const char *account_id, *owner_kind, *owner_id, *account_kind, *currency;
  int64_t amount; /* + debit, - credit */
};

struct ledger_entry_sink {
  void (*entry)(const struct ledger_entry_row *e, void *arg); /* each entry, then its lines */
  void (*line)(const struct ledger_line_row *l, void *arg);
  void *arg;
};

/* Entries newest (highest id) first, each followed by its lines in order; *next_cursor is
 * set when more exist. SVC_OK, SVC_DENIED or a db_rc. */
int ledger_entries_list(db_conn *c, const struct actor *a, const struct ledger_entry_filter *f,
                        const struct ledger_entry_sink *sink, char *next_cursor, size_t next_len,
                        struct svc_error *err);

#endif
