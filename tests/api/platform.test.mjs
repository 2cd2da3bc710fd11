// tests/api/platform.test.mjs — black-box tests of the platform core of mpsd and mpsctl:
// command line and configuration errors, request ids, the error envelope, health and
// metrics, routing errors (404/405), body limits (413), malformed and half-sent HTTP,
// concurrency, graceful shutdown, JSON logs, mpsctl migrate/db-check, and the
// consistency of docs/ with what the binaries print.
//
// Run: node --test tests/api/   (MPS_BIN_DIR, MPS_TEST_STORE, MPS_TEST_PG_ADMIN_URL: see lib/server.mjs)
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  REPO_ROOT, STORE, startServer, runCtl, runMpsd, rawRequest, openRawSocket, parseRawResponse,
  expectEnvelope, tempDir, createPgDatabase, sleep, httpRequest,
} from './lib/server.mjs';

const GENERATED_ID_RE = /^req_[A-Za-z0-9._:-]+$/;

/** Options mpsd --help prints: [{flag, env}] */
function helpOptions() {
  const r = runMpsd(['--help']);
  assert.equal(r.code, 0, `mpsd --help exited ${r.code}: ${r.stderr}`);
  const opts = [];
  for (const line of r.stdout.split('\n')) {
    const m = /^\s*--([a-z0-9-]+)\s+(MPS_[A-Z0-9_]+)\b/.exec(line);
    if (m) opts.push({ flag: m[1], env: m[2] });
  }
  return { opts, text: r.stdout };
}

