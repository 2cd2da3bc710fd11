// tests/api/property.test.mjs — a property test of the money rules: random sequences of money
// operations against the real mpsd, each one predicted by a small reference model written
// here (integer arithmetic only, its own rounding, nothing computed by the server), and every
// modelled balance compared with what the API reports after every step.
//
// What it covers (docs/money.md, docs/decisions.md D20 D25 D26 D28 D29):
//   - two merchants (one on MPS_PLATFORM_FEE_BPS, one with its own fee, changed now and then),
//     five members; per member the posted, held and available principal / bonus / silver and
//     the usable vouchers (ACTIVE / HELD; some expire during the run)
//   - cash top-ups and external top-ups (settled, failed or expired by callbacks and expiry),
//     with top-up bonus rules that are replaced now and then (a pending top-up keeps the bonus
//     of the rule in force when it was created)
//   - grants of bonus, silver and vouchers (value, minSpend, expiry)
//   - payments: the smart deduction (one voucher: earliest expiry, then the higher value; then
//     bonus, principal, silver; the rest external), PAID at once with the fee
//     round(order × bps / 10000) half up, or PENDING_EXTERNAL with the wallet part held and the
//     voucher HELD; amounts around the wallet's edges and far beyond it; quotes (nothing moves)
//   - signed gateway callbacks (bare hex and t=…,v1=… forms): SUCCEEDED / PAID settle with the
//     fee of the rate fixed when the payment was created, FAILED releases, a wrong paidAmount is
//     422, a final payment 409, an unknown one 404, a replayed callbackId or externalTxnId answers
//     the first answer byte for byte, an externalTxnId applied to another transaction is 409, a
//     callback after the deadline expires the payment (409)
//   - POST /admin/transactions/expire-due with the sweep off (MPS_EXPIRY_SWEEP_INTERVAL_S=0) and
//     a 1 s MPS_PAYMENT_PENDING_TTL_S: the model knows each deadline (it checks expiresAtMs is
//     the request time + TTL) and predicts exactly what expires and the counts
//   - partial and full refunds: the cumulative shares round(total × (before + refund) / order) −
//     round(total × before / order) of the external part and the fee, the consumed bonus (the
//     same, capped at what the refunded units gave back to the wallet, D25), the
//     wallet share to principal, the clawback (available bonus first, then principal, the rest
//     unrecovered), and refusals: more than refundable (422 with the details), not PAID (409)
//   - Idempotency-Key replays of earlier payments, top-ups, grants and refunds (identical body,
//     Idempotent-Replayed: true, nothing changes), the same key with another body (422), and a
//     refused refund's key staying free
//   after every step: GET /api/wallet of every member, and every payment of both merchants
//   through GET /api/merchants/{id}/transactions (status, deduction, voucher, fee, fee rate,
//   refunded amount, gateway id, deadline); after a refund also the payment's refund list;
//   every 50 steps and at the end the merchants' ledger entries, summed per entry kind and
//   account (member buckets, payable, marketing, fee income, cash, gateway clearing, refund
//   payable) and counted per kind, against the model's own journal; at the end `mpsctl verify`.
//
// Not covered: concurrency (tests/api/concurrency.test.mjs), roles and scopes (rbac,
// refunds.test.mjs), bad input (json_errors), the background sweep, gateway refunds
// (SENT/DONE), stores/terminals, more than 50 vouchers per member (the wallet shows 50).
//
// Reproduce and extend:
//   MPS_PROPERTY_SEED=<n>    the seed (printed at the start and in every failure)
//   MPS_PROPERTY_STEPS=<n>   steps (default 300: ~12-15 s on SQLite, ~17-27 s on PostgreSQL, 2 cores)
//   MPS_PROPERTY_MAX_S=<s>   stop generating new steps after this many seconds (default 80, so
//                            a slow sanitizer/PostgreSQL pass stays inside node's 120 s timeout)
//   MPS_PROPERTY_VERBOSE=1   print every step
//   e.g. MPS_BIN_DIR=build MPS_TEST_STORE=sqlite MPS_PROPERTY_SEED=42 node --test tests/api/property.test.mjs
// Each step draws from its own PRNG derived from (seed, step), so a seed replays the same choices;
// only outcomes at a deadline (1 s TTL, expiring vouchers) depend on the clock, and the model
// predicts those from the request's send/receive times (waiting out the few milliseconds
// around a deadline rather than guessing). A failure names the seed, the step and the history.
// To add an operation: a generator in STEP_KINDS that predicts with the model, sends the
// request, asserts the answer and applies the change to the model; checkAll() does the rest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { STORE, sleep } from './lib/server.mjs';
import { newStore, startOn, assertVerifies, call as jsonCall, token as mockToken } from './lib/money.mjs';

const ENV = process.env;
const SEED = ENV.MPS_PROPERTY_SEED ? Number(ENV.MPS_PROPERTY_SEED) >>> 0 : randomBytes(4).readUInt32LE(0);
const STEPS = Number(ENV.MPS_PROPERTY_STEPS || 300);
const MAX_S = Number(ENV.MPS_PROPERTY_MAX_S || 80);
const VERBOSE = ENV.MPS_PROPERTY_VERBOSE === '1';
const DEFAULT_FEE_BPS = 250;
const TTL_MS = 1000;
const CALLBACK_SECRET = 'property-test-gateway-secret-0123456789';
const CHECKPOINT_EVERY = 50;
const SLOP_MS = 2;         // a server reads the clock between our send and receive times
const NEAR_MS = 80;        // steps wait out deadlines closer than this

