// tests/api/lib/ctl.mjs — helpers shared by auth.test.mjs, onboarding_users.test.mjs and
// json_errors.test.mjs: a store prepared with mpsctl BEFORE mpsd starts on it, mpsctl
// against a store, JSON calls, staff logins and member login codes read from the server's
// log. Node built-ins only.
//
// Most tests prepare the store with mpsctl BEFORE mpsd starts on it (startStore's setup), so
// the state a test starts from does not depend on two processes sharing a store; tests of
// mpsctl against a running mpsd say so explicitly.
import assert from 'node:assert/strict';
import path from 'node:path';
import { STORE, runCtl, expectEnvelope, sleep, startServer, tempDir, createPgDatabase } from './server.mjs';

/** The store URL of a server from startStore()/startServer(), or of a prepared store. */
export function storeUrlOf(x) {
  return x.storeUrl || x.dbUrl || `sqlite:${path.join(x.dataDir, 'mps.db')}`;
}

/** Run mpsctl on the store of `target` (a server or {storeUrl}); asserts exit 0 unless
 *  {expectFail: true}. */
export function ctl(target, args, { expectFail = false } = {}) {
  const r = runCtl([...args, '--db-url', storeUrlOf(target)]);
  if (!expectFail) assert.equal(r.code, 0, `mpsctl ${args.join(' ')} exited ${r.code}:\n${r.stderr}${r.stdout}`);
  return r;
}

/** mpsctl merchant onboard (ACTIVE at once). */
export function ctlMerchant(target, id, { name = `Merchant ${id}`, currency = 'USD', timeZone = 'UTC' } = {}) {
  return ctl(target, ['merchant', 'onboard', '--id', id, '--name', name, '--currency', currency, '--time-zone', timeZone]);
}

/** mpsctl user create; returns the new user's id (parsed from its output). */
export function ctlUser(target, { kind, email, role, merchant, password, name }) {
  const args = ['user', 'create', '--kind', kind, '--email', email, '--role', role, '--password', password];
  if (merchant) args.push('--merchant', merchant);
  if (name) args.push('--name', name);
  const r = ctl(target, args);
  const m = /\buser (\S+) </.exec(r.stdout);
  assert.ok(m, `no user id in mpsctl output: ${r.stdout}`);
  return m[1];
}

/** A fresh, migrated store for MPS_TEST_STORE: {storeUrl, drop()}. The SQLite file lives in
 *  its own temp dir (not the server's data dir), so it outlives a server. */
export function newStore() {
  let store;
  if (STORE === 'postgres') {
    const db = createPgDatabase();
    store = { storeUrl: db.url, drop: db.drop };
  } else {
    store = { storeUrl: `sqlite:${path.join(tempDir('mps-store-'), 'mps.db')}`, drop: () => {} };
  }
  ctl(store, ['migrate']);
  return store;
}

/**
 * Start mpsd on a store: `store` from newStore() (kept when the server stops), or a fresh one
 * (dropped when it stops). setup(store) runs first — mpsctl work before mpsd starts.
 * Returns the startServer() handle plus .storeUrl.
 */
export async function startStore({ env = {}, setup, store } = {}) {
  const own = !store;
  if (own) store = newStore();
  if (setup) setup(store);
  const s = await startServer({ env, args: ['--db-url', store.storeUrl] });
  s.storeUrl = store.storeUrl;
  const stop = s.stop.bind(s);
  s.stop = async (...a) => {
    try { return await stop(...a); } finally { if (own) store.drop(); }
  };
  return s;
}

/** Stop a server and assert a clean exit (no-op for undefined). */
export async function stopOk(s) {
  if (!s) return;
  const r = await s.stop();
  assert.equal(r.code, 0, r.stderr);
}

/** A JSON call: {status, json, text, headers}. body is JSON-encoded unless raw is given. */
export async function call(base, method, urlPath, { token, body, raw, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  let payload;
  if (raw !== undefined) {
    payload = raw;
  } else if (body !== undefined) {
    h['Content-Type'] = h['Content-Type'] || 'application/json';
    payload = JSON.stringify(body);
  }
  const res = await fetch(base + urlPath, { method, headers: h, body: payload });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json, text, headers: res.headers };
}

