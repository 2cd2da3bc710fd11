// tests/api/refunds.test.mjs — black-box tests of POST /api/payment/refund: the three
// clawback cases through the real API (grants, top-ups, payments, then refunds), partial and
// repeated refunds up to the amount paid (then 422), the fee reversal adding up to the whole
// fee, Idempotency-Key (required, replay, mismatch), who may refund (owner, manager, merchant
// finance; not clerk, viewer, members, platform staff or another merchant), PAID only (409),
// 20 concurrent refunds on one payment, and the ledger left balanced (read from the store).
//
// Run: node --test tests/api/refunds.test.mjs (MPS_BIN_DIR, MPS_TEST_STORE,
// MPS_TEST_PG_ADMIN_URL: see lib/server.mjs)
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { createHmac } from 'node:crypto';
import { STORE, startServer, expectEnvelope, runMpsd } from './lib/server.mjs';
import { ACCOUNT_BALANCE, BALANCE_DRIFT_SQL } from './lib/money.mjs';

const FEE_BPS = 250;
const CALLBACK_SECRET = 'refund-test-gateway-secret-0123456789';
const HAS_CALLBACK = runMpsd(['--routes']).stdout.includes('/api/payment/callback');
let s;
const tokens = new Map(); // "role|merchantId|userId" -> token

