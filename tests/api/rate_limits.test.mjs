// rate_limits.test.mjs — the per-route limits besides logins (auth.test.mjs covers those):
// administrative writes per caller (MPS_RATE_ADMIN_WRITE_PER_MIN) and public callbacks and
// onboarding per client IP (MPS_RATE_CALLBACK_PER_MIN): 429 RATE_LIMITED with Retry-After,
// reads unaffected, another caller unaffected, nothing written by a refused request.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStore, stopOk, call, expectStatus, envelope } from './lib/ctl.mjs';

describe('rate limits on writes and public callbacks', () => {
  let s, admin, admin2;
  const mock = async (body) => expectStatus(await call(s.base, 'POST', '/api/auth/mock-login', { body }), 200).token;
  const create = (token, id) => call(s.base, 'POST', '/admin/merchants', { token, body: { id, name: id, currency: 'USD', timeZone: 'UTC' } });

  before(async () => {
    s = await startStore({ env: { MPS_DEV_MODE: '1', MPS_RATE_LOGIN_PER_MIN: '0', MPS_RATE_ADMIN_WRITE_PER_MIN: '3', MPS_RATE_CALLBACK_PER_MIN: '2' } });
    admin = await mock({ role: 'admin', userId: 'adm_one' });
    admin2 = await mock({ role: 'admin', userId: 'adm_two' });
  });
  after(async () => stopOk(s));

  it('the 4th admin write in a minute is 429 with Retry-After; reads and other callers go on', async () => {
    for (const id of ['m_rl1', 'm_rl2', 'm_rl3']) expectStatus(await create(admin, id), 201, id);
    const r = await create(admin, 'm_rl4');
    await envelope(r, 429, 'RATE_LIMITED');
    assert.ok(Number(r.headers.get('retry-after')) >= 1, 'Retry-After in seconds');
    expectStatus(await call(s.base, 'GET', '/admin/merchants/m_rl1', { token: admin }), 200, 'reads are not limited');
    await envelope(await call(s.base, 'GET', '/admin/merchants/m_rl4', { token: admin }), 404, 'NOT_FOUND'); // nothing written
    expectStatus(await create(admin2, 'm_rl5'), 201, 'another admin has their own budget');
  });

  it('public onboarding is limited per client IP', async () => {
    const onboard = (id) => call(s.base, 'POST', '/api/merchant/onboard', { body: { merchantId: id, name: id } });
    expectStatus(await onboard('m_ob1'), 201);
    expectStatus(await onboard('m_ob2'), 201);
    const r = await onboard('m_ob3');
    await envelope(r, 429, 'RATE_LIMITED');
    assert.ok(Number(r.headers.get('retry-after')) >= 1);
  });
});
