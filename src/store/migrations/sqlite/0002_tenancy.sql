-- 0002_tenancy (SQLite): merchants, stores, terminals, users (platform and merchant staff), members,
-- one-time login codes, and the hash-chained audit log.
CREATE TABLE merchants (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  currency TEXT NOT NULL CHECK (length(currency) = 3),
  time_zone TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('PENDING','ACTIVE','REJECTED','SUSPENDED')),
  status_reason TEXT,
  contact_email TEXT,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL
);
CREATE INDEX merchants_status ON merchants (status, id);

CREATE TABLE stores (
  id TEXT PRIMARY KEY,
  merchant_id TEXT NOT NULL REFERENCES merchants (id),
  name TEXT NOT NULL,
  address TEXT,
  status TEXT NOT NULL CHECK (status IN ('ACTIVE','INACTIVE')),
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL
);
CREATE INDEX stores_merchant ON stores (merchant_id, id);

CREATE TABLE terminals (
  id TEXT PRIMARY KEY,
  merchant_id TEXT NOT NULL REFERENCES merchants (id),
  store_id TEXT NOT NULL REFERENCES stores (id),
  name TEXT NOT NULL,
  serial_no TEXT,
  status TEXT NOT NULL CHECK (status IN ('ACTIVE','INACTIVE')),
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL
);
CREATE INDEX terminals_merchant ON terminals (merchant_id, id);
CREATE UNIQUE INDEX terminals_serial ON terminals (serial_no);

CREATE TABLE users (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('platform','merchant')),
  merchant_id TEXT REFERENCES merchants (id),
  email TEXT NOT NULL,
  display_name TEXT NOT NULL,
  role TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  token_version BIGINT NOT NULL DEFAULT 1,
  status TEXT NOT NULL CHECK (status IN ('ACTIVE','DISABLED')),
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL,
  CHECK ((kind = 'platform' AND merchant_id IS NULL AND role IN ('admin','finance','ops','support','viewer'))
      OR (kind = 'merchant' AND merchant_id IS NOT NULL AND role IN ('owner','manager','clerk','finance','ops','viewer')))
);
CREATE UNIQUE INDEX users_email ON users (kind, email);
CREATE INDEX users_merchant ON users (merchant_id, id);

CREATE TABLE members (
  id TEXT PRIMARY KEY,
  merchant_id TEXT NOT NULL REFERENCES merchants (id),
  phone TEXT NOT NULL,
  display_name TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('ACTIVE','DISABLED')),
  token_version BIGINT NOT NULL DEFAULT 1,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL
);
CREATE UNIQUE INDEX members_phone ON members (merchant_id, phone);

CREATE TABLE login_codes (
  merchant_id TEXT NOT NULL,
  phone TEXT NOT NULL,
  code_hash TEXT NOT NULL,
  expires_at_ms BIGINT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  created_at_ms BIGINT NOT NULL,
  PRIMARY KEY (merchant_id, phone)
);

-- Append-only, hash-chained per chain ('platform' or a merchant id): each entry stores the
-- hash of the one before in its chain, so chains append in parallel on PostgreSQL.
CREATE TABLE audit_chain_heads (
  chain TEXT PRIMARY KEY,
  seq BIGINT NOT NULL,
  hash TEXT NOT NULL
);
CREATE TABLE audit_log (
  id TEXT PRIMARY KEY,
  chain TEXT NOT NULL,
  seq BIGINT NOT NULL,
  at_ms BIGINT NOT NULL,
  actor TEXT NOT NULL,
  role TEXT NOT NULL,
  merchant_id TEXT,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('SUCCESS','DENIED','BLOCKED','FAILED')),
  request_id TEXT NOT NULL,
  details TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL,
  UNIQUE (chain, seq)
);
CREATE INDEX audit_log_merchant ON audit_log (merchant_id, id);
CREATE INDEX audit_log_time ON audit_log (at_ms, id);
