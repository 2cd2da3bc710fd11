// tests/api/ledger_verify.test.mjs — the money read side and `mpsctl verify`, end to end:
// a merchant with members, cash top-ups, bonus/silver/voucher grants and payments (PAID at
// once and PENDING_EXTERNAL); GET transactions (merchant, member, admin routes: filters,
// pagination, visibility, cross-merchant refusals) and GET ledger-entries (filters, lines,
// balances recomputed from them); then the server stops and `mpsctl verify` passes on the
// store, and catches each corruption made directly in the database (an account balance, a
// deleted journal line, a held amount without a hold, a payment marked PAID without its
// entry), naming what is wrong.
//
// Run: node --test tests/api/ledger_verify.test.mjs  (MPS_BIN_DIR, MPS_TEST_STORE,
// MPS_TEST_PG_ADMIN_URL: see lib/server.mjs).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { expectEnvelope, RFC3339_RE } from './lib/server.mjs';
import {
  STORE, newStore, startOn, sql, verify, assertVerifies, call, token, newMerchant, newMember, topup, grant,
  pay, wallet, pageAll, walletPart,
} from './lib/money.mjs';

const envelope = (r, status, code) =>
  expectEnvelope({ status: r.status, headers: r.headers, text: async () => r.text }, status, code);

