// One endpoint for many servers: the official SDK client → gatehouse → server-everything over
// Streamable HTTP and a stdio SDK fixture, aggregated at /mcp with namespaced tools and prompts.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { DIRECT, OUT_DIR, HERE, GATEHOUSE_BIN, EVERYTHING_JS, freePort, spawnLogged, stop, waitForHttp, startEverything, sleep } from './lib/harness.mjs';

const FIXTURE = path.join(HERE, 'stdio-fixture.mjs');
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
