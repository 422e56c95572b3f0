// Outbound identity (src/propagation/, docs/gateway-policy.md) through the real gateway binary:
// the official SDK client with tokens from the test IdP (oidc-provider), the gateway, and
// pin-fixture.mjs as the upstream, which records every header it receives and verifies the
// gateway's assertion with jose against the gateway's own JWKS URL.
//
//   (a) mode assertion: the upstream gets a gateway-signed JWT (iss = the gateway, aud = the
//       upstream, sub = the caller, act = the gateway, scopes narrowed to the upstream's
//       ceiling, the tool, the trace) that jose verifies, before and after a key rotation; the
//       caller's token, cookies and DPoP proof never reach it; a static credential from an env:
//       reference reaches only its upstream, is never written to the audit trail, and
//       check-config warns about it; a literal credential in the config is refused.
//   (b) two chained gateways: the inner one accepts the outer one's assertion as its principal
//       (configured as an issuer), records the original subject and the whole act chain, extends
//       the chain to its own upstream, and refuses an outer gateway that widens scopes beyond the
//       ceiling it was given.
//   (d) mode token-exchange: the gateway trades the caller's token at the IdP (RFC 8693,
//       private_key_jwt) for one with the upstream's audience, the scopes narrowed to the
//       upstream's ceiling and act naming the gateway; the upstream never sees the caller's
//       token; the exchanged token is cached per principal, and a burst of first requests shares
//       one exchange; an IdP outage is 503 for a principal with nothing cached.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  DIRECT, GATEHOUSE_BIN, HERE, freePort, sleep, spawnLogged, stop, waitFor, waitForHttp, waitForLog,
} from './lib/harness.mjs';
import { startIdp } from './idp/tokens.mjs';

const READER = 'reader-client'; // scope mcp:read mcp:tools mcp:write, groups [readers]
const LEGACY_SECRET = `legacy-${crypto.randomBytes(12).toString('hex')}`;

/** pin-fixture on a chosen port, verifying assertions against jwks for issuer/audience. */
async function startFixture(name, port, jwks, issuer, audience, extra = []) {
  const args = [path.join(HERE, 'pin-fixture.mjs'), '--port', String(port), ...extra];
  if (jwks) args.push('--jwks', jwks, '--assert-issuer', issuer, '--assert-audience', audience);
  const proc = spawnLogged(name, process.execPath, args);
  // the port in the pattern: the log file may still hold an earlier run's ready line
  await waitForLog(proc, new RegExp(`pin-fixture listening on http://127\\.0\\.0\\.1:${port}/mcp`), { timeoutMs: 15000 });
  const base = `http://127.0.0.1:${port}`;
  return {
    proc, base, url: `${base}/mcp`,
    requests: async () => (await fetch(`${base}/control/requests`)).json(),
  };
}

/** Writes cfg (lines) to dir/name.yaml, checks it, starts `gatehouse serve`; { proc, base, cfg, check }. */
async function startGw(name, dir, port, lines, env = {}) {
  const cfg = path.join(dir, `${name}.yaml`);
  fs.writeFileSync(cfg, lines.join('\n') + '\n');
  const check = spawnSync(GATEHOUSE_BIN, ['check-config', cfg], { encoding: 'utf8', env: { ...process.env, ...env } });
  assert.equal(check.status, 0, `check-config: ${check.stdout}${check.stderr}`);
  const proc = spawnLogged(name, GATEHOUSE_BIN, ['serve', '--config', cfg], { env });
  const base = `http://127.0.0.1:${port}`;
  // with auth: every issuer's keys loaded before the first token arrives (they load asynchronously)
  const issuers = lines.filter((l) => /^\s+- issuer: /.test(l)).length;
  try {
    await waitForHttp(`${base}/healthz`, { okStatus: (s) => s === 200, proc });
    if (issuers) {
      await waitFor(`${issuers} issuer key sets loaded`,
        async () => (proc.log().match(/signing keys loaded/g) || []).length >= issuers, { proc, timeoutMs: 15000 });
    }
  } catch (err) {
    await stop(proc);
    throw err;
  }
  return { proc, base, cfg, check: check.stdout };
}

