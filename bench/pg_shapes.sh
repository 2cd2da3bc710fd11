#!/usr/bin/env bash
# bench/pg_shapes.sh — what PostgreSQL itself can do with a wallet payment's statements, by
# the shape they are sent in (bench/README.md, "PostgreSQL statement shapes").
#
#   bench/pg_shapes.sh URL [--batches "1 8 32"] [--shapes "row group one set"] [--clients 8]
#                      [--threads 2] [--duration 8]
#
# URL is a database that bench/seed filled (bench/run.sh --pg-shapes passes its own, after
# mpsd has stopped). The database is copied (CREATE DATABASE ... TEMPLATE), so the
# benchmark's books stay as they were; the copy is dropped at the end. pgbench then runs, per
# batch size K, K wallet payments per transaction in four shapes:
#   row  each payment's statements in mps's own SQL text (D55's two pipelines, BEGIN in the
#        first: the token, merchant and member, key claim, accounts locked with the merchant's
#        and the platform's read, vouchers, chain head; then the payment, the member's bucket,
#        the merchant's lane part, the journal entry and its two lines, two events, the outbox
#        row, the audit row, the chain head, the key's answer; the four writes whose count
#        matters in D58's checked form), one row per statement. K = 1 is mps's payment without
#        mpsd; K > 1 is K of them in one transaction, each still with its two pipelines.
#   group  as row, with the K payments' pipelines merged: BEGIN and all their reads, then all
#        their writes with COMMIT; what mps's write groups send (D62).
#   one  as row, with each payment's eleven writes merged into one statement (WITH w1 AS
#        (INSERT ... RETURNING 1), ..., their 12 rows checked at once): what fewer statements
#        alone would save.
#   set  the same rows for K payments, each statement writing (or reading) all K rows at once
#        (INSERT ... SELECT over an array of the K members, counts checked as in row), the
#        token, the chain head and the lane part once per transaction.
# Not as mps: a member and its account are looked up by number in a table of the copy (one
# primary-key probe each), and the new rows' ids are numbers from the clock, not ULIDs. The values are the benchmark's (its
# merchant, clerk, members and their accounts); amounts, hashes and JSON bodies are stand-ins
# of the same size, so the rows do not balance: that is why the copy is dropped. Each run
# prints a JSON line on stdout: payments/s and the CPU PostgreSQL spent per payment (the
# machine's busy time from /proc/stat minus pgbench's own, over the whole pgbench run).
set -euo pipefail

URL="${1:?usage: bench/pg_shapes.sh URL [--batches \"1 8 32\"] [--shapes \"row group one set\"] [--clients 8] [--threads 2] [--duration 8]}"
shift
BATCHES="1 8 32" SHAPES="row group one set" CLIENTS=8 THREADS=2 DURATION=8
while [ $# -gt 0 ]; do
  case "$1" in
    --batches) BATCHES="$2"; shift 2 ;;
    --shapes) SHAPES="$2"; shift 2 ;;
    --clients) CLIENTS="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    *) echo "bench/pg_shapes.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
say() { printf 'bench: pg shapes: %s\n' "$*" >&2; }
die() { printf 'bench: pg shapes: %s\n' "$*" >&2; exit 1; }
for sh in $SHAPES; do case "$sh" in row|group|one|set) ;; *) die "a shape is row, group, one or set, not $sh" ;; esac; done
# (pgbench passes at most 255 parameters to a statement; the set shape's take K + 2)
for k in $BATCHES; do [[ "$k" =~ ^[0-9]+$ ]] && [ "$k" -ge 1 ] && [ "$k" -le 200 ] || die "a batch is 1..200, not $k"; done
[[ "$CLIENTS" =~ ^[0-9]+$ ]] && [ "$CLIENTS" -ge 1 ] && [ "$CLIENTS" -le 64 ] || die "--clients is 1..64"
command -v pgbench >/dev/null && command -v psql >/dev/null || die "pgbench and psql are needed (apt-get install postgresql)"

BASE="${URL%%\?*}" QUERY=""
case "$URL" in *\?*) QUERY="?${URL#*\?}" ;; esac
SRC="${BASE##*/}"
[[ "$SRC" =~ ^[A-Za-z0-9_]+$ ]] || die "the database name in $URL must be letters, digits and _"
COPY="mps_pgshapes_$$" # a run of its own: a second run on the cluster leaves this copy alone
CURL="${BASE%/*}/$COPY$QUERY"
TMP="$(mktemp -d /tmp/mps-pgshapes.XXXXXX)"
cleanup() { psql "$URL" -qAt -c "DROP DATABASE IF EXISTS $COPY WITH (FORCE)" >/dev/null 2>&1 || true; rm -rf "$TMP"; }
trap cleanup EXIT

