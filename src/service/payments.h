/* payments.h — wallets, quotes and payments of the money core.
 *
 * Every operation runs in the caller's transaction: the quote is computed from the
 * balances as they are inside it (never from an earlier quote), and the ledger entry, the
 * payment row, its events, the outbox event and the audit entry are written together.
 *   PAID at once      external part 0: wallet debited, voucher used, fee booked.
 *   PENDING_EXTERNAL  wallet parts held (not spendable by another payment), voucher HELD;
 *                     payment_settle_external() posts exactly what was held, or
 *                     payment_release() gives it back (failure, expiry). */
#ifndef MPS_SERVICE_PAYMENTS_H
#define MPS_SERVICE_PAYMENTS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "domain/money.h"
#include "service/service.h"

#define WALLET_MAX_VOUCHERS 50

/* The merchant and member a money operation is about, checked and loaded. */
struct money_ctx {
  char merchant_id[65], member_id[65], currency[4];
  int fee_bps;
};

/* Scope (svc_scope), members acting only for themselves, merchant ACTIVE, member ACTIVE at
 * that merchant. SVC_OK or a refusal. */
int money_ctx_load(db_conn *c, const struct actor *a, const char *merchant_id,
                   const char *member_id, int default_fee_bps, struct money_ctx *out,
                   struct svc_error *err);
/* What money_ctx_load refuses from the actor's token alone, before any read: another
 * merchant's data, a member acting for someone else. SVC_OK or a refusal. */
int money_ctx_allowed(const struct actor *a, const char *merchant_id, const char *member_id,
                      struct svc_error *err);
/* Prefetch (db_prefetch) the query money_ctx_load runs for these ids. */
int money_ctx_prefetch(db_conn *c, const char *merchant_id, const char *member_id);

struct wallet_voucher {
  char id[65];
  int64_t value, min_spend, expires_at_ms;
  char status[8];
};

struct wallet_view {
  struct wallet_balances balance;   /* posted */
  struct wallet_balances held;      /* reserved by pending payments */
  struct wallet_balances available; /* balance - held */
  int voucher_count;
  struct wallet_voucher vouchers[WALLET_MAX_VOUCHERS]; /* [0, voucher_count) are set; the rest
                                                          is not read (and not zeroed: 5 KB) */
};
/* Zero a wallet view but its unused voucher slots. */
#define WALLET_VIEW_CLEAR(w) memset((w), 0, offsetof(struct wallet_view, vouchers))

int wallet_load(db_conn *c, const struct money_ctx *m, int64_t now_ms, struct wallet_view *out);
/* Prefetch what wallet_load (and so payment_quote) will query for this member at now_ms. */
int wallet_prefetch(db_conn *c, const char *merchant_id, const char *member_id, int64_t now_ms);
/* Only the usable vouchers of the wallet (balances left as they are). */
int wallet_vouchers_load(db_conn *c, const struct money_ctx *m, int64_t now_ms, struct wallet_view *out);
/* Prefetch what wallet_vouchers_load(c, m, now_ms) will query, m naming this merchant and member. */
int wallet_vouchers_prefetch(db_conn *c, const char *merchant_id, const char *member_id, int64_t now_ms);

struct payment {
  char id[65], merchant_id[65], member_id[65], currency[4], status[20], voucher_id[65];
  char external_txn_id[129];
  int64_t order_amount, fee_amount, refunded_amount, expires_at_ms, created_at_ms, updated_at_ms;
  int fee_bps;
  struct deduction d;
};

int payment_quote(db_conn *c, const struct money_ctx *m, int64_t order_amount, int64_t now_ms,
                  struct wallet_view *wallet, struct quote *out);

/* Prefetch (db_prefetch) what payment_create will read for this merchant, member and store
 * (may be NULL) at now_ms: the store's check, the accounts (the member's locked on PostgreSQL),
 * the vouchers and the audit chain head. Needs neither the merchant nor the member loaded, so
 * on PostgreSQL it goes in the job's first round trip, after the key's claim (D55); nothing
 * when the token alone refuses the request (money_ctx_allowed). Without it the same reads run
 * when asked. */
int payment_create_prefetch(db_conn *c, const struct actor *a, const char *merchant_id,
                            const char *member_id, const char *store_id, int64_t now_ms);
/* Pay order_amount (see the top of this file) at now_ms (the time its prefetch used).
 * pending_ttl_s: how long an external part may wait for its callback. */
int payment_create(db_conn *c, const struct actor *a, const struct money_ctx *m,
                   int64_t order_amount, const char *store_id, int64_t pending_ttl_s, int64_t now_ms,
                   struct payment *out, struct svc_error *err);

int payment_load(db_conn *c, const char *id, struct payment *out); /* DB_ROW, DB_DONE, < 0 */
/* Prefetch (db_prefetch) what payment_load(c, id) will query. */
int payment_load_prefetch(db_conn *c, const char *id);
/* The columns every payment query selects first, in this order, and their reader. */
#define PAYMENT_COLS "id, merchant_id, member_id, currency, status, COALESCE(voucher_id, ''), " \
  "COALESCE(external_txn_id, ''), order_amount, fee_amount, refunded_amount, expires_at_ms, " \
  "created_at_ms, updated_at_ms, fee_bps, deduct_voucher, deduct_bonus, deduct_principal, " \
  "deduct_silver, deduct_external"
#define PAYMENT_COL_COUNT 19
void payment_read_row(db_cursor *cur, struct payment *out);
/* Append to the payment's history (the next seq). */
int payment_event(db_conn *c, const char *payment_id, const char *type, json_t *details);
/* Prefetch (db_prefetch) what payment_event reads first: the payment's last event. */
int payment_event_prefetch(db_conn *c, const char *payment_id);

/* Prefetch what payment_settle_external (settle) or payment_release will read of p. */
int payment_resolve_prefetch(db_conn *c, const struct payment *p, bool settle);
/* PENDING_EXTERNAL -> PAID: end the holds, post what was held plus the external part from
 * gateway clearing, book the fee. The caller has locked p's row and seen it pending. */
int payment_settle_external(db_conn *c, const struct actor *a, struct payment *p,
                            const char *external_txn_id, struct svc_error *err);
/* PENDING_EXTERNAL -> FAILED or EXPIRED: release the holds and the voucher (p's row locked). */
int payment_release(db_conn *c, const struct actor *a, struct payment *p, const char *status,
                    const char *reason, struct svc_error *err);

/* An outbox event in the current transaction (payload as a tree, or as its JSON text). */
int outbox_add(db_conn *c, const char *merchant_id, const char *topic, const char *aggregate_id,
               json_t *payload);
int outbox_add_text(db_conn *c, const char *merchant_id, const char *topic, const char *aggregate_id,
                    const char *payload);

/* The API's payment object: as a jansson tree (lists, callbacks), or written as text into an
 * open object of a json_text (the payment path: its reply and its outbox event). Both give
 * the same members in the same order; tests/unit/test_json_text.c compares them. */
json_t *payment_json(const struct payment *p);
struct json_text;
void payment_json_members(struct json_text *t, const struct payment *p);

#endif
