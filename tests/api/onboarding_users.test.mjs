// tests/api/onboarding_users.test.mjs — merchant self-onboarding (POST /api/merchant/onboard,
// with and without MPS_ONBOARD_SECRET), the merchant lifecycle (approve, reject, suspend,
// reactivate), the merchant list (status filter, cursor pagination, limits) and the staff
// user API (/admin/users, /api/merchants/{merchantId}/users): validation, conflicts, merchant
// scope, roles, no self role/status changes, and password changes revoking tokens.
//
// Run: MPS_BIN_DIR=build node --test tests/api/onboarding_users.test.mjs
//      (MPS_TEST_STORE=postgres MPS_TEST_PG_ADMIN_URL=...: see lib/server.mjs)
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { STORE, sleep } from './lib/server.mjs';
import {
  ctlMerchant, ctlUser, call, envelope, expectStatus, staffLogin, staffToken, startStore, stopOk,
  apiUser, allPages,
} from './lib/ctl.mjs';

const SECRET = 'onboarding-test-secret-0123456789abcdef'; // 32+ bytes
const PW = 'correct-horse-1';
const BASE_ENV = {
  MPS_JWT_SECRET: SECRET, MPS_RATE_LOGIN_PER_MIN: '100000', MPS_RATE_ACCOUNT_PER_MIN: '100000',
};

const onboard = (base, body, headers = {}) => call(base, 'POST', '/api/merchant/onboard', { body, headers });
const me = (base, token) => call(base, 'GET', '/api/me', { token });

