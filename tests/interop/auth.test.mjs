// Inbound authentication against a real authorization server (oidc-provider, tests/interop/idp):
// JWT access tokens verified against the IdP's JWKS found by discovery, audience = the gateway's
// resource URI, scopes per method, sessions bound to their principal, RFC 9728 metadata and
// challenges, key rotation picked up without restart, and keys kept when the IdP is down.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { DIRECT, OUT_DIR, GATEHOUSE_BIN, freePort, spawnLogged, stop, waitForHttp, waitForLog, sleep } from './lib/harness.mjs';
import { startIdp, newDpopKey, dpopProof } from './idp/tokens.mjs';

const ACCEPT = 'application/json, text/event-stream';
const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } };

describe('inbound authentication (JWT, oidc-provider)', { skip: DIRECT && 'gateway-only', timeout: 120000 }, () => {
  let idp, gw, base, url;
  before(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    url = `${base}/mcp`;
    idp = await startIdp({ resource: url, rotations: 3, eddsa: true, name: 'idp-auth' });
    fs.mkdirSync(OUT_DIR, { recursive: true });
    const cfg = path.join(OUT_DIR, 'auth.yaml');
    fs.writeFileSync(cfg, [
      'gateway:', '  log_level: debug',
      'listeners:', `  - address: 127.0.0.1:${port}`,
      'auth:', `  resource: ${base}`,
      '  issuers:', `    - issuer: ${idp.issuer}`, '      algorithms: [ES256, RS256, EdDSA]',
      '      token_type: at+jwt', '      dpop: allowed',
      '      introspection:', '        client_id: gatehouse-rs', `        private_key: file:${idp.rsKeyFile}`,
      `        key_alg: ${idp.info.rs_client.alg}`, '        ttl_ms: 2000',
      '  scopes:', '    required: [mcp:read]', '    methods:', '      tools/call: [mcp:tools]',
      '  jwks_min_refresh_ms: 1000',
    ].join('\n') + '\n');
    gw = spawnLogged('gatehouse-auth', GATEHOUSE_BIN, ['dev', '--config', cfg]);
    await waitForHttp(`${base}/healthz`, { okStatus: (s) => s === 200, proc: gw });
    await waitForLog(gw, /signing keys loaded/, { timeoutMs: 15000 });
  });
  after(async () => { if (gw) await stop(gw); if (idp) await idp.stop(); });

  const post = (body, headers = {}) => fetch(url, { method: 'POST', body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', accept: ACCEPT, ...headers } });
  const bearer = (t) => ({ authorization: `Bearer ${t}` });

  test('no token: 401 with the RFC 9728 resource_metadata challenge, and the document is served', async () => {
    const r = await post(INIT);
    assert.equal(r.status, 401);
    const ch = r.headers.get('www-authenticate');
    assert.match(ch, /^Bearer resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource\/mcp"$/);
    const prm = await (await fetch(`${base}/.well-known/oauth-protected-resource/mcp`)).json();
    assert.equal(prm.resource, url);
    assert.deepEqual(prm.authorization_servers, [idp.issuer]);
    assert.deepEqual(prm.scopes_supported, ['mcp:read', 'mcp:tools']);
    assert.equal((await fetch(`${base}/.well-known/oauth-protected-resource/nope`)).status, 404);
  });

  test('a valid token (ES256, RS256, EdDSA) opens a session and calls a tool; it never reaches the upstream', async () => {
    for (const client of ['jwt-es256-client', 'jwt-rs256-client', 'jwt-eddsa-client']) {
      const { access_token: t } = await idp.token(client);
      const init = await post(INIT, bearer(t));
      assert.equal(init.status, 200, client);
      const sid = init.headers.get('mcp-session-id');
      const call = await post({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { message: 'authed' } } },
        { ...bearer(t), 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' });
      assert.equal(call.status, 200);
      assert.match(await call.text(), /authed/);
    }
  });

  test('bad tokens: 401 invalid_token with a reason', async () => {
    const { access_token: t } = await idp.token('jwt-client');
    const [h, p, s] = t.split('.');
    const tampered = `${h}.${p}.${s.slice(0, -4)}AAAA`;
    // not three segments: an opaque token to introspect, which the IdP does not know
    for (const [tok, why] of [[tampered, /signature/], ['not.a.jwt', /./], [`${h}.${p}`, /inactive/]]) {
      const r = await post(INIT, bearer(tok));
      assert.equal(r.status, 401);
      assert.match(r.headers.get('www-authenticate'), /error="invalid_token"/);
      assert.match(r.headers.get('www-authenticate'), why);
    }
    // a token for another resource (audience)
    const other = await idp.token('jwt-client', { resource: 'http://127.0.0.1:1/mcp' });
    const r = await post(INIT, bearer(other.access_token));
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate'), /audience/);
  });

  test('malformed presentations: 400 invalid_request', async () => {
    const { access_token: t } = await idp.token('jwt-client');
    assert.equal((await fetch(`${url}?access_token=${t}`, { method: 'POST', body: JSON.stringify(INIT),
      headers: { 'content-type': 'application/json', accept: ACCEPT } })).status, 400);
    assert.equal((await post(INIT, { authorization: 'Bearer ' })).status, 401);
  });

  test('insufficient scope: 403 with the scopes needed', async () => {
    const { access_token: t } = await idp.token('limited-client', { scope: 'mcp:read' });
    const init = await post(INIT, bearer(t));
    assert.equal(init.status, 200);
    const sid = init.headers.get('mcp-session-id');
    const call = await post({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { message: 'x' } } },
      { ...bearer(t), 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' });
    assert.equal(call.status, 403);
    assert.match(call.headers.get('www-authenticate'), /error="insufficient_scope", scope="mcp:tools"/);
  });

  test('a session belongs to its principal: another principal gets 404', async () => {
    const a = (await idp.token('jwt-es256-client')).access_token;
    const b = (await idp.token('jwt-rs256-client')).access_token;
    const init = await post(INIT, bearer(a));
    const sid = init.headers.get('mcp-session-id');
    const r = await post({ jsonrpc: '2.0', id: 3, method: 'tools/list' },
      { ...bearer(b), 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' });
    assert.equal(r.status, 404);
  });

  test('the official SDK client authenticates with its client-credentials provider', async () => {
    const { ClientCredentialsProvider } = await import('./idp/node_modules/@modelcontextprotocol/sdk/dist/esm/client/auth-extensions.js')
      .catch(() => import('@modelcontextprotocol/sdk/client/auth-extensions.js'));
    const provider = new ClientCredentialsProvider({ clientId: 'sdk-client',
      clientSecret: idp.info.clients['sdk-client'].client_secret, expectedIssuer: idp.issuer });
    const client = new Client({ name: 'sdk-oauth', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { authProvider: provider }));
    try {
      const r = await client.callTool({ name: 'add', arguments: { a: 20, b: 22 } });
      assert.equal(r.content[0].text, '42');
    } finally { await client.close(); }
  });

  test('DPoP (RFC 9449): a bound token needs a fresh proof of its key for this request', async () => {
    const key = await newDpopKey('ES256');
    const { access_token: t } = await idp.token('dpop-client', { dpopKey: key });
    const proof = () => dpopProof(key, 'POST', url, t);
    const ok = await post(INIT, { authorization: `DPoP ${t}`, dpop: await proof() });
    assert.equal(ok.status, 200);
    // the same bound token as a Bearer token: a stolen token without its key is useless
    const bearerUse = await post(INIT, bearer(t));
    assert.equal(bearerUse.status, 401);
    assert.match(bearerUse.headers.get('www-authenticate'), /invalid_token/);
    // a replayed proof
    const once = await proof();
    assert.equal((await post(INIT, { authorization: `DPoP ${t}`, dpop: once })).status, 200);
    const replay = await post(INIT, { authorization: `DPoP ${t}`, dpop: once });
    assert.equal(replay.status, 401);
    assert.match(replay.headers.get('www-authenticate'), /^DPoP algs="[^"]+", error="invalid_dpop_proof"/);
    // a proof for another method, another URL, or by another key; no proof at all
    const wrongHtm = await dpopProof(key, 'GET', url, t);
    assert.equal((await post(INIT, { authorization: `DPoP ${t}`, dpop: wrongHtm })).status, 401);
    const wrongHtu = await dpopProof(key, 'POST', `${base}/other`, t);
    assert.equal((await post(INIT, { authorization: `DPoP ${t}`, dpop: wrongHtu })).status, 401);
    const other = await newDpopKey('ES256');
    assert.equal((await post(INIT, { authorization: `DPoP ${t}`, dpop: await dpopProof(other, 'POST', url, t) })).status, 401);
    assert.equal((await post(INIT, { authorization: `DPoP ${t}` })).status, 401);
  });

  test('opaque tokens: introspected, cached at most ttl, revocation honoured after it', async () => {
    const { access_token: t } = await idp.token('opaque-client');
    assert.equal(t.split('.').length, 1);
    const t0 = Date.now(); // the introspection (and the cached answer's clock) starts after this
    const init = await post(INIT, bearer(t));
    assert.equal(init.status, 200);
    assert.equal(await idp.revoke(t), 200);
    // the cached answer is in use: right after revocation the token still passes (unless this
    // machine was so slow that ttl_ms already ran out)
    const early = await post(INIT, bearer(t));
    if (Date.now() - t0 < 1500) assert.equal(early.status, 200, 'served from the cached answer');
    let status = early.status, refusedAt = Date.now();
    while (status === 200 && Date.now() - t0 < 8000) {
      await sleep(50);
      status = (await post(INIT, bearer(t))).status;
      refusedAt = Date.now();
    }
    assert.equal(status, 401, 'a revoked token is refused once the cached answer expires');
    const after = refusedAt - t0;
    // ttl_ms is 2000: never refused before it (the cache keeps it to the ms), and refused well
    // before the 5 s default would allow (the slack is for a loaded machine)
    assert.ok(after >= 1950, `refused ${after} ms after the introspection: before ttl_ms`);
    assert.ok(after < 4000, `refused only ${after} ms after the introspection: ttl_ms not honoured`);
    const r = await post(INIT, bearer('not-a-token-the-idp-issued'));
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate'), /error="invalid_token"/);
  });

  test('key rotation at the IdP is picked up without restart', async () => {
    await idp.rotate();
    const { access_token: t } = await idp.token('jwt-es256-client');
    let status = 0;
    for (let i = 0; i < 40 && status !== 200; i++) { // the first unknown kid asks for a refetch
      status = (await post(INIT, bearer(t))).status;
      if (status !== 200) await sleep(150);
    }
    assert.equal(status, 200);
  });

  test('IdP down: JWTs keep verifying on the cached keys; introspection answers 503', async () => {
    const { access_token: t } = await idp.token('jwt-rs256-client');
    const { access_token: opaque } = await idp.token('opaque-client');
    await stop(idp.proc);
    const r = await post(INIT, bearer(t));
    assert.equal(r.status, 200);
    const o = await post(INIT, bearer(opaque));
    assert.equal(o.status, 503, 'neither active nor inactive: never allowed, never cached');
    assert.equal(gw.child.exitCode, null);
  });
});

describe('DPoP server nonces (dpop.nonce: true)', { skip: DIRECT && 'gateway-only', timeout: 90000 }, () => {
  let idp, gw, url;
  before(async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    url = `${base}/mcp`;
    idp = await startIdp({ resource: url, name: 'idp-nonce' });
    const cfg = path.join(OUT_DIR, 'auth-nonce.yaml');
    fs.writeFileSync(cfg, ['listeners:', `  - address: 127.0.0.1:${port}`,
      'auth:', `  resource: ${base}`, '  issuers:', `    - issuer: ${idp.issuer}`,
      '      algorithms: [ES256]', '      dpop: required', '  dpop:', '    nonce: true'].join('\n') + '\n');
    gw = spawnLogged('gatehouse-auth-nonce', GATEHOUSE_BIN, ['dev', '--config', cfg]);
    await waitForHttp(`${base}/healthz`, { okStatus: (s) => s === 200, proc: gw });
    await waitForLog(gw, /signing keys loaded/, { timeoutMs: 15000 });
  });
  after(async () => { if (gw) await stop(gw); if (idp) await idp.stop(); });

  test('a proof without the nonce gets use_dpop_nonce and the nonce; with it, the call passes', async () => {
    const key = await newDpopKey('ES256');
    const { access_token: t } = await idp.token('dpop-client', { dpopKey: key });
    const send = async (nonce) => fetch(url, { method: 'POST', body: JSON.stringify(INIT), headers: {
      'content-type': 'application/json', accept: ACCEPT, authorization: `DPoP ${t}`,
      dpop: await dpopProof(key, 'POST', url, t, nonce ? { nonce } : {}) } });
    const first = await send(null);
    assert.equal(first.status, 401);
    assert.match(first.headers.get('www-authenticate'), /error="use_dpop_nonce"/);
    const nonce = first.headers.get('dpop-nonce');
    assert.match(nonce, /^[A-Za-z0-9_-]{32}$/);
    assert.equal((await send(nonce)).status, 200);
    assert.equal((await send('made-up-nonce')).status, 401);
    // an unbound token where DPoP is required
    const { access_token: plain } = await idp.token('jwt-es256-client');
    const r = await fetch(url, { method: 'POST', body: JSON.stringify(INIT), headers: {
      'content-type': 'application/json', accept: ACCEPT, authorization: `Bearer ${plain}` } });
    assert.equal(r.status, 401);
  });
});

describe('sessions per principal (limits.sessions_per_principal: 2)', { skip: DIRECT && 'gateway-only', timeout: 90000 }, () => {
  let idp, gw, url;
  before(async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    url = `${base}/mcp`;
    idp = await startIdp({ resource: url, name: 'idp-limits' });
    fs.mkdirSync(OUT_DIR, { recursive: true });
    const cfg = path.join(OUT_DIR, 'auth-limits.yaml');
    fs.writeFileSync(cfg, ['listeners:', `  - address: 127.0.0.1:${port}`,
      'upstreams:', '  - name: other', '    url: http://127.0.0.1:9/mcp', '    path: /other',
      'limits:', '  sessions_per_principal: 2',
      'auth:', `  resource: ${base}`, '  issuers:', `    - issuer: ${idp.issuer}`,
      '      algorithms: [ES256, RS256]'].join('\n') + '\n');
    gw = spawnLogged('gatehouse-auth-limits', GATEHOUSE_BIN, ['dev', '--config', cfg]);
    await waitForHttp(`${base}/healthz`, { okStatus: (s) => s === 200, proc: gw });
    await waitForLog(gw, /signing keys loaded/, { timeoutMs: 15000 });
  });
  after(async () => { if (gw) await stop(gw); if (idp) await idp.stop(); });

  const send = (t, body, extra = {}) => fetch(url, { method: 'POST', body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', accept: ACCEPT, authorization: `Bearer ${t}`, ...extra } });

  test('a third session of one principal is 429; others are unaffected; DELETE frees a slot', async () => {
    const a = (await idp.token('jwt-es256-client')).access_token;
    const b = (await idp.token('jwt-rs256-client')).access_token;
    const first = await send(a, INIT);
    assert.equal(first.status, 200);
    assert.equal((await send(a, INIT)).status, 200);
    const third = await send(a, INIT);
    assert.equal(third.status, 429);
    const body = await third.json();
    assert.equal(body.id, 1);
    assert.match(body.error.message, /limit of open sessions/);
    // another token of the same client is the same principal
    const a2 = (await idp.token('jwt-es256-client')).access_token;
    assert.equal((await send(a2, INIT)).status, 429);
    assert.equal((await send(b, INIT)).status, 200, 'another principal has its own share');
    const sid = first.headers.get('mcp-session-id');
    const del = await fetch(url, { method: 'DELETE', headers: { authorization: `Bearer ${a}`,
      'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' } });
    assert.ok(del.status === 200 || del.status === 204, `DELETE ${del.status}`);
    assert.equal((await send(a, INIT)).status, 200, 'the freed slot can be used again');
    assert.equal(gw.child.exitCode, null);
  });

  test('a token is good only on the path it was issued for, also once cached', async () => {
    const other = url.replace(/\/mcp$/, '/other');
    const t = (await idp.token('jwt-rs256-client')).access_token; // aud = the /mcp resource URI
    const to = (u) => fetch(u, { method: 'POST', body: JSON.stringify(INIT), headers: {
      'content-type': 'application/json', accept: ACCEPT, authorization: `Bearer ${t}` } });
    const before = await to(other);
    assert.equal(before.status, 401);
    assert.match(before.headers.get('www-authenticate'), /error="invalid_token"/);
    assert.equal((await to(url)).status, 200); // verified and cached for /mcp
    for (let i = 0; i < 3; i++) { // same connection (memo) and cache: still another audience
      const after = await to(other);
      assert.equal(after.status, 401, 'a cached verdict for /mcp must not open /other');
      assert.match(after.headers.get('www-authenticate'), /resource_metadata="[^"]*\/other"/);
    }
  });
});