psql "$URL" -qAt -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $COPY WITH (FORCE)" \
  -c "CREATE DATABASE $COPY TEMPLATE \"$SRC\"" >/dev/null || die "cannot copy $SRC (is mpsd still connected?)"
# The benchmark's merchant, its clerk and payable account; members numbered 1..N with their
# principal accounts; a chain head and a lane part per client, so clients never share a row.
q() { psql "$CURL" -qAt -v ON_ERROR_STOP=1 -c "$1"; }
MERCHANT="$(q "SELECT id FROM merchants ORDER BY created_at_ms, id LIMIT 1")"
CLERK="$(q "SELECT id FROM users WHERE merchant_id = '$MERCHANT' AND role = 'clerk' ORDER BY id LIMIT 1")"
[ -n "$MERCHANT" ] && [ -n "$CLERK" ] || die "$SRC is not a seeded benchmark database"
payable() { q "SELECT id FROM ledger_accounts WHERE owner_kind = 'merchant' AND owner_id = '$MERCHANT' AND kind = 'payable'"; }
PAYABLE="$(payable)"
if [ -z "$PAYABLE" ]; then # before the merchant's first payment (mps creates it then)
  q "INSERT INTO ledger_accounts (id, merchant_id, owner_kind, owner_id, kind, currency, normal, balance, held, has_floor, created_at_ms)
     SELECT 'acc_pgshapes_payable', id, 'merchant', id, 'payable', currency, -1, 0, 0, 0, created_at_ms FROM merchants WHERE id = '$MERCHANT'" >/dev/null
  PAYABLE="$(payable)"
  [ -n "$PAYABLE" ] || die "cannot create the merchant's payable account in the copy"
fi
q "CREATE TABLE pgs_members AS SELECT row_number() OVER (ORDER BY owner_id)::int AS n, owner_id AS mem, id AS acc
     FROM ledger_accounts WHERE owner_kind = 'member' AND kind = 'principal' AND merchant_id = '$MERCHANT'
       AND balance >= 1000000; -- funded: each payment here takes 1 from the member's principal
   ALTER TABLE pgs_members ADD PRIMARY KEY (n);
   INSERT INTO audit_chain_heads (chain, seq, hash) SELECT 'pgs#' || g, 0, repeat('0', 64) FROM generate_series(1, 64) g;
   INSERT INTO ledger_account_lanes (account_id, lane, balance) SELECT '$PAYABLE', 1000 + g, 0 FROM generate_series(1, 64) g;
   ANALYZE; CHECKPOINT" >/dev/null || die "cannot prepare the copy"
NMEM="$(q "SELECT count(*) FROM pgs_members")"
# the keys go to the scope with the most keys (the benchmark's payments): the statistics know
# it, so the planner picks the plans it picks for mps's own keys
SCOPE="$(q "SELECT scope FROM idempotency_keys GROUP BY scope ORDER BY count(*) DESC LIMIT 1")"
case "$SCOPE" in *"'"*|*:*) die "unexpected idempotency scope $SCOPE" ;; esac
[ "$NMEM" -ge 1 ] || die "no funded members in $SRC"

T=1796315466520 # a fixed time: the rows' times do not matter here
# A transaction's ids grow with time, as mps's ULIDs do (an index takes them at its right edge):
# the transaction's start in microseconds, then the client (one transaction at a time each).
US="(extract(epoch from now()) * 1000000)::bigint"
KEY="($US * 64 + (:ln)::int)" LN="(:ln)::int"
AUDIT_COLS="id, chain, seq, at_ms, actor, role, merchant_id, action, target, status, request_id, details, prev_hash, hash"
PAY_COLS="id, merchant_id, member_id, store_id, currency, order_amount, status, voucher_id, deduct_voucher, deduct_bonus, deduct_principal, deduct_silver, deduct_external, fee_bps, fee_amount, expires_at_ms, created_at_ms, updated_at_ms"