async function call(method, urlPath, { token, body, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  if (body !== undefined) h['Content-Type'] = 'application/json';
  const res = await fetch(`${s.base}${urlPath}`, {
    method, headers: h, body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, body: json, text, headers: res.headers };
}

async function expectError(r, status, code) {
  return expectEnvelope({ status: r.status, text: async () => r.text, headers: r.headers }, status, code);
}

async function tokenFor(role, merchantId, userId) {
  const key = `${role}|${merchantId || ''}|${userId || ''}`;
  if (tokens.has(key)) return tokens.get(key);
  const body = { role };
  if (merchantId) body.merchantId = merchantId;
  if (userId) body.userId = userId;
  const r = await call('POST', '/api/auth/mock-login', { body });
  assert.equal(r.status, 200, r.text);
  tokens.set(key, r.body.token);
  return r.body.token;
}
const admin = () => tokenFor('admin');
const owner = (m) => tokenFor('OWNER', m);

let seq = 0;
const uniq = () => `${process.pid}_${Date.now().toString(36)}_${++seq}`;
const key = () => `k-${uniq()}`;

async function newMerchant() {
  const id = `mr_${uniq()}`;
  const r = await call('POST', '/admin/merchants', {
    token: await admin(), body: { id, name: `Merchant ${id}`, currency: 'IDR', timeZone: 'Asia/Jakarta' },
  });
  assert.equal(r.status, 201, r.text);
  return id;
}

let phoneSeq = 0;
async function newMember(m) {
  const phone = `+62811${String(process.pid % 10000).padStart(4, '0')}${String(++phoneSeq).padStart(3, '0')}`;
  const r = await call('POST', `/api/merchants/${m}/members`, { token: await owner(m), body: { phone, displayName: 'Member' } });
  assert.equal(r.status, 201, r.text);
  return r.body.id;
}

async function grant(m, userId, type, amount) {
  const body = { merchantId: m, userId, type };
  if (type === 'VOUCHER') body.value = amount; else body.amount = amount;
  const r = await call('POST', '/api/merchant/grants', { token: await owner(m), body, headers: { 'Idempotency-Key': key() } });
  assert.equal(r.status, 201, r.text);
}

async function topup(m, userId, amount) {
  const r = await call('POST', '/api/wallet/topup', {
    token: await owner(m), body: { merchantId: m, userId, amount, method: 'CASH' }, headers: { 'Idempotency-Key': key() },
  });
  assert.equal(r.status, 201, r.text);
}

async function pay(m, userId, orderAmount, status = 200) {
  const r = await call('POST', '/api/payment/verify', {
    token: await owner(m), body: { merchantId: m, userId, orderAmount }, headers: { 'Idempotency-Key': key() },
  });
  assert.equal(r.status, status, r.text);
  return r.body;
}

async function wallet(m, userId) {
  const r = await call('GET', `/api/wallet?merchantId=${m}&userId=${userId}`, { token: await owner(m) });
  assert.equal(r.status, 200, r.text);
  return r.body.balance;
}

function refund(m, paymentTxnId, refundAmount, { token, idem = key(), merchantId = m } = {}) {
  return (async () => call('POST', '/api/payment/refund', {
    token: token || await owner(m), body: { merchantId, paymentTxnId, refundAmount },
    headers: idem === null ? {} : { 'Idempotency-Key': idem },
  }))();
}

/** A member paid with principal only: {m, userId, payment}. */
async function principalPayment(order, { m, cash = order } = {}) {
  m = m || await newMerchant();
  const userId = await newMember(m);
  await topup(m, userId, cash);
  const payment = await pay(m, userId, order);
  assert.equal(payment.status, 'PAID');
  assert.equal(payment.deduction.principal, order);
  return { m, userId, payment };
}

/** Change the server's store behind its back (a row an older version or an import left out). */
function sqlWrite(statement) {
  if (STORE === 'postgres') {
    execFileSync('psql', [s.dbUrl, '-v', 'ON_ERROR_STOP=1', '-qAt', '-c', statement], { encoding: 'utf8' });
  } else {
    execFileSync('sqlite3', ['-bail', '-cmd', '.timeout 5000', path.join(s.dataDir, 'mps.db'), statement], { encoding: 'utf8' });
  }
}

/** Run SQL against the server's store (read only); rows as arrays of strings. */
function sql(query) {
  let out;
  if (STORE === 'postgres') {
    out = execFileSync('psql', [s.dbUrl, '-v', 'ON_ERROR_STOP=1', '-qAt', '-F', '|', '-c', query], { encoding: 'utf8' });
  } else {
    out = execFileSync('sqlite3', ['-readonly', '-separator', '|', path.join(s.dataDir, 'mps.db'), query], { encoding: 'utf8' });
  }
  return out.split('\n').filter((l) => l.length).map((l) => l.split('|'));
}

before(async () => {
  s = await startServer({
    env: { MPS_DEV_MODE: '1', MPS_RATE_LOGIN_PER_MIN: '0', MPS_RATE_ADMIN_WRITE_PER_MIN: '0', MPS_PLATFORM_FEE_BPS: String(FEE_BPS),
      MPS_RATE_CALLBACK_PER_MIN: '0', MPS_PAYMENT_CALLBACK_SECRET: CALLBACK_SECRET },
  });
});
after(async () => {
  if (s) await s.stop();
});

describe('the issue\'s clawback cases', () => {
  it('refund 2000 of the 5200 payment (voucher 1800 + bonus 3400) -> wallet {12892, 0, 8800}', async () => {
    const m = await newMerchant();
    const u = await newMember(m);
    await grant(m, u, 'BONUS', 3600);
    await grant(m, u, 'VOUCHER', 1800);
    await topup(m, u, 12000);
    await grant(m, u, 'SILVER', 8800);
    const p = await pay(m, u, 5200);
    assert.equal(p.status, 'PAID');
    assert.deepEqual(p.deduction, { voucher: 1800, bonus: 3400, principal: 0, silver: 0, external: 0 });
    assert.equal(p.feeAmount, 130); // round(5200 × 2.5 %)
    assert.deepEqual(await wallet(m, u), { principal: 12000, bonus: 200, silver: 8800 });

    const r = await refund(m, p.paymentTxnId, 2000);
    assert.equal(r.status, 200, r.text);
    assert.match(r.body.refundTxnId, /^rfd_/);
    assert.equal(r.body.paymentTxnId, p.paymentTxnId);
    assert.equal(r.body.refundAmount, 2000);
    assert.equal(r.body.refundedAmount, 2000);
    assert.deepEqual(r.body.wallet, { principal: 12892, bonus: 0, silver: 8800 });
    assert.deepEqual(r.body.clawback, { bonusConsumed: 1308, reclaimTarget: 1308, fromBonus: 200, fromPrincipal: 1108, unrecovered: 0 });
    assert.deepEqual(r.body.externalRefund, { amount: 0, status: 'NONE' });
    assert.equal(r.body.feeReversal, 50); // round(130 × 2000 / 5200)
    assert.deepEqual(await wallet(m, u), { principal: 12892, bonus: 0, silver: 8800 });
  });

  it('wallet {10000, 2000}, refund 3000 with bonusConsumed 1200 -> {13000, 800}', async () => {
    const m = await newMerchant();
    const u = await newMember(m);
    await grant(m, u, 'BONUS', 1200);
    await topup(m, u, 11800);
    const p = await pay(m, u, 3000); // bonus 1200 + principal 1800
    assert.deepEqual(p.deduction, { voucher: 0, bonus: 1200, principal: 1800, silver: 0, external: 0 });
    await grant(m, u, 'BONUS', 2000);
    assert.deepEqual(await wallet(m, u), { principal: 10000, bonus: 2000, silver: 0 });
    const r = await refund(m, p.paymentTxnId, 3000);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.wallet, { principal: 13000, bonus: 800, silver: 0 });
    assert.deepEqual(r.body.clawback, { bonusConsumed: 1200, reclaimTarget: 1200, fromBonus: 1200, fromPrincipal: 0, unrecovered: 0 });
    assert.equal(r.body.feeReversal, p.feeAmount); // a full refund gives the whole fee back
    assert.deepEqual(await wallet(m, u), { principal: 13000, bonus: 800, silver: 0 });
  });

  it('wallet {4000, 200}, refund 1000 with bonusConsumed 800 -> {4400, 0}, fromPrincipal 600', async () => {
    const m = await newMerchant();
    const u = await newMember(m);
    await grant(m, u, 'BONUS', 800);
    await topup(m, u, 4200);
    const p = await pay(m, u, 1000); // bonus 800 + principal 200
    assert.deepEqual(p.deduction, { voucher: 0, bonus: 800, principal: 200, silver: 0, external: 0 });
    await grant(m, u, 'BONUS', 200);
    assert.deepEqual(await wallet(m, u), { principal: 4000, bonus: 200, silver: 0 });
    const r = await refund(m, p.paymentTxnId, 1000);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.wallet, { principal: 4400, bonus: 0, silver: 0 });
    assert.deepEqual(r.body.clawback, { bonusConsumed: 800, reclaimTarget: 800, fromBonus: 200, fromPrincipal: 600, unrecovered: 0 });
    assert.deepEqual(await wallet(m, u), { principal: 4400, bonus: 0, silver: 0 });
  });
});