// ---------------------------------------------------------------------------------------
describe(`merchant onboarding and lifecycle (${STORE})`, () => {
  let s;
  let admin;
  let ownerA; // owner of u_a

  before(async () => {
    s = await startStore({
      env: BASE_ENV,
      setup: (st) => {
        ctlUser(st, { kind: 'platform', email: 'admin@ob.test', role: 'admin', password: PW });
        ctlMerchant(st, 'u_a');
        ctlUser(st, { kind: 'merchant', email: 'owner@a.test', role: 'owner', merchant: 'u_a', password: PW });
      },
    });
    admin = await staffToken(s.base, 'platform', 'admin@ob.test', PW);
    ownerA = await staffToken(s.base, 'merchant', 'owner@a.test', PW);
  });
  after(() => stopOk(s));

  const getMerchant = (id) => call(s.base, 'GET', `/admin/merchants/${id}`, { token: admin });
  const act = (id, action, body) => call(s.base, 'POST', `/admin/merchants/${id}/${action}`, { token: admin, body });

  it('without MPS_ONBOARD_SECRET: onboard → 201 PENDING with defaults, no token needed', async () => {
    const r = await onboard(s.base, { merchantId: 'ob-plain', name: 'Plain Shop' });
    const j = expectStatus(r, 201, 'onboard');
    assert.equal(j.merchant.id, 'ob-plain');
    assert.equal(j.merchant.name, 'Plain Shop');
    assert.equal(j.merchant.status, 'PENDING');
    assert.equal(j.merchant.currency, 'USD');
    assert.equal(j.merchant.timeZone, 'UTC');
    assert.equal(j.ownerUserId ?? null, null);
    assert.equal(typeof j.next, 'string');
    assert.equal(expectStatus(await getMerchant('ob-plain'), 200).status, 'PENDING');
  });

  it('a duplicate merchantId → 409 CONFLICT (pending or active), the first one unchanged', async () => {
    const r = await onboard(s.base, { merchantId: 'ob-plain', name: 'Impostor' });
    await envelope(r, 409, 'CONFLICT');
    await envelope(await onboard(s.base, { merchantId: 'u_a', name: 'Impostor' }), 409, 'CONFLICT');
    assert.equal(expectStatus(await getMerchant('ob-plain'), 200).name, 'Plain Shop');
    assert.equal(expectStatus(await getMerchant('u_a'), 200).status, 'ACTIVE');
  });

  it('the owner created with the merchant can log in while it is PENDING', async () => {
    const r = await onboard(s.base, {
      merchantId: 'ob-owner', name: 'Owned', currency: 'IDR', timeZone: 'Asia/Jakarta',
      contactEmail: 'hello@owned.test', ownerEmail: 'boss@owned.test', ownerPassword: PW,
    });
    const j = expectStatus(r, 201, 'onboard with owner');
    assert.equal(typeof j.ownerUserId, 'string');
    assert.equal(j.merchant.currency, 'IDR');
    assert.equal(j.merchant.contactEmail, 'hello@owned.test');
    assert.ok(!r.text.includes(PW), 'the reply echoes the password');
    const login = expectStatus(await staffLogin(s.base, 'merchant', 'boss@owned.test', PW), 200, 'owner login');
    assert.equal(login.profile.userId, j.ownerUserId);
    assert.equal(login.profile.role, 'owner');
    assert.equal(login.profile.merchantId, 'ob-owner');
    const own = expectStatus(await call(s.base, 'GET', '/api/merchants/ob-owner', { token: login.token }), 200);
    assert.equal(own.status, 'PENDING');
  });

  it('owner fields are checked and nothing is created when they are wrong', async () => {
    let r = await onboard(s.base, { merchantId: 'ob-bad1', name: 'X', ownerEmail: 'x@bad.test' });
    assert.equal((await envelope(r, 400, 'VALIDATION_FAILED')).error.details.field, 'ownerPassword');
    r = await onboard(s.base, { merchantId: 'ob-bad2', name: 'X', ownerEmail: 'x@bad.test', ownerPassword: 'short' });
    assert.equal((await envelope(r, 400, 'VALIDATION_FAILED')).error.details.field, 'ownerPassword');
    r = await onboard(s.base, { merchantId: 'ob-bad3', name: 'X', ownerPassword: PW });
    assert.equal((await envelope(r, 400, 'VALIDATION_FAILED')).error.details.field, 'ownerEmail');
    r = await onboard(s.base, { merchantId: 'ob-bad4' });
    assert.equal((await envelope(r, 400, 'VALIDATION_FAILED')).error.details.field, 'name');
    for (const id of ['ob-bad1', 'ob-bad2', 'ob-bad3', 'ob-bad4']) await envelope(await getMerchant(id), 404, 'NOT_FOUND');
  });

  it('an owner email that is taken → 409 and the merchant is not created either', async () => {
    const r = await onboard(s.base, { merchantId: 'ob-taken', name: 'Taken', ownerEmail: 'owner@a.test', ownerPassword: PW });
    await envelope(r, 409, 'CONFLICT');
    await envelope(await getMerchant('ob-taken'), 404, 'NOT_FOUND');
    // and the id is still free
    expectStatus(await onboard(s.base, { merchantId: 'ob-taken', name: 'Taken' }), 201, 'onboard after the conflict');
  });

  it('a PENDING merchant takes no member logins (409)', async () => {
    const r = await call(s.base, 'POST', '/api/auth/member/request-code', { body: { merchantId: 'ob-plain', phone: '+6281299990000' } });
    await envelope(r, 409, 'CONFLICT');
  });

  it('approve: PENDING → ACTIVE; approving again → 409 CONFLICT', async () => {
    const r = await act('ob-plain', 'approve');
    assert.equal(expectStatus(r, 200, 'approve').status, 'ACTIVE');
    assert.equal(expectStatus(await getMerchant('ob-plain'), 200).status, 'ACTIVE');
    const again = await envelope(await act('ob-plain', 'approve'), 409, 'CONFLICT');
    assert.equal(again.error.details.status, 'ACTIVE');
  });

  it('reject needs a reason (400); reject of an ACTIVE merchant → 409 CONFLICT', async () => {
    expectStatus(await onboard(s.base, { merchantId: 'ob-rej', name: 'Rejectable', ownerEmail: 'boss@rej.test', ownerPassword: PW }), 201);
    let b = await envelope(await act('ob-rej', 'reject'), 400, 'VALIDATION_FAILED');
    assert.equal(b.error.details.field, 'reason');
    b = await envelope(await act('ob-rej', 'reject', {}), 400, 'VALIDATION_FAILED');
    assert.equal(b.error.details.field, 'reason');
    b = await envelope(await act('ob-rej', 'reject', { reason: '' }), 400, 'VALIDATION_FAILED');
    assert.equal(b.error.details.field, 'reason');
    assert.equal(expectStatus(await getMerchant('ob-rej'), 200).status, 'PENDING', 'a refused reject changed the status');
    await envelope(await act('ob-plain', 'reject', { reason: 'too late' }), 409, 'CONFLICT');
    assert.equal(expectStatus(await getMerchant('ob-plain'), 200).status, 'ACTIVE');
  });

  it('reject: PENDING → REJECTED with the reason; its owner cannot log in; approving it → 409', async () => {
    expectStatus(await staffLogin(s.base, 'merchant', 'boss@rej.test', PW), 200, 'owner login while pending');
    const r = await act('ob-rej', 'reject', { reason: 'incomplete KYC' });
    const m = expectStatus(r, 200, 'reject');
    assert.equal(m.status, 'REJECTED');
    assert.equal(m.statusReason, 'incomplete KYC');
    await envelope(await staffLogin(s.base, 'merchant', 'boss@rej.test', PW), 401, 'UNAUTHORIZED');
    await envelope(await act('ob-rej', 'approve'), 409, 'CONFLICT');
    await envelope(await act('ob-rej', 'reactivate'), 409, 'CONFLICT');
  });

  it('suspend needs a reason; suspend → SUSPENDED, again → 409; reactivate → ACTIVE, again → 409', async () => {
    const b = await envelope(await act('ob-plain', 'suspend', {}), 400, 'VALIDATION_FAILED');
    assert.equal(b.error.details.field, 'reason');
    const sus = expectStatus(await act('ob-plain', 'suspend', { reason: 'chargebacks' }), 200, 'suspend');
    assert.equal(sus.status, 'SUSPENDED');
    assert.equal(sus.statusReason, 'chargebacks');
    await envelope(await act('ob-plain', 'suspend', { reason: 'twice' }), 409, 'CONFLICT');
    await envelope(await act('ob-plain', 'approve'), 409, 'CONFLICT');
    const re = expectStatus(await act('ob-plain', 'reactivate'), 200, 'reactivate');
    assert.equal(re.status, 'ACTIVE');
    await envelope(await act('ob-plain', 'reactivate'), 409, 'CONFLICT');
    // and a second cycle works
    assert.equal(expectStatus(await act('ob-plain', 'suspend', { reason: 'again' }), 200).status, 'SUSPENDED');
    assert.equal(expectStatus(await act('ob-plain', 'reactivate', {}), 200).status, 'ACTIVE');
  });

  it('transitions of an unknown merchant → 404; by a merchant owner → 403 FORBIDDEN', async () => {
    for (const a of ['approve', 'reactivate']) await envelope(await act('ob-nope', a), 404, 'NOT_FOUND');
    await envelope(await act('ob-nope', 'suspend', { reason: 'x' }), 404, 'NOT_FOUND');
    const r = await call(s.base, 'POST', '/admin/merchants/ob-taken/approve', { token: ownerA });
    await envelope(r, 403, 'FORBIDDEN');
    assert.equal(expectStatus(await getMerchant('ob-taken'), 200).status, 'PENDING');
  });
});

