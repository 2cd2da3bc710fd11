// merchant_fee.test.mjs — the per-merchant platform fee override (PATCH /admin/merchants/{id}
// platformFeeBps, platform admin only; -1 returns to MPS_PLATFORM_FEE_BPS) and its effect on
// a payment's fee. Runs on SQLite and PostgreSQL (MPS_TEST_STORE).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStore, stopOk, call, expectStatus, envelope } from './lib/ctl.mjs';

describe('merchant fee override', () => {
  let s, admin, ops, owner, member;
  const mock = async (body) => expectStatus(await call(s.base, 'POST', '/api/auth/mock-login', { body }), 200).token;

  before(async () => {
    s = await startStore({ env: { MPS_DEV_MODE: '1', MPS_PLATFORM_FEE_BPS: '250', MPS_RATE_LOGIN_PER_MIN: '0' } });
    admin = await mock({ role: 'admin' });
    ops = await mock({ role: 'ops' });
    expectStatus(await call(s.base, 'POST', '/admin/merchants', { token: admin, body: { id: 'm_fee', name: 'Fee', currency: 'USD', timeZone: 'UTC' } }), 201);
    owner = await mock({ role: 'OWNER', merchantId: 'm_fee' });
    member = expectStatus(await call(s.base, 'POST', '/api/merchants/m_fee/members', { token: owner, body: { phone: '+15550001111', displayName: 'Fee Payer' } }), 201).id;
    expectStatus(await call(s.base, 'POST', '/api/wallet/topup', { token: owner, headers: { 'Idempotency-Key': 'fee-topup' }, body: { merchantId: 'm_fee', userId: member, amount: 100000 } }), 201);
  });
  after(async () => stopOk(s));

  const pay = async (key, amount) => expectStatus(await call(s.base, 'POST', '/api/payment/verify', {
    token: owner, headers: { 'Idempotency-Key': key }, body: { merchantId: 'm_fee', userId: member, orderAmount: amount } }), 200);

  it('the platform default applies until an override is set', async () => {
    const m = expectStatus(await call(s.base, 'GET', '/admin/merchants/m_fee', { token: admin }), 200);
    assert.equal(m.platformFeeBps, null);
    assert.equal((await pay('fee-1', 10000)).feeAmount, 250); // 2.50% of 10000
  });

  it('an admin sets an override; payments use it; -1 returns to the default', async () => {
    const m = expectStatus(await call(s.base, 'PATCH', '/admin/merchants/m_fee', { token: admin, body: { platformFeeBps: 100 } }), 200);
    assert.equal(m.platformFeeBps, 100);
    assert.equal((await pay('fee-2', 10000)).feeAmount, 100);
    assert.equal((await pay('fee-3', 199)).feeAmount, 2); // 1.99 rounds half up to 2
    const back = expectStatus(await call(s.base, 'PATCH', '/admin/merchants/m_fee', { token: admin, body: { platformFeeBps: -1 } }), 200);
    assert.equal(back.platformFeeBps, null);
    assert.equal((await pay('fee-4', 10000)).feeAmount, 250);
  });

  it('only a platform admin sets fees; bad values name the field', async () => {
    await envelope(await call(s.base, 'PATCH', '/admin/merchants/m_fee', { token: ops, body: { platformFeeBps: 10 } }), 403, 'FORBIDDEN');
    for (const v of [10001, -2, 1.5, '100']) {
      const r = await envelope(await call(s.base, 'PATCH', '/admin/merchants/m_fee', { token: admin, body: { platformFeeBps: v } }), 400, 'VALIDATION_FAILED');
      assert.equal(r.error.details.field, 'platformFeeBps');
    }
    const m = expectStatus(await call(s.base, 'GET', '/admin/merchants/m_fee', { token: admin }), 200);
    assert.equal(m.platformFeeBps, null, 'nothing changed');
  });
});
