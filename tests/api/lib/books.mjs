// tests/api/lib/books.mjs — the client's own books for the money load tests (crash.test.mjs,
// stress.test.mjs): a seeded PRNG, signed gateway callbacks, and a model that is fed every
// acknowledged answer (cash and external top-ups, payments, callbacks, refunds) and computes what each member
// bucket (balance, held, available) and the merchant's payable and marketing accounts must
// hold. checkBooks() compares that model with GET /api/wallet, with the stored ledger
// accounts and with the journal lines (SQL on the store), and every payment, top-up, refund
// and callback row with what the client saw. Node built-ins only.
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { ACCOUNT_BALANCE, call, sql } from './money.mjs';

export const CALLBACK_SECRET = 'books-gateway-secret-0123456789abcdef';
/** mpsd's environment for a books-checked load: signed callbacks, no callback rate limit. */
export const BOOKS_ENV = { MPS_PAYMENT_CALLBACK_SECRET: CALLBACK_SECRET, MPS_RATE_CALLBACK_PER_MIN: '0' };
/** The top-up bonus rule both loads set (top-ups above it exercise bonus and clawback). */
export const BONUS_RULE = { minAmount: 5_000, bonusAmount: 150 };

/** mulberry32: a small seeded PRNG. rng.seed is the seed it started from. */
export function makeRng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    seed: seed >>> 0,
    next,
    /** an integer in [lo, hi] */
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    chance: (p) => next() < p,
    pick: (arr) => arr[Math.floor(next() * arr.length)],
  };
}

/** A seed from `envName` (decimal or 0x hex) or a random one. */
export function seedFrom(envName) {
  const v = process.env[envName];
  if (v !== undefined && v !== '') {
    const n = Number(v);
    assert.ok(Number.isInteger(n) && n >= 0, `${envName} must be a non-negative integer, got ${v}`);
    return n >>> 0;
  }
  return randomBytes(4).readUInt32BE(0);
}

/** The raw body and the headers of a signed callback (hex HMAC-SHA256 of the raw body). */
export function signedCallback(body, secret = CALLBACK_SECRET) {
  const raw = JSON.stringify(body);
  return {
    raw,
    headers: { 'Content-Type': 'application/json', 'X-Payment-Signature': createHmac('sha256', secret).update(raw).digest('hex') },
  };
}

const BUCKETS = ['principal', 'bonus', 'silver'];
const zero = () => ({ principal: 0, bonus: 0, silver: 0 });

/**
 * The model. Feed it the JSON of every acknowledged (or retried) success:
 *   topup(json)     201 (CASH) or 202 (EXTERNAL) of POST /api/wallet/topup
 *   payment(json)   200/202 of POST /api/payment/verify
 *   callback(id, status, text)  any answer of POST /api/payment/callback: a 200 settles
 *                   or fails its payment or external top-up
 *   refund(json)    200 of POST /api/payment/refund
 * Feeding the same object twice (a replay) is an error: every id is booked once.
 */
export class Books {
  constructor(merchantId) {
    this.merchantId = merchantId;
    this.topups = new Map(); // topupId -> json
    this.payments = new Map(); // paymentTxnId -> {json, status, feeAmount, refunded}
    this.refunds = new Map(); // refundTxnId -> json
    this.callbacks = new Map(); // callbackId -> {status, text}
  }

  topup(j) {
    assert.equal(j.merchantId, this.merchantId);
    assert.equal(j.status, j.method === 'CASH' ? 'SUCCEEDED' : 'PENDING_EXTERNAL', `a new top-up: ${JSON.stringify(j)}`);
    assert.ok(!this.topups.has(j.topupId), `top-up ${j.topupId} booked twice`);
    this.topups.set(j.topupId, j);
  }

  payment(j) {
    assert.equal(j.merchantId, this.merchantId);
    assert.ok(!this.payments.has(j.paymentTxnId), `payment ${j.paymentTxnId} booked twice`);
    const d = j.deduction;
    assert.equal(d.voucher + d.bonus + d.principal + d.silver + d.external, j.orderAmount, `deduction adds up: ${JSON.stringify(j)}`);
    assert.ok(j.status === 'PAID' || j.status === 'PENDING_EXTERNAL', `payment status ${j.status}`);
    assert.equal(j.status === 'PAID', d.external === 0, `PAID iff no external part: ${JSON.stringify(j)}`);
    this.payments.set(j.paymentTxnId, { json: j, status: j.status, feeAmount: j.feeAmount, refunded: 0 });
  }

