// tests/api/rbac.test.mjs — roles and permissions, end to end: docs/rbac.md against the
// routing table, a route-by-role matrix over EVERY authenticated route of `mpsd --routes`,
// cross-merchant denials, bearer-token failures (no/garbage/wrong-secret/alg-none/expired/
// tampered/dev tokens), the audit-log query API (denials recorded, filters, pagination,
// merchant scoping) and `mpsctl audit verify` catching edited, removed and forged entries.
//
// Run: node --test tests/api/rbac.test.mjs   (MPS_BIN_DIR, MPS_TEST_STORE, MPS_TEST_PG_ADMIN_URL:
// see lib/server.mjs). Regenerate docs/rbac.md with scripts/gen-rbac-doc.sh after changing routes.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  REPO_ROOT, STORE, PG_ADMIN_URL, startServer, runCtl, runMpsd, expectEnvelope, tempDir,
  createPgDatabase, RFC3339_RE,
} from './lib/server.mjs';

const SECRET = 'rbac-test-secret-0123456789abcdef-XYZ'; // 32+ bytes, known to the test
const CONCURRENCY = 16;
const PLATFORM_ROLES = ['admin', 'finance', 'ops', 'support', 'viewer'];
const MERCHANT_ROLES = ['owner', 'manager', 'clerk', 'finance', 'ops', 'viewer'];
const ALL_ROLES = [
  ...PLATFORM_ROLES.map((r) => ({ kind: 'platform', role: r, key: `platform:${r}` })),
  ...MERCHANT_ROLES.map((r) => ({ kind: 'merchant', role: r, key: `merchant:${r}` })),
  { kind: 'member', role: 'member', key: 'member:member' },
];
const SERVER_ENV = {
  MPS_DEV_MODE: '1', MPS_JWT_SECRET: SECRET, MPS_RATE_LOGIN_PER_MIN: '100000',
  MPS_RATE_ADMIN_WRITE_PER_MIN: '0', MPS_RATE_ACCOUNT_PER_MIN: '100000',
};

