/* signature.h — signed gateway callbacks: parse the signature header and check it against
 * the raw body with HMAC-SHA256 under every configured secret. Pure: no I/O, no clock (the
 * caller passes now).
 *
 * Two header forms:
 *   <hex>                                  HMAC-SHA256(secret, body), 64 hex digits
 *   t=<unix seconds>,v1=<hex>[,v1=<hex>]   HMAC-SHA256(secret, "<t>.<body>") as Stripe signs:
 *                                          the timestamp is signed too, so an old callback
 *                                          cannot be replayed after the tolerance; several
 *                                          v1 values let a gateway sign with the old and the
 *                                          new secret while one is being rotated.
 * Rules (docs/decisions.md D27):
 *   - at most SIG_HEADER_MAX bytes, at most SIG_MAX_V1 v1 values, SIG_MAX_PARTS parts;
 *   - hex digits in either case (the bytes are compared, not the text);
 *   - spaces or tabs around a part are ignored; anything else malformed is refused;
 *   - parts with another key (v0=, future schemes) are ignored, as Stripe does, but every
 *     part must look like key=value and exactly one t= must be present;
 *   - t must be within SIG_TOLERANCE_S of now, in both directions;
 *   - every secret is tried against every v1 value; comparisons are constant-time. */
#ifndef MPS_DOMAIN_SIGNATURE_H
#define MPS_DOMAIN_SIGNATURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIG_HEADER_MAX 2048
#define SIG_MAX_V1 8
#define SIG_MAX_PARTS 16
#define SIG_TOLERANCE_S 300
#define SIG_MAX_SECRETS 8
#define SIG_MAC_BYTES 32
#define SIG_HEX_LEN (2 * SIG_MAC_BYTES)

enum sig_result {
  SIG_OK = 0,
  SIG_MISSING,   /* no header, or an empty one */
  SIG_MALFORMED, /* not one of the two forms, too long, too many parts, bad hex */
  SIG_STALE,     /* timestamped form outside the tolerance */
  SIG_MISMATCH,  /* well formed, but no secret produces any of the signatures */
  SIG_NO_SECRET, /* no secret configured */
};

struct sig_header {
  bool timestamped;
  int64_t t;       /* unix seconds (timestamped form) */
  char t_text[16]; /* t as sent: the signed text is "<t_text>.<body>" */
  int count; /* signatures in mac[] */
  unsigned char mac[SIG_MAX_V1][SIG_MAC_BYTES];
};

/* Parse a header. SIG_OK, SIG_MISSING (NULL or blank) or SIG_MALFORMED. */
enum sig_result sig_parse(const char *header, struct sig_header *out);

/* Check header against body under the secrets (a comma-separated list; blanks around each
 * are ignored, empty entries skipped; at most SIG_MAX_SECRETS are used). now_s: unix
 * seconds; tolerance_s: SIG_TOLERANCE_S normally. */
enum sig_result sig_verify(const char *header, const char *secrets, const void *body,
                           size_t body_len, int64_t now_s, int tolerance_s);

/* The lowercase hex HMAC of body (t < 0: the plain form; else of "<t>.<body>") under one
 * secret, into out (SIG_HEX_LEN + 1 bytes). For gateways' test tools and unit tests. */
void sig_sign_hex(const char *secret, size_t secret_len, int64_t t, const void *body,
                  size_t body_len, char out[SIG_HEX_LEN + 1]);

/* A short English word for a result, for logs and audit details. */
const char *sig_result_name(enum sig_result r);

#endif
