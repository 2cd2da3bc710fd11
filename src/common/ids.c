/* ids.c — ULID generation: time prefix keeps ids (and B-tree inserts) in time order,
 * 80 random bits from libsodium keep them unguessable; within one millisecond the
 * random part is incremented so ids from one thread stay strictly increasing. */
#include "common/ids.h"

#include <assert.h>
#include <sodium.h>
#include <stdint.h>
#include <string.h>

#include "common/clock.h"

static const char base32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

static _Thread_local int64_t last_ms = -1;
static _Thread_local uint8_t last_rand[10];

static void next_random(int64_t now_ms) {
  if (now_ms == last_ms) {
    for (int i = 9; i >= 0; i--) { /* increment the 80-bit random part */
      if (++last_rand[i] != 0) return;
    }
    /* overflow within one millisecond: astronomically unlikely; fall through to fresh bits */
  }
  randombytes_buf(last_rand, sizeof last_rand);
  last_rand[0] &= 0x7f; /* leave headroom so increments within a ms do not overflow */
  last_ms = now_ms;
}

/* 128 bits -> 26 base32 chars, most significant first; the first char carries the top 3 bits. */
void id_encode(const unsigned char raw[16], char out[ID_BODY_LEN]) {
  uint64_t hi = 0, lo = 0;
  for (int i = 0; i < 8; i++) {
    hi = (hi << 8) | raw[i];
    lo = (lo << 8) | raw[8 + i];
  }
  for (int i = 0; i < ID_BODY_LEN; i++) {
    int shift = 5 * (ID_BODY_LEN - 1 - i); /* of this char's lowest bit, from bit 0 of lo */
    uint64_t v;
    if (shift >= 64) v = hi >> (shift - 64);
    else if (shift == 0) v = lo;
    else v = (lo >> shift) | (hi << (64 - shift));
    out[i] = base32[v & 31];
  }
}

int id_new(const char *prefix, char *out, size_t out_len) {
  size_t plen = prefix ? strlen(prefix) : 0;
  if (plen > 16 || out_len < plen + (plen ? 1 : 0) + ID_BODY_LEN + 1) return -1;
  int64_t now_ms = clock_now_ms();
  if (now_ms < last_ms) now_ms = last_ms; /* clock stepped back: keep order */
  next_random(now_ms);
  unsigned char raw[16];
  uint64_t t = (uint64_t)now_ms;
  for (int i = 5; i >= 0; i--) {
    raw[i] = (unsigned char)(t & 0xff);
    t >>= 8;
  }
  memcpy(raw + 6, last_rand, 10);
  char *p = out;
  if (plen) {
    memcpy(p, prefix, plen);
    p += plen;
    *p++ = '_';
  }
  id_encode(raw, p);
  p[ID_BODY_LEN] = '\0';
  return 0;
}
