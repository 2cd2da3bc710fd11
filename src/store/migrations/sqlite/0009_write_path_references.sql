-- 0009_write_path_references: nothing to change on SQLite. PostgreSQL's migration of the same
-- number drops the foreign keys of the payment path's rows (each was a query and a row lock
-- per row there, D45); on SQLite a foreign key check is one index lookup without a lock, and
-- the keys stay. The version numbers of the two dialects stay in step.
SELECT 1;
