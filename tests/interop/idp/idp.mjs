#!/usr/bin/env node
// Test-only OAuth 2.1 authorization server (oidc-provider) for Gatehouse's
// resource-server tests. Owns: the client table, key generation and rotation,
// the RFC 8414 alias, the published JWKS and the loopback admin endpoints.
// Loopback only, in-memory storage, every key and secret made at start: nothing
// here is fit for production and nothing secret lives in the repository.
//
//   node idp.mjs --port P [--resource URL] [--eddsa] [--rs-key-out FILE]
//                [--rs-key-alg ES256|RS256] [--ttl S] [--short-ttl S] [--rotations N]
//
// When ready it prints ONE JSON line starting with {"issuer": (see README.md).
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { parseArgs } from 'node:util';

import { SignJWT, calculateJwkThumbprint, createLocalJWKSet, importJWK, jwtVerify } from 'jose';
import Provider, { errors } from 'oidc-provider';

const { values: opt } = parseArgs({
  options: {
    port: { type: 'string' },
    resource: { type: 'string' },
    eddsa: { type: 'boolean', default: false },
    'connect-registration': { type: 'boolean', default: false },
    'rs-key-out': { type: 'string' },
    'rs-key-alg': { type: 'string', default: 'ES256' },
    ttl: { type: 'string', default: '300' },
    'short-ttl': { type: 'string', default: '2' },
    rotations: { type: 'string', default: '4' },
    'exchange-key-out': { type: 'string' },
  },
  strict: true,
});

function die(msg) {
  process.stderr.write(`idp: ${msg}\n`);
  process.exit(2);
}

if (opt.port === undefined || !/^\d+$/.test(opt.port) || Number(opt.port) > 65535) {
  die('--port P is required (0 = any free port)');
}
if (!['ES256', 'RS256'].includes(opt['rs-key-alg'])) die('--rs-key-alg must be ES256 or RS256');
const TTL = Number(opt.ttl);
const SHORT_TTL = Number(opt['short-ttl']);
const ROTATIONS = Number(opt.rotations);
if (!(TTL > 0 && SHORT_TTL > 0 && ROTATIONS >= 0)) die('--ttl/--short-ttl must be > 0, --rotations >= 0');

/** Scopes the resource servers know; each client gets a subset. */
const MCP_SCOPES = ['mcp:read', 'mcp:tools', 'mcp:write'];
const FULL = MCP_SCOPES.join(' ');
/** Audience given when the token request names no resource and --resource was not given. */
const NO_RESOURCE_AUD = 'urn:gatehouse:test-idp:no-resource';
if (opt.resource !== undefined && !acceptableResource(opt.resource)) {
  die('--resource must be an absolute http(s) URL without a fragment');
}
const DEFAULT_RESOURCE = opt.resource ?? NO_RESOURCE_AUD;
const RS_CLIENT_ID = 'gatehouse-rs';
const PKJWT_CLIENT_ID = 'pkjwt-client';

// --- keys -------------------------------------------------------------------

const SIGNING_ALGS = ['ES256', 'RS256', ...(opt.eddsa ? ['EdDSA'] : [])];

function genJwk(alg) {
  let pair;
  if (alg === 'ES256') pair = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  else if (alg === 'RS256') pair = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  else pair = crypto.generateKeyPairSync('ed25519');
  return { pair, jwk: pair.privateKey.export({ format: 'jwk' }) };
}

function publicJwk(jwk) {
  const { d, p, q, dp, dq, qi, ...pub } = jwk;
  return pub;
}

// oidc-provider fixes its keystore at construction, so rotation is done from a
// pool made at start: generation g of every alg is in the keystore from the
// beginning, but published (JWKS) and used for signing only once rotated to.
const generations = [];
for (let g = 0; g <= ROTATIONS; g++) {
  const gen = {};
  for (const alg of SIGNING_ALGS) {
    const { jwk } = genJwk(alg);
    const kid = `${alg.toLowerCase()}-g${g}-${crypto.randomBytes(4).toString('hex')}`;
    gen[alg] = { ...jwk, kid, alg, use: 'sig' };
  }
  generations.push(gen);
}
let current = 0; // the generation tokens are signed with
let oldest = 0; // the oldest generation still published

