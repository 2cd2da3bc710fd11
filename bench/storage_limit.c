/* storage_limit.c — the in-process storage limit: the payment transaction of
 * POST /api/payment/verify run straight on the store executor, without HTTP.
 *
 *   storage_limit --db-url URL --seed DIR [--duration 10] [--warmup 0] [--concurrency 64]
 *                 [--amount 100] [--readers 4] [--pool N] [--batch 64] [--queue 10000]
 *                 [--store sqlite|postgres]
 *
 * Starts the executor exactly as mpsd does (db_exec_start with mpsd's defaults: SQLite one
 * group-commit writer, batches of up to 64 jobs, one fsync per group; PostgreSQL a pool of
 * twice the cores, 2 to 16 (D64), write groups of up to 32 payments) and keeps --concurrency payment jobs outstanding
 * (like that many keep-alive HTTP connections, one request in flight each): the moment one
 * is done the next is submitted. Each job does what the HTTP request's store job does:
 *   1. the token check of http/auth.c (the clerk's token version, role and merchant status:
 *      the same SELECT, mirrored here because it is static there),
 *   2. idem_claim of a fresh Idempotency-Key, scoped and hashed as api/util.c does,
 *   3. money_ctx_load + payment_create (PAID at once: the order is far below the wallet),
 *   4. the reply body (api_payment_verify_reply) stored with idem_complete.
 * Members rotate over the seeded set (bench/seed.c), as the wrk script does. Latency is from
 * submit to done() (after COMMIT: durable). Prints one JSON line (bench/README.md). */
#include <jansson.h>
#include <pthread.h>
#include <semaphore.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "bench_common.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/roles.h"
#include "common/token.h"
#include "service/idempotency.h"
#include "service/payments.h"
#include "store/exec.h"

#define MAX_CONC 1024
#define VERIFY_ROUTE "/api/payment/verify"

struct slot {
  db_job job;
  int member;
  char key[64], hash[IDEM_HASH_HEX], request_id[48];
  int64_t submit_ns;
  int64_t at_ms; /* the payment's time, set by its prefetch before each run */
  int outcome; /* 0 PAID; else an error kind */
  struct slot *next_free;
};

enum { OUT_OK = 0, OUT_REFUSED, OUT_NOT_PAID, OUT_REPLAY, OUT_AUTH };

static struct {
  struct bench_seed_info seed;
  struct principal principal;
  struct actor actor;
  char scope[160];
  int64_t amount;
  /* results */
  pthread_mutex_t mu;
  struct slot *free_list;
  sem_t free_slots;
  int64_t window_start_ns, window_end_ns;
  uint64_t ok, errors, store_errors, err_kind[5];
  struct bench_lat lat;
} g;

static const db_sql q_user_version = {
    "bench_auth_user_version",
    "SELECT u.token_version, u.status, u.kind, COALESCE(u.merchant_id, ''), u.role, "
    "COALESCE(m.status, '') FROM users u LEFT JOIN merchants m ON m.id = u.merchant_id WHERE u.id = $1",
    NULL};

static int auth_check(db_conn *c) {
  db_cursor *cur = NULL;
  db_val a[] = {db_text(g.principal.subject)};
  int rc = db_query(c, &q_user_version, a, 1, &cur);
  if (rc < 0) return rc;
  rc = db_step(cur);
  bool ok = rc == DB_ROW && db_col_int(cur, 0) == g.principal.token_version &&
            strcmp(db_col_text(cur, 1), "ACTIVE") == 0 && strcmp(db_col_text(cur, 2), "merchant") == 0 &&
            strcmp(db_col_text(cur, 3), g.principal.merchant_id) == 0 &&
            strcmp(db_col_text(cur, 4), g.principal.role->name) == 0 &&
            strcmp(db_col_text(cur, 5), "SUSPENDED") != 0;
  db_reset(cur);
  if (rc < 0) return rc;
  return ok ? 0 : 1;
}

