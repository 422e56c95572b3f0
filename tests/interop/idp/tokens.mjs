// Client side of the test IdP for the Node tests: starts idp.mjs through the
// interop harness (spawnLogged, stopped by pid), and gets, introspects and
// revokes tokens, builds DPoP proofs and rotates keys. See README.md.
import crypto from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as jose from 'jose';

import { NODE22, freePort, spawnLogged, stop, waitFor } from '../lib/harness.mjs';

const IDP_DIR = path.dirname(fileURLToPath(import.meta.url));
const IDP_JS = path.join(IDP_DIR, 'idp.mjs');

/** Node 22 from the interop package when installed (oidc-provider 9 wants >= 22), else this node. */
const NODE = existsSync(NODE22) ? NODE22 : process.execPath;

/**
 * Starts the IdP on a free 127.0.0.1 port.
 * opts: { resource, eddsa, rsKeyAlg, ttl, shortTtl, rotations, rsKeyOut, name, port }
 * Resolves the handle described in README.md; always call stop().
 */
export async function startIdp(opts = {}) {
  const port = opts.port ?? (await freePort());
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'gh-idp-'));
  const rsKeyOut = opts.rsKeyOut ?? path.join(tmp, 'rs-key.pem');
  const args = [IDP_JS, '--port', String(port), '--rs-key-out', rsKeyOut,
    '--exchange-key-out', path.join(tmp, 'exchange-key.pem')];
  if (opts.resource) args.push('--resource', opts.resource);
  if (opts.eddsa) args.push('--eddsa');
  if (opts.rsKeyAlg) args.push('--rs-key-alg', opts.rsKeyAlg);
  if (opts.ttl) args.push('--ttl', String(opts.ttl));
  if (opts.shortTtl) args.push('--short-ttl', String(opts.shortTtl));
  if (opts.rotations !== undefined) args.push('--rotations', String(opts.rotations));
  if (opts.connectRegistration) args.push('--connect-registration');
  const proc = spawnLogged(opts.name || 'idp', NODE, args, { cwd: IDP_DIR });
  let info;
  try {
    await waitFor(
      'IdP ready line',
      async () => {
        // The log file may still hold an earlier run's line: match our pid.
        for (const l of proc.log().split('\n')) {
          if (!l.startsWith('{"issuer"')) continue;
          const j = JSON.parse(l);
          if (j.pid === proc.pid) info = j;
        }
        return Boolean(info);
      },
      { proc, timeoutMs: 30000 },
    );
    return makeHandle(info, proc, rsKeyOut, tmp);
  } catch (err) {
    await stop(proc);
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

function makeHandle(info, proc, rsKeyOut, tmp) {
  const rsKeyPem = readFileSync(rsKeyOut, 'utf8');
  const h = {
    info,
    issuer: info.issuer,
    port: info.port,
    proc,
    rsKeyFile: rsKeyOut,
    rsClientId: info.rs_client.client_id,
    /** The gateway's RFC 8693 client: its id, and the file with its private key (PEM). */
    exchangeClientId: info.exchange_client.client_id,
    exchangeKeyFile: info.exchange_client.key_file,
    /** Every token exchange the IdP answered: { subject, audience, resource, scope, act, client }. */
    exchanges: async () => (await fetch(`${info.issuer}/__admin/exchanges`)).json(),
    /** Toggles an outage of the token-exchange grant (503); returns { outage }. */
    exchangeOutage: () => adminPost(`${info.issuer}/__admin/exchange-outage`),
    async stop() {
      await stop(proc);
      rmSync(tmp, { recursive: true, force: true });
    },
    /** Raw token endpoint answer: { status, body, headers }. Never throws on an OAuth error. */
    tokenResponse: (client, o = {}) => tokenRequest(info, client, o),
    /** Access token response (JSON) or throws Error with .status/.body. */
    async token(client, o = {}) {
      const r = await tokenRequest(info, client, o);
      if (r.status !== 200) {
        const err = new Error(`token for ${client}: ${r.status} ${JSON.stringify(r.body)}`);
        Object.assign(err, { status: r.status, body: r.body });
        throw err;
      }
      return r.body;
    },
    /** RFC 7662 as the resource server (private_key_jwt); returns the JSON answer. */
    async introspect(token, o = {}) {
      const params = new URLSearchParams({ token, ...(o.hint ? { token_type_hint: o.hint } : {}) });
      await addAssertion(params, info.rs_client, rsKeyPem, info.issuer);
      const r = await post(info.introspection_endpoint, params);
      return { status: r.status, ...r.body };
    },
    /** RFC 7009 as the token's client (default opaque-client); returns the HTTP status (200). */
    async revoke(token, client = 'opaque-client') {
      const params = new URLSearchParams({ token });
      const headers = await clientAuth(info, client, params);
      const r = await post(info.revocation_endpoint, params, headers);
      return r.status;
    },
    rotate: () => adminPost(info.admin.rotate),
    retire: () => adminPost(info.admin.retire),
    jwks: async () => (await fetch(info.jwks_uri)).json(),
    dpopProof,
    newDpopKey,
  };
  return h;
}

async function adminPost(url) {
  const res = await fetch(url, { method: 'POST' });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`${url}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

async function post(url, params, headers = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: params.toString(),
    signal: AbortSignal.timeout(10000),
  });
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = { raw: text };
  }
  return { status: res.status, body, headers: res.headers };
}

/** Client authentication for `client`: Basic for secret clients, an assertion otherwise. */
async function clientAuth(info, client, params) {
  const c = info.clients[client];
  if (!c) throw new Error(`unknown IdP client ${client}`);
  if (c.auth === 'private_key_jwt') {
    await addAssertion(params, { client_id: client, alg: 'ES256', kid: c.kid }, c.private_key_pem, info.issuer);
    return {};
  }
  // RFC 6749 §2.3.1: form-encode id and secret before base64.
  const basic = `${encodeURIComponent(client)}:${encodeURIComponent(c.client_secret)}`;
  return { authorization: `Basic ${Buffer.from(basic).toString('base64')}` };
}

/** RFC 7523 client assertion; aud = the issuer (oidc-provider also takes the endpoint URL). */
async function addAssertion(params, who, pem, issuer) {
  const key = await jose.importPKCS8(pem, who.alg);
  const jwt = await new jose.SignJWT({})
    .setProtectedHeader({ alg: who.alg, kid: who.kid, typ: 'JWT' })
    .setIssuer(who.client_id)
    .setSubject(who.client_id)
    .setAudience(issuer)
    .setIssuedAt()
    .setExpirationTime('60s')
    .setJti(crypto.randomUUID())
    .sign(key);
  params.set('client_id', who.client_id);
  params.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
  params.set('client_assertion', jwt);
}

async function tokenRequest(info, client, { scope, resource, dpopKey, extra } = {}) {
  const params = new URLSearchParams({ grant_type: 'client_credentials' });
  if (scope) params.set('scope', scope);
  if (resource) params.set('resource', resource);
  for (const [k, v] of Object.entries(extra || {})) params.set(k, v);
  const headers = await clientAuth(info, client, params);
  if (dpopKey) headers.dpop = await dpopProof(dpopKey, 'POST', info.token_endpoint);
  return post(info.token_endpoint, params, headers);
}

/** A fresh ES256 key pair for DPoP ({ privateKey, publicKey }, extractable public half). */
export function newDpopKey(alg = 'ES256') {
  return jose.generateKeyPair(alg, { extractable: true });
}

/**
 * RFC 9449 DPoP proof JWT for (htm, htu); with `token` adds ath = b64url(sha256(token)).
 * opts: { iat, jti, alg, nonce } to craft bad proofs (old iat, reused jti, ...).
 */
export async function dpopProof(key, htm, htu, token, opts = {}) {
  const alg = opts.alg || 'ES256';
  const jwk = await jose.exportJWK(key.publicKey);
  const payload = { htm, htu, jti: opts.jti || crypto.randomUUID() };
  if (token) payload.ath = crypto.createHash('sha256').update(token).digest('base64url');
  if (opts.nonce) payload.nonce = opts.nonce;
  return new jose.SignJWT(payload)
    .setProtectedHeader({ alg, typ: 'dpop+jwt', jwk })
    .setIssuedAt(opts.iat)
    .sign(key.privateKey);
}

/** RFC 7638 thumbprint of the DPoP key's public half: what cnf.jkt must equal. */
export async function jkt(key) {
  return jose.calculateJwkThumbprint(await jose.exportJWK(key.publicKey), 'sha256');
}
