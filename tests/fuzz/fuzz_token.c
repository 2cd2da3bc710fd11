/* fuzz_token.c — libFuzzer target: bearer tokens (common/token.h: libjwt's decoding and
 * signature check, then mps's claims and its per-thread cache of verified tokens).
 * Input: line 1 is the token as it follows "Bearer "; line 2, when present, the claims of a
 * token to issue: "kind role subject merchant version" separated by blanks (missing fields
 * empty). "now" is fixed, and the seeds are tokens issued at it, so they reach the claims.
 *
 * Properties checked, beyond "no crash, no sanitizer report":
 *   - a token that verifies has claims token.h allows: a known kind and role of that kind, a
 *     subject, a merchant scope exactly for merchant staff and members, an expiry after now;
 *     it verifies again to the same principal (from the cache), not under another secret
 *     (the cache is per secret), again under the first, and not once it has expired;
 *   - one that fails says why (a reason) and fails again;
 *   - round trip: a token issued for line 2's claims (when token_issue accepts them) verifies
 *     to exactly those claims; with any one character of its header or payload changed it
 *     does not verify (the signature covers that text). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/token.h"
#include "fuzz.h"

#define NOW_MS 1764000000000LL /* 2025-11-24, as fuzz_signature */
#define TTL_S 3600
static const char SECRET[] = "fuzz-jwt-secret-0123456789abcdef0123456789";
static const char OTHER[] = "fuzz-jwt-other--0123456789abcdef0123456789";

static bool same_principal(const struct principal *a, const struct principal *b) {
  return a->kind == b->kind && a->role == b->role && strcmp(a->subject, b->subject) == 0 &&
         strcmp(a->merchant_id, b->merchant_id) == 0 && a->token_version == b->token_version &&
         a->expires_at_ms == b->expires_at_ms;
}

static void check_verified(const char *token, const struct principal *p) {
  FUZZ_CHECK(p->kind == PRINCIPAL_PLATFORM || p->kind == PRINCIPAL_MERCHANT || p->kind == PRINCIPAL_MEMBER,
             "kind %d", (int)p->kind);
  FUZZ_CHECK(p->role != NULL && p->role->kind == p->kind, "a role of kind %d", (int)p->kind);
  FUZZ_CHECK(role_find(p->kind, p->role->name) == p->role, "role %s", p->role->name);
  FUZZ_CHECK(p->subject[0] != '\0', "an empty subject");
  FUZZ_CHECK((p->kind != PRINCIPAL_PLATFORM) == (p->merchant_id[0] != '\0'), "scope '%s' for kind %d",
             p->merchant_id, (int)p->kind);
  FUZZ_CHECK(p->expires_at_ms > NOW_MS, "expires %lld", (long long)p->expires_at_ms);
  struct principal again;
  const char *reason = NULL;
  FUZZ_CHECK(token_verify(token, SECRET, NOW_MS, &again, &reason) == 0 && same_principal(p, &again),
             "verified once, not twice");
  FUZZ_CHECK(token_verify(token, OTHER, NOW_MS, &again, &reason) != 0, "verified under another secret");
  FUZZ_CHECK(token_verify(token, SECRET, NOW_MS, &again, &reason) == 0 && same_principal(p, &again),
             "not verified after another secret was used");
  FUZZ_CHECK(token_verify(token, SECRET, p->expires_at_ms, &again, &reason) != 0 &&
                 strcmp(reason, "expired") == 0,
             "verified at its expiry (%s)", reason);
}

/* Line 2: "kind role subject merchant version". */
static void round_trip(char *claims) {
  char kind[16] = "", role[16] = "", subject[80] = "", merchant[80] = "";
  long long version = 0;
  if (sscanf(claims, "%15s %15s %79s %79s %lld", kind, role, subject, merchant, &version) < 3) return;
  if (strcmp(merchant, "-") == 0) merchant[0] = '\0';
  struct principal p = {0};
  p.kind = strcmp(kind, "platform") == 0 ? PRINCIPAL_PLATFORM
           : strcmp(kind, "merchant") == 0 ? PRINCIPAL_MERCHANT
           : strcmp(kind, "member") == 0   ? PRINCIPAL_MEMBER
                                           : PRINCIPAL_NONE;
  p.role = role_find(p.kind, role);
  if (p.role == NULL || strlen(subject) >= sizeof p.subject || strlen(merchant) >= sizeof p.merchant_id) return;
  snprintf(p.subject, sizeof p.subject, "%s", subject);
  snprintf(p.merchant_id, sizeof p.merchant_id, "%s", merchant);
  p.token_version = version;
  char token[TOKEN_MAX_LEN];
  if (token_issue(&p, SECRET, NOW_MS, TTL_S, token, sizeof token) != 0) return;
  struct principal got;
  const char *reason = NULL;
  bool scoped = p.kind != PRINCIPAL_PLATFORM;
  int rc = token_verify(token, SECRET, NOW_MS, &got, &reason);
  if (scoped != (merchant[0] != '\0') || !subject[0]) { /* claims verify refuses */
    FUZZ_CHECK(rc != 0, "verified a token with bad claims");
    return;
  }
  FUZZ_CHECK(rc == 0, "an issued token did not verify: %s", reason);
  p.expires_at_ms = (NOW_MS / 1000 + TTL_S) * 1000;
  FUZZ_CHECK(same_principal(&p, &got), "claims changed on the way: %s/%s", got.subject, got.merchant_id);
  check_verified(token, &got);
  const char *sig = strrchr(token, '.');
  FUZZ_CHECK(sig != NULL, "no signature part");
  size_t signed_len = (size_t)(sig - token), at = (size_t)(strlen(subject) * 7 + (size_t)version) % signed_len;
  char changed[TOKEN_MAX_LEN];
  memcpy(changed, token, strlen(token) + 1);
  changed[at] = changed[at] == 'A' ? 'B' : 'A';
  FUZZ_CHECK(token_verify(changed, SECRET, NOW_MS, &got, &reason) != 0, "verified with byte %zu changed", at);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *token = fuzz_take_line(&data, &size);
  char *claims = fuzz_take_line(&data, &size);
  struct principal p;
  const char *reason = NULL;
  if (token_verify(token, SECRET, NOW_MS, &p, &reason) == 0) {
    check_verified(token, &p);
  } else {
    FUZZ_CHECK(reason != NULL && reason[0] != '\0', "a refusal without a reason");
    FUZZ_CHECK(token_verify(token, SECRET, NOW_MS, &p, &reason) != 0, "refused once, not twice");
  }
  round_trip(claims);
  free(claims);
  free(token);
  return 0;
}