describe('partial and repeated refunds', () => {
  it('add up to the amount paid, reverse the whole fee, and one more is 422', async () => {
    const { m, userId, payment } = await principalPayment(1001);
    assert.equal(payment.feeAmount, 25); // round(1001 × 2.5 %) = round(25.025)
    const parts = [333, 333, 335];
    const roles = ['OWNER', 'MANAGER', 'FINANCE']; // each allowed role refunds once
    let refunded = 0;
    let fee = 0;
    for (let i = 0; i < parts.length; i++) {
      const r = await refund(m, payment.paymentTxnId, parts[i], { token: await tokenFor(roles[i], m) });
      assert.equal(r.status, 200, r.text);
      refunded += parts[i];
      fee += r.body.feeReversal;
      assert.equal(r.body.refundAmount, parts[i]);
      assert.equal(r.body.refundedAmount, refunded);
      assert.equal(r.body.wallet.principal, refunded);
    }
    assert.equal(fee, 25, 'the fee reversals add up to the fee');
    const more = await refund(m, payment.paymentTxnId, 1);
    const e = await expectError(more, 422, 'UNPROCESSABLE');
    assert.equal(e.error.details.refundable, 0);
    assert.equal(e.error.details.refundedAmount, 1001);
    assert.deepEqual(await wallet(m, userId), { principal: 1001, bonus: 0, silver: 0 });
  });

  it('a member bucket account that does not exist yet is created, and the refund goes through', async () => {
    // a payment creates all three buckets; take the unused ones away, as a store written by
    // another version or an import may have them (on PostgreSQL the refund reads the buckets
    // three times in its pipelines, and the read after creating one must not take a stale
    // answer: it was a 503 every time)
    const { m, userId, payment } = await principalPayment(700);
    sqlWrite(`DELETE FROM ledger_accounts WHERE owner_kind = 'member' AND owner_id = '${userId}' AND kind IN ('bonus', 'silver')`);
    assert.deepEqual(sql(`SELECT kind FROM ledger_accounts WHERE owner_kind = 'member' AND owner_id = '${userId}'`), [['principal']]);
    const r = await refund(m, payment.paymentTxnId, 300);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.wallet, { principal: 300, bonus: 0, silver: 0 });
    assert.equal(sql(`SELECT count(*) FROM ledger_accounts WHERE owner_kind = 'member' AND owner_id = '${userId}'`)[0][0], '3');
    assert.deepEqual(await wallet(m, userId), { principal: 300, bonus: 0, silver: 0 });
  });

  it('more than is left is 422 with the refundable amount, and nothing moves', async () => {
    const { m, userId, payment } = await principalPayment(500);
    assert.equal((await refund(m, payment.paymentTxnId, 200)).status, 200);
    const r = await refund(m, payment.paymentTxnId, 301);
    const e = await expectError(r, 422, 'UNPROCESSABLE');
    assert.deepEqual(e.error.details, { field: 'refundAmount', refundAmount: 301, orderAmount: 500, refundedAmount: 200, refundable: 300 });
    assert.equal((await wallet(m, userId)).principal, 200);
    const rest = await refund(m, payment.paymentTxnId, 300);
    assert.equal(rest.status, 200, rest.text);
    assert.equal(rest.body.refundedAmount, 500);
  });

  it('a payment refunded in parts leaves the wallet where one full refund would (bonus consumed)', async () => {
    // two members, same history: one refunds 5200 at once, the other 2000 + 2000 + 1200
    const m = await newMerchant();
    const results = [];
    for (const parts of [[5200], [2000, 2000, 1200]]) {
      const u = await newMember(m);
      await grant(m, u, 'BONUS', 3600);
      await grant(m, u, 'VOUCHER', 1800);
      await topup(m, u, 12000);
      const p = await pay(m, u, 5200);
      let fee = 0;
      let consumed = 0;
      let last;
      for (const a of parts) {
        last = await refund(m, p.paymentTxnId, a);
        assert.equal(last.status, 200, last.text);
        fee += last.body.feeReversal;
        consumed += last.body.clawback.bonusConsumed;
      }
      results.push({ wallet: last.body.wallet, fee, consumed });
    }
    assert.deepEqual(results[1], results[0]);
    assert.deepEqual(results[0], { wallet: { principal: 14000, bonus: 0, silver: 0 }, fee: 130, consumed: 3400 });
  });
});

