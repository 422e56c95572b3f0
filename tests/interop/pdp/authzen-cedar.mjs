#!/usr/bin/env node
// Test-only OpenID AuthZEN Authorization API 1.0 Policy Decision Point whose decisions are made
// by the real Cedar engine (@cedar-policy/cedar-wasm, the `nodejs` build). Loopback only.
//
//   node pdp/authzen-cedar.mjs --policies FILE.cedar [--port N]      (N = 0 or absent: a free port)
//
// When ready it prints exactly one line on stdout: `PDP_LISTENING <port>`. Every decision is logged
// to stderr as one line. SIGTERM/SIGINT end it (exit 0); it also exits when its parent goes away.
//
// Endpoints
//   POST /access/v1/evaluation              AuthZEN evaluation -> 200 {"decision": true|false}
//   GET  /.well-known/authzen-configuration PDP metadata
//   GET  /stats                             {"evaluations": N} (requests answered with a decision)
//
// Mapping of an evaluation request to a Cedar request (schema-less):
//   principal = Gatehouse::User::"<subject.id>"
//               attrs: groups, roles, scopes (Set<String>, default []), issuer, client_id (String, "")
//               read from subject.properties
//   action    = Gatehouse::Action::"<action.name>"                (e.g. "tools/call")
//   resource  = Gatehouse::Tool|Resource|Prompt|Method::"<resource.id>" by resource.type
//               (tool|resource|prompt|method); attrs: upstream, name (String, "") from resource.properties
//   context   = { arguments: resource.properties.arguments }   objects -> records, arrays -> sets,
//               strings/booleans/safe integers as is; nulls, floats and keys Cedar would read as
//               escapes (__entity, __extn, __expr) are dropped.
import fs from 'node:fs';
import http from 'node:http';
import { parseArgs } from 'node:util';

import * as cedar from '@cedar-policy/cedar-wasm/nodejs';

const { values: opt } = parseArgs({
  options: {
    policies: { type: 'string' },
    port: { type: 'string', default: '0' },
  },
  strict: true,
});

function die(msg) {
  process.stderr.write(`pdp: ${msg}\n`);
  process.exit(2);
}

if (!opt.policies) die('usage: authzen-cedar.mjs --policies FILE.cedar [--port N]');
if (!/^\d+$/.test(opt.port) || Number(opt.port) > 65535) die('--port must be 0..65535');

const NS = 'Gatehouse';
const RESOURCE_TYPES = { tool: 'Tool', resource: 'Resource', prompt: 'Prompt', method: 'Method' };
const MAX_BODY = 1024 * 1024;
const MAX_DEPTH = 32;
const PSET_ID = 'policies';

// ---- policies ----------------------------------------------------------------------------------

function fmtErrors(errors) {
  return (errors || []).map((e) => e.message + (e.help ? ` (${e.help})` : '')).join('; ');
}

let policyCount = 0;
function loadPolicies() {
  let text;
  try {
    text = fs.readFileSync(opt.policies, 'utf8');
  } catch (err) {
    return `cannot read ${opt.policies}: ${err.message}`;
  }
  // Name each policy by its @id("...") annotation (Cedar itself says policy0, policy1, ...) so
  // the decision log names the deciding policies.
  const parts = cedar.policySetTextToParts(text);
  if (parts.type !== 'success') return `${opt.policies}: ${fmtErrors(parts.errors)}`;
  if (parts.policy_templates.length) return `${opt.policies}: templates are not supported`;
  const byId = {};
  parts.policies.forEach((p, i) => {
    const m = /@id\(\s*"((?:[^"\\]|\\.)*)"\s*\)/.exec(p);
    let id = m ? m[1] : `policy${i}`;
    if (Object.hasOwn(byId, id)) id = `${id}#${i}`;
    byId[id] = p;
  });
  const r = cedar.preparsePolicySet(PSET_ID, { staticPolicies: byId });
  if (r.type !== 'success') return `${opt.policies}: ${fmtErrors(r.errors)}`;
  policyCount = parts.policies.length;
  return null;
}

{
  const err = loadPolicies();
  if (err) die(err);
}
process.on('SIGHUP', () => {
  const err = loadPolicies();
  process.stderr.write(err ? `pdp: reload failed, keeping the old policies: ${err}\n` : `pdp: reloaded ${policyCount} policies\n`);
});

// ---- request -> Cedar ----------------------------------------------------------------------------

class BadRequest extends Error {}

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** JSON value -> Cedar JSON value, or undefined when Cedar cannot represent it (dropped). */
function toCedar(v, depth = 0) {
  if (depth > MAX_DEPTH) return undefined;
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return v;
    case 'number':
      return Number.isSafeInteger(v) ? v : undefined; // Cedar has i64 only, no floats
    case 'object': {
      if (v === null) return undefined;
      if (Array.isArray(v)) return v.map((x) => toCedar(x, depth + 1)).filter((x) => x !== undefined);
      const out = Object.create(null); // a caller's "__proto__" key stays an ordinary key
      for (const [k, x] of Object.entries(v)) {
        // In Cedar's JSON these keys are escapes (entity reference, extension call): never pass
        // them on from a caller's arguments.
        if (k === '__entity' || k === '__extn' || k === '__expr') continue;
        const c = toCedar(x, depth + 1);
        if (c !== undefined) out[k] = c;
      }
      return out;
    }
    default:
      return undefined;
  }
}

const str = (v) => (typeof v === 'string' ? v : '');
const strSet = (v) => (Array.isArray(v) ? v.filter((x) => typeof x === 'string') : []);

