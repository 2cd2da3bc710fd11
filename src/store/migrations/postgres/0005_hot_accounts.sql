-- 0005_hot_accounts: concurrent payments of one merchant no longer queue on its accounts.
--
-- An index that starts with owner_id: a payment, grant or top-up locks all of a member's
-- accounts first (ledger_lock_owner: SELECT id FROM ledger_accounts WHERE owner_id = $1
-- ORDER BY id FOR UPDATE, PostgreSQL); the unique key (owner_kind, owner_id, kind, currency)
-- cannot serve it, so every payment scanned the whole table.
CREATE INDEX ledger_accounts_owner ON ledger_accounts (owner_id, id);

-- Lanes of a hot account. Every payment of a merchant credits its payable (and fee income,
-- gateway clearing... are shared by all merchants): updating that one row made concurrent
-- payments wait for each other's commit on PostgreSQL. An account without a floor
-- (has_floor = 0: merchant and platform accounts) takes its postings on PostgreSQL here, one
-- row per pool connection (lane), so no two running transactions touch the same row. Its
-- balance = ledger_accounts.balance + the sum of its lanes (mpsctl verify checks that against
-- the journal). Member buckets (has_floor = 1) never have lanes: their CHECK floor needs the
-- one row. SQLite's single writer never writes lanes.
CREATE TABLE ledger_account_lanes (
  account_id TEXT NOT NULL REFERENCES ledger_accounts (id),
  lane INTEGER NOT NULL CHECK (lane >= 0),
  balance BIGINT NOT NULL,
  PRIMARY KEY (account_id, lane)
);
