-- 0007_hot_tables: the two tables every payment inserts into, rebuilt for the write path.
-- 1. SQLite codes `x IN ('a','b','c')` (more than two constants) in a CHECK constraint as a
--    temporary b-tree, built on every INSERT: payments.status and audit_log.status cost a
--    payment two temporary b-trees (about a tenth of the writer's instructions). The same
--    checks are written as OR chains, which SQLite evaluates as plain comparisons.
-- 2. Both tables are keyed by a time-ordered text id: WITHOUT ROWID keeps each in one b-tree
--    ordered by that id instead of a rowid table plus an index on id (one b-tree insert less
--    per row, one lookup less per read by id).
-- The migration runner turns foreign keys off around every SQLite migration and runs
-- PRAGMA foreign_key_check before it commits (SQLite's procedure for changing a table), so
-- payment_events, refunds and the other tables that reference payments keep their rows.
CREATE TABLE payments_new (
  id TEXT PRIMARY KEY,
  merchant_id TEXT NOT NULL REFERENCES merchants (id),
  member_id TEXT NOT NULL REFERENCES members (id),
  store_id TEXT,
  currency TEXT NOT NULL,
  order_amount BIGINT NOT NULL CHECK (order_amount > 0),
  status TEXT NOT NULL CHECK (status = 'PENDING_EXTERNAL' OR status = 'PAID' OR status = 'FAILED' OR status = 'EXPIRED'),
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
) WITHOUT ROWID;
INSERT INTO payments_new (id, merchant_id, member_id, store_id, currency, order_amount, status,
  voucher_id, deduct_voucher, deduct_bonus, deduct_principal, deduct_silver, deduct_external,
  fee_bps, fee_amount, refunded_amount, external_txn_id, expires_at_ms, created_at_ms, updated_at_ms)
SELECT id, merchant_id, member_id, store_id, currency, order_amount, status,
  voucher_id, deduct_voucher, deduct_bonus, deduct_principal, deduct_silver, deduct_external,
  fee_bps, fee_amount, refunded_amount, external_txn_id, expires_at_ms, created_at_ms, updated_at_ms
FROM payments;
DROP TABLE payments;
ALTER TABLE payments_new RENAME TO payments;
CREATE INDEX payments_merchant ON payments (merchant_id, id);
CREATE INDEX payments_member ON payments (merchant_id, member_id, id);
CREATE INDEX payments_due ON payments (expires_at_ms, id) WHERE status = 'PENDING_EXTERNAL';
CREATE UNIQUE INDEX payments_external_txn ON payments (external_txn_id) WHERE external_txn_id IS NOT NULL;

CREATE TABLE audit_log_new (
  id TEXT PRIMARY KEY,
  chain TEXT NOT NULL,
  seq BIGINT NOT NULL,
  at_ms BIGINT NOT NULL,
  actor TEXT NOT NULL,
  role TEXT NOT NULL,
  merchant_id TEXT,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status = 'SUCCESS' OR status = 'DENIED' OR status = 'BLOCKED' OR status = 'FAILED'),
  request_id TEXT NOT NULL,
  details TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL,
  UNIQUE (chain, seq)
) WITHOUT ROWID;
INSERT INTO audit_log_new (id, chain, seq, at_ms, actor, role, merchant_id, action, target, status,
  request_id, details, prev_hash, hash)
SELECT id, chain, seq, at_ms, actor, role, merchant_id, action, target, status,
  request_id, details, prev_hash, hash
FROM audit_log;
DROP TABLE audit_log;
ALTER TABLE audit_log_new RENAME TO audit_log;
CREATE INDEX audit_log_merchant ON audit_log (merchant_id, id);
CREATE INDEX audit_log_time ON audit_log (at_ms, id);
