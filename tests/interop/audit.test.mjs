// The audit trail (src/audit, src/mcp/record.c; format src/audit/FORMAT.md, guide docs/audit.md)
// through the real gateway binary with real peers: access tokens from the test IdP (idp/), the
// pin-fixture.mjs MCP server (which logs every tool call it receives: GET /control/calls), the
// official SDK client, and raw HTTP for what an SDK would never send.
//
//   (a) schema: every record of a real run validates against docs/audit.schema.json (ajv, draft
//       2020-12); each event type is present; decision and outcome share rid; a client traceparent
//       becomes trace_id + parent_id; no token, token signature or session id in the file; the
//       hash chain and the Ed25519 checkpoint signatures check out (verified here in JS).
//   (b) before-forward: 20 callers for ~2 s, then kill -9: every call the upstream received has
//       its request.decision (same arguments_digest) on disk.
//   (c) injection: newlines, fake JSON, ANSI escapes, invalid UTF-8, 1 MB values in recorded
//       fields: the file stays one JSON object per line, values escaped and cut as FORMAT.md says.
//   (d) tampering: `gatehouse audit verify` (when the binary has it) names the edited record and
//       refuses a deleted line; the JS verifier of this file does the same regardless.
//
// Every process is started on 127.0.0.1 with a free port, logged to out/<name>.log and stopped
// by pid in after hooks; the trail and keys live in a temp dir removed at the end.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  DIRECT, HERE, OUT_DIR, GATEHOUSE_BIN, freePort, spawnLogged, stop, waitFor, waitForHttp, waitForLog, sleep,
} from './lib/harness.mjs';
import { startIdp } from './idp/tokens.mjs';

const ACCEPT = 'application/json, text/event-stream';
const PV = '2025-11-25';
const SCHEMA_PATH = path.resolve(HERE, '../../docs/audit.schema.json');
const READER = 'reader-client'; // groups [readers]
const ADMIN = 'admin-client'; // groups [admins, staff]
const TYPES = ['audit.start', 'request.decision', 'request.outcome', 'auth.failure', 'session.start',
  'session.end', 'session.refused', 'tool.definition_changed', 'config.reload', 'audit.checkpoint'];

const sha256hex = (s) => crypto.createHash('sha256').update(s).digest('hex');

// ---- the trail, read and verified independently of the gateway ----------------------------

/** Lines of a trail file: { lines: [string], torn: string|null } (torn = a last line without \n). */
function readLines(file) {
  const raw = fs.readFileSync(file);
  const text = raw.toString('utf8');
  const parts = text.split('\n');
  const torn = parts.pop(); // '' when the file ends with \n
  return { raw, lines: parts, torn: torn === '' ? null : torn };
}

/** Parses every complete line (asserting it is one JSON object) and returns the records. */
function parseAll(file) {
  const { lines, torn } = readLines(file);
  const recs = lines.map((l, i) => {
    let r;
    assert.doesNotThrow(() => { r = JSON.parse(l); }, `line ${i + 1} of ${file} is not JSON: ${l.slice(0, 200)}`);
    assert.equal(typeof r, 'object', `line ${i + 1} is an object`);
    assert.ok(r && !Array.isArray(r));
    return r;
  });
  return { recs, lines, torn };
}

/**
 * FORMAT.md's checks, in JS: seq +1, prev = SHA-256 of the previous line's bytes, checkpoint head
 * = prev, Ed25519 signature over "gatehouse-audit-checkpoint:v1:<seq>:<head>". Returns the first
 * problem as { seq, why } or null.
 */
function verifyChain(lines, pubKey) {
  let prevHash = null;
  let prevSeq = null;
  for (const line of lines) {
    let r;
    try { r = JSON.parse(line); } catch { return { seq: prevSeq === null ? null : prevSeq + 1, why: 'not JSON' }; }
    if (prevSeq !== null && r.seq !== prevSeq + 1) return { seq: r.seq, why: `seq ${r.seq} after ${prevSeq}` };
    if (prevHash !== null && r.prev !== prevHash) return { seq: r.seq, why: 'prev is not the hash of the previous line' };
    if (prevHash === null && r.seq === 1 && r.prev !== '0'.repeat(64)) return { seq: 1, why: 'first prev not zero' };
    if (r.type === 'audit.checkpoint') {
      if (r.checkpoint.head !== r.prev) return { seq: r.seq, why: 'checkpoint head != prev' };
      if (pubKey && r.checkpoint.sig) {
        const msg = Buffer.from(`gatehouse-audit-checkpoint:v1:${r.seq}:${r.checkpoint.head}`, 'ascii');
        if (!crypto.verify(null, msg, pubKey, Buffer.from(r.checkpoint.sig, 'base64url'))) {
          return { seq: r.seq, why: 'bad checkpoint signature' };
        }
      }
    }
    prevHash = sha256hex(Buffer.from(line, 'utf8'));
    prevSeq = r.seq;
  }
  return null;
}

let validate;
function validator() {
  if (!validate) {
    const ajv = new Ajv2020({ allErrors: true });
    validate = ajv.compile(JSON.parse(fs.readFileSync(SCHEMA_PATH, 'utf8')));
  }
  return validate;
}

function assertSchema(recs) {
  const v = validator();
  for (const r of recs) {
    const ok = v(r);
    // the errors of the oneOf branch named by type say what is wrong
    assert.ok(ok, `record seq ${r.seq} (${r.type}) fails docs/audit.schema.json: ` +
      `${JSON.stringify((v.errors || []).filter((e) => e.instancePath || e.keyword !== 'oneOf').slice(0, 8))}\n` +
      `${JSON.stringify(r).slice(0, 1500)}`);
  }
}

