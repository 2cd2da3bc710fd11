/* token.c — JWT issue and verify (see token.h). libjwt checks the signature; this file
 * checks everything libjwt leaves to the caller: the algorithm, expiry and the claims. */
#include "common/token.h"

#include <assert.h>
#include <jwt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int token_issue(const struct principal *p, const char *secret, int64_t now_ms, int64_t ttl_s,
                char *out, size_t out_len) {
  assert(p && p->role && secret && strlen(secret) >= 32);
  jwt_t *jwt = NULL;
  if (jwt_new(&jwt) != 0) return -1;
  int64_t iat = now_ms / 1000;
  int rc = 0;
  rc |= jwt_add_grant(jwt, "iss", "mps");
  rc |= jwt_add_grant(jwt, "sub", p->subject);
  rc |= jwt_add_grant(jwt, "knd", principal_kind_name(p->kind));
  rc |= jwt_add_grant(jwt, "rol", p->role->name);
  rc |= jwt_add_grant(jwt, "mid", p->merchant_id);
  rc |= jwt_add_grant_int(jwt, "tv", (long)p->token_version);
  rc |= jwt_add_grant_int(jwt, "iat", (long)iat);
  rc |= jwt_add_grant_int(jwt, "exp", (long)(iat + ttl_s));
  rc |= jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)secret, (int)strlen(secret));
  char *text = rc == 0 ? jwt_encode_str(jwt) : NULL;
  jwt_free(jwt);
  if (!text) return -1;
  size_t n = strlen(text);
  int ok = n < out_len;
  if (ok) memcpy(out, text, n + 1);
  free(text);
  return ok ? 0 : -1;
}

static enum principal_kind kind_from(const char *s) {
  if (!s) return PRINCIPAL_NONE;
  if (strcmp(s, "platform") == 0) return PRINCIPAL_PLATFORM;
  if (strcmp(s, "merchant") == 0) return PRINCIPAL_MERCHANT;
  if (strcmp(s, "member") == 0) return PRINCIPAL_MEMBER;
  return PRINCIPAL_NONE;
}

static int copy_claim(jwt_t *jwt, const char *name, char *out, size_t out_len) {
  const char *v = jwt_get_grant(jwt, name);
  if (!v || strlen(v) >= out_len) return -1;
  memcpy(out, v, strlen(v) + 1);
  return 0;
}

static int decode_claims(jwt_t *jwt, int64_t now_ms, struct principal *p, const char **reason) {
  if (jwt_get_alg(jwt) != JWT_ALG_HS256) {
    *reason = "wrong algorithm";
    return -1;
  }
  const char *iss = jwt_get_grant(jwt, "iss");
  long exp = jwt_get_grant_int(jwt, "exp");
  if (!iss || strcmp(iss, "mps") != 0 || exp <= 0) {
    *reason = "missing claims";
    return -1;
  }
  if ((int64_t)exp * 1000 <= now_ms) {
    *reason = "expired";
    return -1;
  }
  memset(p, 0, sizeof *p);
  p->kind = kind_from(jwt_get_grant(jwt, "knd"));
  const char *role = jwt_get_grant(jwt, "rol");
  p->role = role ? role_find(p->kind, role) : NULL;
  if (p->kind == PRINCIPAL_NONE || !p->role ||
      copy_claim(jwt, "sub", p->subject, sizeof p->subject) != 0 || !p->subject[0] ||
      copy_claim(jwt, "mid", p->merchant_id, sizeof p->merchant_id) != 0) {
    *reason = "bad claims";
    return -1;
  }
  bool scoped = p->kind != PRINCIPAL_PLATFORM;
  if (scoped != (p->merchant_id[0] != '\0')) {
    *reason = "bad merchant scope";
    return -1;
  }
  p->token_version = jwt_get_grant_int(jwt, "tv");
  p->expires_at_ms = (int64_t)exp * 1000;
  return 0;
}

int token_verify(const char *token, const char *secret, int64_t now_ms, struct principal *p,
                 const char **reason) {
  assert(token && secret && p && reason);
  *reason = "invalid";
  if (strlen(token) >= TOKEN_MAX_LEN || !secret[0]) return -1;
  jwt_t *jwt = NULL;
  /* a key is always passed: libjwt then refuses alg "none" and any other key */
  if (jwt_decode(&jwt, token, (const unsigned char *)secret, (int)strlen(secret)) != 0 || !jwt) {
    *reason = "bad signature or malformed token";
    return -1;
  }
  int rc = decode_claims(jwt, now_ms, p, reason);
  jwt_free(jwt);
  return rc;
}
