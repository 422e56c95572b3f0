// Proves the AuthZEN PDP (pdp/authzen-cedar.mjs, real Cedar via cedar-wasm) before the gateway
// relies on it: decisions from the example policies (pdp/policies.cedar), 400s, the AuthZEN
// metadata document, the request counter, and start/stop behaviour.
//
//   cd tests/interop && node --test pdp/selftest.test.mjs
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { spawnLogged, stop, waitFor } from '../lib/harness.mjs';
import { PDP_JS, startPdp } from './start.mjs';

/** An evaluation request as the gateway would send it. */
function req({ user = 'alice', groups = [], scopes = [], method = 'tools/call', type = 'tool', name, upstream = 'everything', args } = {}) {
  const properties = { upstream, name };
  if (args !== undefined) properties.arguments = args;
  return {
    subject: { type: 'user', id: user, properties: { groups, scopes, issuer: 'https://idp.example', client_id: 'c1' } },
    action: { name: method },
    resource: { type, id: `${upstream}/${name}`, properties },
    context: {},
  };
}

let pdp;

describe('AuthZEN PDP on Cedar', () => {
  before(async () => {
    pdp = await startPdp({ name: 'pdp-selftest' });
  });
  after(async () => pdp?.stop());

  test('allow: a reader calls echo', async () => {
    const r = await pdp.evaluate(req({ groups: ['readers'], name: 'echo', args: { message: 'hello' } }));
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { decision: true });
    assert.match(r.headers.get('content-type'), /^application\/json/);
  });

  test('deny by forbid: an admin may do anything but get-env', async () => {
    const ok = await pdp.evaluate(req({ groups: ['admins'], name: 'get-sum', args: { a: 1, b: 2 } }));
    assert.deepEqual(ok.body, { decision: true });
    const r = await pdp.evaluate(req({ groups: ['admins', 'readers'], name: 'get-env' }));
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { decision: false });
  });

  test('deny by no permit: a reader calls get-sum, a user without groups calls echo', async () => {
    assert.deepEqual((await pdp.evaluate(req({ groups: ['readers'], name: 'get-sum' }))).body, { decision: false });
    assert.deepEqual((await pdp.evaluate(req({ groups: [], name: 'echo' }))).body, { decision: false });
    // No groups property at all: defaults to the empty set, still a decision.
    const bare = req({ name: 'echo' });
    delete bare.subject.properties;
    assert.deepEqual((await pdp.evaluate(bare)).body, { decision: false });
    // The readers' permit is for tools/call on a Tool only.
    assert.deepEqual(
      (await pdp.evaluate(req({ groups: ['readers'], method: 'prompts/get', type: 'prompt', name: 'echo' }))).body,
      { decision: false },
    );
  });

  test('arguments-based deny: a message containing "secret", a read_file of ~/.ssh', async () => {
    for (const groups of [['readers'], ['admins']]) {
      const r = await pdp.evaluate(req({ groups, name: 'echo', args: { message: 'the secret is 42' } }));
      assert.deepEqual(r.body, { decision: false }, `groups ${groups}`);
    }
    assert.deepEqual(
      (await pdp.evaluate(req({ groups: ['admins'], name: 'read_file', upstream: 'pin', args: { path: '/home/u/.ssh/id_rsa' } }))).body,
      { decision: false },
    );
    assert.deepEqual(
      (await pdp.evaluate(req({ groups: ['admins'], name: 'read_file', upstream: 'pin', args: { path: '/etc/hostname' } }))).body,
      { decision: true },
    );
  });

  test('arguments Cedar cannot hold (floats, nulls, escape keys) are dropped, not fatal', async () => {
    const args = {
      message: 'plain',
      ratio: 0.5,
      none: null,
      nested: { list: [1, null, 2.5, 'x', { deep: true }], __entity: { type: 'Gatehouse::User', id: 'root' } },
      __extn: { fn: 'ip', arg: '127.0.0.1' },
    };
    const r = await pdp.evaluate(req({ groups: ['readers'], name: 'echo', args }));
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { decision: true });
    // A "__proto__" key from JSON does not upset the conversion (it stays an ordinary key).
    const proto = '{"subject":{"type":"user","id":"alice","properties":{"groups":["readers"]}},"action":{"name":"tools/call"},' +
      '"resource":{"type":"tool","id":"e/echo","properties":{"name":"echo","arguments":{"__proto__":{"message":"x"},"message":"a secret"}}}}';
    assert.deepEqual((await pdp.evaluate(proto)).body, { decision: false });
    // A non-string message makes the forbid's `like` an evaluation error (that policy is skipped);
    // the admins' permit still decides.
    assert.deepEqual((await pdp.evaluate(req({ groups: ['admins'], name: 'echo', args: { message: 7 } }))).body, {
      decision: true,
    });
  });

  test('scopes and resources: delete_repo needs repo:delete; readers read public memos only', async () => {
    assert.deepEqual((await pdp.evaluate(req({ groups: ['admins'], name: 'delete_repo', args: { repo: 'x' } }))).body, {
      decision: false,
    });
    assert.deepEqual(
      (await pdp.evaluate(req({ groups: ['admins'], scopes: ['repo:delete'], name: 'delete_repo', args: { repo: 'x' } }))).body,
      { decision: true },
    );
    const read = (name) => req({ groups: ['readers'], method: 'resources/read', type: 'resource', upstream: 'pin', name });
    assert.deepEqual((await pdp.evaluate(read('memo://public/readme'))).body, { decision: true });
    assert.deepEqual((await pdp.evaluate(read('memo://private/salaries'))).body, { decision: false });
    const prompt = req({ groups: ['readers'], method: 'prompts/get', type: 'prompt', upstream: 'pin', name: 'summarize' });
    assert.deepEqual((await pdp.evaluate(prompt)).body, { decision: true });
  });

  test('400 on garbage and on requests missing subject, action or resource', async () => {
    const before = (await pdp.stats()).evaluations;
    const cases = [
      'this is not json',
      '{"subject":',
      '',
      '[]',
      JSON.stringify({ action: { name: 'tools/call' }, resource: { type: 'tool', id: 'x' } }),
      JSON.stringify({ subject: { type: 'user', id: 'a' }, resource: { type: 'tool', id: 'x' } }),
      JSON.stringify({ subject: { type: 'user', id: 'a' }, action: { name: 'tools/call' } }),
      JSON.stringify({ subject: { type: 'user', id: 'a' }, action: { name: 'tools/call' }, resource: { type: 'table', id: 'x' } }),
      JSON.stringify({ subject: { type: 'user', id: 'a' }, action: { name: 'tools/call' }, resource: { type: 'toString', id: 'x' } }),
      JSON.stringify({ subject: { type: 'user' }, action: { name: 'tools/call' }, resource: { type: 'tool', id: 'x' } }),
    ];
    for (const body of cases) {
      const r = await pdp.evaluate(body);
      assert.equal(r.status, 400, `body ${JSON.stringify(body)}`);
      assert.equal(typeof r.body.error, 'string');
      assert.ok(r.body.error.length > 0);
      assert.equal(r.body.decision, undefined);
    }
    assert.equal((await pdp.stats()).evaluations, before, '400s are not counted as evaluations');
    const get = await fetch(pdp.evaluationUrl);
    assert.equal(get.status, 405);
    await get.body?.cancel();
  });

  test('AuthZEN configuration document', async () => {
    const res = await fetch(`${pdp.base}/.well-known/authzen-configuration`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {
      policy_decision_point: `http://127.0.0.1:${pdp.port}`,
      access_evaluation_endpoint: `http://127.0.0.1:${pdp.port}/access/v1/evaluation`,
    });
  });

  test('X-Request-ID is echoed; /stats counts decisions; every decision is logged', async () => {
    const n = (await pdp.stats()).evaluations;
    const r = await pdp.evaluate(req({ user: 'bob', groups: ['readers'], name: 'echo' }), { 'x-request-id': 'req-77' });
    assert.equal(r.headers.get('x-request-id'), 'req-77');
    assert.deepEqual(await pdp.stats(), { evaluations: n + 1 });
    await waitFor('decision log line', async () =>
      /decision=allow principal="bob" action="tools\/call" resource=Gatehouse::Tool::"everything\/echo"/.test(pdp.proc.log()),
    );
    const lines = pdp.proc.log().split('\n').filter((l) => l.startsWith('pdp: decision='));
    assert.equal(lines.length, n + 1, 'one log line per decision');
  });

  test('SIGTERM ends it with status 0', async () => {
    await pdp.stop();
    assert.deepEqual(await pdp.proc.exited, { code: 0, signal: null });
  });
});

test('a policy file Cedar cannot parse: exit 2 with the parse error, no ready line', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gh-pdp-'));
  const bad = path.join(dir, 'bad.cedar');
  writeFileSync(bad, 'permit (principal, action, resource) when { principal.groups.contains( };\n');
  const proc = spawnLogged('pdp-bad-policies', process.execPath, [PDP_JS, '--policies', bad]);
  try {
    const { code } = await proc.exited;
    assert.equal(code, 2);
    await waitFor('log flushed', async () => /exited code=2/.test(proc.log()));
    assert.match(proc.log(), /pdp: .*bad\.cedar: /);
    assert.doesNotMatch(proc.log(), /PDP_LISTENING/);
  } finally {
    await stop(proc);
  }
});
