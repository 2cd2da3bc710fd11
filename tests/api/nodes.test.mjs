// Two mpsd nodes on one PostgreSQL database (operations.md: several nodes may share one
// database behind a load balancer). Each node's pool connections claim lanes no other session
// holds (D66), so the rows keyed by lane (a hot account's balance share, a merchant's audit
// chain head) are never shared between nodes: shared, two nodes' transactions took them in
// opposite orders and deadlocked, a second's stall each. Members pay through both nodes at
// once, the same member on both; afterwards every payment landed once, the wallets and the
// transaction lists say so, each request asked again on the other node under its key answers
// what the first answer said, PostgreSQL counted no deadlock, and `mpsctl verify` is clean.
//
// Run: node --test tests/api/nodes.test.mjs  (MPS_BIN_DIR, MPS_TEST_STORE=postgres,
// MPS_TEST_PG_ADMIN_URL: see lib/server.mjs; on SQLite it is skipped)
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  STORE, newStore, startOn, assertVerifies, call, newMerchant, newMember, topup, idemKey, pageAll, sql,
} from './lib/money.mjs';

const POOL = 2;
const MEMBERS = 16;
const EACH = 8; // payments a member sends at once, half to each node
const FUNDS = 50_000;
const LANE_LOCKS = "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND classid = 1836086124 " +
  'AND objsubid = 2 AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) ' +
  'ORDER BY objid';

const stores = [];
after(() => { for (const st of stores) st.drop(); });

describe('two mpsd nodes on one database', { skip: STORE !== 'postgres' && 'PostgreSQL only' }, () => {
  it(`${MEMBERS} members paying ${EACH} times at once through both: own lanes, each payment once, no deadlock`, async () => {
    const st = newStore();
    stores.push(st);
    const nodes = [];
    try {
      for (let i = 0; i < 2; i++) nodes.push(await startOn(st, { MPS_DB_POOL_SIZE: String(POOL) }));
      const lanes = sql(st, LANE_LOCKS).map((r) => Number(r[0]));
      assert.equal(lanes.length, 2 * POOL, `lane locks held: ${lanes}`);
      assert.equal(new Set(lanes).size, lanes.length, `two sessions share a lane: ${lanes}`);

      const [a, b] = nodes;
      const m = await newMerchant(a.base);
      const members = [];
      for (let i = 0; i < MEMBERS; i++) {
        const mem = await newMember(a.base, m, `Payer ${i}`);
        await topup(b.base, m, mem, FUNDS);
        members.push(mem);
      }
      const sent = [];
      for (let j = 0; j < EACH; j++) {
        for (const [i, mem] of members.entries()) {
          const body = { merchantId: m.id, userId: mem.id, orderAmount: 100 + ((i * 31 + j * 7) % 11) * 100 };
          sent.push({ mem, body, key: idemKey(), node: (i + j) % 2 });
        }
      }
      const pay = (p, node) => call(nodes[node].base, 'POST', '/api/payment/verify',
        { token: p.mem.token, body: p.body, headers: { 'Idempotency-Key': p.key } });
      const answers = await Promise.all(sent.map((p) => pay(p, p.node)));
      const paid = new Map(members.map((mem) => [mem.id, []]));
      for (const [n, r] of answers.entries()) {
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.status, 'PAID', r.text);
        assert.equal(r.json.orderAmount, sent[n].body.orderAmount, r.text);
        paid.get(sent[n].mem.id).push(r.json.paymentTxnId);
      }
      const ids = [...paid.values()].flat();
      assert.equal(new Set(ids).size, MEMBERS * EACH, 'every payment has an id of its own');
      for (const mem of members) {
        const spent = answers.filter((r, n) => sent[n].mem === mem).reduce((s, r) => s + r.json.orderAmount, 0);
        const w = await call(a.base, 'GET', `/api/wallet?merchantId=${m.id}&userId=${mem.id}`, { token: mem.token });
        assert.equal(w.status, 200, w.text);
        assert.deepEqual(w.json.balance, { principal: FUNDS - spent, bonus: 0, silver: 0 }, `member ${mem.id}`);
        const listed = await pageAll(b.base, `/api/merchants/${m.id}/transactions?userId=${mem.id}`, m.owner);
        assert.deepEqual(listed.map((t) => t.paymentTxnId).sort(), [...paid.get(mem.id)].sort(), `member ${mem.id}'s payments`);
      }
      // each request again, on the other node: the first answer, nothing paid twice
      const again = await Promise.all(sent.map((p) => pay(p, 1 - p.node)));
      for (const [n, r] of again.entries()) {
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.paymentTxnId, answers[n].json.paymentTxnId, r.text);
      }
      const [[deadlocks]] = sql(st, 'SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()');
      assert.equal(Number(deadlocks), 0, 'PostgreSQL detected a deadlock between the nodes');
      for (const s of nodes.splice(0)) {
        const r = await s.stop();
        assert.equal(r.code, 0, r.stderr);
      }
      assertVerifies(st, 'after two nodes');
    } finally {
      for (const s of nodes) if (!s.exited) await s.stop();
    }
  });
});
