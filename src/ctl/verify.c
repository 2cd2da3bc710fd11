/* verify.c — `mpsctl verify`: recompute the books from the journal and check every money
 * invariant, in one read snapshot (REPEATABLE READ on PostgreSQL, a read transaction on
 * SQLite), so it may run beside a live mpsd.
 *
 * Each check is one SQL statement that returns only the rows that break it (the database
 * aggregates, one pass per check; nothing proportional to the books is held here); every
 * row is one violation, printed as one "VIOLATION <check>: ..." line (the first
 * VERIFY_PRINT_MAX per check; all are counted). Then a table of checks with what each
 * covered, the counts, and the audit-chain check (service/audit.h). Every loop over rows
 * is bounded by VERIFY_MAX_ROWS; hitting the bound counts as a violation (not verified).
 *
 * Exit status: 0 clean, 1 violations, 2 store error (or usage).
 *
 * Account kinds (service/ledger.c): member buckets principal, bonus, silver are
 * credit-normal (-1) with a floor; merchant payable is credit-normal, marketing
 * debit-normal; platform fee_income and refund_payable credit-normal, gateway_clearing and
 * cash debit-normal. Lines are + debit, - credit; balance = normal * sum(lines), where an
 * account's balance is its row's plus its lanes' (ledger_account_lanes: hot accounts on
 * PostgreSQL, never a floored one). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ctl/ctl.h"
#include "service/audit.h"

#define VERIFY_MAX_ROWS 10000000LL /* per check; far above any real set of violations */
#define VERIFY_PRINT_MAX 50        /* violation lines printed per check */

/* ---------------------------------------------------------------------------------- SQL */

/* Σ lines and Σ HELD holds per account, as derived tables. */
#define LINE_SUMS "(SELECT account_id, SUM(amount) AS total FROM journal_lines GROUP BY account_id)"
#define LANE_SUMS "(SELECT account_id, SUM(balance) AS total FROM ledger_account_lanes GROUP BY account_id)"
#define HOLD_SUMS \
  "(SELECT account_id, SUM(amount) AS total FROM ledger_holds WHERE status = 'HELD' GROUP BY account_id)"

static const db_sql q_counts = {
    "verify_counts",
    "SELECT (SELECT COUNT(*) FROM ledger_accounts), (SELECT COUNT(*) FROM journal_entries), "
    "(SELECT COUNT(*) FROM journal_lines), (SELECT COUNT(*) FROM ledger_holds WHERE status = 'HELD'), "
    "(SELECT COUNT(*) FROM payments), (SELECT COUNT(*) FROM payments WHERE status = 'PAID'), "
    "(SELECT COUNT(*) FROM payments WHERE status = 'PENDING_EXTERNAL'), (SELECT COUNT(*) FROM refunds), "
    "(SELECT COUNT(*) FROM topups), (SELECT COUNT(*) FROM topups WHERE status = 'SUCCEEDED'), "
    "(SELECT COUNT(*) FROM grants), (SELECT COUNT(*) FROM vouchers), "
    "(SELECT COUNT(*) FROM vouchers WHERE status IN ('USED', 'HELD')), "
    "(SELECT COUNT(*) FROM ledger_accounts WHERE owner_kind = 'member' OR has_floor = 1), "
    "(SELECT COUNT(*) FROM journal_entries WHERE ref_type NOT IN ('payment', 'topup', 'grant', 'refund')), "
    "(SELECT COUNT(*) FROM ledger_account_lanes), (SELECT COUNT(*) FROM payment_events)",
    NULL};
enum {
  N_ACCOUNTS, N_ENTRIES, N_LINES, N_HOLDS, N_PAYMENTS, N_PAID, N_PENDING, N_REFUNDS, N_TOPUPS,
  N_SUCCEEDED, N_GRANTS, N_VOUCHERS, N_VOUCHERS_TAKEN, N_FLOORED, N_OTHER_ENTRIES, N_LANES, N_EVENTS, N_COUNT
};

static const db_sql q_account_shape = {
    "verify_account_shape",
    "SELECT id, owner_kind, owner_id, kind, currency, normal, has_floor FROM ledger_accounts WHERE NOT ("
    "(kind IN ('principal', 'bonus', 'silver') AND owner_kind = 'member' AND normal = -1 AND has_floor = 1) OR "
    "(kind = 'payable' AND owner_kind = 'merchant' AND normal = -1 AND has_floor = 0) OR "
    "(kind = 'marketing' AND owner_kind = 'merchant' AND normal = 1 AND has_floor = 0) OR "
    "(kind IN ('fee_income', 'refund_payable') AND owner_kind = 'platform' AND normal = -1 AND has_floor = 0) OR "
    "(kind IN ('gateway_clearing', 'cash') AND owner_kind = 'platform' AND normal = 1 AND has_floor = 0)) "
    "ORDER BY id", NULL};

static const db_sql q_unbalanced = {
    "verify_unbalanced",
    "SELECT entry_id, currency, CAST(SUM(amount) AS BIGINT) FROM journal_lines GROUP BY entry_id, currency "
    "HAVING SUM(amount) <> 0 ORDER BY entry_id, currency", NULL};

static const db_sql q_few_lines = {
    "verify_few_lines",
    "SELECT e.id, e.kind, e.ref_type, e.ref_id, COUNT(l.entry_id) FROM journal_entries e "
    "LEFT JOIN journal_lines l ON l.entry_id = e.id GROUP BY e.id, e.kind, e.ref_type, e.ref_id "
    "HAVING COUNT(l.entry_id) < 2 ORDER BY e.id", NULL};

static const db_sql q_orphan_lines = {
    "verify_orphan_lines",
    "SELECT l.entry_id, l.line_no, l.account_id, l.amount FROM journal_lines l "
    "LEFT JOIN journal_entries e ON e.id = l.entry_id WHERE e.id IS NULL ORDER BY l.entry_id, l.line_no", NULL};