/** Routes mpsd --routes prints: [{method, pattern, file}] */
function printedRoutes() {
  const r = runMpsd(['--routes']);
  assert.equal(r.code, 0, `mpsd --routes exited ${r.code}: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l.trim() !== '').map((l) => {
    const [method, pattern, file, ...rest] = l.split('\t');
    return { method, pattern, file, extra: rest, line: l };
  });
}

// ---------------------------------------------------------------------------------------
describe('command line', () => {
  it('--help prints every option with its MPS_* variable', () => {
    const { opts, text } = helpOptions();
    const flagLines = text.split('\n').filter((l) => /^\s*--[a-z0-9-]+\s/.test(l) && !/--help/.test(l));
    assert.ok(flagLines.length > 0, `no options in --help:\n${text}`);
    for (const l of flagLines) assert.match(l, /\bMPS_[A-Z0-9_]+\b/, `option without its MPS_* variable: ${l}`);
    const envs = new Set(opts.map((o) => o.env));
    for (const v of ['MPS_PORT', 'MPS_DATA_DIR', 'MPS_DB_URL', 'MPS_MODE', 'MPS_JWT_SECRET',
      'MPS_MAX_BODY_BYTES', 'MPS_CONNECTION_TIMEOUT_S', 'MPS_SHUTDOWN_TIMEOUT_S']) {
      assert.ok(envs.has(v), `--help does not mention ${v}:\n${text}`);
    }
  });

  it('--version prints the version and exits 0', () => {
    const r = runMpsd(['--version']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\d+\.\d+\.\d+/);
  });

  it('--routes prints the routing table as METHOD<TAB>PATTERN<TAB>FILE[<TAB>...]', () => {
    const routes = printedRoutes();
    assert.ok(routes.length > 0, 'no routes printed');
    for (const r of routes) {
      assert.match(r.method, /^(GET|HEAD|POST|PUT|PATCH|DELETE)$/, `bad method in: ${JSON.stringify(r.line)}`);
      assert.match(r.pattern || '', /^\/\S*$/, `bad pattern in: ${JSON.stringify(r.line)}`);
      assert.ok(r.file && r.file.length > 0, `no file in: ${JSON.stringify(r.line)}`);
      // further columns (e.g. roles, rate-limit class) may follow the first three
      assert.ok(existsSync(path.join(REPO_ROOT, r.file)), `route file does not exist: ${r.file}`);
    }
    const keys = routes.map((r) => `${r.method} ${r.pattern}`);
    for (const k of ['GET /health', 'GET /health/deep', 'GET /metrics']) assert.ok(keys.includes(k), `missing ${k}`);
  });
});

// ---------------------------------------------------------------------------------------
describe('configuration errors exit 2 and name the variable', () => {
  const notADir = () => {
    const f = path.join(tempDir(), 'a-file');
    writeFileSync(f, 'x');
    return f;
  };
  const cases = [
    { name: 'MPS_PORT=70000', env: { MPS_PORT: '70000' }, args: [], expect: /MPS_PORT/ },
    { name: '--port abc', env: {}, args: ['--port', 'abc'], expect: /MPS_PORT|--port/ },
    { name: 'MPS_DATA_DIR under a regular file', env: () => ({ MPS_DATA_DIR: path.join(notADir(), 'sub') }), args: [], expect: /MPS_DATA_DIR/ },
    { name: 'MPS_DATA_DIR is a regular file', env: () => ({ MPS_DATA_DIR: notADir() }), args: [], expect: /MPS_DATA_DIR/ },
    { name: 'MPS_DB_URL=mysql://x', env: { MPS_DB_URL: 'mysql://x' }, args: [], expect: /MPS_DB_URL/ },
    { name: 'production without MPS_JWT_SECRET', env: { MPS_MODE: 'production' }, args: [], expect: /MPS_JWT_SECRET/ },
    { name: 'MPS_JWT_SECRET shorter than 32 bytes', env: { MPS_JWT_SECRET: 'x'.repeat(31) }, args: [], expect: /MPS_JWT_SECRET/ },
    { name: 'unknown flag --nope', env: {}, args: ['--nope'], expect: /--nope/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const env = typeof c.env === 'function' ? c.env() : c.env;
      const r = runMpsd(c.args, env);
      assert.ok(!r.timedOut, `mpsd kept running instead of failing; stderr:\n${r.stderr}`);
      assert.equal(r.code, 2, `exit code ${r.code} (signal ${r.signal}); stderr:\n${r.stderr}`);
      assert.match(r.stderr, c.expect);
    });
  }
});

// ---------------------------------------------------------------------------------------
describe('start-up', () => {
  it('without --db-url creates DATA_DIR/mps.db', async () => {
    const dataDir = path.join(tempDir(), 'data'); // does not exist yet: mpsd creates it
    const s = await startServer({ store: 'sqlite', dataDir });
    try {
      assert.ok(existsSync(path.join(dataDir, 'mps.db')), 'mps.db not created in the data directory');
      const res = await fetch(`${s.base}/health/deep`);
      assert.equal(res.status, 200);
      assert.equal((await res.json()).store.kind, 'sqlite');
    } finally {
      const r = await s.stop();
      assert.equal(r.code, 0, r.stderr);
    }
  });

  // D66: the listening socket is mpsd's alone (SO_REUSEADDR, as libmicrohttpd sets it, but
  // not SO_REUSEPORT): a second mpsd started by mistake on a port in use must stop, not
  // quietly take half of the first one's connections.
  it('on a port another mpsd listens on: exit code 1, "cannot listen", the first serves on', async () => {
    const s = await startServer({ store: 'sqlite' });
    try {
      const r = runMpsd(['--port', String(s.port)], {}, { timeoutMs: 5_000 });
      assert.ok(!r.timedOut, `a second mpsd on port ${s.port} kept running; stderr:\n${r.stderr}`);
      assert.equal(r.code, 1, `exit code ${r.code} (signal ${r.signal}); stderr:\n${r.stderr}`);
      assert.match(r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${s.port}`));
      assert.equal((await fetch(`${s.base}/health`)).status, 200);
    } finally {
      const r = await s.stop();
      assert.equal(r.code, 0, r.stderr);
    }
  });
});

