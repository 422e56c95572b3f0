// Upstream lifecycle through the gateway: a hung stdio child (per-session: stopped with its
// session; shared: restarted under its sessions), the idle timeout stopping a child, a child's
// stderr in the operational log, /readyz states of shared children and their restart backoff, and
// an HTTP upstream that stops answering. Real peers: the official SDK client, SDK fixture servers
// over stdio (fixtures/hang-fixture.mjs, stdio-fixture.mjs) and server-everything over HTTP.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { DIRECT, OUT_DIR, HERE, GATEHOUSE_BIN, freePort, spawnLogged, stop, waitFor, waitForHttp, waitForLog, startEverything, sleep } from './lib/harness.mjs';

const NODE = process.execPath;
const HANG = path.join(HERE, 'fixtures/hang-fixture.mjs');
const FIXTURE = path.join(HERE, 'stdio-fixture.mjs');
// the deadline also covers a new child's start and initialize: generous for a loaded machine
const FIRST_BYTE_MS = 6000;
const text = (r) => r.content[0].text;

/** Child processes of pid, from /proc: [{ pid, state }]. */
function children(pid) {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[1]) === pid) out.push({ pid: Number(d), state: f[0] });
    } catch { /* gone meanwhile */ }
  }
  return out;
}

/** Waits until pid has left /proc entirely (exited and reaped: no zombie either). */
async function gone(pid, what) {
  await waitFor(`${what} (pid ${pid}) gone from /proc`, () => !fs.existsSync(`/proc/${pid}`), { timeoutMs: 15000 });
}

async function connect(url) {
  const client = new Client({ name: 'lifecycle-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url));
  await client.connect(transport);
  return { client, transport };
}

/** A raw tools/list on a session id: the status tells whether the session still exists. */
async function statusOf(url, sid) {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json',
    accept: 'application/json, text/event-stream', 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 99, method: 'tools/list' }) });
  await r.body?.cancel();
  return r.status;
}

const isHangError = (e) => e.code === -32603 && /did not answer in time: stopped as hung/.test(e.message);