/** expectEnvelope() for a response call() has already read; returns the parsed body. */
export function envelope(r, status, code) {
  return expectEnvelope({ status: r.status, headers: r.headers, text: async () => r.text }, status, code);
}

/** Assert a 2xx/whatever status with the body in the message; returns r.json. */
export function expectStatus(r, status, what = '') {
  assert.equal(r.status, status, `${what ? what + ': ' : ''}expected HTTP ${status}, got ${r.status}: ${r.text}`);
  return r.json;
}

/** POST /admin/login or /merchant/login: the raw call() result. */
export function staffLogin(base, kind, email, password) {
  return call(base, 'POST', kind === 'platform' ? '/admin/login' : '/merchant/login', { body: { email, password } });
}

/** A staff token, asserting the login succeeds. */
export async function staffToken(base, kind, email, password) {
  const r = await staffLogin(base, kind, email, password);
  expectStatus(r, 200, `${kind} login ${email}`);
  return r.json.token;
}

/**
 * POST /api/auth/member/request-code and read the code the default sender logs:
 * {"msg":"login code","merchant_id","phone","code"}. Returns {code, phone, reply}.
 * Only log lines written after the request count, so an earlier code is never reused.
 */
export async function requestMemberCode(server, merchantId, phone, { timeoutMs = 5000 } = {}) {
  const from = server.stderrLines.length;
  const r = await call(server.base, 'POST', '/api/auth/member/request-code', { body: { merchantId, phone } });
  expectStatus(r, 202, `request-code ${merchantId} ${phone}`);
  const norm = r.json.phone;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const line of server.stderrLines.slice(from)) {
      let o;
      try { o = JSON.parse(line); } catch { continue; }
      if (o && o.msg === 'login code' && o.merchant_id === merchantId && o.phone === norm) {
        return { code: String(o.code), phone: norm, reply: r.json };
      }
    }
    if (Date.now() > deadline) {
      assert.fail(`no "login code" log line for ${merchantId} ${norm} within ${timeoutMs} ms`);
    }
    await sleep(20);
  }
}

/** A 6-digit code that differs from `code`. */
export function otherCode(code) {
  return String((Number(code) + 1) % 1_000_000).padStart(6, '0');
}

/** POST /api/auth/member/login: the raw call() result. */
export function memberLogin(base, merchantId, phone, code) {
  return call(base, 'POST', '/api/auth/member/login', { body: { merchantId, phone, code } });
}

/** Walk every page of a list endpoint; returns {pages: [items[]], items, cursors}. */
export async function allPages(base, urlPath, token, { limit = 10, maxPages = 50 } = {}) {
  const pages = [];
  const cursors = [];
  let cursor = null;
  for (let i = 0; i < maxPages; i++) {
    const sep = urlPath.includes('?') ? '&' : '?';
    const q = `${urlPath}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const r = await call(base, 'GET', q, { token });
    expectStatus(r, 200, `GET ${q}`);
    assert.ok(Array.isArray(r.json.items), `items is not an array: ${r.text}`);
    assert.ok('next_cursor' in r.json, `no next_cursor key in ${r.text}`);
    pages.push(r.json.items);
    cursor = r.json.next_cursor;
    cursors.push(cursor);
    if (cursor === null) return { pages, items: pages.flat(), cursors };
    assert.equal(typeof cursor, 'string', `next_cursor must be a string or null: ${r.text}`);
  }
  assert.fail(`more than ${maxPages} pages at ${urlPath}`);
}

/** Create a staff user through the API as `token`: POST /admin/users (platform) or
 *  /api/merchants/{merchant}/users; asserts 201 and returns the user. */
export async function apiUser(base, token, { kind, email, role, merchant, password, name }) {
  const p = kind === 'platform' ? '/admin/users' : `/api/merchants/${merchant}/users`;
  const r = await call(base, 'POST', p, { token, body: { email, displayName: name || email, role, password } });
  return expectStatus(r, 201, `create ${kind} user ${email}`);
}

/** Create an ACTIVE merchant through POST /admin/merchants; asserts 201. */
export async function apiMerchant(base, token, id, { name = `Merchant ${id}`, currency = 'USD', timeZone = 'UTC' } = {}) {
  const r = await call(base, 'POST', '/admin/merchants', { token, body: { id, name, currency, timeZone } });
  return expectStatus(r, 201, `create merchant ${id}`);
}