static const db_sql q_line_currency = {
    "verify_line_currency",
    "SELECT l.entry_id, l.line_no, l.account_id, l.currency, COALESCE(a.currency, '') FROM journal_lines l "
    "LEFT JOIN ledger_accounts a ON a.id = l.account_id WHERE a.id IS NULL OR a.currency <> l.currency "
    "ORDER BY l.entry_id, l.line_no", NULL};

static const db_sql q_line_merchant = {
    "verify_line_merchant",
    "SELECT l.entry_id, l.line_no, l.account_id, a.merchant_id, e.merchant_id FROM journal_lines l "
    "JOIN journal_entries e ON e.id = l.entry_id JOIN ledger_accounts a ON a.id = l.account_id "
    "WHERE a.owner_kind <> 'platform' AND a.merchant_id <> e.merchant_id ORDER BY l.entry_id, l.line_no", NULL};

static const db_sql q_balance = {
    "verify_balance",
    "SELECT a.id, a.owner_kind, a.owner_id, a.kind, a.currency, a.normal, "
    "CAST(a.balance + COALESCE(ln.total, 0) AS BIGINT), CAST(COALESCE(s.total, 0) AS BIGINT) "
    "FROM ledger_accounts a LEFT JOIN " LINE_SUMS " s ON s.account_id = a.id LEFT JOIN " LANE_SUMS " ln "
    "ON ln.account_id = a.id WHERE a.balance + COALESCE(ln.total, 0) <> a.normal * COALESCE(s.total, 0) "
    "ORDER BY a.id", NULL};

/* A floored account keeps its whole balance in its row, where the CHECK floor sees it. */
static const db_sql q_floored_lanes = {
    "verify_floored_lanes",
    "SELECT a.id, a.owner_kind, a.owner_id, a.kind, a.currency, l.lane, l.balance FROM ledger_account_lanes l "
    "JOIN ledger_accounts a ON a.id = l.account_id WHERE a.has_floor <> 0 OR a.owner_kind = 'member' "
    "ORDER BY a.id, l.lane", NULL};

static const db_sql q_held = {
    "verify_held",
    "SELECT a.id, a.owner_kind, a.owner_id, a.kind, a.currency, a.held, CAST(COALESCE(h.total, 0) AS BIGINT) "
    "FROM ledger_accounts a LEFT JOIN " HOLD_SUMS " h ON h.account_id = a.id "
    "WHERE a.held <> COALESCE(h.total, 0) ORDER BY a.id", NULL};

static const db_sql q_floor = {
    "verify_floor",
    "SELECT a.id, a.owner_kind, a.owner_id, a.kind, a.currency, a.balance, a.held, "
    "CAST(a.normal * COALESCE(s.total, 0) AS BIGINT), CAST(COALESCE(h.total, 0) AS BIGINT) "
    "FROM ledger_accounts a LEFT JOIN " LINE_SUMS " s ON s.account_id = a.id LEFT JOIN " HOLD_SUMS " h "
    "ON h.account_id = a.id WHERE (a.owner_kind = 'member' OR a.has_floor = 1) AND "
    "(a.balance - a.held < 0 OR a.normal * COALESCE(s.total, 0) - COALESCE(h.total, 0) < 0) ORDER BY a.id", NULL};

static const db_sql q_stray_holds = {
    "verify_stray_holds",
    "SELECT h.id, h.account_id, h.amount, h.ref_id, COALESCE(p.status, '') FROM ledger_holds h "
    "LEFT JOIN payments p ON p.id = h.ref_id WHERE h.status = 'HELD' AND h.ref_type = 'payment' AND "
    "(p.id IS NULL OR p.status <> 'PENDING_EXTERNAL') ORDER BY h.id", NULL};

/* Per payment: its PAYMENT and FEE entries, their line counts, and what they moved on each
 * account it should touch (the member's buckets, the merchant's payable and marketing,
 * gateway clearing, fee income), in its currency. */
