/* signature.c — gateway callback signatures (see signature.h). */
#include "domain/signature.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

static int hex_val(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Exactly SIG_HEX_LEN hex digits into out. */
static bool decode_mac(const char *s, size_t len, unsigned char out[SIG_MAC_BYTES]) {
  if (len != SIG_HEX_LEN) return false;
  for (size_t i = 0; i < SIG_MAC_BYTES; i++) {
    int hi = hex_val(s[2 * i]), lo = hex_val(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = (unsigned char)(hi << 4 | lo);
  }
  return true;
}

/* Trim blanks from both ends of [*s, *s + *len). */
static void trim(const char **s, size_t *len) {
  while (*len > 0 && is_blank(**s)) (*s)++, (*len)--;
  while (*len > 0 && is_blank((*s)[*len - 1])) (*len)--;
}

static enum sig_result parse_part(const char *p, size_t len, struct sig_header *out, bool *have_t) {
  const char *eq = memchr(p, '=', len);
  if (!eq || eq == p || eq == p + len - 1) return SIG_MALFORMED;
  size_t klen = (size_t)(eq - p);
  for (size_t i = 0; i < klen; i++) {
    char c = p[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return SIG_MALFORMED;
  }
  const char *v = eq + 1;
  size_t vlen = len - klen - 1;
  for (size_t i = 0; i < vlen; i++) {
    unsigned char c = (unsigned char)v[i];
    if (c <= 0x20 || c >= 0x7f || c == '=') return SIG_MALFORMED;
  }
  if (klen == 1 && p[0] == 't') {
    if (*have_t || vlen > 12) return SIG_MALFORMED;
    int64_t t = 0;
    for (size_t i = 0; i < vlen; i++) {
      if (v[i] < '0' || v[i] > '9') return SIG_MALFORMED;
      t = t * 10 + (v[i] - '0');
    }
    *have_t = true;
    out->t = t;
    memcpy(out->t_text, v, vlen);
    out->t_text[vlen] = '\0';
  } else if (klen == 2 && p[0] == 'v' && p[1] == '1') {
    if (out->count >= SIG_MAX_V1 || !decode_mac(v, vlen, out->mac[out->count])) return SIG_MALFORMED;
    out->count++;
  } /* another scheme's part: ignored */
  return SIG_OK;
}

enum sig_result sig_parse(const char *header, struct sig_header *out) {
  memset(out, 0, sizeof *out);
  if (!header) return SIG_MISSING;
  size_t len = strnlen(header, SIG_HEADER_MAX + 1);
  if (len > SIG_HEADER_MAX) return SIG_MALFORMED;
  const char *s = header;
  trim(&s, &len);
  if (len == 0) return SIG_MISSING;
  if (!memchr(s, '=', len)) { /* the plain form */
    if (!decode_mac(s, len, out->mac[0])) return SIG_MALFORMED;
    out->count = 1;
    return SIG_OK;
  }
  out->timestamped = true;
  bool have_t = false;
  int parts = 0;
  const char *end = s + len;
  for (const char *p = s; p <= end;) {
    const char *comma = memchr(p, ',', (size_t)(end - p));
    const char *stop = comma ? comma : end;
    const char *part = p;
    size_t plen = (size_t)(stop - p);
    trim(&part, &plen);
    if (plen == 0 || ++parts > SIG_MAX_PARTS) return SIG_MALFORMED;
    enum sig_result r = parse_part(part, plen, out, &have_t);
    if (r != SIG_OK) return r;
    if (!comma) break;
    p = comma + 1;
  }
  if (!have_t || out->count == 0) return SIG_MALFORMED;
  return SIG_OK;
}

static void mac_of(const char *secret, size_t secret_len, const char *t_text, const void *body,
                   size_t body_len, unsigned char out[SIG_MAC_BYTES]) {
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, secret_len);
  if (t_text) {
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)t_text, strlen(t_text));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
  }
  if (body_len) crypto_auth_hmacsha256_update(&st, body, body_len);
  crypto_auth_hmacsha256_final(&st, out);
  sodium_memzero(&st, sizeof st);
}

void sig_sign_hex(const char *secret, size_t secret_len, int64_t t, const void *body,
                  size_t body_len, char out[SIG_HEX_LEN + 1]) {
  char t_text[24];
  if (t >= 0) snprintf(t_text, sizeof t_text, "%lld", (long long)t);
  unsigned char mac[SIG_MAC_BYTES];
  mac_of(secret, secret_len, t >= 0 ? t_text : NULL, body, body_len, mac);
  sodium_bin2hex(out, SIG_HEX_LEN + 1, mac, sizeof mac);
}

enum sig_result sig_verify(const char *header, const char *secrets, const void *body,
                           size_t body_len, int64_t now_s, int tolerance_s) {
  struct { const char *s; size_t len; } keys[SIG_MAX_SECRETS];
  int nkeys = 0;
  for (const char *p = secrets; p && *p && nkeys < SIG_MAX_SECRETS;) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    const char *k = p;
    trim(&k, &len);
    if (len > 0) keys[nkeys].s = k, keys[nkeys++].len = len;
    if (!comma) break;
    p = comma + 1;
  }
  if (nkeys == 0) return SIG_NO_SECRET;
  struct sig_header h;
  enum sig_result r = sig_parse(header, &h);
  if (r != SIG_OK) return r;
  if (h.timestamped) {
    int64_t d = now_s - h.t;
    if (d > tolerance_s || d < -(int64_t)tolerance_s) return SIG_STALE;
  }
  bool ok = false;
  for (int k = 0; k < nkeys; k++) {
    unsigned char mac[SIG_MAC_BYTES];
    mac_of(keys[k].s, keys[k].len, h.timestamped ? h.t_text : NULL, body, body_len, mac);
    for (int i = 0; i < h.count; i++) {
      ok |= sodium_memcmp(mac, h.mac[i], SIG_MAC_BYTES) == 0; /* no early exit */
    }
    sodium_memzero(mac, sizeof mac);
  }
  return ok ? SIG_OK : SIG_MISMATCH;
}

const char *sig_result_name(enum sig_result r) {
  switch (r) {
  case SIG_OK: return "ok";
  case SIG_MISSING: return "missing";
  case SIG_MALFORMED: return "malformed";
  case SIG_STALE: return "stale";
  case SIG_MISMATCH: return "mismatch";
  case SIG_NO_SECRET: return "no secret";
  }
  return "unknown";
}
