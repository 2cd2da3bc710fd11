-- 0008_journal_lines_no_account_index: journal_lines keeps no index on account_id.
-- No query looks journal lines up by account (statements, histories and the settlement read
-- payments, top-ups and refunds; the ledger API reads lines by entry; mpsctl verify sums every
-- line in one pass), and each payment's line on the member's account landed on a random leaf of
-- this index: on SQLite a fifth of the pages each group commit writes to the WAL, and 9,100-9,400
-- payments/s in process without it against 11,000/s with it (docs/decisions.md, D43). An account
-- statement, when one is built, brings the index it needs.
DROP INDEX IF EXISTS journal_lines_account;
