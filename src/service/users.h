/* users.h — staff accounts: platform users (admin, finance, ops, support, viewer) and
 * merchant users (owner, manager, clerk, finance, ops, viewer). Passwords arrive here
 * already hashed (service/password.h) because hashing must not hold a store writer.
 * Changing a password, role or status bumps token_version: earlier tokens stop working. */
#ifndef MPS_SERVICE_USERS_H
#define MPS_SERVICE_USERS_H

#include <stdbool.h>
#include <stdint.h>

#include "service/password.h"
#include "service/service.h"

struct user {
  char id[65], kind[10], merchant_id[65], email[129], display_name[129], role[16], status[10];
  int64_t token_version, created_at_ms, updated_at_ms;
};

struct user_input {
  const char *kind; /* "platform" | "merchant" */
  const char *merchant_id; /* merchant users only */
  const char *email, *display_name, *role;
  const char *password_hash;
};

int user_validate(const struct user_input *in, struct svc_error *err);
int user_create(db_conn *c, const struct actor *a, const struct user_input *in, struct user *out,
                struct svc_error *err);

struct user_patch {
  const char *display_name, *role, *status, *password_hash; /* NULL: unchanged */
};
/* kind/merchant_id name the scope the caller addressed (merchant_id "" for platform). */
int user_update(db_conn *c, const struct actor *a, const char *kind, const char *merchant_id,
                const char *id, const struct user_patch *p, struct user *out, struct svc_error *err);
int user_get(db_conn *c, const struct actor *a, const char *kind, const char *merchant_id,
             const char *id, struct user *out, struct svc_error *err);
/* Find by (kind, email): DB_ROW, DB_DONE, or < 0. */
int user_find_by_email(db_conn *c, const char *kind, const char *email, struct user *out);
int user_list(db_conn *c, const struct actor *a, const char *kind, const char *merchant_id,
              const char *cursor, int limit, void (*emit)(const struct user *u, void *arg),
              void *arg, char *next_cursor, size_t next_len, struct svc_error *err);

/* What a login needs: the account, its hash and its merchant's status. */
struct login_candidate {
  bool found;
  struct user user;
  char password_hash[PASSWORD_HASH_MAX];
  char merchant_status[16];
};
int user_login_lookup(db_conn *c, const char *kind, const char *email, struct login_candidate *out);

#endif
