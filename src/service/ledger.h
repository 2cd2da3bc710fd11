/* ledger.h — the double-entry ledger: accounts, balanced journal entries, holds.
 *
 * Lines are signed: + debit, - credit. An account's balance is normal * sum(lines) where
 * normal is +1 for debit-normal accounts (assets, expenses: cash, gateway clearing,
 * marketing) and -1 for credit-normal ones (liabilities, income: member wallet buckets,
 * merchant payable, fee income, refunds owed to the gateway). ledger_post() refuses an
 * entry that does not sum to zero, and updates each balance in the same transaction as
 * its lines. On PostgreSQL an account without a floor (merchant and platform accounts, hot:
 * every payment of a merchant posts to its payable) takes its balance change in the row of
 * the connection's lane (ledger_account_lanes, db_conn_lane()), so concurrent payments do
 * not queue on one row; its balance is the account row's plus its lanes'. Holds reserve part of a floored account (a member's wallet bucket) for a
 * pending payment: available = balance - held, and the database refuses available < 0. */
#ifndef MPS_SERVICE_LEDGER_H
#define MPS_SERVICE_LEDGER_H

#include <stdint.h>

#include "store/db.h"

#define LEDGER_MAX_LINES 16

enum ledger_kind {
  ACC_PRINCIPAL = 0,   /* member wallet: refundable stored value */
  ACC_BONUS,           /* member wallet: gifted */
  ACC_SILVER,          /* member wallet: soft currency */
  ACC_PAYABLE,         /* merchant: what the platform owes the merchant */
  ACC_MARKETING,       /* merchant: marketing expense (grants, vouchers, top-up bonuses) */
  ACC_FEE_INCOME,      /* platform */
  ACC_GATEWAY_CLEARING,/* platform: what the payment gateway owes */
  ACC_CASH,            /* platform: cash received at tills */
  ACC_REFUND_PAYABLE,  /* platform: refunds owed back through the gateway */
  ACC_KIND_COUNT
};

const char *ledger_kind_name(enum ledger_kind k);

/* SQL: the sum of the lanes of the account row aliased `a` (PostgreSQL reads add it). */
#define LEDGER_LANES_SUM \
  "CAST(COALESCE((SELECT SUM(s.balance) FROM ledger_account_lanes s WHERE s.account_id = a.id), 0) AS BIGINT)"

struct ledger_account {
  char id[65];
  int normal;
  int has_floor;   /* 1: a member's bucket, balance - held >= 0 enforced; 0: may use lanes */
  int64_t balance; /* lanes included */
  int64_t held;
};

/* The account of (owner, kind) in the merchant's currency, created on first use.
 * owner_id: the member id for wallet buckets, the merchant id for merchant accounts,
 * ignored for platform accounts. DB_OK or < 0. */
int ledger_account(db_conn *c, enum ledger_kind kind, const char *merchant_id, const char *owner_id,
                   const char *currency, struct ledger_account *out);

/* Prefetch (db_prefetch) the lookup ledger_account and ledger_account_find start with. */
int ledger_account_prefetch(db_conn *c, enum ledger_kind kind, const char *owner_id, const char *currency);

/* The same without creating it (for read-only jobs): DB_ROW, DB_DONE when it does not exist
 * yet (a balance of zero), or < 0. */
int ledger_account_find(db_conn *c, enum ledger_kind kind, const char *owner_id,
                        const char *currency, struct ledger_account *out);

/* Lock every account of an owner for the rest of the transaction (PostgreSQL row locks;
 * SQLite's single writer already serialises): concurrent payments on one wallet queue up
 * instead of quoting from the same balance. */
int ledger_lock_owner(db_conn *c, const char *owner_id);
/* Prefetch what one later ledger_lock_owner(c, owner_id) runs (PostgreSQL; nothing on SQLite). */
int ledger_lock_owner_prefetch(db_conn *c, const char *owner_id);

struct ledger_line {
  const struct ledger_account *account;
  int64_t amount; /* + debit, - credit; zero lines are skipped */
};

/* Write one balanced entry and apply it to the balances, the writes held back (db_run_later).
 * DB_OK or < 0; a floored account that would go below zero is DB_BUSY, from this call or
 * from a later one (COMMIT): the caller read a balance another transaction has spent since,
 * and its job runs again. entry_id_out may be NULL. */
int ledger_post(db_conn *c, const char *merchant_id, const char *kind, const char *ref_type,
                const char *ref_id, const char *memo, const char *currency,
                const struct ledger_line *lines, int count, char *entry_id_out, size_t id_len);

/* Reserve amount on an account for (ref_type, ref_id), held back like ledger_post; not
 * available is DB_BUSY, as there. */
int ledger_hold(db_conn *c, const char *account_id, int64_t amount, const char *ref_type,
                const char *ref_id);
/* Prefetch (db_prefetch) the holds ledger_end_holds will read. */
int ledger_end_holds_prefetch(db_conn *c, const char *ref_type, const char *ref_id);
/* The caller holds the row the holds are for locked (a payment FOR UPDATE), so that no one
 * ends them meanwhile; the writes are held back (db_run_later).
 * End every HELD hold of (ref_type, ref_id) as POSTED or RELEASED, returning its amount to
 * the available balance. *count_out (may be NULL) counts them. */
int ledger_end_holds(db_conn *c, const char *ref_type, const char *ref_id, const char *status,
                     int *count_out);

#endif
