/* members.h — a merchant's members (its customers) as staff manage them: create, list,
 * get, patch. A phone number is unique per merchant and stored normalised (domain/phone.h).
 * Disabling a member bumps its token version, so every token issued before stops working
 * (http/auth.c checks it), also after a later re-activation. Scope is checked first, a
 * member is addressed by merchant id AND member id, and every change is audited
 * (chain = the merchant) in the caller's transaction. */
#ifndef MPS_SERVICE_MEMBERS_H
#define MPS_SERVICE_MEMBERS_H

#include <stdint.h>

#include "domain/phone.h"
#include "service/service.h"

struct member {
  char id[65];
  char merchant_id[65];
  char phone[PHONE_MAX];
  char display_name[129];
  char status[16]; /* ACTIVE | DISABLED */
  int64_t token_version;
  int64_t created_at_ms;
  int64_t updated_at_ms;
};

struct member_input {
  const char *phone; /* as typed; normalised here */
  const char *display_name;
};

/* SVC_REJECT: NOT_FOUND (no merchant), CONFLICT (merchant REJECTED or SUSPENDED, phone
 * already a member here), VALIDATION_FAILED (details.field). */
int member_create(db_conn *c, const struct actor *a, const char *merchant_id,
                  const struct member_input *in, struct member *out, struct svc_error *err);
int member_get(db_conn *c, const struct actor *a, const char *merchant_id, const char *id,
               struct member *out, struct svc_error *err);

struct member_patch {
  const char *display_name, *status; /* NULL: unchanged */
};
int member_update(db_conn *c, const struct actor *a, const char *merchant_id, const char *id,
                  const struct member_patch *patch, struct member *out, struct svc_error *err);

struct member_filter {
  const char *status; /* "" = any */
  const char *phone;  /* "" = any; else normalised, matched exactly */
  const char *cursor; /* "" = first page */
  int limit;          /* 1..PAGE_MAX */
};
/* Calls emit for each member of the merchant (newest first); *next_cursor set when more
 * exist. */
int member_list(db_conn *c, const struct actor *a, const char *merchant_id,
                const struct member_filter *f, void (*emit)(const struct member *m, void *arg),
                void *arg, char *next_cursor, size_t next_len, struct svc_error *err);

#endif