describe('Idempotency-Key', () => {
  it('is required', async () => {
    const { m, payment } = await principalPayment(300);
    const r = await refund(m, payment.paymentTxnId, 100, { idem: null });
    const e = await expectError(r, 400, 'BAD_REQUEST');
    assert.equal(e.error.details.header, 'Idempotency-Key');
  });

  it('a replay returns the same body and refunds once; another amount with the key is 422', async () => {
    const { m, userId, payment } = await principalPayment(1000);
    const k = key();
    const first = await refund(m, payment.paymentTxnId, 400, { idem: k });
    assert.equal(first.status, 200, first.text);
    const again = await refund(m, payment.paymentTxnId, 400, { idem: k });
    assert.equal(again.status, 200, again.text);
    assert.equal(again.text, first.text, 'byte for byte');
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal((await wallet(m, userId)).principal, 400, 'refunded once');
    const other = await refund(m, payment.paymentTxnId, 300, { idem: k });
    await expectError(other, 422, 'UNPROCESSABLE');
    assert.equal((await wallet(m, userId)).principal, 400);
    const next = await refund(m, payment.paymentTxnId, 300);
    assert.equal(next.status, 200, next.text);
    assert.equal(next.body.refundedAmount, 700);
  });
});

describe('who may refund', () => {
  let m;
  let payment;
  let userId;
  before(async () => ({ m, payment, userId } = await principalPayment(1000)));

  for (const role of ['CLERK', 'VIEWER', 'OPS']) {
    it(`merchant ${role.toLowerCase()} -> 403`, async () => {
      await expectError(await refund(m, payment.paymentTxnId, 10, { token: await tokenFor(role, m) }), 403, 'FORBIDDEN');
    });
  }
  for (const role of ['admin', 'finance', 'support']) {
    it(`platform ${role} -> 403`, async () => {
      await expectError(await refund(m, payment.paymentTxnId, 10, { token: await tokenFor(role) }), 403, 'FORBIDDEN');
    });
  }
  it('the member -> 403', async () => {
    await expectError(await refund(m, payment.paymentTxnId, 10, { token: await tokenFor('member', m, userId) }), 403, 'FORBIDDEN');
  });
  it('no token -> 401', async () => {
    const r = await call('POST', '/api/payment/refund', {
      body: { merchantId: m, paymentTxnId: payment.paymentTxnId, refundAmount: 10 }, headers: { 'Idempotency-Key': key() },
    });
    await expectError(r, 401, 'UNAUTHORIZED');
  });
  it('another merchant\'s owner naming this merchant -> 403 MERCHANT_SCOPE_DENIED, audited', async () => {
    const other = await newMerchant();
    const r = await refund(m, payment.paymentTxnId, 10, { token: await owner(other) });
    await expectError(r, 403, 'MERCHANT_SCOPE_DENIED');
    const logs = await call('GET', `/api/audit/logs?merchantId=${other}&status=DENIED`, { token: await owner(other) });
    assert.equal(logs.status, 200, logs.text);
    assert.ok(logs.body.items.length >= 1, logs.text);
  });
  it('another merchant\'s owner naming their own merchant -> 404 (the payment is not theirs)', async () => {
    const other = await newMerchant();
    const r = await refund(other, payment.paymentTxnId, 10, { token: await owner(other) });
    await expectError(r, 404, 'NOT_FOUND');
  });
  it('nothing was refunded by any of them', async () => {
    assert.equal((await wallet(m, userId)).principal, 0);
    const r = await refund(m, payment.paymentTxnId, 1000);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.refundedAmount, 1000);
  });
});