const activeKid = (alg) => generations[current][alg].kid;
function publishedJwks() {
  const keys = [];
  for (let g = current; g >= oldest; g--) {
    for (const alg of SIGNING_ALGS) keys.push(publicJwk(generations[g][alg]));
  }
  return { keys };
}

// --- clients ----------------------------------------------------------------

const secret = () => crypto.randomBytes(24).toString('base64url');

/** What each client gets: token format, signing alg, scopes, extras. */
const SPECS = {
  'jwt-client': { format: 'jwt', alg: 'ES256', scope: FULL },
  'jwt-es256-client': { format: 'jwt', alg: 'ES256', scope: FULL },
  'jwt-rs256-client': { format: 'jwt', alg: 'RS256', scope: FULL },
  ...(opt.eddsa ? { 'jwt-eddsa-client': { format: 'jwt', alg: 'EdDSA', scope: FULL } } : {}),
  'opaque-client': { format: 'opaque', scope: FULL },
  'dpop-client': { format: 'jwt', alg: 'ES256', scope: FULL, dpop: true },
  'dpop-opaque-client': { format: 'opaque', scope: FULL, dpop: true },
  'limited-client': { format: 'jwt', alg: 'ES256', scope: 'mcp:read' },
  'short-client': { format: 'jwt', alg: 'ES256', scope: FULL, ttl: SHORT_TTL },
  'sdk-client': { format: 'jwt', alg: 'ES256', scope: FULL },
  // principals with directory groups (a `groups` claim in their JWT access tokens): policy tests
  'reader-client': { format: 'jwt', alg: 'ES256', scope: FULL, groups: ['readers'] },
  'admin-client': { format: 'jwt', alg: 'RS256', scope: FULL, groups: ['admins', 'staff'] },
  'maintainer-client': { format: 'jwt', alg: 'ES256', scope: FULL, groups: ['maintainers', 'staff'] },
  [PKJWT_CLIENT_ID]: { format: 'jwt', alg: 'ES256', scope: FULL, auth: 'private_key_jwt' },
};

const secrets = {};
const clients = [];
const pkjwt = genJwk('ES256');
const pkjwtKid = `pkjwt-${crypto.randomBytes(4).toString('hex')}`;
for (const [id, spec] of Object.entries(SPECS)) {
  const c = {
    client_id: id,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    scope: spec.scope,
    dpop_bound_access_tokens: Boolean(spec.dpop),
  };
  if (spec.auth === 'private_key_jwt') {
    c.token_endpoint_auth_method = 'private_key_jwt';
    c.token_endpoint_auth_signing_alg = 'ES256';
    c.jwks = { keys: [{ ...publicJwk(pkjwt.jwk), kid: pkjwtKid, alg: 'ES256', use: 'sig' }] };
  } else {
    secrets[id] = secret();
    c.token_endpoint_auth_method = 'client_secret_basic';
    c.client_secret = secrets[id];
  }
  clients.push(c);
}

// `gatehouse connect` (a user's MCP client): a public native client, authorization code + PKCE
// with a loopback redirect on any port (RFC 8252 §7.3), refresh tokens, JWTs for the MCP server
// named as resource. Its user is logged in and consents automatically at /interaction/ (test
// only). --connect-registration also opens RFC 7591 registration for clients like it.
const CONNECT_CLIENT_ID = 'connect-client';
const CONNECT_USER = 'connect-user';
const CONNECT_SPEC = { format: 'jwt', alg: 'ES256', scope: FULL, auth: 'none' };
SPECS[CONNECT_CLIENT_ID] = CONNECT_SPEC;
clients.push({
  client_id: CONNECT_CLIENT_ID,
  application_type: 'native',
  grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
  response_types: ['code'],
  redirect_uris: ['http://127.0.0.1/callback'],
  token_endpoint_auth_method: 'none',
  scope: FULL,
});
let connectProvider; // set once the provider exists