static const db_sql q_payment_entries = {
    "verify_payment_entries",
    "SELECT id, status, order_amount, fee_amount, dv, db, dp, ds, dx, n_pay, pay_lines, n_fee, fee_lines, "
    "CAST(s_payable AS BIGINT), CAST(s_marketing AS BIGINT), CAST(s_bonus AS BIGINT), "
    "CAST(s_principal AS BIGINT), CAST(s_silver AS BIGINT), CAST(s_clearing AS BIGINT), "
    "CAST(s_fee_payable AS BIGINT), CAST(s_fee_income AS BIGINT) FROM ("
    "SELECT p.id AS id, p.status AS status, p.order_amount AS order_amount, p.fee_amount AS fee_amount, "
    "p.deduct_voucher AS dv, p.deduct_bonus AS db, p.deduct_principal AS dp, p.deduct_silver AS ds, "
    "p.deduct_external AS dx, "
    "COUNT(DISTINCT CASE WHEN e.kind = 'PAYMENT' THEN e.id END) AS n_pay, "
    "SUM(CASE WHEN e.kind = 'PAYMENT' AND l.entry_id IS NOT NULL THEN 1 ELSE 0 END) AS pay_lines, "
    "COUNT(DISTINCT CASE WHEN e.kind = 'FEE' THEN e.id END) AS n_fee, "
    "SUM(CASE WHEN e.kind = 'FEE' AND l.entry_id IS NOT NULL THEN 1 ELSE 0 END) AS fee_lines, "
    "SUM(CASE WHEN e.kind = 'PAYMENT' AND a.kind = 'payable' AND a.owner_id = p.merchant_id AND a.currency = p.currency THEN l.amount ELSE 0 END) AS s_payable, "
    "SUM(CASE WHEN e.kind = 'PAYMENT' AND a.kind = 'marketing' AND a.owner_id = p.merchant_id AND a.currency = p.currency THEN l.amount ELSE 0 END) AS s_marketing, "
    "SUM(CASE WHEN e.kind = 'PAYMENT' AND a.kind = 'bonus' AND a.owner_id = p.member_id AND a.currency = p.currency THEN l.amount ELSE 0 END) AS s_bonus, "
    "SUM(CASE WHEN e.kind = 'PAYMENT' AND a.kind = 'principal' AND a.owner_id = p.member_id AND a.currency = p.currency THEN l.amount ELSE 0 END) AS s_principal, "
    "SUM(CASE WHEN e.kind = 'PAYMENT' AND a.kind = 'silver' AND a.owner_id = p.member_id AND a.currency = p.currency THEN l.amount ELSE 0 END) AS s_silver, "
    "SUM(CASE WHEN e.kind = 'PAYMENT' AND a.kind = 'gateway_clearing' AND a.currency = p.currency THEN l.amount ELSE 0 END) AS s_clearing, "
    "SUM(CASE WHEN e.kind = 'FEE' AND a.kind = 'payable' AND a.owner_id = p.merchant_id AND a.currency = p.currency THEN l.amount ELSE 0 END) AS s_fee_payable, "
    "SUM(CASE WHEN e.kind = 'FEE' AND a.kind = 'fee_income' AND a.currency = p.currency THEN l.amount ELSE 0 END) AS s_fee_income "
    "FROM payments p LEFT JOIN journal_entries e ON e.ref_type = 'payment' AND e.ref_id = p.id "
    "AND e.kind IN ('PAYMENT', 'FEE') LEFT JOIN journal_lines l ON l.entry_id = e.id "
    "LEFT JOIN ledger_accounts a ON a.id = l.account_id "
    "GROUP BY p.id, p.status, p.order_amount, p.fee_amount, p.deduct_voucher, p.deduct_bonus, "
    "p.deduct_principal, p.deduct_silver, p.deduct_external) x WHERE "
    "(status = 'PAID' AND NOT (n_pay = 1 AND s_payable = -order_amount AND s_marketing = dv AND s_bonus = db "
    "AND s_principal = dp AND s_silver = ds AND s_clearing = dx AND pay_lines = 1 + "
    "(CASE WHEN dv > 0 THEN 1 ELSE 0 END) + (CASE WHEN db > 0 THEN 1 ELSE 0 END) + "
    "(CASE WHEN dp > 0 THEN 1 ELSE 0 END) + (CASE WHEN ds > 0 THEN 1 ELSE 0 END) + "
    "(CASE WHEN dx > 0 THEN 1 ELSE 0 END) AND ((fee_amount = 0 AND n_fee = 0) OR (fee_amount > 0 AND "
    "n_fee = 1 AND fee_lines = 2 AND s_fee_payable = fee_amount AND s_fee_income = -fee_amount)))) "
    "OR (status <> 'PAID' AND (n_pay > 0 OR n_fee > 0)) ORDER BY id", NULL};

static const db_sql q_pending_holds = {
    "verify_pending_holds",
    "SELECT id, db, dp, ds, CAST(h_bonus AS BIGINT), CAST(h_principal AS BIGINT), CAST(h_silver AS BIGINT), "
    "h_other FROM (SELECT p.id AS id, p.deduct_bonus AS db, p.deduct_principal AS dp, p.deduct_silver AS ds, "
    "SUM(CASE WHEN a.kind = 'bonus' AND a.owner_id = p.member_id AND a.currency = p.currency THEN h.amount ELSE 0 END) AS h_bonus, "
    "SUM(CASE WHEN a.kind = 'principal' AND a.owner_id = p.member_id AND a.currency = p.currency THEN h.amount ELSE 0 END) AS h_principal, "
    "SUM(CASE WHEN a.kind = 'silver' AND a.owner_id = p.member_id AND a.currency = p.currency THEN h.amount ELSE 0 END) AS h_silver, "
    "SUM(CASE WHEN h.id IS NOT NULL AND NOT (a.kind IN ('bonus', 'principal', 'silver') AND "
    "a.owner_id = p.member_id AND a.currency = p.currency) THEN 1 ELSE 0 END) AS h_other "
    "FROM payments p LEFT JOIN ledger_holds h ON h.ref_type = 'payment' AND h.ref_id = p.id AND h.status = 'HELD' "
    "LEFT JOIN ledger_accounts a ON a.id = h.account_id WHERE p.status = 'PENDING_EXTERNAL' "
    "GROUP BY p.id, p.deduct_bonus, p.deduct_principal, p.deduct_silver) x "
    "WHERE h_bonus <> db OR h_principal <> dp OR h_silver <> ds OR h_other <> 0 ORDER BY id", NULL};

static const db_sql q_payment_amounts = {
    "verify_payment_amounts",
    "SELECT p.id, p.status, p.order_amount, p.refunded_amount, CAST(COALESCE(r.total, 0) AS BIGINT), "
    "p.deduct_voucher + p.deduct_bonus + p.deduct_principal + p.deduct_silver + p.deduct_external, "
    "p.fee_amount FROM payments p LEFT JOIN (SELECT payment_id, SUM(amount) AS total FROM refunds "
    "GROUP BY payment_id) r ON r.payment_id = p.id WHERE p.refunded_amount < 0 OR "
    "p.refunded_amount > p.order_amount OR p.refunded_amount <> COALESCE(r.total, 0) OR "
    "(p.refunded_amount > 0 AND p.status <> 'PAID') OR p.deduct_voucher < 0 OR p.deduct_bonus < 0 OR "
    "p.deduct_principal < 0 OR p.deduct_silver < 0 OR p.deduct_external < 0 OR p.fee_amount < 0 OR "
    "p.fee_amount > p.order_amount OR p.deduct_voucher + p.deduct_bonus + p.deduct_principal + "
    "p.deduct_silver + p.deduct_external <> p.order_amount ORDER BY p.id", NULL};

