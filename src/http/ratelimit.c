/* ratelimit.c — the bucket table behind ratelimit.h: 8192 slots, 64 lock stripes, linear
 * probing over at most 8 slots; when all 8 are taken the stalest bucket is reused, so memory
 * stays fixed whatever the number of clients. Tokens are kept in thousandths. */
#include "http/ratelimit.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define SLOTS 8192
#define STRIPES 64
#define PROBE 8
#define KEY_MAX 96
#define MILLI 1000

struct bucket {
  char key[KEY_MAX];
  uint8_t cls;
  int64_t tokens_milli;
  int64_t last_ms;
};

static struct bucket table[SLOTS];
static pthread_mutex_t stripes[STRIPES] = {[0 ... STRIPES - 1] = PTHREAD_MUTEX_INITIALIZER};
static int limits[RATE_CLASS_COUNT];

void ratelimit_configure(enum rate_class cls, int per_minute) {
  assert(cls > RATE_NONE && cls < RATE_CLASS_COUNT && per_minute >= 0);
  limits[cls] = per_minute;
}

void ratelimit_reset(void) {
  for (int s = 0; s < STRIPES; s++) pthread_mutex_lock(&stripes[s]);
  memset(table, 0, sizeof table);
  for (int s = STRIPES - 1; s >= 0; s--) pthread_mutex_unlock(&stripes[s]);
}

static uint64_t hash_key(enum rate_class cls, const char *key) {
  uint64_t h = 1469598103934665603ULL ^ (uint64_t)cls; /* FNV-1a */
  for (const unsigned char *p = (const unsigned char *)key; *p; p++) h = (h ^ *p) * 1099511628211ULL;
  return h;
}

static struct bucket *find_slot(size_t base, enum rate_class cls, const char *key) {
  struct bucket *stalest = NULL;
  for (size_t i = 0; i < PROBE; i++) {
    struct bucket *b = &table[(base + i) % SLOTS];
    if (b->cls == cls && strcmp(b->key, key) == 0) return b;
    if (b->cls == 0) stalest = b, i = PROBE; /* empty slot: take it */
    else if (!stalest || b->last_ms < stalest->last_ms) stalest = b;
  }
  assert(stalest);
  memset(stalest, 0, sizeof *stalest);
  return stalest;
}

int ratelimit_take(enum rate_class cls, const char *key, int64_t now_ms, int *retry_after_s) {
  assert(cls > RATE_NONE && cls < RATE_CLASS_COUNT);
  int limit = limits[cls];
  if (limit <= 0) return 0;
  char k[KEY_MAX];
  snprintf(k, sizeof k, "%s", key ? key : "");
  /* the whole probe window must be under one lock: stripe by the window's base, aligned */
  uint64_t h = hash_key(cls, k);
  size_t base = (size_t)(h % (SLOTS / PROBE)) * PROBE;
  pthread_mutex_t *m = &stripes[(base / PROBE) % STRIPES];
  pthread_mutex_lock(m);
  struct bucket *b = find_slot(base, cls, k);
  int64_t cap = (int64_t)limit * MILLI;
  if (b->cls == 0) {
    b->cls = (uint8_t)cls;
    memcpy(b->key, k, sizeof b->key);
    b->tokens_milli = cap;
    b->last_ms = now_ms;
  }
  int64_t elapsed = now_ms > b->last_ms ? now_ms - b->last_ms : 0;
  /* refill: limit tokens per 60000 ms, in thousandths of a token */
  b->tokens_milli += elapsed * limit * MILLI / 60000;
  if (b->tokens_milli > cap) b->tokens_milli = cap;
  b->last_ms = now_ms;
  int rc = 0;
  if (b->tokens_milli >= MILLI) {
    b->tokens_milli -= MILLI;
  } else {
    int64_t missing = MILLI - b->tokens_milli;
    int64_t wait_ms = missing * 60000 / ((int64_t)limit * MILLI) + 1;
    if (retry_after_s) *retry_after_s = (int)((wait_ms + 999) / 1000);
    rc = -1;
  }
  pthread_mutex_unlock(m);
  return rc;
}