describe('stdio and HTTP upstream lifecycle', { skip: DIRECT && 'gateway-only', timeout: 240000 }, () => {
  let gw, base, ev;
  const readyz = async () => (await fetch(`${base}/readyz`)).json();
  before(async () => {
    ev = await startEverything('lifecycle-everything');
    fs.mkdirSync(OUT_DIR, { recursive: true });
    const port = await freePort();
    const cfg = path.join(OUT_DIR, 'lifecycle.yaml');
    const hang = (name, mode, extra = []) => [
      `  - name: ${name}`, `    command: ${NODE}`, `    args: [${JSON.stringify(HANG)}${extra.map((a) => `, ${JSON.stringify(a)}`).join('')}]`,
      `    cwd: ${HERE}`, '    env:', '      PATH: /usr/bin:/bin', `    mode: ${mode}`, '    stop_grace_ms: 500',
      `    path: /${name}`, '    timeouts:', `      first_byte_ms: ${FIRST_BYTE_MS}`];
    fs.writeFileSync(cfg, [
      'gateway:', '  insecure_no_auth: true', '  log_level: debug',
      'listeners:', `  - address: 127.0.0.1:${port}`,
      'upstreams:',
      ...hang('hang', 'per-session', ['--ignore-term']), // only SIGKILL ends it once hung
      ...hang('hangshared', 'shared'),
      '  - name: flaky', '    command: /bin/sh', '    args: ["-c", "exit 3"]', '    mode: shared', '    path: /flaky',
      '  - name: everything', `    url: ${ev.url}`, '    path: /everything', '    timeouts:', '      first_byte_ms: 1000',
    ].join('\n') + '\n');
    gw = spawnLogged('gatehouse-lifecycle', GATEHOUSE_BIN, ['serve', '--config', cfg]);
    base = `http://127.0.0.1:${port}`;
    await waitForHttp(`${base}/healthz`, { okStatus: (s) => s === 200, proc: gw });
  });
  after(async () => {
    if (ev) { try { process.kill(ev.proc.pid, 'SIGCONT'); } catch { /* gone */ } }
    if (gw) await stop(gw);
    if (ev) await stop(ev.proc);
  });

  test('a hung per-session child: JSON-RPC error after the timeout, 404 after, child killed and reaped, others served', async () => {
    const victim = await connect(`${base}/hang`);
    const other = await connect(`${base}/hang`);
    try {
      const pid = Number(text(await victim.client.callTool({ name: 'pid', arguments: {} })));
      const otherPid = Number(text(await other.client.callTool({ name: 'pid', arguments: {} })));
      assert.notEqual(pid, otherPid);
      const sid = victim.transport.sessionId;
      const t0 = Date.now();
      await assert.rejects(victim.client.callTool({ name: 'hang', arguments: {} }), isHangError);
      const took = Date.now() - t0;
      assert.ok(took >= FIRST_BYTE_MS - 100, `not before the timeout (${took} ms)`);
      assert.ok(took < FIRST_BYTE_MS + 5000, `promptly after the timeout (${took} ms)`);
      assert.equal(await statusOf(`${base}/hang`, sid), 404, 'the session ended with its child');
      await assert.rejects(victim.client.callTool({ name: 'pid', arguments: {} }), (e) => e.code === 404);
      // it ignores SIGTERM: the SIGKILL after stop_grace_ms ends it, and it is reaped
      await gone(pid, 'the hung child');
      assert.deepEqual(children(gw.pid).filter((c) => c.state === 'Z'), [], 'no zombie');
      assert.ok(fs.existsSync(`/proc/${otherPid}`), 'the other session\'s child lives on');
      assert.equal(text(await other.client.callTool({ name: 'increment', arguments: {} })), '1');
      const again = await connect(`${base}/hang`);
      assert.equal(text(await again.client.callTool({ name: 'increment', arguments: {} })), '1', 're-initialize works');
      await again.client.close();
      await waitForLog(gw, new RegExp(`upstream hang: pid \\d+ said nothing for ${FIRST_BYTE_MS} ms with a request pending: stopping it as hung`));
    } finally {
      await other.client.close();
      await victim.client.close().catch(() => {});
    }
  });

  test('a child\'s stderr lands in the operational log with the upstream\'s name', async () => {
    const { client } = await connect(`${base}/hang`);
    try {
      const marker = `stderr-marker-${crypto.randomBytes(6).toString('hex')}`;
      assert.equal(text(await client.callTool({ name: 'stderr', arguments: { line: marker } })), 'written');
      await waitForLog(gw, new RegExp(`Z warn upstream: hang: ${marker}$`, 'm'));
    } finally { await client.close(); }
  });

  test('a hung shared child: its calls fail, it is restarted under the same sessions, /readyz counts it', async () => {
    const a = await connect(`${base}/hangshared`);
    const b = await connect(`${base}/hangshared`);
    try {
      const pid = Number(text(await a.client.callTool({ name: 'pid', arguments: {} })));
      assert.equal(Number(text(await b.client.callTool({ name: 'pid', arguments: {} }))), pid);
      const before = (await readyz()).upstreams.hangshared;
      assert.equal(before.state, 'up');
      assert.equal(before.mode, 'shared');
      const hung = a.client.callTool({ name: 'hang', arguments: {} });
      await sleep(300);
      const queued = b.client.callTool({ name: 'increment', arguments: {} }); // the child reads no more
      await Promise.all([assert.rejects(hung, isHangError), assert.rejects(queued, isHangError)]);
      await gone(pid, 'the hung shared child');
      // both sessions live on, on a new child, after the backoff
      let pid2;
      await waitFor('the restarted shared child answers', async () => {
        pid2 = Number(text(await a.client.callTool({ name: 'pid', arguments: {} })));
        return true;
      }, { timeoutMs: 20000, intervalMs: 250 });
      assert.notEqual(pid2, pid);
      assert.equal(Number(text(await b.client.callTool({ name: 'pid', arguments: {} }))), pid2);
      assert.equal(text(await b.client.callTool({ name: 'increment', arguments: {} })), '1', 'the new child\'s state');
      const now = (await readyz()).upstreams.hangshared;
      assert.equal(now.state, 'up');
      assert.equal(now.restarts, before.restarts + 1);
      assert.deepEqual(children(gw.pid).filter((c) => c.state === 'Z'), [], 'no zombie');
    } finally {
      await a.client.close().catch(() => {});
      await b.client.close().catch(() => {});
    }
  });

  test('a shared child killed: /readyz shows restarting, then up again', async () => {
    const { client } = await connect(`${base}/hangshared`);
    let pid = Number(text(await client.callTool({ name: 'pid', arguments: {} })));
    await client.close();
    const seen = new Set();
    // the first restart waits 0.5 s; should a loaded machine miss that window, the next kill
    // within a minute waits twice as long
    for (let round = 0; round < 3 && !seen.has('restarting'); round++) {
      const before = (await readyz()).upstreams.hangshared.restarts;
      process.kill(pid, 'SIGKILL');
      await waitFor('the shared child restarted and up', async () => {
        const h = (await readyz()).upstreams.hangshared;
        seen.add(h.state);
        if (h.state === 'restarting') {
          assert.ok(h.retry_in_ms >= 0 && h.retry_in_ms <= 30000, JSON.stringify(h));
        }
        return h.state === 'up' && h.restarts > before;
      }, { timeoutMs: 20000, intervalMs: 20 });
      await gone(pid, 'the killed shared child');
      const c = await connect(`${base}/hangshared`);
      pid = Number(text(await c.client.callTool({ name: 'pid', arguments: {} })));
      await c.client.close();
    }
    assert.ok(seen.has('restarting'), `states seen: ${[...seen]}`);
    assert.equal((await readyz()).upstreams.hangshared.state, 'up');
  });

  test('a shared child that keeps exiting is restarted with a growing backoff', async () => {
    const init = await fetch(`${base}/flaky`, { method: 'POST', headers: { 'content-type': 'application/json',
      accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18',
        capabilities: {}, clientInfo: { name: 'lifecycle-test', version: '1' } } }) });
    assert.equal(init.status, 503, 'a child that exits at once cannot be initialized');
    await init.body?.cancel();
    const delays = () => [...gw.log().matchAll(/upstream flaky \(shared\): restarting in (\d+) ms/g)].map((m) => Number(m[1]));
    await waitFor('three restarts of flaky', () => delays().length >= 3, { timeoutMs: 30000 });
    const d = delays();
    assert.deepEqual(d.slice(0, 3), [500, 1000, 2000], 'the delay doubles from 0.5 s');
    let j;
    await waitFor('flaky restarting in /readyz', async () => (j = await readyz()).upstreams.flaky.state === 'restarting');
    assert.equal(j.status, 'degraded', 'a shared child that is not up degrades readiness');
    assert.ok(j.upstreams.flaky.restarts >= 3, JSON.stringify(j.upstreams.flaky));
    assert.ok(j.upstreams.flaky.retry_in_ms <= 30000, JSON.stringify(j.upstreams.flaky));
    assert.deepEqual(children(gw.pid).filter((c) => c.state === 'Z'), [], 'no zombie');
  });

  test('an HTTP upstream that stops answering turns down in /readyz, and up when it answers again', async () => {
    await waitFor('everything up', async () => (await readyz()).upstreams.everything.state === 'up', { timeoutMs: 30000 });
    process.kill(ev.proc.pid, 'SIGSTOP'); // connections still open, nothing answers
    try {
      await waitFor('everything down', async () => (await readyz()).upstreams.everything.state === 'down',
        { timeoutMs: 40000, intervalMs: 250 });
      await waitForLog(gw, /upstream: everything is down/);
    } finally {
      process.kill(ev.proc.pid, 'SIGCONT');
    }
    await waitFor('everything up again', async () => (await readyz()).upstreams.everything.state === 'up',
      { timeoutMs: 40000, intervalMs: 250 });
    await waitForLog(gw, /upstream: everything is up again/);
  });
});