function cedarRequest(body) {
  if (!isObject(body)) throw new BadRequest('request body must be a JSON object');
  const { subject, action, resource } = body;
  if (!isObject(subject)) throw new BadRequest('missing subject');
  if (!isObject(action)) throw new BadRequest('missing action');
  if (!isObject(resource)) throw new BadRequest('missing resource');
  if (typeof subject.id !== 'string' || subject.id === '') throw new BadRequest('subject.id must be a non-empty string');
  if (typeof action.name !== 'string' || action.name === '') throw new BadRequest('action.name must be a non-empty string');
  if (typeof resource.id !== 'string' || resource.id === '') throw new BadRequest('resource.id must be a non-empty string');
  const rtype = typeof resource.type === 'string' && Object.hasOwn(RESOURCE_TYPES, resource.type) ? RESOURCE_TYPES[resource.type] : undefined;
  if (!rtype) throw new BadRequest(`resource.type must be one of ${Object.keys(RESOURCE_TYPES).join(', ')}`);
  if (subject.properties !== undefined && !isObject(subject.properties)) throw new BadRequest('subject.properties must be an object');
  if (resource.properties !== undefined && !isObject(resource.properties)) throw new BadRequest('resource.properties must be an object');

  const sp = subject.properties || {};
  const rp = resource.properties || {};
  const principal = { type: `${NS}::User`, id: subject.id };
  const act = { type: `${NS}::Action`, id: action.name };
  const res = { type: `${NS}::${rtype}`, id: resource.id };
  const args = isObject(rp.arguments) ? toCedar(rp.arguments) : {};
  return {
    principal,
    action: act,
    resource: res,
    context: { arguments: args },
    entities: [
      {
        uid: principal,
        attrs: {
          groups: strSet(sp.groups),
          roles: strSet(sp.roles),
          scopes: strSet(sp.scopes),
          issuer: str(sp.issuer),
          client_id: str(sp.client_id),
        },
        parents: [],
      },
      { uid: res, attrs: { upstream: str(rp.upstream), name: str(rp.name) }, parents: [] },
    ],
  };
}

// ---- HTTP ----------------------------------------------------------------------------------------

let evaluations = 0;
let base = '';

function send(res, status, obj, headers = {}) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(body);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let n = 0;
    req.on('data', (c) => {
      n += c.length;
      if (n > MAX_BODY) {
        reject(Object.assign(new Error('body too large'), { status: 413 }));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const q = (s) => JSON.stringify(s);

async function evaluate(req, res, echo) {
  let body;
  try {
    body = JSON.parse(await readBody(req));
  } catch (err) {
    if (err.status === 413) return send(res, 413, { error: 'request body too large' }, echo);
    process.stderr.write(`pdp: 400 malformed JSON\n`);
    return send(res, 400, { error: 'malformed JSON' }, echo);
  }
  let call;
  try {
    call = cedarRequest(body);
  } catch (err) {
    if (!(err instanceof BadRequest)) throw err;
    process.stderr.write(`pdp: 400 ${err.message}\n`);
    return send(res, 400, { error: err.message }, echo);
  }
  const ans = cedar.statefulIsAuthorized({ ...call, preparsedPolicySetId: PSET_ID });
  if (ans.type !== 'success') {
    const msg = fmtErrors(ans.errors);
    process.stderr.write(`pdp: 400 cedar refused the request: ${msg}\n`);
    return send(res, 400, { error: `cedar: ${msg}` }, echo);
  }
  evaluations++;
  const { decision, diagnostics } = ans.response;
  const errs = diagnostics.errors.map((e) => `${e.policyId}: ${e.error.message}`);
  process.stderr.write(
    `pdp: decision=${decision} principal=${q(call.principal.id)} action=${q(call.action.id)} ` +
      `resource=${call.resource.type}::${q(call.resource.id)} name=${q(call.entities[1].attrs.name)} ` +
      `upstream=${q(call.entities[1].attrs.upstream)} groups=${q(call.entities[0].attrs.groups)} ` +
      `reasons=${q(diagnostics.reason)}${errs.length ? ` errors=${q(errs)}` : ''}\n`,
  );
  return send(res, 200, { decision: decision === 'allow' }, echo);
}

async function handle(req, res) {
  const url = new URL(req.url, 'http://127.0.0.1');
  // AuthZEN: a PDP echoes the caller's X-Request-ID.
  const rid = req.headers['x-request-id'];
  const echo = typeof rid === 'string' ? { 'x-request-id': rid } : {};
  if (url.pathname === '/access/v1/evaluation') {
    if (req.method !== 'POST') return send(res, 405, { error: 'use POST' }, { allow: 'POST', ...echo });
    return evaluate(req, res, echo);
  }
  if (url.pathname === '/.well-known/authzen-configuration' && req.method === 'GET') {
    return send(res, 200, {
      policy_decision_point: base,
      access_evaluation_endpoint: `${base}/access/v1/evaluation`,
    });
  }
  if (url.pathname === '/stats' && req.method === 'GET') {
    return send(res, 200, { evaluations });
  }
  return send(res, 404, { error: 'not found' }, echo);
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    process.stderr.write(`pdp: request failed: ${err.stack || err}\n`);
    if (!res.headersSent) send(res, 500, { error: 'internal error' });
    else res.end();
  });
});
server.on('error', (err) => die(`listen: ${err.message}`));
server.listen(Number(opt.port), '127.0.0.1', () => {
  const { port } = server.address();
  base = `http://127.0.0.1:${port}`;
  process.stderr.write(
    `pdp: cedar ${cedar.getCedarVersion()}, ${policyCount} policies from ${opt.policies}, pid ${process.pid}\n`,
  );
  process.stdout.write(`PDP_LISTENING ${port}\n`);
});

function shutdown() {
  server.close();
  server.closeAllConnections?.();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
// Test-only process: do not outlive whoever started it.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(0);
}, 1000).unref();