static const db_sql q_refund_entries = {
    "verify_refund_entries",
    "SELECT id, amount, n_refund, CAST(s_payable AS BIGINT) FROM (SELECT r.id AS id, r.amount AS amount, "
    "COUNT(DISTINCT CASE WHEN e.kind = 'REFUND' THEN e.id END) AS n_refund, "
    "SUM(CASE WHEN e.kind = 'REFUND' AND a.kind = 'payable' AND a.owner_id = r.merchant_id THEN l.amount ELSE 0 END) AS s_payable "
    "FROM refunds r LEFT JOIN journal_entries e ON e.ref_type = 'refund' AND e.ref_id = r.id "
    "LEFT JOIN journal_lines l ON l.entry_id = e.id LEFT JOIN ledger_accounts a ON a.id = l.account_id "
    "GROUP BY r.id, r.amount) x WHERE n_refund <> 1 OR s_payable <> amount ORDER BY id", NULL};

static const db_sql q_topup_entries = {
    "verify_topup_entries",
    "SELECT id, status, method, amount, bonus_amount, n_topup, topup_lines, CAST(s_principal AS BIGINT), "
    "CAST(s_source AS BIGINT), n_bonus, bonus_lines, CAST(s_bonus AS BIGINT), CAST(s_marketing AS BIGINT), "
    "n_all FROM (SELECT t.id AS id, t.status AS status, t.method AS method, t.amount AS amount, "
    "t.bonus_amount AS bonus_amount, "
    "COUNT(DISTINCT CASE WHEN e.kind = 'TOPUP' THEN e.id END) AS n_topup, "
    "SUM(CASE WHEN e.kind = 'TOPUP' AND l.entry_id IS NOT NULL THEN 1 ELSE 0 END) AS topup_lines, "
    "SUM(CASE WHEN e.kind = 'TOPUP' AND a.kind = 'principal' AND a.owner_id = t.member_id AND a.currency = t.currency THEN l.amount ELSE 0 END) AS s_principal, "
    "SUM(CASE WHEN e.kind = 'TOPUP' AND a.kind = (CASE WHEN t.method = 'CASH' THEN 'cash' ELSE 'gateway_clearing' END) AND a.currency = t.currency THEN l.amount ELSE 0 END) AS s_source, "
    "COUNT(DISTINCT CASE WHEN e.kind = 'GRANT' THEN e.id END) AS n_bonus, "
    "SUM(CASE WHEN e.kind = 'GRANT' AND l.entry_id IS NOT NULL THEN 1 ELSE 0 END) AS bonus_lines, "
    "SUM(CASE WHEN e.kind = 'GRANT' AND a.kind = 'bonus' AND a.owner_id = t.member_id AND a.currency = t.currency THEN l.amount ELSE 0 END) AS s_bonus, "
    "SUM(CASE WHEN e.kind = 'GRANT' AND a.kind = 'marketing' AND a.owner_id = t.merchant_id AND a.currency = t.currency THEN l.amount ELSE 0 END) AS s_marketing, "
    "COUNT(DISTINCT e.id) AS n_all "
    "FROM topups t LEFT JOIN journal_entries e ON e.ref_type = 'topup' AND e.ref_id = t.id "
    "LEFT JOIN journal_lines l ON l.entry_id = e.id LEFT JOIN ledger_accounts a ON a.id = l.account_id "
    "GROUP BY t.id, t.status, t.method, t.amount, t.bonus_amount) x WHERE "
    "(status = 'SUCCEEDED' AND NOT (n_topup = 1 AND topup_lines = 2 AND s_principal = -amount AND "
    "s_source = amount AND n_all = n_topup + n_bonus AND ((bonus_amount = 0 AND n_bonus = 0) OR "
    "(bonus_amount > 0 AND n_bonus = 1 AND bonus_lines = 2 AND s_bonus = -bonus_amount AND "
    "s_marketing = bonus_amount)))) OR (status <> 'SUCCEEDED' AND n_all > 0) ORDER BY id", NULL};

static const db_sql q_grant_entries = {
    "verify_grant_entries",
    "SELECT id, type, amount, voucher_id, n_grant, grant_lines, CAST(s_bucket AS BIGINT), "
    "CAST(s_marketing AS BIGINT), v_value FROM (SELECT g.id AS id, g.type AS type, g.amount AS amount, "
    "COALESCE(g.voucher_id, '') AS voucher_id, COUNT(DISTINCT e.id) AS n_grant, "
    "SUM(CASE WHEN l.entry_id IS NOT NULL THEN 1 ELSE 0 END) AS grant_lines, "
    "SUM(CASE WHEN e.kind = 'GRANT' AND a.kind = LOWER(g.type) AND a.owner_id = g.member_id THEN l.amount ELSE 0 END) AS s_bucket, "
    "SUM(CASE WHEN e.kind = 'GRANT' AND a.kind = 'marketing' AND a.owner_id = g.merchant_id THEN l.amount ELSE 0 END) AS s_marketing, "
    "COALESCE(MAX(v.value), -1) AS v_value "
    "FROM grants g LEFT JOIN vouchers v ON v.id = g.voucher_id AND v.member_id = g.member_id "
    "AND v.merchant_id = g.merchant_id LEFT JOIN journal_entries e ON e.ref_type = 'grant' AND e.ref_id = g.id "
    "LEFT JOIN journal_lines l ON l.entry_id = e.id LEFT JOIN ledger_accounts a ON a.id = l.account_id "
    "GROUP BY g.id, g.type, g.amount, g.voucher_id) x WHERE "
    "(type IN ('BONUS', 'SILVER') AND NOT (n_grant = 1 AND grant_lines = 2 AND s_bucket = -amount AND "
    "s_marketing = amount)) OR (type = 'VOUCHER' AND NOT (n_grant = 0 AND v_value = amount)) ORDER BY id", NULL};