/** `gatehouse audit verify` is there (another change adds it): run it, else null. */
function auditVerify(args) {
  const r = spawnSync(GATEHOUSE_BIN, ['audit', 'verify', ...args], { encoding: 'utf8', timeout: 20000 });
  if (/unknown command 'audit'/.test(r.stderr || '')) return null;
  return r;
}
const HAS_VERIFY = auditVerify(['--help']) !== null;

// ---- processes ----------------------------------------------------------------------------

/** Starts pin-fixture.mjs on a free port; resolves { proc, url, base, calls(), mutate() }. */
async function startFixture(name) {
  const proc = spawnLogged(name, process.execPath, [path.join(HERE, 'pin-fixture.mjs'), '--port', '0']);
  let url;
  try {
    url = await new Promise((resolve, reject) => {
      let buf = '';
      const timer = setTimeout(() => reject(new Error(`${name}: no ready line\n${proc.log()}`)), 20000);
      proc.child.stdout.on('data', (c) => {
        buf += c.toString('utf8');
        const m = /pin-fixture listening on (http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(buf);
        if (m) { clearTimeout(timer); resolve(m[1]); }
      });
      proc.exited.then(() => { clearTimeout(timer); reject(new Error(`${name} exited\n${proc.log()}`)); });
    });
  } catch (err) {
    await stop(proc);
    throw err;
  }
  const base = url.replace(/\/mcp$/, '');
  return {
    proc, url, base,
    calls: async () => (await fetch(`${base}/control/calls`)).json(),
    mutate: async () => (await fetch(`${base}/control/mutate`, { method: 'POST' })).json(),
  };
}

/**
 * Writes a gateway config (auth against the IdP unless idp is null, the audit: section, the given
 * YAML) into dir and starts `gatehouse serve`. Resolves { proc, port, base, cfg, audit, token() }.
 */
async function startGw(name, idp, dir, audit, yamlBody, gatewayLines = []) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const cfg = path.join(dir, `${name}.yaml`);
  const auth = idp ? [
    'auth:', `  resource: ${base}`,
    '  issuers:', `    - issuer: ${idp.issuer}`, '      algorithms: [ES256, RS256]', '      token_type: at+jwt',
  ] : [];
  fs.writeFileSync(cfg, [
    'gateway:', '  log_level: debug', ...gatewayLines,
    'listeners:', `  - address: 127.0.0.1:${port}`,
    ...auth,
    'audit:', ...Object.entries(audit).map(([k, v]) => `  ${k}: ${v}`),
    yamlBody.trim(),
  ].join('\n') + '\n');
  const extra = idp ? [] : ['--insecure-no-auth'];
  const check = spawnSync(GATEHOUSE_BIN, ['check-config', cfg], { encoding: 'utf8' });
  assert.equal(check.status, 0, `check-config ${cfg}: ${check.stdout}${check.stderr}`);
  const proc = spawnLogged(name, GATEHOUSE_BIN, ['serve', '--config', cfg, ...extra]);
  try {
    await waitForHttp(`${base}/healthz`, { okStatus: (s) => s === 200, proc });
    await waitForLog(proc, /audit trail: /, { timeoutMs: 5000 });
    if (idp) await waitForLog(proc, /signing keys loaded/, { timeoutMs: 15000 });
  } catch (err) {
    await stop(proc);
    throw err;
  }
  const tokens = new Map();
  return {
    proc, port, base, cfg, audit: audit.path,
    async token(client, p) {
      const k = `${client} ${p}`;
      if (!tokens.has(k)) tokens.set(k, (await idp.token(client, { resource: `${base}${p}` })).access_token);
      return tokens.get(k);
    },
  };
}

/** SIGTERM and wait for the exit (a clean shutdown writes the final checkpoint). */
async function stopClean(proc) {
  process.kill(proc.pid, 'SIGTERM');
  const r = await Promise.race([proc.exited, sleep(10000).then(() => 'timeout')]);
  if (r === 'timeout') { await stop(proc, 100); assert.fail(`${proc.name} did not exit on SIGTERM`); }
  return r;
}

/** A raw-HTTP MCP session (fetch) on url: initialize + initialized; .call(method, params, rawBody?). */
async function rawSession(url, headers = {}) {
  const h0 = { 'content-type': 'application/json', accept: ACCEPT, ...headers };
  const init = await fetch(url, {
    method: 'POST', headers: h0,
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: PV, capabilities: {}, clientInfo: { name: 'audit-test', version: '1' } } }),
  });
  const text = await init.text();
  assert.equal(init.status, 200, `initialize: ${text}`);
  const sid = init.headers.get('mcp-session-id');
  const h = { ...h0, 'mcp-session-id': sid, 'mcp-protocol-version': PV };
  await (await fetch(url, { method: 'POST', headers: h, body: '{"jsonrpc":"2.0","method":"notifications/initialized"}' })).text();
  let id = 100;
  return {
    sid,
    headers: h,
    async raw(body, signal) {
      const r = await fetch(url, { method: 'POST', headers: h, body, signal });
      return { status: r.status, text: await r.text() };
    },
    nextId: () => ++id,
  };
}

/** One raw HTTP/1.1 request over a socket (bytes as given); resolves the status line ('' if none). */
function rawHttp(port, head, body) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let got = Buffer.alloc(0);
    s.setTimeout(5000, () => s.destroy());
    s.on('connect', () => { s.write(Buffer.concat([head, body])); });
    s.on('data', (c) => {
      got = Buffer.concat([got, c]);
      if (got.includes('\r\n\r\n')) s.end();
    });
    s.on('error', () => {});
    s.on('close', () => resolve(got.toString('latin1').split('\r\n')[0]));
  });
}

// ---- the suite ----------------------------------------------------------------------------

