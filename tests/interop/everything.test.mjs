// Interop suite: the official MCP TypeScript SDK client against the real
// server-everything (Streamable HTTP) through the Gatehouse gateway, plus raw
// HTTP checks of the gateway's own spec enforcement. GH_INTEROP_DIRECT=1 points
// the client at the upstream itself (gateway-only checks are then skipped).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CallToolResultSchema,
  LATEST_PROTOCOL_VERSION,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { DIRECT, sleep, startEverything, startGateway, stop } from './lib/harness.mjs';
import { initializeBody, postHeaders, rawRequest, rawSession, rawUpload } from './lib/raw.mjs';

const T = { timeout: 30000 };
let upstream; // { proc, port, url }
let gw; // { proc, port, url } or undefined in direct mode
let target; // URL the SDK client talks to

before(async () => {
  upstream = await startEverything('everything-upstream');
  if (!DIRECT) {
    try {
      gw = await startGateway(upstream.url, 'gatehouse-everything');
    } catch (err) {
      await stop(upstream.proc);
      throw err;
    }
  }
  target = DIRECT ? upstream.url : gw.url;
}, { timeout: 40000 });

after(async () => {
  await stop(gw?.proc);
  await stop(upstream?.proc);
});

async function connect(transportOpts = {}, capabilities = {}) {
  const client = new Client({ name: 'gatehouse-interop', version: '1.0.0' }, { capabilities });
  const transport = new StreamableHTTPClientTransport(new URL(target), transportOpts);
  await client.connect(transport);
  return { client, transport };
}

async function closeQuietly(client) {
  try {
    await client?.close();
  } catch {
    /* already closed */
  }
}

/** Session ids server-everything minted, read from its log. */
function upstreamSessionIds() {
  return [...upstream.proc.log().matchAll(/Session initialized with ID: (\S+)/g)].map((m) => m[1]);
}

