// Per-tool authorization (src/policy, src/mcp/authorize.c) through the real gateway binary, with
// real peers: access tokens from the test IdP (oidc-provider, idp/), two pin-fixture.mjs upstreams
// on the MCP SDK (also behind one aggregated endpoint), the AuthZEN PDP on the Cedar engine (pdp/)
// and the `gatehouse tools approve` CLI.
//
// Principals. The test IdP's client_credentials tokens carry sub = client_id = the client's name
// and, for three clients, a `groups` claim (idp.mjs extraTokenClaims), as an enterprise IdP puts
// directory groups in access tokens; the gateway reads it with its default groups claim. Roles:
//   READER = reader-client      (readers)     echo, read_file (argument rules), public memos, summarize
//   ADMIN  = admin-client       (admins)      everything
//   MAINT  = maintainer-client  (maintainers) fx.delete_repo (repo enum), fx2.* except fx2.delete_repo
//
// Every process is started on 127.0.0.1 with a free port, logged to out/<name>.log and stopped
// by pid in after hooks.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import {
  DIRECT, HERE, OUT_DIR, GATEHOUSE_BIN, freePort, spawnLogged, stop, waitFor, waitForHttp, waitForLog, sleep,
} from './lib/harness.mjs';
import { startIdp } from './idp/tokens.mjs';
import { startPdp } from './pdp/start.mjs';

const ACCEPT = 'application/json, text/event-stream';
const PV = '2025-11-25';
const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: PV, capabilities: {}, clientInfo: { name: 'policy-test', version: '1' } } };

// the clients (token subjects) and the directory groups the IdP puts in their tokens
const READER = 'reader-client'; // groups [readers]
const ADMIN = 'admin-client'; // groups [admins, staff]
const MAINT = 'maintainer-client'; // groups [maintainers, staff]
const G_READERS = 'readers';
const G_ADMINS = 'admins';
const G_MAINTAINERS = 'maintainers';

// ---- helpers -----------------------------------------------------------------------------

/** Starts pin-fixture.mjs on a free port; resolves { proc, url, base, calls(), requests(), mutate() }. */
async function startFixture(name) {
  const proc = spawnLogged(name, process.execPath, [path.join(HERE, 'pin-fixture.mjs'), '--port', '0']);
  let url;
  try {
    url = await new Promise((resolve, reject) => {
      let buf = '';
      const timer = setTimeout(() => reject(new Error(`${name}: no ready line\n${proc.log()}`)), 20000);
      proc.child.stdout.on('data', (c) => {
        buf += c.toString('utf8');
        const m = /pin-fixture listening on (http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(buf);
        if (m) { clearTimeout(timer); resolve(m[1]); }
      });
      proc.exited.then(() => { clearTimeout(timer); reject(new Error(`${name} exited\n${proc.log()}`)); });
    });
  } catch (err) {
    await stop(proc);
    throw err;
  }
  const base = url.replace(/\/mcp$/, '');
  return {
    proc, url, base,
    calls: async () => (await fetch(`${base}/control/calls`)).json(),
    requests: async () => (await fetch(`${base}/control/requests`)).json(),
    mutate: async () => (await fetch(`${base}/control/mutate`, { method: 'POST' })).json(),
  };
}

/** Writes a gateway config (auth against the IdP + the given YAML blocks) and starts `gatehouse serve`. */
async function startGw(name, idp, yamlBody) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const cfg = path.join(OUT_DIR, `${name}.yaml`);
  fs.writeFileSync(cfg, [
    'gateway:', '  log_level: debug',
    'listeners:', `  - address: 127.0.0.1:${port}`,
    'auth:', `  resource: ${base}`,
    '  issuers:', `    - issuer: ${idp.issuer}`, '      algorithms: [ES256, RS256]', '      token_type: at+jwt',
    yamlBody.trim(),
  ].join('\n') + '\n');
  const check = spawnSync(GATEHOUSE_BIN, ['check-config', cfg], { encoding: 'utf8' });
  assert.equal(check.status, 0, `check-config ${cfg}: ${check.stdout}${check.stderr}`);
  const proc = spawnLogged(name, GATEHOUSE_BIN, ['serve', '--config', cfg]);
  try {
    await waitForHttp(`${base}/healthz`, { okStatus: (s) => s === 200, proc });
    await waitForLog(proc, /signing keys loaded/, { timeoutMs: 15000 });
  } catch (err) {
    await stop(proc);
    throw err;
  }
  const tokens = new Map();
  return {
    proc, port, base, cfg,
    /** An access token of `client` for the gateway path `p` (aud = resource + path). */
    async token(client, p) {
      const k = `${client} ${p}`;
      if (!tokens.has(k)) tokens.set(k, (await idp.token(client, { resource: `${base}${p}` })).access_token);
      return tokens.get(k);
    },
  };
}

/** The JSON-RPC answer in a response body, JSON or SSE (the last data: message with an id). */
function parseRpc(text, ctype) {
  if (!text) return null;
  if (!(ctype || '').includes('text/event-stream')) {
    try { return JSON.parse(text); } catch { return null; }
  }
  let last = null;
  for (const ev of text.split(/\r?\n\r?\n/)) {
    const data = ev.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
    if (!data) continue;
    try {
      const m = JSON.parse(data);
      if (m && m.id !== undefined && (m.result !== undefined || m.error !== undefined)) last = m;
    } catch { /* priming event */ }
  }
  return last;
}

