// tests/api/tenancy_resources.test.mjs — black-box tests of a merchant's stores, terminals
// and members (/api/merchants/{merchantId}/stores|terminals|members): CRUD, validation
// naming the field, cursor pagination, the role table, merchant scope (403
// MERCHANT_SCOPE_DENIED, audited), another merchant's resources as 404, and member
// disabling revoking tokens.
//
// Run: node --test tests/api/tenancy_resources.test.mjs (MPS_BIN_DIR, MPS_TEST_STORE,
// MPS_TEST_PG_ADMIN_URL: see lib/server.mjs)
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { STORE, startServer, expectEnvelope } from './lib/server.mjs';

let s;
const tokens = new Map(); // "role|merchantId" -> token

async function call(method, path, { token, body, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  if (body !== undefined) h['Content-Type'] = 'application/json';
  const res = await fetch(`${s.base}${path}`, {
    method, headers: h, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, body: json, text, res, headers: res.headers };
}

/** An error reply as expectEnvelope checks it (status, code, envelope shape). */
async function expectError(r, status, code) {
  return expectEnvelope({ status: r.status, text: async () => r.text, headers: r.headers }, status, code);
}

async function tokenFor(role, merchantId) {
  const key = `${role}|${merchantId || ''}`;
  if (tokens.has(key)) return tokens.get(key);
  const body = merchantId ? { role, merchantId } : { role };
  const r = await call('POST', '/api/auth/mock-login', { body });
  assert.equal(r.status, 200, r.text);
  tokens.set(key, r.body.token);
  return r.body.token;
}
const admin = () => tokenFor('admin');
const owner = (m) => tokenFor('OWNER', m);

/** The 'login code' log line for phone at merchant logged after stderr line `since`. */
async function codeLine(phone, merchantId, since) {
  for (let i = 0; i < 200; i++) {
    for (const l of s.stderrLines.slice(since)) {
      let o;
      try { o = JSON.parse(l); } catch { continue; }
      if (o.msg === 'login code' && o.phone === phone && o.merchant_id === merchantId) return o;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`no login code logged for ${phone}`);
}

let merchantSeq = 0;
/** A fresh ACTIVE merchant; returns its id. */
async function newMerchant(prefix = 'm') {
  const id = `${prefix}_${process.pid}_${++merchantSeq}`;
  const r = await call('POST', '/admin/merchants', {
    token: await admin(), body: { id, name: `Merchant ${id}`, currency: 'IDR', timeZone: 'Asia/Jakarta' },
  });
  assert.equal(r.status, 201, r.text);
  return id;
}

async function created(r) {
  assert.equal(r.status, 201, r.text);
  return r.body;
}

const storesPath = (m) => `/api/merchants/${m}/stores`;
const terminalsPath = (m) => `/api/merchants/${m}/terminals`;
const membersPath = (m) => `/api/merchants/${m}/members`;

async function createStore(m, body = { name: 'Main outlet' }, token) {
  return created(await call('POST', storesPath(m), { token: token || await owner(m), body }));
}
async function createTerminal(m, body, token) {
  return created(await call('POST', terminalsPath(m), { token: token || await owner(m), body }));
}
async function createMember(m, body, token) {
  return created(await call('POST', membersPath(m), { token: token || await owner(m), body }));
}

/** Page through a list with limit 10; returns every item id in order. */
async function pageAll(path, token) {
  const ids = [];
  let cursor = null;
  for (let page = 0; page < 20; page++) {
    const q = `?limit=10${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const r = await call('GET', path + q, { token });
    assert.equal(r.status, 200, r.text);
    assert.ok(Array.isArray(r.body.items), r.text);
    assert.ok(r.body.items.length <= 10, `page of ${r.body.items.length}`);
    ids.push(...r.body.items.map((i) => i.id));
    cursor = r.body.next_cursor;
    if (!cursor) return ids;
    assert.equal(r.body.items.length, 10, 'only the last page may be short');
  }
  assert.fail('pagination did not end within 20 pages');
}

async function checkPagination(path, make, token) {
  const made = [];
  for (let i = 0; i < 25; i++) made.push((await make(i)).id);
  const ids = await pageAll(path, token);
  assert.equal(ids.length, 25, `got ${ids.length} items`);
  assert.equal(new Set(ids).size, 25, 'duplicates across pages');
  assert.deepEqual([...ids].sort(), [...made].sort(), 'items missing or foreign');
  assert.deepEqual(ids, [...made].reverse(), 'newest first');
}

// many mock logins from one client: the per-IP login limit would get in the way
before(async () => { s = await startServer({ env: { MPS_DEV_MODE: '1', MPS_RATE_LOGIN_PER_MIN: '0' } }); });
after(async () => {
  if (!s) return;
  const r = await s.stop();
  assert.equal(r.code, 0, r.stderr);
});

// ---------------------------------------------------------------------------------------
describe(`stores (${STORE})`, () => {
  it('create, get, list and patch', async () => {
    const m = await newMerchant();
    const st = await createStore(m, { name: 'Kopi Senayan', address: 'Jl. Asia Afrika 8, Jakarta' });
    assert.match(st.id, /^sto_[0-9A-Z]{26}$/);
    assert.equal(st.merchantId, m);
    assert.equal(st.name, 'Kopi Senayan');
    assert.equal(st.address, 'Jl. Asia Afrika 8, Jakarta');
    assert.equal(st.status, 'ACTIVE');
    assert.ok(Number.isInteger(st.createdAtMs) && st.createdAtMs > 0);
    assert.equal(st.updatedAtMs, st.createdAtMs);

    const got = await call('GET', `${storesPath(m)}/${st.id}`, { token: await tokenFor('CLERK', m) });
    assert.equal(got.status, 200, got.text);
    assert.deepEqual(got.body, st);

    const noAddress = await createStore(m, { name: 'Kiosk' });
    assert.equal(noAddress.address, null);

    const list = await call('GET', storesPath(m), { token: await tokenFor('viewer') });
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(list.body.items.map((i) => i.id), [noAddress.id, st.id]);
    assert.equal(list.body.next_cursor, null);

    const p = await call('PATCH', `${storesPath(m)}/${st.id}`, {
      token: await tokenFor('MANAGER', m), body: { name: 'Kopi Senayan City', status: 'INACTIVE' },
    });
    assert.equal(p.status, 200, p.text);
    assert.equal(p.body.name, 'Kopi Senayan City');
    assert.equal(p.body.status, 'INACTIVE');
    assert.equal(p.body.address, st.address, 'an absent field stays');
    assert.ok(p.body.updatedAtMs >= st.updatedAtMs);

    const cleared = await call('PATCH', `${storesPath(m)}/${st.id}`, { token: await admin(), body: { address: '' } });
    assert.equal(cleared.status, 200, cleared.text);
    assert.equal(cleared.body.address, null);
    assert.equal(cleared.body.name, 'Kopi Senayan City');

    const active = await call('GET', `${storesPath(m)}?status=ACTIVE`, { token: await owner(m) });
    assert.deepEqual(active.body.items.map((i) => i.id), [noAddress.id]);
    const inactive = await call('GET', `${storesPath(m)}?status=INACTIVE`, { token: await owner(m) });
    assert.deepEqual(inactive.body.items.map((i) => i.id), [st.id]);
  });

  it('validation errors name the field', async () => {
    const m = await newMerchant();
    const t = await owner(m);
    const st = await createStore(m);
    const cases = [
      ['POST', storesPath(m), {}, 'name'],
      ['POST', storesPath(m), { name: '' }, 'name'],
      ['POST', storesPath(m), { name: '   ' }, 'name'],
      ['POST', storesPath(m), { name: 'x'.repeat(129) }, 'name'],
      ['POST', storesPath(m), { name: 'ok', address: 5 }, 'address'],
      ['POST', storesPath(m), { name: 'ok', address: 'a'.repeat(257) }, 'address'],
      ['POST', storesPath(m), { name: 'ok', colour: 'red' }, 'colour'],
      ['POST', storesPath(m), { name: 'tab\there' }, 'name'],
      ['PATCH', `${storesPath(m)}/${st.id}`, { status: 'CLOSED' }, 'status'],
      ['PATCH', `${storesPath(m)}/${st.id}`, { name: '' }, 'name'],
      ['PATCH', `${storesPath(m)}/${st.id}`, { merchantId: 'other' }, 'merchantId'],
    ];
    for (const [method, path, body, field] of cases) {
      const r = await call(method, path, { token: t, body });
      const e = await expectError(r, 400, 'VALIDATION_FAILED');
      assert.equal(e.error.details.field, field, `${method} ${JSON.stringify(body)}: ${r.text}`);
    }
    const unchanged = await call('GET', `${storesPath(m)}/${st.id}`, { token: t });
    assert.deepEqual(unchanged.body, st, 'a refused patch changes nothing');
  });

  it('bad list parameters are 400 BAD_REQUEST naming the parameter', async () => {
    const m = await newMerchant();
    for (const [q, param] of [['status=OPEN', 'status'], ['limit=0', 'limit'], ['limit=101', 'limit'],
      ['cursor=a%20b', 'cursor']]) {
      const r = await call('GET', `${storesPath(m)}?${q}`, { token: await owner(m) });
      const e = await expectError(r, 400, 'BAD_REQUEST');
      assert.equal(e.error.details.parameter, param, r.text);
    }
  });

  it('pagination: 25 stores in pages of 10, no duplicates, none missing', async () => {
    const m = await newMerchant();
    await checkPagination(storesPath(m), (i) => createStore(m, { name: `Outlet ${i}` }), await owner(m));
  });

  it('an unknown merchant is 404; a suspended one takes no new stores (409)', async () => {
    const a = await admin();
    for (const [method, path, body] of [['GET', storesPath('m_nope'), undefined],
      ['POST', storesPath('m_nope'), { name: 'x' }], ['GET', `${storesPath('m_nope')}/sto_x`, undefined]]) {
      const r = await call(method, path, { token: a, body });
      const e = await expectError(r, 404, 'NOT_FOUND');
      assert.match(e.error.message, /merchant/i);
    }
    const m = await newMerchant();
    const st = await createStore(m);
    const sus = await call('POST', `/admin/merchants/${m}/suspend`, { token: a, body: { reason: 'test' } });
    assert.equal(sus.status, 200, sus.text);
    await expectError(await call('POST', storesPath(m), { token: a, body: { name: 'x' } }), 409, 'CONFLICT');
    const list = await call('GET', storesPath(m), { token: a });
    assert.deepEqual(list.body.items.map((i) => i.id), [st.id], 'reads still work');
    const re = await call('POST', `/admin/merchants/${m}/reactivate`, { token: a, body: {} });
    assert.equal(re.status, 200, re.text);
    await createStore(m, { name: 'after reactivation' });
  });

  it('a store unknown to this merchant is 404', async () => {
    const m = await newMerchant();
    const r = await call('GET', `${storesPath(m)}/sto_00000000000000000000000000`, { token: await owner(m) });
    await expectError(r, 404, 'NOT_FOUND');
    const p = await call('PATCH', `${storesPath(m)}/sto_00000000000000000000000000`, { token: await owner(m), body: { name: 'x' } });
    await expectError(p, 404, 'NOT_FOUND');
  });
});

// ---------------------------------------------------------------------------------------
describe(`terminals (${STORE})`, () => {
  it('create, get, list and patch', async () => {
    const m = await newMerchant();
    const st1 = await createStore(m, { name: 'One' });
    const st2 = await createStore(m, { name: 'Two' });
    const serial = `SN-${process.pid}-A1`;
    const t1 = await createTerminal(m, { storeId: st1.id, name: 'Till 1', serialNo: serial }, await tokenFor('ops', m));
    assert.match(t1.id, /^ter_[0-9A-Z]{26}$/);
    assert.equal(t1.merchantId, m);
    assert.equal(t1.storeId, st1.id);
    assert.equal(t1.name, 'Till 1');
    assert.equal(t1.serialNo, serial);
    assert.equal(t1.status, 'ACTIVE');
    const t2 = await createTerminal(m, { storeId: st2.id, name: 'Till 2' });
    assert.equal(t2.serialNo, null);

    const got = await call('GET', `${terminalsPath(m)}/${t1.id}`, { token: await tokenFor('finance', m) });
    assert.equal(got.status, 200, got.text);
    assert.deepEqual(got.body, t1);

    const all = await call('GET', terminalsPath(m), { token: await tokenFor('support') });
    assert.deepEqual(all.body.items.map((i) => i.id), [t2.id, t1.id]);
    const atOne = await call('GET', `${terminalsPath(m)}?storeId=${st1.id}`, { token: await owner(m) });
    assert.deepEqual(atOne.body.items.map((i) => i.id), [t1.id]);

    const p = await call('PATCH', `${terminalsPath(m)}/${t1.id}`, {
      token: await tokenFor('ops'), body: { name: 'Till 1b', storeId: st2.id, status: 'INACTIVE', serialNo: '' },
    });
    assert.equal(p.status, 200, p.text);
    assert.equal(p.body.name, 'Till 1b');
    assert.equal(p.body.storeId, st2.id);
    assert.equal(p.body.status, 'INACTIVE');
    assert.equal(p.body.serialNo, null);
    const inactive = await call('GET', `${terminalsPath(m)}?status=INACTIVE`, { token: await owner(m) });
    assert.deepEqual(inactive.body.items.map((i) => i.id), [t1.id]);

    // the cleared serial number is free again
    const t3 = await createTerminal(m, { storeId: st1.id, name: 'Till 3', serialNo: serial });
    assert.equal(t3.serialNo, serial);
  });

  it('serialNo is unique, across merchants too (409 CONFLICT)', async () => {
    const m = await newMerchant();
    const other = await newMerchant();
    const st = await createStore(m);
    const so = await createStore(other);
    const serial = `SN-${process.pid}-DUP`;
    const t1 = await createTerminal(m, { storeId: st.id, name: 'A', serialNo: serial });
    await expectError(await call('POST', terminalsPath(m), { token: await owner(m), body: { storeId: st.id, name: 'B', serialNo: serial } }), 409, 'CONFLICT');
    await expectError(await call('POST', terminalsPath(other), { token: await owner(other), body: { storeId: so.id, name: 'C', serialNo: serial } }), 409, 'CONFLICT');
    const t2 = await createTerminal(m, { storeId: st.id, name: 'D', serialNo: `${serial}-2` });
    const e = await expectError(await call('PATCH', `${terminalsPath(m)}/${t2.id}`, { token: await owner(m), body: { serialNo: serial } }), 409, 'CONFLICT');
    assert.equal(e.error.details.field, 'serialNo');
    const same = await call('PATCH', `${terminalsPath(m)}/${t1.id}`, { token: await owner(m), body: { serialNo: serial } });
    assert.equal(same.status, 200, `keeping one's own serial is no conflict: ${same.text}`);
    const still = await call('GET', `${terminalsPath(m)}/${t2.id}`, { token: await owner(m) });
    assert.equal(still.body.serialNo, `${serial}-2`);
  });

  it("a store of another merchant, an unknown or an INACTIVE store is 422 naming storeId", async () => {
    const m = await newMerchant();
    const other = await newMerchant();
    const mine = await createStore(m);
    const theirs = await createStore(other);
    const closed = await createStore(m, { name: 'closed' });
    const pc = await call('PATCH', `${storesPath(m)}/${closed.id}`, { token: await owner(m), body: { status: 'INACTIVE' } });
    assert.equal(pc.status, 200, pc.text);
    for (const storeId of [theirs.id, 'sto_00000000000000000000000000', closed.id]) {
      const r = await call('POST', terminalsPath(m), { token: await admin(), body: { storeId, name: 'T' } });
      const e = await expectError(r, 422, 'UNPROCESSABLE');
      assert.equal(e.error.details.field, 'storeId', r.text);
    }
    const t = await createTerminal(m, { storeId: mine.id, name: 'T' });
    const r = await call('PATCH', `${terminalsPath(m)}/${t.id}`, { token: await owner(m), body: { storeId: theirs.id } });
    const e = await expectError(r, 422, 'UNPROCESSABLE');
    assert.equal(e.error.details.field, 'storeId');
  });

  it('validation errors name the field', async () => {
    const m = await newMerchant();
    const st = await createStore(m);
    const t = await createTerminal(m, { storeId: st.id, name: 'T' });
    const cases = [
      ['POST', terminalsPath(m), { name: 'T' }, 'storeId'],
      ['POST', terminalsPath(m), { storeId: st.id }, 'name'],
      ['POST', terminalsPath(m), { storeId: st.id, name: 'T', serialNo: 'has space' }, 'serialNo'],
      ['POST', terminalsPath(m), { storeId: st.id, name: 'T', serialNo: '' }, 'serialNo'],
      ['POST', terminalsPath(m), { storeId: st.id, name: 'T', serialNo: 'S'.repeat(65) }, 'serialNo'],
      ['POST', terminalsPath(m), { storeId: 7, name: 'T' }, 'storeId'],
      ['PATCH', `${terminalsPath(m)}/${t.id}`, { status: 'BROKEN' }, 'status'],
      ['PATCH', `${terminalsPath(m)}/${t.id}`, { serialNo: 'a/b c' }, 'serialNo'],
      ['PATCH', `${terminalsPath(m)}/${t.id}`, { name: '  ' }, 'name'],
    ];
    for (const [method, path, body, field] of cases) {
      const r = await call(method, path, { token: await owner(m), body });
      const e = await expectError(r, 400, 'VALIDATION_FAILED');
      assert.equal(e.error.details.field, field, `${method} ${JSON.stringify(body)}: ${r.text}`);
    }
  });

  it('pagination: 25 terminals in pages of 10, no duplicates, none missing', async () => {
    const m = await newMerchant();
    const st = await createStore(m);
    await checkPagination(terminalsPath(m), (i) => createTerminal(m, { storeId: st.id, name: `T${i}`, serialNo: `PG-${process.pid}-${m}-${i}` }), await tokenFor('viewer', m));
  });
});

// ---------------------------------------------------------------------------------------
describe(`members (${STORE})`, () => {
  it('create normalises the phone; get, list, filters and patch', async () => {
    const m = await newMerchant();
    const mem = await createMember(m, { phone: '+62 (812) 3456-7890', displayName: 'Budi' }, await tokenFor('CLERK', m));
    assert.match(mem.id, /^mem_[0-9A-Z]{26}$/);
    assert.equal(mem.merchantId, m);
    assert.equal(mem.phone, '+6281234567890');
    assert.equal(mem.displayName, 'Budi');
    assert.equal(mem.status, 'ACTIVE');
    assert.equal(mem.tokenVersion, 1);
    const other = await createMember(m, { phone: '0812.0000.1111', displayName: 'Sari' }, await admin());
    assert.equal(other.phone, '081200001111');

    const got = await call('GET', `${membersPath(m)}/${mem.id}`, { token: await tokenFor('support') });
    assert.equal(got.status, 200, got.text);
    assert.deepEqual(got.body, mem);

    const byPhone = await call('GET', `${membersPath(m)}?phone=${encodeURIComponent('+62 812 3456 7890')}`, { token: await owner(m) });
    assert.equal(byPhone.status, 200, byPhone.text);
    assert.deepEqual(byPhone.body.items.map((i) => i.id), [mem.id]);
    const none = await call('GET', `${membersPath(m)}?phone=6281234567890`, { token: await owner(m) });
    assert.deepEqual(none.body.items, [], 'phone matches exactly (the + counts)');

    const p = await call('PATCH', `${membersPath(m)}/${mem.id}`, { token: await tokenFor('MANAGER', m), body: { displayName: 'Budi S.' } });
    assert.equal(p.status, 200, p.text);
    assert.equal(p.body.displayName, 'Budi S.');
    assert.equal(p.body.tokenVersion, 1, 'a name change keeps tokens');

    const d = await call('PATCH', `${membersPath(m)}/${other.id}`, { token: await tokenFor('support'), body: { status: 'DISABLED' } });
    assert.equal(d.status, 200, d.text);
    const disabled = await call('GET', `${membersPath(m)}?status=DISABLED`, { token: await owner(m) });
    assert.deepEqual(disabled.body.items.map((i) => i.id), [other.id]);
    const active = await call('GET', `${membersPath(m)}?status=ACTIVE`, { token: await owner(m) });
    assert.deepEqual(active.body.items.map((i) => i.id), [mem.id]);
  });

  it('a phone is unique per merchant (409), not across merchants', async () => {
    const m = await newMerchant();
    const other = await newMerchant();
    await createMember(m, { phone: '+628111222333', displayName: 'A' });
    const dup = await call('POST', membersPath(m), { token: await owner(m), body: { phone: '+62 811-1222-333', displayName: 'B' } });
    const e = await expectError(dup, 409, 'CONFLICT');
    assert.equal(e.error.details.field, 'phone');
    const elsewhere = await createMember(other, { phone: '+628111222333', displayName: 'A elsewhere' });
    assert.equal(elsewhere.merchantId, other);
  });

  it('validation errors name the field', async () => {
    const m = await newMerchant();
    const mem = await createMember(m, { phone: '0811000000', displayName: 'V' });
    const cases = [
      ['POST', membersPath(m), { displayName: 'x' }, 'phone'],
      ['POST', membersPath(m), { phone: '12345', displayName: 'x' }, 'phone'],
      ['POST', membersPath(m), { phone: '1'.repeat(21), displayName: 'x' }, 'phone'],
      ['POST', membersPath(m), { phone: '0812abc4567', displayName: 'x' }, 'phone'],
      ['POST', membersPath(m), { phone: '0812+34567', displayName: 'x' }, 'phone'],
      ['POST', membersPath(m), { phone: 812345678, displayName: 'x' }, 'phone'],
      ['POST', membersPath(m), { phone: '0812345678' }, 'displayName'],
      ['POST', membersPath(m), { phone: '0812345678', displayName: ' ' }, 'displayName'],
      ['POST', membersPath(m), { phone: '0812345678', displayName: 'x', status: 'ACTIVE' }, 'status'],
      ['PATCH', `${membersPath(m)}/${mem.id}`, { status: 'BLOCKED' }, 'status'],
      ['PATCH', `${membersPath(m)}/${mem.id}`, { displayName: '' }, 'displayName'],
      ['PATCH', `${membersPath(m)}/${mem.id}`, { phone: '0811000001' }, 'phone'],
    ];
    for (const [method, path, body, field] of cases) {
      const r = await call(method, path, { token: await owner(m), body });
      const e = await expectError(r, 400, 'VALIDATION_FAILED');
      assert.equal(e.error.details.field, field, `${method} ${JSON.stringify(body)}: ${r.text}`);
    }
    const bad = await call('GET', `${membersPath(m)}?phone=abc`, { token: await owner(m) });
    assert.equal((await expectError(bad, 400, 'BAD_REQUEST')).error.details.parameter, 'phone');
    const badStatus = await call('GET', `${membersPath(m)}?status=INACTIVE`, { token: await owner(m) });
    assert.equal((await expectError(badStatus, 400, 'BAD_REQUEST')).error.details.parameter, 'status');
  });

  it('pagination: 25 members in pages of 10, no duplicates, none missing', async () => {
    const m = await newMerchant();
    await checkPagination(membersPath(m), (i) => createMember(m, { phone: `+6281300000${String(i).padStart(3, '0')}`, displayName: `M${i}` }), await tokenFor('CLERK', m));
  });

  it('disabling bumps tokenVersion once; re-enabling keeps it', async () => {
    const m = await newMerchant();
    const mem = await createMember(m, { phone: '+628500000001', displayName: 'T' });
    const path = `${membersPath(m)}/${mem.id}`;
    const t = await owner(m);
    const d1 = await call('PATCH', path, { token: t, body: { status: 'DISABLED' } });
    assert.equal(d1.status, 200, d1.text);
    assert.equal(d1.body.status, 'DISABLED');
    assert.equal(d1.body.tokenVersion, 2);
    const d2 = await call('PATCH', path, { token: t, body: { status: 'DISABLED' } });
    assert.equal(d2.body.tokenVersion, 2, 'already disabled: no second bump');
    const a = await call('PATCH', path, { token: t, body: { status: 'ACTIVE' } });
    assert.equal(a.body.status, 'ACTIVE');
    assert.equal(a.body.tokenVersion, 2);
  });

  it("disabling revokes the member's real token (login by code, then GET /api/me)", async (t) => {
    const m = await newMerchant();
    const phone = '+628600000001';
    const mem = await createMember(m, { phone, displayName: 'Real' });
    const login = async () => {
      const since = s.stderrLines.length;
      const rq = await call('POST', '/api/auth/member/request-code', { body: { merchantId: m, phone } });
      if (rq.status === 404) return null;
      assert.equal(rq.status, 202, rq.text);
      const line = await codeLine(phone, m, since);
      const r = await call('POST', '/api/auth/member/login', { body: { merchantId: m, phone, code: line.code } });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.profile.userId, mem.id, 'the login found the member staff created');
      return r.body.token;
    };
    const token = await login();
    if (!token) { t.skip('member login is not available'); return; }
    const me = await call('GET', '/api/me', { token });
    assert.equal(me.status, 200, me.text);

    const d = await call('PATCH', `${membersPath(m)}/${mem.id}`, { token: await owner(m), body: { status: 'DISABLED' } });
    assert.equal(d.status, 200, d.text);
    await expectError(await call('GET', '/api/me', { token }), 401, 'UNAUTHORIZED');

    const a = await call('PATCH', `${membersPath(m)}/${mem.id}`, { token: await owner(m), body: { status: 'ACTIVE' } });
    assert.equal(a.status, 200, a.text);
    await expectError(await call('GET', '/api/me', { token }), 401, 'UNAUTHORIZED');
    const fresh = await login();
    assert.equal((await call('GET', '/api/me', { token: fresh })).status, 200, 'a new login works again');
  });
});

