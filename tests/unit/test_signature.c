/* test_signature.c — gateway callback signatures (domain/signature.h): both header forms,
 * secret rotation, several v1 values, the timestamp tolerance in both directions, tampering,
 * and every malformed header the parser must refuse. HMAC itself against RFC 4231. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "domain/signature.h"

#define NOW 1800000000LL
static const char BODY[] = "{\"merchantId\":\"m1\",\"paymentTxnId\":\"pay_1\",\"paidAmount\":2500}";
#define BODY_LEN (sizeof BODY - 1)

static int setup(void **state) {
  (void)state;
  return sodium_init() < 0 ? -1 : 0;
}

static void hex_of(const char *secret, int64_t t, const char *body, size_t len, char out[SIG_HEX_LEN + 1]) {
  sig_sign_hex(secret, strlen(secret), t, body, len, out);
}

/* "t=<t>,v1=<hex of secret>" */
static void stamped(char *out, size_t n, const char *secret, int64_t t) {
  char h[SIG_HEX_LEN + 1];
  hex_of(secret, t, BODY, BODY_LEN, h);
  snprintf(out, n, "t=%lld,v1=%s", (long long)t, h);
}

static enum sig_result verify(const char *header, const char *secrets) {
  return sig_verify(header, secrets, BODY, BODY_LEN, NOW, SIG_TOLERANCE_S);
}

static void rfc4231_vectors(void **state) {
  (void)state;
  char h[SIG_HEX_LEN + 1];
  hex_of("Jefe", -1, "what do ya want for nothing?", 28, h);
  assert_string_equal(h, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  char key[131];
  memset(key, 0xaa, sizeof key); /* longer than a block: hashed first */
  const char *data = "Test Using Larger Than Block-Size Key - Hash Key First";
  sig_sign_hex(key, sizeof key, -1, data, strlen(data), h);
  assert_string_equal(h, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

static void plain_hex(void **state) {
  (void)state;
  char h[SIG_HEX_LEN + 1];
  hex_of("s3cret", -1, BODY, BODY_LEN, h);
  assert_int_equal(verify(h, "s3cret"), SIG_OK);
  char padded[80];
  snprintf(padded, sizeof padded, "  %s\t", h); /* blanks around the value are ignored */
  assert_int_equal(verify(padded, "s3cret"), SIG_OK);
  assert_int_equal(verify(h, "other"), SIG_MISMATCH);
  /* the plain form carries no timestamp: any clock is fine */
  assert_int_equal(sig_verify(h, "s3cret", BODY, BODY_LEN, 0, SIG_TOLERANCE_S), SIG_OK);
}

static void uppercase_hex_accepted(void **state) {
  (void)state;
  char h[SIG_HEX_LEN + 1];
  hex_of("s3cret", -1, BODY, BODY_LEN, h);
  for (char *p = h; *p; p++) {
    if (*p >= 'a' && *p <= 'f') *p = (char)(*p - 'a' + 'A');
  }
  assert_int_equal(verify(h, "s3cret"), SIG_OK);
  char hdr[200];
  char l[SIG_HEX_LEN + 1];
  hex_of("s3cret", NOW, BODY, BODY_LEN, l);
  for (char *p = l; *p; p++) {
    if (*p >= 'a' && *p <= 'f') *p = (char)(*p - 'a' + 'A');
  }
  snprintf(hdr, sizeof hdr, "t=%lld,v1=%s", (long long)NOW, l);
  assert_int_equal(verify(hdr, "s3cret"), SIG_OK);
}

static void timestamped(void **state) {
  (void)state;
  char hdr[512];
  stamped(hdr, sizeof hdr, "s3cret", NOW);
  assert_int_equal(verify(hdr, "s3cret"), SIG_OK);
  /* the order of the parts does not matter; unknown schemes are ignored */
  char h[SIG_HEX_LEN + 1];
  hex_of("s3cret", NOW, BODY, BODY_LEN, h);
  snprintf(hdr, sizeof hdr, "v0=abc, v1=%s , t=%lld", h, (long long)NOW);
  assert_int_equal(verify(hdr, "s3cret"), SIG_OK);
  /* the timestamp is signed: the plain MAC of the body does not pass as v1 */
  hex_of("s3cret", -1, BODY, BODY_LEN, h);
  snprintf(hdr, sizeof hdr, "t=%lld,v1=%s", (long long)NOW, h);
  assert_int_equal(verify(hdr, "s3cret"), SIG_MISMATCH);
  /* nor does a MAC made for another timestamp */
  hex_of("s3cret", NOW - 1, BODY, BODY_LEN, h);
  snprintf(hdr, sizeof hdr, "t=%lld,v1=%s", (long long)NOW, h);
  assert_int_equal(verify(hdr, "s3cret"), SIG_MISMATCH);
  /* the timestamp text as sent is what was signed (leading zeros included) */
  char t_text[32];
  snprintf(t_text, sizeof t_text, "0%lld", (long long)NOW);
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, (const unsigned char *)"s3cret", 6);
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)t_text, strlen(t_text));
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)BODY, BODY_LEN);
  crypto_auth_hmacsha256_final(&st, mac);
  sodium_bin2hex(h, sizeof h, mac, sizeof mac);
  snprintf(hdr, sizeof hdr, "t=%s,v1=%s", t_text, h);
  assert_int_equal(verify(hdr, "s3cret"), SIG_OK);
}

