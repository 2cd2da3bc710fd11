-- 0003_money (PostgreSQL): the double-entry ledger (accounts, journal entries and lines, holds),
-- vouchers, top-ups and their bonus rules, grants, payments with their events, gateway
-- callbacks, refunds, and the outbox of events written with every state change.
ALTER TABLE merchants ADD COLUMN platform_fee_bps INTEGER CHECK (platform_fee_bps BETWEEN 0 AND 10000);

-- normal: +1 debit-normal (assets, expenses), -1 credit-normal (liabilities, income);
-- balance = normal * sum(lines); held = pending reservations, kept apart from balance.
CREATE TABLE ledger_accounts (
  id TEXT PRIMARY KEY,
  merchant_id TEXT NOT NULL,
  owner_kind TEXT NOT NULL CHECK (owner_kind IN ('member','merchant','platform')),
  owner_id TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('principal','bonus','silver','payable','marketing',
                                     'fee_income','gateway_clearing','cash','refund_payable')),
  currency TEXT NOT NULL CHECK (length(currency) = 3),
  normal INTEGER NOT NULL CHECK (normal IN (1, -1)),
  balance BIGINT NOT NULL DEFAULT 0,
  held BIGINT NOT NULL DEFAULT 0 CHECK (held >= 0),
  has_floor INTEGER NOT NULL DEFAULT 0 CHECK (has_floor IN (0, 1)),
  created_at_ms BIGINT NOT NULL,
  UNIQUE (owner_kind, owner_id, kind, currency),
  CHECK (has_floor = 0 OR balance - held >= 0)
);
CREATE INDEX ledger_accounts_merchant ON ledger_accounts (merchant_id, owner_kind);

CREATE TABLE journal_entries (
  id TEXT PRIMARY KEY,
  merchant_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  ref_type TEXT NOT NULL,
  ref_id TEXT NOT NULL,
  memo TEXT NOT NULL DEFAULT '',
  created_at_ms BIGINT NOT NULL
);
CREATE INDEX journal_entries_merchant ON journal_entries (merchant_id, id);
CREATE INDEX journal_entries_ref ON journal_entries (ref_type, ref_id);

-- amount: + debit, - credit. Every entry sums to zero per currency.
CREATE TABLE journal_lines (
  entry_id TEXT NOT NULL REFERENCES journal_entries (id),
  line_no INTEGER NOT NULL,
  account_id TEXT NOT NULL REFERENCES ledger_accounts (id),
  amount BIGINT NOT NULL CHECK (amount <> 0),
  currency TEXT NOT NULL,
  PRIMARY KEY (entry_id, line_no)
);
CREATE INDEX journal_lines_account ON journal_lines (account_id);

CREATE TABLE ledger_holds (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES ledger_accounts (id),
  amount BIGINT NOT NULL CHECK (amount > 0),
  ref_type TEXT NOT NULL,
  ref_id TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('HELD','POSTED','RELEASED')),
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL
);
CREATE INDEX ledger_holds_ref ON ledger_holds (ref_type, ref_id);

CREATE TABLE vouchers (
  id TEXT PRIMARY KEY,
  merchant_id TEXT NOT NULL REFERENCES merchants (id),
  member_id TEXT NOT NULL REFERENCES members (id),
  type TEXT NOT NULL CHECK (type IN ('CASH_OFF')),
  value BIGINT NOT NULL CHECK (value > 0),
  min_spend BIGINT NOT NULL DEFAULT 0 CHECK (min_spend >= 0),
  expires_at_ms BIGINT NOT NULL DEFAULT 0,
  status TEXT NOT NULL CHECK (status IN ('ACTIVE','HELD','USED','VOID')),
  payment_id TEXT,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL
);
CREATE INDEX vouchers_member ON vouchers (merchant_id, member_id, status);

CREATE TABLE topup_bonus_rules (
  merchant_id TEXT NOT NULL REFERENCES merchants (id),
  min_amount BIGINT NOT NULL CHECK (min_amount > 0),
  bonus_amount BIGINT NOT NULL CHECK (bonus_amount > 0),
  PRIMARY KEY (merchant_id, min_amount)
);

CREATE TABLE topups (
  id TEXT PRIMARY KEY,
  merchant_id TEXT NOT NULL REFERENCES merchants (id),
  member_id TEXT NOT NULL REFERENCES members (id),
  amount BIGINT NOT NULL CHECK (amount > 0),
  bonus_amount BIGINT NOT NULL DEFAULT 0,
  currency TEXT NOT NULL,
  method TEXT NOT NULL CHECK (method IN ('CASH','EXTERNAL')),
  status TEXT NOT NULL CHECK (status IN ('PENDING_EXTERNAL','SUCCEEDED','FAILED','EXPIRED')),
  external_txn_id TEXT,
  expires_at_ms BIGINT NOT NULL DEFAULT 0,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL
);
CREATE INDEX topups_member ON topups (merchant_id, member_id, id);

