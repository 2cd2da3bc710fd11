/* ids.h — time-ordered identifiers with a type prefix: "pay_01JD6Z3K8Q..." (a ULID:
 * 48-bit millisecond time + 80 random bits, Crockford base32, monotonic per thread). */
#ifndef MPS_COMMON_IDS_H
#define MPS_COMMON_IDS_H

#include <stddef.h>

#define ID_BODY_LEN 26
#define ID_MAX_LEN 48 /* prefix (<= 16) + '_' + 26 + NUL, rounded up */

/* Writes prefix + "_" + ULID into out. prefix may be NULL or "" for a bare ULID.
 * Returns 0, or -1 when out is too small or the prefix longer than 16. */
int id_new(const char *prefix, char *out, size_t out_len);

/* The 26 Crockford base32 chars (no NUL) of 16 bytes read as one big-endian 128-bit number. */
void id_encode(const unsigned char raw[16], char out[ID_BODY_LEN]);

#endif