// The "browser" step: log the fixed user in, then grant what the client asked for.
async function connectInteraction(req, res) {
  try {
    const provider = connectProvider;
    const details = await provider.interactionDetails(req, res);
    const { prompt, params, session } = details;
    if (prompt.name === 'login') {
      const login = { login: { accountId: CONNECT_USER } };
      return await provider.interactionFinished(req, res, login, { mergeWithLastSubmission: false });
    }
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const d = prompt.details;
    if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
    if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(d.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    log(`connect: ${session.accountId} consented for ${params.client_id} (resource ${params.resource})`);
    return await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  } catch (err) {
    log(`connect: interaction failed: ${err.message}`);
    return sendJson(res, 400, { error: 'interaction_failed', error_description: err.message });
  }
}

function connectSetup(provider) {
  connectProvider = provider;
  provider.on('authorization.error', (ctx, err) => log(`authorization.error: ${err.message} ${err.error_description || ''}`));
  // registered clients get what connect-client gets
  provider.on('registration_create.success', (ctx, client) => {
    SPECS[client.clientId] = CONNECT_SPEC;
    log(`connect: registered client ${client.clientId}`);
  });
  provider.on('grant.success', (ctx) => {
    const gt = ctx.oidc.params.grant_type;
    if (['refresh_token', 'authorization_code', 'urn:ietf:params:oauth:grant-type:device_code'].includes(gt)) {
      log(`${gt} grant for ${ctx.oidc.client?.clientId}`);
    }
  });
}

// The resource server's own client: it only introspects (and may revoke),
// authenticating with private_key_jwt (RFC 7523) using a key made here.
const rsAlg = opt['rs-key-alg'];
const rsKey = genJwk(rsAlg);
const rsKid = `rs-${crypto.randomBytes(4).toString('hex')}`;
clients.push({
  client_id: RS_CLIENT_ID,
  grant_types: [],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: 'private_key_jwt',
  token_endpoint_auth_signing_alg: rsAlg,
  jwks: { keys: [{ ...publicJwk(rsKey.jwk), kid: rsKid, alg: rsAlg, use: 'sig' }] },
});
const rsPem = rsKey.pair.privateKey.export({ format: 'pem', type: 'pkcs8' });
if (opt['rs-key-out']) {
  fs.writeFileSync(opt['rs-key-out'], rsPem, { mode: 0o600 });
  fs.chmodSync(opt['rs-key-out'], 0o600); // mode above only applies to a new file
}

// The gateway's token-exchange client (RFC 8693): it trades a caller's access token for one
// meant for an upstream, authenticating with private_key_jwt (ES256; key made here).
const EXCHANGE_CLIENT_ID = 'gatehouse-exchange';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const exKey = genJwk('ES256');
// kid = the RFC 7638 thumbprint: what Gatehouse puts in the header of its client assertions
const exKid = await calculateJwkThumbprint(publicJwk(exKey.jwk), 'sha256');
clients.push({
  client_id: EXCHANGE_CLIENT_ID,
  grant_types: [TOKEN_EXCHANGE],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: 'private_key_jwt',
  token_endpoint_auth_signing_alg: 'ES256',
  jwks: { keys: [{ ...publicJwk(exKey.jwk), kid: exKid, alg: 'ES256', use: 'sig' }] },
});
if (opt['exchange-key-out']) {
  fs.writeFileSync(opt['exchange-key-out'], exKey.pair.privateKey.export({ format: 'pem', type: 'pkcs8' }), {
    mode: 0o600,
  });
  fs.chmodSync(opt['exchange-key-out'], 0o600);
}
const exchanges = []; // what was asked and issued, for the tests (GET /__admin/exchanges)

// --- provider ---------------------------------------------------------------

function acceptableResource(r) {
  const u = URL.parse(r);
  if (!u || r.includes('#')) return false;
  return u.protocol === 'http:' || u.protocol === 'https:' || r === NO_RESOURCE_AUD;
}

function configuration() {
  return {
    clients,
    // the groups of a client's principal, as an enterprise IdP puts directory groups in tokens
    extraTokenClaims: async (ctx, token) => {
      const g = SPECS[token.clientId]?.groups;
      return g ? { groups: g } : undefined;
    },
    jwks: { keys: generations.flatMap((gen) => SIGNING_ALGS.map((a) => gen[a])) },
    scopes: ['openid', ...MCP_SCOPES],
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
    cookies: { keys: [secret()] },
    // refresh tokens for clients allowed the grant (connect-client), without offline_access
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    features: {
      devInteractions: { enabled: false },
      registration: { enabled: opt['connect-registration'] },
      deviceFlow: { enabled: true }, // RFC 8628 for `gatehouse connect --device`
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // The resource server (and a token's own client) may introspect.
        allowedPolicy: async (ctx, client, token) =>
          client.clientId === RS_CLIENT_ID || client.clientId === token.clientId,
      },
      revocation: {
        enabled: true,
        allowedPolicy: async (ctx, client, token) => {
          if (client.clientId === RS_CLIENT_ID || client.clientId === token.clientId) return true;
          throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => DEFAULT_RESOURCE,
        useGrantedResource: async () => true,
        getResourceServerInfo,
      },
    },
  };
}

async function getResourceServerInfo(ctx, resource, client) {
  if (!acceptableResource(resource)) {
    throw new errors.InvalidTarget('resource must be an absolute http(s) URL');
  }
  const spec = SPECS[client.clientId];
  if (!spec) throw new errors.InvalidTarget('this client obtains no access tokens');
  // oidc-provider issues a scope-less token when none is asked for; default to
  // everything the client may have (RFC 6749 §3.3 lets the AS choose).
  if (ctx.oidc.params.grant_type === 'client_credentials' && !ctx.oidc.params.scope) {
    ctx.oidc.params.scope = spec.scope;
  }
  const info = {
    scope: spec.scope,
    accessTokenFormat: spec.format,
    accessTokenTTL: spec.ttl ?? TTL,
  };
  if (spec.format === 'jwt') info.jwt = { sign: { alg: spec.alg, kid: activeKid(spec.alg) } };
  return info;
}

// --- HTTP front: admin, JWKS and the RFC 8414 alias, then oidc-provider -------

function sendJson(res, status, body, type = 'application/json') {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

let exchangeOutage = false; // POST /__admin/exchange-outage toggles: the grant answers 503
let jwksRequests = 0; // GET /__admin/jwks-stats: how many JWKS requests were answered
let jwksDelayMs = 0; // POST /__admin/jwks-delay?ms=N: hold each JWKS answer this long
let rfc8414Alias = true; // POST /__admin/rfc8414-off: only /.well-known/openid-configuration

function admin(req, res, pathname) {
  if (pathname === '/__admin/exchanges' && req.method === 'GET') return sendJson(res, 200, exchanges);
  if (pathname === '/__admin/jwks-stats' && req.method === 'GET') return sendJson(res, 200, { requests: jwksRequests });
  if (req.method !== 'POST') return sendJson(res, 405, { error: 'POST only' });
  if (pathname === '/__admin/exchange-outage') {
    exchangeOutage = !exchangeOutage;
    log(`token exchange ${exchangeOutage ? 'failing' : 'working'}`);
    return sendJson(res, 200, { outage: exchangeOutage });
  }
  if (pathname === '/__admin/jwks-delay') {
    jwksDelayMs = Number(new URL(req.url, 'http://127.0.0.1').searchParams.get('ms') || 0);
    return sendJson(res, 200, { delay_ms: jwksDelayMs });
  }
  if (pathname === '/__admin/rfc8414-off') {
    rfc8414Alias = false;
    return sendJson(res, 200, { rfc8414: false });
  }
  if (pathname === '/__admin/rotate') {
    if (current >= ROTATIONS) {
      return sendJson(res, 409, { error: `no keys left: start with --rotations > ${ROTATIONS}` });
    }
    current++;
    log(`rotated to generation ${current}`);
    return sendJson(res, 200, adminState());
  }
  if (pathname === '/__admin/retire') {
    oldest = current;
    log(`retired generations before ${current}`);
    return sendJson(res, 200, adminState());
  }
  return sendJson(res, 404, { error: 'unknown admin endpoint' });
}

function adminState() {
  const kids = Object.fromEntries(SIGNING_ALGS.map((a) => [a, activeKid(a)]));
  return { generation: current, kids, jwks: publishedJwks() };
}

function log(msg) {
  process.stderr.write(`${new Date().toISOString()} idp: ${msg}\n`);
}

function front(providerCallback) {
  return (req, res) => {
    const { pathname } = new URL(req.url, 'http://127.0.0.1');
    if (pathname.startsWith('/__admin/')) return admin(req, res, pathname);
    if (pathname.startsWith('/interaction/')) return connectInteraction(req, res);
    if (pathname === '/jwks' && (req.method === 'GET' || req.method === 'HEAD')) {
      jwksRequests++;
      const send = () => sendJson(res, 200, publishedJwks(), 'application/jwk-set+json; charset=utf-8');
      if (jwksDelayMs) return void setTimeout(send, jwksDelayMs);
      return send();
    }
    if (pathname === '/.well-known/oauth-authorization-server') {
      if (!rfc8414Alias) return sendJson(res, 404, { error: 'not_found' });
      req.url = '/.well-known/openid-configuration';
    }
    return providerCallback(req, res);
  };
}

// --- RFC 8693 token exchange ---------------------------------------------------
// The subject token must be one this IdP issued (a JWT verified against its own keys, or an
// opaque token it still holds); the new token is for the requested audience/resource, its scopes
// a subset of the subject's, and it names the exchanging client as the actor over any earlier one.

async function subjectClaims(provider, issuer, token) {
  if (token.split('.').length === 3) {
    const { payload } = await jwtVerify(token, createLocalJWKSet(publishedJwks()), { issuer });
    return payload;
  }
  const at = await provider.AccessToken.find(token);
  if (!at || at.isExpired) throw new Error('unknown or expired opaque token');
  return { sub: at.accountId ?? at.clientId, client_id: at.clientId, scope: at.scope, exp: at.exp };
}

function registerTokenExchange(provider, issuer) {
  const params = ['subject_token', 'subject_token_type', 'requested_token_type', 'audience', 'resource', 'scope',
    'actor_token', 'actor_token_type'];
  provider.registerGrantType(TOKEN_EXCHANGE, async (ctx) => {
    const p = ctx.oidc.params;
    if (exchangeOutage) {
      ctx.status = 503;
      ctx.body = { error: 'temporarily_unavailable', error_description: 'exchange outage (test)' };
      return;
    }
    if (!p.subject_token || p.subject_token_type !== ACCESS_TOKEN_TYPE) {
      throw new errors.InvalidRequest('subject_token of type access_token is required');
    }
    let subject;
    try {
      subject = await subjectClaims(provider, issuer, p.subject_token);
    } catch (e) {
      throw new errors.InvalidGrant(`subject_token rejected: ${e.message}`);
    }
    const audience = p.audience ?? p.resource;
    if (!audience || !acceptableResource(audience)) throw new errors.InvalidTarget('audience or resource required');
    const had = new Set(String(subject.scope ?? '').split(' ').filter(Boolean));
    const asked = String(p.scope ?? '').split(' ').filter(Boolean);
    const extra = asked.filter((sc) => !had.has(sc));
    if (extra.length) throw new errors.InvalidScope(`scope beyond the subject token's: ${extra.join(' ')}`, extra.join(' '));
    const scope = (asked.length ? asked : [...had]).join(' ');
    const now = Math.floor(Date.now() / 1000);
    const exp = Math.min(now + TTL, subject.exp ?? now + TTL);
    const act = { sub: ctx.oidc.client.clientId, ...(subject.act ? { act: subject.act } : {}) };
    const key = generations[current].ES256;
    const token = await new SignJWT({ scope, client_id: ctx.oidc.client.clientId, act,
      ...(subject.client_id ? { orig_client_id: subject.client_id } : {}) })
      .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'at+jwt' })
      .setIssuer(issuer).setSubject(String(subject.sub)).setAudience(audience)
      .setIssuedAt(now).setExpirationTime(exp).setJti(crypto.randomUUID())
      .sign(await importJWK(key, 'ES256'));
    exchanges.push({ subject: subject.sub, audience, resource: p.resource ?? null, scope, act,
      client: ctx.oidc.client.clientId, at: now });
    log(`token exchanged for ${subject.sub}: aud ${audience}, scope "${scope}"`);
    ctx.body = { access_token: token, issued_token_type: ACCESS_TOKEN_TYPE, token_type: 'Bearer',
      expires_in: exp - now, scope };
  }, params);
}

