// tests/api/json_errors.test.mjs — request bodies that are refused, on POST /admin/merchants
// as a platform admin: malformed JSON (line/column), a body that is not an object, the wrong
// Content-Type, missing/unknown/too long/mistyped fields, duplicate keys, a body over the
// limit, an empty body — and nothing written by any of them.
//
// Run: MPS_BIN_DIR=build node --test tests/api/json_errors.test.mjs
//      (MPS_TEST_STORE=postgres MPS_TEST_PG_ADMIN_URL=...: see lib/server.mjs)
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { STORE, httpRequest, rawRequest, parseRawResponse, expectEnvelope } from './lib/server.mjs';
import { ctlUser, call, envelope, expectStatus, staffToken, startStore, stopOk } from './lib/ctl.mjs';

const PW = 'correct-horse-1';
const ENV = { MPS_JWT_SECRET: 'json-errors-test-secret-0123456789abcdef', MPS_RATE_ADMIN_WRITE_PER_MIN: '0' };
const GOOD = { id: 'm_good', name: 'Good Shop', currency: 'USD', timeZone: 'UTC' };

describe(`JSON body errors on POST /admin/merchants (${STORE})`, () => {
  let s;
  let admin;

  before(async () => {
    s = await startStore({
      env: ENV,
      setup: (st) => ctlUser(st, { kind: 'platform', email: 'admin@json.test', role: 'admin', password: PW }),
    });
    admin = await staffToken(s.base, 'platform', 'admin@json.test', PW);
  });
  after(() => stopOk(s));

  /** POST /admin/merchants with a raw body (string or Buffer) and headers. */
  const post = (raw, { contentType = 'application/json', headers = {} } = {}) => {
    const h = { ...headers };
    if (contentType !== null) h['Content-Type'] = contentType;
    return call(s.base, 'POST', '/admin/merchants', { token: admin, raw, headers: h });
  };
  const postJson = (obj) => post(JSON.stringify(obj));
  const fieldError = async (r, field) => {
    const b = await envelope(r, 400, 'VALIDATION_FAILED');
    assert.equal(b.error.details.field, field, `details.field in ${r.text}`);
    assert.equal(typeof b.error.details.reason, 'string');
    assert.ok(b.error.message.includes(field), `the message does not name ${field}: ${b.error.message}`);
    return b;
  };

  it('malformed JSON → 400 INVALID_JSON with line and column', async () => {
    const r = await post('{\n  "name": "x",\n  "currency": }');
    const b = await envelope(r, 400, 'INVALID_JSON');
    const d = b.error.details;
    assert.equal(d.line, 3, `line in ${r.text}`);
    assert.ok(Number.isInteger(d.column) && d.column > 0, `column in ${r.text}`);
    assert.ok(Number.isInteger(d.position) && d.position > 0, `position in ${r.text}`);
    assert.equal(typeof d.reason, 'string');
  });

  it('truncated JSON and trailing garbage → 400 INVALID_JSON', async () => {
    await envelope(await post('{"name": "x"'), 400, 'INVALID_JSON');
    await envelope(await post(JSON.stringify(GOOD) + ' x'), 400, 'INVALID_JSON');
    await envelope(await post("{'name': 'x'}"), 400, 'INVALID_JSON');
  });

  it('invalid UTF-8 in a string → 400 INVALID_JSON', async () => {
    const bytes = Buffer.concat([Buffer.from('{"id":"m_utf","name":"'), Buffer.from([0xff, 0xfe]),
      Buffer.from('","currency":"USD","timeZone":"UTC"}')]);
    await envelope(await post(bytes), 400, 'INVALID_JSON');
  });

  it('a body that is not an object (array) → 400 VALIDATION_FAILED for the body', async () => {
    for (const raw of ['[]', JSON.stringify([GOOD])]) {
      const r = await post(raw);
      const b = await envelope(r, 400, 'VALIDATION_FAILED');
      assert.equal(b.error.details.field, '', `details.field in ${r.text}`);
    }
  });

  it('a scalar body ("x", 42, null, true) → 400', async () => {
    for (const raw of ['"x"', '42', 'null', 'true']) {
      const r = await post(raw);
      assert.equal(r.status, 400, `${raw}: ${r.text}`);
      assert.ok(['VALIDATION_FAILED', 'INVALID_JSON'].includes(r.json.error.code), `${raw}: ${r.text}`);
      await envelope(r, 400, r.json.error.code);
    }
  });

  it('Content-Type text/plain with a JSON body → 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    const r = await post(JSON.stringify(GOOD), { contentType: 'text/plain' });
    const b = await envelope(r, 415, 'UNSUPPORTED_MEDIA_TYPE');
    assert.equal(b.error.details.content_type, 'text/plain');
  });

  it('other media types and no Content-Type with a body → 415', async () => {
    for (const ct of ['application/x-www-form-urlencoded', 'text/json', 'multipart/form-data; boundary=x']) {
      await envelope(await post(JSON.stringify(GOOD), { contentType: ct }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    }
    const res = await httpRequest(`${s.base}/admin/merchants`, {
      method: 'POST', headers: { Authorization: `Bearer ${admin}`, 'Content-Length': String(Buffer.byteLength(JSON.stringify(GOOD))) },
      body: JSON.stringify(GOOD),
    });
    await expectEnvelope(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('a missing required field → 400 naming it', async () => {
    for (const field of ['name', 'currency', 'timeZone']) {
      const body = { ...GOOD };
      delete body[field];
      const b = await fieldError(await postJson(body), field);
      assert.match(b.error.details.reason, /required/);
    }
    await fieldError(await postJson({ ...GOOD, name: null }), 'name');
  });

  it('an unknown field → 400 naming it', async () => {
    const b = await fieldError(await postJson({ ...GOOD, colour: 'blue' }), 'colour');
    assert.match(b.error.details.reason, /not a known field/);
    await fieldError(await postJson({ ...GOOD, Name: 'case matters' }), 'Name');
  });

  it('a string too long → 400 naming the field', async () => {
    await fieldError(await postJson({ ...GOOD, name: 'n'.repeat(129) }), 'name');
    await fieldError(await postJson({ ...GOOD, id: 'i'.repeat(65) }), 'id');
    await fieldError(await postJson({ ...GOOD, timeZone: 'Z'.repeat(65) }), 'timeZone');
    await fieldError(await postJson({ ...GOOD, currency: 'USDX' }), 'currency');
    await fieldError(await postJson({ ...GOOD, name: '' }), 'name');
  });

  it('a NUL character inside a string → 400 (INVALID_JSON, or VALIDATION_FAILED naming the field)', async () => {
    const r = await post('{"id":"m_nul","name":"a\\u0000b","currency":"USD","timeZone":"UTC"}');
    assert.equal(r.status, 400, r.text);
    if (r.json.error.code === 'VALIDATION_FAILED') await fieldError(r, 'name');
    else await envelope(r, 400, 'INVALID_JSON');
  });

  it('duplicate keys → 400 INVALID_JSON', async () => {
    const r = await post('{"id":"m_dup","name":"a","name":"b","currency":"USD","timeZone":"UTC"}');
    await envelope(r, 400, 'INVALID_JSON');
  });

  it('a 2 MB body → 413 PAYLOAD_TOO_LARGE', async () => {
    const big = JSON.stringify({ ...GOOD, id: 'm_big', name: 'x'.repeat(2 * 1024 * 1024) });
    const r = await post(big);
    const b = await envelope(r, 413, 'PAYLOAD_TOO_LARGE');
    assert.equal(b.error.details.max_body_bytes, 1048576);
  });

  it('12 KB of request headers and a body of 1,000,000 bytes still arrive whole (16 KiB of connection memory, D49)', async () => {
    const r = await post(JSON.stringify({ ...GOOD, id: 'm_long', name: 'x'.repeat(1_000_000) }),
      { headers: { 'X-Padding': 'p'.repeat(12_000) } });
    await fieldError(r, 'name'); // parsed to the end: too long a name, not a cut body or a 431
  });

  it('a 2 MB chunked body → 413 PAYLOAD_TOO_LARGE', async () => {
    const chunk = 'y'.repeat(64 * 1024);
    const parts = [`POST /admin/merchants HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ${admin}\r\n` +
      'Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n'];
    for (let i = 0; i < 32; i++) parts.push(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    parts.push('0\r\n\r\n');
    const p = parseRawResponse(await rawRequest(s.port, parts, { timeoutMs: 10_000 }));
    await expectEnvelope(p, 413, 'PAYLOAD_TOO_LARGE');
  });

  it('an empty body → 400 VALIDATION_FAILED for the body', async () => {
    for (const contentType of ['application/json', null]) {
      const r = await post('', { contentType });
      const b = await envelope(r, 400, 'VALIDATION_FAILED');
      assert.equal(b.error.details.field, '', `details.field in ${r.text}`);
    }
    const none = await call(s.base, 'POST', '/admin/merchants', { token: admin });
    assert.equal((await envelope(none, 400, 'VALIDATION_FAILED')).error.details.field, '');
  });

  it('whitespace only → 400 INVALID_JSON', async () => {
    await envelope(await post('   \n '), 400, 'INVALID_JSON');
  });

  it('a number, boolean, object or array where a string is expected → 400 naming the field', async () => {
    let b = await fieldError(await postJson({ ...GOOD, name: 42 }), 'name');
    assert.match(b.error.details.reason, /string/);
    b = await fieldError(await postJson({ ...GOOD, currency: 840 }), 'currency');
    await fieldError(await postJson({ ...GOOD, timeZone: true }), 'timeZone');
    await fieldError(await postJson({ ...GOOD, id: { x: 1 } }), 'id');
    await fieldError(await postJson({ ...GOOD, contactEmail: ['a@b.test'] }), 'contactEmail');
  });

  it('a bad token with a malformed body → 401 (authentication comes before the body)', async () => {
    const r = await call(s.base, 'POST', '/admin/merchants', {
      token: 'not-a-token', raw: '{"oops', headers: { 'Content-Type': 'application/json' },
    });
    await envelope(r, 401, 'UNAUTHORIZED');
  });

  it('nothing was written by any of the refused requests', async () => {
    const r = expectStatus(await call(s.base, 'GET', '/admin/merchants', { token: admin }), 200);
    assert.deepEqual(r, { items: [], next_cursor: null });
  });

  it('the server still takes a valid body (application/json; charset=utf-8, a 128-byte name)', async () => {
    const body = { ...GOOD, name: 'n'.repeat(128) };
    const r = await post(JSON.stringify(body), { contentType: 'application/json; charset=utf-8' });
    const m = expectStatus(r, 201, 'valid create');
    assert.equal(m.name.length, 128);
    const list = expectStatus(await call(s.base, 'GET', '/admin/merchants', { token: admin }), 200);
    assert.deepEqual(list.items.map((x) => x.id), ['m_good']);
  });

  it('a media type that only starts with application/json → 415', async () => {
    for (const ct of ['application/jsonx', 'application/json-seq']) {
      const r = await post(JSON.stringify({ ...GOOD, id: 'm_ct' }), { contentType: ct });
      assert.equal(r.status, 415, `${ct}: ${r.status} ${r.text}`);
    }
  });
});
