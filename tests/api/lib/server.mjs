// tests/api/lib/server.mjs — harness for the black-box API tests (Node built-ins only).
//
// Environment:
//   MPS_BIN_DIR            directory holding mpsd and mpsctl (default: build), relative to the repo
//   MPS_TEST_STORE         sqlite (default) | postgres
//   MPS_TEST_PG_ADMIN_URL  postgres://mps@127.0.0.1:PORT/postgres (a superuser; postgres store only)
//   MPS_TEST_KEEP=1        keep data directories and databases after the tests
//
// startServer() spawns `mpsd --port 0 --data-dir <tmp>` (plus --db-url for PostgreSQL, on a
// fresh database), waits for the JSON log line {"msg":"listening","port":N} and returns a
// handle whose stop() sends SIGTERM and reports {code, signal, stderr}. Sanitizer reports on
// stderr (AddressSanitizer, LeakSanitizer, UBSan "runtime error:") make stop() throw.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const BIN_DIR = path.resolve(REPO_ROOT, process.env.MPS_BIN_DIR || 'build');
export const MPSD = path.join(BIN_DIR, 'mpsd');
export const MPSCTL = path.join(BIN_DIR, 'mpsctl');
export const STORE = (process.env.MPS_TEST_STORE || 'sqlite').toLowerCase();
export const PG_ADMIN_URL = process.env.MPS_TEST_PG_ADMIN_URL || '';
const KEEP = process.env.MPS_TEST_KEEP === '1';

const SANITIZER_RE = /AddressSanitizer|LeakSanitizer|runtime error:/;
const live = new Set(); // servers not yet stopped: killed if the test process exits
const scratch = []; // temp dirs and databases removed at exit

process.on('exit', () => {
  for (const p of live) {
    try { p.kill('SIGKILL'); } catch { /* already gone */ }
  }
  if (KEEP) return;
  for (const s of scratch) {
    try {
      if (s.dir) rmSync(s.dir, { recursive: true, force: true });
    } catch { /* best effort */ }
  }
});

// killed from outside (a pass timeout, ^C): take the servers down too
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.once(sig, () => process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGHUP' ? 1 : 15)));
}

/** A fresh temporary directory, removed when the test process exits. */
export function tempDir(prefix = 'mps-test-') {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  scratch.push({ dir });
  return dir;
}

/** The environment for a child: ours without any MPS_* setting (so a developer's shell
 *  does not leak into a test), plus `extra`. */
export function childEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('MPS_')) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

function pgUrlFor(db) {
  const u = new URL(PG_ADMIN_URL);
  u.pathname = '/' + db;
  return u.toString();
}

function psql(url, sql) {
  return execFileSync('psql', [url, '-v', 'ON_ERROR_STOP=1', '-qAt', '-c', sql], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000,
  });
}

/** Create a fresh PostgreSQL database t_<random>; returns {name, url, drop()}. */
export function createPgDatabase() {
  if (!PG_ADMIN_URL) throw new Error('MPS_TEST_PG_ADMIN_URL is not set (needed for the postgres store)');
  const name = 't_' + randomBytes(6).toString('hex');
  psql(PG_ADMIN_URL, `CREATE DATABASE ${name}`);
  const drop = () => {
    if (KEEP) return;
    try { psql(PG_ADMIN_URL, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); } catch { /* best effort */ }
  };
  return { name, url: pgUrlFor(name), drop };
}

/** Fresh store URL for the configured MPS_TEST_STORE: sqlite:<tmp>/x.db or a new database. */
export function freshStoreUrl() {
  if (STORE === 'postgres') return createPgDatabase().url;
  return `sqlite:${path.join(tempDir(), 'x.db')}`;
}

function sanitizerLines(lines) {
  return lines.filter((l) => SANITIZER_RE.test(l));
}

/**
 * Start mpsd. Options:
 *   env      extra environment (MPS_* settings)
 *   args     extra command-line arguments
 *   store    'sqlite' | 'postgres' (default: MPS_TEST_STORE)
 *   dataDir  data directory (default: a fresh temp dir)
 *   timeoutMs  how long to wait for the 'listening' line (default 15 s)
 *   fileSizeLimit  bytes: no file mpsd writes may grow past this (RLIMIT_FSIZE through
 *              prlimit, SIGXFSZ ignored so that a write past it fails with EFBIG): a disk
 *              that fills, without a filesystem of that size
 * Returns {base, port, proc, dataDir, dbUrl, stderrLines, logs(), waitForLog(), stop()}.
 */
