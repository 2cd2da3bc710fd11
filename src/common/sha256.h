/* sha256.h — SHA-256 of length-prefixed parts, as lowercase hex: the audit chain's entry hash
 * and the Idempotency-Key's request hash. Each part is hashed as its length (8 bytes, little
 * endian) followed by its bytes, so ("ab","c") and ("a","bc") differ; NULL counts as "".
 * OpenSSL's SHA-256 (SHA-NI where the CPU has it): libsodium's portable one had been 7% of the
 * SQLite writer's instructions per payment. */
#ifndef MPS_COMMON_SHA256_H
#define MPS_COMMON_SHA256_H

#include <stddef.h>

#define SHA256_HEX_LEN 65 /* 64 hex digits + NUL */

/* 0, or -1 when the library failed (out of memory); out is then "". */
int sha256_parts_hex(const char *const *parts, size_t count, char out[SHA256_HEX_LEN]);

#endif
