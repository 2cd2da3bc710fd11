/* test_common.c — ids (format, order, uniqueness), RFC 3339 time, JSON escaping for logs,
 * the error registry, and configuration parsing/validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <sodium.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/errors.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/sha256.h"
#include "common/token.h"

/* Tokens: a verified token is remembered per thread (token.c), so every check here runs
 * twice, the second time answered from that memory; it must give the same verdicts. */
static const char SECRET_A[] = "0123456789abcdef0123456789abcdef-a";
static const char SECRET_B[] = "0123456789abcdef0123456789abcdef-b";

static void issue_ok(const char *secret, int64_t now_ms, int64_t ttl_s, char *out, size_t len) {
  struct principal p = {.kind = PRINCIPAL_MERCHANT, .role = role_find(PRINCIPAL_MERCHANT, "clerk"),
                        .token_version = 3};
  snprintf(p.subject, sizeof p.subject, "usr_1");
  snprintf(p.merchant_id, sizeof p.merchant_id, "m_1");
  assert_non_null(p.role);
  assert_int_equal(token_issue(&p, secret, now_ms, ttl_s, out, len), 0);
}

static void tokens_verify_and_remember(void **state) {
  (void)state;
  const int64_t now = 1800000000000;
  char tok[TOKEN_MAX_LEN];
  issue_ok(SECRET_A, now, 60, tok, sizeof tok);
  for (int round = 0; round < 2; round++) {
    struct principal p;
    const char *why = NULL;
    assert_int_equal(token_verify(tok, SECRET_A, now, &p, &why), 0);
    assert_int_equal(p.kind, PRINCIPAL_MERCHANT);
    assert_string_equal(p.subject, "usr_1");
    assert_string_equal(p.merchant_id, "m_1");
    assert_string_equal(p.role->name, "clerk");
    assert_int_equal(p.token_version, 3);
    assert_int_equal(p.expires_at_ms, (now / 1000 + 60) * 1000);
    /* another secret: refused, remembered or not */
    assert_int_equal(token_verify(tok, SECRET_B, now, &p, &why), -1);
    assert_string_equal(why, "bad signature or malformed token");
    /* one byte of the signature changed */
    char bad[TOKEN_MAX_LEN];
    snprintf(bad, sizeof bad, "%s", tok);
    size_t n = strlen(bad);
    bad[n - 2] = bad[n - 2] == 'A' ? 'B' : 'A';
    assert_int_equal(token_verify(bad, SECRET_A, now, &p, &why), -1);
    /* a prefix of it */
    bad[n - 2] = tok[n - 2];
    bad[n - 1] = '\0';
    assert_int_equal(token_verify(bad, SECRET_A, now, &p, &why), -1);
    assert_int_equal(token_verify("", SECRET_A, now, &p, &why), -1);
    assert_int_equal(token_verify(tok, SECRET_A, now, &p, &why), 0); /* back to secret A */
  }
  /* expiry is checked again on every use: a remembered token expires too */
  struct principal p;
  const char *why = NULL;
  assert_int_equal(token_verify(tok, SECRET_A, now + 59000, &p, &why), 0);
  assert_int_equal(token_verify(tok, SECRET_A, now + 60000, &p, &why), -1);
  assert_string_equal(why, "expired");
  assert_int_equal(token_verify(tok, SECRET_A, now + 60000, &p, &why), -1);
  assert_string_equal(why, "expired");
  /* many tokens: more than the thread remembers, every one still verifies */
  static char many[600][TOKEN_MAX_LEN];
  for (int i = 0; i < 600; i++) issue_ok(SECRET_A, now + i * 1000, 3600, many[i], sizeof many[i]);
  for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < 600; i++) assert_int_equal(token_verify(many[i], SECRET_A, now + 600000, &p, &why), 0);
}

/* SHA-256 of length-prefixed parts: OpenSSL's answer equals libsodium's for the same bytes
 * (the hashes stored before the switch still verify), and known vectors. */
