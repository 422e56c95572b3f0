// Bad input at the HTTP and JSON-RPC layers (security-cases §4.3) and every configured limit,
// sent over raw sockets to a real gateway process; after each case the same process must still
// serve. Gateway-only: skipped in direct mode.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { DIRECT, OUT_DIR, GATEHOUSE_BIN, freePort, spawnLogged, stop, waitForHttp, sleep } from './lib/harness.mjs';

const ACCEPT = 'application/json, text/event-stream';

/** Sends raw bytes; resolves {status, head, body, closed} after the peer closes or idleMs of silence. */
function raw(port, chunks, { idleMs = 1500, gapMs = 0 } = {}) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let data = Buffer.alloc(0);
    let closed = false;
    let timer;
    const done = () => {
      clearTimeout(timer);
      s.destroy();
      const text = data.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      const sep = text.indexOf('\r\n\r\n');
      resolve({ status: m ? Number(m[1]) : 0, head: sep >= 0 ? text.slice(0, sep) : text,
                body: sep >= 0 ? text.slice(sep + 4) : '', closed });
    };
    const arm = () => { clearTimeout(timer); timer = setTimeout(done, idleMs); };
    s.on('data', (d) => { data = Buffer.concat([data, d]); arm(); });
    s.on('end', () => { closed = true; done(); });
    s.on('close', () => { closed = true; done(); });
    s.on('error', () => { closed = true; });
    s.on('connect', async () => {
      arm();
      for (const c of Array.isArray(chunks) ? chunks : [chunks]) {
        if (s.destroyed) break;
        s.write(c);
        if (gapMs) await sleep(gapMs);
      }
    });
    s.on('error', reject);
  });
}

function post(port, body, extra = '') {
  const b = Buffer.from(body);
  return `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\n` +
    `Accept: ${ACCEPT}\r\n${extra}Content-Length: ${b.length}\r\n\r\n${body}`;
}

async function initSession(base) {
  const r = await fetch(`${base}/mcp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: ACCEPT },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 't', version: '1' } } }),
  });
  assert.equal(r.status, 200);
  await r.text();
  return r.headers.get('mcp-session-id');
}

async function call(base, sid, id = 7) {
  return fetch(`${base}/mcp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: ACCEPT, 'mcp-session-id': sid,
               'mcp-protocol-version': '2025-03-26' },
    body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'add', arguments: { a: 2, b: 40 } } }),
  });
}

