/* terminals.h — a merchant's terminals (devices at a store): create, list, get, patch.
 * A terminal belongs to one store of the same merchant; a serial number, when given, is
 * unique across mps. Scope is checked first, a terminal is addressed by merchant id AND
 * terminal id, and every change is audited (chain = the merchant) in the caller's
 * transaction. */
#ifndef MPS_SERVICE_TERMINALS_H
#define MPS_SERVICE_TERMINALS_H

#include <stdint.h>

#include "service/service.h"

struct terminal {
  char id[65];
  char merchant_id[65];
  char store_id[65];
  char name[129];
  char serial_no[65]; /* "" when none */
  char status[16];    /* ACTIVE | INACTIVE */
  int64_t created_at_ms;
  int64_t updated_at_ms;
};

struct terminal_input {
  const char *store_id;
  const char *name;
  const char *serial_no; /* NULL or "": none */
};

/* SVC_REJECT: NOT_FOUND (no merchant), CONFLICT (merchant REJECTED or SUSPENDED, serial
 * number taken), UNPROCESSABLE (storeId is not an active store of this merchant),
 * VALIDATION_FAILED (details.field). */
int terminal_create(db_conn *c, const struct actor *a, const char *merchant_id,
                    const struct terminal_input *in, struct terminal *out, struct svc_error *err);
int terminal_get(db_conn *c, const struct actor *a, const char *merchant_id, const char *id,
                 struct terminal *out, struct svc_error *err);

struct terminal_patch {
  const char *store_id, *name, *status; /* NULL: unchanged */
  const char *serial_no;                /* NULL: unchanged; "" clears it */
};
int terminal_update(db_conn *c, const struct actor *a, const char *merchant_id, const char *id,
                    const struct terminal_patch *patch, struct terminal *out,
                    struct svc_error *err);

struct terminal_filter {
  const char *status;   /* "" = any */
  const char *store_id; /* "" = any */
  const char *cursor;   /* "" = first page */
  int limit;            /* 1..PAGE_MAX */
};
/* Calls emit for each terminal of the merchant (newest first); *next_cursor set when more
 * exist. */
int terminal_list(db_conn *c, const struct actor *a, const char *merchant_id,
                  const struct terminal_filter *f,
                  void (*emit)(const struct terminal *t, void *arg), void *arg,
                  char *next_cursor, size_t next_len, struct svc_error *err);

#endif
