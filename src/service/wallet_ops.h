/* wallet_ops.h — money into wallets: staff grants (bonus, silver, vouchers: the merchant's
 * marketing expense) and top-ups (cash at the till now, or an external payment confirmed
 * later by the gateway callback), with the merchant's top-up bonus rule (top up at least
 * min_amount, get bonus_amount; the largest rule that fits applies). Every operation is
 * one balanced ledger entry, an audit entry and an outbox event in the caller's
 * transaction. */
#ifndef MPS_SERVICE_WALLET_OPS_H
#define MPS_SERVICE_WALLET_OPS_H

#include <stdint.h>

#include "service/payments.h"

#define TOPUP_RULES_MAX 16

struct grant_input {
  const char *type; /* BONUS | SILVER | VOUCHER */
  int64_t amount;   /* BONUS/SILVER: amount; VOUCHER: value */
  int64_t min_spend;
  int64_t expires_at_ms; /* vouchers: 0 = never */
  const char *reason;
};

struct grant_result {
  char id[65], voucher_id[65];
};

int grant_create(db_conn *c, const struct actor *a, const struct money_ctx *m,
                 const struct grant_input *in, struct grant_result *out, struct svc_error *err);

struct topup {
  char id[65], merchant_id[65], member_id[65], currency[4], method[10], status[20];
  char external_txn_id[129];
  int64_t amount, bonus_amount, expires_at_ms, created_at_ms;
};

/* method CASH: SUCCEEDED at once; EXTERNAL: PENDING_EXTERNAL until topup_settle. */
int topup_create(db_conn *c, const struct actor *a, const struct money_ctx *m, int64_t amount,
                 const char *method, int64_t pending_ttl_s, struct topup *out, struct svc_error *err);
int topup_load(db_conn *c, const char *id, struct topup *out); /* DB_ROW, DB_DONE, < 0 */
int topup_settle(db_conn *c, const struct actor *a, struct topup *t, const char *external_txn_id,
                 struct svc_error *err);
int topup_fail(db_conn *c, const struct actor *a, struct topup *t, const char *status,
               struct svc_error *err);
json_t *topup_json(const struct topup *t);

struct topup_rule {
  int64_t min_amount, bonus_amount;
};
int topup_rules_get(db_conn *c, const char *merchant_id, struct topup_rule *out, int *count);
/* Prefetch (db_prefetch) what topup_rules_get(c, merchant_id, ...) will query. */
int topup_rules_prefetch(db_conn *c, const char *merchant_id);
int topup_rules_set(db_conn *c, const struct actor *a, const char *merchant_id,
                    const struct topup_rule *rules, int count, struct svc_error *err);

#endif