describe('refusals', () => {
  it('a PENDING_EXTERNAL payment -> 409', async () => {
    const m = await newMerchant();
    const u = await newMember(m);
    await topup(m, u, 100);
    const p = await pay(m, u, 1000, 202);
    assert.equal(p.status, 'PENDING_EXTERNAL');
    const r = await refund(m, p.paymentTxnId, 100);
    const e = await expectError(r, 409, 'CONFLICT');
    assert.equal(e.error.details.status, 'PENDING_EXTERNAL');
    assert.deepEqual((await wallet(m, u)), { principal: 100, bonus: 0, silver: 0 });
  });

  it('an unknown payment -> 404', async () => {
    const m = await newMerchant();
    await expectError(await refund(m, 'pay_nope', 10), 404, 'NOT_FOUND');
  });

  it('bad bodies -> 400 naming the field', async () => {
    const m = await newMerchant();
    const cases = [
      [{ merchantId: m, paymentTxnId: 'pay_x', refundAmount: 0 }, 'refundAmount'],
      [{ merchantId: m, paymentTxnId: 'pay_x', refundAmount: 1.5 }, 'refundAmount'],
      [{ merchantId: m, paymentTxnId: 'pay_x', refundAmount: '10' }, 'refundAmount'],
      [{ merchantId: m, paymentTxnId: 'pay_x' }, 'refundAmount'],
      [{ merchantId: m, refundAmount: 10 }, 'paymentTxnId'],
      [{ merchantId: m, paymentTxnId: 'pay x', refundAmount: 10 }, 'paymentTxnId'],
    ];
    for (const [body, field] of cases) {
      const r = await call('POST', '/api/payment/refund', { token: await owner(m), body, headers: { 'Idempotency-Key': key() } });
      const e = await expectError(r, 400, 'VALIDATION_FAILED');
      assert.equal(e.error.details.field, field, r.text);
    }
  });
});