describe('framing and limits (raw sockets)', { skip: DIRECT && 'gateway-only', timeout: 120000 }, () => {
  let gw, port, base, sid;
  before(async () => {
    fs.mkdirSync(OUT_DIR, { recursive: true });
    port = await freePort();
    const cfg = path.join(OUT_DIR, 'framing.yaml');
    fs.writeFileSync(cfg, [
      'gateway:', '  workers: 2', '  log_level: debug',
      'listeners:', `  - address: 127.0.0.1:${port}`,
      'limits:', '  header_bytes: 4096', '  headers_count: 20', '  body_bytes: 65536',
      '  json_depth: 32', '  batch_length: 4', '  connections: 16',
      'timeouts:', '  header_ms: 700', '  body_ms: 700', '  idle_ms: 5000',
    ].join('\n') + '\n');
    gw = spawnLogged('gatehouse-framing', GATEHOUSE_BIN, ['dev', '--config', cfg, '--insecure-no-auth']);
    base = `http://127.0.0.1:${port}`;
    await waitForHttp(`${base}/healthz`, { okStatus: (s) => s === 200, proc: gw });
    sid = await initSession(base);
  });
  after(async () => { if (gw) await stop(gw); });

  const framing = [
    ['Content-Length and Transfer-Encoding together (CL.TE smuggling)', (p) =>
      `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${p}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400],
    ['two different Content-Length headers', (p) =>
      `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${p}\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}x`, 400],
    ['two equal Content-Length headers', (p) =>
      `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${p}\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}`, 400],
    ['signed Content-Length', (p) => `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${p}\r\nContent-Length: +2\r\n\r\n{}`, 400],
    ['Content-Length list', (p) => `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${p}\r\nContent-Length: 2, 2\r\n\r\n{}`, 400],
    ['Transfer-Encoding other than chunked', (p) =>
      `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${p}\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`, 501],
    ['obs-fold continuation line', (p) => `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${p}\r\nX-A: 1\r\n  folded\r\n\r\n`, 400],
    ['whitespace before the colon', (p) => `GET /healthz HTTP/1.1\r\nHost : 127.0.0.1:${p}\r\n\r\n`, 400],
    ['bare LF line endings', (p) => `GET /healthz HTTP/1.1\nHost: 127.0.0.1:${p}\n\n`, 400],
    ['NUL byte in a header value', (p) => `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${p}\r\nX-A: a\0b\r\n\r\n`, 400],
    ['HTTP/2.0 request line', (p) => `GET /healthz HTTP/2.0\r\nHost: 127.0.0.1:${p}\r\n\r\n`, 505],
    ['absolute-form target', (p) => `GET http://evil.example.com/healthz HTTP/1.1\r\nHost: 127.0.0.1:${p}\r\n\r\n`, 400],
    ['HTTP/1.1 without Host', () => 'GET /healthz HTTP/1.1\r\n\r\n', 400],
    ['two Host headers', (p) => `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${p}\r\nHost: evil.example.com\r\n\r\n`, 400],
    ['malformed chunk size', (p) =>
      `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${p}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`, 400],
    ['head larger than header_bytes (4096)', (p) =>
      `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${p}\r\nX-Big: ${'a'.repeat(5000)}\r\n\r\n`, 431],
    ['more header fields than headers_count (20)', (p) =>
      `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${p}\r\n${Array.from({ length: 25 }, (_, i) => `X-${i}: v\r\n`).join('')}\r\n`, 431],
  ];
  for (const [name, make, want] of framing) {
    test(`${name} → ${want} and the connection closes`, async () => {
      const r = await raw(port, make(port));
      assert.equal(r.status, want, r.head);
      assert.ok(r.closed, 'connection must be closed after a framing error');
    });
  }

  test('Content-Length above body_bytes → 413 before the body is read', async () => {
    const r = await raw(port, `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\n` +
      `Accept: ${ACCEPT}\r\nContent-Length: 10000000\r\n\r\n`);
    assert.equal(r.status, 413);
  });

  test('chunked body growing past body_bytes → 413', async () => {
    const chunk = 'x'.repeat(30000);
    const body = Array.from({ length: 4 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`).join('') + '0\r\n\r\n';
    const r = await raw(port, `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\n` +
      `Accept: ${ACCEPT}\r\nTransfer-Encoding: chunked\r\n\r\n${body}`);
    assert.equal(r.status, 413);
  });

  test('slowloris head (one byte per 150 ms) → 408 at header_ms and close', async () => {
    const head = `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Slow: ${'s'.repeat(30)}\r\n\r\n`;
    const r = await raw(port, head.split(''), { gapMs: 150, idleMs: 3000 });
    assert.equal(r.status, 408);
    assert.ok(r.closed);
  });

  test('slow body → 408 at body_ms and close', async () => {
    const r = await raw(port, [`POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\n` +
      `Accept: ${ACCEPT}\r\nContent-Length: 100\r\n\r\n{`], { idleMs: 3000 });
    assert.equal(r.status, 408);
    assert.ok(r.closed);
  });

  const jsonCases = [
    ['10,000-deep nesting', '['.repeat(10000) + ']'.repeat(10000), -32700],
    ['trailing bytes after the object', '{"jsonrpc":"2.0","id":1,"method":"ping"} x', -32700],
    ['duplicate member names (policy bypass)', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","name":"get-env"}}', -32700],
    ['jsonrpc is not "2.0"', '{"jsonrpc":"1.0","id":1,"method":"ping"}', -32600],
    ['id is an object', '{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}', -32600],
    ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), -32700],
  ];
  for (const [name, body, code] of jsonCases) {
    test(`JSON-RPC: ${name} → 400 with ${code}`, async () => {
      const r = await fetch(`${base}/mcp`, { method: 'POST', body,
        headers: { 'content-type': 'application/json', accept: ACCEPT, 'mcp-session-id': sid } });
      assert.equal(r.status, 400);
      const j = await r.json();
      assert.equal(j.error.code, code);
    });
  }

  test('batch longer than batch_length (2025-03-26 allows batches) → 400 -32600', async () => {
    const batch = Array.from({ length: 6 }, (_, i) => ({ jsonrpc: '2.0', id: i + 1, method: 'ping' }));
    const r = await fetch(`${base}/mcp`, { method: 'POST', body: JSON.stringify(batch),
      headers: { 'content-type': 'application/json', accept: ACCEPT, 'mcp-session-id': sid,
                 'mcp-protocol-version': '2025-03-26' } });
    assert.equal(r.status, 400);
    assert.equal((await r.json()).error.code, -32600);
  });

  test('batch within batch_length on 2025-03-26 is forwarded', async () => {
    const batch = [{ jsonrpc: '2.0', id: 1, method: 'ping' }, { jsonrpc: '2.0', id: 2, method: 'ping' }];
    const r = await fetch(`${base}/mcp`, { method: 'POST', body: JSON.stringify(batch),
      headers: { 'content-type': 'application/json', accept: ACCEPT, 'mcp-session-id': sid,
                 'mcp-protocol-version': '2025-03-26' } });
    assert.equal(r.status, 200);
    const j = await r.json();
    assert.equal(j.length, 2);
  });

  test('initialize inside a batch → 400', async () => {
    const batch = [{ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} }];
    const r = await fetch(`${base}/mcp`, { method: 'POST', body: JSON.stringify(batch),
      headers: { 'content-type': 'application/json', accept: ACCEPT } });
    assert.equal(r.status, 400);
  });

  test('client-chosen session id on initialize is ignored (fixation)', async () => {
    const r = await fetch(`${base}/mcp`, { method: 'POST',
      headers: { 'content-type': 'application/json', accept: ACCEPT, 'mcp-session-id': 'attacker-chosen-id' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } }) });
    assert.equal(r.status, 200);
    assert.notEqual(r.headers.get('mcp-session-id'), 'attacker-chosen-id');
    assert.match(r.headers.get('mcp-session-id'), /^[A-Za-z0-9_-]{43}$/);
  });

  test('PUT on the MCP path → 405 with Allow', async () => {
    const r = await fetch(`${base}/mcp`, { method: 'PUT', body: '{}' });
    assert.equal(r.status, 405);
    assert.match(r.headers.get('allow'), /POST/);
  });

  test('connections above limits.connections (16) get 503', async () => {
    const socks = [];
    try {
      for (let i = 0; i < 16; i++) {
        const s = net.connect(port, '127.0.0.1');
        await new Promise((res) => s.on('connect', res));
        socks.push(s);
      }
      await sleep(100);
      const r = await raw(port, `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
      assert.equal(r.status, 503);
    } finally {
      socks.forEach((s) => s.destroy());
    }
    await sleep(200);
  });

  test('after every case above, the same process still serves tools/call', async () => {
    assert.equal(gw.child.exitCode, null, 'gateway process must still be running');
    const r = await call(base, sid);
    assert.equal(r.status, 200);
    const j = await r.json();
    assert.equal(j.result.content[0].text, '42');
  });
});

describe('upstream failures', { skip: DIRECT && 'gateway-only', timeout: 60000 }, () => {
  test('upstream not listening → 502 with a JSON-RPC error', async () => {
    const dead = await freePort();
    const port = await freePort();
    const gw = spawnLogged('gatehouse-dead-upstream', GATEHOUSE_BIN, ['serve', '--listen', `127.0.0.1:${port}`,
      '--upstream', `http://127.0.0.1:${dead}/mcp`, '--insecure-no-auth']);
    try {
      await waitForHttp(`http://127.0.0.1:${port}/healthz`, { okStatus: (s) => s === 200, proc: gw });
      const r = await fetch(`http://127.0.0.1:${port}/mcp`, { method: 'POST',
        headers: { 'content-type': 'application/json', accept: ACCEPT },
        body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'initialize', params: {} }) });
      assert.equal(r.status, 502);
      const j = await r.json();
      assert.equal(j.id, 3);
      assert.equal(j.error.code, -32603);
    } finally { await stop(gw); }
  });

  test('upstream that never answers → 504 at first_byte_ms', async () => {
    const silent = http.createServer(() => { /* never answers */ });
    await new Promise((res) => silent.listen(0, '127.0.0.1', res));
    const port = await freePort();
    const cfg = path.join(OUT_DIR, 'silent.yaml');
    fs.writeFileSync(cfg, ['gateway:', '  insecure_no_auth: true', 'listeners:', `  - address: 127.0.0.1:${port}`,
      'upstreams:', '  - name: silent', `    url: http://127.0.0.1:${silent.address().port}/mcp`,
      '    timeouts: {first_byte_ms: 400}'].join('\n') + '\n');
    const gw = spawnLogged('gatehouse-silent-upstream', GATEHOUSE_BIN, ['serve', '--config', cfg]);
    try {
      await waitForHttp(`http://127.0.0.1:${port}/healthz`, { okStatus: (s) => s === 200, proc: gw });
      const t0 = Date.now();
      const r = await fetch(`http://127.0.0.1:${port}/mcp`, { method: 'POST',
        headers: { 'content-type': 'application/json', accept: ACCEPT },
        body: JSON.stringify({ jsonrpc: '2.0', id: 'x', method: 'initialize', params: {} }) });
      assert.equal(r.status, 504);
      assert.equal((await r.json()).id, 'x');
      assert.ok(Date.now() - t0 < 5000);
    } finally { await stop(gw); silent.closeAllConnections(); silent.close(); }
  });

  test('serving without auth must be explicit, and never on a non-loopback listener', async () => {
    const { spawnSync } = await import('node:child_process');
    const a = spawnSync(GATEHOUSE_BIN, ['serve', '--listen', '127.0.0.1:0', '--upstream', 'http://127.0.0.1:9/mcp']);
    assert.equal(a.status, 2);
    assert.match(a.stderr.toString(), /insecure-no-auth/);
    const b = spawnSync(GATEHOUSE_BIN, ['serve', '--listen', '0.0.0.0:0', '--upstream', 'http://127.0.0.1:9/mcp', '--insecure-no-auth']);
    assert.equal(b.status, 2);
    assert.match(b.stderr.toString(), /non-loopback/);
  });

  test('check-config reports file:line:column and the key path', async () => {
    const { spawnSync } = await import('node:child_process');
    const f = path.join(OUT_DIR, 'bad.yaml');
    fs.writeFileSync(f, 'gateway:\n  workers: 2\nupstreams:\n  - name: a\n    url: ftp://x/mcp\n');
    const r = spawnSync(GATEHOUSE_BIN, ['check-config', f]);
    assert.equal(r.status, 2);
    assert.match(r.stderr.toString(), /bad\.yaml:5:\d+: upstreams\[0\]\.url: /);
    fs.writeFileSync(f, 'gateway:\n  wrokers: 2\n');
    const u = spawnSync(GATEHOUSE_BIN, ['check-config', f]);
    assert.equal(u.status, 2);
    assert.match(u.stderr.toString(), /bad\.yaml:2:3: gateway\.wrokers: /);
  });
});