/** A raw-HTTP MCP session on gateway path p as client: initialize + initialized, then requests. */
async function rawSession(gw, client, p) {
  const url = `${gw.base}${p}`;
  const auth = { authorization: `Bearer ${await gw.token(client, p)}` };
  const h0 = { 'content-type': 'application/json', accept: ACCEPT, ...auth };
  const init = await fetch(url, { method: 'POST', headers: h0, body: JSON.stringify(INIT) });
  const initText = await init.text();
  assert.equal(init.status, 200, `initialize ${client} ${p}: ${initText}`);
  const sid = init.headers.get('mcp-session-id');
  assert.ok(sid, 'session id');
  const h = { ...h0, 'mcp-session-id': sid, 'mcp-protocol-version': PV };
  const n = await fetch(url, { method: 'POST', headers: h, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
  await n.text();
  let id = 100;
  const s = {
    sid,
    async raw(body) {
      const r = await fetch(url, { method: 'POST', headers: h, body });
      const text = await r.text();
      return { status: r.status, headers: r.headers, text, msg: parseRpc(text, r.headers.get('content-type')) };
    },
    call: (method, params) => s.raw(JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params })),
    tool: (name, args) => s.call('tools/call', { name, arguments: args }),
  };
  return s;
}

/** The official SDK client on gateway path p, authenticated as client. */
async function sdkClient(gw, client, p) {
  const c = new Client({ name: `policy-${client}`, version: '1.0.0' });
  const t = new StreamableHTTPClientTransport(new URL(`${gw.base}${p}`), {
    requestInit: { headers: { authorization: `Bearer ${await gw.token(client, p)}` } },
  });
  await c.connect(t);
  return c;
}

const names = (list) => list.map((x) => x.name).sort();

/** Asserts an HTTP 200 JSON-RPC error with this code and message. */
function assertRpcError(r, code, message, what = '') {
  assert.equal(r.status, 200, `${what}: HTTP status (body ${r.text})`);
  assert.ok(r.msg && r.msg.error, `${what}: a JSON-RPC error, got ${r.text}`);
  assert.equal(r.msg.error.code, code, `${what}: code (body ${r.text})`);
  if (message instanceof RegExp) assert.match(r.msg.error.message, message, what);
  else if (message !== undefined) assert.equal(r.msg.error.message, message, what);
}

/** The text of a successful tools/call answer. */
function okText(r, what = '') {
  assert.equal(r.status, 200, `${what}: ${r.text}`);
  assert.ok(r.msg && r.msg.result, `${what}: a result, got ${r.text}`);
  assert.notEqual(r.msg.result.isError, true, `${what}: ${r.text}`);
  return r.msg.result.content.map((c) => c.text).join('');
}

/** Runs fn and returns the fixture's tool calls that arrived meanwhile. */
async function newCalls(fx, fn) {
  const before = (await fx.calls()).length;
  await fn();
  await sleep(50);
  return (await fx.calls()).slice(before);
}

// ---- the suite ---------------------------------------------------------------------------