head_vars() { # head_vars K: K members in a row from a random one (in the order every client
  # locks them, so that K > 1 does not deadlock), the client's lane
  local k="$1" i
  [ "$k" -le "$NMEM" ] || die "a batch of $k needs $k members, the database has $NMEM"
  printf '\\set ln :client_id + 1\n\\set r0 random(1, %d)\n' "$((NMEM - k + 1))"
  for ((i = 1; i < k; i++)); do printf '\\set r%d :r0 + %d\n' "$i" "$i"; done
}

# checked N WRITE: the form mps holds a write back in when its row count must be N (D58,
# db_pg.c): the server refuses another count. In the one shape (one=1, row_script's) the write
# goes plain: merge_writes checks all the counts at once.
checked() {
  if [ "${one:-0}" = 1 ]; then printf '%s;\n' "$2"; return; fi
  printf "WITH mps_w AS (%s RETURNING 1) SELECT CASE WHEN count(*) = %d THEN 0 ELSE ('mps: changed ' || count(*) || ' rows, not ' || %d)::int END FROM mps_w;\n" "$2" "$1" "$1"
}

# merge_writes N: statements on stdin, one a line, as one statement (data-modifying WITH) that
# the server refuses unless they wrote N rows in all
merge_writes() {
  awk -v want="$1" '{ sub(/;$/, ""); w[++n] = $0 } END {
    printf "WITH "; for (i = 1; i <= n; i++) printf "%sw%d AS (%s RETURNING 1)", (i > 1 ? ", " : ""), i, w[i]
    printf ", t AS (SELECT "; for (i = 1; i <= n; i++) printf "%s(SELECT count(*) FROM w%d)", (i > 1 ? " + " : ""), i
    printf " AS c) SELECT CASE WHEN c = %d THEN 0 ELSE (%s || c)::int END FROM t;\n", want, "'"'"'mps: changed '"'"'" }'
}

one_script() { row_script "$1" 1; }

# group_script K: the row shape's statements with the pipelines of the K payments merged, as
# mps's write groups send them (D62): BEGIN and every payment's reads, then every payment's
# writes with COMMIT
group_script() {
  row_script "$1" | awk '
    /^\\startpipeline$/ { pipe++; inside = 1; next }
    /^\\endpipeline$/ { inside = 0; next }
    /^(BEGIN|COMMIT);$/ { next }
    !inside && !pipe { print; next }
    inside && pipe % 2 == 1 { reads[++nr] = $0; next }
    inside { writes[++nw] = $0; next }
    END {
      print "\\startpipeline"; print "BEGIN;"; for (i = 1; i <= nr; i++) print reads[i]; print "\\endpipeline"
      print "\\startpipeline"; for (i = 1; i <= nw; i++) print writes[i]; print "COMMIT;"; print "\\endpipeline"
    }'
}