// ---------------------------------------------------------------------------------------
describe(`HTTP platform (${STORE})`, () => {
  let s;
  before(async () => { s = await startServer(); });
  after(async () => {
    if (!s) return;
    const r = await s.stop();
    assert.equal(r.code, 0, r.stderr);
  });

  describe('X-Request-Id', () => {
    it('a valid incoming id is echoed', async () => {
      const id = 'abc-DEF_123.x:y';
      const res = await fetch(`${s.base}/health`, { headers: { 'X-Request-Id': id } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-request-id'), id);
    });

    it('a 63-character id is echoed', async () => {
      const id = 'a'.repeat(63);
      const res = await fetch(`${s.base}/health`, { headers: { 'X-Request-Id': id } });
      assert.equal(res.headers.get('x-request-id'), id);
    });

    it('a missing id is generated as req_...', async () => {
      const a = await fetch(`${s.base}/health`);
      const b = await fetch(`${s.base}/health`);
      assert.match(a.headers.get('x-request-id') || '', GENERATED_ID_RE);
      assert.notEqual(a.headers.get('x-request-id'), b.headers.get('x-request-id'));
    });

    for (const [what, bad] of [['space', 'has space'], ['slash', 'a/b'], ['64 chars', 'b'.repeat(64)],
      ['quote', 'a"b'], ['empty', '']]) {
      it(`an invalid id (${what}) is replaced by a generated one`, async () => {
        const res = await fetch(`${s.base}/health`, { headers: { 'X-Request-Id': bad } });
        assert.equal(res.status, 200);
        assert.match(res.headers.get('x-request-id') || '', GENERATED_ID_RE);
      });
    }

    it('error responses carry the id in header and body', async () => {
      const res = await fetch(`${s.base}/no/such/path`, { headers: { 'X-Request-Id': 'trace-42' } });
      assert.equal(res.headers.get('x-request-id'), 'trace-42');
      const body = await expectEnvelope(res, 404, 'NOT_FOUND');
      assert.equal(body.request_id, 'trace-42');
    });
  });

  describe('health', () => {
    it('GET /health → 200 {status, version, uptime_ms}', async () => {
      const res = await fetch(`${s.base}/health`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') || '', /^application\/json/);
      const b = await res.json();
      assert.equal(b.status, 'ok');
      assert.equal(typeof b.version, 'string');
      assert.ok(b.version.length > 0);
      assert.ok(Number.isInteger(b.uptime_ms) && b.uptime_ms >= 0, `uptime_ms: ${b.uptime_ms}`);
    });

    it('HEAD /health → 200 without a body', async () => {
      const res = await fetch(`${s.base}/health`, { method: 'HEAD' });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), '');
      // check on the wire too: no bytes after the header block
      const raw = await rawRequest(s.port, 'HEAD /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
      const p = parseRawResponse(raw);
      assert.equal(p.status, 200, raw);
      assert.equal(p.body, '', `HEAD response has a body: ${JSON.stringify(raw)}`);
    });

    it('GET /health/deep → 200 with store kind, version, round trip and schema', async () => {
      const res = await fetch(`${s.base}/health/deep`);
      assert.equal(res.status, 200);
      const b = await res.json();
      assert.equal(b.status, 'ok');
      assert.equal(b.store.kind, STORE);
      assert.equal(typeof b.store.version, 'string');
      assert.ok(Number.isInteger(b.store.round_trip_us) && b.store.round_trip_us >= 0, JSON.stringify(b));
      assert.ok(Number.isInteger(b.store.schema.latest) && b.store.schema.latest >= 1, JSON.stringify(b));
      assert.equal(b.store.schema.current, b.store.schema.latest);
      assert.equal(b.store.schema.pending, 0);
    });
  });

  describe('metrics', () => {
    it('GET /metrics exposes request counters, durations, in-flight, store errors, build info', async () => {
      await fetch(`${s.base}/health`);
      await fetch(`${s.base}/definitely/unmatched`);
      const res = await fetch(`${s.base}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') || '', /^text\/plain/);
      const t = await res.text();
      assert.match(t, /^mps_http_requests_total\{[^}]*route="GET \/health"[^}]*\} \d+/m);
      assert.match(t, /^mps_http_requests_total\{[^}]*route="unmatched"[^}]*\} \d+/m);
      assert.match(t, /^mps_http_request_duration_seconds_bucket\{[^}]*le="[^"]+"[^}]*\} \d+/m);
      assert.match(t, /^mps_http_requests_in_flight(\{[^}]*\})? \d+/m);
      assert.match(t, /^mps_store_errors_total(\{[^}]*\})? \d+/m);
      assert.match(t, /^mps_store_group_reruns_total \d+$/m);
      assert.match(t, /^mps_store_jobs_inline_total \d+$/m);
      assert.match(t, /^mps_store_wal_syncs_total \d+$/m);
      assert.match(t, /^mps_store_writer_checkpoints_total \d+$/m);
      assert.match(t, /^mps_store_durable_waits_total \d+$/m);
      assert.match(t, /^mps_store_round_trips_total \d+$/m);
      assert.match(t, /^mps_build_info\{[^}]*\} 1/m);
    });

    it('GET /metrics has a histogram per store stage, and a write goes through every stage', async () => {
      const stages = async () => {
        const t = await (await fetch(`${s.base}/metrics`)).text();
        const out = {};
        for (const stage of ['queue', 'run', 'durable', 'sync']) {
          const les = [...t.matchAll(new RegExp(`^mps_store_stage_seconds_bucket\\{stage="${stage}",le="([^"]+)"\\} (\\d+)$`, 'gm'))];
          assert.equal(les.length, 13, `${stage}: 12 bounds and +Inf`);
          assert.equal(les.at(-1)[1], '+Inf');
          for (let i = 1; i < les.length; i++) {
            assert.ok(Number(les[i][2]) >= Number(les[i - 1][2]), `${stage}: buckets are cumulative`);
            if (i < les.length - 1) assert.ok(Number(les[i][1]) > Number(les[i - 1][1]), `${stage}: bounds ascend`);
          }
          const count = Number(new RegExp(`^mps_store_stage_seconds_count\\{stage="${stage}"\\} (\\d+)$`, 'm').exec(t)[1]);
          const sum = Number(new RegExp(`^mps_store_stage_seconds_sum\\{stage="${stage}"\\} ([0-9.]+)$`, 'm').exec(t)[1]);
          assert.equal(count, Number(les.at(-1)[2]), `${stage}: +Inf counts everything`);
          assert.ok(sum >= 0);
          out[stage] = count;
        }
        return out;
      };
      const before = await stages();
      // a refused login: a read (the password check), then a write (its audit row)
      const res = await fetch(`${s.base}/admin/login`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ email: 'nobody@x.test', password: 'wrong-password' }),
      });
      await expectEnvelope(res, 401, 'UNAUTHORIZED');
      let after = await stages();
      for (let i = 0; i < 20 && after.run < before.run + 2; i++) { await sleep(25); after = await stages(); }
      assert.ok(after.queue >= before.queue + 1, JSON.stringify({ before, after }));
      assert.ok(after.run >= before.run + 2, JSON.stringify({ before, after }));
      if (STORE === 'sqlite') { // the audit row waited for its fdatasync
        assert.ok(after.durable >= before.durable + 1, JSON.stringify({ before, after }));
        assert.ok(after.sync >= before.sync + 1, JSON.stringify({ before, after }));
      } else {
        assert.equal(after.durable, 0);
        assert.equal(after.sync, 0);
      }
    });

    it('the GET /health counter goes up', async () => {
      const count = async () => {
        const t = await (await fetch(`${s.base}/metrics`)).text();
        let n = 0;
        for (const m of t.matchAll(/^mps_http_requests_total\{[^}]*route="GET \/health"[^}]*\} (\d+)/gm)) n += Number(m[1]);
        return n;
      };
      const before = await count();
      for (let i = 0; i < 3; i++) await (await fetch(`${s.base}/health`)).text();
      // the access log and the counter are written when the request completes: allow a moment
      let after = await count();
      for (let i = 0; i < 20 && after < before + 3; i++) { await sleep(25); after = await count(); }
      assert.ok(after >= before + 3, `counter went from ${before} to ${after}`);
    });
  });

  describe('routing errors', () => {
    it('unknown path → 404 NOT_FOUND', async () => {
      const res = await fetch(`${s.base}/nope`);
      await expectEnvelope(res, 404, 'NOT_FOUND');
    });

    it('wrong method on an existing path → 405 with Allow', async () => {
      const res = await fetch(`${s.base}/health`, { method: 'POST' });
      assert.match(res.headers.get('allow') || '', /\bGET\b/, 'Allow header must list GET');
      await expectEnvelope(res, 405, 'METHOD_NOT_ALLOWED');
    });

    it('DELETE /metrics → 405', async () => {
      const res = await fetch(`${s.base}/metrics`, { method: 'DELETE' });
      await expectEnvelope(res, 405, 'METHOD_NOT_ALLOWED');
    });

    it('a non-JSON body to an unknown path → 404, not 415', async () => {
      const res = await fetch(`${s.base}/no/route/here`, {
        method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: 'hello',
      });
      await expectEnvelope(res, 404, 'NOT_FOUND');
    });

    it('a non-JSON body to a JSON route → 415 UNSUPPORTED_MEDIA_TYPE', async () => {
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/jsonx']) {
        const res = await fetch(`${s.base}/admin/login`, {
          method: 'POST', headers: { 'Content-Type': type }, body: 'email=a@b.c&password=x',
        });
        const body = await expectEnvelope(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
        assert.equal(body.error.details.content_type, type);
      }
      const ok = await fetch(`${s.base}/admin/login`, {
        method: 'POST', headers: { 'Content-Type': 'application/json; charset=utf-8' },
        body: JSON.stringify({ email: 'nobody@x.test', password: 'wrong-password' }),
      });
      await expectEnvelope(ok, 401, 'UNAUTHORIZED'); // parameters after the media type are fine
    });
  });

  describe('robustness', () => {
    it('a garbage request line gets 400 or a closed connection, and the server keeps serving', async () => {
      const raw = await rawRequest(s.port, 'THIS IS NOT HTTP\r\n\r\n');
      if (raw.length > 0) assert.match(raw, /^HTTP\/1\.[01] 400/, `unexpected reply: ${JSON.stringify(raw.slice(0, 200))}`);
      const raw2 = await rawRequest(s.port, 'GARBAGE\r\n\r\n');
      if (raw2.length > 0) assert.match(raw2, /^HTTP\/1\.[01] 400/, `unexpected reply: ${JSON.stringify(raw2.slice(0, 200))}`);
      const res = await fetch(`${s.base}/health`);
      assert.equal(res.status, 200);
    });

    it('a bad HTTP version is refused and the server keeps serving', async () => {
      const raw = await rawRequest(s.port, 'GET /health HTTP/9.9\r\nHost: t\r\nConnection: close\r\n\r\n');
      if (raw.length > 0) assert.doesNotMatch(raw, /^HTTP\/1\.[01] 200/, 'HTTP/9.9 should not be served');
      assert.equal((await fetch(`${s.base}/health`)).status, 200);
    });

    it('200 concurrent GET /health all succeed', async () => {
      const results = await Promise.all(Array.from({ length: 200 }, async (_, i) => {
        const res = await fetch(`${s.base}/health`, { headers: { 'X-Request-Id': `conc-${i}` } });
        const body = await res.json();
        return { status: res.status, id: res.headers.get('x-request-id'), body };
      }));
      for (const [i, r] of results.entries()) {
        assert.equal(r.status, 200);
        assert.equal(r.id, `conc-${i}`);
        assert.equal(r.body.status, 'ok');
      }
    });
  });

  describe('logs', () => {
    it('every stderr line is a JSON object', async () => {
      await fetch(`${s.base}/health`);
      await sleep(50);
      for (const line of s.stderrLines) {
        let obj;
        assert.doesNotThrow(() => { obj = JSON.parse(line); }, `not JSON: ${line}`);
        assert.ok(obj && typeof obj === 'object' && !Array.isArray(obj), `not an object: ${line}`);
      }
    });

    it('each request logs one "request" line with method, path, status, duration_us, request_id', async () => {
      const id = `log-check-${Date.now()}`;
      await (await fetch(`${s.base}/health?x=1`, { headers: { 'X-Request-Id': id } })).text();
      const line = await s.waitForLog((o) => o.msg === 'request' && o.request_id === id);
      assert.equal(line.method, 'GET');
      assert.equal(line.path, '/health');
      assert.equal(line.status, 200);
      assert.ok(Number.isInteger(line.duration_us) && line.duration_us >= 0, JSON.stringify(line));
      await sleep(100);
      const all = s.logs().filter((o) => o.msg === 'request' && o.request_id === id);
      assert.equal(all.length, 1, 'exactly one request line per request');

      const id404 = `log-404-${Date.now()}`;
      await (await fetch(`${s.base}/missing`, { headers: { 'X-Request-Id': id404 } })).text();
      const l404 = await s.waitForLog((o) => o.msg === 'request' && o.request_id === id404);
      assert.equal(l404.status, 404);
      assert.equal(l404.path, '/missing');
    });

    it('a HEAD request is logged with method HEAD', async () => {
      const id = `log-head-${Date.now()}`;
      await (await fetch(`${s.base}/health`, { method: 'HEAD', headers: { 'X-Request-Id': id } })).text();
      const line = await s.waitForLog((o) => o.msg === 'request' && o.request_id === id);
      assert.equal(line.method, 'HEAD', JSON.stringify(line));
      assert.equal(line.status, 200);
    });

    it('a request with a very long path still logs every field', async () => {
      const id = `log-long-${Date.now()}`;
      const longPath = '/' + 'p'.repeat(8000);
      const res = await fetch(`${s.base}${longPath}`, { headers: { 'X-Request-Id': id } });
      await expectEnvelope(res, 404, 'NOT_FOUND');
      const line = await s.waitForLog((o) => o.msg === 'request' && o.request_id === id);
      for (const f of ['method', 'path', 'status', 'duration_us', 'request_id']) {
        assert.ok(f in line, `field ${f} missing from ${JSON.stringify(line).slice(0, 300)}`);
      }
      assert.ok(longPath.startsWith(line.path), 'the logged path may be shortened, not altered');
    });
  });
});

