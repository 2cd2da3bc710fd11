/* sha256.c — SHA-256 of length-prefixed parts (sha256.h), over OpenSSL's EVP interface. */
#include "common/sha256.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

static EVP_MD *sha256_md; /* fetched once: an implicit fetch on every digest costs a lookup */
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void fetch_md(void) { sha256_md = EVP_MD_fetch(NULL, "SHA2-256", NULL); }

int sha256_parts_hex(const char *const *parts, size_t count, char out[SHA256_HEX_LEN]) {
  static const char hex[] = "0123456789abcdef";
  out[0] = '\0';
  if (pthread_once(&sha256_once, fetch_md) != 0 || sha256_md == NULL) return -1;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  int ok = ctx != NULL && EVP_DigestInit_ex(ctx, sha256_md, NULL) == 1;
  /* small parts are gathered into one buffer: an EVP update call costs more than its bytes */
  unsigned char buf[1024];
  size_t used = 0;
  for (size_t i = 0; ok && i < count; i++) {
    uint64_t n = parts[i] ? strlen(parts[i]) : 0;
    if (used + 8 + n > sizeof buf) {
      ok = used == 0 || EVP_DigestUpdate(ctx, buf, used) == 1;
      used = 0;
    }
    for (int b = 0; b < 8; b++) buf[used++] = (unsigned char)(n >> (8 * b));
    if (n == 0 || !ok) continue;
    if (used + n <= sizeof buf) {
      memcpy(buf + used, parts[i], n);
      used += n;
    } else { /* a long part goes straight in */
      ok = EVP_DigestUpdate(ctx, buf, used) == 1 && EVP_DigestUpdate(ctx, parts[i], n) == 1;
      used = 0;
    }
  }
  ok = ok && (used == 0 || EVP_DigestUpdate(ctx, buf, used) == 1);
  unsigned char digest[32];
  unsigned int digest_len = 0;
  ok = ok && EVP_DigestFinal_ex(ctx, digest, &digest_len) == 1 && digest_len == sizeof digest;
  EVP_MD_CTX_free(ctx);
  if (!ok) return -1;
  for (size_t i = 0; i < sizeof digest; i++) {
    out[2 * i] = hex[digest[i] >> 4];
    out[2 * i + 1] = hex[digest[i] & 15];
  }
  out[64] = '\0';
  return 0;
}