/** Routes mpsd --routes prints: [{method, pattern, file, roles: Set|'public', rate}] */
function printedRoutes() {
  const r = runMpsd(['--routes']);
  assert.equal(r.code, 0, `mpsd --routes exited ${r.code}: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l.trim() !== '').map((l) => {
    const [method, pattern, file, roles, rate] = l.split('\t');
    assert.ok(roles && rate, `mpsd --routes line without ROLES and RATE columns: ${JSON.stringify(l)}`);
    return { method, pattern, file, rate, roles: roles === 'public' ? 'public' : new Set(roles.split(',')) };
  });
}

/** Run fn over items with at most `limit` in flight; results in input order. */
async function pool(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

async function call(base, method, urlPath, { token, body, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  let payload;
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

/** expectEnvelope for a response call() has already read. */
const envelope = (r, status, code) => expectEnvelope({ status: r.status, headers: r.headers, text: async () => r.text }, status, code);

/** A token from POST /api/auth/mock-login: role as the seeds spell it, optional scope. */
async function mockToken(base, { kind, role }, merchantId = 'm_a', userId) {
  const body = { role: kind === 'member' ? 'CUSTOMER' : role };
  if (kind !== 'platform') body.merchantId = merchantId;
  if (userId) body.userId = userId;
  else if (kind === 'member') body.userId = 'mem_rbac';
  const r = await call(base, 'POST', '/api/auth/mock-login', { body });
  assert.equal(r.status, 200, `mock-login ${JSON.stringify(body)}: ${r.text}`);
  return r.json.token;
}

const b64url = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** An HS256 JWT signed with `secret` (or alg none / no signature with {alg:'none'}). */
function craftJwt(claims, { secret = SECRET, alg = 'HS256' } = {}) {
  const head = b64url({ alg, typ: 'JWT' });
  const body = b64url(claims);
  if (alg === 'none') return `${head}.${body}.`;
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

function claimsFor({ kind = 'platform', role = 'admin', mid = '', tv = 0, sub = 'u_crafted', expInS = 600 } = {}) {
  const now = Math.floor(Date.now() / 1000);
  return { iss: 'mps', sub, knd: kind, rol: role, mid, tv, iat: now, exp: now + expInS };
}

function concretePath(pattern, merchantId = 'm_a') {
  return pattern.replace(/\{([^}]+)\}/g, (_, name) => (name === 'merchantId' ? merchantId : 'x_missing'));
}

const needsBody = (method) => ['POST', 'PATCH', 'PUT'].includes(method);

// ---------------------------------------------------------------------------------------
describe('docs/rbac.md', () => {
  it('lists exactly the routes of mpsd --routes, with the same roles and rate limits', () => {
    const file = path.join(REPO_ROOT, 'docs', 'rbac.md');
    assert.ok(existsSync(file), 'docs/rbac.md is missing: run scripts/gen-rbac-doc.sh');
    const doc = readFileSync(file, 'utf8');
    const documented = new Map();
    for (const line of doc.split('\n')) {
      const m = /^\|\s*(GET|HEAD|POST|PUT|PATCH|DELETE)\s*\|\s*`([^`]+)`\s*\|\s*([^|]+?)\s*\|\s*([^|]+?)\s*\|\s*`([^`]+)`\s*\|\s*$/.exec(line);
      if (!m) continue;
      const [, method, pattern, rolesCell, rate, file2] = m;
      let roles = 'public';
      if (rolesCell !== 'public') {
        roles = [];
        for (const group of rolesCell.split(';')) {
          const [kind, list] = group.split(':').map((s) => s.trim());
          for (const r of list.split(',')) roles.push(`${kind}:${r.trim()}`);
        }
        roles = roles.sort().join(',');
      }
      const key = `${method} ${pattern}`;
      assert.ok(!documented.has(key), `docs/rbac.md lists ${key} twice`);
      documented.set(key, { roles, rate, file: file2 });
    }
    const stale = 'docs/rbac.md is stale: run scripts/gen-rbac-doc.sh';
    const routes = printedRoutes();
    const printed = new Map(routes.map((r) => [`${r.method} ${r.pattern}`, {
      roles: r.roles === 'public' ? 'public' : [...r.roles].sort().join(','),
      rate: r.rate === '-' ? 'none' : r.rate,
      file: r.file,
    }]));
    const missing = [...printed.keys()].filter((k) => !documented.has(k));
    const extra = [...documented.keys()].filter((k) => !printed.has(k));
    assert.deepEqual({ missing, extra }, { missing: [], extra: [] }, stale);
    for (const [k, v] of printed) assert.deepEqual(documented.get(k), v, `${k}: ${stale}`);
  });

  it('explains the roles of every kind and the 401/403 rules', () => {
    const doc = readFileSync(path.join(REPO_ROOT, 'docs', 'rbac.md'), 'utf8');
    for (const w of ['admin', 'finance', 'ops', 'support', 'viewer', 'owner', 'manager', 'clerk', 'member',
      'UNAUTHORIZED', 'FORBIDDEN', 'MERCHANT_SCOPE_DENIED', 'alg', 'expired', 'audit']) {
      assert.ok(doc.includes(w), `docs/rbac.md does not mention ${w}`);
    }
  });
});

// ---------------------------------------------------------------------------------------
describe(`roles and permissions (${STORE})`, () => {
  let s;
  const tokens = new Map(); // role key -> token scoped to m_a (merchant side)
  let admin;
  const routes = printedRoutes();
  const guarded = routes.filter((r) => r.roles !== 'public');

  before(async () => {
    s = await startServer({ env: SERVER_ENV });
    admin = await mockToken(s.base, { kind: 'platform', role: 'admin' });
    for (const id of ['m_a', 'm_b']) {
      const r = await call(s.base, 'POST', '/admin/merchants', {
        token: admin, body: { id, name: `Merchant ${id}`, currency: 'USD', timeZone: 'UTC' },
      });
      assert.equal(r.status, 201, `create ${id}: ${r.text}`);
    }
    await pool(ALL_ROLES, CONCURRENCY, async (r) => { tokens.set(r.key, await mockToken(s.base, r)); });
  });
  after(async () => {
    if (!s) return;
    const r = await s.stop();
    assert.equal(r.code, 0, r.stderr);
  });

  it('the routing table has authenticated routes to check', () => {
    assert.ok(guarded.length >= 5, `only ${guarded.length} non-public routes`);
  });

  it('every role on every authenticated route: 403 FORBIDDEN exactly when the role is not listed', async () => {
    const cases = [];
    for (const route of guarded) for (const role of ALL_ROLES) cases.push({ route, role });
    const failures = [];
    await pool(cases, CONCURRENCY, async ({ route, role }) => {
      const p = concretePath(route.pattern);
      const r = await call(s.base, route.method, p, {
        token: tokens.get(role.key), body: needsBody(route.method) ? {} : undefined,
      });
      const allowed = route.roles.has(role.key);
      const code = r.json && r.json.error ? r.json.error.code : null;
      const what = `${role.key} ${route.method} ${p} (${allowed ? 'allowed' : 'not allowed'}) -> ${r.status} ${code || ''}`;
      if (!allowed) {
        try {
          await envelope(r, 403, 'FORBIDDEN');
        } catch (e) {
          failures.push(`${what}: expected the 403 FORBIDDEN envelope: ${e.message.split('\n')[0]}`);
        }
      } else if (r.status === 401 || (r.status === 403 && code === 'FORBIDDEN')) {
        failures.push(`${what}: an allowed role was refused`);
      } else if (r.status >= 500 || r.status === 429) {
        failures.push(`${what}: server error or rate limit: ${r.text}`);
      }
    });
    assert.deepEqual(failures, [], `${failures.length} of ${cases.length} calls wrong:\n${failures.join('\n')}`);
  });

  it('merchant-side roles naming another merchant in {merchantId}: 403 MERCHANT_SCOPE_DENIED', async () => {
    const cases = [];
    for (const route of guarded.filter((r) => r.pattern.includes('{merchantId}'))) {
      for (const role of ALL_ROLES.filter((x) => x.kind !== 'platform' && route.roles.has(x.key))) {
        cases.push({ route, role });
      }
    }
    const failures = [];
    await pool(cases, CONCURRENCY, async ({ route, role }) => {
      const p = concretePath(route.pattern, 'm_b');
      const r = await call(s.base, route.method, p, {
        token: tokens.get(role.key), body: needsBody(route.method) ? {} : undefined,
      });
      const code = r.json && r.json.error ? r.json.error.code : null;
      if (r.status !== 403 || code !== 'MERCHANT_SCOPE_DENIED') {
        failures.push(`${role.key} (m_a) ${route.method} ${p} -> ${r.status} ${code || r.text.slice(0, 120)}`);
      }
    });
    assert.deepEqual(failures, [], `${failures.length} of ${cases.length} cross-merchant calls not denied:\n${failures.join('\n')}`);
  });

  it('platform roles may name any merchant in {merchantId} (never MERCHANT_SCOPE_DENIED)', async () => {
    const cases = [];
    for (const route of guarded.filter((r) => r.pattern.includes('{merchantId}') && r.method === 'GET')) {
      for (const role of ALL_ROLES.filter((x) => x.kind === 'platform' && route.roles.has(x.key))) cases.push({ route, role });
    }
    const failures = [];
    await pool(cases, CONCURRENCY, async ({ route, role }) => {
      const p = concretePath(route.pattern, 'm_b');
      const r = await call(s.base, route.method, p, { token: tokens.get(role.key) });
      if (r.status === 403 || r.status === 401) failures.push(`${role.key} ${route.method} ${p} -> ${r.status} ${r.text}`);
    });
    assert.deepEqual(failures, []);
  });

  // -------------------------------------------------------------------------------------
  describe('bearer tokens', () => {
    const expect401 = async (res) => {
      await expectEnvelope(res, 401, 'UNAUTHORIZED');
      assert.match(res.headers.get('www-authenticate') || '', /^Bearer/i, 'WWW-Authenticate header');
    };
    const me = (headers = {}) => fetch(`${s.base}/api/me`, { headers });

    it('a token crafted here with the server secret is accepted (so the failures below are real)', async () => {
      const res = await me({ Authorization: `Bearer ${craftJwt(claimsFor({ role: 'viewer' }))}` });
      assert.equal(res.status, 200, await res.text());
    });
    it('no Authorization header -> 401', async () => { await expect401(await me()); });
    it('Authorization: Bearer garbage -> 401', async () => {
      await expect401(await me({ Authorization: 'Bearer garbage' }));
    });
    it('not a Bearer scheme -> 401', async () => {
      await expect401(await me({ Authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }));
    });
    it('signed with another secret -> 401', async () => {
      const t = craftJwt(claimsFor(), { secret: 'another-secret-another-secret-0123456789' });
      await expect401(await me({ Authorization: `Bearer ${t}` }));
    });
    it('alg none, empty signature -> 401', async () => {
      await expect401(await me({ Authorization: `Bearer ${craftJwt(claimsFor(), { alg: 'none' })}` }));
    });
    it('alg HS512 with the right secret -> 401 (HS256 only)', async () => {
      const head = b64url({ alg: 'HS512', typ: 'JWT' });
      const body = b64url(claimsFor());
      const sig = createHmac('sha512', SECRET).update(`${head}.${body}`).digest('base64url');
      await expect401(await me({ Authorization: `Bearer ${head}.${body}.${sig}` }));
    });
    it('expired -> 401', async () => {
      await expect401(await me({ Authorization: `Bearer ${craftJwt(claimsFor({ expInS: -3600 }))}` }));
    });
    it('a real token with its role claim changed (not re-signed) -> 401', async () => {
      const real = tokens.get('platform:viewer');
      const [h, p, sig] = real.split('.');
      const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
      assert.equal(claims.rol, 'viewer');
      claims.rol = 'admin';
      await expect401(await me({ Authorization: `Bearer ${h}.${b64url(claims)}.${sig}` }));
      // and the untouched token still works
      assert.equal((await me({ Authorization: `Bearer ${real}` })).status, 200);
    });
    it('unknown role or kind, wrong issuer, merchant token without mid -> 401', async () => {
      for (const c of [claimsFor({ role: 'root' }), claimsFor({ kind: 'god' }), { ...claimsFor(), iss: 'other' },
        claimsFor({ kind: 'merchant', role: 'owner', mid: '' }), claimsFor({ kind: 'platform', mid: 'm_a' })]) {
        await expect401(await me({ Authorization: `Bearer ${craftJwt(c)}` }));
      }
    });
    it('a development token (tv 0) without MPS_DEV_MODE -> 401', async () => {
      const prod = await startServer({ env: { MPS_JWT_SECRET: SECRET } });
      try {
        const res = await fetch(`${prod.base}/api/me`, { headers: { Authorization: `Bearer ${craftJwt(claimsFor())}` } });
        await expect401(res);
        const mock = await fetch(`${prod.base}/api/auth/mock-login`, {
          method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"role":"admin"}',
        });
        assert.equal(mock.status, 404, 'mock-login must not exist without MPS_DEV_MODE');
      } finally {
        const r = await prod.stop();
        assert.equal(r.code, 0, r.stderr);
      }
    });
  });

  // -------------------------------------------------------------------------------------
  describe('audit log API', () => {
    const list = async (token, query, route = '/admin/audit-logs') => {
      const r = await call(s.base, 'GET', `${route}?${new URLSearchParams(query)}`, { token });
      assert.equal(r.status, 200, `${route}?${new URLSearchParams(query)}: ${r.text}`);
      assert.ok(Array.isArray(r.json.items), r.text);
      assert.ok('next_cursor' in r.json, `next_cursor missing: ${r.text}`);
      return r.json;
    };
    const checkShape = (e) => {
      for (const k of ['id', 'at', 'actor', 'role', 'action', 'target', 'status', 'requestId']) {
        assert.equal(typeof e[k], 'string', `${k} in ${JSON.stringify(e)}`);
      }
      assert.match(e.at, RFC3339_RE);
      assert.equal(Date.parse(e.at), e.atMs, `at and atMs disagree in ${JSON.stringify(e)}`);
      assert.ok(e.merchantId === null || typeof e.merchantId === 'string');
      assert.ok(e.details && typeof e.details === 'object' && !Array.isArray(e.details));
      assert.ok(['SUCCESS', 'DENIED', 'BLOCKED', 'FAILED'].includes(e.status));
    };
    let probeV; let probeOwner; let probeAt;

    before(async () => {
      probeV = await mockToken(s.base, { kind: 'platform', role: 'viewer' }, undefined, 'u_probe_viewer');
      probeOwner = await mockToken(s.base, { kind: 'merchant', role: 'owner' }, 'm_a', 'u_probe_owner');
      probeAt = Date.now() - 1;
      // denied calls: a viewer creating a merchant (x5), a merchant owner listing merchants
      for (let i = 0; i < 5; i++) {
        const r = await call(s.base, 'POST', '/admin/merchants', { token: probeV, body: { id: `nope_${i}` } });
        await envelope(r, 403, 'FORBIDDEN');
      }
      const r = await call(s.base, 'GET', '/admin/merchants', { token: probeOwner });
      assert.equal(r.status, 403);
    });

    it('denied calls are listed with actor, role, action ACCESS, target and code', async () => {
      const page = await list(admin, { status: 'DENIED', actor: 'u_probe_viewer' });
      assert.equal(page.items.length, 5, JSON.stringify(page));
      for (const e of page.items) {
        checkShape(e);
        assert.equal(e.actor, 'u_probe_viewer');
        assert.equal(e.role, 'viewer');
        assert.equal(e.action, 'ACCESS');
        assert.equal(e.status, 'DENIED');
        assert.equal(e.target, 'POST /admin/merchants');
        assert.equal(e.details.code, 'FORBIDDEN');
        assert.equal(e.merchantId, null);
        assert.ok(e.atMs >= probeAt);
      }
      const owner = await list(admin, { status: 'DENIED', actor: 'u_probe_owner' });
      assert.equal(owner.items.length, 1);
      assert.equal(owner.items[0].merchantId, 'm_a');
      assert.equal(owner.items[0].role, 'owner');
      assert.equal(owner.items[0].target, 'GET /admin/merchants');
    });

    it('status=DENIED lists only denials, and the matrix denials are among them', async () => {
      const page = await list(admin, { status: 'DENIED', limit: '100' });
      assert.ok(page.items.length > 0);
      for (const e of page.items) { checkShape(e); assert.equal(e.status, 'DENIED'); }
    });

    it('filters: action, merchantId, startTime/endTime (epoch ms and RFC 3339)', async () => {
      const created = await list(admin, { action: 'MERCHANT_CREATE', limit: '100' });
      const ids = created.items.map((e) => e.target);
      assert.ok(ids.includes('m_a') && ids.includes('m_b'), JSON.stringify(ids));
      for (const e of created.items) assert.equal(e.action, 'MERCHANT_CREATE');
      const mb = await list(admin, { merchantId: 'm_b', limit: '100' });
      assert.ok(mb.items.length > 0);
      for (const e of mb.items) assert.equal(e.merchantId, 'm_b');

      const all = (await list(admin, { actor: 'u_probe_viewer' })).items;
      const pivot = all[2]; // newest first: two newer, two older
      const newer = await list(admin, { actor: 'u_probe_viewer', startTime: String(pivot.atMs) });
      for (const e of newer.items) assert.ok(e.atMs >= pivot.atMs);
      assert.ok(newer.items.some((e) => e.id === pivot.id), 'startTime is inclusive');
      const older = await list(admin, { actor: 'u_probe_viewer', endTime: pivot.at });
      for (const e of older.items) assert.ok(e.atMs < pivot.atMs, 'endTime is exclusive');
      assert.equal(newer.items.length + older.items.length, 5);
      const none = await list(admin, { actor: 'u_probe_viewer', endTime: '2000-01-01T00:00:00Z' });
      assert.equal(none.items.length, 0);
    });

    it('pagination: limit and cursor walk newest first without gaps or repeats', async () => {
      const entries = (await list(admin, { actor: 'u_probe_viewer', limit: '100' })).items;
      const full = entries.map((e) => e.id);
      assert.equal(full.length, 5);
      const newestFirst = [...entries].sort((a, b) => b.atMs - a.atMs || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
      assert.deepEqual(full, newestFirst.map((e) => e.id), 'newest (by atMs, then id) first');
      const walked = [];
      let cursor = '';
      for (let i = 0; i < 10; i++) {
        const q = { actor: 'u_probe_viewer', limit: '2' };
        if (cursor) q.cursor = cursor;
        const page = await list(admin, q);
        assert.ok(page.items.length <= 2);
        walked.push(...page.items.map((e) => e.id));
        if (!page.next_cursor) break;
        cursor = page.next_cursor;
      }
      assert.deepEqual(walked, full);
      const dflt = await list(admin, {});
      assert.ok(dflt.items.length <= 20, 'default limit 20');
    });

    it('bad filter values -> 400 BAD_REQUEST naming the parameter', async () => {
      const bad = [
        ['status', { status: 'OK' }], ['limit', { limit: '0' }], ['limit', { limit: '101' }], ['limit', { limit: 'x' }],
        ['startTime', { startTime: 'yesterday' }], ['endTime', { endTime: '2026-13-45T00:00:00Z' }],
        ['endTime', { startTime: '2000', endTime: '1000' }], ['cursor', { cursor: 'a b' }],
        ['merchantId', { merchantId: 'm a' }], ['action', { action: 'drop table' }], ['actor', { actor: '<x>' }],
      ];
      for (const [param, q] of bad) {
        for (const route of ['/admin/audit-logs', '/api/audit/logs']) {
          const query = route === '/api/audit/logs' && !q.merchantId ? { merchantId: 'm_a', ...q } : q;
          const r = await call(s.base, 'GET', `${route}?${new URLSearchParams(query)}`, { token: admin });
          const body = await envelope(r, 400, 'BAD_REQUEST');
          assert.equal(body.error.details.parameter, param, `${route} ${JSON.stringify(q)}: ${r.text}`);
        }
      }
    });

    it('a cursor that names no entry, or an entry of another merchant, is 400 naming cursor', async () => {
      const mb = await list(admin, { merchantId: 'm_b', limit: '1' }, '/api/audit/logs');
      assert.equal(mb.items.length, 1);
      const foreign = mb.items[0].id;
      for (const [route, q] of [['/admin/audit-logs', { cursor: 'aud_01NOSUCHENTRY0000000000000' }],
        ['/api/audit/logs', { merchantId: 'm_a', cursor: 'aud_01NOSUCHENTRY0000000000000' }],
        ['/api/audit/logs', { merchantId: 'm_a', cursor: foreign }],
        ['/admin/audit-logs', { merchantId: 'm_a', cursor: foreign }]]) {
        const r = await call(s.base, 'GET', `${route}?${new URLSearchParams(q)}`, { token: admin });
        const body = await envelope(r, 400, 'BAD_REQUEST');
        assert.equal(body.error.details.parameter, 'cursor', `${route} ${JSON.stringify(q)}: ${r.text}`);
      }
      const own = await list(admin, { merchantId: 'm_b', cursor: foreign }, '/api/audit/logs');
      for (const e of own.items) assert.equal(e.merchantId, 'm_b');
    });

    it('/api/audit/logs requires merchantId', async () => {
      const r = await call(s.base, 'GET', '/api/audit/logs', { token: admin });
      const body = await envelope(r, 400, 'BAD_REQUEST');
      assert.equal(body.error.details.parameter, 'merchantId');
      assert.match(body.error.message, /merchantId/);
    });

    it('merchant staff read only their merchant; another merchant is 403 MERCHANT_SCOPE_DENIED and audited', async () => {
      for (const role of ['owner', 'manager', 'clerk']) {
        const t = tokens.get(`merchant:${role}`);
        const own = await list(t, { merchantId: 'm_a', limit: '100' }, '/api/audit/logs');
        assert.ok(own.items.length > 0);
        for (const e of own.items) { checkShape(e); assert.equal(e.merchantId, 'm_a'); }
        const other = await call(s.base, 'GET', '/api/audit/logs?merchantId=m_b', { token: t });
        await envelope(other, 403, 'MERCHANT_SCOPE_DENIED');
      }
      const r = await call(s.base, 'GET', '/api/audit/logs?merchantId=m_b', { token: probeOwner });
      assert.equal(r.status, 403);
      const denied = await list(admin, { actor: 'u_probe_owner', status: 'DENIED', limit: '100' });
      const scope = denied.items.filter((e) => e.details.code === 'MERCHANT_SCOPE_DENIED');
      assert.equal(scope.length, 1, JSON.stringify(denied.items));
      assert.equal(scope[0].target, 'GET /api/audit/logs');
      assert.equal(scope[0].merchantId, 'm_a');
      // m_b's own log does not show m_a's staff activity, and m_a's does not show m_b's
      const mb = await list(admin, { merchantId: 'm_b', limit: '100' }, '/api/audit/logs');
      assert.ok(!mb.items.some((e) => e.actor === 'u_probe_owner'));
    });

    it('platform staff read any merchant through /api/audit/logs; finance is refused /admin/audit-logs', async () => {
      for (const role of PLATFORM_ROLES) {
        const page = await list(tokens.get(`platform:${role}`), { merchantId: 'm_b' }, '/api/audit/logs');
        for (const e of page.items) assert.equal(e.merchantId, 'm_b');
      }
      const r = await call(s.base, 'GET', '/admin/audit-logs', { token: tokens.get('platform:finance') });
      assert.equal(r.status, 403);
      assert.equal(r.json.error.code, 'FORBIDDEN');
    });
  });
});

// ---------------------------------------------------------------------------------------
describe(`mpsctl audit verify (${STORE})`, () => {
  const pgDbs = [];
  let base; // {url} of the pristine store after the server stopped
  const CHAINS = 70; // more than the 64 chain heads the first version checked

  /** Run SQL on a store URL with the sqlite3 CLI or psql. */
  function sql(url, text) {
    if (url.startsWith('sqlite:')) {
      return execFileSync('sqlite3', [url.slice('sqlite:'.length), text], { encoding: 'utf8', timeout: 30_000 });
    }
    return execFileSync('psql', [url, '-v', 'ON_ERROR_STOP=1', '-qAt', '-c', text], { encoding: 'utf8', timeout: 30_000 });
  }

  /** A copy of the pristine store to tamper with. */
  function copyStore() {
    if (STORE === 'postgres') {
      const name = `t_copy_${process.pid}_${pgDbs.length}`;
      const u = new URL(PG_ADMIN_URL);
      sql(PG_ADMIN_URL, `CREATE DATABASE ${name} TEMPLATE ${new URL(base.url).pathname.slice(1)}`);
      u.pathname = `/${name}`;
      pgDbs.push({ drop: () => { try { sql(PG_ADMIN_URL, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); } catch { /* best effort */ } } });
      return u.toString();
    }
    const file = path.join(tempDir(), 'copy.db');
    const from = base.url.slice('sqlite:'.length);
    copyFileSync(from, file);
    for (const ext of ['-wal', '-shm']) if (existsSync(from + ext)) copyFileSync(from + ext, file + ext);
    return `sqlite:${file}`;
  }

  const verify = (url) => {
    const r = runCtl(['audit', 'verify', '--db-url', url]);
    return { ...r, out: r.stdout + r.stderr };
  };

  before(async () => {
    let url;
    if (STORE === 'postgres') {
      const db = createPgDatabase();
      pgDbs.push(db);
      url = db.url;
    } else {
      url = `sqlite:${path.join(tempDir(), 'audit.db')}`;
    }
    const s = await startServer({ env: SERVER_ENV, args: ['--db-url', url] });
    try {
      const admin = await mockToken(s.base, { kind: 'platform', role: 'admin' });
      const viewer = await mockToken(s.base, { kind: 'platform', role: 'viewer' });
      const ids = Array.from({ length: CHAINS }, (_, i) => `t_${String(i).padStart(3, '0')}`);
      await pool(ids, CONCURRENCY, async (id) => {
        const r = await call(s.base, 'POST', '/admin/merchants', {
          token: admin, body: { id, name: id, currency: 'USD', timeZone: 'UTC' },
        });
        assert.equal(r.status, 201, r.text);
      });
      for (const name of ['one', 'two', 'three']) { // t_000: 4 entries; t_069 (the last chain): 3
        for (const id of ['t_000', 't_069']) {
          if (id === 't_069' && name === 'three') continue;
          const r = await call(s.base, 'PATCH', `/admin/merchants/${id}`, { token: admin, body: { name } });
          assert.equal(r.status, 200, r.text);
        }
      }
      const d = await call(s.base, 'POST', '/admin/merchants', { token: viewer, body: {} });
      assert.equal(d.status, 403); // a denial in the platform chain
    } finally {
      const r = await s.stop();
      assert.equal(r.code, 0, r.stderr);
    }
    base = { url };
  });
  after(() => { for (const db of pgDbs) db.drop(); });

  it('a clean log verifies: exit 0, every chain counted', () => {
    const r = verify(base.url);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /problems:\s+0/);
    const chains = Number(/chains checked:\s+(\d+)/.exec(r.out)?.[1]);
    assert.ok(chains >= CHAINS + 1, `expected at least ${CHAINS + 1} chains: ${r.out}`);
    assert.match(r.out, /entries checked:\s+\d+/);
  });

  it('an edited entry: exit 1 naming the chain and seq', () => {
    const url = copyStore();
    sql(url, `UPDATE audit_log SET details = '{"name":"forged"}' WHERE chain = 't_000' AND seq = 2`);
    const r = verify(url);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /chain t_000\b.*seq 2\b/);
  });

  it('an edited actor or status: exit 1', () => {
    const url = copyStore();
    sql(url, `UPDATE audit_log SET status = 'SUCCESS' WHERE status = 'DENIED'`);
    const r = verify(url);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /chain platform\b/);
  });

  it('the newest entry deleted: exit 1 naming the chain', () => {
    const url = copyStore();
    sql(url, `DELETE FROM audit_log WHERE chain = 't_000' AND seq = 4`);
    const r = verify(url);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /chain t_000\b.*seq 4\b/);
  });

  it('the newest entry of the 70th chain deleted: exit 1 (every head is checked)', () => {
    const url = copyStore();
    sql(url, `DELETE FROM audit_log WHERE chain = 't_069' AND seq = 3`);
    const r = verify(url);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /chain t_069\b/);
  });

  it('a middle entry deleted: exit 1 naming the chain and seq', () => {
    const url = copyStore();
    sql(url, `DELETE FROM audit_log WHERE chain = 't_000' AND seq = 2`);
    const r = verify(url);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /chain t_000\b.*seq 3\b/);
  });

  it('a forged row appended after the head: exit 1', () => {
    const url = copyStore();
    const last = sql(url, `SELECT hash FROM audit_log WHERE chain = 't_000' AND seq = 4`).trim();
    sql(url, `INSERT INTO audit_log (id, chain, seq, at_ms, actor, role, merchant_id, action, target, status, request_id, details, prev_hash, hash)
      VALUES ('aud_FORGED', 't_000', 5, 1, 'u_evil', 'admin', 't_000', 'MERCHANT_APPROVE', 't_000', 'SUCCESS', 'req_x', '{}', '${last}', '${'0'.repeat(64)}')`);
    const r = verify(url);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /chain t_000\b.*seq 5\b/);
  });

  it('a forged chain without a head: exit 1', () => {
    const url = copyStore();
    sql(url, `INSERT INTO audit_log (id, chain, seq, at_ms, actor, role, merchant_id, action, target, status, request_id, details, prev_hash, hash)
      VALUES ('aud_FORGED2', 'm_ghost', 1, 1, 'u_evil', 'admin', 'm_ghost', 'LOGIN', '', 'SUCCESS', 'req_x', '{}', '${'0'.repeat(64)}', '${'1'.repeat(64)}')`);
    const r = verify(url);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /m_ghost/);
  });

  it('a store that cannot be opened or has no schema: exit 2', () => {
    const r = verify(`sqlite:${path.join(tempDir(), 'no', 'such', 'dir', 'x.db')}`);
    assert.equal(r.code, 2, r.out);
    const empty = verify(`sqlite:${path.join(tempDir(), 'empty.db')}`);
    assert.equal(empty.code, 2, empty.out);
  });

  it('usage errors: exit 2', () => {
    const r = runCtl(['audit']);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /audit verify/);
  });
});