row_script() { # row_script K [1: the writes as one statement]
  local k="$1" one="${2:-0}" i mem acc pid jid
  head_vars "$k"
  for ((i = 0; i < k; i++)); do
    mem="(SELECT mem FROM pgs_members WHERE n = (:r$i)::int)" acc="(SELECT acc FROM pgs_members WHERE n = (:r$i)::int)"
    pid="'pay_' || $KEY || '_$i'" jid="'jnl_' || $KEY || '_$i'"
    printf '\\startpipeline\n'
    if [ "$i" = 0 ]; then echo "BEGIN;"; fi # held back into the first pipeline, as mps does
    cat <<EOF
SELECT u.token_version, u.status, u.kind, COALESCE(u.merchant_id, ''), u.role, COALESCE(m.status, '') FROM users u LEFT JOIN merchants m ON m.id = u.merchant_id WHERE u.id = '$CLERK';
SELECT m.status, m.currency, COALESCE(m.platform_fee_bps, -1), COALESCE(b.status, ''), COALESCE(b.id, '') FROM merchants m LEFT JOIN members b ON b.merchant_id = m.id AND b.id = $mem WHERE m.id = '$MERCHANT';
INSERT INTO idempotency_keys (scope, idem_key, request_hash, state, created_at_ms) VALUES ('$SCOPE', 'k' || $KEY || '-$i', repeat('a', 64), 'running', $T) ON CONFLICT (scope, idem_key) DO NOTHING;
WITH m AS (SELECT id, owner_kind, kind, normal, balance, held, has_floor, currency FROM ledger_accounts WHERE owner_id = $mem AND owner_kind = 'member' AND merchant_id = '$MERCHANT' ORDER BY id FOR UPDATE), cur AS (SELECT currency FROM merchants WHERE id = '$MERCHANT') SELECT id, owner_kind, kind, normal, balance, held, has_floor FROM m WHERE currency = (SELECT currency FROM cur) UNION ALL SELECT id, owner_kind, kind, normal, balance, held, has_floor FROM ledger_accounts WHERE owner_kind = 'merchant' AND owner_id = '$MERCHANT' AND currency = (SELECT currency FROM cur) UNION ALL SELECT id, owner_kind, kind, normal, balance, held, has_floor FROM ledger_accounts WHERE owner_kind = 'platform' AND owner_id = 'platform' AND currency = (SELECT currency FROM cur);
SELECT id, value, min_spend, expires_at_ms, status FROM vouchers WHERE merchant_id = '$MERCHANT' AND member_id = $mem AND status IN ('ACTIVE', 'HELD') AND (expires_at_ms = 0 OR expires_at_ms > $T) ORDER BY CASE WHEN expires_at_ms = 0 THEN 1 ELSE 0 END, expires_at_ms, value DESC, id LIMIT 50;
SELECT seq, hash FROM audit_chain_heads WHERE chain = 'pgs#' || $LN FOR UPDATE;
\\endpipeline
\\startpipeline
EOF
    { cat <<EOF
INSERT INTO payments ($PAY_COLS) VALUES ($pid, '$MERCHANT', $mem, NULL, 'IDR', 100, 'PAID', NULL, 0, 0, 100, 0, 0, 0, 0, 0, $T, $T);
$(checked 1 "UPDATE ledger_accounts SET balance = balance + normal * 1 WHERE id = $acc AND currency = 'IDR' AND abs(balance + normal * 1) < 4000000000000000000")
$(checked 1 "INSERT INTO ledger_account_lanes AS l (account_id, lane, balance) SELECT id, 1000 + $LN, normal * 100 FROM ledger_accounts WHERE id = '$PAYABLE' AND currency = 'IDR' AND has_floor = 0 ON CONFLICT (account_id, lane) DO UPDATE SET balance = l.balance + EXCLUDED.balance WHERE abs(l.balance + EXCLUDED.balance) < 4000000000000000000")
INSERT INTO journal_entries (id, merchant_id, kind, ref_type, ref_id, memo, created_at_ms) VALUES ($jid, '$MERCHANT', 'PAYMENT', 'payment', $pid, '', $T);
INSERT INTO journal_lines (entry_id, line_no, account_id, amount, currency) VALUES ($jid, 1, $acc, 100, 'IDR');
INSERT INTO journal_lines (entry_id, line_no, account_id, amount, currency) VALUES ($jid, 2, '$PAYABLE', -100, 'IDR');
INSERT INTO payment_events (payment_id, seq, type, at_ms, details) VALUES ($pid, 1, 'created', $T, '{}'), ($pid, 2, 'paid', $T, repeat('e', 48));
INSERT INTO outbox_events (id, merchant_id, topic, aggregate_id, payload, created_at_ms) VALUES ('evt_' || $KEY || '_$i', '$MERCHANT', 'payment.paid', $pid, repeat('p', 263), $T);
INSERT INTO audit_log ($AUDIT_COLS) VALUES ('aud_' || $KEY || '_$i', 'pgs#' || $LN, $US * 256 + $i, $T, '$CLERK', 'clerk', '$MERCHANT', 'PAYMENT', $pid, 'SUCCESS', 'req', repeat('d', 90), repeat('0', 64), repeat('1', 64));
$(checked 1 "UPDATE audit_chain_heads SET seq = seq + 1, hash = repeat('1', 64) WHERE chain = 'pgs#' || $LN")
$(checked 1 "UPDATE idempotency_keys SET state = 'done', response_status = 200, response_body = repeat('b', 408), completed_at_ms = $T WHERE scope = '$SCOPE' AND idem_key = 'k' || $KEY || '-$i' AND state = 'running'")
EOF
    } | if [ "$one" = 1 ]; then merge_writes 12; else cat; fi # 12 rows: 2 events, 1 each else
    if [ "$i" = $((k - 1)) ]; then echo "COMMIT;"; fi
    printf '\\endpipeline\n'
  done
}