describe('concurrency', () => {
  it('20 concurrent refunds of 100 on a 1000 payment: exactly 10 succeed, the rest 422', async () => {
    const { m, userId, payment } = await principalPayment(1000);
    const token = await owner(m);
    const rs = await Promise.all(Array.from({ length: 20 }, () => refund(m, payment.paymentTxnId, 100, { token })));
    const ok = rs.filter((r) => r.status === 200);
    const refused = rs.filter((r) => r.status === 422);
    assert.equal(ok.length, 10, rs.map((r) => `${r.status} ${r.text}`).join('\n'));
    assert.equal(refused.length, 10, rs.map((r) => r.status).join(','));
    for (const r of refused) assert.equal(JSON.parse(r.text).error.code, 'UNPROCESSABLE');
    assert.deepEqual(ok.map((r) => r.body.refundedAmount).sort((a, b) => a - b), [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
    assert.equal((await wallet(m, userId)).principal, 1000);
    const e = await expectError(await refund(m, payment.paymentTxnId, 1), 422, 'UNPROCESSABLE');
    assert.equal(e.error.details.refundedAmount, 1000);
  });
});

describe('the externally paid share', () => {
  // A PAID payment with an external part needs the signed gateway callback
  // (POST /api/payment/callback); where this mpsd has no such route the test is a todo. The
  // share math (owed to the gateway, never credited to the wallet, cumulative up to
  // d.external) is also covered by tests/unit/test_refund_math.c.
  const todo = HAS_CALLBACK ? false : 'needs POST /api/payment/callback to settle a PENDING_EXTERNAL payment';
  it('is recorded as owed (external_status OWED) and not credited to the wallet', { todo }, async () => {
    const m = await newMerchant();
    const u = await newMember(m);
    await grant(m, u, 'BONUS', 1000);
    await topup(m, u, 2000);
    const p = await pay(m, u, 10000, 202); // bonus 1000 + principal 2000 held, 7000 external
    assert.deepEqual(p.deduction, { voucher: 0, bonus: 1000, principal: 2000, silver: 0, external: 7000 });
    const raw = JSON.stringify({ merchantId: m, paymentTxnId: p.paymentTxnId, externalTxnId: `ext_${uniq()}`,
      status: 'SUCCEEDED', paidAmount: 7000, callbackId: `cb_${uniq()}` });
    const cb = await call('POST', '/api/payment/callback', {
      body: raw, headers: { 'X-Payment-Signature': createHmac('sha256', CALLBACK_SECRET).update(raw).digest('hex') },
    });
    assert.equal(cb.status, 200, cb.text);
    assert.deepEqual(await wallet(m, u), { principal: 0, bonus: 0, silver: 0 });

    // half: 3500 owed to the gateway, 1500 to principal, less the 500 of bonus it consumed
    const r1 = await refund(m, p.paymentTxnId, 5000);
    assert.equal(r1.status, 200, r1.text);
    assert.deepEqual(r1.body.externalRefund, { amount: 3500, status: 'OWED' });
    assert.equal(r1.body.walletRefund, 1500);
    assert.deepEqual(r1.body.clawback, { bonusConsumed: 500, reclaimTarget: 500, fromBonus: 0, fromPrincipal: 500, unrecovered: 0 });
    assert.deepEqual(r1.body.wallet, { principal: 1000, bonus: 0, silver: 0 });
    assert.equal(r1.body.feeReversal, 125);
    assert.deepEqual(sql(`SELECT external_share, external_status, wallet_share FROM refunds WHERE id = '${r1.body.refundTxnId}'`),
      [['3500', 'OWED', '1500']]);
    // the rest: the whole external part is owed in the end, the wallet holds what it paid
    const r2 = await refund(m, p.paymentTxnId, 5000);
    assert.equal(r2.status, 200, r2.text);
    assert.deepEqual(r2.body.externalRefund, { amount: 3500, status: 'OWED' });
    assert.deepEqual(r2.body.wallet, { principal: 2000, bonus: 0, silver: 0 });
    assert.equal(r1.body.feeReversal + r2.body.feeReversal, 250);
    assert.deepEqual(await wallet(m, u), { principal: 2000, bonus: 0, silver: 0 });
    assert.deepEqual(sql(`SELECT SUM(external_share) FROM refunds WHERE payment_id = '${p.paymentTxnId}'`), [['7000']]);
  });
});

describe('the store after all of the above', () => {
  it('every journal entry balances, every balance equals its lines, refunds match the payments', () => {
    assert.deepEqual(sql('SELECT entry_id FROM journal_lines GROUP BY entry_id, currency HAVING SUM(amount) <> 0'), []);
    assert.deepEqual(sql(BALANCE_DRIFT_SQL), []);
    assert.deepEqual(sql(`SELECT p.id FROM payments p LEFT JOIN refunds r ON r.payment_id = p.id
                          GROUP BY p.id, p.refunded_amount HAVING p.refunded_amount <> COALESCE(SUM(r.amount), 0)`), []);
    // each refund: its three entries, its shares adding up, no gateway debt without an external share
    assert.deepEqual(sql(`SELECT id FROM refunds WHERE wallet_share + external_share <> amount
                          OR (external_share > 0) <> (external_status = 'OWED')
                          OR clawback_bonus < 0 OR clawback_principal < 0 OR unrecovered < 0`), []);
    const [[refunds]] = sql('SELECT COUNT(*) FROM refunds');
    const [[entries]] = sql("SELECT COUNT(*) FROM journal_entries WHERE kind = 'REFUND' AND ref_type = 'refund'");
    const [[outbox]] = sql("SELECT COUNT(*) FROM outbox_events WHERE topic = 'refund.succeeded'");
    const [[events]] = sql("SELECT COUNT(*) FROM payment_events WHERE type = 'refunded'");
    assert.ok(Number(refunds) > 20);
    assert.equal(entries, refunds);
    assert.equal(outbox, refunds);
    assert.equal(events, refunds);
    // the fee: what was charged on paid payments less what refunds reversed is the platform's
    const [[feeIncome]] = sql(`SELECT COALESCE(SUM(${ACCOUNT_BALANCE}), 0) FROM ledger_accounts a WHERE kind = 'fee_income'`);
    const [[charged]] = sql("SELECT COALESCE(SUM(fee_amount), 0) FROM payments WHERE status = 'PAID'");
    const [[reversed]] = sql('SELECT COALESCE(SUM(fee_reversal), 0) FROM refunds');
    assert.equal(Number(feeIncome), Number(charged) - Number(reversed));
    // fully refunded payments gave the whole fee back
    assert.deepEqual(sql(`SELECT p.id FROM payments p JOIN refunds r ON r.payment_id = p.id
                          WHERE p.refunded_amount = p.order_amount
                          GROUP BY p.id, p.fee_amount HAVING SUM(r.fee_reversal) <> p.fee_amount`), []);
  });

  it('every refund is in its merchant\'s audit log', async () => {
    const [[m, id]] = sql('SELECT merchant_id, id FROM refunds ORDER BY id LIMIT 1');
    const r = await call('GET', `/api/audit/logs?merchantId=${m}&action=REFUND`, { token: await owner(m) });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.body.items.some((i) => i.target === id && i.status === 'SUCCESS'), r.text);
  });
});