static const db_sql q_vouchers_taken = {
    "verify_vouchers_taken",
    "SELECT v.id, v.status, COALESCE(v.payment_id, ''), COALESCE(p.status, ''), COALESCE(p.voucher_id, ''), "
    "COALESCE(p.deduct_voucher, 0), v.value, CASE WHEN p.member_id = v.member_id THEN 1 ELSE 0 END "
    "FROM vouchers v LEFT JOIN payments p ON p.id = v.payment_id WHERE v.status IN ('USED', 'HELD') AND "
    "(p.id IS NULL OR p.voucher_id IS NULL OR p.voucher_id <> v.id OR p.member_id <> v.member_id OR "
    "p.status <> (CASE WHEN v.status = 'USED' THEN 'PAID' ELSE 'PENDING_EXTERNAL' END) OR "
    "p.deduct_voucher <= 0 OR p.deduct_voucher > v.value) ORDER BY v.id", NULL};

static const db_sql q_payment_vouchers = {
    "verify_payment_vouchers",
    "SELECT p.id, p.status, p.voucher_id, COALESCE(v.status, ''), COALESCE(v.payment_id, '') FROM payments p "
    "LEFT JOIN vouchers v ON v.id = p.voucher_id WHERE p.voucher_id IS NOT NULL AND "
    "p.status IN ('PAID', 'PENDING_EXTERNAL') AND (v.id IS NULL OR v.payment_id IS NULL OR "
    "v.payment_id <> p.id OR v.status <> (CASE WHEN p.status = 'PAID' THEN 'USED' ELSE 'HELD' END)) "
    "ORDER BY p.id", NULL};

static const db_sql q_orphan_entries = {
    "verify_orphan_entries",
    "SELECT e.id, e.kind, e.ref_type, e.ref_id, e.merchant_id FROM journal_entries e WHERE "
    "(e.ref_type = 'payment' AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.id = e.ref_id AND p.merchant_id = e.merchant_id)) OR "
    "(e.ref_type = 'topup' AND NOT EXISTS (SELECT 1 FROM topups t WHERE t.id = e.ref_id AND t.merchant_id = e.merchant_id)) OR "
    "(e.ref_type = 'grant' AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.id = e.ref_id AND g.merchant_id = e.merchant_id)) OR "
    "(e.ref_type = 'refund' AND NOT EXISTS (SELECT 1 FROM refunds r WHERE r.id = e.ref_id AND r.merchant_id = e.merchant_id)) "
    "ORDER BY e.id", NULL};

/* References PostgreSQL does not enforce with a foreign key on the write path (D45): the
 * service writes them inside the transaction that read their target; these checks say so. */
static const db_sql q_payment_owners = {
    "verify_payment_owners",
    "SELECT p.id, p.merchant_id, p.member_id, CASE WHEN m.id IS NULL THEN 'the merchant does not exist' "
    "WHEN b.id IS NULL THEN 'the member does not exist' ELSE 'the member belongs to merchant ' || b.merchant_id END "
    "FROM payments p LEFT JOIN merchants m ON m.id = p.merchant_id LEFT JOIN members b ON b.id = p.member_id "
    "WHERE m.id IS NULL OR b.id IS NULL OR b.merchant_id <> p.merchant_id ORDER BY p.id", NULL};

static const db_sql q_orphan_events = {
    "verify_orphan_events",
    "SELECT e.payment_id, e.seq, e.type FROM payment_events e LEFT JOIN payments p ON p.id = e.payment_id "
    "WHERE p.id IS NULL ORDER BY e.payment_id, e.seq", NULL};

static const db_sql q_orphan_lanes = {
    "verify_orphan_lanes",
    "SELECT l.account_id, l.lane, l.balance FROM ledger_account_lanes l LEFT JOIN ledger_accounts a "
    "ON a.id = l.account_id WHERE a.id IS NULL ORDER BY l.account_id, l.lane", NULL};

/* ------------------------------------------------------------------------------ reports */

struct vrun {
  int64_t n[N_COUNT];
  int64_t violations;
  int checks, failed_checks;
};

/* Writes the violation text of one row into msg. */
typedef void (*describe_fn)(db_cursor *cur, char *msg, size_t len);

struct check {
  const char *id;    /* short name in VIOLATION lines */
  const char *title; /* what holds when it passes */
  const db_sql *q;
  describe_fn describe;
  int covered;       /* index into vrun.n: what it went over */
  const char *unit;
};

#define T(col) db_col_text(cur, col)
#define I(col) ((long long)db_col_int(cur, col))