describe('audit trail', { skip: DIRECT && 'gateway-only', timeout: 120000 }, () => {
  let idp, fx, tmp, keyPub;
  let schemaRun; // (a)'s file, reused by (d)
  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-audit-'));
    const { privateKey, publicKey } = crypto.generateKeyPairSync('ed25519');
    fs.writeFileSync(path.join(tmp, 'audit-ed25519.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    fs.writeFileSync(path.join(tmp, 'audit-ed25519.pub.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
    keyPub = publicKey;
    [idp, fx] = await Promise.all([startIdp({ name: 'idp-audit' }), startFixture('pin-fixture-audit')]);
  });
  after(async () => {
    await Promise.all([fx && stop(fx.proc), idp && idp.stop()]);
    if (tmp && !process.env.GH_AUDIT_KEEP) fs.rmSync(tmp, { recursive: true, force: true });
  });

  // ------------------------------------------------------------------------------------------
  test('(a) schema: a real run validates, every event type is there, rid/trace correlate, no token in the file', async () => {
    const dir = path.join(tmp, 'a');
    fs.mkdirSync(dir);
    const file = path.join(dir, 'audit.jsonl');
    const gw = await startGw('gatehouse-audit-schema', idp, dir, {
      path: file, durability: 'buffered', checkpoint_every: 1000, key: `file:${path.join(tmp, 'audit-ed25519.pem')}`,
    }, `
upstreams:
  - name: fx
    url: ${fx.url}
    path: /fx/mcp
policy:
  rules:
    - id: readers-echo
      effect: allow
      principal:
        groups: [readers]
      upstream: [fx]
      tools: [echo, read_file]
    - id: no-read-file
      effect: deny
      principal:
        groups: [readers]
      tools: [read_file]
  pinning:
    mode: enforce
    store: ${path.join(dir, 'pins.json')}
    first_use: approve
`);
    const traceId = crypto.randomBytes(16).toString('hex');
    const parentId = crypto.randomBytes(8).toString('hex');
    const token = await gw.token(READER, '/fx/mcp');
    let sid;
    let upstreamSpan;
    let rawBody;
    let reloaded;
    const echoArgs = { message: `audit schema ${crypto.randomUUID()}` };
    const failArgs = { message: `fail: ${crypto.randomUUID()}` };
    const rawArgs = { message: `raw ${crypto.randomUUID()}` };
    try {
      const c = new Client({ name: 'audit-schema', version: '1.0.0' });
      const t = new StreamableHTTPClientTransport(new URL(`${gw.base}/fx/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${token}`, traceparent: `00-${traceId}-${parentId}-01` } },
      });
      await c.connect(t);
      sid = t.sessionId;
      assert.ok(sid);
      assert.deepEqual((await c.listTools()).tools.map((x) => x.name).sort(), ['echo']);
      const r = await c.callTool({ name: 'echo', arguments: echoArgs });
      assert.equal(r.content[0].text, echoArgs.message);
      // the upstream got the caller's trace with the gateway's own span as its parent
      const got = (await (await fetch(`${fx.base}/control/requests`)).json())
        .filter((q) => q.type === 'tool' && q.arguments?.message === echoArgs.message);
      assert.equal(got.length, 1);
      assert.match(got[0].traceparent || '', new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
      assert.notEqual(got[0].traceparent.split('-')[2], parentId, 'the gateway is a hop of the trace');
      upstreamSpan = got[0].traceparent.split('-')[2];
      // a tool that runs and fails (isError), and a call whose answer bytes we keep
      assert.equal((await c.callTool({ name: 'echo', arguments: failArgs })).isError, true);
      const rr = await fetch(`${gw.base}/fx/mcp`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json', accept: ACCEPT, authorization: `Bearer ${token}`,
          'mcp-session-id': sid, 'mcp-protocol-version': t.protocolVersion,
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 9001, method: 'tools/call', params: { name: 'echo', arguments: rawArgs } }),
      });
      rawBody = Buffer.from(await rr.arrayBuffer());
      assert.equal(rr.status, 200);
      // refused by the deny rule, and by no rule at all
      await assert.rejects(c.callTool({ name: 'read_file', arguments: { path: '/etc/passwd' } }), (e) => e.code === -32602);
      await assert.rejects(c.callTool({ name: 'delete_repo', arguments: { repo: 'acme/web' } }), (e) => e.code === -32602);
      // the upstream changes echo's definition: a pinned tool changed (tool.definition_changed)
      await fx.mutate();
      await c.listTools();
      // a bad token (the real one with its signature broken)
      const bad = token.slice(0, -6) + (token.endsWith('AAAAAA') ? 'BBBBBB' : 'AAAAAA');
      const rb = await fetch(`${gw.base}/fx/mcp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: ACCEPT, authorization: `Bearer ${bad}` },
        body: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}',
      });
      await rb.text();
      assert.equal(rb.status, 401);
      // session binding: the reader's session id with the admin's token is unknown (404, recorded);
      // a fresh token of the same principal keeps the session
      const hijack = await fetch(`${gw.base}/fx/mcp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: ACCEPT, 'mcp-session-id': sid,
          'mcp-protocol-version': t.protocolVersion, authorization: `Bearer ${await gw.token(ADMIN, '/fx/mcp')}` },
        body: '{"jsonrpc":"2.0","id":77,"method":"tools/list"}',
      });
      assert.equal(hijack.status, 404, await hijack.text());
      const fresh = (await idp.token(READER, { resource: `${gw.base}/fx/mcp` })).access_token;
      assert.notEqual(fresh, token);
      const same = await fetch(`${gw.base}/fx/mcp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: ACCEPT, 'mcp-session-id': sid,
          'mcp-protocol-version': t.protocolVersion, authorization: `Bearer ${fresh}` },
        body: '{"jsonrpc":"2.0","id":78,"method":"ping"}',
      });
      assert.equal(same.status, 200, await same.text());
      // reload (SIGHUP): the deny rule on read_file goes, limits change (they need a restart);
      // the same session is then allowed read_file
      const yamlNow = fs.readFileSync(gw.cfg, 'utf8');
      reloaded = yamlNow.replace(/    - id: no-read-file\n      effect: deny\n      principal:\n        groups: \[readers\]\n      tools: \[read_file\]\n/, '') +
        'limits:\n  batch_length: 16\n';
      assert.ok(!reloaded.includes('no-read-file'));
      fs.writeFileSync(gw.cfg, reloaded);
      process.kill(gw.proc.pid, 'SIGHUP');
      await waitForLog(gw.proc, /configuration reloaded from/);
      assert.equal((await c.callTool({ name: 'read_file', arguments: { path: '/srv/after-reload' } })).content[0].text, '/srv/after-reload');
      // a broken file is refused and the policy in force stays
      fs.writeFileSync(gw.cfg, reloaded + 'policy: [unclosed\n');
      process.kill(gw.proc.pid, 'SIGHUP');
      await waitForLog(gw.proc, /configuration not reloaded/);
      assert.equal((await c.callTool({ name: 'read_file', arguments: { path: '/srv/still' } })).content[0].text, '/srv/still');
      await t.terminateSession(); // DELETE: session.end
      await c.close();
      await fetch(`${fx.base}/control/reset`, { method: 'POST' });
    } finally {
      const ex = await stopClean(gw.proc);
      assert.equal(ex.code, 0, `clean exit\n${gw.proc.log().slice(-2000)}`);
    }

    const { recs, lines, torn } = parseAll(file);
    assert.equal(torn, null, 'a clean shutdown leaves no torn tail');
    assertSchema(recs);
    const types = new Set(recs.map((r) => r.type));
    for (const ty of TYPES) assert.ok(types.has(ty), `a ${ty} record (have ${[...types].join(', ')})`);
    assert.equal(recs[0].type, 'audit.start');
    assert.equal(recs[0].chain, 'new');
    assert.equal(recs[0].seq, 1);
    const last = recs[recs.length - 1];
    assert.equal(last.type, 'audit.checkpoint', 'a clean shutdown ends with a checkpoint');
    assert.ok(last.checkpoint.sig, 'signed');
    assert.equal(last.checkpoint.kid,
      crypto.createHash('sha256').update(JSON.stringify({ crv: 'Ed25519', kty: 'OKP', x: keyPub.export({ format: 'jwk' }).x })).digest('base64url'),
      'kid is the RFC 7638 thumbprint of the configured key');
    assert.equal(verifyChain(lines, keyPub), null, 'hash chain and checkpoint signatures');

    // the allowed call: decision and outcome by rid, the client's trace, the arguments digest
    const dec = recs.filter((r) => r.type === 'request.decision');
    const echo = dec.find((r) => r.action.method === 'tools/call' && r.action.name === 'echo');
    assert.ok(echo, 'decision of the echo call');
    assert.equal(echo.decision.effect, 'allow');
    assert.equal(echo.decision.rule, 'readers-echo');
    assert.equal(echo.action.upstream, 'fx');
    assert.equal(echo.action.arguments_digest, `sha256:${sha256hex(JSON.stringify(echoArgs))}`);
    assert.equal(echo.principal.sub, READER);
    assert.equal(echo.principal.method, 'jwt');
    assert.deepEqual(echo.principal.groups, ['readers']);
    assert.equal(echo.session, sha256hex(sid).slice(0, 16), 'session recorded as a 16-hex digest');
    assert.equal(echo.trace.trace_id, traceId);
    assert.equal(echo.trace.parent_id, parentId);
    assert.notEqual(echo.trace.span_id, parentId);
    const out = recs.filter((r) => r.type === 'request.outcome' && r.rid === echo.rid);
    assert.equal(out.length, 1, 'one outcome with the decision\'s rid');
    assert.ok(out[0].seq > echo.seq);
    assert.equal(out[0].outcome.http_status, 200);
    assert.deepEqual(out[0].trace, echo.trace);
    assert.equal(out[0].outcome.rpc_error, undefined, 'a result, not an error');
    assert.equal(out[0].outcome.tool_error, undefined);
    // the answer's digest is over the bytes the client got; a tool's isError and a refusal's code
    const outOf = (d) => recs.find((r) => r.type === 'request.outcome' && r.rid === d.rid);
    const byArgs = (a) => dec.find((r) => r.action.arguments_digest === `sha256:${sha256hex(JSON.stringify(a))}`);
    const rawOut = outOf(byArgs(rawArgs)).outcome;
    assert.equal(rawOut.result_bytes, rawBody.length);
    assert.equal(rawOut.result_digest, `sha256:${sha256hex(rawBody)}`);
    assert.equal(outOf(byArgs(failArgs)).outcome.tool_error, true, 'isError: the tool ran and failed');
    assert.equal(outOf(byArgs(failArgs)).outcome.rpc_error, undefined);
    // every decision has exactly one outcome
    for (const d of dec) {
      assert.equal(recs.filter((r) => r.type === 'request.outcome' && r.rid === d.rid).length, 1, `outcome of rid ${d.rid}`);
    }
    // the refusals
    const rf = dec.find((r) => r.action.name === 'read_file');
    assert.deepEqual([rf.decision.effect, rf.decision.rule, rf.decision.reason], ['deny', 'no-read-file', 'deny_rule']);
    const dr = dec.find((r) => r.action.name === 'delete_repo');
    assert.deepEqual([dr.decision.effect, dr.decision.rule, dr.decision.reason], ['deny', null, 'no_match']);
    assert.equal(outOf(rf).outcome.rpc_error, -32602, 'the refusal\'s JSON-RPC code');
    assert.equal(outOf(dr).outcome.rpc_error, -32602);
    assert.match(echo.decision.policy, /\S/);
    // the refused session id: who presented it, whose it was not
    const sr = recs.filter((r) => r.type === 'session.refused');
    assert.equal(sr.length, 1);
    assert.equal(sr[0].reason, 'other_principal');
    assert.equal(sr[0].principal.sub, ADMIN);
    assert.equal(sr[0].session, sha256hex(sid).slice(0, 16));
    // the reloads: applied (new policy digest, limits waiting for a restart), then rejected
    const reloads = recs.filter((r) => r.type === 'config.reload');
    assert.equal(reloads.length, 2);
    const [ok, refused] = reloads.map((r) => r.config);
    assert.equal(ok.result, 'applied');
    assert.equal(ok.file, gw.cfg);
    assert.equal(ok.digest, `sha256:${sha256hex(reloaded)}`);
    assert.equal(ok.policy.before, echo.decision.policy);
    assert.notEqual(ok.policy.after, ok.policy.before);
    assert.deepEqual(ok.restart_required, ['limits']);
    assert.equal(refused.result, 'rejected');
    assert.match(refused.error, new RegExp(`^${path.basename(gw.cfg)}|${gw.cfg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.equal(refused.policy.before, ok.policy.after);
    assert.equal(refused.policy.after, ok.policy.after);
    const rfAllowed = dec.filter((r) => r.action.name === 'read_file' && r.decision.effect === 'allow');
    assert.equal(rfAllowed.length, 2, 'read_file allowed twice after the reload');
    for (const d of rfAllowed) assert.equal(d.decision.policy, ok.policy.after);
    // auth failure, sessions, the changed tool
    const af = recs.find((r) => r.type === 'auth.failure');
    assert.equal(af.auth.status, 401);
    assert.equal(af.auth.error, 'invalid_token');
    const sdig = sha256hex(sid).slice(0, 16);
    assert.ok(recs.some((r) => r.type === 'session.start' && r.session === sdig));
    assert.ok(recs.some((r) => r.type === 'session.end' && r.session === sdig && r.reason === 'delete'),
      'the DELETE ended it, and the record says so');
    const tc = recs.find((r) => r.type === 'tool.definition_changed');
    assert.deepEqual([tc.upstream, tc.name], ['fx', 'echo']);
    assert.notEqual(tc.digest.approved, tc.digest.now);

    // never recorded: the token, its signature, the session id
    const raw = fs.readFileSync(file, 'latin1');
    const sigPart = token.split('.')[2];
    assert.ok(!raw.includes(token), 'the access token is not in the trail');
    assert.ok(!raw.includes(sigPart), 'nor its signature part');
    assert.ok(!raw.includes(token.split('.')[1]), 'nor its payload part');
    assert.ok(!raw.includes(sid), 'nor the session id');
    assert.ok(!raw.includes(echoArgs.message), 'nor an argument value');
    // the span the upstream saw is the one the gateway recorded for that call
    const callDecision = recs.find((x) => x.type === 'request.decision' && x.action.name === 'echo' &&
      x.decision.effect === 'allow');
    assert.equal(callDecision.trace.span_id, upstreamSpan);
    schemaRun = { file, lines, recs };
  });

  test('OCSF: `gatehouse audit export --format ocsf` maps every record of the run to one OCSF 1.3.0 event', () => {
    assert.ok(schemaRun, 'needs the records of (a)');
    const r = spawnSync(GATEHOUSE_BIN, ['audit', 'export', '--format', 'ocsf', schemaRun.file],
      { encoding: 'utf8', timeout: 20000 });
    assert.equal(r.status, 0, r.stderr);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(events.length, schemaRun.recs.length, 'one event per record');
    events.forEach((e, i) => {
      const native = schemaRun.recs[i];
      assert.equal(e.metadata.version, '1.3.0');
      assert.equal(e.metadata.uid, `${native.gateway}-${native.seq}`);
      assert.equal(e.class_uid, native.type === 'auth.failure' ? 3002 : 6003, native.type);
      assert.equal(e.type_uid, e.class_uid * 100 + e.activity_id);
      if (native.type === 'request.decision') {
        assert.equal(e.metadata.correlation_uid, native.rid);
        assert.equal(e.api.operation, native.action.method);
        assert.equal(e.status_id, native.decision.effect === 'allow' ? 1 : 2);
      }
    });
  });

  // ------------------------------------------------------------------------------------------
  test('(b) before-forward: after kill -9, every call the upstream received has its decision on disk', async (t) => {
    const dir = path.join(tmp, 'b');
    fs.mkdirSync(dir);
    const file = path.join(dir, 'audit.jsonl');
    const gw = await startGw('gatehouse-audit-bf', idp, dir, {
      path: file, durability: 'before-forward', key: `file:${path.join(tmp, 'audit-ed25519.pem')}`,
    }, `
upstreams:
  - name: fx
    url: ${fx.url}
    path: /fx/mcp
`);
    const url = `${gw.base}/fx/mcp`;
    const token = await gw.token(ADMIN, '/fx/mcp');
    const runId = crypto.randomBytes(4).toString('hex');
    const sent = new Map(); // message -> the exact params.arguments bytes sent
    let answered = 0;
    let killed = false;
    try {
      const sessions = await Promise.all(Array.from({ length: 20 }, () => rawSession(url, { authorization: `Bearer ${token}` })));
      const ac = new AbortController();
      const callers = sessions.map(async (s, ci) => {
        for (let n = 0; !killed; n++) {
          const args = JSON.stringify({ message: `bf-${runId}-${ci}-${n}` });
          sent.set(`bf-${runId}-${ci}-${n}`, args);
          const body = `{"jsonrpc":"2.0","id":${s.nextId()},"method":"tools/call","params":{"name":"echo","arguments":${args}}}`;
          try {
            const r = await s.raw(body, ac.signal);
            if (r.status === 200) answered++;
          } catch { return; }
        }
      });
      await sleep(2000);
      process.kill(gw.proc.pid, 'SIGKILL'); // calls are in flight
      killed = true;
      await gw.proc.exited;
      ac.abort();
      await Promise.allSettled(callers);
    } finally {
      await stop(gw.proc);
    }
    assert.ok(answered > 20, `calls went through before the kill (${answered})`);
    const received = (await fx.calls()).filter((c) => c.name === 'echo' && String(c.arguments?.message || '').startsWith(`bf-${runId}-`));
    assert.ok(received.length >= answered, `the fixture received ${received.length}, the callers got ${answered} answers`);

    const { recs, lines, torn } = parseAll(file);
    assertSchema(recs);
    assert.equal(verifyChain(lines, keyPub), null, 'the chain holds up to the crash');
    t.diagnostic(`20 callers, ${sent.size} calls sent, ${answered} answered, ${received.length} received by the fixture, ` +
      `${recs.filter((r) => r.type === 'request.decision').length} decisions on disk, torn tail ${torn ? torn.length + ' bytes' : 'none'}`);
    const digests = new Set(recs.filter((r) => r.type === 'request.decision').map((r) => r.action.arguments_digest));
    const missing = received.filter((c) => !digests.has(`sha256:${sha256hex(sent.get(c.arguments.message))}`));
    assert.deepEqual(missing.map((c) => c.arguments.message), [],
      `calls that reached the upstream without a durable decision record (of ${received.length}; torn tail: ${torn ? torn.length + ' bytes' : 'none'})`);
    if (HAS_VERIFY) {
      const v = auditVerify(['--key', path.join(tmp, 'audit-ed25519.pub.pem'), file]);
      assert.equal(v.status, 0, `audit verify after kill -9: ${v.stdout}${v.stderr}`);
    } else {
      t.diagnostic('gatehouse audit verify not in this binary: checked by the JS verifier only');
    }
  });

  // ------------------------------------------------------------------------------------------
  test('(c) injection: newlines, fake JSON, ANSI, invalid UTF-8 and 1 MB values stay inside one escaped line', async (t) => {
    const dir = path.join(tmp, 'c');
    fs.mkdirSync(dir);
    const file = path.join(dir, 'audit.jsonl');
    const gw = await startGw('gatehouse-audit-inject', null, dir, { path: file }, `
upstreams:
  - name: fx
    url: ${fx.url}
    path: /fx/mcp
`);
    const url = `${gw.base}/fx/mcp`;
    const evil = 'x\n{"v":1,"seq":999,"type":"audit.start","fake":true}\r\n\u001b[31mRED\u001b[0m\u0007\u007f "\\ end';
    const big = 'B'.repeat(1 << 20);
    const bigUtf8 = 'é'.repeat(600) + 'Z'.repeat(100); // 1300 bytes, cut must not split an é
    try {
      const s = await rawSession(url);
      // tool names through JSON (escapes decoded by the gateway's parser)
      for (const name of [evil, big, bigUtf8]) {
        await s.raw(JSON.stringify({ jsonrpc: '2.0', id: s.nextId(), method: 'tools/call', params: { name, arguments: {} } }));
      }
      // invalid UTF-8 bytes inside a JSON string (raw bytes on the wire)
      const head = (len, ua) => Buffer.concat([
        Buffer.from(`POST /fx/mcp HTTP/1.1\r\nHost: 127.0.0.1:${gw.port}\r\nContent-Type: application/json\r\n` +
          `Accept: ${ACCEPT}\r\nMcp-Session-Id: ${s.sid}\r\nMCP-Protocol-Version: ${PV}\r\nContent-Length: ${len}\r\n` +
          'Connection: close\r\nUser-Agent: '), ua, Buffer.from('\r\n\r\n')]);
      const badBody = Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"inv\xff\xfe\xc3(', 'latin1'),
        Buffer.from('ok","arguments":{}}}')]);
      const st1 = await rawHttp(gw.port, head(badBody.length, Buffer.from('ua-plain')), badBody);
      // user agents with ANSI escapes, fake JSON, invalid UTF-8 (raw header bytes)
      const okBody = Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 8, method: 'tools/list' }));
      const uaEvil = Buffer.concat([Buffer.from('ua ",{"type":"fake"} '), Buffer.from([0xff, 0xc3, 0x28, 0x80]), Buffer.from(' end')]);
      const st2 = await rawHttp(gw.port, head(okBody.length, uaEvil), okBody);
      // control characters (ESC, BEL, DEL) in a header are not HTTP: a 400 is fine, a record must be escaped
      const uaCtl = Buffer.from('uactl \x1b[2J\x1b[31m\x07\x7f end', 'latin1');
      const st2c = await rawHttp(gw.port, head(okBody.length, uaCtl), okBody);
      // a long user agent (past the 1024-byte cut, under typical header limits)
      const uaLong = Buffer.from('L'.repeat(6000));
      const st3 = await rawHttp(gw.port, head(okBody.length, uaLong), okBody);
      // obs-fold: a header continued on the next line
      const uaFold = Buffer.from('folded\r\n {"type":"fake2"}');
      const st4 = await rawHttp(gw.port, head(okBody.length, uaFold), okBody);
      t.diagnostic(`raw statuses: invalid-utf8 body ${st1}; evil UA ${st2}; control-char UA ${st2c}; long UA ${st3}; folded UA ${st4}`);
      assert.match(st2, /^HTTP\/1\.1 200/, 'the evil user agent is accepted (so it is recorded)');
      assert.match(st3, /^HTTP\/1\.1 200/, 'the long user agent is accepted');
      // 1 MB string in a traceparent (not recorded: invalid, a trace is minted)
      await s.raw(JSON.stringify({ jsonrpc: '2.0', id: s.nextId(), method: 'tools/list' }));
    } finally {
      const ex = await stopClean(gw.proc);
      assert.equal(ex.code, 0);
    }
    const { raw, lines, torn } = readLines(file);
    assert.equal(torn, null);
    assert.ok(!raw.includes(Buffer.from('\x1b')), 'no raw ESC byte in the file');
    assert.ok(!raw.includes(Buffer.from([0xff])), 'no raw 0xff byte');
    assert.ok(!raw.includes(Buffer.from('\r')), 'no raw CR');
    assert.ok(raw.toString('utf8') === new TextDecoder('utf-8', { fatal: true }).decode(raw), 'the file is valid UTF-8');
    for (const l of lines) assert.ok(!/[\u0000-\u001f\u007f]/.test(l), `a raw control character in ${l.slice(0, 200)}`);
    const { recs } = parseAll(file);
    assertSchema(recs);
    assert.equal(verifyChain(lines, null), null);
    assert.ok(!recs.some((r) => r.seq === 999 || r.fake), 'no injected record');
    const names = recs.filter((r) => r.type === 'request.decision' && r.action.method === 'tools/call').map((r) => r.action.name);
    // the newline/JSON/ANSI name is kept whole, escaped
    assert.ok(names.includes(evil), `the evil name round-trips escaped (have ${JSON.stringify(names).slice(0, 300)})`);
    assert.ok(lines.some((l) => l.includes('\\u000a{\\"v\\":1') && l.includes('\\u001b[31mRED')), 'escaped as \\u000a, \\", \\u001b');
    // the 1 MB name: 1024 bytes, then …(N bytes, sha256:<16 hex>)
    const cut = names.find((n) => n && n.startsWith('BBBB'));
    assert.ok(cut, 'the 1 MB name is recorded');
    assert.equal(cut, 'B'.repeat(1024) + `…(${1 << 20} bytes, sha256:${sha256hex(big).slice(0, 16)})`);
    const cutU = names.find((n) => n && n.startsWith('éé'));
    assert.ok(cutU, 'the long UTF-8 name is recorded');
    assert.equal(cutU, 'é'.repeat(512) + `…(1300 bytes, sha256:${sha256hex(bigUtf8).slice(0, 16)})`, 'cut at a character boundary');
    for (const l of lines) assert.ok(Buffer.byteLength(l) < 8192, `a line of ${Buffer.byteLength(l)} bytes`);
    // invalid UTF-8 in the name (if the request got that far) and in the user agent: U+FFFD
    const inv = names.find((n) => n && n.startsWith('inv'));
    if (inv !== undefined) assert.ok(inv.includes('\ufffd') && inv.endsWith('ok'), `invalid bytes as U+FFFD: ${JSON.stringify(inv)}`);
    const uas = recs.filter((r) => r.source).map((r) => r.source.user_agent);
    const uaRec = uas.find((u) => u && u.startsWith('ua '));
    assert.ok(uaRec, `the evil user agent is recorded (have ${JSON.stringify(uas.map((u) => u && u.slice(0, 40)))})`);
    assert.ok(uaRec.includes('",{"type":"fake"}') && uaRec.endsWith('\ufffd\ufffd(\ufffd end'),
      `escaped, invalid bytes as U+FFFD: ${JSON.stringify(uaRec)}`);
    const uaC = uas.find((u) => u && u.startsWith('uactl'));
    if (uaC !== undefined) assert.equal(uaC, 'uactl \u001b[2J\u001b[31m\u0007\u007f end');
    const uaL = uas.find((u) => u && u.startsWith('LLLL'));
    assert.equal(uaL, 'L'.repeat(1024) + `…(6000 bytes, sha256:${sha256hex('L'.repeat(6000)).slice(0, 16)})`);
    assert.ok(!uas.some((u) => u && u.includes('fake2') && !u.startsWith('folded')), 'a folded header line is not a record of its own');
  });

  // ------------------------------------------------------------------------------------------
  test('(d) tampering: an edited field names its seq, a deleted line is refused', async (t) => {
    assert.ok(schemaRun, '(a) ran');
    const { file, lines, recs } = schemaRun;
    const dir = path.join(tmp, 'd');
    fs.mkdirSync(dir);
    // edit: the user agent of the echo call's decision
    const i = recs.findIndex((r) => r.type === 'request.decision' && r.action.name === 'echo');
    const victim = recs[i];
    const edited = lines.slice();
    edited[i] = lines[i].replace('"effect":"allow"', '"effect":"deny"');
    assert.notEqual(edited[i], lines[i]);
    const fEdit = path.join(dir, 'edited.jsonl');
    fs.writeFileSync(fEdit, edited.join('\n') + '\n');
    // delete: a line in the middle
    const j = Math.floor(lines.length / 2);
    const fDel = path.join(dir, 'deleted.jsonl');
    fs.writeFileSync(fDel, lines.filter((_, k) => k !== j).join('\n') + '\n');
    // the JS verifier (FORMAT.md) sees both: the record after the edited one no longer chains
    assert.equal(verifyChain(edited, keyPub)?.seq, victim.seq + 1);
    assert.equal(verifyChain(lines.filter((_, k) => k !== j), keyPub)?.seq, recs[j + 1].seq);

    if (!HAS_VERIFY) {
      t.skip('`gatehouse audit verify` is not in this binary yet: the edit and the deletion were checked with the JS verifier only');
      return;
    }
    const pub = path.join(tmp, 'audit-ed25519.pub.pem');
    const good = auditVerify(['--key', pub, file]);
    assert.equal(good.status, 0, `untouched file: ${good.stdout}${good.stderr}`);
    const e = auditVerify(['--key', pub, fEdit]);
    assert.equal(e.status, 1, `edited: ${e.stdout}${e.stderr}`);
    // the edited record is seq N; the chain breaks at N+1 (its prev no longer matches): either may be named
    const named = /record (?:seq |#)?(\d+)/.exec(e.stdout + e.stderr);
    assert.ok(named && [victim.seq, victim.seq + 1].includes(Number(named[1])),
      `names seq ${victim.seq} (or ${victim.seq + 1}): ${e.stdout}${e.stderr}`);
    const d = auditVerify(['--key', pub, fDel]);
    assert.equal(d.status, 1, `deleted line: ${d.stdout}${d.stderr}`);
    assert.match(d.stdout + d.stderr, new RegExp(`record (?:seq |#)?(${recs[j + 1].seq}|${recs[j].seq})\\b`));
  });

  // ------------------------------------------------------------------------------------------
  test('(e) forwarded: only a trusted proxy\'s Forwarded / X-Forwarded-For name the client', async () => {
    const dir = path.join(tmp, 'e');
    fs.mkdirSync(dir);
    const file = path.join(dir, 'audit.jsonl');
    const gw = await startGw('gatehouse-audit-forwarded', null, dir, { path: file, durability: 'buffered' }, `
upstreams:
  - name: fx
    url: ${fx.url}
    path: /fx/mcp
`, ['  trusted_proxies: [127.0.0.2, 10.0.0.0/8]']);
    /** One initialize from localAddress with extra headers; the user agent tags its record. */
    const post = (localAddress, ua, headers, msg) => new Promise((resolve, reject) => {
      const body = JSON.stringify(msg ?? { jsonrpc: '2.0', id: 1, method: 'initialize',
        params: { protocolVersion: PV, capabilities: {}, clientInfo: { name: 'fwd', version: '1' } } });
      const req = http.request({ host: '127.0.0.1', port: gw.port, path: '/fx/mcp', method: 'POST', localAddress,
        headers: { 'content-type': 'application/json', accept: ACCEPT, 'user-agent': ua, ...headers } }, (res) => {
        res.resume();
        res.on('end', () => resolve(msg ? res.statusCode : { status: res.statusCode, sid: res.headers['mcp-session-id'] }));
      });
      req.on('error', reject);
      req.end(body);
    });
    try {
      // an untrusted peer: its forwarding and identity headers are not read
      const spoof = { 'x-forwarded-for': '203.0.113.50', forwarded: 'for=203.0.113.51', 'x-forwarded-user': 'admin',
        'x-remote-user': 'admin', 'x-forwarded-host': 'evil.example', cookie: 'session=abc' };
      const init = await post('127.0.0.1', 'ua-untrusted', spoof);
      assert.equal(init.status, 200);
      // the trusted proxy: the right-most hop that is not itself trusted is the client
      assert.equal((await post('127.0.0.2', 'ua-xff', { 'x-forwarded-for': '198.51.100.7, 10.9.9.9' })).status, 200);
      assert.equal((await post('127.0.0.2', 'ua-spoofed-left', { 'x-forwarded-for': '6.6.6.6, 198.51.100.8' })).status, 200);
      assert.equal((await post('127.0.0.2', 'ua-forwarded', {
        forwarded: 'for="[2001:db8::5]:4711";proto=https, for=10.0.0.1', 'x-forwarded-for': '192.0.2.99' })).status, 200);
      assert.equal((await post('127.0.0.2', 'ua-unknown', { 'x-forwarded-for': 'unknown' })).status, 200);
      assert.equal((await post('127.0.0.2', 'ua-none', {})).status, 200);
      // a call in the untrusted peer's session: the upstream gets none of those headers
      const s = { ...spoof, 'mcp-session-id': init.sid, 'mcp-protocol-version': PV };
      assert.equal(await post('127.0.0.1', 'ua-untrusted', s, { jsonrpc: '2.0', method: 'notifications/initialized' }), 202);
      const marker = `fwd ${crypto.randomUUID()}`;
      assert.equal(await post('127.0.0.1', 'ua-untrusted', s,
        { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { message: marker } } }), 200);
      const got = (await (await fetch(`${fx.base}/control/requests`)).json())
        .filter((q) => q.type === 'tool' && q.arguments?.message === marker);
      assert.equal(got.length, 1);
      const names = Object.keys(got[0].headers).map((h) => h.toLowerCase());
      for (const h of Object.keys(spoof)) assert.ok(!names.includes(h), `${h} is not passed upstream (got ${names.join(', ')})`);
    } finally {
      const ex = await stopClean(gw.proc);
      assert.equal(ex.code, 0);
    }
    const { recs } = parseAll(file);
    assertSchema(recs);
    const src = (ua) => {
      const d = recs.find((r) => r.type === 'request.decision' && r.source.user_agent === ua);
      assert.ok(d, `a decision from ${ua}`);
      return d.source;
    };
    assert.match(src('ua-untrusted').address, /^127\.0\.0\.1:\d+$/);
    assert.equal(src('ua-untrusted').proxy, undefined);
    assert.equal(src('ua-xff').address, '198.51.100.7');
    assert.match(src('ua-xff').proxy, /^127\.0\.0\.2:\d+$/);
    assert.equal(src('ua-spoofed-left').address, '198.51.100.8', 'what the client wrote on the left is not believed');
    assert.equal(src('ua-forwarded').address, '2001:db8::5', 'Forwarded wins over X-Forwarded-For');
    assert.equal(src('ua-unknown').address, 'unknown');
    assert.match(src('ua-none').address, /^127\.0\.0\.2:\d+$/, 'a trusted peer without headers is the client');
    assert.equal(src('ua-none').proxy, undefined);
    const raw = fs.readFileSync(file, 'utf8');
    assert.ok(!raw.includes('203.0.113.5'), 'an untrusted peer\'s forwarding headers are not recorded as the client');
  });
});
