// Shared stdio children (mode: shared), their restart with backoff, and 2026-07-28 (stateless)
// clients on session-era routes, where the gateway holds the upstream session itself.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { DIRECT, OUT_DIR, HERE, GATEHOUSE_BIN, freePort, spawnLogged, stop, waitForHttp, startEverything, sleep } from './lib/harness.mjs';

const FIXTURE = path.join(HERE, 'stdio-fixture.mjs');
const text = (r) => r.content[0].text;
const META = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };

async function connect(url) {
  const client = new Client({ name: 'shared-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

/** One 2026-07-28 request, headers mirrored as the spec requires. */
async function call2026(url, id, method, params = {}, extra = {}) {
  const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream',
    'mcp-protocol-version': '2026-07-28', 'mcp-method': method };
  if (method === 'tools/call' || method === 'prompts/get') headers['mcp-name'] = params.name;
  if (method === 'resources/read') headers['mcp-name'] = params.uri;
  Object.assign(headers, extra);
  const r = await fetch(url, { method: 'POST', headers,
    body: JSON.stringify({ jsonrpc: '2.0', id, method, params: { ...params, _meta: META } }) });
  const body = await r.text();
  const json = r.headers.get('content-type')?.includes('event-stream')
    ? JSON.parse(body.split('\n').filter((l) => l.startsWith('data:')).pop().slice(5))
    : JSON.parse(body);
  return { status: r.status, json };
}

describe('shared children and held sessions', { skip: DIRECT && 'gateway-only', timeout: 120000 }, () => {
  let gw, base, ev;
  before(async () => {
    ev = await startEverything('shared-everything');
    fs.mkdirSync(OUT_DIR, { recursive: true });
    const port = await freePort();
    const cfg = path.join(OUT_DIR, 'shared.yaml');
    const stdio = (name, mode) => [
      `  - name: ${name}`, `    command: ${process.execPath}`, `    args: [${JSON.stringify(FIXTURE)}]`,
      `    cwd: ${HERE}`, '    env:', '      PATH: /usr/bin:/bin', `    mode: ${mode}`, '    stop_grace_ms: 300'];
    fs.writeFileSync(cfg, [
      'gateway:', '  insecure_no_auth: true', '  log_level: debug',
      'listeners:', `  - address: 127.0.0.1:${port}`,
      'upstreams:', ...stdio('shared', 'shared'), '    path: /shared', ...stdio('solo', 'per-session'), '    path: /solo',
      '  - name: everything', `    url: ${ev.url}`, '    path: /everything',
    ].join('\n') + '\n');
    gw = spawnLogged('gatehouse-shared', GATEHOUSE_BIN, ['serve', '--config', cfg]);
    base = `http://127.0.0.1:${port}`;
    await waitForHttp(`${base}/healthz`, { okStatus: (s) => s === 200, proc: gw });
  });
  after(async () => { if (gw) await stop(gw); if (ev) await stop(ev.proc); });

  test('mode: shared — two sessions, one child, one state', async () => {
    const a = await connect(`${base}/shared`);
    const b = await connect(`${base}/shared`);
    try {
      assert.equal(text(await a.callTool({ name: 'pid', arguments: {} })), text(await b.callTool({ name: 'pid', arguments: {} })));
      const x = Number(text(await a.callTool({ name: 'increment', arguments: {} })));
      const y = Number(text(await b.callTool({ name: 'increment', arguments: {} })));
      assert.equal(y, x + 1, 'the counter is the one child\'s');
    } finally { await a.close(); await b.close(); }
  });

  test('mode: shared — concurrent progress of two clients is kept apart', async () => {
    const a = await connect(`${base}/shared`);
    const b = await connect(`${base}/shared`);
    try {
      const pa = [], pb = [];
      const [ra, rb] = await Promise.all([
        a.callTool({ name: 'slow', arguments: { seconds: 1 } }, undefined, { onprogress: (p) => pa.push(p.progress) }),
        b.callTool({ name: 'slow', arguments: { seconds: 1 } }, undefined, { onprogress: (p) => pb.push(p.progress) }),
      ]);
      assert.equal(text(ra), 'done');
      assert.equal(text(rb), 'done');
      assert.ok(pa.length >= 3 && pb.length >= 3, `${pa} / ${pb}`);
      assert.deepEqual(pa, [...pa].sort((x, y) => x - y));
      assert.ok(pa.length <= 4 && pb.length <= 4, 'nobody got the other\'s progress');
    } finally { await a.close(); await b.close(); }
  });

  test('mode: shared — the child dies: calls fail at once, sessions end, it restarts', async () => {
    const a = await connect(`${base}/shared`);
    const pid = Number(text(await a.callTool({ name: 'pid', arguments: {} })));
    const slow = a.callTool({ name: 'slow', arguments: { seconds: 10 } });
    await sleep(300);
    process.kill(pid, 'SIGKILL');
    await assert.rejects(slow);
    await assert.rejects(a.callTool({ name: 'pid', arguments: {} }));
    await a.close().catch(() => {});
    let fresh;
    for (let i = 0; i < 40 && !fresh; i++) {
      try { fresh = await connect(`${base}/shared`); } catch { await sleep(250); }
    }
    assert.ok(fresh, 'a new session works after the restart');
    const pid2 = Number(text(await fresh.callTool({ name: 'pid', arguments: {} })));
    assert.notEqual(pid2, pid);
    assert.ok(!fs.existsSync(`/proc/${pid}`) || fs.readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z') === false);
    await fresh.close();
  });

  test('2026-07-28 client on a stdio route: discover, call, removed methods, listen', async () => {
    const url = `${base}/solo`;
    const d = await call2026(url, 1, 'server/discover');
    assert.equal(d.status, 200);
    assert.deepEqual(d.json.result.supportedVersions, ['2026-07-28']);
    assert.equal(d.json.result._meta['io.modelcontextprotocol/serverInfo'].name, 'stdio-fixture');
    const c = await call2026(url, 2, 'tools/call', { name: 'increment', arguments: {} });
    assert.equal(c.json.result.resultType, 'complete');
    assert.equal(c.json.id, 2);
    const p = await call2026(url, 3, 'ping');
    assert.equal(p.status, 404);
    assert.equal(p.json.error.code, -32601);
    const mism = await call2026(url, 4, 'tools/call', { name: 'increment', arguments: {} }, { 'mcp-name': 'pid' });
    assert.equal(mism.status, 400);
    assert.equal(mism.json.error.code, -32020);
    // subscriptions/listen: acknowledged first, then a tagged list_changed
    const ctl = new AbortController();
    const res = await fetch(url, { method: 'POST', signal: ctl.signal, headers: { 'content-type': 'application/json',
      accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'subscriptions/listen' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 'sub-1', method: 'subscriptions/listen',
        params: { notifications: { toolsListChanged: true }, _meta: META } }) });
    const reader = res.body.getReader();
    const frames = [];
    let buf = '';
    const pump = (async () => {
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ done: true }));
        if (done) return;
        buf += new TextDecoder().decode(value);
        for (const l of buf.split('\n')) if (l.startsWith('data:')) frames.push(JSON.parse(l.slice(5)));
        buf = buf.slice(buf.lastIndexOf('\n') + 1);
      }
    })();
    await sleep(200);
    await call2026(url, 5, 'tools/call', { name: 'add_tool', arguments: {} });
    for (let i = 0; i < 30 && frames.length < 2; i++) await sleep(100);
    ctl.abort();
    await pump.catch(() => {});
    assert.equal(frames[0].method, 'notifications/subscriptions/acknowledged');
    const changed = frames.find((f) => f.method === 'notifications/tools/list_changed');
    assert.ok(changed, JSON.stringify(frames));
    assert.equal(changed.params._meta['io.modelcontextprotocol/subscriptionId'], 'sub-1');
  });

  test('2026-07-28 client to a session-era HTTP upstream (the gateway holds its session)', async () => {
    let d;
    for (let i = 0; i < 40; i++) { // the health probe learns the upstream's era first
      const j = await (await fetch(`${base}/readyz`)).json();
      if (j.upstreams.everything.protocol === 'session') break;
      await sleep(100);
    }
    d = await call2026(`${base}/everything`, 1, 'server/discover');
    assert.equal(d.status, 200);
    const c = await call2026(`${base}/everything`, 2, 'tools/call', { name: 'echo', arguments: { message: 'from 2026' } });
    assert.match(c.json.result.content[0].text, /from 2026/);
    assert.equal(c.json.result.resultType, 'complete');
  });
});
