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

int id_new(const char *prefix, char *out, size_t out_len) {
  size_t plen = prefix ? strlen(prefix) : 0;
  if (plen > 16 || out_len < plen + (plen ? 1 : 0) + ID_BODY_LEN + 1) return -1;
  int64_t now_ms = clock_now_ms();
  if (now_ms < last_ms) now_ms = last_ms; /* clock stepped back: keep order */
  next_random(now_ms);
  uint8_t raw[16];
  uint64_t t = (uint64_t)now_ms;
  for (int i = 5; i >= 0; i--) {
    raw[i] = (uint8_t)(t & 0xff);
    t >>= 8;
  }
  memcpy(raw + 6, last_rand, 10);
  char *p = out;
  if (plen) {
    memcpy(p, prefix, plen);
    p += plen;
    *p++ = '_';
  }
  /* 128 bits -> 26 base32 chars; the first char carries the top 3 bits */
  for (int i = 0; i < ID_BODY_LEN; i++) {
    int bit = 128 - 5 * (ID_BODY_LEN - i); /* position of this char's lowest bit from the top */
    unsigned v = 0;
    for (int b = 0; b < 5; b++) {
      int pos = bit + b; /* bit index from the top, may be negative for the first char */
      if (pos < 0) continue;
      unsigned byte = raw[pos / 8];
      unsigned set = (byte >> (7 - pos % 8)) & 1u;
      v = (v << 1) | set;
    }
    p[i] = base32[v & 31];
  }
  p[ID_BODY_LEN] = '\0';
  assert(strlen(out) == plen + (plen ? 1 : 0) + ID_BODY_LEN);
  return 0;
}