// ---------------------------------------------------------------------------------------
describe(`onboarding with MPS_ONBOARD_SECRET (${STORE})`, () => {
  let s;
  let admin;
  const ONBOARD_SECRET = 'let-me-in-0123456789';
  before(async () => {
    s = await startStore({
      env: { ...BASE_ENV, MPS_ONBOARD_SECRET: ONBOARD_SECRET },
      setup: (st) => ctlUser(st, { kind: 'platform', email: 'admin@sec.test', role: 'admin', password: PW }),
    });
    admin = await staffToken(s.base, 'platform', 'admin@sec.test', PW);
  });
  after(() => stopOk(s));

  const body = { merchantId: 'ob-sec', name: 'Secret Shop' };

  it('no x-onboard-secret header → 401', async () => {
    await envelope(await onboard(s.base, body), 401, 'UNAUTHORIZED');
  });

  it('a wrong x-onboard-secret → 401 (also a prefix of the secret, and the secret plus more)', async () => {
    for (const v of ['nope', ONBOARD_SECRET.slice(0, -1), ONBOARD_SECRET + 'x', '']) {
      await envelope(await onboard(s.base, body, { 'x-onboard-secret': v }), 401, 'UNAUTHORIZED');
    }
  });

  it('nothing was written by the refused attempts', async () => {
    await envelope(await call(s.base, 'GET', '/admin/merchants/ob-sec', { token: admin }), 404, 'NOT_FOUND');
  });

  it('the right x-onboard-secret → 201 PENDING', async () => {
    const r = await onboard(s.base, body, { 'x-onboard-secret': ONBOARD_SECRET });
    const j = expectStatus(r, 201, 'onboard');
    assert.equal(j.merchant.status, 'PENDING');
    assert.equal(expectStatus(await call(s.base, 'GET', '/admin/merchants/ob-sec', { token: admin }), 200).status, 'PENDING');
  });
});

