// stdio upstreams through the gateway: the official SDK client → gatehouse → MCP servers the
// gateway spawns (server-everything over stdio, and a small stateful SDK fixture).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { DIRECT, OUT_DIR, HERE, GATEHOUSE_BIN, EVERYTHING_JS, freePort, spawnLogged, stop, waitForHttp, sleep } from './lib/harness.mjs';

const NODE = process.execPath;
const FIXTURE = path.join(HERE, 'stdio-fixture.mjs');

/** Child pids of pid, from /proc. */
function children(pid) {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[1]) === pid) out.push({ pid: Number(d), state: f[0] });
    } catch { /* gone */ }
  }
  return out;
}

async function connect(url) {
  const client = new Client({ name: 'stdio-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url));
  await client.connect(transport);
  return { client, transport };
}

const text = (r) => r.content[0].text;

describe('stdio upstreams', { skip: DIRECT && 'gateway-only', timeout: 120000 }, () => {
  let gw, base;
  before(async () => {
    fs.mkdirSync(OUT_DIR, { recursive: true });
    const port = await freePort();
    const cfg = path.join(OUT_DIR, 'stdio.yaml');
    fs.writeFileSync(cfg, [
      'gateway:', '  insecure_no_auth: true', '  log_level: debug',
      'listeners:', `  - address: 127.0.0.1:${port}`,
      'upstreams:',
      '  - name: everything',
      `    command: ${NODE}`,
      `    args: [${JSON.stringify(EVERYTHING_JS)}, "stdio"]`,
      '    path: /everything',
      '    env:',
      '      PATH: /usr/bin:/bin',
      '      GH_VISIBLE: "yes"',
      '  - name: fixture',
      `    command: ${NODE}`,
      `    args: [${JSON.stringify(FIXTURE)}]`,
      `    cwd: ${HERE}`,
      '    path: /fixture',
      '    env:',
      '      PATH: /usr/bin:/bin',
      '    stop_grace_ms: 500',
      'timeouts:', '  upstream_first_byte_ms: 20000',
    ].join('\n') + '\n');
    process.env.GH_TEST_SHOULD_NOT_LEAK = 'leak';
    gw = spawnLogged('gatehouse-stdio', GATEHOUSE_BIN, ['serve', '--config', cfg]);
    base = `http://127.0.0.1:${port}`;
    await waitForHttp(`${base}/healthz`, { okStatus: (s) => s === 200, proc: gw });
  });
  after(async () => { if (gw) await stop(gw); });

  test('server-everything over stdio: initialize, list, call', async () => {
    const { client } = await connect(`${base}/everything`);
    try {
      assert.match(client.getServerVersion().name, /everything/i);
      const tools = (await client.listTools()).tools.map((t) => t.name);
      assert.ok(tools.includes('echo'));
      const r = await client.callTool({ name: 'echo', arguments: { message: 'via stdio' } });
      assert.match(text(r), /via stdio/);
      const prompts = await client.listPrompts();
      assert.ok(prompts.prompts.length > 0);
      const res = await client.listResources();
      assert.ok(res.resources.length > 0);
      const read = await client.readResource({ uri: res.resources[0].uri });
      assert.ok(read.contents.length > 0);
    } finally { await client.close(); }
  });

  test('the child sees only the configured environment', async () => {
    const { client } = await connect(`${base}/everything`);
    try {
      const tools = (await client.listTools()).tools.map((t) => t.name);
      const envTool = tools.find((t) => /env/i.test(t));
      assert.ok(envTool, 'server-everything has an env tool');
      const r = await client.callTool({ name: envTool, arguments: {} });
      const env = JSON.parse(text(r));
      assert.equal(env.GH_VISIBLE, 'yes');
      assert.equal(env.GH_TEST_SHOULD_NOT_LEAK, undefined);
      assert.equal(env.HOME, undefined);
      assert.deepEqual(Object.keys(env).sort(), ['GH_VISIBLE', 'PATH']);
    } finally { await client.close(); }
  });

  test('progress notifications of a slow call arrive while it runs', async () => {
    const { client } = await connect(`${base}/fixture`);
    try {
      const seen = [];
      const r = await client.callTool({ name: 'slow', arguments: { seconds: 1 } }, undefined,
        { onprogress: (p) => seen.push(p.progress) });
      assert.equal(text(r), 'done');
      assert.ok(seen.length >= 3, `progress seen: ${seen}`);
    } finally { await client.close(); }
  });

  test('trace context reaches the stdio child in params._meta: the caller\'s trace, the gateway\'s span', async () => {
    const traceId = crypto.randomBytes(16).toString('hex');
    const parentId = crypto.randomBytes(8).toString('hex');
    const client = new Client({ name: 'stdio-trace', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(`${base}/fixture`), {
      requestInit: { headers: { traceparent: `00-${traceId}-${parentId}-01` } },
    });
    await client.connect(transport);
    try {
      const meta = JSON.parse(text(await client.callTool({ name: 'meta', arguments: {} })));
      assert.match(meta.traceparent, new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`), JSON.stringify(meta));
      assert.notEqual(meta.traceparent.split('-')[2], parentId, 'the gateway is a hop of the trace');
      // a progress token the client set is still there beside it
      const seen = [];
      const r = await client.callTool({ name: 'slow', arguments: { seconds: 1 } }, undefined,
        { onprogress: (p) => seen.push(p.progress) });
      assert.equal(text(r), 'done');
      assert.ok(seen.length >= 3, `progress seen: ${seen}`);
    } finally { await client.close(); }
    // no header: a traceparent the client put in _meta is the caller's trace
    const { client: c2 } = await connect(`${base}/fixture`);
    try {
      const tid = crypto.randomBytes(16).toString('hex');
      const pid = crypto.randomBytes(8).toString('hex');
      const meta = JSON.parse(text(await c2.callTool({ name: 'meta', arguments: {}, _meta: { traceparent: `00-${tid}-${pid}-01`, other: 1 } })));
      assert.match(meta.traceparent, new RegExp(`^00-${tid}-[0-9a-f]{16}-01$`));
      assert.notEqual(meta.traceparent.split('-')[2], pid);
      assert.equal(meta.other, 1, 'the rest of _meta is untouched');
      // none at all: the gateway mints a trace
      const m2 = JSON.parse(text(await c2.callTool({ name: 'meta', arguments: {} })));
      assert.match(m2.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    } finally { await c2.close(); }
  });

  test('two sessions get two children; state does not cross', async () => {
    const a = await connect(`${base}/fixture`);
    const b = await connect(`${base}/fixture`);
    try {
      const pa = text(await a.client.callTool({ name: 'pid', arguments: {} }));
      const pb = text(await b.client.callTool({ name: 'pid', arguments: {} }));
      assert.notEqual(pa, pb);
      for (let i = 0; i < 3; i++) await a.client.callTool({ name: 'increment', arguments: {} });
      assert.equal(text(await b.client.callTool({ name: 'increment', arguments: {} })), '1');
      assert.equal(text(await a.client.callTool({ name: 'increment', arguments: {} })), '4');
    } finally { await a.client.close(); await b.client.close(); }
  });

  test('DELETE stops the session child; the old session id then gets 404', async () => {
    const { client, transport } = await connect(`${base}/fixture`);
    const pid = Number(text(await client.callTool({ name: 'pid', arguments: {} })));
    const sid = transport.sessionId;
    await transport.terminateSession();
    await client.close();
    for (let i = 0; i < 40 && fs.existsSync(`/proc/${pid}`); i++) await sleep(100);
    assert.ok(!fs.existsSync(`/proc/${pid}`), 'child must be gone after DELETE');
    const r = await fetch(`${base}/fixture`, { method: 'POST', headers: { 'content-type': 'application/json',
      accept: 'application/json, text/event-stream', 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/list' }) });
    assert.equal(r.status, 404);
  });

  test('a child killed mid-call: prompt JSON-RPC error, 404 after, other sessions unaffected, no zombie', async () => {
    const victim = await connect(`${base}/fixture`);
    const other = await connect(`${base}/fixture`);
    const pid = Number(text(await victim.client.callTool({ name: 'pid', arguments: {} })));
    const call = victim.client.callTool({ name: 'slow', arguments: { seconds: 10 } });
    await sleep(500);
    const t0 = Date.now();
    process.kill(pid, 'SIGKILL');
    await assert.rejects(call, /exited|upstream/i);
    assert.ok(Date.now() - t0 < 3000, 'error must come promptly');
    assert.equal(text(await other.client.callTool({ name: 'increment', arguments: {} })), '1');
    // the session ended with its child: 404 (not some other failure), so the client re-initializes
    await assert.rejects(victim.client.callTool({ name: 'pid', arguments: {} }),
      (e) => e.code === 404 && /Session not found/.test(e.message));
    const again = await connect(`${base}/fixture`);
    const pid2 = Number(text(await again.client.callTool({ name: 'pid', arguments: {} })));
    assert.notEqual(pid2, pid, 're-initializing starts a new child');
    assert.equal(text(await again.client.callTool({ name: 'increment', arguments: {} })), '1');
    await again.client.close();
    await sleep(300);
    const zombies = children(gw.pid).filter((c) => c.state === 'Z');
    assert.deepEqual(zombies, []);
    assert.ok(!children(gw.pid).some((c) => c.pid === pid));
    await other.client.close();
    await victim.client.close().catch(() => {});
  });

  test('at shutdown every child is stopped and reaped', async () => {
    const { client } = await connect(`${base}/fixture`);
    const pid = Number(text(await client.callTool({ name: 'pid', arguments: {} })));
    await stop(gw);
    gw = null;
    assert.ok(!fs.existsSync(`/proc/${pid}`), 'child must be gone after gateway shutdown');
    await client.close().catch(() => {});
  });
});
