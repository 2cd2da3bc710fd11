// tests/api/callbacks.test.mjs — black-box tests of signed gateway callbacks
// (POST /api/payment/callback) and the expiry of pending payments and top-ups
// (POST /admin/transactions/expire-due and the background sweep):
//   a payment larger than the wallet waits PENDING_EXTERNAL with the wallet part held; a
//   signed callback settles it (the wallet loses exactly what was held); a repeated callback
//   (same callbackId, or same externalTxnId) answers the first result byte for byte and
//   changes nothing; a wrong paidAmount is 422, a bad signature 401 (audited), an unknown
//   payment 404, a final payment 409, each recorded; FAILED releases the holds; external
//   top-ups are credited by their callback; the timestamped signature form, rotation and
//   several v1 values work end to end; 10 identical callbacks at once settle once; overdue
//   payments expire (holds and voucher back) by the admin route and by the sweep.
//
// Run: node --test tests/api/callbacks.test.mjs (MPS_BIN_DIR, MPS_TEST_STORE,
// MPS_TEST_PG_ADMIN_URL: see lib/server.mjs)
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { STORE, startServer, expectEnvelope, sleep } from './lib/server.mjs';
import { BALANCE_DRIFT_SQL } from './lib/money.mjs';

const OLD_SECRET = 'old-gateway-secret';
const NEW_SECRET = 'new-gateway-secret-0123456789';
const SECRETS = `${OLD_SECRET}, ${NEW_SECRET}`;
const BASE_ENV = {
  MPS_DEV_MODE: '1', MPS_RATE_LOGIN_PER_MIN: '0', MPS_RATE_ADMIN_WRITE_PER_MIN: '0', MPS_RATE_CALLBACK_PER_MIN: '0',
  MPS_PAYMENT_CALLBACK_SECRET: SECRETS,
};

let seq = 0;
const uniq = () => `${process.pid}_${Date.now().toString(36)}_${++seq}`;
const key = () => `k-${uniq()}`;