describe('per-tool authorization through the gateway', { skip: DIRECT && 'gateway-only', timeout: 180000 }, () => {
  let idp, fx, fx2;
  before(async () => {
    [idp, fx, fx2] = await Promise.all([
      startIdp({ name: 'idp-policy' }),
      startFixture('pin-fixture-fx'),
      startFixture('pin-fixture-fx2'),
    ]);
  });
  after(async () => {
    await Promise.all([fx && stop(fx.proc), fx2 && stop(fx2.proc), idp && idp.stop()]);
  });

  // --------------------------------------------------------------------------------------
  describe('local rules: lists, calls, bypass attempts', () => {
    let gw;
    before(async () => {
      gw = await startGw('gatehouse-policy-local', idp, `
upstreams:
  - name: fx
    url: ${fx.url}
    path: /fx/mcp
  - name: fx2
    url: ${fx2.url}
    path: /fx2/mcp
endpoints:
  - path: /all/mcp
    upstreams: [fx, fx2]
policy:
  decision: local
  rules:
    - id: readers-echo-fx
      effect: allow
      principal:
        groups: [${G_READERS}]
      upstream: [fx]
      tools: [echo]
      arguments:
        message: {type: string, max_length: 20, regex: "^[a-z ]+$"}
    - id: readers-echo-fx2
      effect: allow
      principal:
        groups: [${G_READERS}]
      upstream: [fx2]
      tools: [echo]
      arguments:
        message: {type: string, max_length: 20, regex: "[a-z ]+"}
    - id: readers-read-file
      effect: allow
      principal:
        groups: [${G_READERS}]
      upstream: [fx]
      tools: [read_file]
      arguments:
        path: {type: string, max_length: 200, path_under: [/srv/repos], required: true}
      additional_arguments: false
    - id: readers-public-memos
      effect: allow
      principal:
        groups: [${G_READERS}]
      resources: ["memo://public/*"]
    - id: readers-summarize
      effect: allow
      principal:
        groups: [${G_READERS}]
      prompts: [summarize]
    - id: admins-all
      effect: allow
      principal:
        groups: [${G_ADMINS}]
    - id: maint-delete-fx
      effect: allow
      principal:
        groups: [${G_MAINTAINERS}]
      upstream: [fx]
      tools: [delete_repo]
      arguments:
        repo: {enum: [acme/web, acme/api]}
    - id: maint-fx2-all
      effect: allow
      principal:
        groups: [${G_MAINTAINERS}]
      upstream: [fx2]
      tools: ["*"]
    - id: maint-no-fx2-delete
      effect: deny
      principal:
        groups: [${G_MAINTAINERS}]
      upstream: [fx2]
      tools: [delete_repo]
`);
    });
    after(async () => { if (gw) await stop(gw.proc); });

    test('tools/list per principal (SDK client): readers see only what rules allow, admins see all', async () => {
      const reader = await sdkClient(gw, READER, '/fx/mcp');
      const admin = await sdkClient(gw, ADMIN, '/fx/mcp');
      const maint = await sdkClient(gw, MAINT, '/fx/mcp');
      try {
        assert.deepEqual(names((await reader.listTools()).tools), ['echo', 'read_file']);
        assert.deepEqual(names((await admin.listTools()).tools), ['delete_repo', 'echo', 'read_file']);
        assert.deepEqual(names((await maint.listTools()).tools), ['delete_repo']);
        // the definitions that are shown are passed unchanged
        const echo = (await reader.listTools()).tools.find((t) => t.name === 'echo');
        assert.equal(echo.description, 'Echoes a message back to the caller.');
        assert.ok(echo.inputSchema.properties.message);
        // allowed calls work through the SDK
        const r = await reader.callTool({ name: 'echo', arguments: { message: 'hello world' } });
        assert.equal(r.content[0].text, 'hello world');
        const a = await admin.callTool({ name: 'delete_repo', arguments: { repo: 'acme/web' } });
        assert.equal(a.content[0].text, 'deleted acme/web');
      } finally {
        await Promise.all([reader.close(), admin.close(), maint.close()]);
      }
    });

    test('a forbidden tool is answered exactly like a tool that does not exist, and never reaches the upstream', async () => {
      // SDK view
      const reader = await sdkClient(gw, READER, '/fx/mcp');
      try {
        const calls = await newCalls(fx, async () => {
          await assert.rejects(reader.callTool({ name: 'delete_repo', arguments: { repo: 'acme/web' } }),
            (e) => e.code === -32602 && /Unknown tool: delete_repo/.test(e.message));
        });
        assert.deepEqual(calls, []);
      } finally { await reader.close(); }
      // raw view: same status, headers that matter and body (up to the name)
      const s = await rawSession(gw, READER, '/fx/mcp');
      let forbidden, missing;
      const calls = await newCalls(fx, async () => {
        forbidden = await s.raw(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'delete_repo', arguments: { repo: 'acme/web' } } }));
        missing = await s.raw(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'no_such_tool', arguments: { repo: 'acme/web' } } }));
      });
      assert.deepEqual(calls, [], 'the fixture received no call');
      assertRpcError(forbidden, -32602, 'Unknown tool: delete_repo', 'forbidden');
      assertRpcError(missing, -32602, 'Unknown tool: no_such_tool', 'missing');
      assert.equal(forbidden.headers.get('content-type'), missing.headers.get('content-type'));
      assert.equal(forbidden.text.replace('delete_repo', 'X'), missing.text.replace('no_such_tool', 'X'),
        'byte-identical apart from the name');
      assert.deepEqual(forbidden.msg, { jsonrpc: '2.0', id: 7, error: { code: -32602, message: 'Unknown tool: delete_repo' } });
    });

    test('prompts/list and resources/list are filtered; a hidden resource reads as not found (-32002)', async () => {
      const reader = await sdkClient(gw, READER, '/fx/mcp');
      const admin = await sdkClient(gw, ADMIN, '/fx/mcp');
      const maint = await sdkClient(gw, MAINT, '/fx/mcp');
      try {
        assert.deepEqual(names((await reader.listPrompts()).prompts), ['summarize']);
        assert.deepEqual(names((await maint.listPrompts()).prompts), []);
        assert.deepEqual(names((await admin.listPrompts()).prompts), ['summarize']);
        const uris = async (c) => (await c.listResources()).resources.map((r) => r.uri).sort();
        assert.deepEqual(await uris(reader), ['memo://public/readme']);
        assert.deepEqual(await uris(admin), ['memo://private/salaries', 'memo://public/readme']);
        assert.deepEqual(await uris(maint), []);
        // allowed reads / gets work
        const pub = await reader.readResource({ uri: 'memo://public/readme' });
        assert.match(pub.contents[0].text, /public/);
        const pr = await reader.getPrompt({ name: 'summarize', arguments: { text: 'abc' } });
        assert.match(pr.messages[0].content.text, /abc/);
        const sal = await admin.readResource({ uri: 'memo://private/salaries' });
        assert.match(sal.contents[0].text, /PRIVATE/);
      } finally {
        await Promise.all([reader.close(), admin.close(), maint.close()]);
      }
      const before = (await fx.requests()).length;
      const s = await rawSession(gw, READER, '/fx/mcp');
      const hidden = await s.call('resources/read', { uri: 'memo://private/salaries' });
      assertRpcError(hidden, -32002, 'Resource not found: memo://private/salaries', 'hidden resource');
      assert.doesNotMatch(hidden.text, /PRIVATE|alice/);
      const sub = await s.call('resources/subscribe', { uri: 'memo://private/salaries' });
      assert.equal(sub.msg?.error?.code, -32002, `subscribe to a hidden resource: ${sub.text}`);
      const m = await rawSession(gw, MAINT, '/fx/mcp');
      assertRpcError(await m.call('prompts/get', { name: 'summarize', arguments: { text: 'x' } }),
        -32602, 'Unknown prompt: summarize', 'hidden prompt');
      await sleep(50);
      const after = (await fx.requests()).slice(before);
      assert.deepEqual(after, [], 'no hidden read, subscribe or get reached the fixture');
    });

    test('bypass: case variants, confusables, spaces, slashes, NUL, escapes and duplicate keys', async () => {
      const s = await rawSession(gw, READER, '/fx/mcp');
      const tricks = [
        'Echo', 'ECHO', 'echO', 'Delete_repo', 'DELETE_REPO',
        'ech\u03bf', // Greek small omicron
        '\uff45\uff43\uff48\uff4f', // fullwidth "echo"
        'e\u0301cho', 'ech\u200bo', '\u0435cho', // combining accent, zero-width space, Cyrillic e
        'echo ', ' echo', 'echo\t', 'echo\n', 'ec ho', 'echo\u0000', 'echo\u0000delete_repo', 'delete_repo\u0000',
        'fx/echo', '/echo', 'echo/', 'fx/delete_repo', '../delete_repo', 'echo/../delete_repo', 'fx.delete_repo',
        'delete_repo%00', 'delete%5Frepo', 'x'.repeat(129), '',
      ];
      const calls = await newCalls(fx, async () => {
        for (const name of tricks) {
          const r = await s.tool(name, { message: 'hi', repo: 'acme/web' });
          assert.equal(r.status, 200, `${JSON.stringify(name)}: ${r.text}`);
          assert.equal(r.msg?.error?.code, -32602, `${JSON.stringify(name)} must be refused: ${r.text}`);
          assert.match(r.msg.error.message, /^Unknown tool: /, JSON.stringify(name));
        }
      });
      assert.deepEqual(calls, [], 'none of the tricks reached the upstream');

      // JSON escapes are decoded before matching: \u0065cho IS echo (allowed), \u0064elete_repo IS delete_repo
      const viaEscape = await newCalls(fx, async () => {
        const ok = await s.raw(`{"jsonrpc":"2.0","id":50,"method":"tools/call","params":{"name":"\\u0065cho","arguments":{"message":"escaped"}}}`);
        assert.equal(okText(ok, 'escaped echo'), 'escaped');
        const no = await s.raw(`{"jsonrpc":"2.0","id":51,"method":"tools/call","params":{"name":"\\u0064elete_repo","arguments":{"repo":"acme/web"}}}`);
        assertRpcError(no, -32602, /^Unknown tool: /, 'escaped delete_repo');
      });
      assert.deepEqual(viaEscape, [{ name: 'echo', arguments: { message: 'escaped' } }]);

      // duplicate members: the gateway must not judge one value while the upstream (JSON.parse: last wins) runs another
      const dup = await newCalls(fx, async () => {
        const bodies = [
          `{"jsonrpc":"2.0","id":60,"method":"tools/call","params":{"name":"echo","name":"delete_repo","arguments":{"message":"hi","repo":"acme/web"}}}`,
          `{"jsonrpc":"2.0","id":61,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi","repo":"acme/web"}},"params":{"name":"delete_repo","arguments":{"repo":"acme/web"}}}`,
          `{"jsonrpc":"2.0","id":62,"method":"tools/call","params":{"name":"read_file","arguments":{"path":"/srv/repos/a"},"arguments":{"path":"/etc/passwd"}}}`,
          `{"jsonrpc":"2.0","id":63,"method":"tools/call","params":{"name":"read_file","arguments":{"path":"/srv/repos/a","path":"/etc/passwd"}}}`,
          `{"jsonrpc":"2.0","id":64,"method":"tools/list","method":"tools/call","params":{"name":"delete_repo","arguments":{"repo":"acme/web"}}}`,
        ];
        for (const b of bodies) {
          const r = await s.raw(b);
          assert.ok(r.status >= 400 || r.msg?.error, `duplicate keys must be refused: ${b} -> ${r.status} ${r.text}`);
        }
      });
      assert.deepEqual(dup, [], 'no duplicate-key request reached the upstream');

      // a call sent as a notification (no id), and method spellings the gateway must not route as a plain method
      const odd = await newCalls(fx, async () => {
        const n = await s.raw(JSON.stringify({ jsonrpc: '2.0', method: 'tools/call', params: { name: 'delete_repo', arguments: { repo: 'acme/web' } } }));
        assert.ok(n.status === 202 || n.status >= 400 || n.msg?.error, `notification tools/call: ${n.status} ${n.text}`);
        for (const method of ['Tools/call', 'tools/CALL', 'tools/call ', 'tools//call', 'tools/call\u0000']) {
          const r = await s.call(method, { name: 'delete_repo', arguments: { repo: 'acme/web' } });
          assert.ok(r.msg?.error, `${JSON.stringify(method)}: ${r.status} ${r.text}`);
        }
      });
      assert.deepEqual(odd, []);
      await waitForLog(gw.proc, /info policy: deny tools\/call fx\/delete_repo by reader-client: no_match \(rule -, sha256:[0-9a-f]{64}\)/);

      // names that are not strings
      const typed = await newCalls(fx, async () => {
        for (const name of [42, ['echo'], { echo: 1 }, null, true]) {
          const r = await s.raw(JSON.stringify({ jsonrpc: '2.0', id: 70, method: 'tools/call', params: { name, arguments: { message: 'hi' } } }));
          assert.ok(r.status >= 400 || r.msg?.error, `name ${JSON.stringify(name)}: ${r.status} ${r.text}`);
        }
      });
      assert.deepEqual(typed, []);
    });

    test('bypass: namespace tricks on the aggregated endpoint /all/mcp', async () => {
      // listing through the endpoint: namespaced, filtered per principal, deny wins over fx2.*
      const rc = await sdkClient(gw, READER, '/all/mcp');
      const mc = await sdkClient(gw, MAINT, '/all/mcp');
      try {
        assert.deepEqual(names((await rc.listTools()).tools), ['fx.echo', 'fx.read_file', 'fx2.echo']);
        assert.deepEqual(names((await mc.listTools()).tools), ['fx.delete_repo', 'fx2.echo', 'fx2.read_file']);
      } finally { await Promise.all([rc.close(), mc.close()]); }

      const m = await rawSession(gw, MAINT, '/all/mcp');
      const onFx = await newCalls(fx, async () => {
        assert.equal(okText(await m.tool('fx.delete_repo', { repo: 'acme/web' }), 'fx.delete_repo'), 'deleted acme/web');
      });
      assert.deepEqual(onFx, [{ name: 'delete_repo', arguments: { repo: 'acme/web' } }]);
      const tricks = ['fx2.delete_repo', 'fx.fx2.delete_repo', 'fx2.fx.delete_repo', '.delete_repo', 'fx..delete_repo',
        'delete_repo', 'FX.delete_repo', 'fx.Delete_repo', 'fx.delete_repo ', ' fx.delete_repo', 'fx\u0000.delete_repo',
        'fx.delete_repo\u0000', 'fx/delete_repo', 'fx_delete_repo', 'fx.', '.', 'fx2..delete_repo', 'fx3.delete_repo'];
      const both = async () => [...(await fx.calls()), ...(await fx2.calls())].length;
      const n0 = await both();
      for (const name of tricks) {
        const r = await m.tool(name, { repo: 'acme/web' });
        // names that split to fx2 fall under maint-fx2-all ("*") and are forwarded: fx2 says not found
        if (name.startsWith('fx2.') && name !== 'fx2.delete_repo') {
          assert.ok(r.msg?.error || r.msg?.result?.isError, `${JSON.stringify(name)}: ${r.text}`);
        } else {
          assertRpcError(r, -32602, /^Unknown tool: /, JSON.stringify(name));
        }
      }
      // argument rules still apply to the allowed namespaced name
      assertRpcError(await m.tool('fx.delete_repo', { repo: 'acme/prod' }), -32602,
        'Invalid arguments for fx.delete_repo: argument repo is not allowed', 'repo enum');
      await sleep(50);
      assert.equal(await both(), n0, 'no trick reached either upstream');

      // a reader allowed fx.read_file is not allowed fx2.read_file
      const r = await rawSession(gw, READER, '/all/mcp');
      const n1 = await both();
      assertRpcError(await r.tool('fx2.read_file', { path: '/srv/repos/a' }), -32602, 'Unknown tool: fx2.read_file');
      assertRpcError(await r.tool('fx2.delete_repo', { repo: 'acme/web' }), -32602, 'Unknown tool: fx2.delete_repo');
      await sleep(50);
      assert.equal(await both(), n1);
      assert.equal(okText(await r.tool('fx.read_file', { path: '/srv/repos/a' })), '/srv/repos/a');
    });

    test('bypass: argument constraints (path_under, type, length, regex, enum, extra arguments); valid ones pass', async () => {
      const s = await rawSession(gw, READER, '/fx/mcp');
      const badPaths = [
        '/srv/repos/../etc/passwd', '/srv/repos/a/../../etc/passwd', '/srv/repos/./../etc', 'file:///etc/passwd',
        'file:///srv/repos/a', '/srv/repos_evil/x', '/srv/reposx', '/srv', '/etc/passwd', 'srv/repos/a', '../srv/repos/a',
        '//srv/repos/../../etc/passwd', '/srv/repos/a\u0000/../../../etc/passwd', '/srv/repos/' + 'a'.repeat(5000),
        '\\srv\\repos\\a', '', '/srv/repos/a/../b', // any .. segment is refused, even one that stays under the root
      ];
      const calls = await newCalls(fx, async () => {
        for (const p of badPaths) {
          assertRpcError(await s.tool('read_file', { path: p }), -32602,
            'Invalid arguments for read_file: argument path is not allowed', `path ${JSON.stringify(p.slice(0, 60))}`);
        }
        for (const p of [42, ['/srv/repos/a'], { p: '/srv/repos/a' }, null, true]) {
          assertRpcError(await s.tool('read_file', { path: p }), -32602,
            'Invalid arguments for read_file: argument path is not allowed', `path of type ${JSON.stringify(p)}`);
        }
        // required
        assertRpcError(await s.tool('read_file', {}), -32602, /^Invalid arguments for read_file: argument path is not allowed$/, 'missing path');
        assertRpcError(await s.call('tools/call', { name: 'read_file' }), -32602, /^Invalid arguments for read_file: /, 'no arguments at all');
        // additional_arguments: false
        assertRpcError(await s.tool('read_file', { path: '/srv/repos/a', mode: 'w' }), -32602,
          /^Invalid arguments for read_file: argument .+ is not allowed$/, 'extra argument');
        // echo: max_length 20, regex must match the whole value (also without anchors, on fx2)
        for (const msg of ['Hello', 'hello!', 'a'.repeat(21), 'hello\n', '\nhello', 'hello\u0000', 42, ['hi']]) {
          assertRpcError(await s.tool('echo', { message: msg }), -32602,
            'Invalid arguments for echo: argument message is not allowed', `message ${JSON.stringify(msg)}`);
        }
      });
      assert.deepEqual(calls, [], 'no refused call reached the upstream');
      const s2 = await rawSession(gw, READER, '/fx2/mcp');
      const calls2 = await newCalls(fx2, async () => {
        for (const msg of ['hello 123', 'HELLO', 'hello\n', '123hello']) {
          assertRpcError(await s2.tool('echo', { message: msg }), -32602,
            'Invalid arguments for echo: argument message is not allowed', `fx2 message ${JSON.stringify(msg)}`);
        }
        assert.equal(okText(await s2.tool('echo', { message: 'hello there' })), 'hello there');
      });
      assert.deepEqual(calls2, [{ name: 'echo', arguments: { message: 'hello there' } }]);
      // valid arguments pass and arrive unchanged
      const good = ['/srv/repos/acme/web/README.md', '/srv/repos//./acme', '/srv/repos/x..y', '/srv/repos'];
      const ok = await newCalls(fx, async () => {
        for (const p of good) assert.equal(okText(await s.tool('read_file', { path: p }), p), p);
        assert.equal(okText(await s.tool('echo', { message: 'a'.repeat(20) })), 'a'.repeat(20));
        assert.equal(okText(await s.tool('echo', { message: 'hello world' })), 'hello world');
      });
      assert.deepEqual(ok.map((c) => c.arguments.path ?? c.arguments.message), [...good, 'a'.repeat(20), 'hello world']);
    });

    test('a tool refused by a deny rule answers exactly like a missing one, also under a wildcard allow', async () => {
      // MAINT: maint-fx2-all allows fx2 "*", maint-no-fx2-delete denies fx2 delete_repo. A missing tool
      // is allowed by the wildcard and answered by the upstream; the denied one by the gateway.
      const m = await rawSession(gw, MAINT, '/all/mcp');
      const body = (name) => JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name, arguments: { repo: 'acme/web' } } });
      const calls = await newCalls(fx2, async () => {
        const denied = await m.raw(body('fx2.delete_repo'));
        const missing = await m.raw(body('fx2.no_such_tool'));
        const norm = (r, ns) => ({ status: r.status, body: JSON.stringify(r.msg).replaceAll(ns, 'NAME').replaceAll(ns.split('.')[1], 'NAME') });
        assert.deepEqual(norm(denied, 'fx2.delete_repo'), norm(missing, 'fx2.no_such_tool'),
          `denied: ${denied.text}\nmissing: ${missing.text}`);
      });
      assert.deepEqual(calls, []);
    });

    test('batches under a policy: lists and refused calls cannot hide in a batch', async () => {
      const s = await rawSession(gw, READER, '/fx/mcp');
      const calls = await newCalls(fx, async () => {
        const r = await s.raw(JSON.stringify([
          { jsonrpc: '2.0', id: 80, method: 'tools/call', params: { name: 'echo', arguments: { message: 'hi' } } },
          { jsonrpc: '2.0', id: 81, method: 'tools/call', params: { name: 'delete_repo', arguments: { repo: 'acme/web' } } },
        ]));
        assert.ok(r.status >= 400, `batch with a forbidden call: ${r.status} ${r.text}`);
      });
      assert.ok(!calls.some((c) => c.name === 'delete_repo'), JSON.stringify(calls));
    });
  });

  // --------------------------------------------------------------------------------------
  describe('tool pinning (enforce, trust on first use) and `gatehouse tools approve`', () => {
    let gw, fxp, tmp, store;
    before(async () => {
      fxp = await startFixture('pin-fixture-pinning');
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-pins-'));
      store = path.join(tmp, 'pins.json');
      gw = await startGw('gatehouse-policy-pinning', idp, `
upstreams:
  - name: fxp
    url: ${fxp.url}
    path: /fxp/mcp
policy:
  rules:
    - id: admins-all
      effect: allow
      principal:
        groups: [${G_ADMINS}]
  pinning:
    mode: enforce
    store: ${store}
    first_use: approve
`);
    });
    after(async () => {
      if (gw) await stop(gw.proc);
      if (fxp) await stop(fxp.proc);
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    test('a changed definition is hidden and its calls refused until approved', async () => {
      const c = await sdkClient(gw, ADMIN, '/fxp/mcp');
      let changed = 0;
      c.setNotificationHandler(ToolListChangedNotificationSchema, () => { changed++; });
      try {
        const first = (await c.listTools()).tools;
        assert.deepEqual(names(first), ['delete_repo', 'echo', 'read_file']);
        assert.equal(first.find((t) => t.name === 'echo').description, 'Echoes a message back to the caller.');
        const pins0 = JSON.parse(fs.readFileSync(store, 'utf8'));
        assert.equal(pins0.version, 1);
        const approved0 = pins0.tools.fxp.echo.approved;
        assert.match(approved0, /^[0-9a-f]{64}$/);
        assert.equal(pins0.tools.fxp.echo.pending, undefined);
        assert.equal((await c.callTool({ name: 'echo', arguments: { message: 'before' } })).content[0].text, 'before');

        // rug pull
        const m = await fxp.mutate();
        assert.match(m.description, /IMPORTANT/);
        await waitFor('notifications/tools/list_changed through the gateway', async () => changed > 0, { timeoutMs: 5000 });
        const after = (await c.listTools()).tools;
        assert.deepEqual(names(after), ['delete_repo', 'read_file'], 'echo is hidden after its description changed');
        assert.ok(!JSON.stringify(after).includes('id_rsa'));
        await waitForLog(gw.proc, /tool definition changed: fxp\.echo/, { timeoutMs: 5000 });
        const calls = await newCalls(fxp, async () => {
          await assert.rejects(c.callTool({ name: 'echo', arguments: { message: 'after' } }),
            (e) => e.code === -32602 && /Unknown tool: echo/.test(e.message));
        });
        assert.deepEqual(calls, []);
        // a new session does not see it either
        const s = await rawSession(gw, ADMIN, '/fxp/mcp');
        const l = await s.call('tools/list', {});
        assert.deepEqual(names(l.msg.result.tools), ['delete_repo', 'read_file']);
        assertRpcError(await s.tool('echo', { message: 'x' }), -32602, 'Unknown tool: echo', 'new session');
        // the store records what is pending
        const pins1 = JSON.parse(fs.readFileSync(store, 'utf8'));
        assert.equal(pins1.tools.fxp.echo.approved, approved0);
        assert.match(pins1.tools.fxp.echo.pending, /^[0-9a-f]{64}$/);
        assert.notEqual(pins1.tools.fxp.echo.pending, approved0);

        // approve with the CLI
        const cli = spawnSync(GATEHOUSE_BIN, ['tools', 'approve', '--store', store, 'fxp.echo'], { encoding: 'utf8' });
        assert.equal(cli.status, 0, `tools approve: ${cli.stdout}${cli.stderr}`);
        const pins2 = JSON.parse(fs.readFileSync(store, 'utf8'));
        assert.equal(pins2.tools.fxp.echo.approved, pins1.tools.fxp.echo.pending);
        assert.equal(pins2.tools.fxp.echo.pending, undefined);
        await sleep(1500);
        const again = (await c.listTools()).tools;
        assert.deepEqual(names(again), ['delete_repo', 'echo', 'read_file']);
        assert.match(again.find((t) => t.name === 'echo').description, /IMPORTANT/);
        assert.equal((await c.callTool({ name: 'echo', arguments: { message: 'approved' } })).content[0].text, 'approved');
      } finally { await c.close(); }
    });
  });

  // --------------------------------------------------------------------------------------
  describe('external decision point (AuthZEN on Cedar)', () => {
    let pdp, gwPdp, gw503, gwLtp, tmp;
    before(async () => {
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-cedar-'));
      const policies = path.join(tmp, 'policies.cedar');
      fs.writeFileSync(policies, `
@id("readers-echo")
permit (principal, action == Gatehouse::Action::"tools/call", resource is Gatehouse::Tool)
when { principal.groups.contains("${G_READERS}") && resource.name == "echo" && resource.upstream == "fx" };

@id("admins-all")
permit (principal, action, resource)
when { principal.groups.contains("${G_ADMINS}") };

@id("no-delete-repo")
forbid (principal, action, resource is Gatehouse::Tool)
when { resource.name == "delete_repo" };

@id("no-secret-messages")
forbid (principal, action, resource)
when { context.arguments has message && context.arguments.message like "*secret*" };
`);
      pdp = await startPdp({ policies, name: 'pdp-policy' });
      const ups = `
upstreams:
  - name: fx
    url: ${fx.url}
    path: /fx/mcp`;
      const pdpBlock = (unreachable) => `
  pdp:
    url: ${pdp.evaluationUrl}
    timeout_ms: 1000
    cache_ttl_ms: 0
    unreachable: ${unreachable}`;
      [gwPdp, gw503, gwLtp] = await Promise.all([
        startGw('gatehouse-policy-pdp', idp, `${ups}\npolicy:\n  decision: pdp${pdpBlock('deny')}`),
        startGw('gatehouse-policy-pdp503', idp, `${ups}\npolicy:\n  decision: pdp${pdpBlock('unavailable')}`),
        startGw('gatehouse-policy-ltp', idp, `${ups}
policy:
  decision: local-then-pdp
  rules:
    - id: readers-local
      effect: allow
      principal:
        groups: [${G_READERS}]
      tools: [echo, read_file]
${pdpBlock('deny')}`),
      ]);
    });
    after(async () => {
      await Promise.all([gwPdp && stop(gwPdp.proc), gw503 && stop(gw503.proc), gwLtp && stop(gwLtp.proc), pdp && pdp.stop()]);
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    const evals = async () => (await pdp.stats()).evaluations;

    test('decision: pdp — allowed calls pass, forbidden ones look unknown, every call is asked', async () => {
      const s = await rawSession(gwPdp, READER, '/fx/mcp');
      const a = await rawSession(gwPdp, ADMIN, '/fx/mcp');
      const e0 = await evals();
      const calls = await newCalls(fx, async () => {
        assert.equal(okText(await s.tool('echo', { message: 'pdp ok' }), 'reader echo'), 'pdp ok');
        assertRpcError(await s.tool('read_file', { path: '/srv/repos/a' }), -32602, 'Unknown tool: read_file', 'no permit');
        assertRpcError(await s.tool('delete_repo', { repo: 'acme/web' }), -32602, 'Unknown tool: delete_repo', 'forbid');
        assertRpcError(await a.tool('delete_repo', { repo: 'acme/web' }), -32602, 'Unknown tool: delete_repo', 'forbid beats admins-all');
        assertRpcError(await s.tool('echo', { message: 'my secret' }), -32602, 'Unknown tool: echo', 'forbid on arguments');
        assertRpcError(await s.call('resources/read', { uri: 'memo://public/readme' }), -32002, 'Resource not found: memo://public/readme', 'no permit for resources');
        assert.equal(okText(await a.tool('read_file', { path: '/etc/hosts' }), 'admin read_file'), '/etc/hosts');
      });
      assert.deepEqual(calls.map((c) => c.name), ['echo', 'read_file']);
      const e1 = await evals();
      assert.ok(e1 - e0 >= 7, `the PDP was asked for each of the 7 requests (evaluations ${e0} -> ${e1})`);
      const log = pdp.proc.log();
      assert.match(log, new RegExp(`decision=allow principal="${READER}" action="tools/call" resource=Gatehouse::Tool::"fx\\.echo"`));
      assert.match(log, /decision=deny principal="admin-client" action="tools\/call" .*reasons=\["no-delete-repo"\]/);
      // the SDK client sees the same
      const c = await sdkClient(gwPdp, READER, '/fx/mcp');
      try {
        assert.equal((await c.callTool({ name: 'echo', arguments: { message: 'sdk' } })).content[0].text, 'sdk');
        await assert.rejects(c.callTool({ name: 'delete_repo', arguments: { repo: 'x' } }), (e) => e.code === -32602);
      } finally { await c.close(); }
    });

    test('decision: local-then-pdp — a local deny never asks the PDP; a local allow still needs the PDP', async () => {
      const s = await rawSession(gwLtp, READER, '/fx/mcp');
      const m = await rawSession(gwLtp, MAINT, '/fx/mcp');
      const e0 = await evals();
      assertRpcError(await s.tool('delete_repo', { repo: 'acme/web' }), -32602, 'Unknown tool: delete_repo', 'local no-match');
      assertRpcError(await m.tool('echo', { message: 'hi' }), -32602, 'Unknown tool: echo', 'local no-match (maint)');
      await sleep(100);
      assert.equal(await evals(), e0, 'PDP not asked for local denials');
      assert.equal(okText(await s.tool('echo', { message: 'both agree' })), 'both agree');
      assert.equal(await evals(), e0 + 1);
      assertRpcError(await s.tool('read_file', { path: '/srv/repos/a' }), -32602, 'Unknown tool: read_file', 'local allow, PDP deny');
      assert.equal(await evals(), e0 + 2);
    });

    test('PDP unreachable: 403 with a JSON-RPC error (deny), 503 with unreachable: unavailable', async () => {
      const s = await rawSession(gwPdp, READER, '/fx/mcp');
      const u = await rawSession(gw503, READER, '/fx/mcp');
      assert.equal(okText(await u.tool('echo', { message: 'up' })), 'up');
      await pdp.stop();
      assert.equal(pdp.proc.alive(), false);
      const calls = await newCalls(fx, async () => {
        const r = await s.tool('echo', { message: 'down' });
        assert.equal(r.status, 403, r.text);
        assert.ok(r.msg?.error, r.text);
        assert.match(r.msg.error.message, /policy decision point/);
        const r2 = await u.tool('echo', { message: 'down' });
        assert.equal(r2.status, 503, r2.text);
        assert.ok(r2.msg?.error, r2.text);
        assert.match(r2.msg.error.message, /policy decision point/);
      });
      assert.deepEqual(calls, []);
      // protocol methods are not asked: the session still pings and lists
      const ping = await s.call('ping', {});
      assert.deepEqual(ping.msg?.result, {}, ping.text);
      assert.equal(gwPdp.proc.alive(), true);
      assert.equal(gw503.proc.alive(), true);
    });
  });

  // --------------------------------------------------------------------------------------
  describe('limits', () => {
    let gw;
    before(async () => {
      gw = await startGw('gatehouse-policy-limits', idp, `
upstreams:
  - name: fx
    url: ${fx.url}
    path: /fx/mcp
policy:
  rules:
    - id: both
      effect: allow
      principal:
        groups: [${G_READERS}, ${G_ADMINS}, ${G_MAINTAINERS}]
  limits:
    - id: per-user
      scope: principal
      tools: ["fx.echo"]
      calls: 3
      interval_s: 60
`);
    });
    after(async () => { if (gw) await stop(gw.proc); });

    test('the 4th call in 60 s is 429 with Retry-After; other tools and the other principal are unaffected', async () => {
      const r = await rawSession(gw, READER, '/fx/mcp');
      for (let i = 1; i <= 3; i++) assert.equal(okText(await r.tool('echo', { message: `m${i}` }), `call ${i}`), `m${i}`);
      const calls = await newCalls(fx, async () => {
        const fourth = await r.tool('echo', { message: 'm4' });
        assert.equal(fourth.status, 429, fourth.text);
        const ra = fourth.headers.get('retry-after');
        assert.match(ra || '', /^\d+$/, 'Retry-After in seconds');
        assert.ok(Number(ra) >= 1 && Number(ra) <= 60, `Retry-After ${ra}`);
        assert.ok(fourth.msg?.error, fourth.text);
        assert.match(fourth.msg.error.message, /per-user/);
        // per principal, not per session
        const r2 = await rawSession(gw, READER, '/fx/mcp');
        assert.equal((await r2.tool('echo', { message: 'm5' })).status, 429);
      });
      assert.deepEqual(calls, []);
      // a tool the limit does not name
      assert.equal(okText(await r.tool('read_file', { path: '/x' })), '/x');
      // the other principal has its own budget
      const a = await rawSession(gw, ADMIN, '/fx/mcp');
      for (let i = 1; i <= 3; i++) assert.equal(okText(await a.tool('echo', { message: `a${i}` })), `a${i}`);
      assert.equal((await a.tool('echo', { message: 'a4' })).status, 429);
    });

    test('calls inside a JSON-RPC batch (2025-03-26) count one by one; a batch over the limit is refused whole, and what it used stays used', async () => {
      const p = '/fx/mcp';
      const url = `${gw.base}${p}`;
      const h0 = { 'content-type': 'application/json', accept: ACCEPT,
        authorization: `Bearer ${await gw.token(MAINT, p)}` };
      const init = await fetch(url, { method: 'POST', headers: h0,
        body: JSON.stringify({ ...INIT, params: { ...INIT.params, protocolVersion: '2025-03-26' } }) });
      assert.equal(init.status, 200, await init.text());
      const h = { ...h0, 'mcp-session-id': init.headers.get('mcp-session-id'), 'mcp-protocol-version': '2025-03-26' };
      await (await fetch(url, { method: 'POST', headers: h,
        body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) })).text();
      const batch = (ids) => JSON.stringify(ids.map((id) => ({ jsonrpc: '2.0', id, method: 'tools/call',
        params: { name: 'echo', arguments: { message: `b${id}` } } })));
      const first = await fetch(url, { method: 'POST', headers: h, body: batch([1, 2]) });
      const firstText = await first.text();
      assert.equal(first.status, 200, firstText);
      assert.match(firstText, /b1/);
      assert.match(firstText, /b2/);
      const calls = await newCalls(fx, async () => {
        const over = await fetch(url, { method: 'POST', headers: h, body: batch([3, 4]) }); // 2 + 2 > 3
        assert.equal(over.status, 429, await over.text());
        assert.match(over.headers.get('retry-after') || '', /^\d+$/);
      });
      assert.deepEqual(calls, [], 'nothing of a refused batch reaches the upstream');
      // the refused batch's first call took the third unit of the budget (fail closed): none left
      const one = await fetch(url, { method: 'POST', headers: h, body: batch([5]) });
      assert.equal(one.status, 429, await one.text());
    });
  });
});
