-- 0011_audit_log_time_order: the audit log is listed newest first by (at_ms, id), and the
-- merchant's index carries at_ms so a merchant's page, with or without a time window, is read
-- from the index in order. Before, the listing ordered by id and filtered at_ms: SQLite then
-- chose audit_log_time for the unfiltered platform listing (at_ms >= 0 AND at_ms < max) and
-- sorted every entry of the log for each page, and a window far in the past walked every newer
-- entry. Now a page costs its rows whatever the log's size (D56).
DROP INDEX audit_log_merchant;
CREATE INDEX audit_log_merchant ON audit_log (merchant_id, at_ms, id);