const authLines = (base, iss, extra = []) => [
  'auth:', `  resource: ${base}`,
  '  issuers:', `    - issuer: ${iss}`, '      algorithms: [ES256, RS256]', '      token_type: at+jwt', ...extra,
];

async function connect(url, token) {
  const c = new Client({ name: 'propagation-test', version: '1.0.0' });
  const t = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { authorization: `Bearer ${token}`, cookie: 'sid=client-cookie' } },
  });
  await c.connect(t);
  return { c, t };
}

describe('outbound identity', { skip: DIRECT && 'gateway-only', timeout: 120000 }, () => {
  let idp, tmp;
  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-prop-'));
    idp = await startIdp({ name: 'idp-propagation' });
  });
  after(async () => {
    if (idp) await idp.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('(a) assertion: verified by the upstream with jose, across a key rotation; static credentials stay references', async () => {
    const gwPort = await freePort();
    const fxPort = await freePort();
    const gwBase = `http://127.0.0.1:${gwPort}`;
    const fxUrl = `http://127.0.0.1:${fxPort}/mcp`;
    const fx = await startFixture('prop-fixture', fxPort, `${gwBase}/.well-known/jwks.json`, gwBase, fxUrl);
    const audit = path.join(tmp, 'a.jsonl');
    let gw;
    try {
      // a literal credential is refused before anything starts
      const bad = path.join(tmp, 'literal.yaml');
      fs.writeFileSync(bad, ['gateway: {insecure_no_auth: true}', 'upstreams:', `  - {name: fx, url: "${fxUrl}"}`,
        'propagation:', '  upstreams:', '    fx:', '      headers: {X-Api-Key: sk-live-abcdef123456}'].join('\n') + '\n');
      const lit = spawnSync(GATEHOUSE_BIN, ['check-config', bad], { encoding: 'utf8' });
      assert.equal(lit.status, 2, lit.stdout + lit.stderr);
      assert.match(lit.stderr, /propagation\.upstreams\.fx\.headers\.X-Api-Key: a credential must be a reference/);
      assert.ok(!lit.stderr.includes('sk-live-abcdef123456'), 'the error does not repeat the value');

      gw = await startGw('gatehouse-prop', tmp, gwPort, [
        'gateway: {log_level: debug}',
        'listeners:', `  - address: 127.0.0.1:${gwPort}`,
        ...authLines(gwBase, idp.issuer),
        'upstreams:',
        `  - {name: fx, url: "${fxUrl}", path: /fx/mcp}`,
        `  - {name: legacy, url: "${fxUrl}", path: /legacy/mcp}`,
        'propagation:',
        '  rotate_s: 3',
        '  upstreams:',
        '    fx: {mode: assertion, scopes: [mcp:read, mcp:tools]}',
        '    legacy:',
        '      headers: {X-Api-Key: "env:GH_TEST_LEGACY_KEY"}',
        'audit:', `  path: ${audit}`,
      ], { GH_TEST_LEGACY_KEY: LEGACY_SECRET });
      assert.match(gw.check, /warning: upstream legacy gets a static credential/);

      const token = (await idp.token(READER, { resource: `${gwBase}/fx/mcp` })).access_token;
      const traceId = crypto.randomBytes(16).toString('hex');
      const { c, t } = await connect(`${gwBase}/fx/mcp`, token);
      const m1 = `before rotation ${crypto.randomUUID()}`;
      await c.callTool({ name: 'echo', arguments: { message: m1 } });
      const jwks1 = await (await fetch(`${gwBase}/.well-known/jwks.json`)).json();
      // one key, or two when a slow run (ASan, a loaded machine) already passed rotate_s: the
      // previous key stays published while assertions it signed may still be in flight
      assert.ok(jwks1.keys.length === 1 || jwks1.keys.length === 2, JSON.stringify(jwks1));
      for (const k of jwks1.keys) {
        assert.equal(k.alg, 'ES256');
        assert.equal(k.d, undefined, 'public keys only');
      }
      // the generated key rotates (rotate_s: 3): the upstream fetches the new one on its own
      await waitForLog(gw.proc, /assertion signing key rotated/, { timeoutMs: 10000 });
      const m2 = `after rotation ${crypto.randomUUID()}`;
      await c.callTool({ name: 'echo', arguments: { message: m2 } });
      await t.terminateSession();
      await c.close();

      const got = await fx.requests();
      const r1 = got.find((q) => q.arguments?.message === m1);
      const r2 = got.find((q) => q.arguments?.message === m2);
      for (const r of [r1, r2]) {
        assert.ok(r, 'the fixture got the call');
        assert.ok(r.assertion?.ok, `jose verified it: ${JSON.stringify(r.assertion)}`);
        const cl = r.assertion.claims;
        assert.equal(cl.iss, gwBase);
        assert.equal(cl.aud, fxUrl);
        assert.equal(cl.sub, READER);
        assert.equal(cl.client_id, READER);
        assert.equal(cl.orig_iss, idp.issuer);
        assert.deepEqual(cl.act, { sub: gwBase }, 'the gateway acts for the caller');
        assert.equal(cl.scope, 'mcp:read mcp:tools', 'narrowed to the upstream\'s ceiling (mcp:write dropped)');
        assert.equal(cl.mcp.method, 'tools/call');
        assert.equal(cl.mcp.name, 'echo');
        assert.equal(cl.mcp.upstream, 'fx');
        assert.match(cl.mcp.trace_id, /^[0-9a-f]{32}$/);
        assert.match(cl.mcp.session, /^[0-9a-f]{16}$/);
        assert.ok(cl.exp - cl.iat <= 60 && cl.exp > cl.iat);
        assert.match(cl.jti, /^[0-9a-f]{32}$/);
        // never forwarded: the caller's token, its cookie
        for (const [k, v] of Object.entries(r.headers)) {
          assert.ok(!String(v).includes(token), `${k} does not carry the caller's token`);
          assert.ok(!String(v).includes(token.split('.')[2]), `${k} does not carry its signature`);
        }
        assert.equal(r.headers.cookie, undefined);
        assert.equal(r.headers.dpop, undefined);
      }
      assert.notEqual(r1.assertion.kid, r2.assertion.kid, 'signed with the new key after the rotation');
      assert.equal(r1.assertion.kid, jwks1.keys[0].kid);
      const jwks2 = await (await fetch(`${gwBase}/.well-known/jwks.json`)).json();
      assert.deepEqual(jwks2.keys.map((k) => k.kid).sort(), [r1.assertion.kid, r2.assertion.kid].sort(),
        'the retired key stays published while its assertions can be live');

      // the legacy upstream: its static header, no identity, nothing of the caller
      const lt = (await idp.token(READER, { resource: `${gwBase}/legacy/mcp` })).access_token;
      const l = await connect(`${gwBase}/legacy/mcp`, lt);
      const m3 = `legacy ${crypto.randomUUID()}`;
      await l.c.callTool({ name: 'echo', arguments: { message: m3 } });
      await l.t.terminateSession();
      await l.c.close();
      const r3 = (await fx.requests()).find((q) => q.arguments?.message === m3);
      assert.equal(r3.headers['x-api-key'], LEGACY_SECRET);
      assert.equal(r3.headers.authorization, undefined);
      assert.ok(!r1.headers['x-api-key'], 'the static credential goes to its upstream only');
    } finally {
      if (gw) await stop(gw.proc);
      await stop(fx.proc);
    }
    // the trail says what each upstream was sent, and never the secret
    const recs = fs.readFileSync(audit, 'utf8').trim().split('\n').map((x) => JSON.parse(x));
    const calls = recs.filter((r) => r.type === 'request.decision' && r.action.method === 'tools/call');
    const fxCall = calls.find((r) => r.action.upstream === 'fx');
    const legCall = calls.find((r) => r.action.upstream === 'legacy');
    assert.deepEqual(fxCall.propagation, { mode: 'assertion', audience: fxUrl, static_credential: false });
    assert.deepEqual(legCall.propagation, { mode: 'none', audience: fxUrl, static_credential: true });
    assert.ok(!fs.readFileSync(audit, 'utf8').includes(LEGACY_SECRET), 'the static credential is not in the trail');
  });

  test('(b) chained gateways: the inner one keeps the original subject, extends the act chain, refuses widened scopes', async () => {
    const [wPort, nPort, iPort, fPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const wBase = `http://127.0.0.1:${wPort}`; // outer gateway that passes every scope on (widens)
    const nBase = `http://127.0.0.1:${nPort}`; // outer gateway that narrows to the inner's ceiling
    const iBase = `http://127.0.0.1:${iPort}`;
    const fUrl = `http://127.0.0.1:${fPort}/mcp`;
    const fx = await startFixture('chain-fixture', fPort, `${iBase}/.well-known/jwks.json`, iBase, fUrl);
    const innerAudit = path.join(tmp, 'inner.jsonl');
    const procs = [];
    try {
      const outer = (name, port, base, scopes) => startGw(name, tmp, port, [
        'listeners:', `  - address: 127.0.0.1:${port}`,
        ...authLines(base, idp.issuer),
        'upstreams:', `  - {name: inner, url: "${iBase}/mcp", path: /mcp}`,
        'propagation:', '  upstreams:', `    inner: {mode: assertion${scopes ? `, scopes: [${scopes}]` : ''}}`,
      ]);
      const wide = await outer('gatehouse-outer-wide', wPort, wBase, null);
      procs.push(wide.proc);
      const narrow = await outer('gatehouse-outer-narrow', nPort, nBase, 'mcp:read, mcp:tools');
      procs.push(narrow.proc);
      const front = (iss) => [`    - issuer: ${iss}`, `      jwks_uri: ${iss}/.well-known/jwks.json`,
        '      algorithms: [ES256]', '      token_type: gatehouse-assertion+jwt', '      max_scopes: [mcp:read, mcp:tools]'];
      const inner = await startGw('gatehouse-inner', tmp, iPort, [
        'gateway: {log_level: debug}',
        'listeners:', `  - address: 127.0.0.1:${iPort}`,
        'auth:', `  resource: ${iBase}`, '  issuers:', ...front(wBase), ...front(nBase),
        'upstreams:', `  - {name: fx, url: "${fUrl}", path: /mcp}`,
        'propagation:', '  upstreams:', '    fx: {mode: assertion}',
        'audit:', `  path: ${innerAudit}`,
      ]);
      procs.push(inner.proc);

      // through the narrowing front: the call reaches the fixture with a two-hop chain
      const token = (await idp.token(READER, { resource: `${nBase}/mcp` })).access_token;
      const { c, t } = await connect(`${nBase}/mcp`, token);
      const msg = `chained ${crypto.randomUUID()}`;
      const r = await c.callTool({ name: 'echo', arguments: { message: msg } });
      assert.equal(r.content[0].text, msg);
      await t.terminateSession();
      await c.close();
      const rec = (await fx.requests()).find((q) => q.arguments?.message === msg);
      assert.ok(rec?.assertion?.ok, JSON.stringify(rec?.assertion));
      const cl = rec.assertion.claims;
      assert.equal(cl.sub, READER, 'the original subject survives both hops');
      assert.equal(cl.iss, iBase);
      assert.equal(cl.orig_iss, nBase);
      assert.deepEqual(cl.act, { sub: iBase, act: { sub: nBase } }, 'each gateway extends the act chain');
      assert.equal(cl.scope, 'mcp:read mcp:tools');
      assert.ok(!Object.values(rec.headers).some((v) => String(v).includes(token)), 'the user\'s token stops at the front');

      // through the widening front: the inner gateway refuses the assertion (mcp:write is beyond its ceiling)
      const wt = (await idp.token(READER, { resource: `${wBase}/mcp` })).access_token;
      const res = await fetch(`${wBase}/mcp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${wt}` },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize',
          params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'wide', version: '1' } } }),
      });
      await res.text();
      assert.equal(res.status, 401, 'the inner gateway\'s refusal reaches the caller');
      await waitFor('the inner refusal in its log', async () => /refused 401 scope_beyond_max_scopes/.test(inner.proc.log()),
        { proc: inner.proc, timeoutMs: 5000 });
    } finally {
      for (const p of procs) await stop(p);
      await stop(fx.proc);
    }
    const recs = fs.readFileSync(innerAudit, 'utf8').trim().split('\n').map((x) => JSON.parse(x));
    const call = recs.find((x) => x.type === 'request.decision' && x.action.method === 'tools/call');
    assert.equal(call.principal.sub, READER);
    assert.equal(call.principal.iss, nBase);
    assert.deepEqual(call.principal.act, [nBase], 'the inner trail names the front gateway as actor');
    assert.deepEqual(call.principal.scopes, ['mcp:read', 'mcp:tools']);
    const refused = recs.find((x) => x.type === 'auth.failure' && x.auth.reason === 'scope_beyond_max_scopes');
    assert.ok(refused, 'the widened assertion is an auth.failure in the inner trail');
  });

  test('(c) inspection: arguments redacted before the upstream sees them; method-only upstreams get argument-free records', async () => {
    const gwPort = await freePort();
    const fxPort = await freePort();
    const gwBase = `http://127.0.0.1:${gwPort}`;
    const fxUrl = `http://127.0.0.1:${fxPort}/mcp`;
    const fx = await startFixture('inspect-fixture', fxPort, undefined, undefined, undefined, ['--profile-tool']);
    const audit = path.join(tmp, 'c.jsonl');
    const cfgLines = (extraPolicy) => [
      'gateway: {insecure_no_auth: true, log_level: debug}',
      'listeners:', `  - address: 127.0.0.1:${gwPort}`,
      'upstreams:',
      `  - {name: fx, url: "${fxUrl}", path: /fx/mcp}`,
      `  - {name: blind, url: "${fxUrl}", path: /blind/mcp}`,
      `  - {name: priv, url: "${fxUrl}", path: /priv/mcp}`,
      'propagation:', '  upstreams:',
      '    priv: {inspect: results, redact: {results: [/structuredContent/ssn, /structuredContent/card/number, /absent]}}',
      '    fx:', '      inspect: arguments', '      redact: {arguments: [/secret, /nested/token, /absent]}',
      '    blind: {inspect: method}',
      'policy:', '  rules:',
      '    - {id: all, effect: allow, tools: ["*"]}',
      ...extraPolicy,
      'audit:', `  path: ${audit}`,
    ];
    // a rule that reads arguments of the method-only upstream: refused at start
    const badCfg = path.join(tmp, 'inspect-bad.yaml');
    fs.writeFileSync(badCfg, cfgLines(['    - id: argrule', '      effect: deny', '      upstream: [blind]',
      '      tools: [echo]', '      arguments: {message: {max_length: 5}}']).join('\n') + '\n');
    const bad = spawnLogged('gatehouse-inspect-bad', GATEHOUSE_BIN, ['serve', '--config', badCfg]);
    const ex = await Promise.race([bad.exited, sleep(10000).then(() => 'timeout')]);
    if (ex === 'timeout') await stop(bad);
    assert.notEqual(ex, 'timeout', 'the gateway refuses to start');
    assert.notEqual(ex.code, 0);
    assert.match(bad.log(), /policy rule argrule reads tool arguments, but upstream blind may be inspected for its method only/);

    let gw;
    const marker = `redact ${crypto.randomUUID()}`;
    const blindMarker = `blind ${crypto.randomUUID()}`;
    try {
      gw = await startGw('gatehouse-inspect', tmp, gwPort, cfgLines([]));
      const c = new Client({ name: 'inspect-test', version: '1.0.0' });
      const t = new StreamableHTTPClientTransport(new URL(`${gwBase}/fx/mcp`));
      await c.connect(t);
      const r = await c.callTool({ name: 'echo', arguments: {
        message: marker, secret: 'hunter2-secret', nested: { token: 'tok-secret', keep: 1 }, after: true } });
      assert.equal(r.content[0].text, marker);
      await t.terminateSession();
      await c.close();
      const c2 = new Client({ name: 'inspect-test', version: '1.0.0' });
      const t2 = new StreamableHTTPClientTransport(new URL(`${gwBase}/blind/mcp`));
      await c2.connect(t2);
      await c2.callTool({ name: 'echo', arguments: { message: blindMarker } });
      await t2.terminateSession();
      await c2.close();
      // results: the client never sees the redacted members of the answer
      const c3 = new Client({ name: 'inspect-test', version: '1.0.0' });
      const t3 = new StreamableHTTPClientTransport(new URL(`${gwBase}/priv/mcp`));
      await c3.connect(t3);
      const pr = await c3.callTool({ name: 'profile', arguments: { user: 'ada' } });
      assert.deepEqual(pr.structuredContent, { user: 'ada', card: { brand: 'visa' } });
      assert.equal(pr.content[0].text, 'profile of ada');
      await t3.terminateSession();
      await c3.close();
      const got = (await (await fetch(`${fx.base}/control/received`)).json())
        .find((m) => m.method === 'tools/call' && m.params?.arguments?.message === marker);
      assert.ok(got, 'the call arrived');
      assert.deepEqual(got.params.arguments, { message: marker, nested: { keep: 1 }, after: true },
        'the upstream never saw the redacted members');
    } finally {
      if (gw) await stop(gw.proc);
      await stop(fx.proc);
    }
    const recs = fs.readFileSync(audit, 'utf8').trim().split('\n').map((x) => JSON.parse(x));
    const calls = recs.filter((x) => x.type === 'request.decision' && x.action.method === 'tools/call');
    const fxCall = calls.find((x) => x.action.upstream === 'fx');
    assert.deepEqual(fxCall.inspection, { read: 'arguments', redacted: ['/secret', '/nested/token'] },
      'the record says what was removed (and /absent was not there)');
    assert.match(fxCall.action.arguments_digest, /^sha256:/);
    const blindCall = calls.find((x) => x.action.upstream === 'blind');
    assert.deepEqual(blindCall.inspection, { read: 'method', redacted: [] });
    assert.equal(blindCall.action.arguments_digest, null, 'argument-free record');
    const blindOut = recs.find((x) => x.type === 'request.outcome' && x.rid === blindCall.rid);
    assert.equal(blindOut.outcome.rpc_error, undefined);
    const privCall = calls.find((x) => x.action.upstream === 'priv');
    assert.deepEqual(privCall.inspection, { read: 'results', redacted: [],
      redact_results: ['/structuredContent/ssn', '/structuredContent/card/number', '/absent'] });
    const privOut = recs.find((x) => x.type === 'request.outcome' && x.rid === privCall.rid);
    assert.deepEqual(privOut.outcome.redacted, ['/structuredContent/ssn', '/structuredContent/card/number'],
      'the outcome says what was removed from the answer (and /absent was not there)');
    const raw = fs.readFileSync(audit, 'utf8');
    assert.ok(!raw.includes('hunter2-secret') && !raw.includes('tok-secret'));
  });

  test('(d) token-exchange: the upstream gets an IdP-issued token for its audience, narrowed, with act; cached; IdP outage is 503', async () => {
    const gwPort = await freePort();
    const fxPort = await freePort();
    const gwBase = `http://127.0.0.1:${gwPort}`;
    const fxUrl = `http://127.0.0.1:${fxPort}/mcp`;
    const fx = await startFixture('exchange-fixture', fxPort);
    const audit = path.join(tmp, 'd.jsonl');
    let gw;
    try {
      gw = await startGw('gatehouse-exchange', tmp, gwPort, [
        'gateway: {log_level: debug, workers: 1}',
        'listeners:', `  - address: 127.0.0.1:${gwPort}`,
        ...authLines(gwBase, idp.issuer),
        'upstreams:',
        `  - {name: fx, url: "${fxUrl}", path: /fx/mcp}`,
        'propagation:',
        '  token_exchange:',
        `    token_endpoint: ${idp.info.token_endpoint}`,
        `    client_id: ${idp.exchangeClientId}`,
        `    key: file:${idp.exchangeKeyFile}`,
        '    timeout_ms: 3000',
        '  upstreams:',
        '    fx: {mode: token-exchange, scopes: [mcp:read, mcp:tools]}',
        'audit:', `  path: ${audit}`,
      ]);
      const before = (await idp.exchanges()).length;
      const token = (await idp.token(READER, { resource: `${gwBase}/fx/mcp` })).access_token;
      const { c, t } = await connect(`${gwBase}/fx/mcp`, token);
      const m1 = `exchanged ${crypto.randomUUID()}`;
      const m2 = `cached ${crypto.randomUUID()}`;
      await c.callTool({ name: 'echo', arguments: { message: m1 } });
      await c.callTool({ name: 'echo', arguments: { message: m2 } });

      const got = await fx.requests();
      const r1 = got.find((q) => q.arguments?.message === m1);
      const r2 = got.find((q) => q.arguments?.message === m2);
      for (const r of [r1, r2]) {
        assert.ok(r, 'the fixture got the call');
        const auth = r.headers.authorization;
        assert.match(auth, /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
        const jwt = auth.slice(7);
        assert.notEqual(jwt, token, 'not the caller\'s token');
        for (const [k, v] of Object.entries(r.headers)) {
          assert.ok(!String(v).includes(token.split('.')[2]), `${k} does not carry the caller's token`);
        }
        assert.equal(r.headers.cookie, undefined);
        // issued by the IdP: verified against the IdP's own keys
        const { payload, protectedHeader } = await jwtVerify(jwt, createRemoteJWKSet(new URL(idp.info.jwks_uri)),
          { issuer: idp.issuer, audience: fxUrl });
        assert.equal(protectedHeader.typ, 'at+jwt');
        assert.equal(payload.sub, READER, 'the original subject');
        assert.equal(payload.scope, 'mcp:read mcp:tools', 'narrowed to the upstream ceiling (mcp:write dropped)');
        assert.deepEqual(payload.act, { sub: idp.exchangeClientId }, 'the gateway acts for the caller');
      }
      assert.equal(r1.headers.authorization, r2.headers.authorization, 'the exchanged token is reused');
      const ex = (await idp.exchanges()).slice(before);
      assert.equal(ex.length, 1, `one exchange for the session: ${JSON.stringify(ex)}`);
      assert.equal(ex[0].subject, READER);
      assert.equal(ex[0].audience, fxUrl);
      assert.equal(ex[0].resource, fxUrl);
      assert.equal(ex[0].scope, 'mcp:read mcp:tools');
      assert.equal(ex[0].client, idp.exchangeClientId);

      // a burst from a new caller: concurrent requests share one exchange (single flight)
      const adminTok = (await idp.token('admin-client', { resource: `${gwBase}/fx/mcp` })).access_token;
      const burst = await Promise.all([0, 1, 2, 3].map((i) => fetch(`${gwBase}/fx/mcp`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminTok}`, 'content-type': 'application/json',
          accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: i, method: 'initialize', params: {
          protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: `burst-${i}`, version: '1' } } }),
      })));
      for (const r of burst) { assert.equal(r.status, 200); await r.text(); }
      const adminEx = (await idp.exchanges()).filter((e) => e.subject === 'admin-client');
      assert.equal(adminEx.length, 1, `four concurrent first requests, one exchange: ${JSON.stringify(adminEx)}`);

      // IdP outage: a principal with a cached token keeps working; a new one gets 503
      await idp.exchangeOutage();
      try {
        const m3 = `during outage ${crypto.randomUUID()}`;
        await c.callTool({ name: 'echo', arguments: { message: m3 } });
        assert.ok((await fx.requests()).some((q) => q.arguments?.message === m3));
        const other = (await idp.token('maintainer-client', { resource: `${gwBase}/fx/mcp` })).access_token;
        const oc = new Client({ name: 'outage', version: '1.0.0' });
        const ot = new StreamableHTTPClientTransport(new URL(`${gwBase}/fx/mcp`), {
          requestInit: { headers: { authorization: `Bearer ${other}` } },
        });
        await assert.rejects(oc.connect(ot), (e) => e.code === 503 && /cannot vouch/.test(e.message));
        await waitForLog(gw.proc, /upstream fx: token exchange at .* failed \(status 503: temporarily_unavailable\)/);
      } finally {
        await idp.exchangeOutage();
      }
      await t.terminateSession();
      await c.close();
      assert.ok(!gw.proc.log().includes(token), 'the caller\'s token is never logged');
    } finally {
      if (gw) await stop(gw.proc);
      await stop(fx.proc);
    }
    const recs = fs.readFileSync(audit, 'utf8').trim().split('\n').map((x) => JSON.parse(x));
    const call = recs.find((r) => r.type === 'request.decision' && r.action.method === 'tools/call');
    assert.deepEqual(call.propagation, { mode: 'token-exchange', audience: fxUrl, static_credential: false });
  });
});
