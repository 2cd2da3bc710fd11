/* fuzz_signature.c — libFuzzer target: the gateway callback signature (domain/signature.h).
 * Input: line 1 is the X-Payment-Signature header, line 2 the configured secrets
 * (MPS_PAYMENT_CALLBACK_SECRET, comma-separated), the rest the raw body; missing lines are
 * empty. "now" is fixed (a time in 2025), so timestamped seeds near it reach the MAC check.
 *
 * Properties checked, beyond "no crash, no sanitizer report":
 *   - sig_parse answers OK, MISSING or MALFORMED, the same twice; MISSING exactly for a
 *     blank header; OK gives 1..SIG_MAX_V1 MACs, each of which is spelled in the header, and
 *     for the timestamped form a t of at most 12 digits whose text is in the header;
 *   - sig_verify agrees with a model: NO_SECRET without a usable secret, else the parse
 *     result, else STALE outside the tolerance, else OK exactly when HMAC-SHA256 under some
 *     secret (computed with sig_sign_hex) equals one of the header's MACs;
 *   - round trip: for every configured secret, a header made with sig_sign_hex over this
 *     body verifies (plain and timestamped form, upper-case hex, next to another scheme's
 *     part and a wrong v1 as during a rotation); one changed hex digit is a MISMATCH, a
 *     timestamp just outside the tolerance is STALE. */
#include <stdbool.h>
#include <string.h>

#include "domain/signature.h"
#include "fuzz.h"

#define NOW_S 1764000000LL /* 2025-11-24 */

struct secrets_model {
  int count;
  const char *keys[SIG_MAX_SECRETS]; /* into the list, not terminated */
  size_t lens[SIG_MAX_SECRETS];
};

static bool blank(char c) { return c == ' ' || c == '\t'; }

/* The secrets list as signature.h documents it, written independently. */
static void model_secrets(const char *list, struct secrets_model *m) {
  m->count = 0;
  const char *p = list;
  while (*p && m->count < SIG_MAX_SECRETS) {
    const char *end = strchr(p, ',');
    if (!end) end = p + strlen(p);
    const char *a = p, *b = end;
    while (a < b && blank(*a)) a++;
    while (b > a && blank(b[-1])) b--;
    size_t n = (size_t)(b - a);
    if (n > 0) {
      m->keys[m->count] = a;
      m->lens[m->count++] = n;
    }
    if (!*end) break;
    p = end + 1;
  }
}

static bool header_blank(const char *h) {
  for (; *h; h++) {
    if (!blank(*h)) return false;
  }
  return true;
}

/* Is the lower-case hex text `hex` in `s`, ignoring case? */
static bool contains_hex(const char *s, const char *hex) {
  size_t n = strlen(s), k = strlen(hex);
  for (size_t i = 0; i + k <= n; i++) {
    size_t j = 0;
    while (j < k && (s[i + j] | 0x20) == hex[j]) j++;
    if (j == k) return true;
  }
  return false;
}

static void hex_of(const unsigned char mac[SIG_MAC_BYTES], char out[SIG_HEX_LEN + 1]) {
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < SIG_MAC_BYTES; i++) {
    out[2 * i] = digits[mac[i] >> 4];
    out[2 * i + 1] = digits[mac[i] & 15];
  }
  out[SIG_HEX_LEN] = '\0';
}

static void check_parse(const char *header, struct sig_header *h) {
  enum sig_result r = sig_parse(header, h);
  struct sig_header again;
  FUZZ_CHECK(sig_parse(header, &again) == r && memcmp(h, &again, sizeof again) == 0, "sig_parse not repeatable");
  FUZZ_CHECK(r == SIG_OK || r == SIG_MISSING || r == SIG_MALFORMED, "sig_parse: %s", sig_result_name(r));
  size_t len = strlen(header);
  FUZZ_CHECK((r == SIG_MISSING) == (len <= SIG_HEADER_MAX && header_blank(header)), "MISSING for a non-blank header");
  if (r != SIG_OK) return;
  FUZZ_CHECK(len <= SIG_HEADER_MAX, "an overlong header parsed");
  FUZZ_CHECK(h->count >= 1 && h->count <= SIG_MAX_V1, "%d MACs", h->count);
  for (int i = 0; i < h->count; i++) {
    char hex[SIG_HEX_LEN + 1];
    hex_of(h->mac[i], hex);
    FUZZ_CHECK(contains_hex(header, hex), "MAC %d (%s) is not in the header", i, hex);
  }
  if (!h->timestamped) {
    FUZZ_CHECK(h->count == 1 && !strchr(header, '='), "plain form with '=' or several MACs");
    return;
  }
  size_t tlen = strnlen(h->t_text, sizeof h->t_text);
  FUZZ_CHECK(tlen >= 1 && tlen <= 12, "t has %zu digits", tlen);
  int64_t t = 0;
  for (size_t i = 0; i < tlen; i++) {
    FUZZ_CHECK(h->t_text[i] >= '0' && h->t_text[i] <= '9', "t_text '%s'", h->t_text);
    t = t * 10 + (h->t_text[i] - '0');
  }
  FUZZ_CHECK(t == h->t, "t %lld but t_text '%s'", (long long)h->t, h->t_text);
  char tpart[20];
  snprintf(tpart, sizeof tpart, "t=%s", h->t_text);
  FUZZ_CHECK(strstr(header, tpart) != NULL, "'%s' is not in the header", tpart);
}

