// tests/api/crash.test.mjs — crash safety, black-box: on one store that outlives its servers,
// K times (MPS_CRASH_KILLS, default 3; scripts/crash-test.sh runs the long form):
//   - start mpsd and run a concurrent money load: wallet payments, payments that need an
//     external part (PENDING_EXTERNAL) and their signed gateway callbacks (SUCCEEDED or
//     FAILED), cash top-ups (some earn a top-up bonus), external top-ups and their callbacks,
//     and partial refunds of acknowledged PAID payments, every request with its own Idempotency-Key (callbacks: callbackId);
//   - SIGKILL mpsd at a random moment: after a random count of acknowledged requests (plus
//     0-3 ms) or after a random delay; record which requests were acknowledged and which
//     went unanswered; `mpsctl verify` on the crashed store;
//   - restart on the same store; every acknowledged request, sent again with its key, is
//     replayed byte for byte (status, body, Idempotent-Replayed: true); every unanswered one,
//     retried with its key, succeeds exactly once (a replay when it had committed before the
//     kill: "committed but unanswered");
//   - on SQLite, once more with a full disk instead of a kill: mpsd restarted with a file-size
//     limit a little above its store's largest file (RLIMIT_FSIZE, which fails a write as a
//     full disk does), the load until mpsd stops itself with `store: fatal: ...` (SIGABRT),
//     503 answers counted as unanswered; then the same restart and checks (D57);
//   - the books: every payment, top-up, refund and callback in the store is one the client
//     booked (nothing lost, nothing doubled, statuses and refunded amounts as acknowledged);
//     each member bucket (balance, held, available) from GET /api/wallet and from the ledger
//     equals its top-ups − payments + refunds − clawbacks over the acknowledged and the
//     retried operations; the merchant's payable and marketing too; `mpsctl verify` passes
//     against the live store.
// Seeded PRNGs drive the load and the kill moments: the seed is printed; MPS_CRASH_SEED
// reproduces the kill schedule and the stream of operations (which request is in flight at
// the kill still depends on timing). MPS_CRASH_CONCURRENCY sets the clients (default 16).
//
// Run: node --test tests/api/crash.test.mjs  (MPS_BIN_DIR, MPS_TEST_STORE,
// MPS_TEST_PG_ADMIN_URL: see lib/server.mjs); scripts/crash-test.sh --kills 25 --store both.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  STORE, newStore, startOn, assertVerifies, call, newMerchant, newMember, idemKey,
} from './lib/money.mjs';
import { BONUS_RULE, BOOKS_ENV as ENV, Books, checkBooks, makeRng, seedFrom, signedCallback } from './lib/books.mjs';
import { sleep } from './lib/server.mjs';
import { existsSync, statSync } from 'node:fs';

const KILLS = Number(process.env.MPS_CRASH_KILLS || 3);
const CONCURRENCY = Number(process.env.MPS_CRASH_CONCURRENCY || 16);
const SEED = seedFrom('MPS_CRASH_SEED');
// SQLite: the WAL starts over every 64 pages (D48) instead of 16,384, so that kills also land
// while the writer checkpoints and starts it over.
const CRASH_ENV = { ...ENV, MPS_DB_WAL_FRAMES: '64' };
// The full-disk round (SQLite): how far past its largest file the store may still grow.
const DISK_HEADROOM = 256 * 1024;

const stores = [];
after(() => { for (const st of stores) st.drop(); });

/** Send one request of the load; {status, text, json, replayed}. Throws when unanswered. */
async function send(base, op) {
  const r = op.kind === 'callback'
    ? await call(base, 'POST', '/api/payment/callback', { rawBody: op.raw, headers: op.headers })
    : await call(base, 'POST', op.path, { token: op.token, body: op.body, headers: { 'Idempotency-Key': op.key } });
  return { status: r.status, text: r.text, json: r.json, replayed: r.headers.get('idempotent-replayed') === 'true' };
}

const OK = { pay: [200, 202], topup: [201, 202], refund: [200], callback: [200] };
/** fetch's failures when the server is gone: refused or reset before or during the answer. */
const networkError = (e) => e instanceof TypeError && /^(fetch failed|terminated)$/.test(e.message);

