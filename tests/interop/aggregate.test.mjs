// One endpoint for many servers: the official SDK client → gatehouse → server-everything over
// Streamable HTTP and a stdio SDK fixture, aggregated at /mcp with namespaced tools and prompts.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  ToolListChangedNotificationSchema, PromptListChangedNotificationSchema, ResourceListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { DIRECT, OUT_DIR, HERE, GATEHOUSE_BIN, EVERYTHING_JS, freePort, spawnLogged, stop, waitForHttp, startEverything, sleep } from './lib/harness.mjs';

const FIXTURE = path.join(HERE, 'stdio-fixture.mjs');
const PAGED = path.join(HERE, 'paged-fixture.mjs');
const text = (r) => r.content[0].text;

async function connect(url) {
  const client = new Client({ name: 'aggregate-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

describe('aggregated endpoint (HTTP + stdio behind one URL)', { skip: DIRECT && 'gateway-only', timeout: 120000 }, () => {
  let ev, gw, base;
  before(async () => {
    ev = await startEverything('aggregate-everything');
    fs.mkdirSync(OUT_DIR, { recursive: true });
    const port = await freePort();
    const cfg = path.join(OUT_DIR, 'aggregate.yaml');
    fs.writeFileSync(cfg, [
      'gateway:', '  insecure_no_auth: true', '  log_level: debug',
      'listeners:', `  - address: 127.0.0.1:${port}`,
      'upstreams:',
      '  - name: everything',
      `    url: ${ev.url}`,
      '  - name: fixture',
      `    command: ${process.execPath}`,
      `    args: [${JSON.stringify(FIXTURE)}]`,
      `    cwd: ${HERE}`,
      '    env:',
      '      PATH: /usr/bin:/bin',
      '  - name: evstdio',
      `    command: ${process.execPath}`,
      `    args: [${JSON.stringify(EVERYTHING_JS)}, "stdio"]`,
      '    env:',
      '      PATH: /usr/bin:/bin',
      'endpoints:',
      '  - path: /mcp',
      '    upstreams: [everything, fixture, evstdio]',
    ].join('\n') + '\n');
    gw = spawnLogged('gatehouse-aggregate', GATEHOUSE_BIN, ['serve', '--config', cfg]);
    base = `http://127.0.0.1:${port}`;
    await waitForHttp(`${base}/healthz`, { okStatus: (s) => s === 200, proc: gw });
  });
  after(async () => { if (gw) await stop(gw); if (ev) await stop(ev.proc ?? ev); });

  test('initialize merges: one server, capabilities of both', async () => {
    const c = await connect(`${base}/mcp`);
    try {
      assert.equal(c.getServerVersion().name, 'gatehouse');
      const caps = c.getServerCapabilities();
      assert.ok(caps.tools && caps.resources && caps.prompts);
    } finally { await c.close(); }
  });

  test('tools/list is merged and namespaced; calls route by name', async () => {
    const c = await connect(`${base}/mcp`);
    try {
      const names = (await c.listTools()).tools.map((t) => t.name);
      assert.ok(names.includes('everything.echo'), names.join(','));
      assert.ok(names.includes('fixture.increment'), names.join(','));
      assert.ok(names.includes('evstdio.echo'), 'server-everything over stdio is aggregated too');
      assert.ok(names.every((n) => /^[A-Za-z0-9_.-]{1,128}$/.test(n)));
      assert.equal(new Set(names).size, names.length, 'no collisions');
      assert.match(text(await c.callTool({ name: 'everything.echo', arguments: { message: 'agg' } })), /agg/);
      assert.equal(text(await c.callTool({ name: 'fixture.increment', arguments: {} })), '1');
      assert.match(text(await c.callTool({ name: 'evstdio.echo', arguments: { message: 'via stdio' } })), /via stdio/);
      await assert.rejects(c.callTool({ name: 'nobody.echo', arguments: {} }));
      await assert.rejects(c.callTool({ name: 'echo', arguments: {} }));
    } finally { await c.close(); }
  });

  test('resources keep their URIs and are read from their owner; prompts are namespaced', async () => {
    const c = await connect(`${base}/mcp`);
    try {
      const res = (await c.listResources()).resources.map((r) => r.uri);
      assert.ok(res.includes('fixture://note'), res.join(','));
      const note = await c.readResource({ uri: 'fixture://note' });
      assert.match(note.contents[0].text, /note from/);
      const evUri = res.find((u) => !u.startsWith('fixture://'));
      assert.ok(evUri, 'server-everything resources are listed');
      assert.ok((await c.readResource({ uri: evUri })).contents.length > 0);
      const prompts = (await c.listPrompts()).prompts.map((p) => p.name);
      assert.ok(prompts.includes('fixture.fixture_prompt'), prompts.join(','));
      const got = await c.getPrompt({ name: 'fixture.fixture_prompt' });
      assert.match(got.messages[0].content.text, /fixture prompt text/);
    } finally { await c.close(); }
  });

  test('list_changed from one upstream reaches the client', async () => {
    const c = await connect(`${base}/mcp`);
    try {
      let changed = false;
      c.setNotificationHandler(ToolListChangedNotificationSchema, () => { changed = true; });
      await sleep(300); // the client's GET stream is open
      const added = text(await c.callTool({ name: 'fixture.add_tool', arguments: {} }));
      for (let i = 0; i < 30 && !changed; i++) await sleep(100);
      assert.ok(changed, 'notifications/tools/list_changed must arrive');
      const names = (await c.listTools()).tools.map((t) => t.name);
      assert.ok(names.includes(`fixture.${added}`));
    } finally { await c.close(); }
  });

  test('resources/templates/list is merged: every member template, reads routed to the owner', async () => {
    const c = await connect(`${base}/mcp`);
    const direct = await connect(`${base}/mcp/everything`);
    try {
      const agg = (await c.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate);
      const own = (await direct.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate);
      assert.ok(own.includes('demo://resource/dynamic/text/{resourceId}'), own.join(','));
      for (const t of own) assert.ok(agg.includes(t), `${t} missing from ${agg.join(',')}`);
      const got = await c.readResource({ uri: 'demo://resource/dynamic/text/7' });
      assert.equal(got.contents[0].uri, 'demo://resource/dynamic/text/7');
      assert.match(got.contents[0].text, /7/);
      await assert.rejects(c.readResource({ uri: 'nobody://x/1' }), (e) => e.code === -32002);
    } finally { await c.close(); await direct.close(); }
  });

  for (const [kind, tool, schema, list] of [
    ['prompts', 'fixture.add_prompt', PromptListChangedNotificationSchema, async (c) => (await c.listPrompts()).prompts.map((p) => p.name)],
    ['resources', 'fixture.add_resource', ResourceListChangedNotificationSchema, async (c) => (await c.listResources()).resources.map((r) => r.uri)],
  ]) {
    test(`notifications/${kind}/list_changed from a member reaches the client`, async () => {
      const c = await connect(`${base}/mcp`);
      try {
        assert.equal(c.getServerCapabilities()[kind].listChanged, true, 'members claim it, so the endpoint does');
        let changed = 0;
        c.setNotificationHandler(schema, () => { changed++; });
        await sleep(300); // the client's GET stream is open
        const added = text(await c.callTool({ name: tool, arguments: {} }));
        for (let i = 0; i < 50 && !changed; i++) await sleep(100);
        assert.ok(changed > 0, `notifications/${kind}/list_changed must arrive`);
        const now = await list(c);
        assert.ok(now.includes(kind === 'prompts' ? `fixture.${added}` : added), now.join(','));
      } finally { await c.close(); }
    });
  }

  test('each upstream is still reachable alone at its own path', async () => {
    for (const [p, tool] of [['/mcp/everything', 'echo'], ['/mcp/fixture', 'increment'], ['/mcp/evstdio', 'echo']]) {
      const c = await connect(`${base}${p}`);
      try {
        const names = (await c.listTools()).tools.map((t) => t.name);
        assert.ok(names.includes(tool), `${p}: ${names}`);
      } finally { await c.close(); }
    }
  });

  test('/readyz reports each upstream', async () => {
    for (let i = 0; i < 30; i++) {
      const j = await (await fetch(`${base}/readyz`)).json();
      if (j.upstreams?.everything?.state === 'up') {
        assert.equal(j.upstreams.fixture.kind, 'stdio');
        return;
      }
      await sleep(200);
    }
    assert.fail('everything never reported up');
  });
});

// A lean member (tools and resources only, paginated, no listChanged; paged-fixture.mjs) next to
// server-everything, alone, and pinned to an older protocol version.
describe('aggregated endpoint: pagination, honest capabilities, tool names, versions', { skip: DIRECT && 'gateway-only', timeout: 120000 }, () => {
  let ev, gw, base;
  const stdio = (name, extra = []) => [
    `  - name: ${name}`, `    command: ${process.execPath}`, `    args: ${JSON.stringify([PAGED, ...extra])}`,
    '    env:', '      PATH: /usr/bin:/bin',
  ];
  before(async () => {
    ev = await startEverything('aggregate2-everything');
    fs.mkdirSync(OUT_DIR, { recursive: true });
    const port = await freePort();
    const cfg = path.join(OUT_DIR, 'aggregate2.yaml');
    fs.writeFileSync(cfg, [
      'gateway:', '  insecure_no_auth: true', '  log_level: debug',
      'listeners:', `  - address: 127.0.0.1:${port}`,
      'upstreams:',
      '  - name: everything', `    url: ${ev.url}`,
      ...stdio('paged'),
      ...stdio('old', ['--version', '2025-03-26']),
      'endpoints:',
      '  - path: /mcp', '    upstreams: [everything, paged]',
      '  - path: /lean', '    upstreams: [paged]',
      '  - path: /mixed', '    upstreams: [everything, old]',
    ].join('\n') + '\n');
    gw = spawnLogged('gatehouse-aggregate2', GATEHOUSE_BIN, ['serve', '--config', cfg]);
    base = `http://127.0.0.1:${port}`;
    await waitForHttp(`${base}/healthz`, { okStatus: (s) => s === 200, proc: gw });
  });
  after(async () => { if (gw) await stop(gw); if (ev) await stop(ev.proc ?? ev); });

  const PAGED_TOOLS = [...Array.from({ length: 10 }, (_, i) => `item_${String(i).padStart(2, '0')}`), 'seen', 'y'.repeat(120)];
  async function walk(c, method) { // follows nextCursor to the end, as a client must
    const all = [];
    let cursor;
    for (let pages = 0; pages < 50; pages++) {
      const r = await c[method](cursor === undefined ? undefined : { cursor });
      all.push(...(r.tools ?? r.resources));
      cursor = r.nextCursor;
      if (cursor === undefined) return all;
    }
    assert.fail('the cursor never ended');
  }
  const seen = async (c, up) => JSON.parse(text(await c.callTool({ name: `${up}.seen`, arguments: {} })));

  test('a member paginating tools/list and resources/list: every item exactly once, member order, stable', async () => {
    const c = await connect(`${base}/mcp`);
    try {
      const runs = [];
      for (let i = 0; i < 3; i++) runs.push((await walk(c, 'listTools')).map((t) => t.name));
      for (const r of runs.slice(1)) assert.deepEqual(r, runs[0], 'the same order on every walk');
      const names = runs[0];
      assert.equal(new Set(names).size, names.length, 'no item twice');
      assert.deepEqual(names.filter((n) => n.startsWith('paged.')), PAGED_TOOLS.map((n) => `paged.${n}`),
        'every page of the member, in its order');
      const lastEv = names.findLastIndex((n) => n.startsWith('everything.'));
      assert.ok(lastEv >= 0 && lastEv < names.indexOf('paged.item_00'), 'members in endpoint order');
      const uris = (await walk(c, 'listResources')).map((r) => r.uri);
      assert.equal(new Set(uris).size, uris.length, 'no resource twice');
      assert.deepEqual(uris.filter((u) => u.startsWith('paged://')), Array.from({ length: 7 }, (_, i) => `paged://r/${i}`));
      assert.equal((await c.readResource({ uri: 'paged://r/6' })).contents[0].text, 'content of paged://r/6', 'a last-page URI routes');
      const methods = await seen(c, 'paged');
      assert.equal(methods.filter((m) => m === 'tools/list').length, 3 * 6, 'six pages of 16 tools per walk, fetched upstream');
    } finally { await c.close(); }
  });

  test('a cursor the endpoint did not issue is refused with -32602', async () => {
    const c = await connect(`${base}/mcp`);
    try {
      const fixtureCursor = Buffer.from('page:3').toString('base64url'); // valid for the member itself
      for (const cursor of ['bogus', fixtureCursor]) {
        await assert.rejects(c.listTools({ cursor }), (e) => e.code === -32602 && /Invalid cursor/.test(e.message), cursor);
        await assert.rejects(c.listResources({ cursor }), (e) => e.code === -32602, cursor);
        await assert.rejects(c.listPrompts({ cursor }), (e) => e.code === -32602, cursor);
      }
      const direct = await connect(`${base}/mcp/paged`); // and the member itself is strict too
      try {
        await assert.rejects(direct.listTools({ cursor: 'bogus' }), (e) => e.code === -32602);
        assert.equal((await direct.listTools({ cursor: fixtureCursor })).tools[0].name, 'item_03');
      } finally { await direct.close(); }
    } finally { await c.close(); }
  });

  test('capabilities are honest: a tools+resources member alone offers nothing else, no listChanged', async () => {
    const c = await connect(`${base}/lean`);
    try {
      assert.deepEqual(c.getServerCapabilities(), { tools: {}, resources: {} });
      assert.deepEqual((await c.listPrompts()).prompts, [], 'no prompts member: an empty list, no error');
      await c.setLoggingLevel('info');
      assert.deepEqual((await c.listResourceTemplates()).resourceTemplates, []);
      const methods = await seen(c, 'paged');
      assert.ok(!methods.includes('prompts/list') && !methods.includes('logging/setLevel'), methods.join(','));
      assert.ok(methods.includes('resources/templates/list'), 'resources members do get template lists');
    } finally { await c.close(); }
  });

  test('mixed members: the union of capabilities, each method only to the members that have it', async () => {
    const c = await connect(`${base}/mcp`);
    try {
      const caps = c.getServerCapabilities();
      assert.equal(caps.tools.listChanged, true, 'server-everything sends tools/list_changed');
      assert.equal(caps.prompts.listChanged, true);
      assert.equal(caps.resources.listChanged, true);
      assert.equal(caps.resources.subscribe, true);
      assert.ok(caps.logging);
      const prompts = (await c.listPrompts()).prompts.map((p) => p.name);
      assert.ok(prompts.length > 0 && prompts.every((n) => n.startsWith('everything.')), prompts.join(','));
      await c.setLoggingLevel('warning');
      const methods = await seen(c, 'paged');
      assert.ok(!methods.includes('prompts/list'), methods.join(','));
      assert.ok(!methods.includes('logging/setLevel'), methods.join(','));
    } finally { await c.close(); }
  });

  test('member tool names that cannot be namespaced validly are left out (logged) and not callable', async () => {
    const c = await connect(`${base}/lean`);
    const direct = await connect(`${base}/mcp/paged`);
    try {
      const names = (await walk(c, 'listTools')).map((t) => t.name);
      assert.deepEqual(names, PAGED_TOOLS.map((n) => `paged.${n}`));
      assert.ok(names.every((n) => /^[A-Za-z0-9_.-]{1,128}$/.test(n)));
      assert.ok(names.includes(`paged.${'y'.repeat(120)}`), '126 characters is still valid');
      for (const bad of ['bad name', 'bad/slash', 'caf\u00e9', 'x'.repeat(125)]) {
        assert.equal(text(await direct.callTool({ name: bad, arguments: {} })), `called ${bad}`, 'the member has it');
        await assert.rejects(c.callTool({ name: `paged.${bad}`, arguments: {} }), (e) => e.code === -32602, bad);
      }
      assert.equal(text(await c.callTool({ name: 'paged.item_09', arguments: {} })), 'called item_09');
      const log = gw.log();
      for (const bad of ['bad name', 'bad/slash']) {
        assert.ok(log.includes(`upstream paged: tool "${bad}" left out`), `log line for ${bad}`);
      }
    } finally { await c.close(); await direct.close(); }
  });

  async function rawInitialize(p, version) {
    const r = await fetch(`${base}${p}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }),
    });
    assert.equal(r.status, 200);
    const body = await r.text();
    const line = body.split('\n').find((l) => l.startsWith('data:'));
    const msg = JSON.parse(line ? line.slice(5) : body);
    const sid = r.headers.get('mcp-session-id');
    if (sid) await fetch(`${base}${p}`, { method: 'DELETE', headers: { 'mcp-session-id': sid } });
    return msg.result;
  }

  test('version negotiation: the oldest version a member serves; a newer ask gets it', async () => {
    assert.equal((await rawInitialize('/mcp', '2025-11-25')).protocolVersion, '2025-11-25', 'control: both members serve 2025-11-25');
    assert.equal((await rawInitialize('/mcp/old', '2025-11-25')).protocolVersion, '2025-03-26', 'the pinned member alone');
    for (const asked of ['2025-11-25', '2025-06-18', '2025-03-26']) {
      assert.equal((await rawInitialize('/mixed', asked)).protocolVersion, '2025-03-26', `asked ${asked}`);
    }
    const c = await connect(`${base}/mixed`); // the SDK client accepts 2025-03-26 and speaks it
    try {
      assert.equal(c.transport.protocolVersion, '2025-03-26');
      assert.match(text(await c.callTool({ name: 'everything.echo', arguments: { message: 'old era' } })), /old era/);
      assert.equal(text(await c.callTool({ name: 'old.item_00', arguments: {} })), 'called item_00');
    } finally { await c.close(); }
  });
});
