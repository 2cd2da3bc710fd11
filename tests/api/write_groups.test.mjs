// Write groups (D62): on PostgreSQL a write connection runs queued wallet payments of
// different members in one transaction, every prefetch first, then every payment, then one
// COMMIT; a payment refused inside a group runs again alone and the others again as a group. Many
// members paying at once through a pool of two connections (so groups form), a few with a till
// that does not exist (refused inside a group), then the same requests again under their keys:
// every payment lands exactly once, every member's wallet went down by exactly what its PAID
// answers say, its transaction list holds exactly those payments, a replay answers what the
// first answer said, and `mpsctl verify` (the ledger, the audit chains) is clean. On PostgreSQL
// the server reports that groups formed, that a refused payment's group ran again, and that
// most groups committed as groups.
//
// Run: node --test tests/api/write_groups.test.mjs  (MPS_BIN_DIR, MPS_TEST_STORE,
// MPS_TEST_PG_ADMIN_URL: see lib/server.mjs)
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  STORE, newStore, startOn, assertVerifies, call, newMerchant, newMember, topup, idemKey, pageAll,
} from './lib/money.mjs';

const MEMBERS = 24;
const EACH = 6; // payments a member sends at once
const REFUSED_EVERY = 6; // every sixth member's third payment goes to a till that does not exist
const FUNDS = 10_000;

const stores = [];
after(() => { for (const st of stores) st.drop(); });

async function counter(base, name) {
  const text = await (await fetch(`${base}/metrics`)).text();
  const m = text.match(new RegExp(`^${name} (\\d+)$`, 'm'));
  assert.ok(m, `${name} in /metrics`);
  return Number(m[1]);
}

describe(`write groups (${STORE})`, () => {
  it(`${MEMBERS} members paying ${EACH} times at once: each payment once, refusals alone, replays equal`, async () => {
    const st = newStore();
    stores.push(st);
    const s = await startOn(st, { MPS_DB_POOL_SIZE: '2' });
    try {
      const m = await newMerchant(s.base);
      const members = [];
      for (let i = 0; i < MEMBERS; i++) {
        const mem = await newMember(s.base, m, `Payer ${i}`);
        await topup(s.base, m, mem, FUNDS);
        members.push(mem);
      }
      const groups0 = await counter(s.base, 'mps_store_write_groups_total');
      const reruns0 = await counter(s.base, 'mps_store_group_reruns_total');
      const sent = [];
      for (let j = 0; j < EACH; j++) {
        for (const [i, mem] of members.entries()) {
          const body = { merchantId: m.id, userId: mem.id, orderAmount: 100 + ((i * 37 + j * 11) % 9) * 100 };
          if (j === 2 && i % REFUSED_EVERY === 0) body.storeId = 'st_nothere';
          sent.push({ mem, body, key: idemKey() });
        }
      }
      const pay = (p) => call(s.base, 'POST', '/api/payment/verify', { token: p.mem.token, body: p.body, headers: { 'Idempotency-Key': p.key } });
      const answers = await Promise.all(sent.map(pay));
      const paid = new Map(members.map((mem) => [mem.id, []]));
      for (const [n, r] of answers.entries()) {
        const p = sent[n];
        if (p.body.storeId) {
          assert.equal(r.status, 422, r.text);
          assert.equal(r.json.error.code, 'UNPROCESSABLE', r.text);
          continue;
        }
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.status, 'PAID', r.text);
        assert.equal(r.json.userId, p.mem.id, r.text);
        assert.equal(r.json.orderAmount, p.body.orderAmount, r.text);
        assert.equal(r.json.deduction.principal, p.body.orderAmount, r.text);
        paid.get(p.mem.id).push(r.json.paymentTxnId);
      }
      const ids = [...paid.values()].flat();
      assert.equal(new Set(ids).size, ids.length, 'every payment has an id of its own');
      assert.equal(ids.length, MEMBERS * EACH - Math.ceil(MEMBERS / REFUSED_EVERY));
      for (const mem of members) {
        const spent = answers.filter((r, n) => sent[n].mem === mem && r.status === 200).reduce((a, r) => a + r.json.orderAmount, 0);
        const w = await call(s.base, 'GET', `/api/wallet?merchantId=${m.id}&userId=${mem.id}`, { token: mem.token });
        assert.equal(w.status, 200, w.text);
        assert.deepEqual(w.json.balance, { principal: FUNDS - spent, bonus: 0, silver: 0 }, `member ${mem.id}`);
        const listed = await pageAll(s.base, `/api/merchants/${m.id}/transactions?userId=${mem.id}`, m.owner);
        assert.deepEqual(listed.map((t) => t.paymentTxnId).sort(), [...paid.get(mem.id)].sort(), `member ${mem.id}'s payments`);
      }
      if (STORE === 'postgres') {
        const groups = await counter(s.base, 'mps_store_write_groups_total') - groups0;
        const reruns = await counter(s.base, 'mps_store_group_reruns_total') - reruns0;
        assert.ok(reruns > 0, 'a group with a refusal ran again alone');
        // groups that committed as groups (a stale audit chain head would make every group's
        // COMMIT fail on the chain's unique sequence, and every group run again)
        assert.ok(groups > reruns, `${groups} write groups, ${reruns} of them run again`);
      }
      // the same requests again under their keys: the first answers, nothing paid twice
      const again = await Promise.all(sent.map(pay));
      for (const [n, r] of again.entries()) {
        assert.equal(r.status, answers[n].status, r.text);
        if (r.status === 200) assert.equal(r.json.paymentTxnId, answers[n].json.paymentTxnId);
      }
      for (const mem of members.slice(0, 3)) {
        const listed = await pageAll(s.base, `/api/merchants/${m.id}/transactions?userId=${mem.id}`, m.owner);
        assert.equal(listed.length, paid.get(mem.id).length, 'a replay adds no payment');
      }
      assertVerifies(st, 'after the write groups');
      const r = await s.stop();
      assert.equal(r.code, 0, r.stderr);
    } finally {
      if (!s.exited) await s.stop();
    }
  });
});