set_script() { # set_script K
  local k="$1" i arr="" b
  head_vars "$k"
  for ((i = 0; i < k; i++)); do arr="$arr${arr:+, }(:r$i)::int"; done
  # b: the K payments of this transaction, numbered i = 1..K, with their member and account
  # (LATERAL and = ANY keep every generic plan on the indexes, as mps's own statements are)
  b="WITH b AS (SELECT x.i, m.mem, m.acc FROM unnest(ARRAY[$arr]) WITH ORDINALITY AS x(n, i), LATERAL (SELECT mem, acc FROM pgs_members WHERE n = x.n) m)"
  cat <<EOF
\\startpipeline
BEGIN;
SELECT u.token_version, u.status, u.kind, COALESCE(u.merchant_id, ''), u.role, COALESCE(m.status, '') FROM users u LEFT JOIN merchants m ON m.id = u.merchant_id WHERE u.id = '$CLERK';
$b SELECT m.status, m.currency, COALESCE(m.platform_fee_bps, -1), mb.status, mb.id FROM merchants m JOIN members mb ON mb.merchant_id = m.id AND mb.id = ANY (ARRAY(SELECT mem FROM b)) WHERE m.id = '$MERCHANT';
INSERT INTO idempotency_keys (scope, idem_key, request_hash, state, created_at_ms) SELECT '$SCOPE', 'k' || $KEY || '-' || g, repeat('a', 64), 'running', $T FROM generate_series(1, $k) g ON CONFLICT (scope, idem_key) DO NOTHING;
$b, m AS (SELECT a.id, a.owner_kind, a.kind, a.normal, a.balance, a.held, a.has_floor, a.currency FROM ledger_accounts a WHERE a.owner_id = ANY (ARRAY(SELECT mem FROM b)) AND a.owner_kind = 'member' AND a.merchant_id = '$MERCHANT' ORDER BY a.id FOR UPDATE), cur AS (SELECT currency FROM merchants WHERE id = '$MERCHANT') SELECT id, owner_kind, kind, normal, balance, held, has_floor FROM m WHERE currency = (SELECT currency FROM cur) UNION ALL SELECT id, owner_kind, kind, normal, balance, held, has_floor FROM ledger_accounts WHERE owner_kind = 'merchant' AND owner_id = '$MERCHANT' AND currency = (SELECT currency FROM cur) UNION ALL SELECT id, owner_kind, kind, normal, balance, held, has_floor FROM ledger_accounts WHERE owner_kind = 'platform' AND owner_id = 'platform' AND currency = (SELECT currency FROM cur);
$b SELECT v.id, v.value, v.min_spend, v.expires_at_ms, v.status FROM vouchers v WHERE v.merchant_id = '$MERCHANT' AND v.member_id = ANY (ARRAY(SELECT mem FROM b)) AND v.status IN ('ACTIVE', 'HELD') AND (v.expires_at_ms = 0 OR v.expires_at_ms > $T);
SELECT seq, hash FROM audit_chain_heads WHERE chain = 'pgs#' || $LN FOR UPDATE;
\\endpipeline
\\startpipeline
$b INSERT INTO payments ($PAY_COLS) SELECT 'pay_' || $KEY || '_' || i, '$MERCHANT', mem, NULL, 'IDR', 100, 'PAID', NULL, 0, 0, 100, 0, 0, 0, 0, 0, $T, $T FROM b;
$b$(checked "$k" "UPDATE ledger_accounts a SET balance = a.balance + a.normal * 1 WHERE a.id = ANY (ARRAY(SELECT acc FROM b)) AND a.currency = 'IDR' AND abs(a.balance + a.normal * 1) < 4000000000000000000" | sed 's/^WITH /, /')
$(checked 1 "INSERT INTO ledger_account_lanes AS l (account_id, lane, balance) SELECT id, 1000 + $LN, normal * 100 * $k FROM ledger_accounts WHERE id = '$PAYABLE' AND currency = 'IDR' AND has_floor = 0 ON CONFLICT (account_id, lane) DO UPDATE SET balance = l.balance + EXCLUDED.balance WHERE abs(l.balance + EXCLUDED.balance) < 4000000000000000000")
$b INSERT INTO journal_entries (id, merchant_id, kind, ref_type, ref_id, memo, created_at_ms) SELECT 'jnl_' || $KEY || '_' || i, '$MERCHANT', 'PAYMENT', 'payment', 'pay_' || $KEY || '_' || i, '', $T FROM b;
$b INSERT INTO journal_lines (entry_id, line_no, account_id, amount, currency) SELECT 'jnl_' || $KEY || '_' || i, l, CASE WHEN l = 1 THEN acc ELSE '$PAYABLE' END, CASE WHEN l = 1 THEN 100 ELSE -100 END, 'IDR' FROM b, generate_series(1, 2) l;
$b INSERT INTO payment_events (payment_id, seq, type, at_ms, details) SELECT 'pay_' || $KEY || '_' || i, s, CASE WHEN s = 1 THEN 'created' ELSE 'paid' END, $T, CASE WHEN s = 1 THEN '{}' ELSE repeat('e', 48) END FROM b, generate_series(1, 2) s;
$b INSERT INTO outbox_events (id, merchant_id, topic, aggregate_id, payload, created_at_ms) SELECT 'evt_' || $KEY || '_' || i, '$MERCHANT', 'payment.paid', 'pay_' || $KEY || '_' || i, repeat('p', 263), $T FROM b;
$b INSERT INTO audit_log ($AUDIT_COLS) SELECT 'aud_' || $KEY || '_' || i, 'pgs#' || $LN, $US * 256 + i, $T, '$CLERK', 'clerk', '$MERCHANT', 'PAYMENT', 'pay_' || $KEY || '_' || i, 'SUCCESS', 'req', repeat('d', 90), repeat('0', 64), repeat('1', 64) FROM b;
$(checked 1 "UPDATE audit_chain_heads SET seq = seq + $k, hash = repeat('1', 64) WHERE chain = 'pgs#' || $LN")
$(checked "$k" "UPDATE idempotency_keys SET state = 'done', response_status = 200, response_body = repeat('b', 408), completed_at_ms = $T WHERE scope = '$SCOPE' AND idem_key = ANY (ARRAY(SELECT 'k' || $KEY || '-' || g FROM generate_series(1, $k) g))")
COMMIT;
\\endpipeline
EOF
}