static void d_account_shape(db_cursor *cur, char *m, size_t n) {
  snprintf(m, n, "account %s (%s %s %s %s): normal %lld, floor %lld do not fit its kind", T(0), T(1), T(2), T(3),
           T(4), I(5), I(6));
}
static void d_unbalanced(db_cursor *cur, char *m, size_t n) {
  snprintf(m, n, "entry %s: its %s lines sum to %lld, not 0", T(0), T(1), I(2));
}
static void d_few_lines(db_cursor *cur, char *m, size_t n) {
  snprintf(m, n, "entry %s (%s %s %s) has %lld line(s); an entry moves money between at least 2 accounts",
           T(0), T(1), T(2), T(3), I(4));
}
static void d_orphan_line(db_cursor *cur, char *m, size_t n) {
  snprintf(m, n, "line %s#%lld (account %s, %lld) belongs to no journal entry", T(0), I(1), T(2), I(3));
}
static void d_line_currency(db_cursor *cur, char *m, size_t n) {
  if (!T(4)[0]) snprintf(m, n, "line %s#%lld names account %s, which does not exist", T(0), I(1), T(2));
  else snprintf(m, n, "line %s#%lld is in %s but its account %s is in %s", T(0), I(1), T(3), T(2), T(4));
}
static void d_line_merchant(db_cursor *cur, char *m, size_t n) {
  snprintf(m, n, "line %s#%lld posts to account %s of merchant %s in an entry of merchant %s", T(0), I(1), T(2),
           T(3), T(4));
}
static void d_balance(db_cursor *cur, char *m, size_t n) {
  long long normal = I(5), sum = I(7);
  snprintf(m, n, "account %s (%s %s %s %s): balance %lld, but the journal gives %lld (normal %lld x sum of lines %lld)",
           T(0), T(1), T(2), T(3), T(4), I(6), normal * sum, normal, sum);
}
static void d_floored_lanes(db_cursor *cur, char *m, size_t n) {
  snprintf(m, n, "account %s (%s %s %s %s) has a floor but lane %lld holds %lld of its balance", T(0), T(1),
           T(2), T(3), T(4), I(5), I(6));
}
static void d_held(db_cursor *cur, char *m, size_t n) {
  snprintf(m, n, "account %s (%s %s %s %s): held %lld, but its HELD holds sum to %lld", T(0), T(1), T(2), T(3),
           T(4), I(5), I(6));
}
static void d_floor(db_cursor *cur, char *m, size_t n) {
  snprintf(m, n, "account %s (%s %s %s %s) is below its floor: balance %lld - held %lld (journal: %lld - %lld)",
           T(0), T(1), T(2), T(3), T(4), I(5), I(6), I(7), I(8));
}
static void d_stray_hold(db_cursor *cur, char *m, size_t n) {
  if (!T(4)[0]) snprintf(m, n, "hold %s (account %s, %lld) is HELD for payment %s, which does not exist", T(0), T(1), I(2), T(3));
  else snprintf(m, n, "hold %s (account %s, %lld) is still HELD for payment %s, which is %s", T(0), T(1), I(2), T(3), T(4));
}
static void d_payment_entries(db_cursor *cur, char *m, size_t n) {
  const char *id = T(0), *status = T(1);
  long long order = I(2), fee = I(3), n_pay = I(9), n_fee = I(11);
  if (strcmp(status, "PAID") != 0) {
    snprintf(m, n, "payment %s is %s but has %lld PAYMENT and %lld FEE entries", id, status, n_pay, n_fee);
  } else if (n_pay != 1) {
    snprintf(m, n, "payment %s is PAID (order %lld) but has %lld PAYMENT entries, not 1", id, order, n_pay);
  } else if (fee > 0 && n_fee != 1) {
    snprintf(m, n, "payment %s is PAID with fee %lld but has %lld FEE entries, not 1", id, fee, n_fee);
  } else if (fee == 0 && n_fee != 0) {
    snprintf(m, n, "payment %s has no fee but %lld FEE entries", id, n_fee);
  } else {
    snprintf(m, n,
             "payment %s: its entries do not match it: expected payable %lld, marketing %lld, bonus %lld, "
             "principal %lld, silver %lld, clearing %lld, fee %lld/%lld; found %lld, %lld, %lld, %lld, %lld, %lld, "
             "fee %lld/%lld (%lld PAYMENT lines, %lld FEE lines)",
             id, -order, I(4), I(5), I(6), I(7), I(8), fee, -fee, I(13), I(14), I(15), I(16), I(17), I(18), I(19),
             I(20), I(10), I(12));
  }
}
static void d_pending_holds(db_cursor *cur, char *m, size_t n) {
  snprintf(m, n,
           "payment %s is PENDING_EXTERNAL: deductions bonus %lld, principal %lld, silver %lld but HELD holds "
           "%lld, %lld, %lld (%lld on other accounts)",
           T(0), I(1), I(2), I(3), I(4), I(5), I(6), I(7));
}
static void d_payment_amounts(db_cursor *cur, char *m, size_t n) {
  long long order = I(2), refunded = I(3), refunds = I(4), parts = I(5), fee = I(6);
  if (refunded > order || refunded < 0) {
    snprintf(m, n, "payment %s: refunded_amount %lld is outside 0..order_amount %lld", T(0), refunded, order);
  } else if (refunded != refunds) {
    snprintf(m, n, "payment %s: refunded_amount %lld but its refunds sum to %lld", T(0), refunded, refunds);
  } else if (parts != order) {
    snprintf(m, n, "payment %s: deductions sum to %lld, order_amount is %lld", T(0), parts, order);
  } else if (refunded > 0 && strcmp(T(1), "PAID") != 0) {
    snprintf(m, n, "payment %s is %s but has %lld refunded", T(0), T(1), refunded);
  } else {
    snprintf(m, n, "payment %s: a negative deduction or fee %lld outside 0..%lld", T(0), fee, order);
  }
}
static void d_refund_entries(db_cursor *cur, char *m, size_t n) {
  snprintf(m, n, "refund %s of %lld: %lld REFUND entries debiting the merchant's payable by %lld (expected 1 of %lld)",
           T(0), I(1), I(2), I(3), I(1));
}
static void d_topup_entries(db_cursor *cur, char *m, size_t n) {
  const char *id = T(0), *status = T(1);
  if (strcmp(status, "SUCCEEDED") != 0) {
    snprintf(m, n, "top-up %s is %s but has %lld journal entries", id, status, I(13));
  } else if (I(5) != 1) {
    snprintf(m, n, "top-up %s is SUCCEEDED (%s %lld) but has %lld TOPUP entries, not 1", id, T(2), I(3), I(5));
  } else {
    snprintf(m, n,
             "top-up %s (%s %lld, bonus %lld): entries do not match: principal %lld, %s %lld (%lld lines); "
             "bonus entries %lld: bonus %lld, marketing %lld (%lld lines); %lld entries in all",
             id, T(2), I(3), I(4), I(7), strcmp(T(2), "CASH") == 0 ? "cash" : "gateway_clearing", I(8), I(6), I(9),
             I(11), I(12), I(10), I(13));
  }
}
static void d_grant_entries(db_cursor *cur, char *m, size_t n) {
  if (strcmp(T(1), "VOUCHER") == 0) {
    snprintf(m, n, "grant %s (VOUCHER %lld): %lld journal entries, voucher %s of value %lld", T(0), I(2), I(4),
             T(3)[0] ? T(3) : "(none)", I(8));
  } else {
    snprintf(m, n, "grant %s (%s %lld): %lld GRANT entries (%lld lines) moving %lld on the bucket and %lld on marketing",
             T(0), T(1), I(2), I(4), I(5), I(6), I(7));
  }
}
static void d_vouchers_taken(db_cursor *cur, char *m, size_t n) {
  if (!T(3)[0]) {
    snprintf(m, n, "voucher %s is %s for payment '%s', which does not exist", T(0), T(1), T(2));
  } else {
    snprintf(m, n, "voucher %s (value %lld) is %s for payment %s, which is %s, names voucher '%s', deducts %lld%s",
             T(0), I(6), T(1), T(2), T(3), T(4), I(5), I(7) ? "" : ", of another member");
  }
}
static void d_payment_vouchers(db_cursor *cur, char *m, size_t n) {
  snprintf(m, n, "payment %s is %s with voucher %s, but the voucher is '%s' for payment '%s'", T(0), T(1), T(2), T(3),
           T(4));
}
static void d_orphan_entries(db_cursor *cur, char *m, size_t n) {
  snprintf(m, n, "entry %s (%s) refers to %s %s, which merchant %s does not have", T(0), T(1), T(2), T(3), T(4));
}

