-- 0001_idempotency (SQLite): stored first responses of POSTs that carry an
-- Idempotency-Key, so a replay returns the same answer byte for byte.
CREATE TABLE idempotency_keys (
  scope TEXT NOT NULL,
  idem_key TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('running', 'done')),
  response_status INTEGER,
  response_body TEXT,
  created_at_ms BIGINT NOT NULL,
  completed_at_ms BIGINT,
  PRIMARY KEY (scope, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at_ms);