static enum sig_result model_verify(const struct sig_header *h, enum sig_result parsed,
                                    const struct secrets_model *m, const char *body, size_t body_len) {
  if (m->count == 0) return SIG_NO_SECRET;
  if (parsed != SIG_OK) return parsed;
  if (h->timestamped && (h->t > NOW_S + SIG_TOLERANCE_S || h->t < NOW_S - SIG_TOLERANCE_S)) return SIG_STALE;
  for (int k = 0; k < m->count; k++) {
    char want[SIG_HEX_LEN + 1];
    /* sig_sign_hex signs "<t>.<body>" with t printed plainly; the header's t_text (leading
     * zeros and all) is what was signed, so the model signs that text by hand */
    if (h->timestamped) {
      size_t tl = strlen(h->t_text);
      char *signed_text = malloc(tl + 1 + body_len + 1);
      if (!signed_text) abort();
      memcpy(signed_text, h->t_text, tl);
      signed_text[tl] = '.';
      memcpy(signed_text + tl + 1, body, body_len);
      sig_sign_hex(m->keys[k], m->lens[k], -1, signed_text, tl + 1 + body_len, want);
      free(signed_text);
    } else {
      sig_sign_hex(m->keys[k], m->lens[k], -1, body, body_len, want);
    }
    for (int i = 0; i < h->count; i++) {
      char have[SIG_HEX_LEN + 1];
      hex_of(h->mac[i], have);
      if (strcmp(have, want) == 0) return SIG_OK;
    }
  }
  return SIG_MISMATCH;
}

static void expect(const char *header, const char *secrets, const char *body, size_t body_len,
                   enum sig_result want, const char *what) {
  enum sig_result got = sig_verify(header, secrets, body, body_len, NOW_S, SIG_TOLERANCE_S);
  FUZZ_CHECK(got == want, "%s: sig_verify(\"%s\") = %s, want %s", what, header, sig_result_name(got),
             sig_result_name(want));
}

/* Headers made by a correct signer verify; damaged ones do not. */
static void round_trip(const char *secrets, const struct secrets_model *m, const char *body, size_t body_len,
                       unsigned skew) {
  int64_t t = NOW_S - (int64_t)(skew % (2 * SIG_TOLERANCE_S + 1)) + SIG_TOLERANCE_S;
  for (int k = 0; k < m->count; k++) {
    char hex[SIG_HEX_LEN + 1], plain[SIG_HEX_LEN + 1], header[4 * SIG_HEX_LEN];
    sig_sign_hex(m->keys[k], m->lens[k], t, body, body_len, hex);
    sig_sign_hex(m->keys[k], m->lens[k], -1, body, body_len, plain);
    expect(plain, secrets, body, body_len, SIG_OK, "plain form");
    snprintf(header, sizeof header, "t=%lld,v1=%s", (long long)t, hex);
    expect(header, secrets, body, body_len, SIG_OK, "timestamped form");
    char upper[SIG_HEX_LEN + 1];
    for (int i = 0; i <= SIG_HEX_LEN; i++) upper[i] = (hex[i] >= 'a' && hex[i] <= 'f') ? (char)(hex[i] - 32) : hex[i];
    snprintf(header, sizeof header, " v0=legacy , v1=%s,\tt=%lld ,v1=%s", plain, (long long)t, upper);
    expect(header, secrets, body, body_len, SIG_OK, "rotation form");
    hex[k % SIG_HEX_LEN] = hex[k % SIG_HEX_LEN] == '0' ? '1' : '0';
    snprintf(header, sizeof header, "t=%lld,v1=%s", (long long)t, hex);
    struct sig_header h;
    FUZZ_CHECK(sig_parse(header, &h) == SIG_OK, "a damaged but well-formed header is malformed");
    expect(header, secrets, body, body_len, model_verify(&h, SIG_OK, m, body, body_len), "one digit changed");
    sig_sign_hex(m->keys[k], m->lens[k], NOW_S - SIG_TOLERANCE_S - 1, body, body_len, hex);
    snprintf(header, sizeof header, "t=%lld,v1=%s", (long long)(NOW_S - SIG_TOLERANCE_S - 1), hex);
    expect(header, secrets, body, body_len, SIG_STALE, "just too old");
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  unsigned skew = size ? data[0] * 7u + (unsigned)size : 0;
  char *header = fuzz_take_line(&data, &size);
  char *secrets = fuzz_take_line(&data, &size);
  const char *body = (const char *)data; /* the raw body: any bytes, NULs included */
  size_t body_len = size;

  struct sig_header h;
  FUZZ_CHECK(sig_parse(NULL, &h) == SIG_MISSING, "NULL header");
  check_parse(header, &h);
  enum sig_result parsed = sig_parse(header, &h);

  struct secrets_model m;
  model_secrets(secrets, &m);
  enum sig_result want = model_verify(&h, parsed, &m, body, body_len);
  expect(header, secrets, body, body_len, want, "fuzzed header");
  FUZZ_CHECK(sig_verify(header, NULL, body, body_len, NOW_S, SIG_TOLERANCE_S) == SIG_NO_SECRET, "NULL secrets");
  round_trip(secrets, &m, body, body_len, skew);

  free(secrets);
  free(header);
  return 0;
}
