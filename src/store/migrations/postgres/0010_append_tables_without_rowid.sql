-- 0010_append_tables_without_rowid: nothing to change on PostgreSQL. SQLite's migration of the
-- same number keeps journal_entries, journal_lines and payment_events each in one b-tree
-- ordered by its key (WITHOUT ROWID); PostgreSQL stores every table as a heap with its primary
-- key as an index, and has no such choice. The version numbers of the two dialects stay in step.
SELECT 1;
