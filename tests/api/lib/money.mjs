// tests/api/lib/money.mjs — helpers of the money tests (ledger_verify, concurrency): a store
// that outlives its servers (so mpsctl verify and restarts can run on it), JSON calls,
// mock-login tokens, a merchant with members and money, raw SQL on the store (to corrupt it
// on purpose) and `mpsctl verify`. Node built-ins only.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { STORE, startServer, runCtl, tempDir, createPgDatabase } from './server.mjs';

export const SECRET = 'money-test-secret-0123456789abcdef-XYZ';
export const SERVER_ENV = {
  MPS_DEV_MODE: '1', MPS_JWT_SECRET: SECRET, MPS_RATE_LOGIN_PER_MIN: '0', MPS_RATE_ACCOUNT_PER_MIN: '0',
  MPS_RATE_ADMIN_WRITE_PER_MIN: '0', MPS_PLATFORM_FEE_BPS: '60',
};

/** SQL: the balance of the account row aliased `a`: its row plus its lanes (hot accounts
 *  take their postings in per-connection lanes on PostgreSQL; docs/money.md). */
export const ACCOUNT_BALANCE = '(a.balance + COALESCE((SELECT SUM(s.balance) FROM ledger_account_lanes s ' +
  'WHERE s.account_id = a.id), 0))';
/** SQL: the accounts whose balance differs from normal x the sum of their journal lines. */
export const BALANCE_DRIFT_SQL = 'SELECT a.id FROM ledger_accounts a LEFT JOIN journal_lines l ON l.account_id = a.id ' +
  `GROUP BY a.id, a.balance, a.normal HAVING ${ACCOUNT_BALANCE} <> a.normal * COALESCE(SUM(l.amount), 0)`;

/** A fresh store that is neither dropped nor removed when a server on it stops:
 *  {url, kind, drop()}. */
export function newStore() {
  if (STORE === 'postgres') {
    const db = createPgDatabase();
    return { url: db.url, kind: 'postgres', drop: db.drop };
  }
  return { url: `sqlite:${path.join(tempDir('mps-money-'), 'mps.db')}`, kind: 'sqlite', drop: () => {} };
}

/** mpsd on `store` (migrated at start); opts as startServer's (fileSizeLimit). */
export function startOn(store, env = {}, opts = {}) {
  return startServer({ ...opts, env: { ...SERVER_ENV, ...env }, args: ['--db-url', store.url] });
}

/** Raw SQL on the store (sqlite3 CLI or psql); returns stdout rows as arrays of strings. */
export function sql(store, statement) {
  let out;
  if (store.kind === 'postgres') {
    out = execFileSync('psql', [store.url, '-v', 'ON_ERROR_STOP=1', '-qAt', '-F', '|', '-c', statement], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000,
    });
  } else {
    out = execFileSync('sqlite3', ['-bail', '-separator', '|', store.url.replace(/^sqlite:/, ''), statement], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000,
    });
  }
  return out.split('\n').filter((l) => l !== '').map((l) => l.split('|'));
}

/** `mpsctl verify` on the store: {code, stdout, stderr, violations: [lines]}. */
export function verify(store) {
  const r = runCtl(['verify', '--db-url', store.url], {});
  return { ...r, violations: r.stdout.split('\n').filter((l) => l.startsWith('VIOLATION ')) };
}

