// tests/api/concurrency.test.mjs — money under concurrency, black-box:
//   - 50 concurrent payments against one wallet never overdraw it (each is PAID or
//     PENDING_EXTERNAL, the wallet parts add up to at most what was there, the books agree);
//   - 20 concurrent replays of one Idempotency-Key make exactly one payment with identical
//     bodies; the same key with another body is 422;
//   - grants, top-ups, voucher payments and refunds at one merchant at once: no deadlock.
// kill -9 under load is in crash.test.mjs; many clients on a few hot wallets with payments,
// refunds, top-ups and callbacks (the books against the ledger) in stress.test.mjs.
//
// Run: node --test tests/api/concurrency.test.mjs  (MPS_BIN_DIR, MPS_TEST_STORE,
// MPS_TEST_PG_ADMIN_URL: see lib/server.mjs).
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { expectEnvelope } from './lib/server.mjs';
import {
  STORE, newStore, startOn, assertVerifies, call, newMerchant, newMember, topup, pay, wallet, pageAll, walletPart,
  idemKey, sql,
} from './lib/money.mjs';

const stores = [];
after(() => { for (const st of stores) st.drop(); });

function store() {
  const st = newStore();
  stores.push(st);
  return st;
}

describe(`money under concurrency (${STORE})`, () => {
  it('50 concurrent payments against one wallet never overdraw it', async () => {
    const st = store();
    const s = await startOn(st);
    try {
      const m = await newMerchant(s.base);
      const mem = await newMember(s.base, m);
      await topup(s.base, m, mem, 10_000);
      const before = await wallet(s.base, m, mem);
      assert.equal(before.available.principal, 10_000);
      const results = await Promise.all(Array.from({ length: 50 }, () => pay(s.base, m, mem, 300)));
      const payments = [];
      for (const r of results) {
        assert.ok(r.status === 200 || r.status === 202, `status ${r.status}: ${r.text}`);
        assert.equal(r.json.status, r.status === 200 ? 'PAID' : 'PENDING_EXTERNAL', r.text);
        const d = r.json.deduction;
        assert.equal(d.voucher + d.bonus + d.principal + d.silver + d.external, 300);
        payments.push(r.json);
      }
      assert.equal(new Set(payments.map((p) => p.paymentTxnId)).size, 50, 'fifty distinct payments');
      const taken = payments.reduce((n, p) => n + walletPart(p), 0);
      const posted = payments.filter((p) => p.status === 'PAID').reduce((n, p) => n + walletPart(p), 0);
      const held = payments.filter((p) => p.status !== 'PAID').reduce((n, p) => n + walletPart(p), 0);
      assert.equal(taken, 10_000, 'the wallet covers 33 payments and a part of the 34th, never more');
      assert.equal(payments.filter((p) => p.status === 'PAID').length, 33);
      const w = await wallet(s.base, m, mem);
      assert.equal(w.balance.principal, 10_000 - posted);
      assert.equal(w.held.principal, held);
      assert.equal(w.available.principal, 10_000 - taken);
      assert.ok(w.available.principal >= 0);
      const listed = await pageAll(s.base, `/api/merchants/${m.id}/transactions?userId=${mem.id}`, m.owner);
      assert.equal(listed.length, 50);
      const r = await s.stop();
      assert.equal(r.code, 0, r.stderr);
      assertVerifies(st, 'after 50 concurrent payments');
    } finally {
      if (!s.exited) await s.stop();
    }
  });

  it('concurrent payments of one merchant do not share a row: PostgreSQL posts its payable into several lanes and the money audit into lane chains (D30)', async () => {
    const st = store();
    const s = await startOn(st);
    try {
      const m = await newMerchant(s.base);
      const members = [];
      for (let i = 0; i < 8; i++) {
        const mem = await newMember(s.base, m, `Lane ${i}`);
        await topup(s.base, m, mem, 100_000);
        members.push(mem);
      }
      const results = await Promise.all(Array.from({ length: 64 }, (_, i) => pay(s.base, m, members[i % 8], 700)));
      for (const r of results) assert.equal(r.status, 200, r.text);
      const r = await s.stop();
      assert.equal(r.code, 0, r.stderr);
      const lanes = sql(st, `SELECT l.lane, l.balance FROM ledger_account_lanes l JOIN ledger_accounts a ON a.id = l.account_id
                             WHERE a.owner_id = '${m.id}' AND a.kind = 'payable'`);
      const chains = sql(st, `SELECT chain, COUNT(*) FROM audit_log WHERE merchant_id = '${m.id}' AND action = 'PAYMENT' GROUP BY chain`);
      const audited = chains.reduce((n, [, c]) => n + Number(c), 0);
      assert.equal(audited, 64, 'every payment audited once');
      if (STORE === 'postgres') {
        assert.ok(lanes.length >= 2, `the payable posted into ${lanes.length} lane(s): ${JSON.stringify(lanes)}`);
        const inLanes = lanes.reduce((n, [, b]) => n + Number(b), 0);
        const fees = results.reduce((n, x) => n + x.json.feeAmount, 0);
        assert.ok(fees > 0, 'the platform fee is on (MPS_PLATFORM_FEE_BPS)');
        assert.equal(inLanes, 64 * 700 - fees, 'the lanes hold what the payments credited, less their fees');
        assert.ok(chains.length >= 2 && chains.every(([c]) => c === m.id || c.startsWith(`${m.id}#`)), JSON.stringify(chains));
      } else {
        assert.deepEqual(lanes, [], 'SQLite never writes lanes');
        assert.deepEqual(chains.map(([c]) => c), [m.id]);
      }
      assertVerifies(st, 'after the payments of one merchant');
    } finally {
      if (!s.exited) await s.stop();
    }
  });

  it('20 concurrent replays of one Idempotency-Key produce exactly one payment and identical responses', async () => {
    const st = store();
    const s = await startOn(st);
    try {
      const m = await newMerchant(s.base);
      const mem = await newMember(s.base, m);
      await topup(s.base, m, mem, 5_000);
      const key = idemKey();
      const results = await Promise.all(Array.from({ length: 20 }, () => pay(s.base, m, mem, 1_234, key)));
      for (const r of results) assert.equal(r.status, 200, r.text);
      const bodies = new Set(results.map((r) => r.text));
      assert.equal(bodies.size, 1, `bodies differ:\n${[...bodies].join('\n')}`);
      const replayed = results.filter((r) => r.headers.get('idempotent-replayed') === 'true').length;
      assert.equal(replayed, 19, 'one original, nineteen replays');
      const listed = await pageAll(s.base, `/api/merchants/${m.id}/transactions`, m.owner);
      assert.equal(listed.length, 1);
      assert.equal(listed[0].paymentTxnId, results[0].json.paymentTxnId);
      const w = await wallet(s.base, m, mem);
      assert.equal(w.balance.principal, 5_000 - 1_234, 'debited once');

      // the same key with another body: 422, nothing written
      const other = await pay(s.base, m, mem, 1_235, key);
      await expectEnvelope({ status: other.status, headers: other.headers, text: async () => other.text }, 422, 'UNPROCESSABLE');
      const again = await pay(s.base, m, mem, 1_234, key);
      assert.equal(again.status, 200);
      assert.equal(again.text, results[0].text, 'the original body, byte for byte');
      assert.equal((await pageAll(s.base, `/api/merchants/${m.id}/transactions`, m.owner)).length, 1);
      assert.equal((await wallet(s.base, m, mem)).balance.principal, 5_000 - 1_234);
      const r = await s.stop();
      assert.equal(r.code, 0, r.stderr);
      assertVerifies(st, 'after replays');
    } finally {
      if (!s.exited) await s.stop();
    }
  });

  it('the same key with a different body is refused with 422, also concurrently', async () => {
    const st = store();
    const s = await startOn(st);
    try {
      const m = await newMerchant(s.base);
      const mem = await newMember(s.base, m);
      await topup(s.base, m, mem, 5_000);
      const key = idemKey();
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => pay(s.base, m, mem, 100 + (i % 2), key)));
      const ok = results.filter((r) => r.status === 200);
      const refused = results.filter((r) => r.status === 422);
      assert.equal(ok.length + refused.length, 10, results.map((r) => `${r.status} ${r.text}`).join('\n'));
      assert.ok(ok.length >= 1 && refused.length >= 1);
      assert.equal(new Set(ok.map((r) => r.text)).size, 1, 'every success is the one payment');
      const amount = ok[0].json.orderAmount;
      assert.ok(ok.every((r, i) => r.json.orderAmount === amount), `successes all for one body (${amount})`);
      for (const r of refused) assert.equal(r.json.error.code, 'UNPROCESSABLE');
      assert.equal((await pageAll(s.base, `/api/merchants/${m.id}/transactions`, m.owner)).length, 1);
      assert.equal((await wallet(s.base, m, mem)).balance.principal, 5_000 - amount);
      const r = await s.stop();
      assert.equal(r.code, 0, r.stderr);
      assertVerifies(st);
    } finally {
      if (!s.exited) await s.stop();
    }
  });

  it('grants, top-ups, voucher payments and refunds at one merchant at once: no deadlock, nothing refused', async () => {
    // On PostgreSQL these used to take row locks in opposite orders (a grant: marketing, then
    // the member's bucket; a voucher payment: the member's buckets, then marketing; a refund:
    // payable, then marketing; a voucher payment: marketing, then payable) and deadlocked:
    // retried, slow, and after three retries a 503.
    const st = store();
    const s = await startOn(st);
    try {
      const m = await newMerchant(s.base);
      const a = await newMember(s.base, m, 'A');
      const b = await newMember(s.base, m, 'B');
      await topup(s.base, m, a, 50_000);
      await topup(s.base, m, b, 50_000);
      await call(s.base, 'POST', '/api/merchant/grants', {
        token: m.owner, headers: { 'Idempotency-Key': idemKey() }, body: { merchantId: m.id, userId: a.id, type: 'BONUS', amount: 3_000 },
      });
      const toRefund = [];
      for (let i = 0; i < 20; i++) {
        const r = await pay(s.base, m, a, 200); // the first 15 consume bonus: their refunds claw it back
        assert.equal(r.status, 200, r.text);
        toRefund.push(r.json);
      }
      for (let i = 0; i < 20; i++) {
        const r = await call(s.base, 'POST', '/api/merchant/grants', {
          token: m.owner, headers: { 'Idempotency-Key': idemKey() }, body: { merchantId: m.id, userId: b.id, type: 'VOUCHER', value: 10 },
        });
        assert.equal(r.status, 201, r.text);
      }
      const post = (urlPath, body) => call(s.base, 'POST', urlPath, { token: m.owner, headers: { 'Idempotency-Key': idemKey() }, body });
      const jobs = [];
      for (let i = 0; i < 20; i++) {
        jobs.push(pay(s.base, m, b, 100));
        jobs.push(post('/api/merchant/grants', { merchantId: m.id, userId: b.id, type: 'BONUS', amount: 5 }));
        jobs.push(post('/api/wallet/topup', { merchantId: m.id, userId: b.id, amount: 50, method: 'CASH' }));
        jobs.push(post('/api/payment/refund', { merchantId: m.id, paymentTxnId: toRefund[i].paymentTxnId, refundAmount: 200 }));
      }
      const results = await Promise.all(jobs);
      const bad = results.filter((r) => r.status >= 300).map((r) => `${r.status} ${r.text.slice(0, 200)}`);
      assert.deepEqual(bad, [], 'every request succeeds');
      const r = await s.stop();
      assert.equal(r.code, 0, r.stderr);
      assertVerifies(st, 'after the mixed load');
    } finally {
      if (!s.exited) await s.stop();
    }
  });
});
