/* stores.h — a merchant's stores (outlets): create, list, get, patch. Every function takes
 * the merchant id from the path, checks the actor's scope first, and addresses a store by
 * merchant id AND store id, so another merchant's store is simply not found. Every change
 * is audited (chain = the merchant) in the caller's transaction. */
#ifndef MPS_SERVICE_STORES_H
#define MPS_SERVICE_STORES_H

#include <stdint.h>

#include "service/service.h"

struct store {
  char id[65];
  char merchant_id[65];
  char name[129];
  char address[257]; /* "" when none */
  char status[16];   /* ACTIVE | INACTIVE */
  int64_t created_at_ms;
  int64_t updated_at_ms;
};

struct store_input {
  const char *name;
  const char *address; /* NULL or "": none */
};

/* SVC_REJECT: NOT_FOUND (no merchant), CONFLICT (merchant REJECTED or SUSPENDED),
 * VALIDATION_FAILED (details.field). */
int store_create(db_conn *c, const struct actor *a, const char *merchant_id,
                 const struct store_input *in, struct store *out, struct svc_error *err);
int store_get(db_conn *c, const struct actor *a, const char *merchant_id, const char *id,
              struct store *out, struct svc_error *err);

struct store_patch {
  const char *name, *address, *status; /* NULL: unchanged; address "" clears it */
};
int store_update(db_conn *c, const struct actor *a, const char *merchant_id, const char *id,
                 const struct store_patch *patch, struct store *out, struct svc_error *err);

struct store_filter {
  const char *status; /* "" = any */
  const char *cursor; /* "" = first page */
  int limit;          /* 1..PAGE_MAX */
};
/* Calls emit for each store of the merchant (newest first); *next_cursor set when more exist. */
int store_list(db_conn *c, const struct actor *a, const char *merchant_id,
               const struct store_filter *f, void (*emit)(const struct store *s, void *arg),
               void *arg, char *next_cursor, size_t next_len, struct svc_error *err);

/* For other use cases of the same merchant (terminals): load a store by merchant and id.
 * DB_ROW, DB_DONE when the merchant has no such store, < 0 on store errors. No scope check:
 * the caller has done it. */
int store_load(db_conn *c, const char *merchant_id, const char *id, struct store *out);

/* The merchant behind a merchant-scoped path: scope check first, then it must exist
 * (NOT_FOUND) and, when for_create, be neither REJECTED nor SUSPENDED (CONFLICT).
 * Shared by the stores, terminals and members use cases. */
int svc_merchant_open(db_conn *c, const struct actor *a, const char *merchant_id,
                      bool for_create, struct svc_error *err);

#endif
