// Demo suite: `gatehouse dev` serves its built-in demo MCP server through the
// gateway; the official SDK client lists and calls every demo tool. Gateway-only
// (there is no upstream to talk to directly), so it is skipped in direct mode.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { DIRECT, GATEHOUSE_BIN, OUT_DIR, freePort, spawnLogged, startGatehouseDev, stop, waitFor, waitForHttp, waitForLog } from './lib/harness.mjs';

const T = { timeout: 20000 };
const TEXT = 'the quick brown fox jumps';
const DEMO_TOOLS = ['echo', 'add', 'sha256', 'time', 'word_count'];

/** Arguments for a tool built from its inputSchema: strings get TEXT, numbers 2 then 3. */
function argsFor(tool) {
  const props = tool.inputSchema?.properties || {};
  const args = {};
  const nums = [2, 3, 5];
  for (const [name, schema] of Object.entries(props)) {
    const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
    if (type === 'number' || type === 'integer') args[name] = nums.shift() ?? 1;
    else if (type === 'string') args[name] = TEXT;
    else if (type === 'boolean') args[name] = true;
    else if (type === 'array' && ['number', 'integer'].includes(schema.items?.type)) args[name] = [2, 3];
  }
  return args;
}

const text = (r) => r.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');

describe('gatehouse dev: built-in demo tools', { skip: DIRECT ? 'direct mode: gateway-only suite' : false }, () => {
  let gw;
  let client;
  let tools;

  before(async () => {
    gw = await startGatehouseDev('gatehouse-dev');
    client = new Client({ name: 'gatehouse-interop-dev', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(gw.url), {
      requestInit: { headers: { Authorization: `Bearer ${gw.token}` } },
    }));
  }, { timeout: 30000 });

  after(async () => {
    try {
      await client?.close();
    } catch {
      /* ignore */
    }
    await stop(gw?.proc);
  });

  test('tools/list shows every demo tool with an object inputSchema', T, async () => {
    ({ tools } = await client.listTools());
    const names = tools.map((t) => t.name);
    for (const want of DEMO_TOOLS) assert.ok(names.includes(want), `${want} missing from ${names}`);
    for (const t of tools) {
      assert.equal(t.inputSchema?.type, 'object', `${t.name} inputSchema`);
      assert.equal(typeof t.description, 'string', `${t.name} description`);
    }
  });

  const expectations = {
    echo: (out) => assert.ok(out.includes(TEXT), out),
    add: (out) => assert.match(out, /\b5(\.0+)?\b/),
    sha256: (out) => assert.ok(out.toLowerCase().includes(createHash('sha256').update(TEXT).digest('hex')), out),
    time: (out) => assert.ok(out.trim().length > 0 && /\d/.test(out), out),
    word_count: (out) => assert.match(out, /\b5\b/),
  };

  for (const name of DEMO_TOOLS) {
    test(`tools/call ${name}`, T, async () => {
      if (!tools) ({ tools } = await client.listTools());
      const tool = tools.find((t) => t.name === name);
      assert.ok(tool, `${name} not listed`);
      const r = await client.callTool({ name, arguments: argsFor(tool) });
      assert.notEqual(r.isError, true, `${name} returned isError: ${JSON.stringify(r)}`);
      const out = text(r) || JSON.stringify(r.structuredContent ?? {});
      expectations[name](out);
    });
  }

  test('unknown tool is an error, not a crash', T, async () => {
    let r;
    try {
      r = await client.callTool({ name: 'no_such_tool', arguments: {} });
    } catch (err) {
      assert.match(String(err.message), /no_such_tool|not found|unknown|-32602|-32601/i);
      return;
    }
    assert.equal(r.isError, true);
  });

  test('gateway process is still alive', T, () => {
    assert.ok(gw.proc.alive());
  });
});

describe('gatehouse dev: the ephemeral issuer', { skip: DIRECT ? 'direct mode: gateway-only suite' : false }, () => {
  test('no token is refused; the printed token and a minted one are accepted', async () => {
    const gw = await startGatehouseDev('gatehouse-dev-auth');
    try {
      const init = (auth) => fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json',
        accept: 'application/json, text/event-stream', ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize',
          params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }) });
      const none = await init(null);
      assert.equal(none.status, 401);
      assert.match(none.headers.get('www-authenticate'), /resource_metadata=/);
      assert.equal((await init(gw.token)).status, 200);
      const minted = await (await fetch(`${gw.base}/dev/token`, { method: 'POST' })).json();
      assert.notEqual(minted.access_token, gw.token);
      assert.equal((await init(minted.access_token)).status, 200);
      assert.equal((await fetch(`${gw.base}/dev/token`)).status, 405);
    } finally { await stop(gw.proc); }
  });
});

const initReq = (url, auth) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json',
  accept: 'application/json, text/event-stream', ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
  body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }) });

