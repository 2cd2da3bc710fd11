-- 0004_expiry (SQLite): the expiry sweep finds due pending top-ups by an index, as it finds
-- payments by payments_due (0003): SELECT ... WHERE status = 'PENDING_EXTERNAL' AND
-- expires_at_ms <= now ORDER BY expires_at_ms.
CREATE INDEX topups_due ON topups (status, expires_at_ms);