static void sha256_parts_match_libsodium(void **state) {
  (void)state;
  char hex[SHA256_HEX_LEN];
  assert_int_equal(sha256_parts_hex(NULL, 0, hex), 0);
  assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assert_int_equal(sodium_init() >= 0, 1);
  srand(7);
  for (int round = 0; round < 500; round++) {
    char bufs[4][300];
    const char *parts[4];
    int n = rand() % 5;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    for (int i = 0; i < n; i++) {
      int len = rand() % 299;
      for (int k = 0; k < len; k++) bufs[i][k] = (char)(1 + rand() % 255);
      bufs[i][len] = '\0';
      parts[i] = (rand() % 7 == 0) ? NULL : bufs[i];
      uint64_t plen = parts[i] ? (uint64_t)len : 0;
      unsigned char le[8];
      for (int b = 0; b < 8; b++) le[b] = (unsigned char)(plen >> (8 * b));
      crypto_hash_sha256_update(&st, le, sizeof le);
      if (plen) crypto_hash_sha256_update(&st, (const unsigned char *)parts[i], plen);
    }
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&st, d);
    char want[SHA256_HEX_LEN];
    sodium_bin2hex(want, sizeof want, d, sizeof d);
    assert_int_equal(sha256_parts_hex(parts, (size_t)n, hex), 0);
    assert_string_equal(hex, want);
  }
  const char *ab[] = {"ab", "c"}, *a_bc[] = {"a", "bc"};
  char h1[SHA256_HEX_LEN], h2[SHA256_HEX_LEN];
  assert_int_equal(sha256_parts_hex(ab, 2, h1), 0);
  assert_int_equal(sha256_parts_hex(a_bc, 2, h2), 0);
  assert_string_not_equal(h1, h2);
}

static void ids_are_prefixed_ordered_unique(void **state) {
  (void)state;
  char prev[ID_MAX_LEN] = "";
  for (int i = 0; i < 5000; i++) {
    char id[ID_MAX_LEN];
    assert_int_equal(id_new("pay", id, sizeof id), 0);
    assert_int_equal(strlen(id), 4 + ID_BODY_LEN);
    assert_memory_equal(id, "pay_", 4);
    for (const char *p = id + 4; *p; p++) assert_non_null(strchr("0123456789ABCDEFGHJKMNPQRSTVWXYZ", *p));
    assert_true(strcmp(prev, id) < 0); /* strictly increasing within a thread */
    strcpy(prev, id);
  }
}

/* Crockford base32 of 128 bits (the ULID layout): the ends of the range and a pattern. */
static void ids_encode_known_values(void **state) {
  (void)state;
  unsigned char raw[16];
  char out[ID_BODY_LEN + 1] = {0};
  memset(raw, 0, sizeof raw);
  id_encode(raw, out);
  assert_string_equal(out, "00000000000000000000000000");
  memset(raw, 0xff, sizeof raw);
  id_encode(raw, out);
  assert_string_equal(out, "7ZZZZZZZZZZZZZZZZZZZZZZZZZ");
  static const unsigned char pattern[16] = {0x01, 0x19, 0x3f, 0x73, 0xb5, 0x05, 0x63, 0xcf,
                                            0x49, 0xd1, 0x67, 0x0b, 0xbd, 0x7d, 0x4b, 0x27};
  id_encode(pattern, out);
  assert_string_equal(out, "0134ZQ7D85CF7MKMB71EYQTJS7");
  memset(raw, 0, sizeof raw);
  raw[15] = 0x01; /* the lowest bit is the last char's */
  id_encode(raw, out);
  assert_string_equal(out, "00000000000000000000000001");
  memset(raw, 0, sizeof raw);
  raw[7] = 0x01; /* bit 64: the char that straddles the two halves */
  id_encode(raw, out);
  assert_string_equal(out, "0000000000000G000000000000");
}

static void ids_refuse_small_buffers(void **state) {
  (void)state;
  char small[20];
  assert_int_equal(id_new("pay", small, sizeof small), -1);
  char id[ID_MAX_LEN];
  assert_int_equal(id_new("a_prefix_too_long_", id, sizeof id), -1);
  assert_int_equal(id_new(NULL, id, sizeof id), 0);
  assert_int_equal(strlen(id), ID_BODY_LEN);
}