export async function startServer({ env = {}, args = [], store = STORE, dataDir, timeoutMs = 15_000, fileSizeLimit } = {}) {
  dataDir = dataDir || tempDir('mps-data-');
  const argv = ['--port', '0', '--data-dir', dataDir, ...args];
  let db = null;
  const wantsOwnStore = args.includes('--db-url') || args.some((a) => a.startsWith('--db-url=')) || env.MPS_DB_URL;
  if (store === 'postgres' && !wantsOwnStore) {
    db = createPgDatabase();
    argv.push('--db-url', db.url);
  }
  const limited = fileSizeLimit === undefined ? [MPSD, argv]
    : ['/bin/sh', ['-c', 'trap "" XFSZ; exec prlimit --fsize="$0" -- "$@"', String(fileSizeLimit), MPSD, ...argv]];
  const proc = spawn(limited[0], limited[1], { env: childEnv(env), stdio: ['ignore', 'ignore', 'pipe'] });
  live.add(proc);
  const stderrLines = [];
  let partial = '';
  const lineWaiters = new Set();
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (chunk) => {
    partial += chunk;
    let nl;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      stderrLines.push(line);
      for (const w of lineWaiters) w();
    }
  });
  const exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      live.delete(proc);
      resolve({ code, signal });
    });
    proc.on('error', (err) => {
      live.delete(proc);
      resolve({ code: null, signal: null, error: err });
    });
  });
  // stderr may still hold data after 'exit': wait for the stream to end as well
  const stderrClosed = new Promise((resolve) => proc.stderr.on('close', resolve));
  const allStderr = () => stderrLines.join('\n') + (partial ? '\n' + partial : '');

  const port = await new Promise((resolve, reject) => {
    let done = false;
    const check = () => {
      if (done) return;
      for (const line of stderrLines) {
        let obj;
        try { obj = JSON.parse(line); } catch { continue; }
        if (obj && obj.msg === 'listening' && Number.isInteger(obj.port) && obj.port > 0) {
          done = true;
          cleanup();
          resolve(obj.port);
          return;
        }
      }
    };
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      cleanup();
      proc.kill('SIGKILL');
      reject(new Error(`mpsd did not log "listening" within ${timeoutMs} ms; stderr:\n${allStderr()}`));
    }, timeoutMs);
    const cleanup = () => { clearTimeout(timer); lineWaiters.delete(check); };
    lineWaiters.add(check);
    exited.then(async (r) => {
      if (done) return;
      await stderrClosed;
      check();
      if (done) return;
      done = true;
      cleanup();
      reject(new Error(`mpsd exited before listening (code ${r.code}, signal ${r.signal}` +
        `${r.error ? ', ' + r.error.message : ''}); stderr:\n${allStderr()}`));
    });
    check();
  });

  /** The store this server used, as an `mpsctl --db-url` value. */
  function storeUrl() {
    if (db) return db.url;
    const i = argv.indexOf('--db-url');
    if (i >= 0) return argv[i + 1];
    const eq = argv.find((a) => a.startsWith('--db-url='));
    if (eq) return eq.slice('--db-url='.length);
    if (env.MPS_DB_URL) return env.MPS_DB_URL;
    return `sqlite:${path.join(dataDir, 'mps.db')}`;
  }

  /** Run `mpsctl verify` on the store: null when clean, else a message with its report. */
  function verifyStore() {
    const url = storeUrl();
    if (url.startsWith('sqlite:') && !existsSync(url.slice('sqlite:'.length))) return null;
    const v = runCtl(['verify', '--db-url', url]);
    if (v.code === 0) return null;
    return `mpsctl verify failed (exit ${v.code}) on ${url}:\n${v.stdout}\n${v.stderr}\n--- mpsd stderr ---\n${allStderr()}`;
  }

  let stopped = null;
  const server = {
    base: `http://127.0.0.1:${port}`,
    port,
    proc,
    dataDir,
    dbUrl: db ? db.url : null,
    stderrLines,
    /** stderr lines parsed as JSON (lines that are not JSON are returned as {_raw}). */
    logs() {
      return stderrLines.map((l) => { try { return JSON.parse(l); } catch { return { _raw: l }; } });
    },
    /** Wait until a parsed log line satisfies pred (default timeout 5 s); returns it. */
    async waitForLog(pred, ms = 5000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const hit = server.logs().find((o) => !o._raw && pred(o));
        if (hit) return hit;
        if (Date.now() > deadline) throw new Error(`no matching log line within ${ms} ms; stderr:\n${allStderr()}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    /** Has the process exited? */
    get exited() { return proc.exitCode !== null || proc.signalCode !== null; },
    /**
     * Send `signal` (default SIGTERM), wait for exit (default 20 s, then SIGKILL and throw).
     * Returns {code, signal, stderr, stderrLines, ms}. Throws on sanitizer output.
     */
    async stop({ signal = 'SIGTERM', timeoutMs: stopTimeout = 20_000, verify = true } = {}) {
      if (!stopped) {
        stopped = (async () => {
          const t0 = Date.now();
          if (!server.exited) proc.kill(signal);
          let timer;
          const r = await Promise.race([
            exited,
            new Promise((resolve) => { timer = setTimeout(() => resolve(null), stopTimeout); }),
          ]);
          clearTimeout(timer);
          if (r === null) {
            proc.kill('SIGKILL');
            await exited;
            throw new Error(`mpsd did not exit within ${stopTimeout} ms of ${signal}; stderr:\n${allStderr()}`);
          }
          const ms = Date.now() - t0;
          await Promise.race([stderrClosed, new Promise((res) => setTimeout(res, 2000))]);
          if (partial) { stderrLines.push(partial); partial = ''; }
          // Every test's store must pass `mpsctl verify` (ledger, holds, payments, audit
          // chains) when its server stops, after a crash (SIGKILL) too. Opt out per call with
          // stop({ verify: false }) for stores a test corrupts on purpose.
          const verifyErr = verify && !process.env.MPS_TEST_SKIP_VERIFY ? verifyStore() : null;
          if (db) db.drop();
          if (!KEEP) rmSync(dataDir, { recursive: true, force: true });
          if (verifyErr) throw new Error(verifyErr);
          const san = sanitizerLines(stderrLines);
          if (san.length) {
            throw new Error(`sanitizer reported problems:\n${san.join('\n')}\n--- full stderr ---\n${allStderr()}`);
          }
          return { code: r.code, signal: r.signal, stderr: allStderr(), stderrLines, ms };
        })();
      }
      return stopped;
    },
  };
  return server;
}

/** Run a binary from MPS_BIN_DIR synchronously: {code, signal, stdout, stderr}. */
export function runBin(name, args = [], env = {}, { timeoutMs = 30_000, cwd } = {}) {
  const r = spawnSync(path.join(BIN_DIR, name), args, {
    env: childEnv(env), encoding: 'utf8', timeout: timeoutMs, cwd: cwd || tempDir('mps-cwd-'),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (r.error && r.error.code !== 'ETIMEDOUT') throw r.error;
  const out = { code: r.status, signal: r.signal, stdout: r.stdout || '', stderr: r.stderr || '' };
  if (r.error) out.timedOut = true;
  const san = sanitizerLines((out.stderr || '').split('\n'));
  if (san.length) throw new Error(`${name} ${args.join(' ')}: sanitizer reported problems:\n${out.stderr}`);
  return out;
}

/** Run mpsctl synchronously: {code, stdout, stderr}. MPS_DATA_DIR defaults to a temp dir. */
export function runCtl(args = [], env = {}) {
  return runBin('mpsctl', args, { MPS_DATA_DIR: tempDir('mps-ctl-'), ...env });
}

/** Run mpsd synchronously (for --help, --version, configuration errors). */
export function runMpsd(args = [], env = {}, opts = {}) {
  return runBin('mpsd', args, { MPS_DATA_DIR: tempDir('mps-data-'), ...env }, { timeoutMs: 10_000, ...opts });
}

/**
 * Open a TCP connection, write `text` (string or Buffer, or an array of them written one
 * after another) and collect everything the server sends until it closes the connection.
 * Resolves with the raw response text. If the server has not closed the connection after
 * timeoutMs (default 5 s) the socket is destroyed and the promise rejects with an error
 * whose .code is 'ETIMEDOUT' and .partial holds what was received.
 */
export function rawRequest(port, text, { timeoutMs = 5000, host = '127.0.0.1' } = {}) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    const sock = net.connect({ port, host });
    let settled = false;
    const finish = (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const got = Buffer.concat(chunks).toString('latin1');
      if (err) {
        err.partial = got;
        sock.destroy();
        reject(err);
      } else {
        resolve(got);
      }
    };
    const timer = setTimeout(() => {
      const e = new Error(`rawRequest: connection still open after ${timeoutMs} ms`);
      e.code = 'ETIMEDOUT';
      finish(e);
    }, timeoutMs);
    sock.on('data', (d) => chunks.push(d));
    sock.on('end', () => { sock.end(); finish(null); });
    sock.on('close', () => finish(null));
    sock.on('error', (err) => {
      // a reset after (or instead of) a reply counts as the server closing the connection
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') finish(null);
      else finish(err);
    });
    sock.on('connect', () => {
      const parts = Array.isArray(text) ? text : [text];
      for (const p of parts) sock.write(p);
    });
  });
}

/**
 * Open a raw connection that stays open: writes `text` and returns
 * {socket, closed: Promise<{text, ms}>} where closed resolves when the server closes it.
 */
export function openRawSocket(port, text, { host = '127.0.0.1' } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host });
    const chunks = [];
    let t0 = 0;
    const closed = new Promise((res) => {
      sock.on('close', () => res({ text: Buffer.concat(chunks).toString('latin1'), ms: Date.now() - t0 }));
    });
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', () => { /* reported through 'close' */ });
    sock.once('connect', () => {
      t0 = Date.now();
      sock.write(text, () => resolve({ socket: sock, closed }));
    });
    sock.once('error', (e) => { if (!t0) reject(e); });
  });
}

/**
 * One HTTP request on a fresh connection (no keep-alive pool), for servers started with a
 * short MPS_CONNECTION_TIMEOUT_S where a pooled fetch() connection may already be closed.
 * Resolves with a fetch-like {status, headers: {get(name)}, text(), json()}.
 */
export function httpRequest(url, { method = 'GET', headers = {}, body, timeoutMs = 10_000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({
          status: res.statusCode,
          headers: { get: (n) => { const v = res.headers[n.toLowerCase()]; return v === undefined ? null : String(v); } },
          text: async () => text,
          json: async () => JSON.parse(text),
        });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`httpRequest ${method} ${url}: no reply within ${timeoutMs} ms`)));
    req.on('error', reject);
    if (body !== undefined) req.end(body); else req.end();
  });
}

/** Parse a raw HTTP/1.1 response: {status, headers (lower-case keys), body}. */
export function parseRawResponse(raw) {
  const end = raw.indexOf('\r\n\r\n');
  const head = end >= 0 ? raw.slice(0, end) : raw;
  const lines = head.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] || '');
  const headers = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  let body = end >= 0 ? raw.slice(end + 4) : '';
  if (/chunked/i.test(headers['transfer-encoding'] || '')) {
    let out = '';
    let rest = body;
    for (;;) {
      const nl = rest.indexOf('\r\n');
      if (nl < 0) break;
      const size = parseInt(rest.slice(0, nl), 16);
      if (!size) break;
      out += rest.slice(nl + 2, nl + 2 + size);
      rest = rest.slice(nl + 2 + size + 2);
    }
    body = out;
  }
  return { status: m ? Number(m[1]) : null, headers, body };
}

export const RFC3339_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Assert the error envelope
 *   {"error":{"code","message","details":{}},"request_id","timestamp"}
 * on a fetch Response (or a {status, headers, body} object from parseRawResponse).
 * Checks the status, the code, and that request_id equals the X-Request-Id header.
 * Returns the parsed body.
 */
export async function expectEnvelope(res, status, code) {
  let text;
  let header;
  if (typeof res.text === 'function') {
    text = await res.text();
    header = res.headers.get('x-request-id');
  } else {
    text = res.body;
    header = res.headers['x-request-id'];
  }
  assert.equal(res.status, status, `expected HTTP ${status} ${code}, got ${res.status}: ${text}`);
  let body;
  try { body = JSON.parse(text); } catch { assert.fail(`error body is not JSON: ${JSON.stringify(text)}`); }
  assert.ok(body && typeof body === 'object' && body.error && typeof body.error === 'object',
    `no "error" object in ${text}`);
  assert.equal(body.error.code, code, `error code in ${text}`);
  assert.equal(typeof body.error.message, 'string', `error.message in ${text}`);
  assert.ok(body.error.message.length > 0, `empty error.message in ${text}`);
  assert.ok(body.error.details && typeof body.error.details === 'object' && !Array.isArray(body.error.details),
    `error.details must be an object in ${text}`);
  assert.equal(typeof body.request_id, 'string', `request_id in ${text}`);
  assert.ok(header, 'X-Request-Id header missing on an error response');
  assert.equal(body.request_id, header, 'request_id must equal the X-Request-Id header');
  assert.match(String(body.timestamp), RFC3339_RE, `timestamp is not RFC 3339 in ${text}`);
  return body;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