static void rotation(void **state) {
  (void)state;
  char hdr[512];
  stamped(hdr, sizeof hdr, "new-secret", NOW);
  assert_int_equal(verify(hdr, "old-secret,new-secret"), SIG_OK);
  assert_int_equal(verify(hdr, " old-secret , new-secret "), SIG_OK);
  assert_int_equal(verify(hdr, "old-secret"), SIG_MISMATCH);
  char h[SIG_HEX_LEN + 1];
  hex_of("new-secret", -1, BODY, BODY_LEN, h);
  assert_int_equal(verify(h, "old-secret,,new-secret"), SIG_OK);
  /* a secret of any length */
  char long_secret[300];
  memset(long_secret, 'k', sizeof long_secret - 1);
  long_secret[sizeof long_secret - 1] = '\0';
  char secrets[400];
  snprintf(secrets, sizeof secrets, "a,%s", long_secret);
  stamped(hdr, sizeof hdr, long_secret, NOW);
  assert_int_equal(verify(hdr, secrets), SIG_OK);
}

static void several_v1(void **state) {
  (void)state;
  char good[SIG_HEX_LEN + 1], bad[SIG_HEX_LEN + 1], hdr[512];
  hex_of("s3cret", NOW, BODY, BODY_LEN, good);
  hex_of("stale-secret", NOW, BODY, BODY_LEN, bad);
  snprintf(hdr, sizeof hdr, "t=%lld,v1=%s,v1=%s", (long long)NOW, bad, good);
  assert_int_equal(verify(hdr, "s3cret"), SIG_OK);
  snprintf(hdr, sizeof hdr, "t=%lld,v1=%s,v1=%s", (long long)NOW, good, bad);
  assert_int_equal(verify(hdr, "s3cret"), SIG_OK);
  snprintf(hdr, sizeof hdr, "t=%lld,v1=%s,v1=%s", (long long)NOW, bad, bad);
  assert_int_equal(verify(hdr, "s3cret"), SIG_MISMATCH);
  /* eight v1 values, the last one valid */
  char big[1024];
  int n = snprintf(big, sizeof big, "t=%lld", (long long)NOW);
  for (int i = 0; i < 7; i++) n += snprintf(big + n, sizeof big - (size_t)n, ",v1=%s", bad);
  snprintf(big + n, sizeof big - (size_t)n, ",v1=%s", good);
  assert_int_equal(verify(big, "s3cret"), SIG_OK);
}