/* What the handler prefetches (api/payments.c, http/server.c): one round trip for all, or for
 * a whole write group's (D62). */
static int pay_prefetch(db_conn *c, void *arg) {
  struct slot *s = arg;
  db_val av[] = {db_text(g.principal.subject)};
  s->at_ms = clock_now_ms();
  int rc = db_prefetch(c, &q_user_version, av, 1);
  if (rc >= 0) rc = money_ctx_prefetch(c, g.seed.merchant_id, g.seed.members[s->member]);
  if (rc >= 0) rc = idem_prefetch(c, g.scope, s->key, s->hash, s->at_ms);
  if (rc >= 0) rc = payment_create_prefetch(c, &g.actor, g.seed.merchant_id, g.seed.members[s->member], NULL, s->at_ms);
  return rc < 0 ? rc : DB_OK;
}

static int pay_run(db_conn *c, void *arg) {
  struct slot *s = arg;
  s->outcome = OUT_OK;
  const int64_t at_ms = s->at_ms;
  int rc = auth_check(c);
  if (rc != 0) {
    s->outcome = OUT_AUTH;
    return rc < 0 ? rc : DB_JOB_ROLLBACK;
  }
  int status = 0;
  char *stored = NULL;
  rc = idem_claim(c, g.scope, s->key, s->hash, at_ms, &status, &stored);
  if (rc < 0) return rc;
  if (rc != IDEM_NEW) {
    free(stored);
    s->outcome = OUT_REPLAY;
    return DB_JOB_ROLLBACK;
  }
  struct actor a = g.actor;
  a.request_id = s->request_id;
  struct money_ctx m;
  struct svc_error err = {0};
  rc = money_ctx_load(c, &a, g.seed.merchant_id, g.seed.members[s->member], 0, &m, &err);
  struct payment p;
  if (rc == SVC_OK) rc = payment_create(c, &a, &m, g.amount, NULL, 900, at_ms, &p, &err);
  svc_error_clear(&err);
  if (rc < 0) return rc;
  if (rc != SVC_OK) {
    s->outcome = OUT_REFUSED;
    return DB_JOB_ROLLBACK;
  }
  if (p.d.external != 0) s->outcome = OUT_NOT_PAID; /* committed, but not what we measure */
  char *text = api_payment_verify_reply(&p, NULL); /* the reply body, as the handler writes it */
  if (!text) return DB_ERR;
  rc = idem_complete(c, g.scope, s->key, s->hash, 200, text);
  free(text);
  return rc < 0 ? rc : DB_JOB_COMMIT;
}

static void pay_done(db_job *job) {
  struct slot *s = job->arg;
  int64_t now = bench_now_ns();
  pthread_mutex_lock(&g.mu);
  if (now >= g.window_start_ns && now < g.window_end_ns) {
    if (job->status == DB_JOB_COMMIT && s->outcome == OUT_OK) {
      g.ok++;
      bench_lat_add(&g.lat, (now - s->submit_ns) / 1000);
    } else {
      g.errors++;
      if (job->status < 0) g.store_errors++;
      else g.err_kind[s->outcome]++;
    }
  }
  s->next_free = g.free_list;
  g.free_list = s;
  pthread_mutex_unlock(&g.mu);
  sem_post(&g.free_slots);
}

