-- 0011_listing_indexes: every list reads one index in its order, so a page costs its own
-- rows whatever the table's size (D56).
-- The audit log is listed newest first by (at_ms, id): audit_log_time holds that order, and
-- the merchant's index carries at_ms too. Before, the listing ordered by id and filtered at_ms:
-- SQLite chose audit_log_time for the unfiltered platform listing and sorted every entry of the
-- log for each page, and a window far in the past walked every newer entry.
DROP INDEX audit_log_merchant;
CREATE INDEX audit_log_merchant ON audit_log (merchant_id, at_ms, id);
-- A merchant's members newest first (ids are time-ordered): before, members_phone found them
-- and every page sorted all of them.
CREATE INDEX members_merchant ON members (merchant_id, id);
-- Merchants newest first by (created_at_ms, id): before, every page sorted all merchants.
CREATE INDEX merchants_created ON merchants (created_at_ms, id);
