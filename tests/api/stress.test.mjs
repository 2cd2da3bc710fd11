// tests/api/stress.test.mjs — concurrency stress on a few hot wallets, black-box:
//   - MPS_STRESS_CLIENTS (default 48) clients hammer 3 hot members of one merchant with a
//     bounded count (MPS_STRESS_OPS, default 900) of wallet payments, payments that need an
//     external part and their signed callbacks (SUCCEEDED / FAILED), late callbacks on final
//     payments (409), partial refunds of acknowledged payments that overshoot on purpose (422
//     when nothing is left; 409 on a payment that is not PAID), cash top-ups (some earn a
//     bonus), external top-ups by the member and their callbacks, the same request sent twice at once with one key (one operation, two identical
//     answers), and wallet reads (nothing ever below zero);
//   - then the hot-wallet overdraw attempt: 40 concurrent payments on one member whose sum is
//     twice what it has, while top-ups and refunds run on the others: the wallet parts add up
//     to exactly what was available, never more;
//   - at the end every member bucket (balance, held, available) from GET /api/wallet and from
//     the ledger (stored balances and Σ journal lines) equals the sum of the acknowledged
//     operations, so do the merchant's payable and marketing; the store holds exactly the
//     booked payments, top-ups, refunds and callbacks; every refused request left nothing
//     (no stored success under its key); `mpsctl verify` passes.
// A seeded PRNG drives the mix: MPS_STRESS_SEED reproduces it (the seed is printed).
//
// Run: node --test tests/api/stress.test.mjs  (MPS_BIN_DIR, MPS_TEST_STORE,
// MPS_TEST_PG_ADMIN_URL: see lib/server.mjs)
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  STORE, newStore, startOn, assertVerifies, call, newMerchant, newMember, idemKey, sql,
} from './lib/money.mjs';
import { BONUS_RULE, BOOKS_ENV as ENV, Books, checkBooks, makeRng, seedFrom, signedCallback } from './lib/books.mjs';

const CLIENTS = Number(process.env.MPS_STRESS_CLIENTS || 48);
const OPS = Number(process.env.MPS_STRESS_OPS || 900);
const SEED = seedFrom('MPS_STRESS_SEED');
const BUCKETS = ['principal', 'bonus', 'silver'];

const stores = [];
after(() => { for (const st of stores) st.drop(); });