describe('graceful shutdown', { skip: DIRECT && 'gateway-only', timeout: 60000 }, () => {
  test('SIGTERM lets an in-flight call finish, then the process exits 0', async () => {
    // an upstream that answers after 800 ms
    const slow = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => { body += d; });
      req.on('end', () => setTimeout(() => {
        const id = JSON.parse(body).id;
        res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'up-1' });
        res.end(JSON.stringify({ jsonrpc: '2.0', id, result: { protocolVersion: '2025-06-18', capabilities: {}, serverInfo: { name: 's', version: '1' } } }));
      }, 800));
    });
    await new Promise((res) => slow.listen(0, '127.0.0.1', res));
    const port = await freePort();
    const gw = spawnLogged('gatehouse-drain', GATEHOUSE_BIN, ['serve', '--listen', `127.0.0.1:${port}`,
      '--upstream', `http://127.0.0.1:${slow.address().port}/mcp`, '--insecure-no-auth']);
    try {
      await waitForHttp(`http://127.0.0.1:${port}/healthz`, { okStatus: (s) => s === 200, proc: gw });
      const pending = fetch(`http://127.0.0.1:${port}/mcp`, { method: 'POST',
        headers: { 'content-type': 'application/json', accept: ACCEPT },
        body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'initialize', params: {} }) });
      await sleep(200);
      gw.child.kill('SIGTERM');
      const r = await pending;
      assert.equal(r.status, 200);
      assert.equal((await r.json()).id, 9);
      const { code } = await gw.exited;
      assert.equal(code, 0);
    } finally { await stop(gw); slow.closeAllConnections(); slow.close(); }
  });
});