describe('the idle timeout stops a session\'s child', { skip: DIRECT && 'gateway-only', timeout: 60000 }, () => {
  let gw, base;
  before(async () => {
    const port = await freePort();
    const cfg = path.join(OUT_DIR, 'lifecycle-idle.yaml');
    fs.writeFileSync(cfg, [
      'gateway:', '  insecure_no_auth: true', '  log_level: debug',
      'listeners:', `  - address: 127.0.0.1:${port}`,
      'upstreams:', '  - name: fixture', `    command: ${NODE}`, `    args: [${JSON.stringify(FIXTURE)}]`,
      `    cwd: ${HERE}`, '    env:', '      PATH: /usr/bin:/bin', '    stop_grace_ms: 500', '    path: /fixture',
      'timeouts:', '  session_idle_ms: 1500',
    ].join('\n') + '\n');
    gw = spawnLogged('gatehouse-lifecycle-idle', GATEHOUSE_BIN, ['serve', '--config', cfg]);
    base = `http://127.0.0.1:${port}`;
    await waitForHttp(`${base}/healthz`, { okStatus: (s) => s === 200, proc: gw });
  });
  after(async () => { if (gw) await stop(gw); });

  test('an idle session\'s child is stopped and reaped; the session id then gets 404', async () => {
    const { client, transport } = await connect(`${base}/fixture`);
    const pid = Number(text(await client.callTool({ name: 'pid', arguments: {} })));
    const sid = transport.sessionId;
    const t0 = Date.now();
    await gone(pid, 'the idle session\'s child');
    assert.ok(Date.now() - t0 >= 1000, 'not before the idle timeout');
    assert.deepEqual(children(gw.pid).filter((c) => c.state === 'Z'), [], 'no zombie');
    await waitForLog(gw, /session expired after 1500 ms idle/);
    assert.equal(await statusOf(`${base}/fixture`, sid), 404);
    await client.close().catch(() => {});
  });
});
