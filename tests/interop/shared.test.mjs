// Shared stdio children (mode: shared), their restart with backoff, and 2026-07-28 (stateless)
// clients on session-era routes, where the gateway holds the upstream session itself — one per
// route and principal, with auth on (the test IdP) as without.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { DIRECT, OUT_DIR, HERE, GATEHOUSE_BIN, freePort, spawnLogged, stop, waitFor, waitForHttp, waitForLog, startEverything, sleep } from './lib/harness.mjs';
import { startIdp } from './idp/tokens.mjs';

const FIXTURE = path.join(HERE, 'stdio-fixture.mjs');
const text = (r) => r.content[0].text;
const META = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };

async function connect(url) {
  const client = new Client({ name: 'shared-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

/** One 2026-07-28 request, headers mirrored as the spec requires. */
async function call2026(url, id, method, params = {}, extra = {}) { // extra: more headers
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

  test('without auth every 2026-07-28 client is the one anonymous principal: one held session, one child', async () => {
    const url = `${base}/solo`;
    const p1 = await call2026(url, 1, 'tools/call', { name: 'pid', arguments: {} });
    const p2 = await call2026(url, 2, 'tools/call', { name: 'pid', arguments: {} });
    assert.equal(p1.status, 200);
    assert.equal(p1.json.result.content[0].text, p2.json.result.content[0].text);
    const n1 = Number((await call2026(url, 3, 'tools/call', { name: 'increment', arguments: {} })).json.result.content[0].text);
    const n2 = Number((await call2026(url, 4, 'tools/call', { name: 'increment', arguments: {} })).json.result.content[0].text);
    assert.equal(n2, n1 + 1);
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

// The SDK v2 client (tests/interop/v2), pinned to 2026-07-28: it probes with server/discover and
// then sends stateless requests, which the gateway carries on the session it holds upstream.
const V2_CLIENT = path.join(HERE, 'v2/node_modules/@modelcontextprotocol/client/dist/index.mjs');

describe('held sessions per principal (auth on, 2026-07-28 clients on a per-session stdio route)',
  { skip: (DIRECT || !fs.existsSync(V2_CLIENT)) && 'gateway-only', timeout: 180000 }, () => {
  let idp, gw, base, v2;
  const IDLE_MS = 4000;
  before(async () => {
    v2 = await import(V2_CLIENT);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    idp = await startIdp({ resource: `${base}/solo`, name: 'idp-held' });
    fs.mkdirSync(OUT_DIR, { recursive: true });
    const cfg = path.join(OUT_DIR, 'shared-held-auth.yaml');
    const solo = (name) => [
      `  - name: ${name}`, `    command: ${process.execPath}`, `    args: [${JSON.stringify(FIXTURE)}]`,
      `    cwd: ${HERE}`, '    env:', '      PATH: /usr/bin:/bin', '    mode: per-session', '    stop_grace_ms: 300',
      `    path: /${name}`];
    fs.writeFileSync(cfg, [
      'gateway:', '  log_level: debug',
      'listeners:', `  - address: 127.0.0.1:${port}`,
      'upstreams:', ...solo('solo'), ...solo('solo2'),
      'limits:', '  sessions_per_principal: 1',
      'timeouts:', `  session_idle_ms: ${IDLE_MS}`,
      'auth:', `  resource: ${base}`, '  issuers:', `    - issuer: ${idp.issuer}`, '      algorithms: [ES256, RS256]',
    ].join('\n') + '\n');
    gw = spawnLogged('gatehouse-held-auth', GATEHOUSE_BIN, ['dev', '--config', cfg]);
    await waitForHttp(`${base}/healthz`, { okStatus: (s) => s === 200, proc: gw });
    await waitForLog(gw, /signing keys loaded/, { timeoutMs: 15000 });
  });
  after(async () => { if (gw) await stop(gw); if (idp) await idp.stop(); });

  const token = async (client, route = 'solo') =>
    (await idp.token(client, { resource: `${base}/${route}` })).access_token;
  async function connect2026(client, route = 'solo') {
    const c = new v2.Client({ name: `held-${client}`, version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    const t = new v2.StreamableHTTPClientTransport(new URL(`${base}/${route}`),
      { requestInit: { headers: { authorization: `Bearer ${await token(client, route)}` } } });
    await c.connect(t);
    assert.equal(t.protocolVersion, '2026-07-28', 'the client speaks the stateless revision');
    assert.equal(t.sessionId, undefined, 'a 2026-07-28 client is given no session');
    return c;
  }
  const call = async (c, name) => text(await c.callTool({ name, arguments: {} }));
  const gone = (pid) => !fs.existsSync(`/proc/${pid}`);

  test('two principals get two children; one principal\'s requests share its own', async () => {
    const a = await connect2026('jwt-es256-client');
    const b = await connect2026('jwt-rs256-client');
    try {
      const pa = Number(await call(a, 'pid'));
      const pb = Number(await call(b, 'pid'));
      assert.ok(pa > 0 && pb > 0);
      assert.notEqual(pa, pb, 'each principal has its own child');
      assert.equal(await call(a, 'increment'), '1');
      assert.equal(await call(a, 'increment'), '2');
      assert.equal(await call(b, 'increment'), '1', 'the other principal\'s counter is not visible');
      assert.equal(Number(await call(a, 'pid')), pa, 'the same principal reuses its held session');
      // a new token and a new client of the same principal: still the same held session
      const a2 = await connect2026('jwt-es256-client');
      try {
        assert.equal(Number(await call(a2, 'pid')), pa);
        assert.equal(await call(a2, 'increment'), '3');
      } finally { await a2.close(); }
    } finally { await a.close(); await b.close(); }
  });

  test('a principal at limits.sessions_per_principal gets the session-era refusal (429) for one more held session', async () => {
    const keep = await token('jwt-es256-client');
    const ok = await call2026(`${base}/solo`, 1, 'tools/call', { name: 'pid', arguments: {} }, { authorization: `Bearer ${keep}` });
    assert.equal(ok.status, 200, JSON.stringify(ok.json)); // its held session on /solo is alive
    const t2 = await token('jwt-es256-client', 'solo2');
    const r = await call2026(`${base}/solo2`, 9, 'tools/call', { name: 'pid', arguments: {} }, { authorization: `Bearer ${t2}` });
    assert.equal(r.status, 429);
    assert.equal(r.json.id, 9);
    assert.equal(r.json.error.code, -32603);
    assert.match(r.json.error.message, /^Too Many Requests: this principal has reached its limit of open sessions/);
    // the same refusal a session-era initialize of that principal gets
    const init = await fetch(`${base}/solo2`, { method: 'POST', headers: { 'content-type': 'application/json',
      accept: 'application/json, text/event-stream', authorization: `Bearer ${t2}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }) });
    assert.equal(init.status, 429);
    assert.equal((await init.json()).error.message, r.json.error.message);
    // another principal has its own share
    const other = await call2026(`${base}/solo2`, 10, 'tools/call', { name: 'pid', arguments: {} },
      { authorization: `Bearer ${await token('jwt-client', 'solo2')}` });
    assert.equal(other.status, 200, JSON.stringify(other.json));
  });

  test('an idle held session ends after timeouts.session_idle_ms: its child is stopped and reaped, its slot freed', async () => {
    const a = await connect2026('jwt-es256-client');
    let pid;
    try {
      pid = Number(await call(a, 'pid'));
      assert.ok(!gone(pid));
      await waitFor('the idle held session\'s child to be gone (reaped, no zombie)', () => gone(pid),
        { timeoutMs: IDLE_MS + 20000, intervalMs: 200 });
      await waitForLog(gw, /session expired after \d+ ms idle/);
      // the next request opens a fresh held session: a new child, a new counter
      const fresh = Number(await call(a, 'pid'));
      assert.notEqual(fresh, pid);
      assert.equal(await call(a, 'increment'), '1');
    } finally { await a.close(); }
    // and the principal's share moved to the new one: /solo2 is still refused, until it idles too
    const t2 = await token('jwt-es256-client', 'solo2');
    const r = await call2026(`${base}/solo2`, 11, 'tools/call', { name: 'pid', arguments: {} }, { authorization: `Bearer ${t2}` });
    assert.equal(r.status, 429);
    await waitFor('the principal\'s held session to idle out', async () =>
      (await call2026(`${base}/solo2`, 12, 'tools/call', { name: 'pid', arguments: {} }, { authorization: `Bearer ${t2}` })).status === 200,
    { timeoutMs: IDLE_MS + 20000, intervalMs: 500 });
  });
});
