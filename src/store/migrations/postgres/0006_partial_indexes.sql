-- 0006_partial_indexes: indexes that only the few rows they serve are in. A payment paid at
-- once (nearly all of them) is never due and has no external transaction id, yet it had an
-- entry in payments_due and payments_external_txn: two B-tree inserts of ~30 per payment.
-- The expiry sweep's query (status = 'PENDING_EXTERNAL' AND expires_at_ms <= now ORDER BY
-- expires_at_ms) is served by the partial index as before; external ids stay unique.
DROP INDEX payments_due;
CREATE INDEX payments_due ON payments (expires_at_ms, id) WHERE status = 'PENDING_EXTERNAL';
DROP INDEX payments_external_txn;
CREATE UNIQUE INDEX payments_external_txn ON payments (external_txn_id) WHERE external_txn_id IS NOT NULL;
DROP INDEX topups_due;
CREATE INDEX topups_due ON topups (expires_at_ms, id) WHERE status = 'PENDING_EXTERNAL';