describe(`transactions, ledger entries and mpsctl verify (${STORE})`, () => {
  let store, s, base, m, m2, a, b, c2;
  const paid = [];   // payments of a and b, as returned by /api/payment/verify
  let pending;       // a's PENDING_EXTERNAL payment
  let voucherPay;    // a's payment that used the voucher, bonus and principal
  let refund;        // a partial refund of b's first payment

  before(async () => {
    store = newStore();
    s = await startOn(store);
    base = s.base;
    m = await newMerchant(base);
    m2 = await newMerchant(base);
    a = await newMember(base, m, 'Ayu');
    b = await newMember(base, m, 'Bima');
    c2 = await newMember(base, m2, 'Citra');
    await topup(base, m, a, 10_000);
    await topup(base, m, b, 5_000);
    await topup(base, m2, c2, 1_000);
    await grant(base, m, a, { type: 'BONUS', amount: 500 });
    await grant(base, m, a, { type: 'SILVER', amount: 200 });
    await grant(base, m, a, { type: 'VOUCHER', value: 300, minSpend: 1_000 });
    // a: voucher 300 + bonus 500 + principal 700
    let r = await pay(base, m, a, 1_500);
    assert.equal(r.status, 200, r.text);
    voucherPay = r.json;
    paid.push(r.json);
    // a: principal 9 300 + silver 200 + external 10 500 -> pending
    r = await pay(base, m, a, 20_000);
    assert.equal(r.status, 202, r.text);
    pending = r.json;
    for (const amt of [1_000, 100, 200, 300]) {
      r = await pay(base, m, b, amt);
      assert.equal(r.status, 200, r.text);
      paid.push(r.json);
    }
    r = await pay(base, m2, c2, 400);
    assert.equal(r.status, 200, r.text);
    r = await call(base, 'POST', '/api/payment/refund', {
      token: m.owner, headers: { 'Idempotency-Key': `k-refund-${m.id}` },
      body: { merchantId: m.id, paymentTxnId: paid[1].paymentTxnId, refundAmount: 400 },
    });
    assert.equal(r.status, 200, r.text);
    refund = r.json;
  });

  after(async () => {
    if (s && !s.exited) await s.stop();
    if (store) store.drop();
  });

  it('payments came out as the smart deduction says (voucher, bonus, principal, silver, external)', () => {
    assert.equal(voucherPay.status, 'PAID');
    assert.deepEqual(voucherPay.deduction, { voucher: 300, bonus: 500, principal: 700, silver: 0, external: 0 });
    assert.equal(voucherPay.feeAmount, 9); // 60 bps of 1 500
    assert.equal(pending.status, 'PENDING_EXTERNAL');
    assert.deepEqual(pending.deduction, { voucher: 0, bonus: 0, principal: 9_300, silver: 200, external: 10_500 });
    assert.equal(pending.feeAmount, 0);
  });

  describe('GET /api/merchants/{merchantId}/transactions', () => {
    const path = () => `/api/merchants/${m.id}/transactions`;

    it('lists every payment of the merchant, newest first, in the documented shape', async () => {
      const r = await call(base, 'GET', `${path()}?limit=100`, { token: m.owner });
      assert.equal(r.status, 200, r.text);
      const items = r.json.items;
      assert.equal(items.length, 6);
      assert.equal(r.json.next_cursor, null);
      const ids = items.map((t) => t.paymentTxnId);
      assert.deepEqual(ids, [...ids].sort().reverse(), 'newest (highest id) first');
      for (let i = 1; i < items.length; i++) assert.ok(items[i - 1].createdAtMs >= items[i].createdAtMs);
      for (const t of items) {
        assert.equal(t.merchantId, m.id);
        assert.match(t.createdAt, RFC3339_RE);
        assert.equal(Date.parse(t.createdAt), t.createdAtMs);
        for (const k of ['paymentTxnId', 'userId', 'currency', 'status']) assert.equal(typeof t[k], 'string', k);
        for (const k of ['orderAmount', 'feeAmount', 'refundedAmount', 'createdAtMs', 'updatedAtMs']) {
          assert.equal(typeof t[k], 'number', k);
        }
        const d = t.deduction;
        assert.equal(d.voucher + d.bonus + d.principal + d.silver + d.external, t.orderAmount);
        assert.equal(t.currency, 'USD');
      }
      assert.ok(!ids.includes(undefined));
      const byId = new Map(items.map((t) => [t.paymentTxnId, t]));
      assert.deepEqual(byId.get(voucherPay.paymentTxnId).deduction, voucherPay.deduction);
      assert.equal(byId.get(pending.paymentTxnId).status, 'PENDING_EXTERNAL');
    });

    it('filters by status, userId and a time range (start inclusive, end exclusive)', async () => {
      const all = (await call(base, 'GET', `${path()}?limit=100`, { token: m.owner })).json.items;
      const q = async (query) => {
        const r = await call(base, 'GET', `${path()}?${new URLSearchParams({ limit: '100', ...query })}`, { token: m.owner });
        assert.equal(r.status, 200, r.text);
        return r.json.items.map((t) => t.paymentTxnId);
      };
      const idsOf = (f) => all.filter(f).map((t) => t.paymentTxnId);
      assert.deepEqual(await q({ status: 'PAID' }), idsOf((t) => t.status === 'PAID'));
      assert.equal((await q({ status: 'PAID' })).length, 5);
      assert.deepEqual(await q({ status: 'PENDING_EXTERNAL' }), [pending.paymentTxnId]);
      assert.deepEqual(await q({ status: 'FAILED' }), []);
      assert.deepEqual(await q({ userId: a.id }), idsOf((t) => t.userId === a.id));
      assert.equal((await q({ userId: b.id })).length, 4);
      assert.deepEqual(await q({ userId: b.id, status: 'PENDING_EXTERNAL' }), []);
      const mid = all[3].createdAtMs;
      assert.deepEqual(await q({ startTime: String(mid) }), idsOf((t) => t.createdAtMs >= mid));
      assert.deepEqual(await q({ endTime: String(mid) }), idsOf((t) => t.createdAtMs < mid));
      assert.deepEqual(await q({ startTime: new Date(mid).toISOString(), endTime: new Date(mid + 1).toISOString() }),
        idsOf((t) => t.createdAtMs === mid));
      assert.deepEqual(await q({ startTime: String(Date.now() + 60_000) }), []);
    });

    it('cursor pagination walks every payment exactly once', async () => {
      const allItems = (await call(base, 'GET', `${path()}?limit=100`, { token: m.owner })).json.items;
      const all = allItems.map((t) => t.paymentTxnId);
      for (const limit of [1, 2, 4, 5]) {
        const walked = (await pageAll(base, path(), m.owner, limit)).map((t) => t.paymentTxnId);
        assert.deepEqual(walked, all, `limit ${limit}`);
      }
      const ofB = all.filter((id) => allItems.find((t) => t.paymentTxnId === id).userId === b.id);
      assert.equal(ofB.length, 4);
      for (const limit of [1, 3]) { // one member's, without filters (D59's unfiltered statements) and with one
        assert.deepEqual((await pageAll(base, `${path()}?userId=${b.id}`, m.owner, limit)).map((t) => t.paymentTxnId), ofB);
        assert.deepEqual((await pageAll(base, `${path()}?userId=${b.id}&startTime=1`, m.owner, limit)).map((t) => t.paymentTxnId), ofB);
      }
      const paidOnly = (await pageAll(base, `${path()}?status=PAID`, m.owner, 2)).map((t) => t.paymentTxnId);
      assert.equal(paidOnly.length, 5);
      assert.equal(new Set(paidOnly).size, 5);
    });

    it('bad parameters are 400 BAD_REQUEST naming the parameter', async () => {
      for (const [query, param] of [['status=BOGUS', 'status'], ['limit=0', 'limit'], ['limit=101', 'limit'],
        ['startTime=yesterday', 'startTime'], ['userId=a%20b', 'userId'], ['cursor=%2F%2F', 'cursor'],
        ['startTime=2000&endTime=1000', 'endTime']]) {
        const r = await call(base, 'GET', `${path()}?${query}`, { token: m.owner });
        const body = await envelope(r, 400, 'BAD_REQUEST');
        assert.equal(body.error.details.parameter, param, query);
      }
    });

    it('one payment: its events in order and its refunds', async () => {
      const r = await call(base, 'GET', `${path()}/${voucherPay.paymentTxnId}`, { token: m.owner });
      assert.equal(r.status, 200, r.text);
      const t = r.json;
      assert.equal(t.paymentTxnId, voucherPay.paymentTxnId);
      assert.equal(t.status, 'PAID');
      assert.equal(t.voucherId, voucherPay.voucherId);
      assert.deepEqual(t.refunds, []);
      assert.deepEqual(t.events.map((e) => [e.seq, e.type]), [[1, 'created'], [2, 'paid']]);
      for (const e of t.events) {
        assert.match(e.at, RFC3339_RE);
        assert.equal(typeof e.details, 'object');
      }
      assert.equal(t.events[1].details.status, 'PAID');
      const p = await call(base, 'GET', `${path()}/${pending.paymentTxnId}`, { token: m.owner });
      assert.deepEqual(p.json.events.map((e) => e.type), ['created', 'held']);
      const refunded = await call(base, 'GET', `${path()}/${paid[1].paymentTxnId}`, { token: m.owner });
      assert.equal(refunded.status, 200, refunded.text);
      assert.equal(refunded.json.refundedAmount, 400);
      assert.deepEqual(refunded.json.events.map((e) => e.type), ['created', 'paid', 'refunded']);
      assert.equal(refunded.json.refunds.length, 1);
      const rf = refunded.json.refunds[0];
      assert.equal(rf.refundId, refund.refundTxnId);
      assert.equal(rf.amount, 400);
      assert.equal(rf.walletShare, 400);
      assert.equal(rf.externalShare, 0);
      assert.equal(rf.externalStatus, 'NONE');
      assert.equal(rf.feeReversal, refund.feeReversal);
      assert.match(rf.createdAt, RFC3339_RE);
    });

    it('a missing payment, or one of another merchant, is 404', async () => {
      await envelope(await call(base, 'GET', `${path()}/pay_missing`, { token: m.owner }), 404, 'NOT_FOUND');
      const other = (await call(base, 'GET', `/api/merchants/${m2.id}/transactions`, { token: m2.owner })).json.items[0];
      assert.ok(other);
      const admin = await token(base, 'admin');
      await envelope(await call(base, 'GET', `${path()}/${other.paymentTxnId}`, { token: admin }), 404, 'NOT_FOUND');
      assert.equal((await call(base, 'GET', `/api/merchants/${m2.id}/transactions/${other.paymentTxnId}`, { token: admin })).status, 200);
    });

    it('a member sees only their own payments, whatever the query says', async () => {
      const own = await pageAll(base, path(), a.token, 1);
      assert.deepEqual(own.map((t) => t.userId), [a.id, a.id]);
      const asked = await call(base, 'GET', `${path()}?userId=${b.id}`, { token: a.token });
      assert.equal(asked.status, 200, asked.text);
      assert.ok(asked.json.items.every((t) => t.userId === a.id));
      assert.equal(asked.json.items.length, 2);
      const bPay = paid.find((p) => p.userId === b.id);
      await envelope(await call(base, 'GET', `${path()}/${bPay.paymentTxnId}`, { token: a.token }), 404, 'NOT_FOUND');
      const mine = await call(base, 'GET', `${path()}/${voucherPay.paymentTxnId}`, { token: a.token });
      assert.equal(mine.status, 200, mine.text);
      assert.equal(mine.json.userId, a.id);
    });

    it('roles: merchant staff and platform admin/finance/support/viewer read; platform ops does not', async () => {
      for (const role of ['MANAGER', 'CLERK', 'finance', 'ops', 'viewer']) {
        const t = await token(base, role, m.id);
        assert.equal((await call(base, 'GET', path(), { token: t })).status, 200, role);
      }
      for (const role of ['admin', 'finance', 'support', 'viewer']) {
        assert.equal((await call(base, 'GET', path(), { token: await token(base, role) })).status, 200, role);
      }
      await envelope(await call(base, 'GET', path(), { token: await token(base, 'ops') }), 403, 'FORBIDDEN');
    });

    it('another merchant in the path: 403 MERCHANT_SCOPE_DENIED for its staff and members', async () => {
      for (const tok of [m.owner, a.token, await token(base, 'viewer', m.id)]) {
        await envelope(await call(base, 'GET', `/api/merchants/${m2.id}/transactions`, { token: tok }), 403, 'MERCHANT_SCOPE_DENIED');
        await envelope(await call(base, 'GET', `/api/merchants/${m2.id}/transactions/pay_x`, { token: tok }), 403, 'MERCHANT_SCOPE_DENIED');
      }
    });
  });

  describe('GET /admin/transactions', () => {
    it('platform staff list every merchant, or one with merchantId; read any payment', async () => {
      const ops = await token(base, 'ops');
      const one = await pageAll(base, `/admin/transactions?merchantId=${m.id}`, ops, 4);
      assert.equal(one.length, 6);
      assert.ok(one.every((t) => t.merchantId === m.id));
      const every = await pageAll(base, '/admin/transactions', ops, 3);
      assert.equal(every.length, 7);
      assert.deepEqual(new Set(every.map((t) => t.merchantId)), new Set([m.id, m2.id]));
      const everyOfA = await pageAll(base, `/admin/transactions?userId=${a.id}`, ops, 1); // every merchant, one member
      assert.deepEqual(everyOfA.map((t) => t.paymentTxnId), every.filter((t) => t.userId === a.id).map((t) => t.paymentTxnId));
      assert.ok(everyOfA.length >= 2);
      const filtered = await pageAll(base, `/admin/transactions?merchantId=${m.id}&status=PENDING_EXTERNAL&userId=${a.id}`, ops);
      assert.deepEqual(filtered.map((t) => t.paymentTxnId), [pending.paymentTxnId]);
      const got = await call(base, 'GET', `/admin/transactions/${pending.paymentTxnId}`, { token: ops });
      assert.equal(got.status, 200, got.text);
      assert.equal(got.json.merchantId, m.id);
      assert.equal(got.json.events.length, 2);
      await envelope(await call(base, 'GET', '/admin/transactions/pay_missing', { token: ops }), 404, 'NOT_FOUND');
    });
    it('merchant staff and members are refused', async () => {
      for (const tok of [m.owner, a.token]) {
        await envelope(await call(base, 'GET', '/admin/transactions', { token: tok }), 403, 'FORBIDDEN');
        await envelope(await call(base, 'GET', `/admin/transactions/${voucherPay.paymentTxnId}`, { token: tok }), 403, 'FORBIDDEN');
      }
    });
  });

  describe('ledger entries', () => {
    it('GET /admin/ledger-entries: every entry balances; lines carry account, owner, signed amount', async () => {
      const fin = await token(base, 'finance');
      const entries = await pageAll(base, `/admin/ledger-entries?merchantId=${m.id}`, fin);
      // top-ups 2, grants 2 (bonus, silver; a voucher moves nothing until used),
      // payments PAID 5 x (PAYMENT + FEE when the fee is > 0), the refund (REFUND, and
      // FEE_REVERSAL when a fee is reversed; no CLAWBACK: that payment used no bonus)
      const kinds = entries.map((e) => e.kind).sort();
      const fees = paid.filter((p) => p.feeAmount > 0).length;
      assert.equal(kinds.filter((k) => k === 'TOPUP').length, 2);
      assert.equal(kinds.filter((k) => k === 'GRANT').length, 2);
      assert.equal(kinds.filter((k) => k === 'PAYMENT').length, 5);
      assert.equal(kinds.filter((k) => k === 'FEE').length, fees);
      assert.equal(kinds.filter((k) => k === 'REFUND').length, 1);
      assert.equal(kinds.filter((k) => k === 'FEE_REVERSAL').length, refund.feeReversal > 0 ? 1 : 0);
      assert.equal(entries.length, 10 + fees + (refund.feeReversal > 0 ? 1 : 0));
      const ids = entries.map((e) => e.id);
      assert.deepEqual(ids, [...ids].sort().reverse(), 'newest first');
      for (const e of entries) {
        assert.equal(e.merchantId, m.id);
        assert.match(e.createdAt, RFC3339_RE);
        assert.ok(e.lines.length >= 2, JSON.stringify(e));
        assert.equal(e.lines.reduce((sum, l) => sum + l.amount, 0), 0, `entry ${e.id} balances`);
        for (const l of e.lines) {
          assert.ok(['member', 'merchant', 'platform'].includes(l.ownerKind), JSON.stringify(l));
          assert.equal(typeof l.accountId, 'string');
          assert.equal(l.currency, 'USD');
          assert.notEqual(l.amount, 0);
        }
      }
      const every = await pageAll(base, '/admin/ledger-entries', fin, 5);
      assert.ok(every.length > entries.length);
      assert.ok(every.some((e) => e.merchantId === m2.id));
    });

    it('a PAID payment\'s entries: Dr the wallet buckets and marketing (voucher), Cr payable; then the fee', async () => {
      const admin = await token(base, 'admin');
      const q = new URLSearchParams({ refType: 'payment', refId: voucherPay.paymentTxnId });
      const r = await call(base, 'GET', `/admin/ledger-entries?${q}`, { token: admin });
      assert.equal(r.status, 200, r.text);
      const byKind = Object.fromEntries(r.json.items.map((e) => [e.kind, e]));
      assert.deepEqual(Object.keys(byKind).sort(), ['FEE', 'PAYMENT']);
      const lines = (e) => Object.fromEntries(e.lines.map((l) => [`${l.ownerKind}:${l.accountKind}`, l.amount]));
      assert.deepEqual(lines(byKind.PAYMENT), {
        'member:bonus': 500, 'member:principal': 700, 'merchant:marketing': 300, 'merchant:payable': -1_500,
      });
      assert.deepEqual(lines(byKind.FEE), { 'merchant:payable': 9, 'platform:fee_income': -9 });
      for (const l of byKind.PAYMENT.lines) {
        if (l.ownerKind === 'member') assert.equal(l.ownerId, a.id);
        if (l.ownerKind === 'merchant') assert.equal(l.ownerId, m.id);
      }
      // nothing is posted for a pending payment (its wallet part is held)
      const none = await call(base, 'GET', `/admin/ledger-entries?refId=${pending.paymentTxnId}`, { token: admin });
      assert.deepEqual(none.json.items, []);
    });

    it('filters kind, refType, time range; pagination walks each entry once', async () => {
      const fin = await token(base, 'finance', m.id);
      const url = `/api/merchants/${m.id}/ledger-entries`;
      const all = await pageAll(base, url, fin);
      for (const limit of [1, 3, 4]) {
        assert.deepEqual((await pageAll(base, url, fin, limit)).map((e) => e.id), all.map((e) => e.id), `limit ${limit}`);
      }
      const topups = await pageAll(base, `${url}?kind=TOPUP`, fin);
      assert.equal(topups.length, 2);
      assert.ok(topups.every((e) => e.kind === 'TOPUP' && e.refType === 'topup'));
      const grants = await pageAll(base, `${url}?refType=grant`, fin);
      assert.deepEqual(grants.map((e) => e.kind), ['GRANT', 'GRANT']);
      const mid = all[4].createdAtMs;
      assert.deepEqual((await pageAll(base, `${url}?startTime=${mid}`, fin)).map((e) => e.id),
        all.filter((e) => e.createdAtMs >= mid).map((e) => e.id));
      assert.deepEqual((await pageAll(base, `${url}?endTime=${mid}`, fin)).map((e) => e.id),
        all.filter((e) => e.createdAtMs < mid).map((e) => e.id));
      for (const [query, param] of [['kind=pay%20ment', 'kind'], ['refType=Payment', 'refType'], ['limit=500', 'limit'],
        ['endTime=nope', 'endTime']]) {
        const body = await envelope(await call(base, 'GET', `${url}?${query}`, { token: fin }), 400, 'BAD_REQUEST');
        assert.equal(body.error.details.parameter, param, query);
      }
    });

    it('balances recomputed from the entries equal the wallets (balance = normal x sum of lines)', async () => {
      const entries = await pageAll(base, `/api/merchants/${m.id}/ledger-entries`, m.owner);
      const sums = new Map();
      for (const e of entries) {
        for (const l of e.lines) {
          const k = `${l.ownerId}:${l.accountKind}`;
          sums.set(k, (sums.get(k) || 0) + l.amount);
        }
      }
      for (const mem of [a, b]) {
        const w = await wallet(base, m, mem);
        for (const bucket of ['principal', 'bonus', 'silver']) {
          assert.equal(w.balance[bucket], 0 - (sums.get(`${mem.id}:${bucket}`) || 0), `${mem.id} ${bucket}`);
        }
      }
      const wa = await wallet(base, m, a);
      assert.deepEqual(wa.held, { principal: 9_300, bonus: 0, silver: 200 });
      assert.deepEqual(wa.available, { principal: 0, bonus: 0, silver: 0 });
      // payable: credit-normal, what the platform owes the merchant
      const payable = 0 - (sums.get(`${m.id}:payable`) || 0);
      const orders = paid.reduce((n, p) => n + p.orderAmount, 0);
      const fees = paid.reduce((n, p) => n + p.feeAmount, 0);
      assert.equal(payable, orders - fees - refund.refundAmount + refund.feeReversal);
      assert.equal(sums.get(`${m.id}:marketing`), 500 + 200 + 300, 'bonus + silver grants + the voucher used');
    });

    it('roles: merchant owner and finance, platform admin and finance; others 403', async () => {
      const url = `/api/merchants/${m.id}/ledger-entries`;
      for (const tok of [m.owner, await token(base, 'finance', m.id), await token(base, 'admin'), await token(base, 'finance')]) {
        assert.equal((await call(base, 'GET', url, { token: tok })).status, 200);
      }
      for (const tok of [await token(base, 'CLERK', m.id), await token(base, 'viewer', m.id), a.token, await token(base, 'support')]) {
        await envelope(await call(base, 'GET', url, { token: tok }), 403, 'FORBIDDEN');
      }
      await envelope(await call(base, 'GET', `/api/merchants/${m2.id}/ledger-entries`, { token: m.owner }), 403, 'MERCHANT_SCOPE_DENIED');
      for (const tok of [await token(base, 'viewer'), await token(base, 'admin')]) {
        assert.equal((await call(base, 'GET', '/admin/ledger-entries', { token: tok })).status, 200);
      }
      for (const tok of [await token(base, 'ops'), await token(base, 'support'), m.owner]) {
        await envelope(await call(base, 'GET', '/admin/ledger-entries', { token: tok }), 403, 'FORBIDDEN');
      }
    });
  });

  describe('mpsctl verify on the stopped server\'s store', () => {
    before(async () => {
      const r = await s.stop();
      assert.equal(r.code, 0, r.stderr);
    });

    it('passes, reporting what it checked', () => {
      const r = assertVerifies(store);
      assert.deepEqual(r.violations, []);
      assert.match(r.stdout, /checked:\s+\d+ accounts, \d+ journal entries/);
      assert.match(r.stdout, /7 payments \(6 PAID, 1 PENDING_EXTERNAL\), 1 refunds/);
      assert.match(r.stdout, /^\[ok\]\s+audit/m);
      assert.doesNotMatch(r.stdout, /\[FAIL\]/);
    });

    /** Corrupt with `bad`, expect exit 1 with violations matching every regexp, restore with `good`. */
    const corrupt = (bad, good, expected) => {
      sql(store, bad);
      try {
        const r = verify(store);
        assert.equal(r.code, 1, `expected exit 1 after "${bad}":\n${r.stdout}\n${r.stderr}`);
        assert.match(r.stdout, /^status:\s+VIOLATIONS/m);
        for (const re of expected) {
          assert.ok(r.violations.some((l) => re.test(l)), `no violation matching ${re} in:\n${r.violations.join('\n')}`);
        }
        return r;
      } finally {
        sql(store, good);
      }
    };

    it('an account balance changed in the database: exit 1 naming the account', () => {
      const [[acc, balance]] = sql(store, `SELECT id, balance FROM ledger_accounts WHERE owner_id = '${a.id}' AND kind = 'principal'`);
      corrupt(`UPDATE ledger_accounts SET balance = balance + 1 WHERE id = '${acc}'`,
        `UPDATE ledger_accounts SET balance = ${balance} WHERE id = '${acc}'`,
        [new RegExp(`^VIOLATION balance: account ${acc} \\(member ${a.id} principal USD\\)`)]);
      assertVerifies(store, 'after restoring the balance');
    });

    it('a lane on a member bucket: exit 1 (a floored balance lives in its row, where the floor sees it)', () => {
      const [[acc]] = sql(store, `SELECT id FROM ledger_accounts WHERE owner_id = '${a.id}' AND kind = 'principal'`);
      corrupt(`INSERT INTO ledger_account_lanes (account_id, lane, balance) VALUES ('${acc}', 7, 0)`,
        `DELETE FROM ledger_account_lanes WHERE account_id = '${acc}' AND lane = 7`,
        [new RegExp(`^VIOLATION lanes: account ${acc} \\(member ${a.id} principal USD\\) has a floor but lane 7`)]);
      assertVerifies(store, 'after removing the lane');
    });

    it('a hot account\'s lane changed in the database: exit 1 naming the account (row + lanes = journal)', () => {
      const [[acc]] = sql(store, `SELECT id FROM ledger_accounts WHERE owner_id = '${m.id}' AND kind = 'payable'`);
      corrupt(`INSERT INTO ledger_account_lanes (account_id, lane, balance) VALUES ('${acc}', 250, 1)`,
        `DELETE FROM ledger_account_lanes WHERE account_id = '${acc}' AND lane = 250`,
        [new RegExp(`^VIOLATION balance: account ${acc} \\(merchant ${m.id} payable USD\\)`)]);
      assertVerifies(store, 'after removing the lane');
    });

    it('a journal line deleted: exit 1 (the entry no longer balances, the account disagrees)', () => {
      const [[entry, lineNo, acc, amount, currency]] = sql(store,
        `SELECT l.entry_id, l.line_no, l.account_id, l.amount, l.currency FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id
         WHERE e.kind = 'TOPUP' AND e.ref_type = 'topup' AND l.amount < 0 AND e.merchant_id = '${m.id}' ORDER BY e.id LIMIT 1`);
      corrupt(`DELETE FROM journal_lines WHERE entry_id = '${entry}' AND line_no = ${lineNo}`,
        `INSERT INTO journal_lines (entry_id, line_no, account_id, amount, currency) VALUES ('${entry}', ${lineNo}, '${acc}', ${amount}, '${currency}')`,
        [new RegExp(`^VIOLATION balanced: entry ${entry}: its USD lines sum to ${-amount}`),
          new RegExp(`^VIOLATION balance: account ${acc} `), /^VIOLATION topup-entries: top-up /]);
      assertVerifies(store, 'after restoring the line');
    });

    it('references PostgreSQL keeps without foreign keys (D45): a payment\'s member, a history event, a lane', () => {
      const id = pending.paymentTxnId;
      const [[member]] = sql(store, `SELECT member_id FROM payments WHERE id = '${id}'`);
      corrupt(`UPDATE payments SET member_id = 'mem_nobody' WHERE id = '${id}'`,
        `UPDATE payments SET member_id = '${member}' WHERE id = '${id}'`,
        [new RegExp(`^VIOLATION payment-owners: payment ${id} names merchant ${m.id} and member mem_nobody, but the member does not exist`)]);
      corrupt(`UPDATE payments SET member_id = '${c2.id}' WHERE id = '${id}'`,
        `UPDATE payments SET member_id = '${member}' WHERE id = '${id}'`,
        [new RegExp(`^VIOLATION payment-owners: payment ${id} names merchant ${m.id} and member ${c2.id}, but the member belongs to merchant ${m2.id}`)]);
      corrupt(`INSERT INTO payment_events (payment_id, seq, type, at_ms, details) VALUES ('pay_gone', 1, 'created', 1, '{}')`,
        `DELETE FROM payment_events WHERE payment_id = 'pay_gone'`,
        [/^VIOLATION orphan-events: history event 1 \(created\) of payment pay_gone belongs to no payment/]);
      corrupt(`INSERT INTO ledger_account_lanes (account_id, lane, balance) VALUES ('acc_gone', 3, 5)`,
        `DELETE FROM ledger_account_lanes WHERE account_id = 'acc_gone'`,
        [/^VIOLATION orphan-lanes: lane 3 \(balance 5\) of account acc_gone belongs to no account/]);
      assertVerifies(store, 'after restoring the references');
    });

    it('a wallet\'s held set without a hold: exit 1 naming the account', () => {
      const [[acc]] = sql(store, `SELECT id FROM ledger_accounts WHERE owner_id = '${b.id}' AND kind = 'principal'`);
      corrupt(`UPDATE ledger_accounts SET held = 100 WHERE id = '${acc}'`, `UPDATE ledger_accounts SET held = 0 WHERE id = '${acc}'`,
        [new RegExp(`^VIOLATION held: account ${acc} \\(member ${b.id} principal USD\\): held 100, but its HELD holds sum to 0`)]);
      assertVerifies(store, 'after restoring held');
    });

    it('a payment marked PAID without its entry: exit 1 naming the payment', () => {
      const id = pending.paymentTxnId;
      corrupt(`UPDATE payments SET status = 'PAID' WHERE id = '${id}'`, `UPDATE payments SET status = 'PENDING_EXTERNAL' WHERE id = '${id}'`,
        [new RegExp(`^VIOLATION payment-entries: payment ${id} is PAID \\(order 20000\\) but has 0 PAYMENT entries`),
          new RegExp(`^VIOLATION stray-holds: hold \\S+ \\(account \\S+, \\d+\\) is still HELD for payment ${id}, which is PAID`)]);
      assertVerifies(store, 'after restoring the status');
    });

    it('more corruptions: a payment\'s entry amount, a used voucher freed, refunded beyond the order', () => {
      const id = voucherPay.paymentTxnId;
      const [[entry, lineNo]] = sql(store, `SELECT l.entry_id, l.line_no FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id
        JOIN ledger_accounts a ON a.id = l.account_id WHERE e.ref_id = '${id}' AND e.kind = 'PAYMENT' AND a.kind = 'bonus'`);
      const [[entry2, lineNo2]] = sql(store, `SELECT l.entry_id, l.line_no FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id
        JOIN ledger_accounts a ON a.id = l.account_id WHERE e.ref_id = '${id}' AND e.kind = 'PAYMENT' AND a.kind = 'principal'`);
      assert.equal(entry, entry2);
      // moving 100 from bonus to principal keeps the entry balanced but not the payment's
      corrupt(`UPDATE journal_lines SET amount = amount - 100 WHERE entry_id = '${entry}' AND line_no = ${lineNo};
               UPDATE journal_lines SET amount = amount + 100 WHERE entry_id = '${entry2}' AND line_no = ${lineNo2}`,
      `UPDATE journal_lines SET amount = amount + 100 WHERE entry_id = '${entry}' AND line_no = ${lineNo};
               UPDATE journal_lines SET amount = amount - 100 WHERE entry_id = '${entry2}' AND line_no = ${lineNo2}`,
      [new RegExp(`^VIOLATION payment-entries: payment ${id}: its entries do not match it`)]);
      corrupt(`UPDATE vouchers SET status = 'ACTIVE', payment_id = NULL WHERE id = '${voucherPay.voucherId}'`,
        `UPDATE vouchers SET status = 'USED', payment_id = '${id}' WHERE id = '${voucherPay.voucherId}'`,
        [new RegExp(`^VIOLATION payment-vouchers: payment ${id} is PAID with voucher ${voucherPay.voucherId}, but the voucher is 'ACTIVE'`)]);
      corrupt(`UPDATE payments SET refunded_amount = 100 WHERE id = '${id}'`, `UPDATE payments SET refunded_amount = 0 WHERE id = '${id}'`,
        [new RegExp(`^VIOLATION payment-amounts: payment ${id}: refunded_amount 100 but its refunds sum to 0`)]);
      assertVerifies(store, 'after restoring everything');
    });

    it('a store it cannot read: exit 2', () => {
      const r = verify({ url: 'postgres://mps@127.0.0.1:1/none?connect_timeout=2' });
      assert.equal(r.code, 2, r.stdout + r.stderr);
    });
  });
});