int main(int argc, char **argv) {
  const char *url = bench_opt(argc, argv, "--db-url", NULL);
  const char *seed_dir = bench_opt(argc, argv, "--seed", NULL);
  double duration = atof(bench_opt(argc, argv, "--duration", "10"));
  double warmup = atof(bench_opt(argc, argv, "--warmup", "0"));
  int conc = atoi(bench_opt(argc, argv, "--concurrency", "64"));
  const char *store = bench_opt(argc, argv, "--store", "");
  g.amount = strtoll(bench_opt(argc, argv, "--amount", "100"), NULL, 10);
  struct db_exec_config ec = {.url = url,
                              .readers = atoi(bench_opt(argc, argv, "--readers", "4")),
                              .pool_size = atoi(bench_opt(argc, argv, "--pool", "0")),
                              .batch_max = atoi(bench_opt(argc, argv, "--batch", "64")),
                              .write_group = atoi(bench_opt(argc, argv, "--write-group", "32")),
                              .queue_max = atoi(bench_opt(argc, argv, "--queue", "10000"))};
  if (ec.pool_size == 0) ec.pool_size = config_default_pool_size(); /* mpsd's default (D64) */
  if (!url || !seed_dir || duration <= 0 || conc < 1 || conc > MAX_CONC || g.amount < 1) {
    fprintf(stderr, "usage: storage_limit --db-url URL --seed DIR [--duration S] [--warmup S] "
                    "[--concurrency N] [--amount MINOR] [--readers N] [--pool N] [--batch N] [--write-group N]\n");
    return 2;
  }
  if (sodium_init() < 0) return 1;
  log_set_level(LOG_WARN);
  char err[512] = "";
  if (bench_seed_read(seed_dir, &g.seed, err, sizeof err) != 0) {
    fprintf(stderr, "storage_limit: %s\n", err);
    return 1;
  }
  g.principal.kind = PRINCIPAL_MERCHANT;
  g.principal.role = role_find(PRINCIPAL_MERCHANT, "clerk");
  snprintf(g.principal.subject, sizeof g.principal.subject, "%s", g.seed.clerk_id);
  snprintf(g.principal.merchant_id, sizeof g.principal.merchant_id, "%s", g.seed.merchant_id);
  g.principal.token_version = g.seed.clerk_token_version;
  g.actor = (struct actor){.p = &g.principal, .client_ip = "127.0.0.1"};
  snprintf(g.scope, sizeof g.scope, "%s|POST %s", g.seed.clerk_id, VERIFY_ROUTE);

  db_exec *ex = db_exec_start(&ec, err, sizeof err);
  if (!ex) {
    fprintf(stderr, "storage_limit: cannot start the executor: %s\n", err);
    return 1;
  }
  pthread_mutex_init(&g.mu, NULL);
  sem_init(&g.free_slots, 0, (unsigned)conc);
  struct slot *slots = calloc((size_t)conc, sizeof *slots);
  for (int i = 0; i < conc; i++) {
    slots[i].next_free = g.free_list;
    g.free_list = &slots[i];
  }
  char nonce[24];
  snprintf(nonce, sizeof nonce, "%llx%x", (unsigned long long)(bench_now_ns() / 1000), (unsigned)getpid());
  int64_t t0 = bench_now_ns();
  g.window_start_ns = t0 + (int64_t)(warmup * 1e9);
  g.window_end_ns = g.window_start_ns + (int64_t)(duration * 1e9);
  uint64_t submitted = 0, refused = 0;
  uint32_t rng = 2463534242u;
  struct db_exec_stats st0 = {0};
  bool stats_taken = false;
  while (bench_now_ns() < g.window_end_ns) {
    sem_wait(&g.free_slots);
    if (!stats_taken && bench_now_ns() >= g.window_start_ns) {
      db_exec_stats(ex, &st0);
      stats_taken = true;
    }
    pthread_mutex_lock(&g.mu);
    struct slot *s = g.free_list;
    g.free_list = s->next_free;
    pthread_mutex_unlock(&g.mu);
    rng ^= rng << 13, rng ^= rng >> 17, rng ^= rng << 5;
    s->member = (int)(rng % (uint32_t)g.seed.member_count);
    snprintf(s->key, sizeof s->key, "sl-%s-%llu", nonce, (unsigned long long)submitted);
    snprintf(s->request_id, sizeof s->request_id, "sl-%llu", (unsigned long long)submitted);
    char canonical[256];
    snprintf(canonical, sizeof canonical, "{\"merchantId\":\"%s\",\"orderAmount\":%lld,\"userId\":\"%s\"}",
             g.seed.merchant_id, (long long)g.amount, g.seed.members[s->member]);
    const char *parts[] = {"POST", VERIFY_ROUTE, VERIFY_ROUTE, canonical};
    idem_hash(parts, 4, s->hash);
    s->job = (db_job){.mode = DB_JOB_WRITE, .prefetch = pay_prefetch, .run = pay_run, .done = pay_done,
                      .arg = s, .group_key = g.seed.members[s->member], /* as the handler's (D62) */
                      .group_with = g.seed.merchant_id};
    s->submit_ns = bench_now_ns();
    submitted++;
    if (db_exec_submit(ex, &s->job) != 0) { /* queue full: give the slot back */
      refused++;
      pthread_mutex_lock(&g.mu);
      s->next_free = g.free_list;
      g.free_list = s;
      pthread_mutex_unlock(&g.mu);
      sem_post(&g.free_slots);
      usleep(100);
    }
  }
  for (int i = 0; i < conc; i++) sem_wait(&g.free_slots); /* everything outstanding is done */
  struct db_exec_stats st1;
  db_exec_stats(ex, &st1);
  db_exec_stop(ex);
  double secs = duration;
  double p50 = bench_lat_pct(&g.lat, 50), p95 = bench_lat_pct(&g.lat, 95), p99 = bench_lat_pct(&g.lat, 99),
         pmax = bench_lat_pct(&g.lat, 100);
  uint64_t groups = st1.write_groups - st0.write_groups;
  double stage_ms[DB_STAGE_COUNT]; /* the mean of each store stage over the measured seconds (D51) */
  for (int i = 0; i < DB_STAGE_COUNT; i++) {
    uint64_t n = st1.stage[i].count - st0.stage[i].count;
    stage_ms[i] = n ? (double)(st1.stage[i].sum_us - st0.stage[i].sum_us) / (double)n / 1000.0 : 0.0;
  }
  printf("{\"workload\":\"storage-limit\",\"store\":\"%s\",\"tool\":\"storage_limit\",\"connections\":%d,"
         "\"seconds\":%.3f,\"requests\":%llu,\"rps\":%.1f,\"p50_ms\":%.3f,\"p95_ms\":%.3f,\"p99_ms\":%.3f,"
         "\"max_ms\":%.3f,\"errors\":%llu,\"store_errors\":%llu,\"refused_errors\":%llu,\"not_paid\":%llu,"
         "\"replays\":%llu,\"auth_errors\":%llu,\"queue_full\":%llu,\"write_groups\":%llu,"
         "\"busy_retries\":%llu,\"wal_syncs\":%llu,\"writer_checkpoints\":%llu,\"queue_mean_ms\":%.3f,"
         "\"run_mean_ms\":%.3f,\"durable_mean_ms\":%.3f,\"sync_mean_ms\":%.3f,\"members\":%d}\n",
         store, conc, secs, (unsigned long long)g.ok, (double)g.ok / secs, p50, p95, p99, pmax,
         (unsigned long long)g.errors, (unsigned long long)g.store_errors,
         (unsigned long long)g.err_kind[OUT_REFUSED], (unsigned long long)g.err_kind[OUT_NOT_PAID],
         (unsigned long long)g.err_kind[OUT_REPLAY], (unsigned long long)g.err_kind[OUT_AUTH],
         (unsigned long long)refused, (unsigned long long)groups,
         (unsigned long long)(st1.busy_retries - st0.busy_retries),
         (unsigned long long)(st1.wal_syncs - st0.wal_syncs),
         (unsigned long long)(st1.writer_checkpoints - st0.writer_checkpoints), stage_ms[DB_STAGE_QUEUE],
         stage_ms[DB_STAGE_RUN], stage_ms[DB_STAGE_DURABLE], stage_ms[DB_STAGE_SYNC], g.seed.member_count);
  bench_lat_free(&g.lat);
  bench_seed_free(&g.seed);
  free(slots);
  return 0;
}
