/* merchants.h — merchant onboarding and lifecycle: create (ACTIVE when a platform admin or
 * mpsctl creates it, PENDING when it onboards itself), list, get, patch, approve, reject,
 * suspend, reactivate. Every change is audited in the same transaction. */
#ifndef MPS_SERVICE_MERCHANTS_H
#define MPS_SERVICE_MERCHANTS_H

#include <stdbool.h>
#include <stdint.h>

#include "service/service.h"

struct merchant {
  char id[65];
  char name[129];
  char currency[4];
  char time_zone[65];
  char status[16];
  char status_reason[257];
  char contact_email[129];
  int platform_fee_bps; /* -1: the platform default (MPS_PLATFORM_FEE_BPS) */
  int64_t created_at_ms;
  int64_t updated_at_ms;
};

struct merchant_input {
  const char *id; /* NULL or "": generated mer_<ULID> */
  const char *name;
  const char *currency;
  const char *time_zone;
  const char *contact_email; /* may be NULL */
  const char *status;        /* "ACTIVE" or "PENDING" */
};

int merchant_create(db_conn *c, const struct actor *a, const struct merchant_input *in,
                    struct merchant *out, struct svc_error *err);
int merchant_get(db_conn *c, const struct actor *a, const char *id, struct merchant *out,
                 struct svc_error *err);

struct merchant_patch {
  const char *name, *time_zone, *contact_email; /* NULL: unchanged */
  bool set_fee;   /* change platform_fee_bps */
  int fee_bps;    /* 0..10000, or -1 for the platform default */
};
int merchant_update(db_conn *c, const struct actor *a, const char *id,
                    const struct merchant_patch *patch, struct merchant *out, struct svc_error *err);

/* action: "approve" (PENDING->ACTIVE), "reject" (PENDING->REJECTED), "suspend"
 * (ACTIVE->SUSPENDED), "reactivate" (SUSPENDED->ACTIVE). */
int merchant_transition(db_conn *c, const struct actor *a, const char *id, const char *action,
                        const char *reason, struct merchant *out, struct svc_error *err);

struct merchant_filter {
  const char *status; /* "" = any */
  const char *cursor; /* "" = first page */
  int limit;
};
/* Calls emit for each merchant (newest first); *next_cursor set when more exist. */
int merchant_list(db_conn *c, const struct actor *a, const struct merchant_filter *f,
                  void (*emit)(const struct merchant *m, void *arg), void *arg,
                  char *next_cursor, size_t next_len, struct svc_error *err);

/* Validation shared with mpsctl and onboarding: 0, or SVC_REJECT with err naming the field. */
int merchant_validate(const struct merchant_input *in, struct svc_error *err);

#endif