describe('TLS listener', { skip: DIRECT && 'gateway-only', timeout: 60000 }, () => {
  test('serves MCP over TLS with a certificate generated for the test', async () => {
    const { spawnSync } = await import('node:child_process');
    const https = await import('node:https');
    const dir = path.join(OUT_DIR, 'tls');
    fs.mkdirSync(dir, { recursive: true });
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    const g = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
      '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1']);
    assert.equal(g.status, 0, g.stderr.toString());
    const port = await freePort();
    const cfg = path.join(dir, 'tls.yaml');
    fs.writeFileSync(cfg, ['listeners:', `  - address: 127.0.0.1:${port}`, '    tls:',
      `      certificate: ${cert}`, `      key: ${key}`].join('\n') + '\n');
    const gw = spawnLogged('gatehouse-tls', GATEHOUSE_BIN, ['dev', '--config', cfg, '--insecure-no-auth']);
    const ca = fs.readFileSync(cert);
    const req = (method, p, body, headers = {}) => new Promise((resolve, reject) => {
      const r = https.request({ host: '127.0.0.1', port, method, path: p, ca, headers }, (res) => {
        let data = '';
        res.on('data', (d) => { data += d; });
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: data }));
      });
      r.on('error', reject);
      if (body) r.write(body);
      r.end();
    });
    try {
      let up = false;
      for (let i = 0; i < 100 && !up; i++) {
        try { up = (await req('GET', '/healthz')).status === 200; } catch { await sleep(100); }
      }
      assert.ok(up, 'TLS listener did not come up');
      const init = await req('POST', '/mcp', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }),
        { 'content-type': 'application/json', accept: ACCEPT });
      assert.equal(init.status, 200);
      assert.equal(JSON.parse(init.body).result.serverInfo.name, 'gatehouse-demo');
      const sid = init.headers['mcp-session-id'];
      const call = await req('POST', '/mcp', JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call',
        params: { name: 'echo', arguments: { message: 'over tls' } } }),
        { 'content-type': 'application/json', accept: ACCEPT, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' });
      assert.equal(call.status, 200);
      assert.match(call.body, /over tls/);
      // a plaintext request on the TLS port is not answered as HTTP and does not hurt the process
      const r = await raw(port, `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`).catch(() => ({ status: 0 }));
      assert.notEqual(r.status, 200);
      assert.equal((await req('GET', '/healthz')).status, 200);
    } finally { await stop(gw); }
  });
});