// ---------------------------------------------------------------------------------------
describe(`access (${STORE})`, () => {
  let A;
  let B;
  const b = {}; // merchant B's store, terminal, member

  before(async () => {
    A = await newMerchant('ma');
    B = await newMerchant('mb');
    b.store = await createStore(B, { name: 'B store' });
    b.terminal = await createTerminal(B, { storeId: b.store.id, name: 'B till', serialNo: `B-${process.pid}` });
    b.member = await createMember(B, { phone: '+628700000001', displayName: 'B member' });
  });

  /** Every route of this file on merchant m, with a valid body. */
  const routes = (m) => [
    ['GET', storesPath(m)],
    ['POST', storesPath(m), { name: 'sneaky' }],
    ['GET', `${storesPath(m)}/${b.store.id}`],
    ['PATCH', `${storesPath(m)}/${b.store.id}`, { name: 'sneaky' }],
    ['GET', terminalsPath(m)],
    ['POST', terminalsPath(m), { storeId: b.store.id, name: 'sneaky' }],
    ['GET', `${terminalsPath(m)}/${b.terminal.id}`],
    ['PATCH', `${terminalsPath(m)}/${b.terminal.id}`, { name: 'sneaky' }],
    ['GET', membersPath(m)],
    ['POST', membersPath(m), { phone: '+628799999999', displayName: 'sneaky' }],
    ['GET', `${membersPath(m)}/${b.member.id}`],
    ['PATCH', `${membersPath(m)}/${b.member.id}`, { status: 'DISABLED' }],
  ];

  it("merchant A's owner on every route of merchant B: 403 MERCHANT_SCOPE_DENIED, audited", async (t0) => {
    const t = await owner(A);
    for (const [method, path, body] of routes(B)) {
      const r = await call(method, path, { token: t, body });
      const e = await expectError(r, 403, 'MERCHANT_SCOPE_DENIED');
      assert.equal(e.error.details.merchantId, B, `${method} ${path}: ${r.text}`);
    }
    // nothing of B changed
    const st = await call('GET', `${storesPath(B)}/${b.store.id}`, { token: await owner(B) });
    assert.deepEqual(st.body, b.store);
    const te = await call('GET', `${terminalsPath(B)}/${b.terminal.id}`, { token: await owner(B) });
    assert.deepEqual(te.body, b.terminal);
    const me = await call('GET', `${membersPath(B)}/${b.member.id}`, { token: await owner(B) });
    assert.deepEqual(me.body, b.member);
    for (const p of [storesPath(B), terminalsPath(B), membersPath(B)]) {
      const l = await call('GET', p, { token: await owner(B) });
      assert.equal(l.body.items.length, 1, `${p}: ${l.text}`);
    }

    // the denials are in the audit log, when its query API is there
    const q = await call('GET', `/admin/audit-logs?merchantId=${A}&status=DENIED&limit=100`, { token: await admin() });
    if (q.status !== 200 || !Array.isArray(q.body?.items)) {
      t0.diagnostic(`audit query API not available (${q.status}): audit entries not checked`);
      return;
    }
    const targets = new Set(q.body.items.map((i) => i.target));
    for (const [method, path] of routes(B)) {
      assert.ok(targets.has(`${method} ${path}`), `no DENIED audit entry for ${method} ${path}: ${q.text}`);
    }
  });

  it("a platform admin reading B's resources through A's path gets 404", async () => {
    const a = await admin();
    for (const path of [`${storesPath(A)}/${b.store.id}`, `${terminalsPath(A)}/${b.terminal.id}`, `${membersPath(A)}/${b.member.id}`]) {
      await expectError(await call('GET', path, { token: a }), 404, 'NOT_FOUND');
    }
    const body = { name: 'moved?' };
    await expectError(await call('PATCH', `${storesPath(A)}/${b.store.id}`, { token: a, body }), 404, 'NOT_FOUND');
    await expectError(await call('PATCH', `${terminalsPath(A)}/${b.terminal.id}`, { token: a, body }), 404, 'NOT_FOUND');
    await expectError(await call('PATCH', `${membersPath(A)}/${b.member.id}`, { token: a, body: { displayName: 'x' } }), 404, 'NOT_FOUND');
    const st = await call('GET', `${storesPath(B)}/${b.store.id}`, { token: a });
    assert.deepEqual(st.body, b.store, 'unchanged');
  });

  it('roles outside a route are 403 FORBIDDEN', async () => {
    const cases = [
      [['viewer', A], 'POST', storesPath(A), { name: 'x' }],
      [['CLERK', A], 'POST', storesPath(A), { name: 'x' }],
      [['ops', A], 'PATCH', `${storesPath(A)}/sto_x`, { name: 'x' }],
      [['finance'], 'POST', storesPath(A), { name: 'x' }],
      [['support'], 'PATCH', `${storesPath(A)}/sto_x`, { name: 'x' }],
      [['finance', A], 'POST', terminalsPath(A), { storeId: 'sto_x', name: 'x' }],
      [['CLERK', A], 'PATCH', `${terminalsPath(A)}/ter_x`, { name: 'x' }],
      [['viewer'], 'POST', terminalsPath(A), { storeId: 'sto_x', name: 'x' }],
      [['viewer', A], 'GET', membersPath(A)],
      [['finance', A], 'GET', `${membersPath(A)}/mem_x`],
      [['ops', A], 'GET', membersPath(A)],
      [['finance'], 'GET', membersPath(A)],
      [['ops'], 'GET', membersPath(A)],
      [['support'], 'POST', membersPath(A), { phone: '0811111111', displayName: 'x' }],
      [['CLERK', A], 'PATCH', `${membersPath(A)}/mem_x`, { displayName: 'x' }],
      [['viewer'], 'PATCH', `${membersPath(A)}/mem_x`, { displayName: 'x' }],
      [['CUSTOMER', A], 'GET', storesPath(A)],
      [['CUSTOMER', A], 'GET', terminalsPath(A)],
      [['CUSTOMER', A], 'GET', membersPath(A)],
    ];
    for (const [[role, m], method, path, body] of cases) {
      const r = await call(method, path, { token: await tokenFor(role, m), body });
      await expectError(r, 403, 'FORBIDDEN');
    }
  });

  it('no token is 401', async () => {
    for (const [method, path, body] of routes(A)) {
      await expectError(await call(method, path, { body }), 401, 'UNAUTHORIZED');
    }
  });

  it('every change is in the audit log of the merchant, when its query API is there', async (t0) => {
    const m = await newMerchant();
    const st = await createStore(m);
    await call('PATCH', `${storesPath(m)}/${st.id}`, { token: await owner(m), body: { name: 'n' } });
    const te = await createTerminal(m, { storeId: st.id, name: 'T' });
    await call('PATCH', `${terminalsPath(m)}/${te.id}`, { token: await owner(m), body: { name: 'n' } });
    const me = await createMember(m, { phone: '0899000000', displayName: 'x' });
    await call('PATCH', `${membersPath(m)}/${me.id}`, { token: await owner(m), body: { status: 'DISABLED' } });
    const q = await call('GET', `/admin/audit-logs?merchantId=${m}&status=SUCCESS&limit=100`, { token: await admin() });
    if (q.status !== 200 || !Array.isArray(q.body?.items)) {
      t0.diagnostic(`audit query API not available (${q.status}): audit entries not checked`);
      return;
    }
    const seen = q.body.items.map((i) => `${i.action} ${i.target}`);
    for (const want of [`STORE_CREATE ${st.id}`, `STORE_UPDATE ${st.id}`, `TERMINAL_CREATE ${te.id}`,
      `TERMINAL_UPDATE ${te.id}`, `MEMBER_CREATE ${me.id}`, `MEMBER_UPDATE ${me.id}`]) {
      assert.ok(seen.includes(want), `no ${want} in ${q.text}`);
    }
  });
});