static void d_payment_owners(db_cursor *cur, char *m, size_t n) {
  snprintf(m, n, "payment %s names merchant %s and member %s, but %s", T(0), T(1), T(2), T(3));
}
static void d_orphan_events(db_cursor *cur, char *m, size_t n) {
  snprintf(m, n, "history event %lld (%s) of payment %s belongs to no payment", I(1), T(2), T(0));
}
static void d_orphan_lanes(db_cursor *cur, char *m, size_t n) {
  snprintf(m, n, "lane %lld (balance %lld) of account %s belongs to no account", I(1), I(2), T(0));
}

#undef T
#undef I

static const struct check checks[] = {
    {"accounts", "every account's normal side and floor fit its kind and owner", &q_account_shape, d_account_shape, N_ACCOUNTS, "accounts"},
    {"balanced", "every journal entry balances per currency", &q_unbalanced, d_unbalanced, N_ENTRIES, "entries"},
    {"entry-lines", "every journal entry has at least 2 lines", &q_few_lines, d_few_lines, N_ENTRIES, "entries"},
    {"orphan-lines", "every line belongs to an entry", &q_orphan_lines, d_orphan_line, N_LINES, "lines"},
    {"line-currency", "every line's currency equals its account's", &q_line_currency, d_line_currency, N_LINES, "lines"},
    {"line-merchant", "every line posts to the entry's merchant or the platform", &q_line_merchant, d_line_merchant, N_LINES, "lines"},
    {"balance", "every account's balance (row + lanes) = normal x sum of its lines", &q_balance, d_balance, N_ACCOUNTS, "accounts"},
    {"lanes", "no floored account (member buckets) has lanes", &q_floored_lanes, d_floored_lanes, N_LANES, "lanes"},
    {"held", "every account's held = sum of its HELD holds", &q_held, d_held, N_ACCOUNTS, "accounts"},
    {"floor", "no floored account (member buckets) has balance - held < 0", &q_floor, d_floor, N_FLOORED, "accounts"},
    {"stray-holds", "every HELD hold belongs to a PENDING_EXTERNAL payment", &q_stray_holds, d_stray_hold, N_HOLDS, "holds"},
    {"payment-entries", "every PAID payment has its PAYMENT (and FEE) entry with its amounts; no other has any", &q_payment_entries, d_payment_entries, N_PAYMENTS, "payments"},
    {"pending-holds", "every PENDING_EXTERNAL payment's holds equal its wallet deductions", &q_pending_holds, d_pending_holds, N_PENDING, "payments"},
    {"payment-amounts", "no payment has refunded_amount > order_amount; refunded = sum of refunds; parts = order", &q_payment_amounts, d_payment_amounts, N_PAYMENTS, "payments"},
    {"refund-entries", "every refund has its REFUND entry debiting the merchant's payable", &q_refund_entries, d_refund_entries, N_REFUNDS, "refunds"},
    {"topup-entries", "every SUCCEEDED top-up has its TOPUP (and bonus) entry; no other has any", &q_topup_entries, d_topup_entries, N_TOPUPS, "top-ups"},
    {"grant-entries", "every bonus/silver grant has its GRANT entry; every voucher grant its voucher", &q_grant_entries, d_grant_entries, N_GRANTS, "grants"},
    {"vouchers", "every USED voucher has its PAID payment, every HELD one its pending payment", &q_vouchers_taken, d_vouchers_taken, N_VOUCHERS_TAKEN, "vouchers"},
    {"payment-vouchers", "every PAID/pending payment's voucher is USED/HELD for it", &q_payment_vouchers, d_payment_vouchers, N_PAYMENTS, "payments"},
    {"orphan-entries", "every payment/top-up/grant/refund entry refers to one of its merchant", &q_orphan_entries, d_orphan_entries, N_ENTRIES, "entries"},
    {"payment-owners", "every payment's merchant and member exist, the member the merchant's", &q_payment_owners, d_payment_owners, N_PAYMENTS, "payments"},
    {"orphan-events", "every payment history event belongs to a payment", &q_orphan_events, d_orphan_events, N_EVENTS, "events"},
    {"orphan-lanes", "every account lane belongs to an account", &q_orphan_lanes, d_orphan_lanes, N_LANES, "lanes"},
};
#define CHECK_COUNT (sizeof checks / sizeof checks[0])