// ---------------------------------------------------------------------------------------
describe('limits and timeouts', () => {
  let s;
  before(async () => {
    s = await startServer({ env: { MPS_MAX_BODY_BYTES: '2048', MPS_CONNECTION_TIMEOUT_S: '1' } });
  });
  after(async () => {
    if (!s) return;
    const r = await s.stop();
    assert.equal(r.code, 0, r.stderr);
  });

  it('a body over MPS_MAX_BODY_BYTES with Content-Length → 413', async () => {
    // fetch() as the contract says; a fresh connection for the check afterwards
    const res = await fetch(`${s.base}/health`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ pad: 'x'.repeat(4096) }),
    });
    await expectEnvelope(res, 413, 'PAYLOAD_TOO_LARGE');
    assert.equal((await httpRequest(`${s.base}/health`)).status, 200, 'server stopped serving after 413');
  });

  it('a chunked body over MPS_MAX_BODY_BYTES → 413', async () => {
    const chunk = 'y'.repeat(1000);
    const parts = ['POST /health HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n' +
      'Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n'];
    for (let i = 0; i < 5; i++) parts.push(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    parts.push('0\r\n\r\n');
    const raw = await rawRequest(s.port, parts, { timeoutMs: 5000 });
    const p = parseRawResponse(raw);
    await expectEnvelope(p, 413, 'PAYLOAD_TOO_LARGE');
    assert.equal((await httpRequest(`${s.base}/health`)).status, 200, 'server stopped serving after 413');
  });

  it('a body within the limit is not refused as too large', async () => {
    const res = await httpRequest(`${s.base}/health`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"a":1}',
    });
    assert.notEqual(res.status, 413);
    await res.text();
  });

  it('a binary garbage request line gets 400 or is closed (at the latest after the connection timeout)', async () => {
    const t0 = Date.now();
    const pending = rawRequest(s.port, Buffer.from([0, 1, 2, 255, 254, 13, 10, 13, 10]), { timeoutMs: 6000 });
    // meanwhile the server keeps serving
    assert.equal((await httpRequest(`${s.base}/health`)).status, 200);
    const raw = await pending;
    if (raw.length > 0) assert.match(raw, /^HTTP\/1\.[01] 400/, `unexpected reply: ${JSON.stringify(raw.slice(0, 200))}`);
    assert.ok(Date.now() - t0 < 6000);
    assert.equal((await httpRequest(`${s.base}/health`)).status, 200);
  });

  it('a half-sent request is closed after MPS_CONNECTION_TIMEOUT_S and does not block others', async () => {
    const { socket, closed } = await openRawSocket(s.port, 'GET /health HTTP/1.1\r\nHost: t\r\n');
    try {
      const t0 = Date.now();
      const res = await httpRequest(`${s.base}/health`);
      assert.equal(res.status, 200);
      assert.ok(Date.now() - t0 < 900, `a half-sent request delayed another one by ${Date.now() - t0} ms`);
      const result = await Promise.race([closed, sleep(6000).then(() => null)]);
      assert.ok(result, 'the half-sent connection was not closed within 6 s (timeout 1 s)');
      assert.ok(result.ms >= 500, `closed too early (${result.ms} ms)`);
      assert.doesNotMatch(result.text, /^HTTP\/1\.[01] 200/, 'a half-sent request must not be served');
    } finally {
      socket.destroy();
    }
    assert.equal((await httpRequest(`${s.base}/health`)).status, 200);
  });
});