CREATE TABLE grants (
  id TEXT PRIMARY KEY,
  merchant_id TEXT NOT NULL REFERENCES merchants (id),
  member_id TEXT NOT NULL REFERENCES members (id),
  type TEXT NOT NULL CHECK (type IN ('BONUS','SILVER','VOUCHER')),
  amount BIGINT NOT NULL CHECK (amount > 0),
  voucher_id TEXT REFERENCES vouchers (id),
  actor TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  created_at_ms BIGINT NOT NULL
);
CREATE INDEX grants_member ON grants (merchant_id, member_id, id);

CREATE TABLE payments (
  id TEXT PRIMARY KEY,
  merchant_id TEXT NOT NULL REFERENCES merchants (id),
  member_id TEXT NOT NULL REFERENCES members (id),
  store_id TEXT,
  currency TEXT NOT NULL,
  order_amount BIGINT NOT NULL CHECK (order_amount > 0),
  status TEXT NOT NULL CHECK (status IN ('PENDING_EXTERNAL','PAID','FAILED','EXPIRED')),
  voucher_id TEXT REFERENCES vouchers (id),
  deduct_voucher BIGINT NOT NULL,
  deduct_bonus BIGINT NOT NULL,
  deduct_principal BIGINT NOT NULL,
  deduct_silver BIGINT NOT NULL,
  deduct_external BIGINT NOT NULL,
  fee_bps INTEGER NOT NULL,
  fee_amount BIGINT NOT NULL DEFAULT 0,
  refunded_amount BIGINT NOT NULL DEFAULT 0,
  external_txn_id TEXT,
  expires_at_ms BIGINT NOT NULL DEFAULT 0,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL,
  CHECK (deduct_voucher + deduct_bonus + deduct_principal + deduct_silver + deduct_external = order_amount),
  CHECK (refunded_amount >= 0 AND refunded_amount <= order_amount)
);
CREATE INDEX payments_merchant ON payments (merchant_id, id);
CREATE INDEX payments_member ON payments (merchant_id, member_id, id);
CREATE INDEX payments_due ON payments (status, expires_at_ms);
CREATE UNIQUE INDEX payments_external_txn ON payments (external_txn_id);

CREATE TABLE payment_events (
  payment_id TEXT NOT NULL REFERENCES payments (id),
  seq INTEGER NOT NULL,
  type TEXT NOT NULL,
  at_ms BIGINT NOT NULL,
  details TEXT NOT NULL,
  PRIMARY KEY (payment_id, seq)
);

CREATE TABLE payment_callbacks (
  callback_id TEXT PRIMARY KEY,
  merchant_id TEXT NOT NULL,
  payment_id TEXT NOT NULL,
  external_txn_id TEXT NOT NULL,
  status TEXT NOT NULL,
  paid_amount BIGINT NOT NULL,
  result_status INTEGER NOT NULL,
  result_body TEXT NOT NULL,
  received_at_ms BIGINT NOT NULL
);
CREATE INDEX payment_callbacks_txn ON payment_callbacks (external_txn_id);

CREATE TABLE refunds (
  id TEXT PRIMARY KEY,
  payment_id TEXT NOT NULL REFERENCES payments (id),
  merchant_id TEXT NOT NULL REFERENCES merchants (id),
  amount BIGINT NOT NULL CHECK (amount > 0),
  wallet_share BIGINT NOT NULL,
  external_share BIGINT NOT NULL,
  clawback_bonus BIGINT NOT NULL,
  clawback_principal BIGINT NOT NULL,
  unrecovered BIGINT NOT NULL,
  fee_reversal BIGINT NOT NULL,
  external_status TEXT NOT NULL CHECK (external_status IN ('NONE','OWED','SENT','DONE')),
  actor TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL
);
CREATE INDEX refunds_payment ON refunds (payment_id);

CREATE TABLE outbox_events (
  id TEXT PRIMARY KEY,
  merchant_id TEXT NOT NULL,
  topic TEXT NOT NULL,
  aggregate_id TEXT NOT NULL,
  payload TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  dispatched_at_ms BIGINT
);
CREATE INDEX outbox_pending ON outbox_events (dispatched_at_ms, id);