/* Run one check: DB_OK (violations counted into *found) or < 0. */
static int run_check(db_conn *c, const struct check *ck, int64_t *found) {
  *found = 0;
  db_cursor *cur = NULL;
  int rc = db_query(c, ck->q, NULL, 0, &cur);
  if (rc < 0) return rc;
  char msg[768];
  while (*found < VERIFY_MAX_ROWS && (rc = db_step(cur)) == DB_ROW) {
    if (*found < VERIFY_PRINT_MAX) {
      ck->describe(cur, msg, sizeof msg);
      printf("VIOLATION %s: %s\n", ck->id, msg);
    }
    (*found)++;
  }
  db_reset(cur);
  if (rc < 0) return rc;
  if (*found > VERIFY_PRINT_MAX) {
    printf("VIOLATION %s: ... and %" PRId64 " more\n", ck->id, *found - VERIFY_PRINT_MAX);
  }
  if (rc == DB_ROW) { /* the bound: not everything was looked at */
    printf("VIOLATION %s: stopped after %lld violations: not fully checked\n", ck->id, VERIFY_MAX_ROWS);
    (*found)++;
  }
  return DB_OK;
}

static int load_counts(db_conn *c, int64_t n[N_COUNT]) {
  db_cursor *cur = NULL;
  int rc = db_query(c, &q_counts, NULL, 0, &cur);
  if (rc < 0) return rc;
  rc = db_step(cur);
  if (rc == DB_ROW) {
    for (int i = 0; i < N_COUNT; i++) n[i] = db_col_int(cur, i);
  }
  db_reset(cur);
  return rc == DB_ROW ? DB_OK : (rc < 0 ? rc : DB_ERR);
}

static int store_error(db_conn *c, const char *what) {
  fprintf(stderr, "mpsctl: verify: store error (%s): %s\n", what, db_errmsg(c));
  db_rollback(c);
  db_close(c);
  return 2;
}

int cmd_verify(struct ctl *ctl) {
  if (ctl->argc != 0) {
    fprintf(stderr, "usage: mpsctl verify [--db-url URL] [--data-dir DIR]\n");
    return 2;
  }
  db_conn *c = ctl_open_store(ctl);
  if (!c) return 2;
  bool pg = db_conn_kind(c) == DB_POSTGRES;
  /* one snapshot for every check, beside a running server */
  if (db_begin(c) != DB_OK) return store_error(c, "begin");
  if (pg && db_exec_script(c, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY") != DB_OK) {
    return store_error(c, "snapshot");
  }
  struct vrun r = {0};
  if (load_counts(c, r.n) != DB_OK) return store_error(c, "counts");
  printf("verify: %s store, one snapshot\n", pg ? "postgres" : "sqlite");
  int64_t found[CHECK_COUNT];
  for (size_t i = 0; i < CHECK_COUNT; i++) {
    if (run_check(c, &checks[i], &found[i]) != DB_OK) return store_error(c, checks[i].id);
    r.checks++;
    r.violations += found[i];
    r.failed_checks += found[i] > 0;
  }
  struct audit_verify_report audit;
  if (audit_verify(c, &audit) != DB_OK) return store_error(c, "audit chains");
  if (audit.problems > 0) printf("VIOLATION audit: %s (%lld problem(s))\n", audit.first_problem, (long long)audit.problems);
  r.checks++;
  r.violations += audit.problems;
  r.failed_checks += audit.problems > 0;
  db_rollback(c);
  db_close(c);

  printf("\n%-6s %-16s %-92s %s\n", "", "check", "invariant", "covered");
  for (size_t i = 0; i < CHECK_COUNT; i++) {
    const struct check *ck = &checks[i];
    char covered[96];
    snprintf(covered, sizeof covered, "%" PRId64 " %s", r.n[ck->covered], ck->unit);
    if (found[i]) {
      snprintf(covered + strlen(covered), sizeof covered - strlen(covered), ", %" PRId64 " violation(s)", found[i]);
    }
    printf("%-6s %-16s %-92s %s\n", found[i] ? "[FAIL]" : "[ok]", ck->id, ck->title, covered);
  }
  printf("%-6s %-16s %-92s %lld chains, %lld entries%s\n", audit.problems ? "[FAIL]" : "[ok]", "audit",
         "every audit hash chain recomputes and matches its head", (long long)audit.chains,
         (long long)audit.entries, audit.problems ? ", problems" : "");
  printf("\nchecked:    %" PRId64 " accounts, %" PRId64 " journal entries, %" PRId64 " lines, %" PRId64
         " HELD holds, %" PRId64 " payments (%" PRId64 " PAID, %" PRId64 " PENDING_EXTERNAL), %" PRId64
         " refunds, %" PRId64 " top-ups (%" PRId64 " SUCCEEDED), %" PRId64 " grants, %" PRId64
         " vouchers, %lld audit entries\n",
         r.n[N_ACCOUNTS], r.n[N_ENTRIES], r.n[N_LINES], r.n[N_HOLDS], r.n[N_PAYMENTS], r.n[N_PAID], r.n[N_PENDING],
         r.n[N_REFUNDS], r.n[N_TOPUPS], r.n[N_SUCCEEDED], r.n[N_GRANTS], r.n[N_VOUCHERS], (long long)audit.entries);
  if (r.n[N_OTHER_ENTRIES] > 0) {
    printf("note:       %" PRId64 " entries of other reference types were checked for balance only\n", r.n[N_OTHER_ENTRIES]);
  }
  printf("checks:     %d (%d failed)\n", r.checks, r.failed_checks);
  printf("violations: %" PRId64 "\n", r.violations);
  printf("status:     %s\n", r.violations ? "VIOLATIONS (the books do not verify)" : "ok");
  return r.violations ? 1 : 0;
}