// ---------------------------------------------------------------------------------------
describe(`merchant list: status filter and pagination (${STORE})`, () => {
  let s;
  let admin;
  const ACTIVE_IDS = Array.from({ length: 25 }, (_, i) => `lm-${String(i + 1).padStart(2, '0')}`);
  const PENDING_IDS = ['pd-c', 'pd-a', 'pd-b']; // onboarded in this order

  before(async () => {
    s = await startStore({
      env: BASE_ENV,
      setup: (st) => {
        ctlUser(st, { kind: 'platform', email: 'admin@list.test', role: 'admin', password: PW });
        for (const id of ACTIVE_IDS) ctlMerchant(st, id);
      },
    });
    admin = await staffToken(s.base, 'platform', 'admin@list.test', PW);
    for (const id of PENDING_IDS) {
      expectStatus(await onboard(s.base, { merchantId: id, name: `Pending ${id}` }), 201, `onboard ${id}`);
      await sleep(5); // distinct createdAtMs
    }
  });
  after(() => stopOk(s));

  it('limit=10 over all 28 merchants: 3 pages (10, 10, 8), no duplicates, next_cursor null at the end', async () => {
    const { pages, items, cursors } = await allPages(s.base, '/admin/merchants', admin, { limit: 10 });
    assert.deepEqual(pages.map((p) => p.length), [10, 10, 8]);
    const ids = items.map((m) => m.id);
    assert.equal(new Set(ids).size, ids.length, `duplicates across pages: ${ids}`);
    assert.deepEqual([...ids].sort(), [...ACTIVE_IDS, ...PENDING_IDS].sort());
    assert.equal(cursors.at(-1), null);
    assert.equal(new Set(cursors.slice(0, -1)).size, 2, 'a cursor repeated');
  });

  it('status=ACTIVE with limit=10: 3 pages (10, 10, 5), all ACTIVE', async () => {
    const { pages, items } = await allPages(s.base, '/admin/merchants?status=ACTIVE', admin, { limit: 10 });
    assert.deepEqual(pages.map((p) => p.length), [10, 10, 5]);
    for (const m of items) assert.equal(m.status, 'ACTIVE', m.id);
    assert.deepEqual(items.map((m) => m.id).sort(), ACTIVE_IDS);
  });

  it('status=PENDING: exactly the 3 onboarded merchants, one page', async () => {
    const { pages, items } = await allPages(s.base, '/admin/merchants?status=PENDING', admin, { limit: 10 });
    assert.equal(pages.length, 1);
    assert.deepEqual(items.map((m) => m.id).sort(), [...PENDING_IDS].sort());
    for (const m of items) assert.equal(m.status, 'PENDING', m.id);
  });

  it('status=SUSPENDED: an empty page with next_cursor null', async () => {
    const r = expectStatus(await call(s.base, 'GET', '/admin/merchants?status=SUSPENDED', { token: admin }), 200);
    assert.deepEqual(r, { items: [], next_cursor: null });
  });

  it('limit equal to the number of rows: one page, next_cursor null', async () => {
    const r = expectStatus(await call(s.base, 'GET', '/admin/merchants?status=ACTIVE&limit=25', { token: admin }), 200);
    assert.equal(r.items.length, 25);
    assert.equal(r.next_cursor, null);
  });

  it('no limit: 20 items and a cursor', async () => {
    const r = expectStatus(await call(s.base, 'GET', '/admin/merchants?status=ACTIVE', { token: admin }), 200);
    assert.equal(r.items.length, 20);
    assert.equal(typeof r.next_cursor, 'string');
  });

  // merchant ids are chosen by clients, so "newest first" must order by creation time
  it('newest first (docs/openapi.yaml: "List merchants (newest first)")', async () => {
    const r = expectStatus(await call(s.base, 'GET', '/admin/merchants?status=PENDING', { token: admin }), 200);
    assert.deepEqual(r.items.map((m) => m.id), [...PENDING_IDS].reverse(),
      `createdAtMs: ${JSON.stringify(r.items.map((m) => [m.id, m.createdAtMs]))}`);
  });

  for (const limit of ['0', '101', 'abc', '-1', '1.5', '']) {
    it(`limit=${JSON.stringify(limit)} → 400 BAD_REQUEST naming limit`, async () => {
      const r = await call(s.base, 'GET', `/admin/merchants?limit=${limit}`, { token: admin });
      const b = await envelope(r, 400, 'BAD_REQUEST');
      assert.equal(b.error.details.parameter, 'limit');
    });
  }

  it('a bad status or cursor → 400 BAD_REQUEST naming it', async () => {
    let b = await envelope(await call(s.base, 'GET', '/admin/merchants?status=active', { token: admin }), 400, 'BAD_REQUEST');
    assert.equal(b.error.details.parameter, 'status');
    b = await envelope(await call(s.base, 'GET', '/admin/merchants?cursor=%21%21', { token: admin }), 400, 'BAD_REQUEST');
    assert.equal(b.error.details.parameter, 'cursor');
  });
});

