// Interop: a server-to-client `roots/list` request relayed by the gateway. The
// upstream is roots-fixture.mjs (SDK server) whose tools ask the client for its
// roots; the client is the SDK Client declaring the roots capability and
// answering. Through the gateway, the tool result must carry exactly the roots
// the client answered, for sessions negotiated at 2025-03-26, 2025-06-18 and
// 2025-11-25, both on the call's own SSE stream and on the standalone GET stream;
// two concurrent sessions must each get their own answer back; the client's
// notifications/roots/list_changed must reach the upstream.
// GH_INTEROP_DIRECT=1 runs the same tests against the fixture itself.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, ListRootsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import {
  DIRECT,
  HERE,
  freePort,
  spawnLogged,
  startGateway,
  stop,
  waitFor,
  waitForLog,
} from './lib/harness.mjs';

const T = { timeout: 60000 };
const VERSIONS = ['2025-03-26', '2025-06-18', '2025-11-25'];
let upstream; // { proc, url }
let gw;
let target;

before(async () => {
  const port = await freePort();
  const proc = spawnLogged('roots-fixture', process.execPath, [path.join(HERE, 'roots-fixture.mjs'), '--port', String(port)]);
  upstream = { proc, url: `http://127.0.0.1:${port}/mcp` };
  await waitForLog(proc, /fixture listening on/, { timeoutMs: 20000 });
  if (!DIRECT) gw = await startGateway(upstream.url, 'gatehouse-roots');
  target = DIRECT ? upstream.url : gw.url;
}, { timeout: 60000 });

after(async () => {
  await stop(gw?.proc);
  await stop(upstream?.proc);
});

/**
 * A fetch that asks for `version` in initialize (the SDK client always asks for its
 * latest) and records the MCP-Protocol-Version header of every later request.
 */
function versionFetch(version, seen) {
  return async (url, init = {}) => {
    let body = init.body;
    if (typeof body === 'string' && body.includes('"initialize"')) {
      const msg = JSON.parse(body);
      if (msg.method === 'initialize') {
        msg.params.protocolVersion = version;
        body = JSON.stringify(msg);
      }
    }
    const v = new Headers(init.headers).get('mcp-protocol-version');
    if (v) seen.add(v);
    return fetch(url, { ...init, body });
  };
}

/** An SDK client with roots; resolves { client, transport, state } (state.roots is what it answers). */
async function connect(version, roots) {
  const state = { roots, asked: 0, seenVersions: new Set() };
  const client = new Client({ name: 'gatehouse-roots-interop', version: '1.0.0' }, { capabilities: { roots: { listChanged: true } } });
  client.setRequestHandler(ListRootsRequestSchema, async () => {
    state.asked++;
    return { roots: state.roots };
  });
  const transport = new StreamableHTTPClientTransport(new URL(target), { fetch: versionFetch(version, state.seenVersions) });
  await client.connect(transport);
  return { client, transport, state };
}

async function call(client, name) {
  const r = await client.request({ method: 'tools/call', params: { name, arguments: {} } }, CallToolResultSchema, {
    timeout: 40000,
  });
  assert.notEqual(r.isError, true, `${name} failed: ${JSON.stringify(r.content)}`);
  return r.content[0].text;
}

async function closeQuietly(client) {
  try {
    await client?.close();
  } catch {
    /* already closed */
  }
}

const standaloneGets = () => (upstream.proc.log().match(/^GET session=/gm) || []).length;

for (const version of VERSIONS) {
  describe(`roots/list relayed, session at ${version}`, () => {
    test('on the call\'s own stream: the tool result holds the client\'s roots', T, async () => {
      const roots = [
        { uri: 'file:///home/alice/project', name: 'project' },
        { uri: `file:///tmp/only-${version}` },
      ];
      const { client, transport, state } = await connect(version, roots);
      try {
        assert.equal(transport.protocolVersion, version, 'negotiated version');
        const got = JSON.parse(await call(client, 'roots_related'));
        assert.deepEqual(got, roots);
        assert.equal(state.asked, 1, 'the client was asked exactly once');
        // the upstream saw the negotiated version on the tool call, and the client sent only it
        assert.equal(await call(client, 'seen_version'), version);
        assert.deepEqual([...state.seenVersions], [version]);
      } finally {
        await closeQuietly(client);
      }
    });

    test('on the standalone GET stream: the tool result holds the client\'s roots', T, async () => {
      const roots = [{ uri: 'file:///srv/data', name: `data ${version}` }];
      const before = standaloneGets();
      const { client, state } = await connect(version, roots);
      try {
        // the SDK client opens its GET stream after initialized; the upstream must have it
        // before it can send a request unrelated to any call
        await waitFor('the standalone GET stream at the upstream', () => standaloneGets() > before, {
          timeoutMs: 20000,
          proc: upstream.proc,
        });
        const got = JSON.parse(await call(client, 'roots_standalone'));
        assert.deepEqual(got, roots);
        assert.equal(state.asked, 1);
      } finally {
        await closeQuietly(client);
      }
    });

    test('list_changed reaches the upstream, which then gets the new roots', T, async () => {
      const { client, state } = await connect(version, [{ uri: 'file:///a' }]);
      try {
        assert.deepEqual(JSON.parse(await call(client, 'roots_related')), [{ uri: 'file:///a' }]);
        state.roots = [{ uri: 'file:///b', name: 'b' }];
        await client.sendRootsListChanged();
        await waitFor('notifications/roots/list_changed at the upstream', async () => (await call(client, 'roots_changes')) === '1', {
          timeoutMs: 20000,
        });
        assert.deepEqual(JSON.parse(await call(client, 'roots_related')), [{ uri: 'file:///b', name: 'b' }]);
        assert.equal(state.asked, 2);
      } finally {
        await closeQuietly(client);
      }
    });
  });
}

describe('roots/list answers routed to the right session', () => {
  test('two concurrent sessions each get their own roots back', T, async () => {
    const a = await connect('2025-06-18', [{ uri: 'file:///alice', name: 'alice' }]);
    const b = await connect('2025-11-25', [{ uri: 'file:///bob', name: 'bob' }]);
    try {
      const rounds = 3;
      const calls = [];
      for (let i = 0; i < rounds; i++) calls.push(call(a.client, 'roots_related'), call(b.client, 'roots_related'));
      const got = (await Promise.all(calls)).map((t) => JSON.parse(t)[0].name);
      assert.deepEqual(got, Array.from({ length: rounds }, () => ['alice', 'bob']).flat());
      assert.equal(a.state.asked, rounds);
      assert.equal(b.state.asked, rounds);
    } finally {
      await closeQuietly(a.client);
      await closeQuietly(b.client);
    }
  });
});
