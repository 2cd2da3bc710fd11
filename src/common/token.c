/* token.c — JWT issue and verify (see token.h). libjwt checks the signature; this file
 * checks everything libjwt leaves to the caller: the algorithm, expiry and the claims. */
#include "common/token.h"

#include <assert.h>
#include <jwt.h>
#include <pthread.h>
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

/* ---- the verified tokens a thread remembers -------------------------------------------
 * Decoding a token (base64, HMAC-SHA256, a JSON parse by libjwt) had been a fifth of mpsd's
 * CPU under a read load, for the same few tokens again and again. A thread keeps the tokens it
 * verified, with the secret they were verified with: the same bytes under the same secret give
 * the same claims, so a hit only checks the expiry again (the one claim that depends on the
 * time). Only successes are kept; revocation is the token version, checked in the store on
 * every request (http/auth.c), not here. Direct-mapped by an FNV-1a hash of the token, the
 * whole token compared on a hit. */
#define TOKEN_CACHE_SLOTS 256
#define TOKEN_CACHE_SECRET_MAX 256

struct token_cache_slot {
  size_t len; /* 0: empty */
  char token[TOKEN_MAX_LEN];
  struct principal p;
};

struct token_cache {
  size_t secret_len;
  char secret[TOKEN_CACHE_SECRET_MAX];
  struct token_cache_slot slots[TOKEN_CACHE_SLOTS];
};

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static bool cache_key_ok;

static void cache_key_make(void) { cache_key_ok = pthread_key_create(&cache_key, free) == 0; }

/* This thread's cache for secret (emptied when the secret is another), or NULL: no cache. */
static struct token_cache *thread_cache(const char *secret, size_t secret_len) {
  if (secret_len >= TOKEN_CACHE_SECRET_MAX || pthread_once(&cache_once, cache_key_make) != 0 || !cache_key_ok)
    return NULL;
  struct token_cache *c = pthread_getspecific(cache_key);
  if (c == NULL) {
    c = calloc(1, sizeof *c);
    if (c == NULL || pthread_setspecific(cache_key, c) != 0) {
      free(c);
      return NULL;
    }
  }
  if (c->secret_len != secret_len || memcmp(c->secret, secret, secret_len) != 0) {
    memset(c, 0, sizeof *c);
    memcpy(c->secret, secret, secret_len);
    c->secret_len = secret_len;
  }
  return c;
}

static struct token_cache_slot *cache_slot(struct token_cache *c, const char *token, size_t len) {
  uint64_t h = 14695981039346656037ull;
  for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)token[i]) * 1099511628211ull;
  return &c->slots[h % TOKEN_CACHE_SLOTS];
}

int token_verify(const char *token, const char *secret, int64_t now_ms, struct principal *p,
                 const char **reason) {
  assert(token && secret && p && reason);
  *reason = "invalid";
  size_t len = strlen(token), secret_len = strlen(secret);
  if (len >= TOKEN_MAX_LEN || secret_len == 0) return -1;
  struct token_cache *cache = len > 0 ? thread_cache(secret, secret_len) : NULL;
  struct token_cache_slot *slot = cache ? cache_slot(cache, token, len) : NULL;
  if (slot && slot->len == len && memcmp(slot->token, token, len) == 0) {
    if (slot->p.expires_at_ms > now_ms) {
      *p = slot->p;
      return 0;
    }
    slot->len = 0; /* expired: decoded again below, which says so */
  }
  jwt_t *jwt = NULL;
  /* a key is always passed: libjwt then refuses alg "none" and any other key */
  if (jwt_decode(&jwt, token, (const unsigned char *)secret, (int)secret_len) != 0 || !jwt) {
    *reason = "bad signature or malformed token";
    return -1;
  }
  int rc = decode_claims(jwt, now_ms, p, reason);
  jwt_free(jwt);
  if (rc == 0 && slot) {
    memcpy(slot->token, token, len);
    slot->len = len;
    slot->p = *p;
  }
  return rc;
}