// ---------------------------------------------------------------------------------------
describe('graceful shutdown', () => {
  for (const signal of ['SIGTERM', 'SIGINT']) {
    it(`${signal} → exit 0 with "stopped cleanly"`, async () => {
      const s = await startServer();
      assert.equal((await fetch(`${s.base}/health`)).status, 200);
      const r = await s.stop({ signal });
      assert.equal(r.code, 0, `exit code ${r.code} signal ${r.signal}; stderr:\n${r.stderr}`);
      assert.ok(s.logs().some((o) => o.msg === 'stopped cleanly'), `no "stopped cleanly" line:\n${r.stderr}`);
    });
  }

  const halfSent = {
    'headers without the final CRLF': 'GET /health HTTP/1.1\r\nHost: t\r\n',
    'a body shorter than its Content-Length': 'POST /health HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":',
  };
  for (const [signal, what] of [['SIGTERM', 'headers without the final CRLF'],
    ['SIGTERM', 'a body shorter than its Content-Length'], ['SIGINT', 'headers without the final CRLF']]) {
    it(`${signal} with a half-sent request open (${what}) and MPS_SHUTDOWN_TIMEOUT_S=2 exits 0 within ~5 s`, async () => {
      const s = await startServer({ env: { MPS_SHUTDOWN_TIMEOUT_S: '2', MPS_CONNECTION_TIMEOUT_S: '60' } });
      const { socket } = await openRawSocket(s.port, halfSent[what]);
      try {
        await sleep(200);
        const r = await s.stop({ signal, timeoutMs: 15_000 });
        assert.equal(r.code, 0, `exit code ${r.code} signal ${r.signal}; stderr:\n${r.stderr}`);
        assert.ok(r.ms < 5500, `took ${r.ms} ms to stop`);
        assert.ok(s.logs().some((o) => o.msg === 'stopped cleanly'), `no "stopped cleanly" line:\n${r.stderr}`);
      } finally {
        socket.destroy();
      }
    });
  }
});