static void tolerance(void **state) {
  (void)state;
  char hdr[512];
  stamped(hdr, sizeof hdr, "s3cret", NOW - SIG_TOLERANCE_S);
  assert_int_equal(verify(hdr, "s3cret"), SIG_OK);
  stamped(hdr, sizeof hdr, "s3cret", NOW + SIG_TOLERANCE_S);
  assert_int_equal(verify(hdr, "s3cret"), SIG_OK);
  stamped(hdr, sizeof hdr, "s3cret", NOW - SIG_TOLERANCE_S - 1);
  assert_int_equal(verify(hdr, "s3cret"), SIG_STALE);
  stamped(hdr, sizeof hdr, "s3cret", NOW + SIG_TOLERANCE_S + 1);
  assert_int_equal(verify(hdr, "s3cret"), SIG_STALE);
  stamped(hdr, sizeof hdr, "s3cret", 0);
  assert_int_equal(verify(hdr, "s3cret"), SIG_STALE);
  /* stale is reported before the MAC is checked: a wrong MAC far in the past is stale too */
  stamped(hdr, sizeof hdr, "other", NOW - 3600);
  assert_int_equal(verify(hdr, "s3cret"), SIG_STALE);
}

static void tampered(void **state) {
  (void)state;
  char h[SIG_HEX_LEN + 1], hdr[512];
  hex_of("s3cret", -1, BODY, BODY_LEN, h);
  char body[sizeof BODY];
  memcpy(body, BODY, sizeof BODY);
  char *amount = strstr(body, "2500");
  amount[0] = '9';
  assert_int_equal(sig_verify(h, "s3cret", body, BODY_LEN, NOW, SIG_TOLERANCE_S), SIG_MISMATCH);
  assert_int_equal(sig_verify(h, "s3cret", BODY, BODY_LEN - 1, NOW, SIG_TOLERANCE_S), SIG_MISMATCH);
  stamped(hdr, sizeof hdr, "s3cret", NOW);
  assert_int_equal(sig_verify(hdr, "s3cret", body, BODY_LEN, NOW, SIG_TOLERANCE_S), SIG_MISMATCH);
  /* one flipped digit of the MAC */
  h[10] = h[10] == '0' ? '1' : '0';
  assert_int_equal(verify(h, "s3cret"), SIG_MISMATCH);
  /* an empty body is signed like any other */
  hex_of("s3cret", -1, "", 0, h);
  assert_int_equal(sig_verify(h, "s3cret", "", 0, NOW, SIG_TOLERANCE_S), SIG_OK);
}