describe('SDK client through the gateway to server-everything', () => {
  test('initialize: server info and negotiated protocol version', T, async () => {
    const { client, transport } = await connect();
    try {
      const info = client.getServerVersion();
      assert.equal(info.name, 'mcp-servers/everything');
      assert.equal(typeof info.version, 'string');
      assert.equal(transport.protocolVersion, LATEST_PROTOCOL_VERSION);
      const caps = client.getServerCapabilities();
      assert.ok(caps.tools, 'tools capability');
      assert.ok(caps.resources?.subscribe, 'resources.subscribe capability');
      assert.ok(caps.logging, 'logging capability');
      assert.equal(typeof transport.sessionId, 'string');
      assert.ok(transport.sessionId.length > 0);
      assert.ok(typeof client.getInstructions() === 'string' || client.getInstructions() === undefined);
    } finally {
      await closeQuietly(client);
    }
  });

  test('tools/list: expected tools present with schemas', T, async () => {
    const { client } = await connect();
    try {
      const { tools } = await client.listTools();
      const names = tools.map((t) => t.name);
      for (const want of ['echo', 'get-sum', 'get-env', 'gzip-file-as-resource', 'trigger-long-running-operation']) {
        assert.ok(names.includes(want), `tool ${want} missing from ${names.join(',')}`);
      }
      const echo = tools.find((t) => t.name === 'echo');
      assert.equal(echo.inputSchema.type, 'object');
      assert.ok(echo.inputSchema.properties.message, 'echo.message property');
    } finally {
      await closeQuietly(client);
    }
  });

  test('tools/call echo and get-sum', T, async () => {
    const { client } = await connect();
    try {
      const msg = 'hello through the gateway – ünïcödé ✓ "quotes" \\ back';
      const r = await client.callTool({ name: 'echo', arguments: { message: msg } });
      assert.notEqual(r.isError, true);
      assert.deepEqual(r.content, [{ type: 'text', text: `Echo: ${msg}` }]);
      const s = await client.callTool({ name: 'get-sum', arguments: { a: 40, b: 2 } });
      assert.match(s.content[0].text, /\b42\b/);
    } finally {
      await closeQuietly(client);
    }
  });

  test('notifications arrive on the standalone GET stream (logging + resources/updated)', T, async () => {
    const { client } = await connect();
    const updates = [];
    const logs = [];
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => updates.push(n.params));
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => logs.push(n.params));
    try {
      await client.setLoggingLevel('debug');
      // Give the client's GET stream (opened after notifications/initialized) a
      // moment; the upstream drops standalone messages while no GET stream exists.
      await sleep(500);
      const uri = 'demo://resource/static/document/architecture.md';
      await client.subscribeResource({ uri });
      const toggled = await client.callTool({ name: 'toggle-subscriber-updates', arguments: {} });
      assert.match(toggled.content[0].text, /Started simulated resource updated/);
      // One update is sent at once, then one every 5 s.
      const deadline = Date.now() + 12000;
      while (Date.now() < deadline && (updates.length === 0 || logs.length === 0)) await sleep(100);
      assert.ok(updates.length >= 1, 'no notifications/resources/updated received');
      assert.equal(updates[0].uri, uri);
      assert.ok(logs.length >= 1, 'no notifications/message received');
      assert.ok(logs.some((l) => String(l.data).includes('Subscribe')), JSON.stringify(logs));
      await client.callTool({ name: 'toggle-subscriber-updates', arguments: {} });
    } finally {
      await closeQuietly(client);
    }
  });

  test('long-running call: progress notifications arrive while the call is in flight', T, async () => {
    const { client } = await connect();
    try {
      const progress = [];
      let resolvedAt = 0;
      const started = Date.now();
      const p = client
        .callTool({ name: 'trigger-long-running-operation', arguments: { duration: 2, steps: 4 } }, undefined, {
          onprogress: (e) => progress.push({ ...e, at: Date.now(), inFlight: resolvedAt === 0 }),
          timeout: 20000,
        })
        .then((r) => {
          resolvedAt = Date.now();
          return r;
        });
      const r = await p;
      assert.match(r.content[0].text, /Long running operation completed/);
      assert.equal(progress.length, 4, JSON.stringify(progress));
      assert.deepEqual(progress.map((e) => e.progress), [1, 2, 3, 4]);
      assert.ok(progress.every((e) => e.total === 4));
      assert.ok(progress.every((e) => e.inFlight), 'progress after the result');
      // The first step is 0.5 s into a 2 s call: it must not have been held back
      // until the response (a buffering proxy would deliver all at once at ~2 s).
      assert.ok(progress[0].at - started < resolvedAt - started - 1000, 'progress was buffered until the end');
    } finally {
      await closeQuietly(client);
    }
  });

  test('resumption: drop the POST stream mid-call, resume with Last-Event-ID, get the rest', T, async () => {
    const a = await connect();
    const sessionId = a.transport.sessionId;
    const tokens = [];
    const firstProgress = [];
    const call = a.client
      .request(
        { method: 'tools/call', params: { name: 'trigger-long-running-operation', arguments: { duration: 2, steps: 4 } } },
        CallToolResultSchema,
        {
          onprogress: (e) => firstProgress.push(e.progress),
          onresumptiontoken: (t) => tokens.push(t),
          timeout: 20000,
        },
      )
      .then(
        () => 'completed',
        (err) => `rejected: ${err.message}`,
      );
    // Wait for the second progress event, then drop every connection of client A
    // without a notifications/cancelled (a disconnect is not a cancellation).
    const deadline = Date.now() + 10000;
    while (firstProgress.length < 2 && Date.now() < deadline) await sleep(20);
    assert.ok(firstProgress.length >= 2, `only ${firstProgress.length} progress events before the drop`);
    assert.ok(tokens.length >= 1, 'no resumption token (SSE event id) seen');
    const lastToken = tokens.at(-1);
    await a.transport.close();
    assert.match(await call, /rejected|completed/);
    assert.ok(firstProgress.length < 4, 'call finished before the drop; nothing left to resume');

    // Let the operation finish upstream so every remaining event is stored.
    await sleep(2000);

    // Client B reuses the session (no initialize) and resumes from the last id.
    const client = new Client({ name: 'gatehouse-interop-resume', version: '1.0.0' });
    const gets = [];
    const recordingFetch = (url, init) => {
      if (init?.method === 'GET') gets.push(new Headers(init.headers).get('last-event-id'));
      return fetch(url, init);
    };
    const transport = new StreamableHTTPClientTransport(new URL(target), { sessionId, fetch: recordingFetch });
    await client.connect(transport);
    const seen = [];
    const inner = transport.onmessage;
    transport.onmessage = (m, extra) => {
      seen.push(m);
      inner?.(m, extra);
    };
    client.onerror = () => {}; // replayed progress tokens belong to client A's request
    try {
      // Note: SDK 1.32 does not pass onresumptiontoken on to a resumed stream,
      // so the resumed stream's own event ids are not observable here.
      const r = await client.request(
        { method: 'tools/call', params: { name: 'trigger-long-running-operation', arguments: { duration: 2, steps: 4 } } },
        CallToolResultSchema,
        { resumptionToken: lastToken, timeout: 15000 },
      );
      assert.match(r.content[0].text, /Long running operation completed/);
      const replayedProgress = seen
        .filter((m) => m.method === 'notifications/progress')
        .map((m) => m.params.progress);
      // Exactly the events after the last one client A saw: no loss, no repeats.
      const expected = [1, 2, 3, 4].filter((n) => n > Math.max(...firstProgress));
      assert.deepEqual(replayedProgress, expected, `A saw ${firstProgress}, resumed stream carried ${replayedProgress}`);
      assert.ok(gets.includes(lastToken), `resume GET did not carry Last-Event-ID ${lastToken}: ${gets}`);
      const results = seen.filter((m) => 'result' in m && m.result?.content);
      assert.equal(results.length, 1, 'the tool result must be delivered exactly once');
    } finally {
      await closeQuietly(client);
    }
  });

  test('DELETE ends the session; the old session id then gets 404', T, async () => {
    const { client, transport } = await connect();
    const sid = transport.sessionId;
    await client.listTools();
    await transport.terminateSession();
    assert.equal(transport.sessionId, undefined);
    await closeQuietly(client);
    const res = await rawRequest(target, {
      headers: postHeaders({ 'mcp-session-id': sid, 'mcp-protocol-version': LATEST_PROTOCOL_VERSION }),
      body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/list', params: {} }),
    });
    if (DIRECT) {
      // server-everything answers 400 for an unknown session (spec says 404);
      // the gateway must cover that itself.
      assert.ok([400, 404].includes(res.status), `status ${res.status}`);
    } else {
      assert.equal(res.status, 404, res.text);
    }
  });
});

