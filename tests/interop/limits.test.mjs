// Limits and timeouts against a running gateway (issue 2, DESIGN.md "Limits"): each one is hit
// with real traffic — an SDK fixture upstream, raw HTTP from the client side — and must give a
// precise error, after which the same gateway process keeps serving.
//   limits.concurrent_requests_per_principal, limits.sse_event_bytes, limits.sse_replay_bytes,
//   limits.sessions_total, limits.stdio_children, timeouts.idle_ms, upstream connect_ms and
//   stream_idle_ms.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { DIRECT, OUT_DIR, HERE, GATEHOUSE_BIN, freePort, spawnLogged, stop, waitFor, waitForHttp, waitForLog } from './lib/harness.mjs';
import { rawRequest, rawSession, postHeaders, initializeBody } from './lib/raw.mjs';

const FIXTURE = path.join(HERE, 'limits-fixture.mjs');
const STDIO_FIXTURE = path.join(HERE, 'stdio-fixture.mjs');
const VER = '2025-06-18';

/** A gateway on its own config (YAML lines after the listener); resolves { proc, base }. */
async function gateway(name, lines) {
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const port = await freePort();
  const cfg = path.join(OUT_DIR, `${name}.yaml`);
  fs.writeFileSync(cfg, ['gateway:', '  insecure_no_auth: true', '  log_level: debug',
    'listeners:', `  - address: 127.0.0.1:${port}`, ...lines].join('\n') + '\n');
  const proc = spawnLogged(name, GATEHOUSE_BIN, ['serve', '--config', cfg]);
  const base = `http://127.0.0.1:${port}`;
  await waitForHttp(`${base}/healthz`, { okStatus: (s) => s === 200, proc });
  return { proc, base };
}

async function fixture() {
  const port = await freePort();
  const proc = spawnLogged('limits-fixture', process.execPath, [FIXTURE], { env: { PORT: String(port) } });
  await waitForLog(proc, new RegExp(`listening on ${port}`), { timeoutMs: 20000 });
  return { proc, url: `http://127.0.0.1:${port}/mcp` };
}

const count = (proc, re) => (proc.log().match(new RegExp(re, 'g')) || []).length;

function call(url, sess, id, name, args, opts = {}) {
  return rawRequest(url, {
    headers: postHeaders({ 'mcp-session-id': sess.sessionId, 'mcp-protocol-version': VER }),
    body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } }),
    untilResponseId: id,
    timeoutMs: 30000,
    ...opts,
  });
}

const answer = (res, id) => res.messages.find((m) => m.id === id && ('result' in m || 'error' in m));

/** The gateway is alive and still proxies: a fresh session lists the fixture's tools. */
async function stillServing(g, url) {
  assert.ok(g.proc.alive(), 'gateway process still running');
  const h = await rawRequest(`${g.base}/healthz`, { method: 'GET' });
  assert.equal(h.status, 200);
  if (!url) return;
  const s = await rawSession(url, VER);
  const list = await rawRequest(url, {
    headers: postHeaders({ 'mcp-session-id': s.sessionId, 'mcp-protocol-version': VER }),
    body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list' }),
    untilResponseId: 9,
  });
  assert.equal(list.status, 200);
  assert.ok(answer(list, 9).result.tools.length > 0);
}