static void malformed(void **state) {
  (void)state;
  char good[SIG_HEX_LEN + 1];
  hex_of("s3cret", NOW, BODY, BODY_LEN, good);
  assert_int_equal(verify(NULL, "s3cret"), SIG_MISSING);
  assert_int_equal(verify("", "s3cret"), SIG_MISSING);
  assert_int_equal(verify("   ", "s3cret"), SIG_MISSING);
  char hdr[4096];
  static const char *const bad[] = {
      "abc",                        /* too short */
      "abcde",                      /* odd length */
      "t=1800000000",               /* no v1 */
      "v1=00",                     /* no t, short */
      "t=,v1=00",                   /* empty t */
      "t=18e8,v1=00",               /* t not digits */
      "t=-5,v1=00",                 /* negative t */
      "t=1234567890123,v1=00",      /* t longer than 12 digits */
      "t=1800000000,",              /* trailing comma */
      ",t=1800000000",              /* leading comma */
      "t=1800000000,,v1=00",        /* empty part */
      "=5,t=1800000000",            /* empty key */
      "T=1800000000",               /* keys are lowercase */
      "t=1800000000,v1",            /* part without = */
      "t=1800000000,v1=",           /* empty value */
      "t=1800000000 v1=00",         /* blank inside a part */
      "sha256=abc==",               /* base64 padding */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(verify(bad[i], "s3cret"), SIG_MALFORMED);
  }
  /* odd hex length and non-hex in v1, and in the plain form */
  snprintf(hdr, sizeof hdr, "t=%lld,v1=%.63s", (long long)NOW, good);
  assert_int_equal(verify(hdr, "s3cret"), SIG_MALFORMED);
  snprintf(hdr, sizeof hdr, "t=%lld,v1=%s0", (long long)NOW, good);
  assert_int_equal(verify(hdr, "s3cret"), SIG_MALFORMED);
  snprintf(hdr, sizeof hdr, "t=%lld,v1=%.62sgg", (long long)NOW, good);
  assert_int_equal(verify(hdr, "s3cret"), SIG_MALFORMED);
  snprintf(hdr, sizeof hdr, "%.63s", good);
  assert_int_equal(verify(hdr, "s3cret"), SIG_MALFORMED);
  snprintf(hdr, sizeof hdr, "%.62szz", good);
  assert_int_equal(verify(hdr, "s3cret"), SIG_MALFORMED);
  /* two timestamps */
  snprintf(hdr, sizeof hdr, "t=%lld,t=%lld,v1=%s", (long long)NOW, (long long)NOW, good);
  assert_int_equal(verify(hdr, "s3cret"), SIG_MALFORMED);
  /* nine v1 values, even with the good one first */
  int n = snprintf(hdr, sizeof hdr, "t=%lld", (long long)NOW);
  for (int i = 0; i < SIG_MAX_V1 + 1; i++) n += snprintf(hdr + n, sizeof hdr - (size_t)n, ",v1=%s", good);
  assert_int_equal(verify(hdr, "s3cret"), SIG_MALFORMED);
  /* too many parts: seventeen, most of them ignored schemes */
  n = snprintf(hdr, sizeof hdr, "t=%lld,v1=%s", (long long)NOW, good);
  for (int i = 0; i < SIG_MAX_PARTS - 1; i++) n += snprintf(hdr + n, sizeof hdr - (size_t)n, ",v0=x");
  assert_int_equal(verify(hdr, "s3cret"), SIG_MALFORMED);
  /* sixteen parts are fine */
  n = snprintf(hdr, sizeof hdr, "t=%lld,v1=%s", (long long)NOW, good);
  for (int i = 0; i < SIG_MAX_PARTS - 2; i++) n += snprintf(hdr + n, sizeof hdr - (size_t)n, ",v0=x");
  assert_int_equal(verify(hdr, "s3cret"), SIG_OK);
  /* huge: over SIG_HEADER_MAX bytes, even if the start is a valid signature */
  n = snprintf(hdr, sizeof hdr, "t=%lld,v1=%s,x=", (long long)NOW, good);
  memset(hdr + n, 'a', sizeof hdr - (size_t)n - 1);
  hdr[sizeof hdr - 1] = '\0';
  assert_true(strlen(hdr) > SIG_HEADER_MAX);
  assert_int_equal(verify(hdr, "s3cret"), SIG_MALFORMED);
  /* exactly SIG_HEADER_MAX bytes is within the bound */
  hdr[SIG_HEADER_MAX] = '\0';
  assert_int_equal(verify(hdr, "s3cret"), SIG_OK);
}

static void no_secret(void **state) {
  (void)state;
  char h[SIG_HEX_LEN + 1];
  hex_of("", -1, BODY, BODY_LEN, h); /* signed with an empty key: still refused */
  assert_int_equal(verify(h, ""), SIG_NO_SECRET);
  assert_int_equal(verify(h, NULL), SIG_NO_SECRET);
  assert_int_equal(verify(h, " , ,"), SIG_NO_SECRET);
  assert_int_equal(verify(NULL, ""), SIG_NO_SECRET);
}

static void parse_fields(void **state) {
  (void)state;
  struct sig_header h;
  char good[SIG_HEX_LEN + 1], hdr[256];
  hex_of("s3cret", NOW, BODY, BODY_LEN, good);
  snprintf(hdr, sizeof hdr, "t=%lld,v1=%s", (long long)NOW, good);
  assert_int_equal(sig_parse(hdr, &h), SIG_OK);
  assert_true(h.timestamped);
  assert_int_equal(h.t, NOW);
  assert_int_equal(h.count, 1);
  assert_string_equal(sig_result_name(SIG_STALE), "stale");
  assert_int_equal(sig_parse(good, &h), SIG_OK);
  assert_false(h.timestamped);
  assert_int_equal(h.count, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(rfc4231_vectors), cmocka_unit_test(plain_hex),  cmocka_unit_test(uppercase_hex_accepted),
      cmocka_unit_test(timestamped),     cmocka_unit_test(rotation),   cmocka_unit_test(several_v1),
      cmocka_unit_test(tolerance),       cmocka_unit_test(tampered),   cmocka_unit_test(malformed),
      cmocka_unit_test(no_secret),       cmocka_unit_test(parse_fields),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