describe('gateway spec enforcement (raw HTTP)', { skip: DIRECT ? 'direct mode: no gateway' : false }, () => {
  const pv = '2025-06-18';
  let sess;
  let pidBefore;

  before(async () => {
    pidBefore = gw.proc.pid;
    sess = await rawSession(gw.url, pv);
  });

  const inSession = (extra = {}) =>
    postHeaders({ 'mcp-session-id': sess.sessionId, 'mcp-protocol-version': pv, ...extra });
  const listBody = (id = 11) => JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/list', params: {} });

  test('foreign Origin gets 403', T, async () => {
    const res = await rawRequest(gw.url, {
      headers: postHeaders({ origin: 'http://evil.example.com' }),
      body: initializeBody(),
    });
    assert.equal(res.status, 403, res.text);
    assert.equal(res.headers['mcp-session-id'], undefined);
  });

  test('Host: evil.example.com gets 403', T, async () => {
    const res = await rawRequest(gw.url, {
      headers: postHeaders({ host: 'evil.example.com' }),
      body: initializeBody(),
    });
    assert.equal(res.status, 403, res.text);
  });

  test('POST without Accept of both types gets 406', T, async () => {
    for (const accept of ['application/json', 'text/event-stream', '*/x-nothing']) {
      const res = await rawRequest(gw.url, { headers: inSession({ accept }), body: listBody() });
      assert.equal(res.status, 406, `Accept ${accept}: ${res.status} ${res.text}`);
    }
  });

  test('Content-Type text/plain gets 415', T, async () => {
    const res = await rawRequest(gw.url, { headers: inSession({ 'content-type': 'text/plain' }), body: listBody() });
    assert.equal(res.status, 415, res.text);
  });

  test('unknown Mcp-Session-Id gets 404', T, async () => {
    const res = await rawRequest(gw.url, {
      headers: inSession({ 'mcp-session-id': randomBytes(24).toString('base64url') }),
      body: listBody(),
    });
    assert.equal(res.status, 404, res.text);
  });

  test('missing session id on a non-initialize request gets 400', T, async () => {
    const res = await rawRequest(gw.url, {
      headers: postHeaders({ 'mcp-protocol-version': pv }),
      body: listBody(),
    });
    assert.equal(res.status, 400, res.text);
  });

  test('JSON-RPC batch under 2025-06-18 gets 400 with -32600', T, async () => {
    const batch = JSON.stringify([
      { jsonrpc: '2.0', id: 21, method: 'tools/list', params: {} },
      { jsonrpc: '2.0', id: 22, method: 'tools/call', params: { name: 'get-env', arguments: {} } },
    ]);
    const res = await rawRequest(gw.url, { headers: inSession(), body: batch });
    assert.equal(res.status, 400, res.text);
    const err = res.messages.find((m) => m.error);
    assert.ok(err, `no JSON-RPC error in ${res.text}`);
    assert.equal(err.error.code, -32600);
    assert.ok(!res.text.includes('PATH'), 'batched get-env ran upstream');
  });

  test('bad MCP-Protocol-Version gets 400', T, async () => {
    for (const v of ['1999-01-01', 'garbage']) {
      const res = await rawRequest(gw.url, { headers: inSession({ 'mcp-protocol-version': v }), body: listBody() });
      assert.equal(res.status, 400, `${v}: ${res.text}`);
    }
  });

  test('upstream session id never reaches the client; gateway id is >= 128 bits', T, async () => {
    const gid = sess.sessionId;
    assert.match(gid, /^[\x21-\x7e]+$/, 'session id must be visible ASCII');
    const b64 = /^[A-Za-z0-9_-]+$/.test(gid) && gid.length >= 22;
    const hex = /^[0-9a-fA-F]+$/.test(gid) && gid.length >= 32;
    assert.ok(b64 || hex || gid.length >= 32, `gateway session id too short: ${gid}`);
    const ups = upstreamSessionIds();
    assert.ok(ups.length >= 1, 'upstream log shows no session ids');
    assert.ok(!ups.includes(gid), 'gateway passed the upstream session id through');
    const res = await rawRequest(gw.url, { headers: inSession(), body: listBody(31), untilResponseId: 31 });
    assert.equal(res.status, 200, res.text);
    for (const u of ups) {
      assert.ok(!JSON.stringify(res.headers).includes(u), 'upstream session id in response headers');
      assert.ok(!res.text.includes(u), 'upstream session id in response body');
      assert.ok(!JSON.stringify(sess.initResponse.headers).includes(u), 'upstream id in initialize headers');
    }
  });

  test('malformed JSON gets 400 with -32700', T, async () => {
    const res = await rawRequest(gw.url, { headers: inSession(), body: '{"jsonrpc":"2.0","id":1,"method":' });
    assert.equal(res.status, 400, res.text);
    const err = res.messages.find((m) => m.error);
    assert.ok(err, `no JSON-RPC error in ${res.text}`);
    assert.equal(err.error.code, -32700);
  });

  // Answered before the whole body is sent: a server that rejects early and
  // closes at once would make a client still writing see a reset, not the 413.
  test('oversized body (declared Content-Length) gets 413 before the body is read', T, async () => {
    const size = Number(process.env.GH_INTEROP_OVERSIZE_BYTES || 16 * 1024 * 1024);
    const res = await rawUpload(gw.url, { headers: inSession(), declaredLength: size, sendBytes: 256 * 1024 });
    assert.equal(res.status, 413, res.text.slice(0, 300));
  });

  test('oversized body (chunked, no Content-Length) gets 413', T, async () => {
    const max = Number(process.env.GH_INTEROP_OVERSIZE_BYTES || 16 * 1024 * 1024) * 4;
    let res;
    try {
      res = await rawUpload(gw.url, { headers: { ...inSession(), 'transfer-encoding': 'chunked' }, maxBytes: max });
    } catch (err) {
      assert.fail(`no HTTP answer, socket ${err.code || err.message} after ${err.written} bytes written ` +
        '(a 413 must reach the client: drain or half-close before closing, do not reset)');
    }
    assert.equal(res.status, 413, `${res.status} after ${res.written} bytes: ${res.text.slice(0, 200)}`);
  });

  // Regression: a client dropping its GET stream while the gateway is still
  // opening the upstream one aborted the gateway (BUG in http/server.c).
  test('clients dropping GET streams at once do not crash the gateway', T, async () => {
    for (let i = 0; i < 40 && gw.proc.alive(); i++) {
      const s = await rawSession(gw.url, pv);
      const req = http.request({
        host: '127.0.0.1',
        port: gw.port,
        path: '/mcp',
        method: 'GET',
        headers: { accept: 'text/event-stream', 'mcp-session-id': s.sessionId, 'mcp-protocol-version': pv },
      });
      req.on('error', () => {});
      req.end();
      await sleep(i % 8);
      req.destroy();
      await sleep(10);
    }
    await sleep(200);
    assert.ok(gw.proc.alive(), `gateway died:\n${gw.proc.log().split('\n').slice(-5).join('\n')}`);
  });

  test('after all of that the same gateway process still serves tools/call', T, async () => {
    assert.ok(gw.proc.alive(), 'gateway died');
    assert.equal(gw.proc.pid, pidBefore);
    const { client } = await connect();
    try {
      const r = await client.callTool({ name: 'echo', arguments: { message: 'still alive' } });
      assert.equal(r.content[0].text, 'Echo: still alive');
    } finally {
      await closeQuietly(client);
    }
    const res = await rawRequest(gw.url, { headers: inSession(), body: listBody(51), untilResponseId: 51 });
    assert.equal(res.status, 200);
    assert.ok(res.messages.find((m) => m.id === 51)?.result?.tools?.length > 0);
  });
});