describe(`crash safety: SIGKILL under a money load (${STORE})`, () => {
  it(`${KILLS} kills at random moments: acknowledged exactly once, retries exactly once, books and verify agree`, async () => {
    const t0 = Date.now();
    const rng = makeRng(SEED); // the operations
    const killRng = makeRng(SEED ^ 0x9e3779b9); // the kill moments: reproduced exactly by the seed
    console.log(`# crash: seed ${SEED} (MPS_CRASH_SEED=${SEED} reproduces), ${KILLS} kills, ${CONCURRENCY} clients, ${STORE}`);
    const st = newStore();
    stores.push(st);
    let s = await startOn(st, CRASH_ENV);
    const ctx = `(seed ${SEED})`;
    const stats = { kills: 0, diskFull: 0, requests: 0, acked: 0, unanswered: 0, retried: 0, committedUnanswered: 0, replayed: 0 };
    try {
      const m = await newMerchant(s.base);
      const rules = await call(s.base, 'PUT', `/api/merchants/${m.id}/topup-bonus-rules`, { token: m.owner, body: { rules: [BONUS_RULE] } });
      assert.equal(rules.status, 200, rules.text);
      const rich = [await newMember(s.base, m, 'Rich A'), await newMember(s.base, m, 'Rich B')];
      const poor = [await newMember(s.base, m, 'Poor A'), await newMember(s.base, m, 'Poor B')];
      const members = [...rich, ...poor];
      const books = new Books(m.id);
      for (const [mem, amount] of [[rich[0], 2_000_000], [rich[1], 2_000_000], [poor[0], 3_000], [poor[1], 3_000]]) {
        const r = await call(s.base, 'POST', '/api/wallet/topup', {
          token: m.owner, headers: { 'Idempotency-Key': idemKey() }, body: { merchantId: m.id, userId: mem.id, amount, method: 'CASH' },
        });
        assert.equal(r.status, 201, r.text);
        books.topup(r.json);
      }

      // what the load may do next: refunds need an acknowledged PAID payment (with something
      // left that no other refund has reserved), callbacks an acknowledged pending payment
      const refundable = []; // {id, order, reserved}
      const pending = []; // payments and external top-ups waiting for their callback (json)
      let seq = 0;
      const book = (op, res) => {
        if (op.kind === 'pay') {
          books.payment(res.json);
          if (res.json.status === 'PAID') refundable.push({ id: res.json.paymentTxnId, order: res.json.orderAmount, reserved: 0 });
          else pending.push(res.json);
        } else if (op.kind === 'topup') {
          books.topup(res.json);
          if (res.json.status === 'PENDING_EXTERNAL') pending.push(res.json);
        } else if (op.kind === 'refund') {
          books.refund(res.json);
        } else {
          books.callback(op.callbackId, res.status, res.text);
          if (res.json.outcome === 'SETTLED' && res.json.payment) refundable.push({ id: res.json.payment.paymentTxnId, order: res.json.payment.orderAmount, reserved: 0 });
        }
      };
      const nextOp = () => {
        const x = rng.next();
        if (x < 0.12 && pending.length) {
          const p = pending.splice(rng.int(0, pending.length - 1), 1)[0];
          const ok = rng.chance(0.8);
          const callbackId = `cb_${SEED}_${++seq}`;
          const body = {
            merchantId: m.id, paymentTxnId: p.paymentTxnId || p.topupId, externalTxnId: `ext_${SEED}_${seq}`,
            status: ok ? 'SUCCEEDED' : 'FAILED', paidAmount: ok ? (p.topupId ? p.amount : p.deduction.external) : 0, callbackId,
          };
          return { kind: 'callback', callbackId, ...signedCallback(body) };
        }
        if (x < 0.27 && refundable.length) {
          const p = refundable[rng.int(0, refundable.length - 1)];
          const left = p.order - p.reserved;
          if (left > 0) {
            const amount = rng.int(1, Math.max(1, Math.min(left, Math.ceil(p.order / 2))));
            p.reserved += amount;
            return { kind: 'refund', key: idemKey(), token: m.owner, path: '/api/payment/refund', body: { merchantId: m.id, paymentTxnId: p.id, refundAmount: amount } };
          }
        }
        if (x < 0.42) { // a cash top-up at the till, or now and then an external one by the member
          const mem = rng.pick(members);
          const amount = rng.chance(0.3) ? rng.int(BONUS_RULE.minAmount, 9_000) : rng.int(100, 2_000);
          const cash = rng.chance(0.8);
          return {
            kind: 'topup', key: idemKey(), token: cash ? m.owner : mem.token, path: '/api/wallet/topup',
            body: { merchantId: m.id, userId: mem.id, amount, method: cash ? 'CASH' : 'EXTERNAL' },
          };
        }
        // a payment: the rich pay from the wallet, the poor mostly need an external part
        const external = x >= 0.82;
        const mem = external ? rng.pick(poor) : rng.pick(rich);
        const orderAmount = external ? rng.int(1_500, 9_000) : rng.int(100, 3_000);
        return { kind: 'pay', key: idemKey(), token: mem.token, path: '/api/payment/verify', body: { merchantId: m.id, userId: mem.id, orderAmount } };
      };

      const seenTxn = new Set();
      // One round: the load until mpsd goes (killed, or stopped by itself when the disk is
      // full), then the same store again: replays, retries, the books and verify.
      const round = async (n, crash) => {
        const rt0 = Date.now();
        const ops = [];
        let acks = 0;
        let killIssued = false;
        let killScheduled = false;
        let failing = false; // disk: a store error answered, or a connection dropped
        const server = s;
        const kill = () => {
          if (killIssued) return;
          killIssued = true;
          server.proc.kill('SIGKILL');
        };
        const scheduleKill = () => {
          if (killScheduled) return;
          killScheduled = true;
          if (crash.jitter === 0) kill(); else setTimeout(kill, crash.jitter);
        };
        const timer = crash.kind === 'kill' && !crash.byAck ? setTimeout(scheduleKill, crash.killAt) : null;
        const maxOps = crash.kind === 'disk' ? 40_000 : 5_000;
        const worker = async () => {
          while (!killIssued && !server.exited && ops.length < maxOps) {
            const op = nextOp();
            ops.push(op);
            try {
              const res = await send(server.base, op);
              if (crash.kind === 'disk' && res.status === 503 && res.json?.error) {
                failing = true; // the store refused the write: not done, retried below
                op.unanswered = true;
                continue;
              }
              assert.ok(OK[op.kind].includes(res.status), `round ${n} ${ctx}: ${op.kind} answered ${res.status} ${res.text}`);
              assert.ok(!res.replayed, `a fresh key was replayed: ${res.text}`);
              op.ack = res;
              acks++;
              book(op, res);
              if (crash.byAck && acks >= crash.killAt) scheduleKill();
            } catch (e) {
              if (e instanceof assert.AssertionError) throw e;
              if (crash.kind === 'kill' && !killIssued) throw e;
              if (crash.kind === 'disk' && !networkError(e)) throw e; // only a dropped connection is unanswered
              failing = true;
              op.unanswered = true; // the connection died with the server
            }
          }
        };
        await Promise.all(Array.from({ length: CONCURRENCY }, worker));
        clearTimeout(timer);
        const gone = await s.stop(); // mpsctl verify on the crashed store
        if (crash.kind === 'kill') {
          assert.ok(killIssued, `round ${n}: the server was killed under load ${ctx}`);
          assert.equal(gone.signal, 'SIGKILL');
          stats.kills++;
        } else {
          assert.ok(failing, `round ${n}: the disk never filled under ${ops.length} requests ${ctx}`);
          assert.equal(gone.signal, 'SIGABRT', `round ${n}: mpsd should stop itself on a full disk ${ctx}:\n${gone.stderr}`);
          // the reason, with the failed write's errno (the file-size limit's EFBIG)
          assert.match(gone.stderr, /store: fatal: writing the SQLite WAL failed \(.*: File too large\); stopping/,
            `round ${n}: the reason is logged:\n${gone.stderr}`);
          crash.reason = gone.stderr.split('\n').find((l) => l.includes('store: fatal: '));
        }

        s = await startOn(st, CRASH_ENV); // same store, same secret: the tokens still work
        const acked = ops.filter((o) => o.ack);
        const unanswered = ops.filter((o) => !o.ack);
        // every acknowledged request is the same answer, byte for byte
        let i = 0;
        await Promise.all(Array.from({ length: 8 }, async () => {
          while (i < acked.length) {
            const op = acked[i++];
            const res = await send(s.base, op);
            assert.equal(res.status, op.ack.status, `round ${n} ${ctx}: replay of an acknowledged ${op.kind}: ${res.text}`);
            assert.equal(res.text, op.ack.text, `round ${n} ${ctx}: replay of an acknowledged ${op.kind} differs`);
            assert.ok(res.replayed, `round ${n} ${ctx}: an acknowledged ${op.kind} ran again: ${res.text}`);
          }
        }));
        // every unanswered one, retried with its key, happens exactly once
        let committed = 0;
        i = 0;
        await Promise.all(Array.from({ length: 8 }, async () => {
          while (i < unanswered.length) {
            const op = unanswered[i++];
            const res = await send(s.base, op);
            assert.ok(OK[op.kind].includes(res.status), `round ${n} ${ctx}: retry of an unanswered ${op.kind}: ${res.status} ${res.text}`);
            if (res.replayed) committed++;
            op.ack = res;
            book(op, res);
          }
        }));
        // acknowledged payments are there, as the books say
        for (const op of acked.filter((o) => o.kind === 'pay')) {
          const id = op.ack.json.paymentTxnId;
          const r = await call(s.base, 'GET', `/api/merchants/${m.id}/transactions/${id}`, { token: m.owner });
          assert.equal(r.status, 200, `round ${n} ${ctx}: acknowledged payment ${id} lost: ${r.text}`);
          assert.equal(r.json.status, books.payments.get(id).status, `round ${n} ${ctx}: ${id}`);
          assert.equal(r.json.refundedAmount, books.payments.get(id).refunded);
          assert.ok(!seenTxn.has(id));
          seenTxn.add(id);
        }
        await checkBooks({ base: s.base, store: st, books, members, ownerToken: m.owner, what: `after crash ${n} ${ctx}` });
        assertVerifies(st, `live, after crash ${n} and the retries ${ctx}`);

        stats.requests += ops.length;
        stats.acked += acked.length;
        stats.unanswered += unanswered.length;
        stats.retried += unanswered.length;
        stats.committedUnanswered += committed;
        stats.replayed += acked.length;
        const how = crash.kind === 'disk' ? `the disk filled (${crash.reason})` : crash.byAck
          ? `killed after ${crash.killAt} acks + ${crash.jitter} ms` : `killed after ${crash.killAt} ms`;
        console.log(`# crash round ${n}: ${how}, ${acked.length} acknowledged, ${unanswered.length} unanswered ` +
          `(${committed} had committed), ${Date.now() - rt0} ms`);
        await sleep(0);
      };

      for (let n = 1; n <= KILLS; n++) {
        const byAck = killRng.chance(0.6);
        const killAt = byAck ? killRng.int(5, 150) : killRng.int(5, 500); // acknowledged requests | ms
        await round(n, { kind: 'kill', byAck, killAt, jitter: killRng.int(0, 3) });
      }
      if (st.kind === 'sqlite') {
        // The disk fills: mpsd again with no file allowed to grow more than DISK_HEADROOM past
        // the store's largest file, the load until mpsd stops itself (a write of the WAL that
        // fails cannot be taken back, D44 and D57), then the same checks as after a kill.
        assert.equal((await s.stop()).code, 0);
        const file = st.url.replace(/^sqlite:/, '');
        const largest = Math.max(...['', '-wal'].map((x) => (existsSync(file + x) ? statSync(file + x).size : 0)));
        s = await startOn(st, CRASH_ENV, { fileSizeLimit: largest + DISK_HEADROOM });
        await round(KILLS + 1, { kind: 'disk' });
        stats.diskFull++;
      }
      const fin = await s.stop(); // graceful: verifies once more
      assert.equal(fin.code, 0, fin.stderr);
      const kinds = {};
      for (const k of ['payments', 'topups', 'refunds', 'callbacks']) kinds[k] = books[k].size;
      console.log(`# crash summary: seed ${SEED}, ${stats.kills} kills, ${stats.diskFull} full disk, ${stats.requests} requests, ${stats.acked} acknowledged ` +
        `(replayed identically), ${stats.unanswered} unanswered and retried, ${stats.committedUnanswered} committed but unanswered; ` +
        `booked ${JSON.stringify(kinds)}; ${Date.now() - t0} ms`);
    } finally {
      if (!s.exited) await s.stop({ verify: false });
    }
  });
});
