/* bench_common.h — what bench/seed.c and bench/storage_limit.c share: option parsing,
 * timing, latency percentiles, the seeded data set (bench/seed.env) and the JSON result line
 * every bench tool prints.
 *
 * The tools link against build/libmpscore.a and change the store only through the
 * services (src/service), never with raw SQL, so `mpsctl verify` stays clean. */
#ifndef MPS_BENCH_COMMON_H
#define MPS_BENCH_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BENCH_MERCHANT "m_bench"
#define BENCH_PASSWORD "bench-password"
#define BENCH_OWNER_EMAIL "owner@bench.mps"
#define BENCH_CLERK_EMAIL "clerk@bench.mps"

/* What seed writes into DIR/seed.env (KEY=VALUE lines) and DIR/members.txt (one id a
 * line), and what storage_limit reads back. */
struct bench_seed_info {
  char merchant_id[65], store_id[65], owner_id[65], clerk_id[65], currency[4];
  int64_t clerk_token_version;
  int member_count;
  char (*members)[65];
};

int bench_seed_read(const char *dir, struct bench_seed_info *out, char *err, size_t err_len);
void bench_seed_free(struct bench_seed_info *s);

/* Monotonic nanoseconds. */
int64_t bench_now_ns(void);

/* Latency samples (microseconds), grown as needed. */
struct bench_lat {
  uint32_t *v;
  size_t n, cap;
};
void bench_lat_add(struct bench_lat *l, int64_t us);
void bench_lat_merge(struct bench_lat *into, const struct bench_lat *from);
/* Sorts in place; p in 0..100; milliseconds. 0 when empty. */
double bench_lat_pct(struct bench_lat *l, double p);
void bench_lat_free(struct bench_lat *l);

/* "--name value" lookup in argv; def when absent. */
const char *bench_opt(int argc, char **argv, const char *name, const char *def);
bool bench_flag(int argc, char **argv, const char *name);

#endif