describe('limits and timeouts, end to end', { skip: DIRECT && 'gateway-only', timeout: 180000 }, () => {
  let up;
  const gws = [];
  before(async () => {
    up = await fixture();
  });
  after(async () => {
    for (const g of gws) await stop(g.proc);
    await stop(up?.proc);
  });
  const start = async (name, lines) => {
    const g = await gateway(name, lines);
    gws.push(g);
    return g;
  };
  const upstream = (extra = []) => ['upstreams:', '  - name: fix', `    url: ${up.url}`, '    path: /mcp', ...extra];

  test('concurrent_requests_per_principal: the call over the cap gets 429 + Retry-After, the others finish, then room again', async () => {
    const g = await start('gatehouse-limits-conc', [...upstream(), 'limits:', '  concurrent_requests_per_principal: 2']);
    const url = `${g.base}/mcp`;
    const sess = await rawSession(url, VER);
    const before = count(up.proc, 'tool slow begin');
    const a = call(url, sess, 11, 'slow', { ms: 5000 });
    const b = call(url, sess, 12, 'slow', { ms: 5000 });
    await waitFor('two slow calls at the upstream', async () => count(up.proc, 'tool slow begin') >= before + 2, { proc: g.proc });
    const c = await call(url, sess, 13, 'slow', { ms: 10 });
    assert.equal(c.status, 429, c.text);
    assert.equal(c.headers['retry-after'], '1');
    const err = answer(c, 13);
    assert.ok(err?.error, c.text);
    assert.equal(err.error.code, -32603);
    assert.match(err.error.message, /Too Many Requests: 2 requests .*limits\.concurrent_requests_per_principal/);
    // a notification is no request: it is not held back by the cap
    const n = await rawRequest(url, {
      headers: postHeaders({ 'mcp-session-id': sess.sessionId, 'mcp-protocol-version': VER }),
      body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/roots/list_changed' }),
    });
    assert.equal(n.status, 202);
    const [ra, rb] = await Promise.all([a, b]);
    assert.equal(answer(ra, 11).result.content[0].text, 'slept 5000');
    assert.equal(answer(rb, 12).result.content[0].text, 'slept 5000');
    const d = await call(url, sess, 14, 'slow', { ms: 10 });
    assert.equal(d.status, 200, d.text);
    assert.equal(answer(d, 14).result.content[0].text, 'slept 10');
    await waitForLog(g.proc, /request refused: principal \(anonymous\) has 2 requests in flight/);
    // an abandoned call gives its slot back too (once the gateway has seen the client go: poll);
    // a slot leaked by it would never come back, and two calls at once would never both pass
    const gone = call(url, sess, 15, 'slow', { ms: 2000 }, { timeoutMs: 300 }).catch(() => 'aborted');
    assert.equal(await gone, 'aborted');
    let id = 100;
    await waitFor('two calls at once after the abandoned one', async () => {
      const [re, rf] = await Promise.all([call(url, sess, ++id, 'slow', { ms: 200 }), call(url, sess, ++id, 'slow', { ms: 200 })]);
      return re.status === 200 && rf.status === 200;
    }, { proc: g.proc, timeoutMs: 20000, intervalMs: 200 });
    await stillServing(g, url);
  });

  test('before-forward audit: calls abandoned while they wait for the fsync give their slots back (no request kept)', async () => {
    // a long group-commit window parks each tool call for ~100 ms before it is forwarded; clients
    // that leave during it must not keep a request (and its in-flight slot) alive for ever
    const dir = fs.mkdtempSync(path.join(OUT_DIR, 'bf-'));
    const key = path.join(dir, 'k.pem');
    spawnSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', key]);
    fs.chmodSync(key, 0o600);
    const g = await start('gatehouse-limits-bf', [...upstream(), 'limits:', '  concurrent_requests_per_principal: 3',
      'audit:', `  path: ${path.join(dir, 'audit.jsonl')}`, '  durability: before-forward', '  commit_delay_us: 100000',
      `  key: file:${key}`]);
    const url = `${g.base}/mcp`;
    const sess = await rawSession(url, VER);
    for (let round = 0; round < 3; round++) {
      const gone = [1, 2, 3].map((i) => call(url, sess, 300 + round * 10 + i, 'slow', { ms: 10 }, { timeoutMs: 30 }).catch(() => 'aborted'));
      assert.deepEqual(await Promise.all(gone), ['aborted', 'aborted', 'aborted']);
      await new Promise((res) => setTimeout(res, 600)); // past the window: their fsync is done
    }
    let id = 400;
    await waitFor('three calls at once after nine abandoned ones', async () => {
      const rs = await Promise.all([1, 2, 3].map(() => call(url, sess, ++id, 'slow', { ms: 50 })));
      return rs.every((r) => r.status === 200);
    }, { proc: g.proc, timeoutMs: 20000, intervalMs: 300 });
    await stillServing(g, url);
  });

  test('sse_event_bytes: an oversized upstream event ends the stream with a JSON-RPC error for the request', async () => {
    const g = await start('gatehouse-limits-event', [...upstream(), 'limits:', '  sse_event_bytes: 65536']);
    const url = `${g.base}/mcp`;
    const sess = await rawSession(url, VER);
    const r = await call(url, sess, 21, 'big', { bytes: 200000 });
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /text\/event-stream/);
    const err = answer(r, 21);
    assert.ok(err?.error, `no error event for id 21 in: ${r.text.slice(0, 300)}`);
    assert.equal(err.error.code, -32603);
    assert.match(err.error.message, /larger than limits\.sse_event_bytes/);
    assert.ok(!r.text.includes('x'.repeat(1000)), 'no part of the oversized event reached the client');
    await waitForLog(g.proc, /upstream fix: SSE event over limits\.sse_event_bytes: stream ended, the pending request answered with an error/);
    const ok = await call(url, sess, 22, 'big', { bytes: 1000 });
    assert.equal(answer(ok, 22).result.content[0].text, 'sent 1000');
    await stillServing(g, url);
  });

  test('stream_idle_ms: an upstream SSE answer that goes silent ends with a JSON-RPC error (504 text)', async () => {
    const g = await start('gatehouse-limits-idle', [...upstream(['    timeouts: {stream_idle_ms: 1000, first_byte_ms: 30000}'])]);
    const url = `${g.base}/mcp`;
    const sess = await rawSession(url, VER);
    const t0 = Date.now();
    const r = await call(url, sess, 31, 'silent', { ms: 8000 });
    const took = Date.now() - t0;
    assert.equal(r.status, 200);
    assert.ok(r.messages.some((m) => m.method === 'notifications/message' && m.params.data === 'going quiet'), r.text);
    const err = answer(r, 31);
    assert.ok(err?.error, r.text);
    assert.equal(err.error.code, -32603);
    assert.match(err.error.message, /Gateway Timeout: .*timeouts\.stream_idle_ms/);
    assert.ok(took >= 900 && took < 7500, `ended after ${took} ms`);
    await waitForLog(g.proc, /upstream fix: event stream silent past timeouts\.stream_idle_ms/);
    await stillServing(g, url);
  });

  test('sse_replay_bytes: resuming from an event the replay buffer dropped is refused (410); a held one replays', async () => {
    const g = await start('gatehouse-limits-replay', [...upstream(), 'limits:', '  sse_replay_bytes: 4096']);
    const url = `${g.base}/mcp`;
    const sess = await rawSession(url, VER);
    const r = await call(url, sess, 41, 'chatty', { count: 12, bytes: 1000 });
    assert.equal(answer(r, 41).result.content[0].text, 'sent 12');
    const ids = [...r.text.matchAll(/^id: ?(\S+)$/gm)].map((m) => m[1]);
    assert.ok(ids.length >= 13, `event ids: ${ids}`);
    const get = (lei) => rawRequest(url, {
      method: 'GET',
      headers: { accept: 'text/event-stream', 'mcp-session-id': sess.sessionId, 'mcp-protocol-version': VER, 'last-event-id': lei },
      timeoutMs: 10000,
    });
    const old = await get(ids[0]);
    assert.equal(old.status, 410, old.text);
    assert.match(old.messages[0].error.message, /limits\.sse_replay_bytes/);
    await waitForLog(g.proc, /resumption refused: events after Last-Event-ID \S+ are past limits\.sse_replay_bytes \(4096\)/);
    const held = await get(ids[ids.length - 2]);
    assert.equal(held.status, 200, held.text);
    assert.equal(answer(held, 41).result.content[0].text, 'sent 12');
    await stillServing(g, url);
  });

  test('sessions_total: the initialize over the cap gets 503, open sessions keep working, a DELETE makes room', async () => {
    const g = await start('gatehouse-limits-sessions', [...upstream(), 'limits:', '  sessions_total: 2']);
    const url = `${g.base}/mcp`;
    const s1 = await rawSession(url, VER);
    const s2 = await rawSession(url, VER);
    const third = await rawRequest(url, { headers: postHeaders(), body: initializeBody(7, VER), untilResponseId: 7 });
    assert.equal(third.status, 503, third.text);
    assert.equal(answer(third, 7).error.code, -32603);
    assert.match(answer(third, 7).error.message, /Service Unavailable: session limit reached/);
    for (const [i, s] of [s1, s2].entries()) {
      const r = await call(url, s, 50 + i, 'slow', { ms: 1 });
      assert.equal(answer(r, 50 + i).result.content[0].text, 'slept 1');
    }
    const del = await rawRequest(url, { method: 'DELETE', headers: { 'mcp-session-id': s1.sessionId, 'mcp-protocol-version': VER } });
    assert.equal(del.status, 200);
    await stillServing(g, url); // a fresh session fits again
  });

  test('stdio_children: one session more than the cap on a stdio route is refused (503), the others work', async () => {
    const g = await start('gatehouse-limits-stdio', [
      'upstreams:', '  - name: kid', `    command: ${process.execPath}`, `    args: [${JSON.stringify(STDIO_FIXTURE)}]`,
      `    cwd: ${HERE}`, '    path: /kid', '    env:', '      PATH: /usr/bin:/bin', '    stop_grace_ms: 500',
      'limits:', '  stdio_children: 2',
    ]);
    const url = `${g.base}/kid`;
    const s1 = await rawSession(url, VER);
    const s2 = await rawSession(url, VER);
    const third = await rawRequest(url, { headers: postHeaders(), body: initializeBody(8, VER), untilResponseId: 8, timeoutMs: 15000 });
    assert.equal(third.status, 503, third.text);
    assert.match(answer(third, 8).error.message, /Service Unavailable: stdio children limit reached/);
    await waitForLog(g.proc, /limits\.stdio_children reached/);
    const pids = [];
    for (const [i, s] of [s1, s2].entries()) {
      const r = await call(url, s, 60 + i, 'pid', {});
      pids.push(answer(r, 60 + i).result.content[0].text);
    }
    assert.notEqual(pids[0], pids[1], 'one child per session');
    const del = await rawRequest(url, { method: 'DELETE', headers: { 'mcp-session-id': s1.sessionId, 'mcp-protocol-version': VER } });
    assert.equal(del.status, 200);
    await waitFor('a child slot is free again', async () => {
      const r = await rawRequest(url, { headers: postHeaders(), body: initializeBody(9, VER), untilResponseId: 9, timeoutMs: 15000 });
      return r.status === 200;
    }, { proc: g.proc, timeoutMs: 20000, intervalMs: 300 });
    await stillServing(g);
  });

  test('idle_ms: the gateway closes an idle keep-alive connection', async () => {
    const g = await start('gatehouse-limits-keepalive', [...upstream(), 'timeouts:', '  idle_ms: 1000']);
    const { port } = new URL(g.base);
    const sock = net.connect(Number(port), '127.0.0.1');
    let got = '';
    sock.on('data', (d) => { got += d; });
    const closed = new Promise((r) => sock.on('close', () => r(Date.now())));
    await new Promise((r) => sock.on('connect', r));
    sock.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await waitFor('the keep-alive answer', async () => /\r\n\r\n/.test(got) && /^HTTP\/1\.1 200/.test(got));
    const answered = Date.now();
    const t = await Promise.race([closed, new Promise((r) => setTimeout(() => r(0), 15000))]);
    assert.ok(t, 'the gateway kept the idle connection open for 15 s');
    assert.ok(t - answered >= 800, `closed after ${t - answered} ms, before idle_ms`);
    assert.doesNotMatch(got, /connection: close/i, 'the answer itself kept the connection alive');
    await stillServing(g, `${g.base}/mcp`);
  });

  // An address whose SYNs go unanswered: a listener that never accepts, its backlog already full
  // (Linux then drops further SYNs). Node always accepts, so this peer is a few lines of Python.
  const python = spawnSync('python3', ['-c', 'print(1)']).status === 0;
  test('upstream connect_ms: an upstream that never completes the handshake gets 504 in time', { skip: !python && 'needs python3' }, async () => {
    const bh = spawn('python3', ['-c', [
      'import socket, sys, time',
      's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)',
      'port = s.getsockname()[1]; fill = []',
      'for i in range(4):',
      '    c = socket.socket(); c.setblocking(False)',
      '    try: c.connect(("127.0.0.1", port))',
      '    except BlockingIOError: pass',
      '    fill.append(c)',
      'print(port, flush=True)',
      'sys.stdin.read()',
    ].join('\n')], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      const bport = await new Promise((res, rej) => {
        bh.stdout.once('data', (d) => res(Number(String(d).trim())));
        bh.once('exit', () => rej(new Error('blackhole peer exited')));
      });
      // the peer really is a blackhole: a plain connect does not complete
      const probe = await new Promise((res) => {
        const s = net.connect(bport, '127.0.0.1');
        const t = setTimeout(() => { s.destroy(); res('pending'); }, 1500);
        s.on('connect', () => { clearTimeout(t); s.destroy(); res('connected'); });
        s.on('error', (e) => { clearTimeout(t); res(e.code); });
      });
      assert.equal(probe, 'pending');
      const g = await start('gatehouse-limits-connect', [...upstream(), '  - name: hole', `    url: http://127.0.0.1:${bport}/mcp`,
        '    path: /hole', '    timeouts: {connect_ms: 700, first_byte_ms: 30000}']);
      const t0 = Date.now();
      const r = await rawRequest(`${g.base}/hole`, { headers: postHeaders(), body: initializeBody(3, VER), timeoutMs: 20000 });
      const took = Date.now() - t0;
      assert.equal(r.status, 504, r.text);
      assert.equal(answer(r, 3).error.code, -32603);
      assert.match(answer(r, 3).error.message, /Gateway Timeout/);
      assert.ok(took >= 600 && took < 10000, `answered after ${took} ms`);
      await waitForLog(g.proc, /upstream hole unavailable: .*time/i);
      await stillServing(g, `${g.base}/mcp`);
    } finally {
      bh.kill('SIGTERM');
    }
  });
});