busy() { head -n1 /proc/stat | awk '{print $2 + $3 + $4 + $7 + $8}'; } # user nice system irq softirq
hz="$(getconf CLK_TCK)"
TIMEFORMAT='PGBENCH_CPU %U %S' # bash's own time: pgbench's user and system seconds
for k in $BATCHES; do
  for shape in $SHAPES; do
    f="$TMP/$shape-$k.sql"
    "${shape}_script" "$k" >"$f"
    # one transaction first: a statement the script got wrong fails here, not as a slow run
    pgbench -n -M prepared -f "$f" -c 1 -t 1 "$CURL" >"$TMP/check.log" 2>&1 || { cat "$TMP/check.log" >&2; die "$shape K=$k does not run"; }
    psql "$CURL" -qAt -c CHECKPOINT >/dev/null || true
    say "$shape, $k payments a transaction, $CLIENTS clients, ${DURATION}s"
    b0="$(busy)" t0="$(date +%s%N)"
    out="$( { time pgbench -n -M prepared -f "$f" -c "$CLIENTS" -j "$THREADS" -T "$DURATION" "$CURL" 2>&1; } 2>&1)" ||
      { printf '%s\n' "$out" >&2; die "pgbench failed ($shape K=$k)"; }
    b1="$(busy)" t1="$(date +%s%N)"
    txns="$(printf '%s\n' "$out" | sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' | head -n1)"
    failed="$(printf '%s\n' "$out" | sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' | head -n1)"
    client="$(printf '%s\n' "$out" | awk '/^PGBENCH_CPU/ {print $2 + $3}')"
    [ -n "$txns" ] && [ -n "$failed" ] && [ -n "$client" ] || { printf '%s\n' "$out" >&2; die "pgbench's output has no count or CPU time ($shape K=$k)"; }
    # over the whole pgbench run (connecting included): payments done, CPU not pgbench's
    awk -v shape="$shape" -v k="$k" -v c="$CLIENTS" -v d="$DURATION" -v txns="$txns" -v b0="$b0" -v b1="$b1" \
        -v hz="$hz" -v client="$client" -v failed="$failed" -v t0="$t0" -v t1="$t1" 'BEGIN {
      secs = (t1 - t0) / 1e9; pays = txns * k; pay = pays / secs; pg = ((b1 - b0) / hz - client) / secs
      printf "{\"workload\":\"pg-shape\",\"store\":\"postgres\",\"tool\":\"pgbench\",\"shape\":\"%s\",\"batch\":%d,\"connections\":%d,\"seconds\":%d,\"rps\":%.1f,\"pg_cores\":%.2f,\"pg_us_per_payment\":%.0f,\"errors\":%d,\"requests\":%d}\n",
        shape, k, c, d, pay, pg, (pay > 0 ? pg / pay * 1e6 : 0), failed, pays }'
  done
done