/** Assert a clean `mpsctl verify`. */
export function assertVerifies(store, what = '') {
  const r = verify(store);
  assert.equal(r.code, 0, `mpsctl verify ${what} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /^status:\s+ok$/m);
  return r;
}

/** A JSON call; {status, json, text, headers}. */
export async function call(base, method, urlPath, { token, body, headers = {}, rawBody } = {}) {
  const h = { ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  let payload = rawBody;
  if (body !== undefined) {
    h['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const res = await fetch(base + urlPath, { method, headers: h, body: payload });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json, text, headers: res.headers };
}

/** A token from POST /api/auth/mock-login. role: admin|finance|...|OWNER|CLERK|CUSTOMER... */
export async function token(base, role, merchantId, userId) {
  const body = { role };
  if (merchantId) body.merchantId = merchantId;
  if (userId) body.userId = userId;
  const r = await call(base, 'POST', '/api/auth/mock-login', { body });
  assert.equal(r.status, 200, `mock-login ${JSON.stringify(body)}: ${r.text}`);
  return r.json.token;
}

export const uid = (prefix) => `${prefix}_${randomBytes(5).toString('hex')}`;
export const idemKey = () => `k-${randomBytes(8).toString('hex')}`;

let phoneSeq = 0;
/** A merchant (created by a platform admin) with an owner token: {id, owner, admin}. */
export async function newMerchant(base, { currency = 'USD' } = {}) {
  const admin = await token(base, 'admin');
  const id = uid('m');
  const r = await call(base, 'POST', '/admin/merchants', {
    token: admin, body: { id, name: `Merchant ${id}`, currency, timeZone: 'UTC' },
  });
  assert.equal(r.status, 201, `create merchant: ${r.text}`);
  return { id, admin, owner: await token(base, 'OWNER', id) };
}

/** A member of merchant m (created by its owner) with a member token: {id, token}. */
export async function newMember(base, m, name = 'Member') {
  phoneSeq++;
  const phone = `+62812${String(process.pid % 1000).padStart(3, '0')}${String(phoneSeq).padStart(4, '0')}`;
  const r = await call(base, 'POST', `/api/merchants/${m.id}/members`, {
    token: m.owner, body: { phone, displayName: name },
  });
  assert.equal(r.status, 201, `create member: ${r.text}`);
  return { id: r.json.id, token: await token(base, 'CUSTOMER', m.id, r.json.id) };
}

/** Cash top-up at the till by the owner. */
export async function topup(base, m, member, amount) {
  const r = await call(base, 'POST', '/api/wallet/topup', {
    token: m.owner, headers: { 'Idempotency-Key': idemKey() },
    body: { merchantId: m.id, userId: member.id, amount, method: 'CASH' },
  });
  assert.equal(r.status, 201, `top-up: ${r.text}`);
  return r.json;
}

/** A grant by the owner: type BONUS|SILVER (amount) or VOUCHER (value, minSpend). */
export async function grant(base, m, member, body) {
  const r = await call(base, 'POST', '/api/merchant/grants', {
    token: m.owner, headers: { 'Idempotency-Key': idemKey() },
    body: { merchantId: m.id, userId: member.id, ...body },
  });
  assert.equal(r.status, 201, `grant: ${r.text}`);
  return r.json;
}

/** POST /api/payment/verify as the member; returns the raw call result. */
export function pay(base, m, member, orderAmount, key = idemKey()) {
  return call(base, 'POST', '/api/payment/verify', {
    token: member.token, headers: { 'Idempotency-Key': key },
    body: { merchantId: m.id, userId: member.id, orderAmount },
  });
}

/** GET /api/wallet of a member (as the member). */
export async function wallet(base, m, member) {
  const r = await call(base, 'GET', `/api/wallet?merchantId=${m.id}&userId=${member.id}`, { token: member.token });
  assert.equal(r.status, 200, `wallet: ${r.text}`);
  return r.json;
}

/** Every item of a cursor-paginated list (limit per page), in order; asserts page shape. */
export async function pageAll(base, urlPath, tok, limit = 100) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < 1000; page++) {
    const sep = urlPath.includes('?') ? '&' : '?';
    const r = await call(base, 'GET', `${urlPath}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token: tok });
    assert.equal(r.status, 200, `${urlPath}: ${r.text}`);
    assert.ok(Array.isArray(r.json.items) && 'next_cursor' in r.json, r.text);
    assert.ok(r.json.items.length <= limit, `a page of ${r.json.items.length} > ${limit}`);
    items.push(...r.json.items);
    cursor = r.json.next_cursor;
    if (!cursor) return items;
    assert.equal(r.json.items.length, limit, 'a page before the last one is full');
  }
  assert.fail('more than 1000 pages');
}

/** The wallet part of a payment (what left the member's buckets). */
export const walletPart = (p) => p.deduction.bonus + p.deduction.principal + p.deduction.silver;

export { STORE };
