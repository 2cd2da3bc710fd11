-- 0007_hot_tables: nothing to change on PostgreSQL. The SQLite migration of the same number
-- rebuilds payments and audit_log (CHECK ... IN lists as OR chains, WITHOUT ROWID); here an
-- IN list in a CHECK is a plain comparison and tables are heaps either way. The version
-- numbers of the two dialects stay in step.
SELECT 1;