/** A client of one server: calls, tokens and the money set-up steps. */
function client(s) {
  const tokens = new Map();
  const c = {
    s,
    async call(method, urlPath, { token, body, raw, headers = {} } = {}) {
      const h = { ...headers };
      if (token) h.Authorization = `Bearer ${token}`;
      if (body !== undefined || raw !== undefined) h['Content-Type'] = 'application/json';
      let res;
      try {
        res = await fetch(`${s.base}${urlPath}`, {
          method, headers: h, body: raw !== undefined ? raw : body === undefined ? undefined : JSON.stringify(body),
        });
      } catch (e) {
        throw new Error(`${method} ${urlPath}: ${e.message} (${e.cause && (e.cause.code || e.cause.message)}); server stderr tail:\n${s.stderrLines.slice(-5).join('\n')}`);
      }
      const text = await res.text();
      let json = null;
      try { json = JSON.parse(text); } catch { /* not JSON */ }
      return { status: res.status, body: json, text, headers: res.headers };
    },
    async token(role, merchantId) {
      const k = `${role}|${merchantId || ''}`;
      if (tokens.has(k)) return tokens.get(k);
      const r = await c.call('POST', '/api/auth/mock-login', { body: merchantId ? { role, merchantId } : { role } });
      assert.equal(r.status, 200, r.text);
      tokens.set(k, r.body.token);
      return r.body.token;
    },
    admin: () => c.token('admin'),
    owner: (m) => c.token('OWNER', m),
    async merchant() {
      const id = `mc_${uniq()}`;
      const r = await c.call('POST', '/admin/merchants', {
        token: await c.admin(), body: { id, name: `Merchant ${id}`, currency: 'IDR', timeZone: 'Asia/Jakarta' },
      });
      assert.equal(r.status, 201, r.text);
      return id;
    },
    async member(m) {
      const phone = `+62812${String(process.pid % 10000).padStart(4, '0')}${String(++seq % 1000).padStart(3, '0')}`;
      const r = await c.call('POST', `/api/merchants/${m}/members`, { token: await c.owner(m), body: { phone, displayName: 'Member' } });
      assert.equal(r.status, 201, r.text);
      return r.body.id;
    },
    async cash(m, userId, amount) {
      const r = await c.call('POST', '/api/wallet/topup', {
        token: await c.owner(m), body: { merchantId: m, userId, amount, method: 'CASH' }, headers: { 'Idempotency-Key': key() },
      });
      assert.equal(r.status, 201, r.text);
    },
    async voucher(m, userId, value) {
      const r = await c.call('POST', '/api/merchant/grants', {
        token: await c.owner(m), body: { merchantId: m, userId, type: 'VOUCHER', value }, headers: { 'Idempotency-Key': key() },
      });
      assert.equal(r.status, 201, r.text);
      return r.body.voucherId;
    },
    async pay(m, userId, orderAmount, status = 202) {
      const r = await c.call('POST', '/api/payment/verify', {
        token: await c.owner(m), body: { merchantId: m, userId, orderAmount }, headers: { 'Idempotency-Key': key() },
      });
      assert.equal(r.status, status, r.text);
      return r.body;
    },
    async externalTopup(m, userId, amount) {
      const r = await c.call('POST', '/api/wallet/topup', {
        token: await c.owner(m), body: { merchantId: m, userId, amount, method: 'EXTERNAL' }, headers: { 'Idempotency-Key': key() },
      });
      assert.equal(r.status, 202, r.text);
      assert.equal(r.body.status, 'PENDING_EXTERNAL');
      return r.body;
    },
    async wallet(m, userId) {
      const r = await c.call('GET', `/api/wallet?merchantId=${m}&userId=${userId}`, { token: await c.owner(m) });
      assert.equal(r.status, 200, r.text);
      return r.body;
    },
    /** POST a callback: body an object (or a raw string); sign 'hex' | 'stamped' | a header
     *  string | null (no header); secret for signing. */
    callback(body, { sign = 'hex', secret = NEW_SECRET, t = Math.floor(Date.now() / 1000) } = {}) {
      const raw = typeof body === 'string' ? body : JSON.stringify(body);
      const headers = {};
      if (sign === 'hex') headers['X-Payment-Signature'] = hmac(secret, raw);
      else if (sign === 'stamped') headers['X-Payment-Signature'] = `t=${t},v1=${hmac(secret, `${t}.${raw}`)}`;
      else if (typeof sign === 'string') headers['X-Payment-Signature'] = sign;
      return c.call('POST', '/api/payment/callback', { raw, headers });
    },
    /** Run SQL against the server's store (read only); rows as arrays of strings. */
    sql(query) {
      let out;
      if (STORE === 'postgres') {
        out = execFileSync('psql', [s.dbUrl, '-v', 'ON_ERROR_STOP=1', '-qAt', '-F', '|', '-c', query], { encoding: 'utf8' });
      } else {
        out = execFileSync('sqlite3', ['-readonly', '-separator', '|', path.join(s.dataDir, 'mps.db'), query], { encoding: 'utf8' });
      }
      return out.split('\n').filter((l) => l.length).map((l) => l.split('|'));
    },
    paymentStatus(id) {
      const rows = c.sql(`SELECT status FROM payments WHERE id = '${id}'`);
      return rows.length ? rows[0][0] : null;
    },
    topupStatus(id) {
      const rows = c.sql(`SELECT status FROM topups WHERE id = '${id}'`);
      return rows.length ? rows[0][0] : null;
    },
    recorded(callbackId) {
      const rows = c.sql(`SELECT result_status, result_body FROM payment_callbacks WHERE callback_id = '${callbackId}'`);
      return rows.length ? { status: Number(rows[0][0]), body: rows[0].slice(1).join('|') } : null;
    },
    /** Every journal entry sums to zero and every wallet balance equals its lines. */
    ledgerBalanced() {
      const unbalanced = c.sql('SELECT entry_id FROM journal_lines GROUP BY entry_id HAVING SUM(amount) <> 0');
      assert.deepEqual(unbalanced, [], 'unbalanced journal entries');
      const drift = c.sql(BALANCE_DRIFT_SQL);
      assert.deepEqual(drift, [], 'balances that differ from their journal lines');
      const held = c.sql("SELECT a.id FROM ledger_accounts a LEFT JOIN ledger_holds h ON h.account_id = a.id AND h.status = 'HELD' " +
        'GROUP BY a.id, a.held HAVING a.held <> COALESCE(SUM(h.amount), 0)');
      assert.deepEqual(held, [], 'held amounts that differ from the open holds');
    },
  };
  return c;
}

function hmac(secret, text) {
  return createHmac('sha256', secret).update(text).digest('hex');
}

async function expectError(r, status, code) {
  return expectEnvelope({ status: r.status, text: async () => r.text, headers: r.headers }, status, code);
}