// ---------------------------------------------------------------------------------- PRNG
function mulberry32(a) {
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
class Rng {
  constructor(seed, stream) {
    let h = (seed ^ Math.imul(stream + 0x9e3779b9, 0x85ebca6b)) | 0;
    h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
    h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
    this.f = mulberry32(h ^ (h >>> 16));
  }
  next() { return this.f(); }
  int(lo, hi) { return lo + Math.floor(this.f() * (hi - lo + 1)); }
  chance(p) { return this.f() < p; }
  pick(a) { return a[this.int(0, a.length - 1)]; }
  /** pairs [[weight, value], ...] */
  weighted(pairs) {
    const total = pairs.reduce((s, [w]) => s + w, 0);
    let x = this.f() * total;
    for (const [w, v] of pairs) { if ((x -= w) < 0) return v; }
    return pairs[pairs.length - 1][1];
  }
  /** an amount in 1..hi: small, any, round hundreds or odd */
  amount(hi) {
    switch (this.int(0, 3)) {
      case 0: return this.int(1, Math.min(99, hi));
      case 1: return this.int(1, hi);
      case 2: return this.int(1, Math.max(1, Math.floor(hi / 100))) * 100;
      default: return this.int(1, hi) | 1;
    }
  }
}

// ------------------------------------------------------------------- the money arithmetic
// docs/money.md: ratios are integers, every rounding is half up on non-negative values.
// Written here from the documentation, in BigInt so no product loses precision.
function mulDivRound(a, b, c) {
  assert.ok(a >= 0 && b >= 0 && c > 0, `mulDivRound(${a}, ${b}, ${c})`);
  const num = BigInt(a) * BigInt(b);
  return Number((num * 2n + BigInt(c)) / (2n * BigInt(c)));
}
const feeOf = (order, bps) => mulDivRound(order, bps, 10000);
/** D25: this refund's share of `total`, cumulative over the payment's refunds. */
const cumShare = (total, order, before, amount) =>
  mulDivRound(total, before + amount, order) - mulDivRound(total, before, order);
/** D25: the bonus consumed by the first x refunded units: its share, but never more than those
 *  units gave back to the wallet (x minus their external share). */
const consumedUpTo = (d, order, x) => Math.min(mulDivRound(d.bonus, x, order), x - mulDivRound(d.external, x, order));

// ------------------------------------------------------------------------------ the model
const buckets = () => ({ principal: 0, bonus: 0, silver: 0 });
const KINDS = ['principal', 'bonus', 'silver'];

const model = {
  merchants: [],            // {id, fee (effective bps), rules: [{minAmount, bonusAmount}], owner}
  members: [],              // {id, m (merchant), token, posted, held, vouchers: Map}
  payments: new Map(),      // id -> payment
  topups: new Map(),        // id -> external top-up
  callbacks: new Map(),     // callbackId -> {status, text} (every answer that is not a replay)
  appliedExt: new Map(),    // externalTxnId -> {txnId, text} of the first applied (200) callback
  idem: [],                 // successful POSTs that may be replayed
  ledger: new Map(),        // "merchant|KIND|ownerKind:ownerId:account" -> Σ signed amounts
  entries: new Map(),       // "merchant|KIND" -> number of entries
};

const available = (mem) => ({
  principal: mem.posted.principal - mem.held.principal,
  bonus: mem.posted.bonus - mem.held.bonus,
  silver: mem.posted.silver - mem.held.silver,
});

/** One journal entry as docs/money.md lays it out; lines [ownerKind, ownerId, account, ±amount]
 *  (+ debit). Zero lines are not written, an entry with none is not written at all. */
function post(merchantId, kind, lines) {
  const nz = lines.filter((l) => l[3] !== 0);
  assert.equal(lines.reduce((s, l) => s + l[3], 0), 0, `model bug: ${kind} does not balance`);
  if (!nz.length) return;
  const ek = `${merchantId}|${kind}`;
  model.entries.set(ek, (model.entries.get(ek) || 0) + 1);
  for (const [ok, oid, acc, amt] of nz) {
    const k = `${merchantId}|${kind}|${ok}:${oid}:${acc}`;
    model.ledger.set(k, (model.ledger.get(k) || 0) + amt);
  }
}
const M = (mem, acc) => ['member', mem.id, acc];
const MER = (mid, acc) => ['merchant', mid, acc];
const PLAT = (acc) => ['platform', 'platform', acc];

function bonusFor(rules, amount) {
  let best = null;
  for (const r of rules) if (amount >= r.minAmount && (!best || r.minAmount > best.minAmount)) best = r;
  return best ? best.bonusAmount : 0;
}

function creditTopup(t) {
  const mem = memberById(t.userId);
  mem.posted.principal += t.amount;
  post(t.merchantId, 'TOPUP', [[...PLAT(t.method === 'CASH' ? 'cash' : 'gateway_clearing'), t.amount], [...M(mem, 'principal'), -t.amount]]);
  if (t.bonus > 0) {
    mem.posted.bonus += t.bonus;
    post(t.merchantId, 'GRANT', [[...MER(t.merchantId, 'marketing'), t.bonus], [...M(mem, 'bonus'), -t.bonus]]);
  }
}

const usableAt = (v, order, t) => v.status === 'ACTIVE' && v.value > 0 && order >= v.minSpend &&
  (v.expiresAtMs === 0 || v.expiresAtMs > t);

/** The smart deduction at server time t: {d, candidates (tied best voucher ids)}. */
function quoteAt(mem, order, t) {
  const usable = [...mem.vouchers.values()].filter((v) => usableAt(v, order, t));
  const exp = (v) => (v.expiresAtMs === 0 ? Infinity : v.expiresAtMs);
  let best = [];
  for (const v of usable) {
    if (!best.length || exp(v) < exp(best[0]) || (exp(v) === exp(best[0]) && v.value > best[0].value)) best = [v];
    else if (exp(v) === exp(best[0]) && v.value === best[0].value) best.push(v);
  }
  const av = available(mem);
  let need = order;
  const take = (have) => { const x = Math.max(0, Math.min(need, have)); need -= x; return x; };
  const voucher = best.length ? take(best[0].value) : 0;
  const d = { voucher, bonus: take(av.bonus), principal: take(av.principal), silver: take(av.silver), external: 0 };
  d.external = need;
  return { d, candidates: best.map((v) => v.id).sort() };
}

function visibleVouchers(mem, t) {
  return [...mem.vouchers.values()]
    .filter((v) => (v.status === 'ACTIVE' || v.status === 'HELD') && (v.expiresAtMs === 0 || v.expiresAtMs > t))
    .map((v) => ({ id: v.id, value: v.value, minSpend: v.minSpend, expiresAtMs: v.expiresAtMs, status: v.status }))
    .sort((a, b) => (a.id < b.id ? -1 : 1));
}

function postPayment(p) {
  const mem = memberById(p.userId);
  const { d } = p;
  post(p.merchantId, 'PAYMENT', [
    [...M(mem, 'bonus'), d.bonus], [...M(mem, 'principal'), d.principal], [...M(mem, 'silver'), d.silver],
    [...MER(p.merchantId, 'payable'), -p.order], [...MER(p.merchantId, 'marketing'), d.voucher],
    [...PLAT('gateway_clearing'), d.external],
  ]);
  post(p.merchantId, 'FEE', [[...MER(p.merchantId, 'payable'), p.fee], [...PLAT('fee_income'), -p.fee]]);
}

/** The pending payment's holds end and its wallet part is posted (callback SUCCEEDED). */
function settlePayment(p, externalTxnId) {
  const mem = memberById(p.userId);
  for (const k of KINDS) { mem.held[k] -= p.d[k]; mem.posted[k] -= p.d[k]; }
  if (p.voucherId) mem.vouchers.get(p.voucherId).status = 'USED';
  p.status = 'PAID';
  p.fee = feeOf(p.order, p.feeBps);
  p.externalTxnId = externalTxnId;
  postPayment(p);
}

/** FAILED or EXPIRED: the holds and the voucher are released. */
function releasePayment(p, status) {
  const mem = memberById(p.userId);
  for (const k of KINDS) mem.held[k] -= p.d[k];
  if (p.voucherId) mem.vouchers.get(p.voucherId).status = 'ACTIVE';
  p.status = status;
}

const memberById = (id) => model.members.find((x) => x.id === id);
const merchantById = (id) => model.merchants.find((x) => x.id === id);
const pendingItems = () => [...model.payments.values(), ...model.topups.values()].filter((x) => x.status === 'PENDING_EXTERNAL');

// ---------------------------------------------------------------------------- API calls
let s;
let base;
let adminToken;
let seq = 0;
const uniq = () => `${SEED.toString(36)}_${(++seq).toString(36)}_${randomBytes(3).toString('hex')}`;
const key = () => `prop-${uniq()}`;

/** A timed call: {status, json, text, headers, ts, tr} (ts/tr: our clock before/after). */
async function call(method, path, opts) {
  const ts = Date.now();
  const r = await jsonCall(base, method, path, opts);
  return { ...r, ts, tr: Date.now() };
}

function sign(raw, form) {
  if (form === 'hex') return createHmac('sha256', CALLBACK_SECRET).update(raw).digest('hex');
  const t = Math.floor(Date.now() / 1000);
  return `t=${t},v1=${createHmac('sha256', CALLBACK_SECRET).update(`${t}.${raw}`).digest('hex')}`;
}
async function sendCallback(raw, form) {
  const ts = Date.now();
  const res = await fetch(`${base}/api/payment/callback`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Payment-Signature': sign(raw, form) }, body: raw,
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json, text, headers: res.headers, ts, tr: Date.now() };
}

function expectStatus(r, status, code, what) {
  assert.equal(r.status, status, `${what}: expected ${status}${code ? ' ' + code : ''}, got ${r.status}: ${r.text}`);
  if (code) assert.equal(r.json && r.json.error && r.json.error.code, code, `${what}: error code in ${r.text}`);
}
const replayed = (r) => r.headers.get('idempotent-replayed') === 'true';

/** Deadline side of `exp` for a request the server handled at some time in [ts, tr]:
 *  'past' (exp <= server now), 'future', or 'unknown'. */
function side(exp, r) {
  if (exp <= r.ts - SLOP_MS) return 'past';
  if (exp > r.tr + SLOP_MS) return 'future';
  return 'unknown';
}
/** Wait out every deadline (pending payments and top-ups, vouchers with an expiry) that is
 *  within NEAR_MS from now, so the next request is on a known side of it. */
async function clearDeadlines(extra = []) {
  for (;;) {
    const now = Date.now();
    const deadlines = [
      ...pendingItems().map((x) => x.expiresAtMs),
      ...model.members.flatMap((m) => [...m.vouchers.values()].filter((v) => v.expiresAtMs && v.status !== 'USED').map((v) => v.expiresAtMs)),
      ...extra,
    ].filter((e) => e >= now - 2 * SLOP_MS && e <= now + NEAR_MS);
    if (!deadlines.length) return;
    await sleep(Math.max(...deadlines) - now + 2 * SLOP_MS + 1);
  }
}

// ------------------------------------------------------------------------------ steps
// Each returns a one-line description (it asserts as it goes).

async function stepCashTopup(r) {
  const mem = r.pick(model.members);
  const m = mem.m;
  const amount = r.amount(r.pick([500, 5000, 20000]));
  const body = { merchantId: m.id, userId: mem.id, amount, method: 'CASH' };
  const k = key();
  const res = await call('POST', '/api/wallet/topup', { token: m.owner, body, headers: { 'Idempotency-Key': k } });
  expectStatus(res, 201, null, 'cash top-up');
  const bonus = bonusFor(m.rules, amount);
  assert.equal(res.json.status, 'SUCCEEDED');
  assert.equal(res.json.amount, amount);
  assert.equal(res.json.bonusAmount, bonus, `bonus of ${amount} under ${JSON.stringify(m.rules)}`);
  assert.equal(res.json.method, 'CASH');
  creditTopup({ merchantId: m.id, userId: mem.id, amount, bonus, method: 'CASH' });
  model.idem.push({ what: 'top-up', path: '/api/wallet/topup', token: m.owner, key: k, body, res, amountField: 'amount' });
  return `cash top-up ${mem.name} ${amount} (bonus ${bonus})`;
}

async function stepExternalTopup(r) {
  const mem = r.pick(model.members);
  const m = mem.m;
  const amount = r.amount(r.pick([1000, 10000]));
  const body = { merchantId: m.id, userId: mem.id, amount, method: 'EXTERNAL' };
  const k = key();
  const res = await call('POST', '/api/wallet/topup', { token: m.owner, body, headers: { 'Idempotency-Key': k } });
  expectStatus(res, 202, null, 'external top-up');
  const bonus = bonusFor(m.rules, amount);
  assert.equal(res.json.status, 'PENDING_EXTERNAL');
  assert.equal(res.json.amount, amount);
  assert.equal(res.json.bonusAmount, bonus);
  const exp = res.json.expiresAtMs;
  assert.ok(exp >= res.ts + TTL_MS - SLOP_MS && exp <= res.tr + TTL_MS + SLOP_MS, `top-up deadline ${exp} not TTL after [${res.ts}, ${res.tr}]`);
  model.topups.set(res.json.topupId, {
    kind: 'topup', id: res.json.topupId, merchantId: m.id, userId: mem.id, amount, bonus, method: 'EXTERNAL',
    status: 'PENDING_EXTERNAL', expiresAtMs: exp, externalTxnId: null,
  });
  model.idem.push({ what: 'top-up', path: '/api/wallet/topup', token: m.owner, key: k, body, res, amountField: 'amount' });
  return `external top-up ${mem.name} ${amount} (bonus ${bonus}) -> ${res.json.topupId}`;
}

async function stepGrant(r) {
  const mem = r.pick(model.members);
  const m = mem.m;
  const type = r.weighted([[4, 'BONUS'], [2, 'SILVER'], [3, 'VOUCHER']]);
  const body = { merchantId: m.id, userId: mem.id, type };
  let expiresAtMs = 0;
  if (type === 'VOUCHER') {
    body.value = r.amount(r.pick([300, 3000]));
    const ms = r.weighted([[3, 0], [2, r.amount(5000)], [2, body.value + r.int(-50, 50)]]);
    if (ms > 0 || r.chance(0.3)) body.minSpend = Math.max(0, ms);
    const e = r.weighted([[4, 'never'], [3, 'far'], [2, 'soon']]);
    // far: hours ahead, distinct (the earliest expiry wins); soon: expires during the run
    if (e === 'far') expiresAtMs = Date.now() + 3_600_000 + r.int(0, 100) * 60_000;
    if (e === 'soon') expiresAtMs = Date.now() + r.int(1500, 6000);
    if (expiresAtMs) body.expiresAt = new Date(expiresAtMs).toISOString();
  } else {
    body.amount = r.amount(type === 'BONUS' ? 3000 : 2000);
  }
  const k = key();
  const res = await call('POST', '/api/merchant/grants', { token: m.owner, body, headers: { 'Idempotency-Key': k } });
  expectStatus(res, 201, null, 'grant');
  if (type === 'VOUCHER') {
    assert.match(String(res.json.voucherId), /^vou_/);
    mem.vouchers.set(res.json.voucherId, {
      id: res.json.voucherId, value: body.value, minSpend: body.minSpend || 0, expiresAtMs, status: 'ACTIVE',
    });
  } else {
    const acc = type === 'BONUS' ? 'bonus' : 'silver';
    mem.posted[acc] += body.amount;
    post(m.id, 'GRANT', [[...MER(m.id, 'marketing'), body.amount], [...M(mem, acc), -body.amount]]);
  }
  model.idem.push({ what: 'grant', path: '/api/merchant/grants', token: m.owner, key: k, body, res,
    amountField: type === 'VOUCHER' ? 'value' : 'amount' });
  return `grant ${mem.name} ${type} ${body.amount || body.value}${type === 'VOUCHER' ? ` min ${body.minSpend || 0} exp ${expiresAtMs ? expiresAtMs - Date.now() + 'ms' : 'never'} ${res.json.voucherId}` : ''}`;
}

function orderAmount(r, mem) {
  const av = available(mem);
  const total = av.bonus + av.principal + av.silver;
  const vs = [...mem.vouchers.values()].filter((v) => v.status === 'ACTIVE');
  const opts = [[3, () => r.amount(3000)], [2, () => r.amount(30000)]];
  if (total > 0) {
    opts.push([2, () => total], [2, () => total + 1], [2, () => r.int(1, total)], [1, () => Math.max(1, total - 1)]);
    opts.push([1, () => Math.max(1, av.bonus)], [1, () => av.bonus + av.principal || 1]);
  }
  if (vs.length) {
    const v = r.pick(vs);
    opts.push([2, () => Math.max(1, v.minSpend)], [1, () => Math.max(1, v.minSpend - 1)], [1, () => Math.max(1, v.value)], [1, () => v.value + total]);
  }
  return r.weighted(opts)();
}

/** The server's deduction against the model's quote at the request's send and receive times. */
function matchQuote(mem, order, res, d, voucherId, what) {
  const options = [quoteAt(mem, order, res.ts - SLOP_MS), quoteAt(mem, order, res.tr + SLOP_MS)];
  const norm = (x) => JSON.stringify({ voucher: x.voucher, bonus: x.bonus, principal: x.principal, silver: x.silver, external: x.external });
  const ok = options.find((q) => norm(q.d) === norm(d) &&
    (q.candidates.length ? q.candidates.includes(voucherId) : voucherId === null));
  assert.ok(ok, `${what} ${order} for ${mem.name}: server deduction ${JSON.stringify(d)} voucher ${voucherId}, model ` +
    `${JSON.stringify(options[0])} (wallet available ${JSON.stringify(available(mem))}, vouchers ${JSON.stringify([...mem.vouchers.values()])})`);
  return ok;
}

async function stepPay(r) {
  const mem = r.pick(model.members);
  const m = mem.m;
  const order = orderAmount(r, mem);
  await clearDeadlines();
  const body = { merchantId: m.id, userId: mem.id, orderAmount: order };
  const k = key();
  const res = await call('POST', '/api/payment/verify', { token: mem.token, body, headers: { 'Idempotency-Key': k } });
  assert.ok(res.status === 200 || res.status === 202, `payment: ${res.status} ${res.text}`);
  const j = res.json;
  const q = matchQuote(mem, order, res, j.deduction, j.voucherId, 'payment');
  const { d } = q;
  const paid = d.external === 0;
  assert.equal(res.status, paid ? 200 : 202, `payment status code: ${res.text}`);
  assert.equal(j.status, paid ? 'PAID' : 'PENDING_EXTERNAL');
  assert.equal(j.orderAmount, order);
  assert.equal(j.payable, d.external);
  assert.equal(j.refundedAmount, 0);
  assert.equal(j.externalTxnId, null);
  const fee = paid ? feeOf(order, m.fee) : 0;
  assert.equal(j.feeAmount, fee, `fee of ${order} at ${m.fee} bps`);
  const p = {
    kind: 'payment', id: j.paymentTxnId, merchantId: m.id, userId: mem.id, order, d, voucherId: j.voucherId,
    status: j.status, feeBps: m.fee, fee, refunded: 0, externalTxnId: null, expiresAtMs: 0, refunds: [],
  };
  if (paid) {
    assert.equal(j.expiresAtMs, 0);
    assert.equal(j.paymentIntent, undefined);
    for (const kk of KINDS) mem.posted[kk] -= d[kk];
    if (p.voucherId) mem.vouchers.get(p.voucherId).status = 'USED';
    postPayment(p);
  } else {
    const exp = j.expiresAtMs;
    assert.ok(exp >= res.ts + TTL_MS - SLOP_MS && exp <= res.tr + TTL_MS + SLOP_MS, `payment deadline ${exp} not TTL after [${res.ts}, ${res.tr}]`);
    assert.equal(j.paymentIntent.amount, d.external);
    assert.equal(j.paymentIntent.paymentTxnId, p.id);
    p.expiresAtMs = exp;
    for (const kk of KINDS) mem.held[kk] += d[kk];
    if (p.voucherId) mem.vouchers.get(p.voucherId).status = 'HELD';
  }
  model.payments.set(p.id, p);
  model.idem.push({ what: 'payment', path: '/api/payment/verify', token: mem.token, key: k, body, res, amountField: 'orderAmount' });
  return `pay ${mem.name} ${order} -> ${j.status} ${JSON.stringify(d)}${p.voucherId ? ' ' + p.voucherId : ''} fee ${fee} ${p.id}`;
}

async function stepQuote(r) {
  const mem = r.pick(model.members);
  const order = orderAmount(r, mem);
  await clearDeadlines();
  const res = await call('POST', '/api/payment/quote', { token: mem.token, body: { merchantId: mem.m.id, userId: mem.id, orderAmount: order } });
  expectStatus(res, 200, null, 'quote');
  const sel = res.json.selectedVoucher;
  const q = matchQuote(mem, order, res, res.json.deduction, sel ? sel.id : null, 'quote');
  assert.equal(res.json.payable, q.d.external);
  const av = available(mem);
  assert.deepEqual(res.json.remainingWallet, { principal: av.principal - q.d.principal, bonus: av.bonus - q.d.bonus, silver: av.silver - q.d.silver });
  return `quote ${mem.name} ${order} -> ${JSON.stringify(q.d)}`;
}

function recordCallback(cbId, res) {
  model.callbacks.set(cbId, { status: res.status, text: res.text });
}

/** Send one callback and check it against the model (D28 order: callbackId replay,
 *  externalTxnId replay or conflict, unknown, overdue -> expired, not pending, amount). */
async function doCallback(body, form) {
  const raw = JSON.stringify(body);
  const target = model.payments.get(body.paymentTxnId) || model.topups.get(body.paymentTxnId);
  if (target && target.status === 'PENDING_EXTERNAL') await clearDeadlines([target.expiresAtMs]);
  const res = await sendCallback(raw, form);
  const what = `callback ${raw}`;
  const prior = model.callbacks.get(body.callbackId);
  if (prior) {
    assert.equal(res.status, prior.status, `${what}: replay status`);
    assert.equal(res.text, prior.text, `${what}: a replayed callbackId answers the first answer byte for byte`);
    assert.ok(replayed(res), `${what}: Idempotent-Replayed`);
    return `replay ${res.status}`;
  }
  const applied = model.appliedExt.get(body.externalTxnId);
  if (applied && applied.txnId === body.paymentTxnId) {
    assert.equal(res.status, 200, `${what}: ${res.text}`);
    assert.equal(res.text, applied.text, `${what}: an applied externalTxnId answers its first answer`);
    assert.ok(replayed(res));
    return 'replay of the externalTxnId';
  }
  if (applied) {
    expectStatus(res, 409, 'CONFLICT', what);
    assert.equal(res.json.error.details.externalTxnId, body.externalTxnId);
    recordCallback(body.callbackId, res);
    return '409 externalTxnId of another transaction';
  }
  if (!target || target.merchantId !== body.merchantId) {
    expectStatus(res, 404, 'NOT_FOUND', what);
    recordCallback(body.callbackId, res);
    return '404';
  }
  const isPay = target.kind === 'payment';
  if (target.status === 'PENDING_EXTERNAL') {
    let overdue = side(target.expiresAtMs, res);
    if (overdue === 'unknown') overdue = res.status === 409 && res.json.error.details.status === 'EXPIRED' ? 'past' : 'future';
    if (overdue === 'past') {
      if (isPay) releasePayment(target, 'EXPIRED'); else target.status = 'EXPIRED';
    }
  }
  if (target.status !== 'PENDING_EXTERNAL') {
    expectStatus(res, 409, 'CONFLICT', what);
    assert.equal(res.json.error.details.status, target.status, `${what}: details.status`);
    recordCallback(body.callbackId, res);
    return `409 ${target.status}`;
  }
  const expected = isPay ? target.d.external : target.amount;
  const success = body.status === 'SUCCEEDED' || body.status === 'PAID';
  const amountOk = success ? body.paidAmount === expected : body.paidAmount === 0 || body.paidAmount === expected;
  if (!amountOk) {
    expectStatus(res, 422, 'UNPROCESSABLE', what);
    assert.deepEqual(res.json.error.details, { field: 'paidAmount', expected, received: body.paidAmount });
    recordCallback(body.callbackId, res);
    return '422 paidAmount';
  }
  expectStatus(res, 200, null, what);
  assert.equal(res.json.callbackId, body.callbackId);
  assert.equal(res.json.outcome, success ? 'SETTLED' : 'FAILED');
  assert.ok(!replayed(res));
  if (isPay) {
    if (success) settlePayment(target, body.externalTxnId); else releasePayment(target, 'FAILED');
    const pj = res.json.payment;
    assert.equal(pj.paymentTxnId, target.id);
    assert.equal(pj.status, target.status);
    assert.equal(pj.feeAmount, success ? target.fee : 0, `${what}: fee at the rate fixed at creation (${target.feeBps} bps)`);
    assert.deepEqual(pj.deduction, target.d);
    assert.equal(pj.externalTxnId, success ? body.externalTxnId : null);
  } else {
    target.status = success ? 'SUCCEEDED' : 'FAILED';
    if (success) { target.externalTxnId = body.externalTxnId; creditTopup(target); }
    const tj = res.json.topup;
    assert.equal(tj.topupId, target.id);
    assert.equal(tj.status, target.status);
    assert.equal(tj.bonusAmount, target.bonus);
  }
  recordCallback(body.callbackId, res);
  model.appliedExt.set(body.externalTxnId, { txnId: target.id, text: res.text });
  return `200 ${res.json.outcome}`;
}

async function stepCallback(r) {
  const all = [...model.payments.values(), ...model.topups.values()];
  const pending = all.filter((x) => x.status === 'PENDING_EXTERNAL');
  const final = all.filter((x) => x.status !== 'PENDING_EXTERNAL');
  const kind = r.weighted([
    [pending.length ? 14 : 0, 'success'], [pending.length ? 4 : 0, 'failed'], [pending.length ? 2 : 0, 'wrong-amount'],
    [model.callbacks.size ? 3 : 0, 'replay-id'], [model.appliedExt.size ? 2 : 0, 'replay-ext'],
    [model.appliedExt.size && pending.length ? 1 : 0, 'other-ext'], [final.length ? 1 : 0, 'final'], [1, 'unknown'],
  ]);
  const form = r.pick(['hex', 'stamped']);
  const fresh = (t, extra) => ({
    merchantId: t.merchantId, paymentTxnId: t.id, externalTxnId: `ext_${uniq()}`, status: 'SUCCEEDED',
    paidAmount: t.kind === 'payment' ? t.d.external : t.amount, callbackId: `cb_${uniq()}`, ...extra,
  });
  // mostly the newest pending ones: they have not reached their deadline yet
  const pickPending = () => (r.chance(0.7) ? pending[pending.length - 1 - r.int(0, Math.min(2, pending.length - 1))] : r.pick(pending));
  let body;
  switch (kind) {
    case 'success': body = fresh(pickPending(), { status: r.pick(['SUCCEEDED', 'SUCCEEDED', 'PAID']) }); break;
    case 'failed': {
      const t = pickPending();
      body = fresh(t, { status: 'FAILED', paidAmount: r.chance(0.5) ? 0 : (t.kind === 'payment' ? t.d.external : t.amount) });
      break;
    }
    case 'wrong-amount': {
      const t = pickPending();
      const exp = t.kind === 'payment' ? t.d.external : t.amount;
      let paid = Math.max(1, exp + r.pick([-1, 1, r.int(2, 500), -r.int(2, 500)]));
      if (paid === exp) paid = exp + 1;
      body = fresh(t, { status: r.pick(['SUCCEEDED', 'FAILED']), paidAmount: paid });
      break;
    }
    case 'replay-id': {
      const id = r.pick([...model.callbacks.keys()]);
      body = JSON.parse(lastBodies.get(id));
      break;
    }
    case 'replay-ext': {
      const [ext, a] = r.pick([...model.appliedExt.entries()]);
      const t = model.payments.get(a.txnId) || model.topups.get(a.txnId);
      body = fresh(t, { externalTxnId: ext, status: r.pick(['SUCCEEDED', 'FAILED']) });
      break;
    }
    case 'other-ext': body = fresh(pickPending(), { externalTxnId: r.pick([...model.appliedExt.keys()]) }); break;
    case 'final': body = fresh(r.pick(final)); break;
    default: {
      const t = all.length ? r.pick(all) : null;
      body = t && r.chance(0.5)
        ? fresh(t, { merchantId: model.merchants.find((x) => x.id !== t.merchantId).id }) // another merchant's
        : { merchantId: model.merchants[0].id, paymentTxnId: `pay_${uniq()}`, externalTxnId: `ext_${uniq()}`, status: 'SUCCEEDED', paidAmount: 100, callbackId: `cb_${uniq()}` };
    }
  }
  const outcome = await doCallback(body, form);
  if (!lastBodies.has(body.callbackId)) lastBodies.set(body.callbackId, JSON.stringify(body));
  return `callback ${kind} ${body.paymentTxnId} ${body.status} ${body.paidAmount} (${form}) -> ${outcome}`;
}
const lastBodies = new Map(); // callbackId -> raw body first sent

async function stepExpire(r) {
  if (r.chance(0.4)) await sleep(r.int(200, TTL_MS + 200));
  await clearDeadlines();
  const res = await call('POST', '/admin/transactions/expire-due', { token: adminToken });
  expectStatus(res, 200, null, 'expire-due');
  assert.equal(res.json.more, false);
  const outcome = {};
  for (const [kind, field] of [['payment', 'expiredPayments'], ['topup', 'expiredTopups']]) {
    const items = pendingItems().filter((x) => x.kind === kind).sort((a, b) => a.expiresAtMs - b.expiresAtMs);
    const due = items.filter((x) => side(x.expiresAtMs, res) === 'past');
    const maybe = items.filter((x) => side(x.expiresAtMs, res) === 'unknown');
    const n = res.json[field];
    assert.ok(n >= due.length && n <= due.length + maybe.length,
      `expire-due ${field} = ${n}, the model has ${due.length} due (${maybe.length} at the edge): ${res.text}`);
    // all that are due expire; at the edge, the earliest deadlines first
    for (const x of [...due, ...maybe.slice(0, n - due.length)]) {
      if (kind === 'payment') releasePayment(x, 'EXPIRED'); else x.status = 'EXPIRED';
    }
    outcome[field] = n;
  }
  return `expire-due -> ${JSON.stringify(outcome)}`;
}

async function stepWait(r) {
  const ms = r.int(100, TTL_MS + 100);
  await sleep(ms);
  return `wait ${ms} ms`;
}

/** The model's answer to a refund, or asserts the refusal. */
async function doRefund(p, amount, { k = key(), token } = {}) {
  const m = merchantById(p.merchantId);
  const mem = memberById(p.userId);
  const body = { merchantId: p.merchantId, paymentTxnId: p.id, refundAmount: amount };
  const res = await call('POST', '/api/payment/refund', { token: token || m.owner, body, headers: { 'Idempotency-Key': k } });
  const what = `refund ${amount} of ${p.id} (${p.status}, order ${p.order}, refunded ${p.refunded})`;
  if (p.status !== 'PAID') {
    expectStatus(res, 409, 'CONFLICT', what);
    assert.equal(res.json.error.details.status, p.status);
    model.refused.push({ p, amount, k });
    return `409 ${p.status}`;
  }
  const refundable = p.order - p.refunded;
  if (amount > refundable) {
    expectStatus(res, 422, 'UNPROCESSABLE', what);
    assert.deepEqual(res.json.error.details, { field: 'refundAmount', refundAmount: amount, orderAmount: p.order, refundedAmount: p.refunded, refundable });
    model.refused.push({ p, amount, k });
    return `422 (refundable ${refundable})`;
  }
  expectStatus(res, 200, null, what);
  const before = p.refunded;
  const external = cumShare(p.d.external, p.order, before, amount);
  const walletShare = amount - external;
  const feeReversal = cumShare(p.fee, p.order, before, amount);
  const consumed = consumedUpTo(p.d, p.order, before + amount) - consumedUpTo(p.d, p.order, before);
  const reclaim = Math.min(amount, consumed);
  const av = available(mem);
  const fromBonus = Math.min(reclaim, av.bonus);
  const principalNow = av.principal + walletShare;
  const fromPrincipal = Math.min(reclaim - fromBonus, principalNow);
  const unrecovered = reclaim - fromBonus - fromPrincipal;
  mem.posted.principal += walletShare - fromPrincipal;
  mem.posted.bonus -= fromBonus;
  p.refunded += amount;
  const status = external > 0 ? 'OWED' : 'NONE';
  p.refunds.push({ amount, walletShare, externalShare: external, clawbackBonus: fromBonus, clawbackPrincipal: fromPrincipal, unrecovered, feeReversal, externalStatus: status });
  post(p.merchantId, 'REFUND', [[...MER(p.merchantId, 'payable'), amount], [...M(mem, 'principal'), -walletShare], [...PLAT('refund_payable'), -external]]);
  post(p.merchantId, 'CLAWBACK', [[...M(mem, 'bonus'), fromBonus], [...M(mem, 'principal'), fromPrincipal], [...MER(p.merchantId, 'marketing'), -(fromBonus + fromPrincipal)]]);
  post(p.merchantId, 'FEE_REVERSAL', [[...PLAT('fee_income'), feeReversal], [...MER(p.merchantId, 'payable'), -feeReversal]]);
  const j = res.json;
  assert.match(String(j.refundTxnId), /^rfd_/);
  assert.equal(j.paymentTxnId, p.id);
  assert.equal(j.refundAmount, amount);
  assert.equal(j.refundedAmount, p.refunded);
  assert.equal(j.orderAmount, p.order);
  assert.equal(j.walletRefund, walletShare, `${what}: walletRefund`);
  assert.deepEqual(j.externalRefund, { amount: external, status }, `${what}: externalRefund`);
  assert.equal(j.feeReversal, feeReversal, `${what}: feeReversal of fee ${p.fee}`);
  assert.deepEqual(j.clawback, { bonusConsumed: consumed, reclaimTarget: reclaim, fromBonus, fromPrincipal, unrecovered }, `${what}: clawback (available ${JSON.stringify(av)})`);
  assert.deepEqual(j.wallet, mem.posted, `${what}: wallet after the refund`);
  model.idem.push({ what: 'refund', path: '/api/payment/refund', token: token || m.owner, key: k, body, res, amountField: 'refundAmount' });
  // the payment's refund list, oldest first
  const d = await call('GET', `/api/merchants/${p.merchantId}/transactions/${p.id}`, { token: m.owner });
  expectStatus(d, 200, null, 'transaction detail');
  assert.deepEqual(d.json.refunds.map((x) => ({
    amount: x.amount, walletShare: x.walletShare, externalShare: x.externalShare, clawbackBonus: x.clawbackBonus,
    clawbackPrincipal: x.clawbackPrincipal, unrecovered: x.unrecovered, feeReversal: x.feeReversal, externalStatus: x.externalStatus,
  })), p.refunds, `refund list of ${p.id}`);
  return `200 wallet ${walletShare} external ${external} fee back ${feeReversal} clawback ${fromBonus}+${fromPrincipal}${unrecovered ? ` unrecovered ${unrecovered}` : ''}`;
}

async function stepRefund(r) {
  const all = [...model.payments.values()];
  if (!all.length) return stepPay(r);
  const open = all.filter((p) => p.status === 'PAID' && p.refunded < p.order);
  if (model.refused.length && r.chance(0.08)) { // a refused refund's key is free: the same request runs again
    const x = r.pick(model.refused);
    model.refused.splice(model.refused.indexOf(x), 1);
    return `refund again (key ${x.k}) ${x.amount} of ${x.p.id} -> ${await doRefund(x.p, x.amount, { k: x.k })}`;
  }
  const p = open.length && r.chance(0.85) ? r.pick(open) : r.pick(all);
  const left = p.order - p.refunded;
  let amount;
  if (left <= 0) amount = r.int(1, 100);
  else amount = r.weighted([[3, left], [4, r.int(1, left)], [1, 1], [1, Math.min(left, r.int(1, 9))], [2, left + r.int(1, 500)]]);
  const role = r.weighted([[6, 'OWNER'], [1, 'MANAGER'], [1, 'FINANCE']]);
  const token = role === 'OWNER' ? undefined : await roleToken(role, p.merchantId);
  return `refund ${amount} of ${p.id} (order ${p.order}, left ${left}, ${p.status}) as ${role} -> ${await doRefund(p, amount, { token })}`;
}
const roleTokens = new Map();
async function roleToken(role, merchantId) {
  const k = `${role}|${merchantId}`;
  if (!roleTokens.has(k)) roleTokens.set(k, await mockToken(base, role, merchantId));
  return roleTokens.get(k);
}

async function stepReplay(r) {
  if (!model.idem.length) return stepCashTopup(r);
  const x = r.pick(model.idem);
  if (r.chance(0.75)) {
    const res = await call('POST', x.path, { token: x.token, body: x.body, headers: { 'Idempotency-Key': x.key } });
    assert.equal(res.status, x.res.status, `replay of ${x.what} ${x.key}: ${res.text}`);
    assert.equal(res.text, x.res.text, `replay of ${x.what} ${x.key} returns the first body byte for byte`);
    assert.ok(replayed(res), 'Idempotent-Replayed: true');
    return `replay ${x.what} ${x.key} -> ${res.status} (identical)`;
  }
  const other = { ...x.body, [x.amountField]: x.body[x.amountField] + r.int(1, 50) };
  const res = await call('POST', x.path, { token: x.token, body: other, headers: { 'Idempotency-Key': x.key } });
  expectStatus(res, 422, 'UNPROCESSABLE', `${x.what} key ${x.key} with another body`);
  assert.equal(res.json.error.details.header, 'Idempotency-Key');
  return `reuse ${x.what} key ${x.key} with ${x.amountField} ${other[x.amountField]} -> 422`;
}

async function stepRules(r) {
  const m = r.pick(model.merchants);
  const n = r.weighted([[1, 0], [2, 1], [2, 2], [1, 3]]);
  const rules = [];
  while (rules.length < n) {
    const minAmount = r.amount(20000);
    if (!rules.some((x) => x.minAmount === minAmount)) rules.push({ minAmount, bonusAmount: r.amount(2000) });
  }
  const res = await call('PUT', `/api/merchants/${m.id}/topup-bonus-rules`, { token: m.owner, body: { rules } });
  expectStatus(res, 200, null, 'top-up bonus rules');
  m.rules = rules;
  return `rules ${m.name} ${JSON.stringify(rules)}`;
}

async function stepFee(r) {
  const m = r.pick(model.merchants);
  const bps = r.pick([-1, 0, 1, 99, 137, 333, 555]);
  const res = await call('PATCH', `/admin/merchants/${m.id}`, { token: adminToken, body: { platformFeeBps: bps } });
  expectStatus(res, 200, null, 'merchant fee');
  m.fee = bps < 0 ? DEFAULT_FEE_BPS : bps;
  return `fee ${m.name} ${bps} -> ${m.fee} bps`;
}

const STEP_KINDS = [
  [9, stepCashTopup], [4, stepExternalTopup], [9, stepGrant], [22, stepPay], [3, stepQuote], [18, stepCallback],
  [15, stepRefund], [4, stepExpire], [2, stepWait], [7, stepReplay], [2, stepRules], [1, stepFee],
];

// ------------------------------------------------------------------------------ checks
async function checkWallet(mem) {
  const res = await call('GET', `/api/wallet?merchantId=${mem.m.id}&userId=${mem.id}`, { token: mem.token });
  expectStatus(res, 200, null, 'wallet');
  const w = res.json;
  assert.deepEqual(w.balance, mem.posted, `${mem.name} (${mem.id}) posted balance`);
  assert.deepEqual(w.held, mem.held, `${mem.name} (${mem.id}) held`);
  assert.deepEqual(w.available, available(mem), `${mem.name} (${mem.id}) available`);
  for (const k of KINDS) assert.ok(w.available[k] >= 0, `${mem.name}: available ${k} below zero`);
  // the documented order: earliest expiry (never last), then the higher value
  const ord = (v) => [v.expiresAtMs === 0 ? Infinity : v.expiresAtMs, -v.value];
  for (let i = 1; i < w.vouchers.length; i++) {
    const [a, b] = [ord(w.vouchers[i - 1]), ord(w.vouchers[i])];
    assert.ok(a[0] < b[0] || (a[0] === b[0] && a[1] <= b[1]), `${mem.name}: vouchers out of order ${JSON.stringify(w.vouchers)}`);
  }
  const got = JSON.stringify(w.vouchers.map((v) => ({ id: v.id, value: v.value, minSpend: v.minSpend, expiresAtMs: v.expiresAtMs, status: v.status }))
    .sort((a, b) => (a.id < b.id ? -1 : 1)));
  const early = JSON.stringify(visibleVouchers(mem, res.ts - SLOP_MS));
  const late = JSON.stringify(visibleVouchers(mem, res.tr + SLOP_MS));
  assert.ok(got === early || got === late, `${mem.name} (${mem.id}) vouchers: server ${got}, model ${late}`);
}

async function listAll(path, token) {
  const items = [];
  let cursor = null;
  for (let i = 0; i < 100; i++) {
    const res = await call('GET', `${path}${path.includes('?') ? '&' : '?'}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token });
    expectStatus(res, 200, null, path);
    items.push(...res.json.items);
    cursor = res.json.next_cursor;
    if (!cursor) return items;
  }
  assert.fail(`too many pages at ${path}`);
}

async function checkTransactions(m) {
  const items = await listAll(`/api/merchants/${m.id}/transactions`, m.owner);
  const mine = [...model.payments.values()].filter((p) => p.merchantId === m.id);
  assert.deepEqual(items.map((x) => x.paymentTxnId).sort(), mine.map((p) => p.id).sort(), `${m.name}: the payments listed`);
  const byId = new Map(items.map((x) => [x.paymentTxnId, x]));
  for (const p of mine) {
    const x = byId.get(p.id);
    const got = {
      status: x.status, userId: x.userId, orderAmount: x.orderAmount, deduction: x.deduction, payable: x.payable,
      voucherId: x.voucherId, feeBps: x.feeBps, feeAmount: x.feeAmount, refundedAmount: x.refundedAmount,
      externalTxnId: x.externalTxnId, expiresAtMs: x.expiresAtMs,
    };
    const want = {
      status: p.status, userId: p.userId, orderAmount: p.order, deduction: p.d, payable: p.d.external,
      voucherId: p.voucherId, feeBps: p.feeBps, feeAmount: p.status === 'PAID' ? p.fee : 0, refundedAmount: p.refunded,
      externalTxnId: p.externalTxnId, expiresAtMs: p.expiresAtMs,
    };
    assert.deepEqual(got, want, `payment ${p.id}`);
  }
}

async function checkAll() {
  await Promise.all([...model.members.map(checkWallet), ...model.merchants.map(checkTransactions)]);
}

/** The merchants' journal, summed per entry kind and account and counted per kind, against
 *  the model's; every entry balances; the member accounts match the wallets. */
async function checkLedger() {
  const sums = new Map();
  const counts = new Map();
  for (const m of model.merchants) {
    const entries = await listAll(`/api/merchants/${m.id}/ledger-entries`, m.owner);
    for (const e of entries) {
      assert.equal(e.merchantId, m.id);
      assert.equal(e.lines.reduce((acc, l) => acc + l.amount, 0), 0, `entry ${e.id} (${e.kind}) does not balance`);
      const ek = `${m.id}|${e.kind}`;
      counts.set(ek, (counts.get(ek) || 0) + 1);
      for (const l of e.lines) {
        const k = `${m.id}|${e.kind}|${l.ownerKind}:${l.ownerId}:${l.accountKind}`;
        sums.set(k, (sums.get(k) || 0) + l.amount);
      }
    }
  }
  const clean = (map) => Object.fromEntries([...map.entries()].filter(([, v]) => v !== 0).sort(([a], [b]) => (a < b ? -1 : 1)));
  assert.deepEqual(clean(counts), clean(model.entries), 'journal entries per merchant and kind');
  assert.deepEqual(clean(sums), clean(model.ledger), 'journal lines per merchant, kind and account');
  // what the merchant is owed and what the platform earned, by merchant (credit-normal: −Σ)
  const total = (map, mid, acct) => [...map.entries()].filter(([k]) => k.startsWith(`${mid}|`) && k.endsWith(acct)).reduce((a, [, v]) => a + v, 0);
  const summary = {};
  for (const m of model.merchants) {
    summary[m.name] = { payable: -total(sums, m.id, ':payable'), feeIncome: -total(sums, `${m.id}`, 'platform:platform:fee_income') };
  }
  return summary;
}

// ------------------------------------------------------------------------------- the test
test(`money property test (${STORE}, seed ${SEED}, ${STEPS} steps)`, { timeout: (MAX_S + 60) * 1000 }, async () => {
  console.log(`# property test: MPS_PROPERTY_SEED=${SEED} MPS_PROPERTY_STEPS=${STEPS} (store ${STORE})`);
  const store = newStore();
  s = await startOn(store, {
    MPS_PLATFORM_FEE_BPS: String(DEFAULT_FEE_BPS), MPS_PAYMENT_PENDING_TTL_S: String(TTL_MS / 1000),
    MPS_EXPIRY_SWEEP_INTERVAL_S: '0', MPS_PAYMENT_CALLBACK_SECRET: CALLBACK_SECRET, MPS_RATE_CALLBACK_PER_MIN: '0',
  });
  base = s.base;
  model.refused = []; // refunds refused (409/422): their keys stay free
  const history = [];
  const t0 = Date.now();
  let step = 0;
  try {
    adminToken = await mockToken(base, 'admin');
    for (const [name, fee, n] of [['A', null, 3], ['B', 137, 2]]) {
      const id = `mp${name.toLowerCase()}_${uniq()}`;
      const r = await call('POST', '/admin/merchants', { token: adminToken, body: { id, name: `Property ${name}`, currency: 'IDR', timeZone: 'UTC' } });
      expectStatus(r, 201, null, 'merchant');
      const m = { id, name, fee: DEFAULT_FEE_BPS, rules: [], owner: await mockToken(base, 'OWNER', id) };
      if (fee !== null) {
        expectStatus(await call('PATCH', `/admin/merchants/${id}`, { token: adminToken, body: { platformFeeBps: fee } }), 200, null, 'fee');
        m.fee = fee;
      }
      model.merchants.push(m);
      for (let i = 0; i < n; i++) {
        const phone = `+62813${String(SEED % 10000).padStart(4, '0')}${String(model.members.length).padStart(3, '0')}`;
        const mr = await call('POST', `/api/merchants/${id}/members`, { token: m.owner, body: { phone, displayName: `${name}${i}` } });
        expectStatus(mr, 201, null, 'member');
        model.members.push({ id: mr.json.id, name: `${name}${i}`, m, token: await mockToken(base, 'CUSTOMER', id, mr.json.id),
          posted: buckets(), held: buckets(), vouchers: new Map() });
      }
    }
    await checkAll();
    for (step = 1; step <= STEPS; step++) {
      if ((Date.now() - t0) / 1000 > MAX_S) {
        console.log(`# stopping after ${step - 1} steps: MPS_PROPERTY_MAX_S=${MAX_S} reached`);
        break;
      }
      const r = new Rng(SEED, step);
      const fn = r.weighted(STEP_KINDS);
      history.push(`#${step} ${fn.name}`);
      const line = await fn(r);
      history[history.length - 1] = `#${step} ${line}`;
      if (VERBOSE) console.log(`# ${history[history.length - 1]}`);
      await checkAll();
      if (step % CHECKPOINT_EVERY === 0) await checkLedger();
    }
    step = 'end';
    const summary = await checkLedger();
    const count = (st) => [...model.payments.values()].filter((p) => p.status === st).length;
    console.log(`# ${history.length} steps in ${((Date.now() - t0) / 1000).toFixed(1)} s: payments PAID ${count('PAID')}, ` +
      `PENDING ${count('PENDING_EXTERNAL')}, FAILED ${count('FAILED')}, EXPIRED ${count('EXPIRED')}; refunds ` +
      `${[...model.payments.values()].reduce((a, p) => a + p.refunds.length, 0)}; callbacks ${model.callbacks.size}; ` +
      `ledger ${JSON.stringify(summary)}`);
  } catch (e) {
    const msg = `property test failed at step ${step} (MPS_PROPERTY_SEED=${SEED} MPS_PROPERTY_STEPS=${STEPS}, store ${STORE}):\n` +
      `${e.message}\n--- steps ---\n${history.join('\n')}`;
    await s.stop({ verify: false }).catch(() => {});
    store.drop();
    const err = new Error(msg);
    err.stack = `${msg}\n${e.stack}`;
    throw err;
  }
  const r = await s.stop();
  assert.equal(r.code, 0, r.stderr.slice(-2000));
  try {
    assertVerifies(store, 'after the property test');
  } finally {
    store.drop();
  }
});