describe(`concurrency stress on hot wallets (${STORE})`, () => {
  it(`${CLIENTS} clients, ${OPS} payments, refunds, top-ups and callbacks on 3 wallets: the books equal the ledger`, async () => {
    const t0 = Date.now();
    const rng = makeRng(SEED);
    const ctx = `(seed ${SEED}, MPS_STRESS_SEED reproduces the mix)`;
    console.log(`# stress: seed ${SEED}, ${CLIENTS} clients, ${OPS} operations, ${STORE}`);
    const st = newStore();
    stores.push(st);
    const s = await startOn(st, ENV);
    try {
      const m = await newMerchant(s.base);
      const rules = await call(s.base, 'PUT', `/api/merchants/${m.id}/topup-bonus-rules`, { token: m.owner, body: { rules: [BONUS_RULE] } });
      assert.equal(rules.status, 200, rules.text);
      const hot = [await newMember(s.base, m, 'Hot A'), await newMember(s.base, m, 'Hot B'), await newMember(s.base, m, 'Hot C')];
      const books = new Books(m.id);
      const post = (path, tok, body, key = idemKey()) => call(s.base, 'POST', path, { token: tok, body, headers: { 'Idempotency-Key': key } });
      const topupBody = (mem, amount) => ({ merchantId: m.id, userId: mem.id, amount, method: 'CASH' });
      for (const mem of hot) {
        const r = await post('/api/wallet/topup', m.owner, topupBody(mem, 20_000));
        assert.equal(r.status, 201, r.text);
        books.topup(r.json);
      }

      const paid = []; // PAID payments (refund targets): {id, order}
      const pending = []; // acknowledged PENDING_EXTERNAL payments (callback targets)
      const pendingTopups = []; // acknowledged external top-ups (callback targets)
      const final = []; // payments settled or failed by a callback (late-callback targets)
      const refused = []; // {kind, key, status}
      // refunds answered 200 for a payment whose callback answer this client has not read yet
      // (the callback committed first; its answer, on another connection, may come later)
      const lateRefunds = [];
      const counts = {};
      const count = (k) => { counts[k] = (counts[k] || 0) + 1; };
      let seq = 0;
      let minSeen = Infinity;
      const bookPayment = (j) => {
        books.payment(j);
        if (j.status === 'PAID') paid.push({ id: j.paymentTxnId, order: j.orderAmount });
        else pending.push(j);
      };
      const callback = async (body) => {
        const { raw, headers } = signedCallback(body);
        const r = await call(s.base, 'POST', '/api/payment/callback', { rawBody: raw, headers });
        books.callback(body.callbackId, r.status, r.text);
        return r;
      };

      const one = async () => {
        const x = rng.next();
        if (x < 0.05) { // a wallet read: nothing below zero, ever
          const mem = rng.pick(hot);
          const r = await call(s.base, 'GET', `/api/wallet?merchantId=${m.id}&userId=${mem.id}`, { token: mem.token });
          assert.equal(r.status, 200, r.text);
          for (const k of ['balance', 'held', 'available']) {
            for (const b of BUCKETS) {
              assert.ok(r.json[k][b] >= 0, `${k}.${b} below zero under load ${ctx}: ${r.text}`);
              minSeen = Math.min(minSeen, r.json[k][b]);
            }
          }
          count('read');
          return;
        }
        if (x < 0.07 && pendingTopups.length) { // the gateway's word on an external top-up
          const t = pendingTopups.splice(rng.int(0, pendingTopups.length - 1), 1)[0];
          const ok = rng.chance(0.75);
          const r = await callback({
            merchantId: m.id, paymentTxnId: t.topupId, externalTxnId: `ext_${SEED}_${++seq}`,
            status: ok ? 'SUCCEEDED' : 'FAILED', paidAmount: ok ? t.amount : 0, callbackId: `cb_${SEED}_${seq}`,
          });
          assert.equal(r.status, 200, `top-up callback ${ctx}: ${r.text}`);
          count(`topup callback ${r.json.outcome}`);
          return;
        }
        if (x < 0.15 && pending.length) { // the gateway's word on a pending payment
          const p = pending.splice(rng.int(0, pending.length - 1), 1)[0];
          const ok = rng.chance(0.75);
          const r = await callback({
            merchantId: m.id, paymentTxnId: p.paymentTxnId, externalTxnId: `ext_${SEED}_${++seq}`,
            status: ok ? 'SUCCEEDED' : 'FAILED', paidAmount: ok ? p.deduction.external : 0, callbackId: `cb_${SEED}_${seq}`,
          });
          assert.equal(r.status, 200, `callback ${ctx}: ${r.text}`);
          if (r.json.outcome === 'SETTLED') paid.push({ id: p.paymentTxnId, order: p.orderAmount });
          final.push(p);
          count(`callback ${r.json.outcome}`);
          return;
        }
        if (x < 0.18 && final.length) { // a late callback on a final payment: 409, recorded, nothing moves
          const p = rng.pick(final);
          const r = await callback({
            merchantId: m.id, paymentTxnId: p.paymentTxnId, externalTxnId: `ext_${SEED}_${++seq}`,
            status: 'SUCCEEDED', paidAmount: p.deduction.external, callbackId: `cb_${SEED}_${seq}`,
          });
          assert.equal(r.status, 409, `late callback ${ctx}: ${r.text}`);
          assert.equal(r.json.error.code, 'CONFLICT');
          count('callback late 409');
          return;
        }
        if (x < 0.36 && paid.length) { // a partial refund, overshooting on purpose now and then
          const p = rng.pick(paid);
          const key = idemKey();
          const amount = rng.int(1, Math.max(1, Math.ceil(p.order * 0.6)));
          const r = await post('/api/payment/refund', m.owner, { merchantId: m.id, paymentTxnId: p.id, refundAmount: amount }, key);
          if (r.status === 200) {
            books.refund(r.json);
            count('refund');
          } else {
            assert.equal(r.status, 422, `refund ${ctx}: ${r.text}`);
            assert.equal(r.json.error.code, 'UNPROCESSABLE', r.text);
            assert.equal(r.json.error.details.field, 'refundAmount', r.text);
            refused.push({ kind: 'refund', key, status: r.status });
            count('refund 422');
          }
          return;
        }
        if (x < 0.39 && pending.length) { // a refund of a payment that is not PAID (yet): 409
          const p = rng.pick(pending);
          const key = idemKey();
          const r = await post('/api/payment/refund', m.owner, { merchantId: m.id, paymentTxnId: p.paymentTxnId, refundAmount: 1 }, key);
          if (r.status === 200) { // its callback won the race
            if (books.payments.get(r.json.paymentTxnId)?.status === 'PAID') books.refund(r.json);
            else lateRefunds.push(r.json); // booked once every answer is in
            count('refund');
          } else {
            assert.equal(r.status, 409, `refund of a pending payment ${ctx}: ${r.text}`);
            refused.push({ kind: 'refund', key, status: r.status });
            count('refund 409');
          }
          return;
        }
        if (x < 0.55) { // a cash top-up
          const mem = rng.pick(hot);
          const amount = rng.chance(0.3) ? rng.int(BONUS_RULE.minAmount, 7_000) : rng.int(200, 3_000);
          const body = topupBody(mem, amount);
          if (rng.chance(0.1)) { // the same request twice at once with one key
            const key = idemKey();
            const [a, b] = await Promise.all([post('/api/wallet/topup', m.owner, body, key), post('/api/wallet/topup', m.owner, body, key)]);
            assert.equal(a.status, 201, a.text);
            assert.equal(b.status, 201, b.text);
            assert.equal(a.text, b.text, `two answers for one key ${ctx}`);
            assert.equal([a, b].filter((r) => r.headers.get('idempotent-replayed') === 'true').length, 1);
            books.topup(a.json);
            count('topup twice');
            return;
          }
          if (rng.chance(0.15)) { // an external top-up by the member: credited by its callback
            const r = await post('/api/wallet/topup', mem.token, { ...body, method: 'EXTERNAL' });
            assert.equal(r.status, 202, `external top-up ${ctx}: ${r.text}`);
            books.topup(r.json);
            pendingTopups.push(r.json);
            count('topup external');
            return;
          }
          const r = await post('/api/wallet/topup', m.owner, body);
          assert.equal(r.status, 201, `top-up ${ctx}: ${r.text}`);
          books.topup(r.json);
          count('topup');
          return;
        }
        // a payment: mostly small ones from the wallet, some larger than any hot wallet
        const mem = rng.pick(hot);
        const big = x >= 0.88;
        const body = { merchantId: m.id, userId: mem.id, orderAmount: big ? rng.int(8_000, 30_000) : rng.int(100, 1_500) };
        if (rng.chance(0.08)) {
          const key = idemKey();
          const [a, b] = await Promise.all([
            post('/api/payment/verify', mem.token, body, key), post('/api/payment/verify', mem.token, body, key),
          ]);
          assert.ok(a.status === 200 || a.status === 202, a.text);
          assert.equal(b.status, a.status, b.text);
          assert.equal(a.text, b.text, `two answers for one key ${ctx}`);
          assert.equal([a, b].filter((r) => r.headers.get('idempotent-replayed') === 'true').length, 1);
          bookPayment(a.json);
          count('pay twice');
          return;
        }
        const r = await post('/api/payment/verify', mem.token, body);
        assert.ok(r.status === 200 || r.status === 202, `payment ${ctx}: ${r.text}`);
        bookPayment(r.json);
        count(big ? 'pay big' : 'pay');
      };

      let issued = 0;
      await Promise.all(Array.from({ length: CLIENTS }, async () => {
        while (issued < OPS) {
          issued++;
          await one();
        }
      }));
      for (const j of lateRefunds) books.refund(j); // the callback's answer must be booked by now
      await checkBooks({ base: s.base, store: st, books, members: hot, ownerToken: m.owner, what: `after the mixed load ${ctx}` });

      // the overdraw attempt: 40 concurrent payments on hot[0] adding up to twice its
      // available money, while top-ups go to hot[1] and refunds run on hot[2]'s payments
      const victim = hot[0];
      const refill = await post('/api/wallet/topup', m.owner, topupBody(victim, 10_000));
      assert.equal(refill.status, 201, refill.text);
      books.topup(refill.json);
      const before = books.member(victim.id).available;
      const have = before.principal + before.bonus + before.silver;
      assert.ok(have > 0, `hot[0] has money left: ${JSON.stringify(before)}`);
      const each = Math.ceil((2 * have) / 40);
      const noise = [];
      for (let i = 0; i < 10; i++) noise.push(post('/api/wallet/topup', m.owner, topupBody(hot[1], 300)).then((r) => { assert.equal(r.status, 201, r.text); books.topup(r.json); }));
      const theirs = paid.filter((p) => books.payments.get(p.id).json.userId === hot[2].id).slice(0, 10);
      for (const p of theirs) {
        const key = idemKey();
        noise.push(post('/api/payment/refund', m.owner, { merchantId: m.id, paymentTxnId: p.id, refundAmount: 1 }, key).then((r) => {
          if (r.status === 200) books.refund(r.json);
          else { assert.equal(r.status, 422, r.text); refused.push({ kind: 'refund', key, status: 422 }); }
        }));
      }
      const rush = await Promise.all([
        ...Array.from({ length: 40 }, () => post('/api/payment/verify', victim.token, { merchantId: m.id, userId: victim.id, orderAmount: each })),
        ...noise,
      ]);
      let took = 0;
      let paidCount = 0;
      for (const r of rush.slice(0, 40)) {
        assert.ok(r.status === 200 || r.status === 202, r.text);
        bookPayment(r.json);
        const d = r.json.deduction;
        took += d.bonus + d.principal + d.silver;
        if (r.json.status === 'PAID') paidCount++;
      }
      assert.equal(took, have, `the 40 payments took exactly what hot[0] had (${have}), never more ${ctx}`);
      assert.equal(paidCount, Math.floor(have / each), `only what the wallet covers is PAID ${ctx}`);
      const after = books.member(victim.id).available;
      assert.deepEqual(after, { principal: 0, bonus: 0, silver: 0 }, 'nothing left to spend');

      const want = await checkBooks({ base: s.base, store: st, books, members: hot, ownerToken: m.owner, what: `after the overdraw attempt ${ctx}` });
      assert.ok(minSeen >= 0);

      // refused requests changed nothing: no stored success under their keys (and the books
      // above, which count acknowledged operations only, agree with the ledger)
      if (refused.length) {
        const keys = refused.map((r) => `'${r.key}'`).join(',');
        const stored = sql(st, `SELECT idem_key, response_status FROM idempotency_keys WHERE idem_key IN (${keys})`);
        for (const [k, status] of stored) {
          assert.ok(Number(status) >= 400, `refused key ${k} stored a success (${status})`);
        }
      }
      assertVerifies(st, `after the stress ${ctx}`);
      const r = await s.stop();
      assert.equal(r.code, 0, r.stderr);
      console.log(`# stress summary: seed ${SEED}, ${JSON.stringify(counts)}, refused ${refused.length}; ` +
        `booked ${books.payments.size} payments, ${books.topups.size} top-ups, ${books.refunds.size} refunds, ${books.callbacks.size} callbacks; ` +
        `overdraw: 40 × ${each} on ${have} -> ${paidCount} PAID; final ${JSON.stringify(Object.values(want).map((w) => w.balance))}; ${Date.now() - t0} ms`);
    } finally {
      if (!s.exited) await s.stop();
    }
  });
});