/** A member with cash 10000 and a voucher of 1000 paying 25000: voucher 1000, principal
 *  10000 held, 14000 external. */
async function pendingPayment(c, { m } = {}) {
  m = m || await c.merchant();
  const userId = await c.member(m);
  await c.cash(m, userId, 10000);
  const voucherId = await c.voucher(m, userId, 1000);
  const p = await c.pay(m, userId, 25000, 202);
  assert.equal(p.status, 'PENDING_EXTERNAL');
  assert.equal(p.deduction.voucher, 1000);
  assert.equal(p.deduction.principal, 10000);
  assert.equal(p.deduction.external, 14000);
  assert.equal(p.paymentIntent.amount, 14000);
  return { m, userId, voucherId, p };
}

function cbBody(m, p, extra = {}) {
  return {
    merchantId: m, paymentTxnId: p.paymentTxnId, externalTxnId: `ext_${uniq()}`, status: 'SUCCEEDED',
    paidAmount: p.deduction.external, callbackId: `cb_${uniq()}`, ...extra,
  };
}

function voucherStatus(w, id) {
  const v = w.vouchers.find((x) => x.id === id);
  return v ? v.status : null;
}

describe(`gateway callbacks (${STORE})`, () => {
  let s;
  let c;
  before(async () => {
    s = await startServer({ env: { ...BASE_ENV, MPS_EXPIRY_SWEEP_INTERVAL_S: '0' } });
    c = client(s);
  });
  after(async () => { if (s) await s.stop(); });

  it('a pending payment holds the wallet part; a signed callback settles it exactly once', async () => {
    const { m, userId, voucherId, p } = await pendingPayment(c);
    let w = await c.wallet(m, userId);
    assert.deepEqual(w.balance, { principal: 10000, bonus: 0, silver: 0 });
    assert.deepEqual(w.held, { principal: 10000, bonus: 0, silver: 0 });
    assert.deepEqual(w.available, { principal: 0, bonus: 0, silver: 0 });
    assert.equal(voucherStatus(w, voucherId), 'HELD');

    const body = cbBody(m, p);
    const first = await c.callback(body);
    assert.equal(first.status, 200, first.text);
    assert.equal(first.body.outcome, 'SETTLED');
    assert.equal(first.body.callbackId, body.callbackId);
    assert.equal(first.body.payment.status, 'PAID');
    assert.equal(first.body.payment.externalTxnId, body.externalTxnId);
    assert.equal(first.headers.get('idempotent-replayed'), null);
    w = await c.wallet(m, userId);
    assert.deepEqual(w.balance, { principal: 0, bonus: 0, silver: 0 }, 'debited exactly what was held');
    assert.deepEqual(w.held, { principal: 0, bonus: 0, silver: 0 });
    assert.equal(voucherStatus(w, voucherId), null, 'a used voucher leaves the wallet');
    assert.equal(c.sql(`SELECT status FROM vouchers WHERE id = '${voucherId}'`)[0][0], 'USED');
    assert.equal(c.paymentStatus(p.paymentTxnId), 'PAID');
    assert.deepEqual(c.recorded(body.callbackId), { status: 200, body: first.text });

    // the same callback again: the first answer, byte for byte, and nothing moves
    const again = await c.callback(body);
    assert.equal(again.status, 200);
    assert.equal(again.text, first.text);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    // the same gateway transaction under a new callbackId: the first result as well
    const sameTxn = await c.callback({ ...body, callbackId: `cb_${uniq()}` });
    assert.equal(sameTxn.status, 200);
    assert.equal(sameTxn.text, first.text);
    // even when it now says FAILED: the first word on a gateway transaction stands
    const lateFail = await c.callback({ ...body, callbackId: `cb_${uniq()}`, status: 'FAILED' });
    assert.equal(lateFail.text, first.text);
    w = await c.wallet(m, userId);
    assert.deepEqual(w.balance, { principal: 0, bonus: 0, silver: 0 });
    assert.equal(c.sql(`SELECT COUNT(*) FROM journal_entries WHERE ref_id = '${p.paymentTxnId}' AND kind = 'PAYMENT'`)[0][0], '1');
    // settled: the outbox and the audit log have it
    assert.ok(c.sql(`SELECT COUNT(*) FROM outbox_events WHERE aggregate_id = '${p.paymentTxnId}' AND topic = 'payment.paid'`)[0][0] === '1');
    assert.ok(c.sql(`SELECT COUNT(*) FROM audit_log WHERE target = '${p.paymentTxnId}' AND action = 'PAYMENT_SETTLE'`)[0][0] === '1');
    c.ledgerBalanced();
  });

  it('PAID is accepted as a synonym of SUCCEEDED', async () => {
    const { m, p } = await pendingPayment(c);
    const r = await c.callback(cbBody(m, p, { status: 'PAID' }));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.payment.status, 'PAID');
  });

  it('a wrong paidAmount is 422, recorded, and the payment stays pending', async () => {
    const { m, userId, p } = await pendingPayment(c);
    for (const paidAmount of [13999, 14001, 0, 25000]) {
      const body = cbBody(m, p, { paidAmount });
      const r = await c.callback(body);
      const e = await expectError(r, 422, 'UNPROCESSABLE');
      assert.equal(e.error.details.field, 'paidAmount');
      assert.equal(e.error.details.expected, 14000);
      assert.equal(e.error.details.received, paidAmount);
      assert.deepEqual(c.recorded(body.callbackId), { status: 422, body: r.text });
      // its retry gets the same refusal
      const again = await c.callback(body);
      assert.equal(again.status, 422);
      assert.equal(again.text, r.text);
    }
    assert.equal(c.paymentStatus(p.paymentTxnId), 'PENDING_EXTERNAL');
    assert.deepEqual((await c.wallet(m, userId)).held, { principal: 10000, bonus: 0, silver: 0 });
    // a refused callback does not block the gateway transaction: the right amount settles
    const ok = await c.callback(cbBody(m, p));
    assert.equal(ok.status, 200, ok.text);
    assert.equal(c.paymentStatus(p.paymentTxnId), 'PAID');
  });

  it('a bad or missing signature is 401, audited, and changes nothing', async () => {
    const { m, userId, p } = await pendingPayment(c);
    const body = cbBody(m, p);
    const raw = JSON.stringify(body);
    const cases = [
      { sign: null, reason: 'missing' },
      { sign: '', reason: 'missing' },
      { sign: 'hex', secret: 'not-the-secret', reason: 'mismatch' },
      { sign: hmac(NEW_SECRET, raw.replace('14000', '14001')), reason: 'mismatch' }, // signed another body
      { sign: 'zz'.repeat(32), reason: 'malformed' },
      { sign: `t=${Math.floor(Date.now() / 1000)}`, reason: 'malformed' },
      { sign: 'x'.repeat(3000), reason: 'malformed' },
      { sign: 'stamped', t: Math.floor(Date.now() / 1000) - 301, reason: 'stale' },
      { sign: 'stamped', t: Math.floor(Date.now() / 1000) + 400, reason: 'stale' },
    ];
    for (const k of cases) {
      const r = await c.callback(raw, k);
      const e = await expectError(r, 401, 'UNAUTHORIZED');
      assert.equal(e.error.details.reason, k.reason, JSON.stringify(k).slice(0, 100));
      assert.equal(e.error.details.header, 'X-Payment-Signature');
    }
    // an unsigned body that is not even valid for the schema is still 401, not 400
    const junk = await c.callback({ hello: 'world' }, { sign: null });
    await expectError(junk, 401, 'UNAUTHORIZED');
    assert.equal(c.paymentStatus(p.paymentTxnId), 'PENDING_EXTERNAL');
    assert.equal(c.recorded(body.callbackId), null, 'an unsigned callback is not recorded as processed');
    assert.deepEqual((await c.wallet(m, userId)).held, { principal: 10000, bonus: 0, silver: 0 });
    const logs = await c.call('GET', '/admin/audit-logs?action=PAYMENT_CALLBACK&status=DENIED&limit=100', { token: await c.admin() });
    assert.equal(logs.status, 200, logs.text);
    const mine = logs.body.items.filter((i) => i.target === p.paymentTxnId);
    assert.equal(mine.length, cases.length, logs.text.slice(0, 2000));
    assert.ok(mine.every((i) => i.status === 'DENIED' && i.action === 'PAYMENT_CALLBACK'));
    // and then the genuine one still works
    const ok = await c.callback(raw);
    assert.equal(ok.status, 200, ok.text);
  });

  it('an unknown payment, or another merchant\'s, is 404 and recorded', async () => {
    const { m, p } = await pendingPayment(c);
    const other = await c.merchant();
    for (const body of [
      cbBody(m, { paymentTxnId: 'pay_00000000000000000000000000', deduction: { external: 14000 } }),
      cbBody(m, { paymentTxnId: 'top_00000000000000000000000000', deduction: { external: 14000 } }),
      cbBody(m, { paymentTxnId: 'xyz_whatever', deduction: { external: 14000 } }),
      cbBody(other, p), // the right payment, the wrong merchant
    ]) {
      const r = await c.callback(body);
      await expectError(r, 404, 'NOT_FOUND');
      assert.deepEqual(c.recorded(body.callbackId), { status: 404, body: r.text });
      const again = await c.callback(body);
      assert.equal(again.status, 404);
      assert.equal(again.text, r.text);
    }
    assert.equal(c.paymentStatus(p.paymentTxnId), 'PENDING_EXTERNAL');
  });

  it('a final payment with a new callbackId and externalTxnId is 409 and recorded', async () => {
    const { m, p } = await pendingPayment(c);
    assert.equal((await c.callback(cbBody(m, p))).status, 200);
    const late = cbBody(m, p);
    const r = await c.callback(late);
    const e = await expectError(r, 409, 'CONFLICT');
    assert.equal(e.error.details.status, 'PAID');
    assert.deepEqual(c.recorded(late.callbackId), { status: 409, body: r.text });
    // an externalTxnId already applied to another payment is refused too
    const second = await pendingPayment(c, { m });
    const reuse = cbBody(m, second.p, { externalTxnId: late.externalTxnId });
    const r2 = await c.callback({ ...reuse, externalTxnId: (await c.callback(cbBody(m, (await pendingPayment(c, { m })).p))).body.payment.externalTxnId });
    const e2 = await expectError(r2, 409, 'CONFLICT');
    assert.ok(e2.error.details.externalTxnId.startsWith('ext_'), r2.text);
    assert.equal(c.paymentStatus(second.p.paymentTxnId), 'PENDING_EXTERNAL');
  });

  it('FAILED releases the holds and the voucher; the payment is FAILED', async () => {
    const { m, userId, voucherId, p } = await pendingPayment(c);
    const r = await c.callback(cbBody(m, p, { status: 'FAILED', paidAmount: 0 }));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.outcome, 'FAILED');
    assert.equal(r.body.payment.status, 'FAILED');
    const w = await c.wallet(m, userId);
    assert.deepEqual(w.balance, { principal: 10000, bonus: 0, silver: 0 });
    assert.deepEqual(w.held, { principal: 0, bonus: 0, silver: 0 });
    assert.deepEqual(w.available, { principal: 10000, bonus: 0, silver: 0 });
    assert.equal(voucherStatus(w, voucherId), 'ACTIVE');
    assert.equal(c.paymentStatus(p.paymentTxnId), 'FAILED');
    assert.equal(c.sql(`SELECT COUNT(*) FROM outbox_events WHERE aggregate_id = '${p.paymentTxnId}' AND topic = 'payment.failed'`)[0][0], '1');
    // the full amount is accepted for FAILED too; anything else is 422
    const q = await pendingPayment(c, { m });
    await expectError(await c.callback(cbBody(m, q.p, { status: 'FAILED', paidAmount: 5 })), 422, 'UNPROCESSABLE');
    assert.equal((await c.callback(cbBody(m, q.p, { status: 'FAILED', paidAmount: 14000 }))).status, 200);
    c.ledgerBalanced();
  });

  it('bad fields and unknown statuses are 400', async () => {
    const { m, p } = await pendingPayment(c);
    const cases = [
      [{ status: 'DONE' }, 'status'],
      [{ status: 'succeeded' }, 'status'],
      [{ paidAmount: -1 }, 'paidAmount'],
      [{ paidAmount: 14000.5 }, 'paidAmount'],
      [{ paidAmount: '14000' }, 'paidAmount'],
      [{ callbackId: '' }, 'callbackId'],
      [{ callbackId: 'has space' }, 'callbackId'],
      [{ externalTxnId: 'x'.repeat(129) }, 'externalTxnId'],
      [{ paymentTxnId: 'pay/../x' }, 'paymentTxnId'],
      [{ extra: 1 }, 'extra'],
    ];
    for (const [patch, field] of cases) {
      const r = await c.callback(cbBody(m, p, patch));
      const e = await expectError(r, 400, 'VALIDATION_FAILED');
      assert.equal(e.error.details.field, field, r.text);
    }
    const missing = cbBody(m, p);
    delete missing.callbackId;
    assert.equal((await expectError(await c.callback(missing), 400, 'VALIDATION_FAILED')).error.details.field, 'callbackId');
    assert.equal(c.paymentStatus(p.paymentTxnId), 'PENDING_EXTERNAL');
  });

  it('timestamped signatures, rotation and several v1 values work end to end', async () => {
    const { m, p } = await pendingPayment(c);
    const now = Math.floor(Date.now() / 1000);
    // old secret, timestamped, within the tolerance
    const a = cbBody(m, p);
    const ra = await c.callback(a, { sign: 'stamped', secret: OLD_SECRET, t: now - 200 });
    assert.equal(ra.status, 200, ra.text);
    // rotation: a header with a v1 of an unknown secret and one of the new secret
    const q = (await pendingPayment(c, { m })).p;
    const b = JSON.stringify(cbBody(m, q));
    const header = `t=${now},v1=${hmac('retired-secret', `${now}.${b}`)},v1=${hmac(NEW_SECRET, `${now}.${b}`)}`;
    const rb = await c.callback(b, { sign: header });
    assert.equal(rb.status, 200, rb.text);
    // uppercase hex in the plain form
    const r3 = (await pendingPayment(c, { m })).p;
    const raw3 = JSON.stringify(cbBody(m, r3));
    const rc = await c.callback(raw3, { sign: hmac(OLD_SECRET, raw3).toUpperCase() });
    assert.equal(rc.status, 200, rc.text);
    // the plain MAC of the body is not a valid v1 (the timestamp is signed too)
    const r4 = (await pendingPayment(c, { m })).p;
    const raw4 = JSON.stringify(cbBody(m, r4));
    await expectError(await c.callback(raw4, { sign: `t=${now},v1=${hmac(NEW_SECRET, raw4)}` }), 401, 'UNAUTHORIZED');
    assert.equal(c.paymentStatus(r4.paymentTxnId), 'PENDING_EXTERNAL');
  });

  it('an external top-up is credited by its callback', async () => {
    const m = await c.merchant();
    const userId = await c.member(m);
    const t = await c.externalTopup(m, userId, 50000);
    assert.equal((await c.wallet(m, userId)).balance.principal, 0);
    const wrong = { merchantId: m, paymentTxnId: t.topupId, externalTxnId: `ext_${uniq()}`, status: 'SUCCEEDED', paidAmount: 49999, callbackId: `cb_${uniq()}` };
    await expectError(await c.callback(wrong), 422, 'UNPROCESSABLE');
    assert.equal(c.topupStatus(t.topupId), 'PENDING_EXTERNAL');
    const body = { ...wrong, paidAmount: 50000, callbackId: `cb_${uniq()}` };
    const r = await c.callback(body, { sign: 'stamped' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.outcome, 'SETTLED');
    assert.equal(r.body.topup.status, 'SUCCEEDED');
    assert.equal(r.body.topup.externalTxnId, body.externalTxnId);
    assert.equal((await c.wallet(m, userId)).balance.principal, 50000);
    const again = await c.callback(body);
    assert.equal(again.text, r.text);
    assert.equal((await c.wallet(m, userId)).balance.principal, 50000);
    // a failed external top-up credits nothing
    const f = await c.externalTopup(m, userId, 7000);
    const rf = await c.callback({ merchantId: m, paymentTxnId: f.topupId, externalTxnId: `ext_${uniq()}`, status: 'FAILED', paidAmount: 0, callbackId: `cb_${uniq()}` });
    assert.equal(rf.status, 200, rf.text);
    assert.equal(rf.body.topup.status, 'FAILED');
    assert.equal((await c.wallet(m, userId)).balance.principal, 50000);
    // a cash top-up is never pending: 409
    await c.cash(m, userId, 100);
    const cashId = c.sql(`SELECT id FROM topups WHERE merchant_id = '${m}' AND method = 'CASH'`)[0][0];
    await expectError(await c.callback({ ...body, paymentTxnId: cashId, paidAmount: 100, externalTxnId: `ext_${uniq()}`, callbackId: `cb_${uniq()}` }), 409, 'CONFLICT');
    c.ledgerBalanced();
  });

  it('10 identical callbacks at once settle exactly once', async () => {
    const { m, userId, p } = await pendingPayment(c);
    const body = cbBody(m, p);
    const raw = JSON.stringify(body);
    const rs = await Promise.all(Array.from({ length: 10 }, () => c.callback(raw)));
    for (const r of rs) assert.equal(r.status, 200, r.text);
    assert.equal(new Set(rs.map((r) => r.text)).size, 1, 'every answer is the first one');
    assert.equal(rs.filter((r) => r.headers.get('idempotent-replayed') === 'true').length, 9);
    assert.deepEqual((await c.wallet(m, userId)).balance, { principal: 0, bonus: 0, silver: 0 });
    assert.equal(c.sql(`SELECT COUNT(*) FROM journal_entries WHERE ref_id = '${p.paymentTxnId}' AND kind = 'PAYMENT'`)[0][0], '1');
    assert.equal(c.sql(`SELECT COUNT(*) FROM payment_callbacks WHERE payment_id = '${p.paymentTxnId}'`)[0][0], '1');
    // and 10 different callbackIds for one gateway transaction at once
    const q = await pendingPayment(c, { m });
    const base = cbBody(m, q.p);
    const rq = await Promise.all(Array.from({ length: 10 }, (_, i) => c.callback({ ...base, callbackId: `${base.callbackId}_${i}` })));
    for (const r of rq) assert.equal(r.status, 200, r.text);
    assert.equal(new Set(rq.map((r) => r.text)).size, 1);
    assert.equal(c.sql(`SELECT COUNT(*) FROM journal_entries WHERE ref_id = '${q.p.paymentTxnId}' AND kind = 'PAYMENT'`)[0][0], '1');
    // and 10 identical callbacks for an unknown payment: one record, ten equal answers
    const u = cbBody(m, { paymentTxnId: `pay_${uniq()}`, deduction: { external: 1 } });
    const ru = await Promise.all(Array.from({ length: 10 }, () => c.callback(u)));
    for (const r of ru) assert.equal(r.status, 404, r.text);
    assert.equal(new Set(ru.map((r) => r.text)).size, 1);
    c.ledgerBalanced();
  });
});

