/* bench_common.c — see bench_common.h. */
#include "bench_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void bench_lat_add(struct bench_lat *l, int64_t us) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 4096;
    uint32_t *v = realloc(l->v, cap * sizeof *v);
    if (!v) return; /* drop the sample rather than die mid-run */
    l->v = v;
    l->cap = cap;
  }
  l->v[l->n++] = us < 0 ? 0 : us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

void bench_lat_merge(struct bench_lat *into, const struct bench_lat *from) {
  for (size_t i = 0; i < from->n; i++) bench_lat_add(into, from->v[i]);
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

double bench_lat_pct(struct bench_lat *l, double p) {
  if (l->n == 0) return 0;
  qsort(l->v, l->n, sizeof *l->v, cmp_u32);
  size_t i = (size_t)(p / 100.0 * (double)l->n);
  if (i >= l->n) i = l->n - 1;
  return l->v[i] / 1000.0;
}

void bench_lat_free(struct bench_lat *l) {
  free(l->v);
  memset(l, 0, sizeof *l);
}

const char *bench_opt(int argc, char **argv, const char *name, const char *def) {
  for (int i = 1; i + 1 < argc; i++) {
    if (strcmp(argv[i], name) == 0) return argv[i + 1];
  }
  return def;
}

bool bench_flag(int argc, char **argv, const char *name) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], name) == 0) return true;
  }
  return false;
}

static void copy_field(char *dst, size_t len, const char *src) {
  size_t n = strcspn(src, "\r\n");
  if (n >= len) n = len - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

int bench_seed_read(const char *dir, struct bench_seed_info *out, char *err, size_t err_len) {
  memset(out, 0, sizeof *out);
  char path[4096];
  snprintf(path, sizeof path, "%s/seed.env", dir);
  FILE *f = fopen(path, "r");
  if (!f) {
    snprintf(err, err_len, "cannot read %s (run bench seed first)", path);
    return -1;
  }
  char line[512];
  while (fgets(line, sizeof line, f)) {
    char *eq = strchr(line, '=');
    if (!eq) continue;
    *eq = '\0';
    const char *v = eq + 1;
    if (strcmp(line, "MERCHANT_ID") == 0) copy_field(out->merchant_id, sizeof out->merchant_id, v);
    else if (strcmp(line, "STORE_ID") == 0) copy_field(out->store_id, sizeof out->store_id, v);
    else if (strcmp(line, "OWNER_ID") == 0) copy_field(out->owner_id, sizeof out->owner_id, v);
    else if (strcmp(line, "CLERK_ID") == 0) copy_field(out->clerk_id, sizeof out->clerk_id, v);
    else if (strcmp(line, "CURRENCY") == 0) copy_field(out->currency, sizeof out->currency, v);
    else if (strcmp(line, "CLERK_TOKEN_VERSION") == 0) out->clerk_token_version = strtoll(v, NULL, 10);
  }
  fclose(f);
  snprintf(path, sizeof path, "%s/members.txt", dir);
  f = fopen(path, "r");
  if (!f) {
    snprintf(err, err_len, "cannot read %s", path);
    return -1;
  }
  int cap = 0;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = '\0';
    if (!line[0]) continue;
    if (out->member_count == cap) {
      cap = cap ? cap * 2 : 1024;
      void *m = realloc(out->members, (size_t)cap * sizeof *out->members);
      if (!m) {
        fclose(f);
        snprintf(err, err_len, "out of memory");
        return -1;
      }
      out->members = m;
    }
    copy_field(out->members[out->member_count++], 65, line);
  }
  fclose(f);
  if (!out->merchant_id[0] || !out->clerk_id[0] || out->member_count == 0) {
    snprintf(err, err_len, "%s/seed.env or members.txt is incomplete", dir);
    return -1;
  }
  return 0;
}

void bench_seed_free(struct bench_seed_info *s) {
  free(s->members);
  s->members = NULL;
  s->member_count = 0;
}