// ---------------------------------------------------------------------------------------
describe('mpsctl', () => {
  it('migrate on a new sqlite database exits 0 and prints the schema version', () => {
    const url = `sqlite:${path.join(tempDir(), 'x.db')}`;
    const r = runCtl(['migrate', '--db-url', url]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /schema version \d+/i);
    const again = runCtl(['migrate', '--db-url', url]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /applied 0 /, 'a second migrate applies nothing');
  });

  it('db-check on a migrated sqlite database exits 0 and says healthy', () => {
    const url = `sqlite:${path.join(tempDir(), 'x.db')}`;
    assert.equal(runCtl(['migrate', '--db-url', url]).code, 0);
    const r = runCtl(['db-check', '--db-url', url]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /\bhealthy\b/);
    assert.doesNotMatch(r.stdout, /NOT healthy/);
  });

  it('db-check on an empty, unmigrated sqlite database reports pending and exits 1', () => {
    const url = `sqlite:${path.join(tempDir(), 'empty.db')}`;
    const r = runCtl(['db-check', '--db-url', url]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /pending:\s*[1-9]/);
  });

  it('migrate and db-check through MPS_DB_URL', () => {
    const url = `sqlite:${path.join(tempDir(), 'env.db')}`;
    assert.equal(runCtl(['migrate'], { MPS_DB_URL: url }).code, 0);
    const r = runCtl(['db-check'], { MPS_DB_URL: url });
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  it('migrate and db-check on PostgreSQL', { skip: STORE !== 'postgres' && 'only with MPS_TEST_STORE=postgres' }, () => {
    const db = createPgDatabase();
    try {
      const empty = runCtl(['db-check', '--db-url', db.url]);
      assert.equal(empty.code, 1, empty.stdout + empty.stderr);
      const m = runCtl(['migrate', '--db-url', db.url]);
      assert.equal(m.code, 0, m.stderr);
      assert.match(m.stdout, /schema version \d+/i);
      const r = runCtl(['db-check', '--db-url', db.url]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /postgres/);
      assert.doesNotMatch(r.stdout, /NOT healthy/);
    } finally {
      db.drop();
    }
  });

  it('an unknown command exits 2', () => {
    const r = runCtl(['nope']);
    assert.equal(r.code, 2, r.stderr);
    assert.ok(r.stderr.length > 0, 'no message on stderr');
  });

  it('errors prints the error-code registry', () => {
    const r = runCtl(['errors']);
    assert.equal(r.code, 0, r.stderr);
    const codes = [...r.stdout.matchAll(/^\| `([A-Z0-9_]+)` \| (\d{3}) \|/gm)].map((m) => m[1]);
    for (const c of ['NOT_FOUND', 'METHOD_NOT_ALLOWED', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE']) {
      assert.ok(codes.includes(c), `mpsctl errors does not list ${c}`);
    }
  });
});

// ---------------------------------------------------------------------------------------
describe('docs consistency', () => {
  const readDoc = (rel) => {
    const p = path.join(REPO_ROOT, rel);
    assert.ok(existsSync(p), `${rel} does not exist`);
    return readFileSync(p, 'utf8');
  };

  it('docs/configuration.md mentions every MPS_* variable of mpsd --help', () => {
    const { opts } = helpOptions();
    const doc = readDoc('docs/configuration.md');
    const missing = opts.map((o) => o.env).filter((v) => !new RegExp(`\\b${v}\\b`).test(doc));
    assert.deepEqual(missing, [], `variables missing from docs/configuration.md: ${missing.join(', ')}`);
  });

  it('docs/errors.md has a table row for every code of mpsctl errors', () => {
    const r = runCtl(['errors']);
    assert.equal(r.code, 0, r.stderr);
    const codes = [...r.stdout.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((m) => m[1]);
    assert.ok(codes.length > 0, `mpsctl errors printed no codes:\n${r.stdout}`);
    const doc = readDoc('docs/errors.md');
    const documented = new Set([...doc.matchAll(/^\|\s*`([A-Z0-9_]+)`\s*\|\s*(\d{3})\s*\|/gm)].map((m) => m[1]));
    const missing = codes.filter((c) => !documented.has(c));
    const extra = [...documented].filter((c) => !codes.includes(c));
    assert.deepEqual({ missing, extra }, { missing: [], extra: [] },
      `docs/errors.md vs mpsctl errors — missing: ${missing.join(', ') || '-'}; extra: ${extra.join(', ') || '-'}`);
  });

  it('docs/openapi.yaml documents exactly the routes of mpsd --routes', () => {
    const norm = (p) => p.replace(/\{[^}]*\}/g, '{}'); // parameter names may differ
    const routes = new Set(printedRoutes().map((r) => `${r.method.toUpperCase()} ${norm(r.pattern)}`));
    const doc = readDoc('docs/openapi.yaml');
    const documented = new Set();
    let inPaths = false;
    let current = null;
    for (const line of doc.split('\n')) {
      if (/^\S/.test(line)) { inPaths = /^paths:\s*$/.test(line); current = null; continue; }
      if (!inPaths) continue;
      const pm = /^ {2}(\/\S*):\s*$/.exec(line);
      if (pm) { current = norm(pm[1].replace(/^['"]|['"]$/g, '')); continue; }
      if (/^ {2}\S/.test(line)) { current = null; continue; }
      const om = /^ {4}(get|post|put|patch|delete):/.exec(line);
      if (om && current) documented.add(`${om[1].toUpperCase()} ${current}`);
    }
    const missing = [...routes].filter((r) => !documented.has(r));
    const extra = [...documented].filter((r) => !routes.has(r));
    assert.deepEqual({ missing, extra }, { missing: [], extra: [] },
      `docs/openapi.yaml vs mpsd --routes — missing: ${missing.join(', ') || '-'}; extra: ${extra.join(', ') || '-'}`);
  });
});
