/* token.h — access tokens: JWT HS256 signed with MPS_JWT_SECRET (libjwt).
 *
 * Claims: iss "mps", sub (user or member id), knd (platform|merchant|member), rol (role
 * name), mid (merchant scope, "" for platform staff), tv (the subject's token version:
 * rotating a password bumps it, so older tokens stop working; 0 marks a development
 * mock-login token), iat, exp. Verification demands alg HS256 exactly, a valid signature,
 * an unexpired exp and a known kind/role; anything else is UNAUTHORIZED. Each thread remembers
 * the last tokens it verified (256 slots, with their secret): the same token is then only
 * checked for expiry again (token.c). */
#ifndef MPS_COMMON_TOKEN_H
#define MPS_COMMON_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "common/ids.h"
#include "common/roles.h"

#define TOKEN_MAX_LEN 1024

struct principal {
  enum principal_kind kind;
  const struct role_info *role;
  char subject[65];
  char merchant_id[65];
  int64_t token_version;
  int64_t expires_at_ms;
};

/* Sign a token for p valid ttl_s seconds from now_ms. 0, or -1. */
int token_issue(const struct principal *p, const char *secret, int64_t now_ms, int64_t ttl_s,
                char *out, size_t out_len);
/* Verify and decode. 0 with *p filled, or -1 with a short reason ("expired", ...). */
int token_verify(const char *token, const char *secret, int64_t now_ms, struct principal *p,
                 const char **reason);

#endif