describe(`expiry of pending payments (${STORE})`, () => {
  let s;
  let c;
  before(async () => {
    s = await startServer({ env: { ...BASE_ENV, MPS_PAYMENT_PENDING_TTL_S: '1', MPS_EXPIRY_SWEEP_INTERVAL_S: '0' } });
    c = client(s);
  });
  after(async () => { if (s) await s.stop(); });

  it('POST /admin/transactions/expire-due releases holds and the voucher; a later callback is 409', async () => {
    const { m, userId, voucherId, p } = await pendingPayment(c);
    const t = await c.externalTopup(m, userId, 3000);
    await sleep(1200);
    assert.equal(c.paymentStatus(p.paymentTxnId), 'PENDING_EXTERNAL', 'nothing expires by itself with the sweep off');
    const r = await c.call('POST', '/admin/transactions/expire-due', { token: await c.admin() });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.body.expiredPayments >= 1, r.text);
    assert.ok(r.body.expiredTopups >= 1, r.text);
    assert.equal(r.body.more, false);
    assert.equal(c.paymentStatus(p.paymentTxnId), 'EXPIRED');
    assert.equal(c.topupStatus(t.topupId), 'EXPIRED');
    const w = await c.wallet(m, userId);
    assert.deepEqual(w.held, { principal: 0, bonus: 0, silver: 0 });
    assert.deepEqual(w.available, { principal: 10000, bonus: 0, silver: 0 }, 'available is the full balance again');
    assert.equal(voucherStatus(w, voucherId), 'ACTIVE');
    assert.equal(c.sql(`SELECT COUNT(*) FROM outbox_events WHERE aggregate_id = '${p.paymentTxnId}' AND topic = 'payment.expired'`)[0][0], '1');
    // nothing more is due
    const again = await c.call('POST', '/admin/transactions/expire-due', { token: await c.admin() });
    assert.deepEqual(again.body, { expiredPayments: 0, expiredTopups: 0, more: false });
    // the gateway's late word: 409, recorded, nothing settled
    const late = cbBody(m, p);
    const rl = await c.callback(late);
    const e = await expectError(rl, 409, 'CONFLICT');
    assert.equal(e.error.details.status, 'EXPIRED');
    assert.deepEqual(c.recorded(late.callbackId), { status: 409, body: rl.text });
    const lt = await c.callback({ merchantId: m, paymentTxnId: t.topupId, externalTxnId: `ext_${uniq()}`, status: 'SUCCEEDED', paidAmount: 3000, callbackId: `cb_${uniq()}` });
    await expectError(lt, 409, 'CONFLICT');
    assert.deepEqual((await c.wallet(m, userId)).balance, { principal: 10000, bonus: 0, silver: 0 });
    c.ledgerBalanced();
  });

  it('a callback for an overdue payment the sweep has not reached expires it and is 409', async () => {
    const { m, userId, voucherId, p } = await pendingPayment(c);
    await sleep(1200);
    const r = await c.callback(cbBody(m, p));
    const e = await expectError(r, 409, 'CONFLICT');
    assert.equal(e.error.details.status, 'EXPIRED');
    assert.equal(c.paymentStatus(p.paymentTxnId), 'EXPIRED');
    const w = await c.wallet(m, userId);
    assert.deepEqual(w.available, { principal: 10000, bonus: 0, silver: 0 });
    assert.equal(voucherStatus(w, voucherId), 'ACTIVE');
  });

  it('expire-due is for platform admin and ops only', async () => {
    const m = await c.merchant();
    for (const [role, merchantId, status] of [['ops', null, 200], ['finance', null, 403], ['viewer', null, 403], ['OWNER', m, 403]]) {
      const r = await c.call('POST', '/admin/transactions/expire-due', { token: await c.token(role, merchantId) });
      assert.equal(r.status, status, `${role}: ${r.text}`);
    }
    assert.equal((await c.call('POST', '/admin/transactions/expire-due')).status, 401);
  });
});