static void rfc3339(void **state) {
  (void)state;
  char out[32];
  assert_string_equal(clock_rfc3339(0, out, sizeof out), "1970-01-01T00:00:00.000Z");
  assert_string_equal(clock_rfc3339(1795000000123, out, sizeof out), "2026-11-18T11:06:40.123Z");
  assert_string_equal(clock_rfc3339(-1, out, sizeof out), "1969-12-31T23:59:59.999Z");
  assert_string_equal(clock_rfc3339(951782400000, out, sizeof out), "2000-02-29T00:00:00.000Z");
  assert_string_equal(clock_rfc3339(4107542399999, out, sizeof out), "2100-02-28T23:59:59.999Z");
  assert_string_equal(clock_rfc3339(4107542400000, out, sizeof out), "2100-03-01T00:00:00.000Z");
  assert_string_equal(clock_rfc3339(253402300799999, out, sizeof out), "9999-12-31T23:59:59.999Z");
  assert_string_equal(clock_rfc3339(-62167219200000, out, sizeof out), "0000-01-01T00:00:00.000Z");
  /* the hand-written date against gmtime_r and snprintf, across 0000-9999 and beyond */
  uint64_t x = 0x9E3779B97F4A7C15u;
  for (int i = 0; i < 200000; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    int64_t span = i % 4 == 0 ? 400LL * 366 * 86400000 : 4000000000000LL; /* and near 1970 */
    int64_t ms = (int64_t)(x % (uint64_t)(2 * span)) - span;
    if (i % 4 == 1) ms = (int64_t)(x % 320000000000000ULL) - 62200000000000LL; /* years -1..10100 */
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000));
    int millis = (int)(ms - (int64_t)secs * 1000);
    struct tm tm;
    assert_non_null(gmtime_r(&secs, &tm));
    char want[64];
    snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
    assert_string_equal(clock_rfc3339(ms, out, sizeof out), want);
  }
}

static void json_escaping(void **state) {
  (void)state;
  char out[64];
  assert_int_equal(json_escape("a\"b\\c\n\x01", out, sizeof out), strlen("\"a\\\"b\\\\c\\n\\u0001\""));
  assert_string_equal(out, "\"a\\\"b\\\\c\\n\\u0001\"");
  char tiny[4];
  assert_int_equal(json_escape("abcdef", tiny, sizeof tiny), 0);
  assert_string_equal(tiny, "");
}

static void error_registry(void **state) {
  (void)state;
  for (int e = 0; e < MPS_E_COUNT_; e++) {
    const struct mps_error_info *i = mps_error((enum mps_err)e);
    assert_non_null(i->code);
    assert_true(i->http_status >= 400 && i->http_status < 600);
    for (int f = e + 1; f < MPS_E_COUNT_; f++) assert_string_not_equal(i->code, mps_error((enum mps_err)f)->code);
  }
  assert_int_equal(mps_error(MPS_E_PAYLOAD_TOO_LARGE)->http_status, 413);
  assert_int_equal(mps_error(MPS_E_UNAUTHORIZED)->http_status, 401);
}

static char tmpdir[64];

static int load(char **argv, int argc, struct mps_config *cfg, char *err) {
  return config_load(cfg, CONFIG_SERVER, argc, argv, NULL, NULL, err, 256);
}

static void config_defaults_and_flags(void **state) {
  (void)state;
  struct mps_config cfg;
  char err[256];
  char *argv[] = {"mpsd", "--data-dir", tmpdir, "--port=9090", "--http-threads", "3"};
  assert_int_equal(load(argv, 6, &cfg, err), 0);
  assert_int_equal(cfg.port, 9090);
  assert_int_equal(cfg.http_threads, 3);
  assert_int_equal(cfg.max_body_bytes, 1048576);
  assert_string_equal(cfg.listen_addr, "127.0.0.1");
  char want[600];
  snprintf(want, sizeof want, "sqlite:%s/mps.db", tmpdir);
  assert_string_equal(cfg.db_url, want);
  setenv("MPS_PORT", "7070", 1);
  char *argv2[] = {"mpsd", "--data-dir", tmpdir};
  assert_int_equal(load(argv2, 3, &cfg, err), 0);
  assert_int_equal(cfg.port, 7070); /* environment below flags, above defaults */
  unsetenv("MPS_PORT");
  /* the PostgreSQL write pool: the cores, 2 to 16 (D64, D68), unless given */
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  assert_int_equal(cfg.db_pool_size, cores < 2 ? 2 : cores > 16 ? 16 : cores); /* D68 */
  assert_true(cfg.db_pool_size >= 2 && cfg.db_pool_size <= 16);
  char *argv3[] = {"mpsd", "--data-dir", tmpdir, "--db-pool-size", "1"};
  assert_int_equal(load(argv3, 5, &cfg, err), 0);
  assert_int_equal(cfg.db_pool_size, 1);
}

