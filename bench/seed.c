/* seed.c — bench seed: a benchmark merchant with N members and funded wallets, fast.
 *
 *   seed --db-url URL --out DIR [--members 1000] [--fund 100000000]
 *
 * Applies pending migrations, then creates through the services (validated, audited, every
 * money movement a balanced ledger entry, exactly as the API would):
 *   merchant m_bench (IDR, ACTIVE), one store, staff owner@bench.mps and clerk@bench.mps
 *   (password "bench-password"), N members (+62813xxxxxxxx) each topped up with --fund
 *   minor units of CASH (a TOPUP entry: Dr cash, Cr principal), for the PAID payments and
 *   the reads, and N more members (+62814xxxxxxxx) topped up with --fund-ext (small) for the
 *   external payments: those drain their wallet at the first payment, so they get wallets of
 *   their own and never starve the PAID workload.
 * Members are written in transactions of 250 (one fsync each). Writes DIR/seed.env,
 * DIR/members.txt and DIR/members_ext.txt (bench_common.h). Refuses a store that already
 * holds m_bench. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "common/log.h"
#include "service/members.h"
#include "service/merchants.h"
#include "service/payments.h"
#include "service/stores.h"
#include "service/users.h"
#include "service/wallet_ops.h"
#include "store/db.h"
#include "store/migrate.h"

#define BATCH 250

static int fail_svc(db_conn *c, const char *what, int rc, struct svc_error *err) {
  if (rc < 0) fprintf(stderr, "seed: %s: store error %d: %s\n", what, rc, db_errmsg(c));
  else fprintf(stderr, "seed: %s: %s: %s\n", what, mps_error(err->code)->code, err->message);
  svc_error_clear(err);
  db_rollback(c);
  return 1;
}

int main(int argc, char **argv) {
  const char *url = bench_opt(argc, argv, "--db-url", NULL);
  const char *dir = bench_opt(argc, argv, "--out", NULL);
  int n = atoi(bench_opt(argc, argv, "--members", "1000"));
  int64_t fund = strtoll(bench_opt(argc, argv, "--fund", "100000000"), NULL, 10);
  int64_t fund_ext = strtoll(bench_opt(argc, argv, "--fund-ext", "1000"), NULL, 10);
  if (!url || !dir || n < 1 || fund < 1 || fund_ext < 1) {
    fprintf(stderr, "usage: seed --db-url URL --out DIR [--members N] [--fund MINOR_UNITS] [--fund-ext MINOR_UNITS]\n");
    return 2;
  }
  if (sodium_init() < 0) return 1;
  log_set_level(LOG_WARN);
  int64_t t0 = bench_now_ns();
  char err[512] = "";
  db_conn *c = db_open(url, err, sizeof err);
  if (!c) {
    fprintf(stderr, "seed: cannot open %s: %s\n", url, err);
    return 1;
  }
  int applied = 0;
  if (migrate_apply(c, &applied, err, sizeof err) != DB_OK) {
    fprintf(stderr, "seed: migrations failed: %s\n", err);
    return 1;
  }
  char hash[PASSWORD_HASH_MAX];
  if (password_hash(BENCH_PASSWORD, hash) != 0) return 1;

  struct actor sys = {.request_id = "bench-seed"};
  struct svc_error e = {0};
  struct merchant mer;
  struct store st;
  struct user owner, clerk;
  if (db_begin_write(c) != DB_OK) return fail_svc(c, "begin", DB_ERR, &e);
  struct merchant_input mi = {.id = BENCH_MERCHANT, .name = "Bench Coffee", .currency = "IDR",
                              .time_zone = "Asia/Jakarta", .contact_email = BENCH_OWNER_EMAIL,
                              .status = "ACTIVE"};
  int rc = merchant_create(c, &sys, &mi, &mer, &e);
  if (rc != SVC_OK) return fail_svc(c, "merchant", rc, &e);
  struct store_input si = {.name = "Bench Street", .address = "Jl. Bench 1"};
  rc = store_create(c, &sys, mer.id, &si, &st, &e);
  if (rc != SVC_OK) return fail_svc(c, "store", rc, &e);
  struct user_input oi = {.kind = "merchant", .merchant_id = mer.id, .email = BENCH_OWNER_EMAIL,
                          .display_name = "Bench Owner", .role = "owner", .password_hash = hash};
  rc = user_create(c, &sys, &oi, &owner, &e);
  if (rc != SVC_OK) return fail_svc(c, "owner", rc, &e);
  struct user_input ci = {.kind = "merchant", .merchant_id = mer.id, .email = BENCH_CLERK_EMAIL,
                          .display_name = "Bench Clerk", .role = "clerk", .password_hash = hash};
  rc = user_create(c, &sys, &ci, &clerk, &e);
  if (rc != SVC_OK) return fail_svc(c, "clerk", rc, &e);
  if (db_commit(c) != DB_OK) return fail_svc(c, "commit", DB_ERR, &e);

  char path[4096];
  for (int set = 0; set < 2; set++) { /* 0: members.txt (funded), 1: members_ext.txt */
    snprintf(path, sizeof path, "%s/%s", dir, set ? "members_ext.txt" : "members.txt");
    FILE *mf = fopen(path, "w");
    if (!mf) {
      fprintf(stderr, "seed: cannot write %s\n", path);
      return 1;
    }
    for (int i = 0; i < n; i += BATCH) {
      if (db_begin_write(c) != DB_OK) return fail_svc(c, "begin", DB_ERR, &e);
      for (int j = i; j < n && j < i + BATCH; j++) {
        char phone[32], name[64];
        snprintf(phone, sizeof phone, "+6281%d%08d", 3 + set, j + 1);
        snprintf(name, sizeof name, "Bench %s %d", set ? "External" : "Member", j + 1);
        struct member_input in = {.phone = phone, .display_name = name};
        struct member mem;
        rc = member_create(c, &sys, mer.id, &in, &mem, &e);
        if (rc != SVC_OK) return fail_svc(c, "member", rc, &e);
        struct money_ctx m;
        rc = money_ctx_load(c, &sys, mer.id, mem.id, 0, &m, &e);
        if (rc != SVC_OK) return fail_svc(c, "money context", rc, &e);
        struct topup t;
        rc = topup_create(c, &sys, &m, set ? fund_ext : fund, "CASH", 900, &t, &e);
        if (rc != SVC_OK) return fail_svc(c, "top-up", rc, &e);
        fprintf(mf, "%s\n", mem.id);
      }
      if (db_commit(c) != DB_OK) return fail_svc(c, "commit", DB_ERR, &e);
    }
    fclose(mf);
  }
  db_close(c);

  snprintf(path, sizeof path, "%s/seed.env", dir);
  FILE *f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "seed: cannot write %s\n", path);
    return 1;
  }
  fprintf(f, "MERCHANT_ID=%s\nSTORE_ID=%s\nOWNER_ID=%s\nCLERK_ID=%s\nCLERK_TOKEN_VERSION=%lld\n"
             "CURRENCY=%s\nMEMBERS=%d\nFUND=%lld\nFUND_EXT=%lld\nOWNER_EMAIL=%s\nCLERK_EMAIL=%s\nPASSWORD=%s\n",
          mer.id, st.id, owner.id, clerk.id, (long long)clerk.token_version, mer.currency, n,
          (long long)fund, (long long)fund_ext, BENCH_OWNER_EMAIL, BENCH_CLERK_EMAIL, BENCH_PASSWORD);
  fclose(f);
  fprintf(stderr, "seed: merchant %s, %d members funded with %lld and %d with %lld, in %.2f s\n", mer.id, n,
          (long long)fund, n, (long long)fund_ext, (double)(bench_now_ns() - t0) / 1e9);
  return 0;
}