describe(`the background expiry sweep (${STORE})`, () => {
  let s;
  let c;
  before(async () => {
    s = await startServer({ env: { ...BASE_ENV, MPS_PAYMENT_PENDING_TTL_S: '1', MPS_EXPIRY_SWEEP_INTERVAL_S: '1' } });
    c = client(s);
  });
  after(async () => { if (s) await s.stop(); });

  it('expires overdue payments and top-ups by itself and releases their holds', async () => {
    const { m, userId, voucherId, p } = await pendingPayment(c);
    const t = await c.externalTopup(m, userId, 3000);
    let w;
    const deadline = Date.now() + 8000;
    for (;;) {
      w = await c.wallet(m, userId);
      if (w.held.principal === 0 && c.topupStatus(t.topupId) === 'EXPIRED') break;
      assert.ok(Date.now() < deadline, `not expired within 8 s: ${JSON.stringify(w)}`);
      await sleep(100);
    }
    assert.equal(c.paymentStatus(p.paymentTxnId), 'EXPIRED');
    assert.deepEqual(w.available, { principal: 10000, bonus: 0, silver: 0 });
    assert.equal(voucherStatus(w, voucherId), 'ACTIVE');
    const line = await s.waitForLog((o) => o.msg === 'expired pending transactions');
    assert.ok(line.payments >= 1 || line.topups >= 1);
    assert.equal(c.sql(`SELECT actor FROM audit_log WHERE target = '${p.paymentTxnId}' AND action = 'PAYMENT_EXPIRE'`)[0][0], 'system');
    c.ledgerBalanced();
  });

  it('stops promptly with the server', async () => {
    const r = await s.stop();
    assert.equal(r.code, 0, r.stderr.slice(-2000));
    assert.ok(r.ms < 5000, `took ${r.ms} ms`);
    assert.ok(r.stderr.includes('stopped cleanly'));
  });
});

describe(`callbacks without a configured secret (${STORE})`, () => {
  let s;
  let c;
  before(async () => {
    s = await startServer({ env: { MPS_DEV_MODE: '1', MPS_EXPIRY_SWEEP_INTERVAL_S: '0' } });
    c = client(s);
  });
  after(async () => { if (s) await s.stop(); });

  it('are refused with 503 NOT_READY, signed or not', async () => {
    const body = { merchantId: 'm1', paymentTxnId: 'pay_1', externalTxnId: 'e1', status: 'SUCCEEDED', paidAmount: 1, callbackId: 'c1' };
    for (const sign of [null, 'hex']) {
      const e = await expectError(await c.callback(body, { sign, secret: '' }), 503, 'NOT_READY');
      assert.equal(e.error.details.setting, 'MPS_PAYMENT_CALLBACK_SECRET');
    }
  });
});
