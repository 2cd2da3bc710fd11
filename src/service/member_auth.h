/* member_auth.h — members log in with their phone and a one-time code: request a code
 * (6 digits, valid MPS_LOGIN_CODE_TTL_S, stored only as a keyed hash), then log in with
 * it. A code is single-use and dies after 5 wrong tries. The first successful login at a
 * merchant creates the member, as the MealQuest seed does (same phone, same member). */
#ifndef MPS_SERVICE_MEMBER_AUTH_H
#define MPS_SERVICE_MEMBER_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "service/service.h"

#define LOGIN_CODE_MAX_ATTEMPTS 5

/* How codes reach members. The default writes them to the log (msg "login code"). */
typedef void (*code_sender_fn)(const char *merchant_id, const char *phone, const char *code);
void member_auth_set_sender(code_sender_fn fn);

/* phone must already be normalised. secret keys the stored hash. */
int member_code_request(db_conn *c, const struct actor *a, const char *merchant_id,
                        const char *phone, const char *secret, int64_t ttl_s, struct svc_error *err);

struct member_login_result {
  bool ok;
  const char *reason; /* when !ok: "no code", "expired", "wrong code", "too many attempts" */
  char member_id[65];
  char display_name[129];
  int64_t token_version;
  bool created;
};

/* Always SVC_OK on a completed check (result says whether it passed: failures must commit
 * the attempt counter and the audit entry); SVC_REJECT for an unknown or inactive merchant. */
int member_code_login(db_conn *c, const struct actor *a, const char *merchant_id,
                      const char *phone, const char *code, const char *secret,
                      struct member_login_result *out, struct svc_error *err);

#endif
