-- 0009_write_path_references: the payment path's rows keep their references without foreign
-- keys on PostgreSQL (D45). A foreign key check is a query of its own per row (an RI trigger)
-- that also locks the referenced row FOR KEY SHARE: every payment locked its merchant's row and
-- the merchant's payable account, so concurrent payments of one merchant made a MultiXact each.
-- The service writes these rows in the transaction that has just read (or created) what they
-- name; mpsctl verify checks every one of them (payment-owners, orphan-events, orphan-lines,
-- line-currency, orphan-lanes). In process: 1,210-1,305 payments/s with these six keys,
-- 2,240-2,499/s without them. SQLite keeps its foreign keys: there a check is one index lookup
-- and takes no lock.
ALTER TABLE journal_lines DROP CONSTRAINT IF EXISTS journal_lines_account_id_fkey;
ALTER TABLE journal_lines DROP CONSTRAINT IF EXISTS journal_lines_entry_id_fkey;
ALTER TABLE ledger_account_lanes DROP CONSTRAINT IF EXISTS ledger_account_lanes_account_id_fkey;
ALTER TABLE payments DROP CONSTRAINT IF EXISTS payments_merchant_id_fkey;
ALTER TABLE payments DROP CONSTRAINT IF EXISTS payments_member_id_fkey;
ALTER TABLE payment_events DROP CONSTRAINT IF EXISTS payment_events_payment_id_fkey;
