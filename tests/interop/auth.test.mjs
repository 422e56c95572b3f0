// Inbound authentication against a real authorization server (oidc-provider, tests/interop/idp):
// JWT access tokens verified against the IdP's JWKS found by discovery, audience = the gateway's
// resource URI, scopes per method, sessions bound to their principal, RFC 9728 metadata and
// challenges, key rotation picked up without restart, and keys kept when the IdP is down.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { DIRECT, OUT_DIR, GATEHOUSE_BIN, freePort, spawnLogged, stop, waitForHttp, waitForLog, sleep, startEverything } from './lib/harness.mjs';
import { startIdp, newDpopKey, dpopProof } from './idp/tokens.mjs';

const ACCEPT = 'application/json, text/event-stream';
const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } };

/**
 * One HTTP/1.1 POST written byte for byte on a plain socket (node:net): fetch and node:http merge
 * repeated headers and trim values, which is what these cases are about. `headers` is a list of
 * raw "Name: value" lines. Resolves { status, headers: { lowercased name: [values] }, body }.
 */
function rawPost(u, headerLines, body = JSON.stringify(INIT)) {
  const { hostname, port, pathname, search } = new URL(u);
  const head = [`POST ${pathname}${search} HTTP/1.1`, `Host: ${hostname}:${port}`,
    'Content-Type: application/json', `Accept: ${ACCEPT}`, `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close', ...headerLines];
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(port), hostname);
    const chunks = [];
    const timer = setTimeout(() => { sock.destroy(); reject(new Error('raw exchange: no answer in 20 s')); }, 20000);
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
    sock.on('close', () => { // Connection: close: the gateway ends the exchange
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('utf8');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return reject(new Error(`raw exchange: no response head in ${JSON.stringify(text.slice(0, 200))}`));
      const lines = text.slice(0, end).split('\r\n');
      const headers = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        (headers[l.slice(0, i).trim().toLowerCase()] ??= []).push(l.slice(i + 1).trim());
      }
      resolve({ status: Number(lines[0].split(' ')[1]), headers, body: text.slice(end + 4) });
    });
    sock.write(`${head.join('\r\n')}\r\n\r\n${body}`);
  });
}

/** The WWW-Authenticate of a raw answer (exactly one field). */
function challengeOf(r) {
  assert.equal(r.headers['www-authenticate']?.length, 1, `one WWW-Authenticate in ${JSON.stringify(r.headers)}`);
  return r.headers['www-authenticate'][0];
}

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

  test('no token: 401 with Bearer and DPoP challenges (dpop: allowed), no error code; the document is served', async () => {
    const r = await post(INIT);
    assert.equal(r.status, 401);
    const ch = r.headers.get('www-authenticate');
    // RFC 6750 §3.1: no error code without a token. RFC 9449 §7.1/§7.2: a resource server taking
    // both schemes challenges with both; Bearer first, as the MCP SDK reads a leading Bearer only.
    const rm = `resource_metadata="${base}/.well-known/oauth-protected-resource/mcp"`;
    assert.equal(ch, `Bearer ${rm}, DPoP algs="RS256 PS256 ES256 ES384 EdDSA", ${rm}`);
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

  test('malformed presentations: 400 invalid_request (security cases 2, 3); other schemes 401 without error', async () => {
    const { access_token: t } = await idp.token('jwt-client');
    const invalidRequest = (r, why) => {
      assert.equal(r.status, 400, why);
      assert.match(challengeOf(r), /^Bearer resource_metadata="[^"]+", error="invalid_request", error_description="[^"]+"/, why);
    };
    // a token in the query string (RFC 6750 §2.3 is not accepted), alone or next to the header
    invalidRequest(await rawPost(`${url}?access_token=${t}`, []), 'query only');
    invalidRequest(await rawPost(`${url}?access_token=${t}`, [`Authorization: Bearer ${t}`]), 'query and header');
    invalidRequest(await rawPost(`${url}?x=1&access%5Ftoken=${t}`, [`Authorization: Bearer ${t}`]), 'percent-encoded name');
    // a parameter that merely contains the name is not a token
    assert.equal((await rawPost(`${url}?not_access_token=1`, [`Authorization: Bearer ${t}`])).status, 200);
    // two Authorization headers (fetch would merge them into one): the Envoy CVE-2025-64527 path
    invalidRequest(await rawPost(url, [`Authorization: Bearer ${t}`, `Authorization: Bearer ${t}`]), 'two headers');
    invalidRequest(await rawPost(url, [`Authorization: Bearer ${t}`, 'authorization: Basic dXNlcjpwYXNz']), 'two schemes');
    // an empty or whitespace-only token: the bytes exactly as sent
    for (const v of ['Bearer', 'Bearer ', 'Bearer    ', 'bearer \t', 'DPoP', 'DPoP  ', '']) {
      const r = await rawPost(url, [`Authorization: ${v}`]);
      invalidRequest(r, JSON.stringify(v));
      assert.match(challengeOf(r), /error_description="empty token"/, JSON.stringify(v));
    }
    // not token68 (RFC 9110 §11.2): a space, comma, quotes, '=' inside, a tab, non-ASCII, two tokens
    for (const v of [`Bearer ${t} x`, `Bearer ${t},x`, `Bearer "${t}"`, 'Bearer a=b', `Bearer \t${t}`,
      'Bearer t\u00e9st', `Bearer ${t}, Bearer ${t}`]) {
      const r = await rawPost(url, [`Authorization: ${v}`]);
      invalidRequest(r, JSON.stringify(v));
      assert.match(challengeOf(r), /error_description="the token is not token68/, JSON.stringify(v));
    }
    // the scheme name is case-insensitive (RFC 9110 §11.1), and 1*SP may be several spaces
    assert.equal((await post(INIT, { authorization: `bearer ${t}` })).status, 200);
    assert.equal((await post(INIT, { authorization: `BEARER   ${t}` })).status, 200);
    // a scheme the gate does not take: no credentials for us, so 401 and a challenge without error
    for (const v of ['Basic dXNlcjpwYXNz', `Token ${t}`, `Bearer,${t}`, 'Negotiate']) {
      const r = await rawPost(url, [`Authorization: ${v}`]);
      assert.equal(r.status, 401, v);
      assert.doesNotMatch(challengeOf(r), /error=/, v);
      assert.match(challengeOf(r), /^Bearer resource_metadata="[^"]+", DPoP algs="/, v);
    }
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
    // a proof for another method or URL, without ath, too old (security cases 30-35): invalid_dpop_proof
    const proofRefused = async (dpop, reason) => {
      const r = await post(INIT, { authorization: `DPoP ${t}`, dpop });
      assert.equal(r.status, 401, reason);
      assert.match(r.headers.get('www-authenticate'),
        new RegExp(`^DPoP algs="[^"]+", error="invalid_dpop_proof", error_description="${reason}", resource_metadata="`), reason);
    };
    await proofRefused(await dpopProof(key, 'GET', url, t), 'dpop_htm');
    await proofRefused(await dpopProof(key, 'POST', `${base}/other`, t), 'dpop_htu');
    await proofRefused(await dpopProof(key, 'POST', url), 'dpop_ath');
    await proofRefused(await dpopProof(key, 'POST', url, t, { iat: Math.floor(Date.now() / 1000) - 3600 }), 'dpop_iat');
    // a valid proof by another key than cnf.jkt (case 36): the token is the problem, invalid_token
    const other = await newDpopKey('ES256');
    const otherKey = await post(INIT, { authorization: `DPoP ${t}`, dpop: await dpopProof(other, 'POST', url, t) });
    assert.equal(otherKey.status, 401);
    assert.match(otherKey.headers.get('www-authenticate'),
      /^DPoP algs="[^"]+", error="invalid_token", error_description="the DPoP proof is not of the key the token is bound to"/);
    // no proof, two proofs (security case 29): 401 with the DPoP challenge and invalid_dpop_proof
    const rm = `resource_metadata="${base}/.well-known/oauth-protected-resource/mcp"`;
    const none = await post(INIT, { authorization: `DPoP ${t}` });
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'DPoP algs="RS256 PS256 ES256 ES384 EdDSA", ' +
      `error="invalid_dpop_proof", error_description="no DPoP proof header", ${rm}, Bearer ${rm}`);
    const two = await rawPost(url, [`Authorization: DPoP ${t}`, `DPoP: ${await proof()}`, `DPoP: ${await proof()}`]);
    assert.equal(two.status, 401);
    assert.match(challengeOf(two), /^DPoP algs="[^"]+", error="invalid_dpop_proof", error_description="more than one DPoP proof header", /);
    // and with a single proof the same request passes
    assert.equal((await rawPost(url, [`Authorization: DPoP ${t}`, `DPoP: ${await proof()}`])).status, 200);
    // the downgrade (security case 28) is told in the Bearer challenge the client used
    assert.match(bearerUse.headers.get('www-authenticate'),
      /^Bearer resource_metadata="[^"]+", error="invalid_token", error_description="a DPoP-bound token must be sent with the DPoP scheme", DPoP algs="/);
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

  test('every issuer requires DPoP: the 401 without a token carries only the DPoP challenge', async () => {
    const r = await fetch(url, { method: 'POST', body: JSON.stringify(INIT),
      headers: { 'content-type': 'application/json', accept: ACCEPT } });
    assert.equal(r.status, 401);
    const base = url.replace(/\/mcp$/, '');
    assert.equal(r.headers.get('www-authenticate'),
      `DPoP algs="RS256 PS256 ES256 ES384 EdDSA", resource_metadata="${base}/.well-known/oauth-protected-resource/mcp"`);
    const prm = await (await fetch(`${base}/.well-known/oauth-protected-resource/mcp`)).json();
    assert.deepEqual(prm.dpop_signing_alg_values_supported, ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA']);
    assert.equal(prm.dpop_bound_access_tokens_required, true);
  });

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
    // Bearer is not offered at all here: the refusal is told in the DPoP challenge
    assert.match(r.headers.get('www-authenticate'),
      /^DPoP algs="[^"]+", error="invalid_token", error_description="a DPoP-bound token is required", resource_metadata="[^"]+"$/);
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

describe('dpop: off, and scopes per upstream (auth.scopes.upstreams)', { skip: DIRECT && 'gateway-only', timeout: 120000 }, () => {
  let idp, gw, everything, base, url, other;
  before(async () => {
    everything = await startEverything('server-everything-auth');
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    url = `${base}/mcp`;
    other = `${base}/other`;
    idp = await startIdp({ resource: url, name: 'idp-dpop-off' });
    fs.mkdirSync(OUT_DIR, { recursive: true });
    const cfg = path.join(OUT_DIR, 'auth-dpop-off.yaml');
    fs.writeFileSync(cfg, ['listeners:', `  - address: 127.0.0.1:${port}`,
      'upstreams:', '  - name: other', `    url: ${everything.url}`, '    path: /other',
      'endpoints:', '  - path: /agg', '    upstreams: [other]',
      'auth:', `  resource: ${base}`, '  issuers:', `    - issuer: ${idp.issuer}`,
      '      algorithms: [ES256, RS256]', '      dpop: "off"',
      '  scopes:', '    required: [mcp:read]', '    upstreams:', '      other: [mcp:write]'].join('\n') + '\n');
    gw = spawnLogged('gatehouse-auth-dpop-off', GATEHOUSE_BIN, ['dev', '--config', cfg]);
    await waitForHttp(`${base}/healthz`, { okStatus: (s) => s === 200, proc: gw });
    await waitForLog(gw, /signing keys loaded/, { timeoutMs: 15000 });
  });
  after(async () => {
    if (gw) await stop(gw);
    if (idp) await idp.stop();
    if (everything) await stop(everything.proc);
  });

  const send = (u, headers = {}, body = INIT) => fetch(u, { method: 'POST', body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', accept: ACCEPT, ...headers } });

  test('no token: only the Bearer challenge (DPoP is not offered)', async () => {
    const r = await send(url);
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('www-authenticate'), `Bearer resource_metadata="${base}/.well-known/oauth-protected-resource/mcp"`);
    // and the RFC 9728 document agrees: no DPoP algorithms advertised
    const prm = await (await fetch(`${base}/.well-known/oauth-protected-resource/mcp`)).json();
    assert.equal(prm.dpop_signing_alg_values_supported, undefined);
    assert.equal(prm.dpop_bound_access_tokens_required, undefined);
  });

  test('a DPoP-bound token is refused in either scheme, as is the DPoP scheme; a plain Bearer token passes', async () => {
    const key = await newDpopKey('ES256');
    const { access_token: bound } = await idp.token('dpop-client', { dpopKey: key });
    const offBound = /^Bearer resource_metadata="[^"]+", error="invalid_token", error_description="DPoP-bound tokens of this issuer are not accepted \(dpop: off\)"$/;
    // with a valid proof of its key: DPoP is off, so the proof earns nothing
    const withProof = await send(url, { authorization: `DPoP ${bound}`, dpop: await dpopProof(key, 'POST', url, bound) });
    assert.equal(withProof.status, 401);
    assert.match(withProof.headers.get('www-authenticate'), offBound);
    // as a Bearer token: a DPoP-unaware server would take it; this one knows what cnf.jkt means
    const asBearer = await send(url, { authorization: `Bearer ${bound}` });
    assert.equal(asBearer.status, 401);
    assert.match(asBearer.headers.get('www-authenticate'), offBound);
    // an unbound token in the DPoP scheme, even with a proof
    const { access_token: plain } = await idp.token('jwt-es256-client');
    const scheme = await send(url, { authorization: `DPoP ${plain}`, dpop: await dpopProof(key, 'POST', url, plain) });
    assert.equal(scheme.status, 401);
    assert.match(scheme.headers.get('www-authenticate'),
      /^Bearer resource_metadata="[^"]+", error="invalid_token", error_description="the DPoP scheme is not accepted for this issuer \(dpop: off\)"$/);
    assert.equal((await send(url, { authorization: `Bearer ${plain}` })).status, 200);
  });

  test('an upstream\'s scopes: 403 insufficient_scope naming them; with them the call reaches the upstream', async () => {
    // tokens for the /other resource; mcp:write is what that upstream needs
    const { access_token: narrow } = await idp.token('jwt-client', { resource: other, scope: 'mcp:read mcp:tools' });
    const denied = await send(other, { authorization: `Bearer ${narrow}` });
    assert.equal(denied.status, 403);
    assert.equal(denied.headers.get('www-authenticate'),
      `Bearer resource_metadata="${base}/.well-known/oauth-protected-resource/other", error="insufficient_scope", scope="mcp:write"`);
    assert.equal((await denied.json()).error.code, -32600);
    // the upstream rule is that upstream's only: the same scopes open /mcp (the dev demo upstream)
    const { access_token: narrowMcp } = await idp.token('jwt-client', { scope: 'mcp:read mcp:tools' });
    assert.equal((await send(url, { authorization: `Bearer ${narrowMcp}` })).status, 200);
    // and required scopes still apply on top: mcp:write alone lacks mcp:read
    const { access_token: writeOnly } = await idp.token('jwt-client', { resource: other, scope: 'mcp:write' });
    const both = await send(other, { authorization: `Bearer ${writeOnly}` });
    assert.equal(both.status, 403);
    assert.match(both.headers.get('www-authenticate'), /error="insufficient_scope", scope="mcp:read"$/);
    // with the upstream's scope: initialize and a tool call through server-everything
    const { access_token: full } = await idp.token('jwt-client', { resource: other, scope: 'mcp:read mcp:write' });
    const init = await send(other, { authorization: `Bearer ${full}` });
    assert.equal(init.status, 200);
    const sid = init.headers.get('mcp-session-id');
    assert.ok(sid, 'server-everything opened a session');
    const version = /"protocolVersion":"([^"]+)"/.exec(await init.text())?.[1];
    assert.ok(version, 'initialize answered with a protocol version');
    const call = await send(other, { authorization: `Bearer ${full}`, 'mcp-session-id': sid, 'mcp-protocol-version': version },
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { message: 'through other' } } });
    assert.equal(call.status, 200);
    assert.match(await call.text(), /through other/);
    const del = await fetch(other, { method: 'DELETE', headers: { authorization: `Bearer ${full}`, 'mcp-session-id': sid, 'mcp-protocol-version': version } });
    assert.ok(del.status === 200 || del.status === 204, `DELETE ${del.status}`);
  });

  test('an aggregated endpoint needs the scopes of the members a message reaches', async () => {
    const agg = `${base}/agg`;
    const rm = `resource_metadata="${base}/.well-known/oauth-protected-resource/agg"`;
    // initialize (like lists and resources) reaches every member: each member's scopes
    const { access_token: narrow } = await idp.token('jwt-client', { resource: agg, scope: 'mcp:read mcp:tools' });
    const denied = await send(agg, { authorization: `Bearer ${narrow}` });
    assert.equal(denied.status, 403);
    assert.equal(denied.headers.get('www-authenticate'), `Bearer ${rm}, error="insufficient_scope", scope="mcp:write"`);
    const { access_token: full } = await idp.token('jwt-client', { resource: agg, scope: 'mcp:read mcp:write' });
    const init = await send(agg, { authorization: `Bearer ${full}` });
    assert.equal(init.status, 200);
    const sid = init.headers.get('mcp-session-id');
    const version = /"protocolVersion":"([^"]+)"/.exec(await init.text())?.[1];
    const call = (t, name) => send(agg, { authorization: `Bearer ${t}`, 'mcp-session-id': sid, 'mcp-protocol-version': version },
      { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name, arguments: { message: 'via agg' } } });
    const ok = await call(full, 'other.echo');
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /via agg/);
    // the same principal with the narrower token: a tool named for the member needs its scopes
    const named = await call(narrow, 'other.echo');
    assert.equal(named.status, 403);
    assert.match(named.headers.get('www-authenticate'), /error="insufficient_scope", scope="mcp:write"$/);
    const del = await fetch(agg, { method: 'DELETE', headers: { authorization: `Bearer ${full}`, 'mcp-session-id': sid, 'mcp-protocol-version': version } });
    assert.ok(del.status === 200 || del.status === 204, `DELETE ${del.status}`);
  });
});