const server = http.createServer();
server.listen(Number(opt.port), '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, configuration());
  for (const ev of ['server_error', 'grant.error', 'introspection.error', 'revocation.error', 'jwks.error']) {
    provider.on(ev, (ctx, err) => log(`${ev}: ${err.name}: ${err.message} ${err.error_description || ''}`));
  }
  provider.on('grant.success', (ctx) => log(`token issued to ${ctx.oidc.client?.clientId}`));
  registerTokenExchange(provider, issuer);
  connectSetup(provider);
  server.on('request', front(provider.callback()));
  const clientInfo = Object.fromEntries(
    Object.entries(SPECS).map(([id, s]) => [
      id,
      {
        auth: s.auth ?? 'client_secret_basic',
        ...(secrets[id] ? { client_secret: secrets[id] } : {}),
        format: s.format,
        ...(s.alg ? { alg: s.alg } : {}),
        scope: s.scope,
        dpop: Boolean(s.dpop),
        ttl: s.ttl ?? TTL,
      },
    ]),
  );
  clientInfo[PKJWT_CLIENT_ID].kid = pkjwtKid;
  clientInfo[PKJWT_CLIENT_ID].private_key_pem = pkjwt.pair.privateKey.export({ format: 'pem', type: 'pkcs8' });
  const ready = {
    issuer,
    port,
    pid: process.pid,
    jwks_uri: `${issuer}/jwks`,
    metadata_url: `${issuer}/.well-known/oauth-authorization-server`,
    openid_configuration: `${issuer}/.well-known/openid-configuration`,
    token_endpoint: `${issuer}/token`,
    introspection_endpoint: `${issuer}/token/introspection`,
    revocation_endpoint: `${issuer}/token/revocation`,
    default_resource: DEFAULT_RESOURCE,
    scopes: MCP_SCOPES,
    signing_algs: SIGNING_ALGS,
    kids: adminState().kids,
    rotations_left: ROTATIONS - current,
    admin: { rotate: `${issuer}/__admin/rotate`, retire: `${issuer}/__admin/retire` },
    rs_client: {
      client_id: RS_CLIENT_ID,
      auth: 'private_key_jwt',
      alg: rsAlg,
      kid: rsKid,
      key_file: opt['rs-key-out'] ?? null,
    },
    clients: clientInfo,
    exchange_client: {
      client_id: EXCHANGE_CLIENT_ID,
      auth: 'private_key_jwt',
      alg: 'ES256',
      kid: exKid,
      key_file: opt['exchange-key-out'] ?? null,
      grant_type: TOKEN_EXCHANGE,
    },
  };
  process.stdout.write(`${JSON.stringify(ready)}\n`);
});
server.on('error', (err) => die(`listen: ${err.message}`));

// A test runner that dies without stop() must not leave the IdP behind.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(0);
}, 1000).unref();

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.close();
    server.closeAllConnections?.();
    process.exit(0);
  });
}