struct bad_cfg {
  const char *flag, *value, *needle;
};

static void config_rejects_bad_values(void **state) {
  (void)state;
  static const struct bad_cfg cases[] = {
      {"--port", "70000", "MPS_PORT"},
      {"--port", "abc", "MPS_PORT"},
      {"--port", "80x", "MPS_PORT"},
      {"--db-url", "mysql://x", "MPS_DB_URL"},
      {"--db-url", "sqlite:", "MPS_DB_URL"},
      {"--db-url", "postgres://host:notaport/db?bad", "MPS_DB_URL"},
      {"--mode", "prod", "MPS_MODE"},
      {"--listen", "localhost", "MPS_LISTEN_ADDR"},
      {"--max-body-bytes", "10", "MPS_MAX_BODY_BYTES"},
      {"--jwt-secret", "short", "MPS_JWT_SECRET"},
      {"--nope", "1", "unknown option"},
      {"--data-dir", "/proc/version/x", "MPS_DATA_DIR"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct mps_config cfg;
    char err[256] = "";
    char *argv[] = {"mpsd", "--data-dir", tmpdir, (char *)cases[i].flag, (char *)cases[i].value};
    assert_int_equal(load(argv, 5, &cfg, err), -1);
    if (!strstr(err, cases[i].needle)) fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].needle);
  }
}

static void config_production_needs_secret(void **state) {
  (void)state;
  struct mps_config cfg;
  char err[256] = "";
  char *argv[] = {"mpsd", "--data-dir", tmpdir, "--mode", "production"};
  assert_int_equal(load(argv, 5, &cfg, err), -1);
  assert_non_null(strstr(err, "MPS_JWT_SECRET"));
  char *argv2[] = {"mpsd", "--data-dir", tmpdir, "--mode", "production", "--jwt-secret",
                   "0123456789abcdef0123456789abcdef"};
  assert_int_equal(load(argv2, 7, &cfg, err), -1); /* the callback secret is missing */
  assert_non_null(strstr(err, "MPS_PAYMENT_CALLBACK_SECRET"));
  char *argv3[] = {"mpsd", "--data-dir", tmpdir, "--mode", "production", "--jwt-secret",
                   "0123456789abcdef0123456789abcdef", "--payment-callback-secret", "cb-secret-0123456789"};
  assert_int_equal(load(argv3, 9, &cfg, err), 0);
  assert_int_equal(cfg.mode, MPS_MODE_PRODUCTION);
}

static int setup(void **state) {
  (void)state;
  if (sodium_init() < 0) return -1;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/mps_cfg_XXXXXX");
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  char path[128];
  snprintf(path, sizeof path, "%s", tmpdir);
  rmdir(path);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(sha256_parts_match_libsodium),
      cmocka_unit_test(ids_are_prefixed_ordered_unique), cmocka_unit_test(ids_refuse_small_buffers),
      cmocka_unit_test(ids_encode_known_values),         cmocka_unit_test(tokens_verify_and_remember),
      cmocka_unit_test(rfc3339),                         cmocka_unit_test(json_escaping),
      cmocka_unit_test(error_registry),                  cmocka_unit_test(config_defaults_and_flags),
      cmocka_unit_test(config_rejects_bad_values),       cmocka_unit_test(config_production_needs_secret),
  };
  return cmocka_run_group_tests_name("common", tests, setup, teardown);
}