/** `gatehouse dev` on a given port: { proc, base, url, token }. */
async function devOn(name, port) {
  const proc = spawnLogged(name, GATEHOUSE_BIN, ['dev', '--listen', `127.0.0.1:${port}`]);
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${base}/healthz`, { okStatus: (s) => s === 200, timeoutMs: 15000, proc });
    await waitForLog(proc, /GATEHOUSE_TOKEN \S+/);
  } catch (err) { await stop(proc); throw err; }
  return { proc, base, url: `${base}/mcp`, token: /GATEHOUSE_TOKEN (\S+)/.exec(proc.log())[1] };
}

/** A local address that is not loopback (the client binds to it, then connects to 127.0.0.1). */
function nonLoopbackAddress() {
  for (const list of Object.values(os.networkInterfaces()))
    for (const a of list || []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return null;
}

describe('gatehouse dev: the ephemeral issuer is ephemeral, loopback-only and dev-only', { skip: DIRECT ? 'direct mode: gateway-only suite' : false, timeout: 60000 }, () => {
  test('a token minted by one run is refused after a restart on the same address (fresh key)', async () => {
    const port = await freePort();
    let gw = await devOn('gatehouse-dev-run1', port);
    const old = gw.token;
    const minted = await (await fetch(`${gw.base}/dev/token`, { method: 'POST' })).json();
    assert.equal((await initReq(gw.url, old)).status, 200);
    await stop(gw.proc);
    gw = await devOn('gatehouse-dev-run2', port); // same issuer and audience strings, new key
    try {
      assert.notEqual(gw.token, old);
      for (const t of [old, minted.access_token]) {
        const r = await initReq(gw.url, t);
        assert.equal(r.status, 401, 'a token of the previous run');
        assert.match(r.headers.get('www-authenticate'), /error="invalid_token"/);
      }
      assert.equal((await initReq(gw.url, gw.token)).status, 200);
    } finally { await stop(gw.proc); }
  });

  test('/dev/token answers only a loopback peer', async (t) => {
    const local = nonLoopbackAddress();
    if (!local) return t.skip('no non-loopback local address to connect from');
    const gw = await devOn('gatehouse-dev-peer', await freePort());
    try {
      // the listener is 127.0.0.1, but the client's source address is the host's own
      // non-loopback one: the peer the gateway sees is not loopback
      const { status, body } = await new Promise((resolve, reject) => {
        const req = http.request(`${gw.base}/dev/token`, { method: 'POST', localAddress: local }, (res) => {
          let b = '';
          res.on('data', (c) => { b += c; });
          res.on('end', () => resolve({ status: res.statusCode, body: b }));
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(status, 405);
      assert.match(body, /POST from loopback only/);
      assert.doesNotMatch(body, /access_token/);
      assert.equal((await fetch(`${gw.base}/dev/token`, { method: 'POST' })).status, 200, 'from loopback');
    } finally { await stop(gw.proc); }
  });

  test('serve mode (and dev with its own auth section) has no dev issuer', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    fs.mkdirSync(OUT_DIR, { recursive: true });
    const cfg = path.join(OUT_DIR, 'dev-serve-auth.yaml');
    fs.writeFileSync(cfg, ['listeners:', `  - address: 127.0.0.1:${port}`,
      'upstreams:', '  - name: demo', '    url: http://127.0.0.1:9/mcp',
      'auth:', `  resource: ${base}`, '  issuers:', '    - issuer: http://127.0.0.1:9',
      '      algorithms: [ES256]'].join('\n') + '\n');
    for (const mode of ['serve', 'dev']) {
      const proc = spawnLogged(`gatehouse-${mode}-no-dev-issuer`, GATEHOUSE_BIN, [mode, '--config', cfg]);
      try {
        await waitForHttp(`${base}/healthz`, { okStatus: (s) => s === 200, timeoutMs: 15000, proc });
        assert.equal((await fetch(`${base}/dev/token`, { method: 'POST' })).status, 404, mode);
        assert.doesNotMatch(proc.log(), /GATEHOUSE_TOKEN|dev-issuer/, mode);
        assert.equal((await initReq(`${base}/mcp`, null)).status, 401, mode);
      } finally { await stop(proc); }
    }
    // serve without auth and without --insecure-no-auth does not start at all
    const bare = path.join(OUT_DIR, 'dev-serve-noauth.yaml');
    fs.writeFileSync(bare, ['listeners:', `  - address: 127.0.0.1:${port}`,
      'upstreams:', '  - name: demo', '    url: http://127.0.0.1:9/mcp'].join('\n') + '\n');
    const proc = spawnLogged('gatehouse-serve-noauth', GATEHOUSE_BIN, ['serve', '--config', bare]);
    const { code } = await proc.exited;
    assert.equal(code, 2);
    await waitFor('the refusal in the log', async () => /no auth section/.test(proc.log()), { timeoutMs: 5000 });
  });
});
