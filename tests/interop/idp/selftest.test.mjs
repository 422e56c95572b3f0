// Proves the test IdP before the gateway relies on it: every kind of token,
// verified against the published JWKS with jose; introspection and revocation;
// key rotation; DPoP binding; and the MCP SDK's client-credentials providers.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import * as jose from 'jose';

import { HERE, freePort } from '../lib/harness.mjs';
import { dpopProof, jkt, newDpopKey, startIdp } from './tokens.mjs';

const RESOURCE = 'http://127.0.0.1:18080/mcp';
const WRONG = 'http://127.0.0.1:8081/mcp';
const FULL = 'mcp:read mcp:tools mcp:write';

let idp;
let JWKS;

async function verifyAt(token, { audience = RESOURCE, jwks = JWKS } = {}) {
  const { payload, protectedHeader } = await jose.jwtVerify(token, jwks, {
    issuer: idp.issuer,
    audience,
    typ: 'at+jwt',
  });
  return { payload, header: protectedHeader };
}

describe('test IdP', () => {
  before(async () => {
    idp = await startIdp({ resource: RESOURCE, eddsa: true, shortTtl: 1 });
    JWKS = jose.createRemoteJWKSet(new URL(idp.info.jwks_uri), { cacheMaxAge: 0, cooldownDuration: 0 });
  });
  after(async () => idp?.stop());

  test('RFC 8414 and OIDC metadata, JWKS with ES256, RS256 and EdDSA keys', async () => {
    const m8414 = await (await fetch(`${idp.issuer}/.well-known/oauth-authorization-server`)).json();
    const oidc = await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json();
    assert.deepEqual(m8414, oidc);
    assert.equal(m8414.issuer, idp.issuer);
    assert.equal(m8414.jwks_uri, `${idp.issuer}/jwks`);
    assert.equal(m8414.token_endpoint, `${idp.issuer}/token`);
    assert.equal(m8414.introspection_endpoint, `${idp.issuer}/token/introspection`);
    assert.equal(m8414.revocation_endpoint, `${idp.issuer}/token/revocation`);
    assert.ok(m8414.grant_types_supported.includes('client_credentials'));
    assert.ok(m8414.token_endpoint_auth_methods_supported.includes('private_key_jwt'));
    const jwks = await idp.jwks();
    assert.deepEqual(jwks.keys.map((k) => k.alg).sort(), ['ES256', 'EdDSA', 'RS256']);
    for (const k of jwks.keys) {
      assert.equal(k.use, 'sig');
      assert.equal(k.d, undefined, 'no private parts published');
      assert.equal(k.p, undefined);
    }
  });

  test('RS private key file is mode 0600 PKCS#8 PEM', () => {
    const st = statSync(idp.rsKeyFile);
    assert.equal(st.mode & 0o777, 0o600);
    assert.match(readFileSync(idp.rsKeyFile, 'utf8'), /^-----BEGIN PRIVATE KEY-----\n/);
  });

  test('jwt-client: at+jwt, ES256, aud = resource, scopes', async () => {
    const t = await idp.token('jwt-client', { scope: 'mcp:read mcp:tools', resource: RESOURCE });
    assert.equal(t.token_type, 'Bearer');
    assert.equal(t.scope, 'mcp:read mcp:tools');
    const { payload, header } = await verifyAt(t.access_token);
    assert.equal(header.alg, 'ES256');
    assert.equal(header.typ, 'at+jwt');
    assert.equal(header.kid, idp.info.kids.ES256);
    assert.equal(payload.aud, RESOURCE);
    assert.equal(payload.client_id, 'jwt-client');
    assert.equal(payload.sub, 'jwt-client');
    assert.equal(payload.scope, 'mcp:read mcp:tools');
    assert.equal(payload.exp - payload.iat, 300);
    assert.equal(typeof payload.jti, 'string');
    assert.equal(payload.cnf, undefined);
  });

  test('no resource parameter: aud is --resource; no scope: all client scopes', async () => {
    const t = await idp.token('jwt-client');
    const { payload } = await verifyAt(t.access_token);
    assert.equal(payload.aud, RESOURCE);
    assert.equal(payload.scope, FULL);
  });

  test('another resource gives that aud (wrong-audience tokens)', async () => {
    const t = await idp.token('jwt-client', { resource: WRONG });
    await assert.rejects(verifyAt(t.access_token), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED' });
    assert.equal((await verifyAt(t.access_token, { audience: WRONG })).payload.aud, WRONG);
  });

  test('two resources are refused for client_credentials', async () => {
    const params = new URLSearchParams([
      ['grant_type', 'client_credentials'],
      ['resource', RESOURCE],
      ['resource', WRONG],
    ]);
    const c = idp.info.clients['jwt-client'];
    const res = await fetch(idp.info.token_endpoint, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`jwt-client:${c.client_secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: params.toString(),
    });
    assert.equal(res.status, 400);
    assert.equal((await res.json()).error, 'invalid_target');
  });

  for (const [client, alg] of [
    ['jwt-es256-client', 'ES256'],
    ['jwt-rs256-client', 'RS256'],
    ['jwt-eddsa-client', 'EdDSA'],
    ['pkjwt-client', 'ES256'],
    ['sdk-client', 'ES256'],
  ]) {
    test(`${client}: signed with ${alg}`, async () => {
      const t = await idp.token(client, { scope: 'mcp:read' });
      const { header, payload } = await verifyAt(t.access_token);
      assert.equal(header.alg, alg);
      assert.equal(header.kid, idp.info.kids[alg]);
      assert.equal(payload.client_id, client);
    });
  }

  test('bad secret is invalid_client', async () => {
    const saved = idp.info.clients['jwt-client'].client_secret;
    idp.info.clients['jwt-client'].client_secret = 'nope';
    try {
      const r = await idp.tokenResponse('jwt-client');
      assert.equal(r.status, 401);
      assert.equal(r.body.error, 'invalid_client');
    } finally {
      idp.info.clients['jwt-client'].client_secret = saved;
    }
  });

  test('limited-client: mcp:read only; asking for mcp:tools is invalid_scope', async () => {
    const t = await idp.token('limited-client');
    assert.equal((await verifyAt(t.access_token)).payload.scope, 'mcp:read');
    const r = await idp.tokenResponse('limited-client', { scope: 'mcp:read mcp:tools' });
    assert.equal(r.status, 400);
    assert.equal(r.body.error, 'invalid_scope');
  });

  test('short-client: exp = iat + --short-ttl, then expired', async () => {
    const t = await idp.token('short-client');
    const { payload } = await verifyAt(t.access_token);
    assert.equal(payload.exp - payload.iat, 1);
    await new Promise((r) => setTimeout(r, 2100));
    await assert.rejects(verifyAt(t.access_token), { code: 'ERR_JWT_EXPIRED' });
  });

  test('opaque-client: introspect active, revoke, introspect inactive', async () => {
    const t = await idp.token('opaque-client', { scope: 'mcp:read mcp:tools' });
    assert.equal(t.token_type, 'Bearer');
    assert.equal(t.access_token.split('.').length, 1, 'not a JWT');
    const on = await idp.introspect(t.access_token);
    assert.equal(on.status, 200);
    assert.equal(on.active, true);
    assert.equal(on.client_id, 'opaque-client');
    assert.equal(on.aud, RESOURCE);
    assert.equal(on.scope, 'mcp:read mcp:tools');
    assert.equal(on.iss, idp.issuer);
    assert.equal(on.token_type, 'Bearer');
    assert.equal(on.sub, undefined); // client_credentials tokens carry no sub here (the JWT ones do)
    assert.ok(on.exp > on.iat);
    assert.equal(await idp.revoke(t.access_token), 200);
    const off = await idp.introspect(t.access_token);
    assert.deepEqual(off, { status: 200, active: false });
  });

  test('introspection needs client authentication', async () => {
    const t = await idp.token('opaque-client');
    const res = await fetch(idp.info.introspection_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: t.access_token }).toString(),
    });
    assert.equal(res.status, 400); // no client at all: invalid_request
    assert.equal((await res.json()).error, 'invalid_request');
  });

  test('another client may not introspect a token it does not own', async () => {
    const t = await idp.token('opaque-client');
    const c = idp.info.clients['jwt-client'];
    const res = await fetch(idp.info.introspection_endpoint, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`jwt-client:${c.client_secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token: t.access_token }).toString(),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { active: false });
    assert.equal((await idp.introspect(t.access_token)).active, true);
  });

  test('a JWT access token is not introspectable (400 unsupported_token_type)', async () => {
    const t = await idp.token('jwt-client');
    const r = await idp.introspect(t.access_token);
    assert.equal(r.status, 400);
    assert.equal(r.error, 'unsupported_token_type');
  });

  test('unknown opaque token introspects inactive', async () => {
    assert.equal((await idp.introspect('not-a-token-at-all')).active, false);
  });

  test('dpop-client: proof required; cnf.jkt = thumbprint of the proof key', async () => {
    const r = await idp.tokenResponse('dpop-client');
    assert.equal(r.status, 400);
    assert.equal(r.body.error, 'invalid_grant'); // oidc-provider's answer to a missing proof
    const key = await newDpopKey();
    const t = await idp.token('dpop-client', { dpopKey: key, scope: 'mcp:read' });
    assert.equal(t.token_type, 'DPoP');
    const { payload } = await verifyAt(t.access_token);
    assert.equal(payload.cnf.jkt, await jkt(key));
    const other = await newDpopKey();
    assert.notEqual(payload.cnf.jkt, await jkt(other));
  });

  test('any client may DPoP-bind when it sends a proof; dpop-opaque-client introspects cnf', async () => {
    const key = await newDpopKey();
    const t = await idp.token('jwt-client', { dpopKey: key });
    assert.equal(t.token_type, 'DPoP');
    assert.equal((await verifyAt(t.access_token)).payload.cnf.jkt, await jkt(key));
    const o = await idp.token('dpop-opaque-client', { dpopKey: key });
    const i = await idp.introspect(o.access_token);
    assert.equal(i.active, true);
    assert.equal(i.token_type, 'DPoP');
    assert.equal(i.cnf.jkt, await jkt(key));
  });

  test('a replayed DPoP proof is refused at the token endpoint', async () => {
    const key = await newDpopKey();
    const proof = await dpopProof(key, 'POST', idp.info.token_endpoint);
    const c = idp.info.clients['dpop-client'];
    const send = () =>
      fetch(idp.info.token_endpoint, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`dpop-client:${c.client_secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
          dpop: proof,
        },
        body: 'grant_type=client_credentials',
      });
    assert.equal((await send()).status, 200);
    const again = await send();
    assert.equal(again.status, 400);
    assert.equal((await again.json()).error, 'invalid_grant'); // "DPoP proof JWT Replay detected"
  });

  test('introspection with a wrong key or a replayed assertion is invalid_client', async () => {
    const t = await idp.token('opaque-client');
    const rs = idp.info.rs_client;
    const good = await jose.importPKCS8(readFileSync(idp.rsKeyFile, 'utf8'), rs.alg);
    const { privateKey: bad } = await jose.generateKeyPair(rs.alg);
    const assertion = (key, jti) =>
      new jose.SignJWT({})
        .setProtectedHeader({ alg: rs.alg })
        .setIssuer(rs.client_id)
        .setSubject(rs.client_id)
        .setAudience(idp.issuer)
        .setIssuedAt()
        .setExpirationTime('60s')
        .setJti(jti)
        .sign(key);
    const send = async (jwt) => {
      const res = await fetch(idp.info.introspection_endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          token: t.access_token,
          client_id: rs.client_id,
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: jwt,
        }).toString(),
      });
      return { status: res.status, body: await res.json() };
    };
    const ok = await assertion(good, 'jti-1');
    assert.equal((await send(ok)).body.active, true); // no kid needed
    assert.deepEqual(await send(ok), {
      status: 401,
      body: { error: 'invalid_client', error_description: 'client authentication failed' },
    });
    assert.equal((await send(await assertion(bad, 'jti-2'))).status, 401);
  });

  test('dpopProof carries htm, htu, ath and the public jwk', async () => {
    const key = await newDpopKey();
    const proof = await dpopProof(key, 'POST', RESOURCE, 'tok');
    const h = jose.decodeProtectedHeader(proof);
    assert.equal(h.typ, 'dpop+jwt');
    assert.equal(h.alg, 'ES256');
    assert.equal(h.jwk.d, undefined);
    const { payload } = await jose.jwtVerify(proof, await jose.importJWK(h.jwk, 'ES256'));
    assert.equal(payload.htm, 'POST');
    assert.equal(payload.htu, RESOURCE);
    assert.equal(payload.ath, 'GnZ0607njffhrEOak8P6jjyUV4TU3sn9jjARc4svHWI'); // b64url(sha256("tok"))
  });

  test('rotate: new kid published and used; old still verifies; retire drops it', async () => {
    const before = await idp.token('jwt-rs256-client');
    const oldKids = { ...idp.info.kids };
    const st = await idp.rotate();
    assert.equal(st.generation, 1);
    assert.notEqual(st.kids.ES256, oldKids.ES256);
    assert.notEqual(st.kids.RS256, oldKids.RS256);
    const kids = (await idp.jwks()).keys.map((k) => k.kid);
    for (const k of [...Object.values(oldKids), ...Object.values(st.kids)]) assert.ok(kids.includes(k));
    const t = await idp.token('jwt-client');
    assert.equal((await verifyAt(t.access_token)).header.kid, st.kids.ES256);
    const t2 = await idp.token('jwt-rs256-client');
    assert.equal((await verifyAt(t2.access_token)).header.kid, st.kids.RS256);
    assert.equal((await verifyAt(before.access_token)).header.kid, oldKids.RS256);
    await idp.retire();
    const left = (await idp.jwks()).keys.map((k) => k.kid).sort();
    assert.deepEqual(left, Object.values(st.kids).sort());
    await assert.rejects(verifyAt(before.access_token), { code: 'ERR_JWKS_NO_MATCHING_KEY' });
  });
});

describe('rotation pool', () => {
  test('--rotations 0: rotate is 409', async () => {
    const small = await startIdp({ rotations: 0, name: 'idp-small' });
    try {
      await assert.rejects(small.rotate(), /409/);
      // Without --resource the default audience is a URN no gateway accepts.
      const t = await small.token('jwt-client');
      assert.equal(jose.decodeJwt(t.access_token).aud, 'urn:gatehouse:test-idp:no-resource');
    } finally {
      await small.stop();
    }
  });
});

// The official MCP SDK's client-credentials providers, end to end: discovery
// from a stand-in protected-resource metadata document, then the token.
const SDK = path.join(HERE, 'node_modules/@modelcontextprotocol/sdk/dist/esm/client');
describe('MCP SDK client_credentials against the IdP', { skip: !existsSync(SDK) && 'sdk not installed' }, () => {
  let sdkIdp;
  let prm;
  let resource;
  before(async () => {
    const port = await freePort();
    resource = `http://127.0.0.1:${port}/mcp`;
    sdkIdp = await startIdp({ resource, name: 'idp-sdk' });
    prm = http.createServer((req, res) => {
      if (req.url.startsWith('/.well-known/oauth-protected-resource')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            resource,
            authorization_servers: [sdkIdp.issuer],
            scopes_supported: ['mcp:read', 'mcp:tools'],
          }),
        );
      } else {
        res.writeHead(401).end();
      }
    });
    await new Promise((r) => prm.listen(port, '127.0.0.1', r));
  });
  after(async () => {
    prm?.close();
    await sdkIdp?.stop();
  });

  async function check(provider) {
    const { auth } = await import(path.join(SDK, 'auth.js'));
    assert.equal(await auth(provider, { serverUrl: new URL(resource) }), 'AUTHORIZED');
    const tok = provider.tokens();
    const JW = jose.createRemoteJWKSet(new URL(sdkIdp.info.jwks_uri));
    const { payload } = await jose.jwtVerify(tok.access_token, JW, {
      issuer: sdkIdp.issuer,
      audience: resource,
      typ: 'at+jwt',
    });
    return payload;
  }

  test('ClientCredentialsProvider (client_secret_basic) with sdk-client', async () => {
    const { ClientCredentialsProvider } = await import(path.join(SDK, 'auth-extensions.js'));
    const p = new ClientCredentialsProvider({
      clientId: 'sdk-client',
      clientSecret: sdkIdp.info.clients['sdk-client'].client_secret,
      expectedIssuer: sdkIdp.issuer,
    });
    const payload = await check(p);
    assert.equal(payload.client_id, 'sdk-client');
    // The SDK sends only the provider's own `scope` option for client_credentials
    // (not the PRM's scopes_supported); none given, so the IdP's default: all.
    assert.equal(payload.scope, 'mcp:read mcp:tools mcp:write');
  });

  test('PrivateKeyJwtProvider (private_key_jwt) with pkjwt-client', async () => {
    const { PrivateKeyJwtProvider } = await import(path.join(SDK, 'auth-extensions.js'));
    const p = new PrivateKeyJwtProvider({
      clientId: 'pkjwt-client',
      privateKey: sdkIdp.info.clients['pkjwt-client'].private_key_pem,
      algorithm: 'ES256',
      scope: 'mcp:read',
      expectedIssuer: sdkIdp.issuer,
    });
    const payload = await check(p);
    assert.equal(payload.client_id, 'pkjwt-client');
    assert.equal(payload.scope, 'mcp:read');
  });
});