  /** A callback answer (any status): 200 ones change the payment. */
  callback(callbackId, status, text) {
    assert.ok(!this.callbacks.has(callbackId), `callback ${callbackId} booked twice`);
    this.callbacks.set(callbackId, { status, text });
    if (status !== 200) return;
    const j = JSON.parse(text);
    if (j.topup) { // an external top-up: credited (SETTLED) or not (FAILED)
      const t = this.topups.get(j.topup.topupId);
      assert.ok(t, `callback for a top-up the client never saw: ${text}`);
      assert.equal(t.status, 'PENDING_EXTERNAL', `callback on a top-up that was ${t.status}: ${text}`);
      assert.equal(j.topup.status, j.outcome === 'SETTLED' ? 'SUCCEEDED' : 'FAILED', text);
      this.topups.set(t.topupId, j.topup);
      return;
    }
    const p = this.payments.get(j.payment.paymentTxnId);
    assert.ok(p, `callback for a payment the client never saw: ${text}`);
    assert.equal(p.status, 'PENDING_EXTERNAL', `callback settled a payment that was ${p.status}: ${text}`);
    if (j.outcome === 'SETTLED') {
      assert.equal(j.payment.status, 'PAID', text);
      p.status = 'PAID';
      p.feeAmount = j.payment.feeAmount;
    } else {
      assert.equal(j.outcome, 'FAILED', text);
      assert.equal(j.payment.status, 'FAILED', text);
      p.status = 'FAILED';
    }
  }

  refund(j) {
    assert.ok(!this.refunds.has(j.refundTxnId), `refund ${j.refundTxnId} booked twice`);
    const p = this.payments.get(j.paymentTxnId);
    assert.ok(p, `refund of a payment the client never saw: ${JSON.stringify(j)}`);
    assert.equal(p.status, 'PAID', `refund of a ${p.status} payment`);
    p.refunded += j.refundAmount;
    assert.ok(p.refunded <= p.json.orderAmount, `refunded ${p.refunded} > order ${p.json.orderAmount}`);
    this.refunds.set(j.refundTxnId, j);
  }

  /** What the member's buckets must hold: {balance, held, available}. */
  member(userId) {
    const balance = zero();
    const held = zero();
    for (const t of this.topups.values()) {
      if (t.userId !== userId || t.status !== 'SUCCEEDED') continue;
      balance.principal += t.amount;
      balance.bonus += t.bonusAmount;
    }
    for (const p of this.payments.values()) {
      if (p.json.userId !== userId) continue;
      const target = p.status === 'PAID' ? balance : p.status === 'PENDING_EXTERNAL' ? held : null;
      if (!target) continue; // FAILED: the holds went back
      for (const b of BUCKETS) target[b] += (target === balance ? -1 : 1) * p.json.deduction[b];
    }
    for (const r of this.refunds.values()) {
      if (r.userId !== userId) continue;
      balance.principal += r.walletRefund - r.clawback.fromPrincipal;
      balance.bonus -= r.clawback.fromBonus;
    }
    const available = zero();
    for (const b of BUCKETS) available[b] = balance[b] - held[b];
    return { balance, held, available };
  }

  /** What the merchant's payable and marketing accounts must hold. */
  merchant() {
    let payable = 0;
    let marketing = 0;
    for (const t of this.topups.values()) if (t.status === 'SUCCEEDED') marketing += t.bonusAmount;
    for (const p of this.payments.values()) {
      if (p.status === 'PAID') payable += p.json.orderAmount - p.feeAmount;
    }
    for (const r of this.refunds.values()) {
      payable -= r.refundAmount - r.feeReversal;
      marketing -= r.clawback.fromBonus + r.clawback.fromPrincipal;
    }
    return { payable, marketing };
  }
}

/**
 * Compare the books with the server and the store:
 *   - GET /api/wallet of every member: balance, held, available per bucket; none below zero;
 *   - ledger_accounts of the merchant (member buckets, payable, marketing): stored balance and
 *     held equal the model, and the stored balance equals normal × Σ its journal lines;
 *   - payments (status, refunded_amount, fee of PAID ones), top-ups, refunds and callbacks in
 *     the store are exactly the ones the client booked: nothing lost, nothing doubled.
 * members: [{id, token}]; ownerToken reads the wallets. Returns the per-member expectations.
 */