// ---------------------------------------------------------------------------------------
describe(`staff users API (${STORE})`, () => {
  let s;
  let admin;
  let adminId;
  let ownerA;
  let ownerAId;

  before(async () => {
    s = await startStore({
      env: BASE_ENV,
      setup: (st) => {
        adminId = ctlUser(st, { kind: 'platform', email: 'admin@users.test', role: 'admin', password: PW });
        ctlMerchant(st, 'u_a');
        ctlMerchant(st, 'u_b');
        ownerAId = ctlUser(st, { kind: 'merchant', email: 'owner@a.test', role: 'owner', merchant: 'u_a', password: PW });
        ctlUser(st, { kind: 'merchant', email: 'owner@b.test', role: 'owner', merchant: 'u_b', password: PW });
      },
    });
    admin = await staffToken(s.base, 'platform', 'admin@users.test', PW);
    ownerA = await staffToken(s.base, 'merchant', 'owner@a.test', PW);
  });
  after(() => stopOk(s));

  const create = (p, token, body) => call(s.base, 'POST', p, { token, body });

  it('an admin creates a platform user → 201 (ACTIVE, no password in the reply) who can log in', async () => {
    const r = await create('/admin/users', admin, { email: 'fin@users.test', displayName: 'Fin', role: 'finance', password: PW });
    const u = expectStatus(r, 201, 'create platform user');
    assert.match(u.id, /\S/);
    assert.equal(u.kind, 'platform');
    assert.equal(u.role, 'finance');
    assert.equal(u.status, 'ACTIVE');
    assert.equal(u.email, 'fin@users.test');
    assert.equal(u.merchantId ?? null, null);
    assert.ok(!r.text.includes(PW) && !/password/i.test(Object.keys(u).join(',')), `the reply leaks the password: ${r.text}`);
    const got = expectStatus(await call(s.base, 'GET', `/admin/users/${u.id}`, { token: admin }), 200);
    assert.equal(got.email, 'fin@users.test');
    expectStatus(await staffLogin(s.base, 'platform', 'fin@users.test', PW), 200, 'new user logs in');
  });

  it('an admin creates a merchant user → 201 scoped to that merchant', async () => {
    const r = await create('/api/merchants/u_a/users', admin, { email: 'mgr@a.test', displayName: 'Mgr', role: 'manager', password: PW });
    const u = expectStatus(r, 201, 'create merchant user');
    assert.equal(u.kind, 'merchant');
    assert.equal(u.merchantId, 'u_a');
    assert.equal(u.role, 'manager');
    const login = expectStatus(await staffLogin(s.base, 'merchant', 'mgr@a.test', PW), 200);
    assert.equal(login.profile.merchantId, 'u_a');
  });

  it('a duplicate email → 409 CONFLICT', async () => {
    let r = await create('/admin/users', admin, { email: 'fin@users.test', displayName: 'Again', role: 'viewer', password: PW });
    await envelope(r, 409, 'CONFLICT');
    r = await create('/api/merchants/u_b/users', admin, { email: 'mgr@a.test', displayName: 'Again', role: 'clerk', password: PW });
    await envelope(r, 409, 'CONFLICT');
  });

  it('a password shorter than 10 characters → 400 naming password', async () => {
    for (const password of ['short', '123456789']) {
      const r = await create('/admin/users', admin, { email: 'weak@users.test', displayName: 'Weak', role: 'viewer', password });
      const b = await envelope(r, 400, 'VALIDATION_FAILED');
      assert.equal(b.error.details.field, 'password');
    }
    await envelope(await staffLogin(s.base, 'platform', 'weak@users.test', 'short'), 401, 'UNAUTHORIZED');
  });

  it('a role not valid for the kind → 400 naming role', async () => {
    let r = await create('/admin/users', admin, { email: 'r1@users.test', displayName: 'R1', role: 'owner', password: PW });
    assert.equal((await envelope(r, 400, 'VALIDATION_FAILED')).error.details.field, 'role');
    r = await create('/api/merchants/u_a/users', admin, { email: 'r2@a.test', displayName: 'R2', role: 'admin', password: PW });
    assert.equal((await envelope(r, 400, 'VALIDATION_FAILED')).error.details.field, 'role');
    r = await create('/admin/users', admin, { email: 'r3@users.test', displayName: 'R3', role: 'superuser', password: PW });
    assert.equal((await envelope(r, 400, 'VALIDATION_FAILED')).error.details.field, 'role');
  });

  it('a bad email and missing fields → 400 naming them', async () => {
    let r = await create('/admin/users', admin, { email: 'not-an-email', displayName: 'E', role: 'viewer', password: PW });
    assert.equal((await envelope(r, 400, 'VALIDATION_FAILED')).error.details.field, 'email');
    r = await create('/admin/users', admin, { email: 'nodn@users.test', role: 'viewer', password: PW });
    assert.equal((await envelope(r, 400, 'VALIDATION_FAILED')).error.details.field, 'displayName');
  });

  it('a user at an unknown merchant → 404', async () => {
    const r = await create('/api/merchants/u_nope/users', admin, { email: 'x@nope.test', displayName: 'X', role: 'clerk', password: PW });
    await envelope(r, 404, 'NOT_FOUND');
  });

  it('the owner of A creates a clerk at A (201) but not at B (403 MERCHANT_SCOPE_DENIED)', async () => {
    const r = await create('/api/merchants/u_a/users', ownerA, { email: 'clerk@a.test', displayName: 'Clerk', role: 'clerk', password: PW });
    const u = expectStatus(r, 201, 'owner creates clerk');
    assert.equal(u.merchantId, 'u_a');
    const x = await create('/api/merchants/u_b/users', ownerA, { email: 'clerk@b.test', displayName: 'Clerk B', role: 'clerk', password: PW });
    await envelope(x, 403, 'MERCHANT_SCOPE_DENIED');
    await envelope(await staffLogin(s.base, 'merchant', 'clerk@b.test', PW), 401, 'UNAUTHORIZED');
    // nor platform users
    const p = await create('/admin/users', ownerA, { email: 'plat@a.test', displayName: 'P', role: 'viewer', password: PW });
    await envelope(p, 403, 'FORBIDDEN');
  });

  it('a clerk cannot create users (403 FORBIDDEN)', async () => {
    const clerk = await staffToken(s.base, 'merchant', 'clerk@a.test', PW);
    const r = await create('/api/merchants/u_a/users', clerk, { email: 'c2@a.test', displayName: 'C2', role: 'clerk', password: PW });
    await envelope(r, 403, 'FORBIDDEN');
    await envelope(await staffLogin(s.base, 'merchant', 'c2@a.test', PW), 401, 'UNAUTHORIZED');
  });

  it('nobody changes their own role or status (409), and nothing changed', async () => {
    let r = await call(s.base, 'PATCH', `/admin/users/${adminId}`, { token: admin, body: { role: 'viewer' } });
    assert.equal((await envelope(r, 409, 'CONFLICT')).error.details.field, 'role');
    r = await call(s.base, 'PATCH', `/admin/users/${adminId}`, { token: admin, body: { status: 'DISABLED' } });
    assert.equal((await envelope(r, 409, 'CONFLICT')).error.details.field, 'status');
    r = await call(s.base, 'PATCH', `/api/merchants/u_a/users/${ownerAId}`, { token: ownerA, body: { role: 'manager' } });
    await envelope(r, 409, 'CONFLICT');
    r = await call(s.base, 'PATCH', `/api/merchants/u_a/users/${ownerAId}`, { token: ownerA, body: { status: 'DISABLED' } });
    await envelope(r, 409, 'CONFLICT');
    // tokens untouched, roles unchanged
    assert.equal(expectStatus(await me(s.base, admin), 200).role, 'admin');
    assert.equal(expectStatus(await me(s.base, ownerA), 200).role, 'owner');
    // a display name of one's own is fine
    r = await call(s.base, 'PATCH', `/api/merchants/u_a/users/${ownerAId}`, { token: ownerA, body: { displayName: 'Anna' } });
    assert.equal(expectStatus(r, 200, 'own display name').displayName, 'Anna');
    expectStatus(await me(s.base, ownerA), 200, 'a rename revokes nothing');
  });

  it('PATCH password revokes that user\'s tokens (and only theirs)', async () => {
    const u = await apiUser(s.base, ownerA, { kind: 'merchant', email: 'rot@a.test', role: 'clerk', merchant: 'u_a', password: PW });
    const other = await staffToken(s.base, 'merchant', 'mgr@a.test', PW);
    const old = await staffToken(s.base, 'merchant', 'rot@a.test', PW);
    const NEW = 'rotated-password-99';
    const weak = await call(s.base, 'PATCH', `/api/merchants/u_a/users/${u.id}`, { token: ownerA, body: { password: 'short' } });
    assert.equal((await envelope(weak, 400, 'VALIDATION_FAILED')).error.details.field, 'password');
    expectStatus(await me(s.base, old), 200, 'a refused change revokes nothing');
    const r = await call(s.base, 'PATCH', `/api/merchants/u_a/users/${u.id}`, { token: ownerA, body: { password: NEW } });
    expectStatus(r, 200, 'password change');
    const b = await envelope(await me(s.base, old), 401, 'UNAUTHORIZED');
    assert.match(String(b.error.details.reason), /revoked/);
    expectStatus(await me(s.base, other), 200, 'another user\'s token was revoked too');
    expectStatus(await me(s.base, ownerA), 200, 'the caller\'s token was revoked');
    await envelope(await staffLogin(s.base, 'merchant', 'rot@a.test', PW), 401, 'UNAUTHORIZED');
    expectStatus(await staffLogin(s.base, 'merchant', 'rot@a.test', NEW), 200, 'login with the new password');
  });

  it('the owner of A cannot read or change B\'s users (403 MERCHANT_SCOPE_DENIED)', async () => {
    const list = expectStatus(await call(s.base, 'GET', '/api/merchants/u_b/users', { token: admin }), 200);
    const ownerB = list.items.find((u) => u.email === 'owner@b.test');
    assert.ok(ownerB, `owner@b.test not in ${JSON.stringify(list)}`);
    assert.ok(!list.items.some((u) => u.email === 'clerk@b.test'), 'the refused clerk at B exists');
    await envelope(await call(s.base, 'GET', '/api/merchants/u_b/users', { token: ownerA }), 403, 'MERCHANT_SCOPE_DENIED');
    const r = await call(s.base, 'PATCH', `/api/merchants/u_b/users/${ownerB.id}`, { token: ownerA, body: { status: 'DISABLED' } });
    await envelope(r, 403, 'MERCHANT_SCOPE_DENIED');
    expectStatus(await staffLogin(s.base, 'merchant', 'owner@b.test', PW), 200, 'owner of B still logs in');
  });
});