export async function checkBooks({ base, store, books, members, ownerToken, what = '' }) {
  const m = books.merchantId;
  const out = {};
  for (const mem of members) {
    const want = books.member(mem.id);
    const r = await call(base, 'GET', `/api/wallet?merchantId=${m}&userId=${mem.id}`, { token: ownerToken || mem.token });
    assert.equal(r.status, 200, `wallet ${what}: ${r.text}`);
    assert.deepEqual({ balance: r.json.balance, held: r.json.held, available: r.json.available }, want,
      `wallet of ${mem.id} ${what}: the API differs from the acknowledged operations`);
    for (const k of ['balance', 'held', 'available']) {
      for (const b of BUCKETS) assert.ok(r.json[k][b] >= 0, `${k}.${b} of ${mem.id} below zero ${what}: ${r.text}`);
    }
    out[mem.id] = want;
  }

  const rows = sql(store, `SELECT a.owner_kind, a.owner_id, a.kind, ${ACCOUNT_BALANCE}, a.held, ` +
    'a.normal * COALESCE((SELECT SUM(l.amount) FROM journal_lines l WHERE l.account_id = a.id), 0) ' +
    `FROM ledger_accounts a WHERE a.merchant_id = '${m}' AND a.owner_kind IN ('member', 'merchant')`);
  const ledger = new Map(rows.map(([ok, oid, kind, bal, held, lines]) => [`${ok}|${oid}|${kind}`, { balance: Number(bal), held: Number(held), lines: Number(lines) }]));
  for (const row of ledger.values()) assert.equal(row.balance, row.lines, `a stored balance differs from its journal lines ${what}`);
  for (const mem of members) {
    const want = out[mem.id];
    for (const b of BUCKETS) {
      const acc = ledger.get(`member|${mem.id}|${b}`) || { balance: 0, held: 0, lines: 0 };
      assert.deepEqual({ balance: acc.balance, held: acc.held }, { balance: want.balance[b], held: want.held[b] },
        `ledger account ${b} of ${mem.id} ${what}`);
    }
  }
  const mw = books.merchant();
  for (const kind of ['payable', 'marketing']) {
    const acc = ledger.get(`merchant|${m}|${kind}`) || { balance: 0 };
    assert.equal(acc.balance, mw[kind], `merchant ${kind} ${what}`);
  }

  const pays = sql(store, `SELECT id, status, refunded_amount, fee_amount FROM payments WHERE merchant_id = '${m}'`);
  assert.equal(pays.length, books.payments.size, `payments in the store vs booked ${what}`);
  for (const [id, status, refunded, fee] of pays) {
    const p = books.payments.get(id);
    assert.ok(p, `payment ${id} in the store was never acknowledged nor found by a retry ${what}`);
    assert.equal(status, p.status, `status of ${id} ${what}`);
    assert.equal(Number(refunded), p.refunded, `refunded_amount of ${id} ${what}`);
    if (status === 'PAID') assert.equal(Number(fee), p.feeAmount, `fee of ${id} ${what}`);
  }
  const tops = sql(store, `SELECT id, amount, bonus_amount, status FROM topups WHERE merchant_id = '${m}'`);
  assert.equal(tops.length, books.topups.size, `top-ups in the store vs booked ${what}`);
  for (const [id, amount, bonus, status] of tops) {
    const t = books.topups.get(id);
    assert.ok(t, `top-up ${id} in the store was never booked ${what}`);
    assert.deepEqual([Number(amount), Number(bonus), status], [t.amount, t.bonusAmount, t.status], `top-up ${id} ${what}`);
  }
  const rfs = sql(store, `SELECT id, payment_id, amount FROM refunds WHERE merchant_id = '${m}'`);
  assert.equal(rfs.length, books.refunds.size, `refunds in the store vs booked ${what}`);
  for (const [id, pid, amount] of rfs) {
    const r = books.refunds.get(id);
    assert.ok(r, `refund ${id} in the store was never booked ${what}`);
    assert.deepEqual([pid, Number(amount)], [r.paymentTxnId, r.refundAmount], `refund ${id} ${what}`);
  }
  const cbs = sql(store, `SELECT callback_id, result_status FROM payment_callbacks WHERE merchant_id = '${m}'`);
  assert.equal(cbs.length, books.callbacks.size, `callbacks recorded vs booked ${what}`);
  for (const [id, status] of cbs) {
    const c = books.callbacks.get(id);
    assert.ok(c, `callback ${id} recorded but never booked ${what}`);
    assert.equal(Number(status), c.status, `callback ${id} ${what}`);
  }
  return out;
}
