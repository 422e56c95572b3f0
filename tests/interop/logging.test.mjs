// Interop: the gateway's operational log (its standard error, read apart from
// standard output). Serving without authentication must say INSECURE at warn
// level, whatever the log level; every line is `time level module: message`, one
// per event; control characters a hostile peer sends are escaped, so it can
// neither forge a line nor send terminal sequences; and no token or secret-looking
// header value, query parameter, session id or argument a client sends appears,
// even at debug level. Peers: the SDK client, server-everything (HTTP upstream),
// stdio-fixture.mjs (stdio upstream whose `stderr` tool writes hostile bytes to its
// stderr, which the gateway logs), and `gatehouse dev`'s own issuer for tokens.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { DIRECT, GATEHOUSE_BIN, HERE, OUT_DIR, freePort, startEverything, stop, waitFor } from './lib/harness.mjs';
import { initializeBody, postHeaders, rawRequest } from './lib/raw.mjs';

const T = { timeout: 60000 };
const skip = DIRECT ? 'direct mode: the gateway log is the subject' : false;
// time level module: message — the format docs/operations.md promises
const LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (error|warn|info|debug) [a-z]+: \S.*$/;
// any C0 control byte but the line feed, or DEL
const RAW_CONTROL = /[\x00-\x09\x0b-\x1f\x7f]/;
const INSECURE = / warn cli: INSECURE: serving WITHOUT authentication/;

/**
 * Starts the gateway with stdout and stderr kept apart (stderr also copied to
 * out/<name>.log, where run.sh looks for sanitizer reports). Resolves once stdout
 * says GATEHOUSE_LISTEN; { proc, base, url, out(), err(), lines() }.
 */
async function startGatehouse(name, args) {
  mkdirSync(OUT_DIR, { recursive: true });
  const file = createWriteStream(path.join(OUT_DIR, `${name}.log`));
  // cwd: out/, so files the gateway makes there (dev's audit trail) stay with the logs
  const child = spawn(GATEHOUSE_BIN, args, { cwd: OUT_DIR, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => {
    err += d;
    file.write(d);
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  exited.then(() => setTimeout(() => file.end(), 50));
  const proc = {
    name,
    pid: child.pid,
    exited,
    alive: () => child.exitCode === null && child.signalCode === null,
    log: () => `${out}\n${err}`,
  };
  await waitFor(`${name} GATEHOUSE_LISTEN`, () => /GATEHOUSE_LISTEN (\S+)/.test(out), { timeoutMs: 20000, proc });
  const base = /GATEHOUSE_LISTEN (\S+)/.exec(out)[1];
  return {
    proc,
    base,
    url: `${base}/mcp`,
    out: () => out,
    err: () => err,
    lines: () => err.split('\n').filter((l) => l !== ''),
  };
}

function assertWellFormed(g) {
  const text = g.err();
  assert.ok(text.endsWith('\n'), 'the log ends with a whole line');
  assert.doesNotMatch(text, RAW_CONTROL, 'no raw control character in the log');
  for (const l of g.lines()) assert.match(l, LINE);
}

const secret = (prefix) => `${prefix}${randomBytes(18).toString('hex')}`;

describe('INSECURE warning when serving without authentication', { skip }, () => {
  const started = [];
  after(async () => {
    for (const g of started) await stop(g.proc);
  });
  const start = async (name, args) => {
    const g = await startGatehouse(name, args);
    started.push(g);
    return g;
  };
  const upstream = 'http://127.0.0.1:9/mcp'; // never reached: these tests read the start-up lines

  for (const level of ['debug', 'info', 'warn', 'error']) {
    test(`--insecure-no-auth at --log-level ${level}: one INSECURE warning, before serving`, T, async () => {
      const port = await freePort();
      const g = await start(`gatehouse-log-insecure-${level}`, [
        'serve', '--listen', `127.0.0.1:${port}`, '--upstream', upstream, '--insecure-no-auth', '--log-level', level,
      ]);
      await waitFor('the INSECURE line', () => INSECURE.test(g.err()), { timeoutMs: 10000, proc: g.proc });
      const lines = g.lines();
      assert.equal(lines.filter((l) => INSECURE.test(l)).length, 1, lines.join('\n'));
      if (level === 'error') {
        // everything else below error stays quiet: only the warning that must never be missed
        assert.deepEqual(lines.filter((l) => !/ error /.test(l) && !INSECURE.test(l)), []);
      } else {
        await waitFor('the serving line', () => / info cli: gatehouse .* serving /.test(g.err()) || level === 'warn', {
          timeoutMs: 10000,
          proc: g.proc,
        });
        const at = lines.findIndex((l) => INSECURE.test(l));
        const serving = g.lines().findIndex((l) => / serving \d+ upstream/.test(l));
        if (serving >= 0) assert.ok(at < serving, 'the warning comes before the gateway serves');
      }
      assertWellFormed(g);
    });
  }

  test('gateway.insecure_no_auth: true in the file warns the same way', T, async () => {
    const port = await freePort();
    mkdirSync(OUT_DIR, { recursive: true });
    const cfg = path.join(OUT_DIR, 'gatehouse-log-insecure.yaml');
    writeFileSync(
      cfg,
      ['gateway:', '  insecure_no_auth: true', '  log_level: info', 'listeners:', `  - address: "127.0.0.1:${port}"`,
        'upstreams:', '  - name: up', `    url: ${upstream}`].join('\n') + '\n',
    );
    const g = await start('gatehouse-log-insecure-file', ['serve', '--config', cfg]);
    await waitFor('the INSECURE line', () => INSECURE.test(g.err()), { timeoutMs: 10000, proc: g.proc });
    assertWellFormed(g);
  });

  test('with authentication (gatehouse dev and its issuer) there is no INSECURE line', T, async () => {
    const port = await freePort();
    const g = await start('gatehouse-log-dev-noinsecure', ['dev', '--listen', `127.0.0.1:${port}`]);
    await waitFor('the serving line', () => / serving \d+ upstream/.test(g.err()), { timeoutMs: 10000, proc: g.proc });
    assert.doesNotMatch(g.err(), /INSECURE/);
  });
});

describe('log format and secrets, through the gateway at debug level', { skip }, () => {
  let everything;
  let g;
  before(async () => {
    everything = await startEverything('everything-logging');
    const port = await freePort();
    g = await startGatehouse('gatehouse-logging', [
      'serve', '--listen', `127.0.0.1:${port}`, '--upstream', everything.url, '--insecure-no-auth', '--log-level', 'debug',
    ]);
  }, { timeout: 60000 });
  after(async () => {
    await stop(g?.proc);
    await stop(everything?.proc);
  });

  test('client tokens, secret-looking headers, query values, session ids and arguments stay out of the log', T, async () => {
    const s = {
      bearer: secret('eyJhbGciOiJIUzI1NiJ9.'),
      apiKey: secret('sk-live-'),
      cookie: secret('sess-'),
      proxyAuth: secret('Basic '),
      query: secret('qtok-'),
      sessionId: secret('sid-'),
      argument: secret('ghp_'),
    };
    const secretHeaders = {
      authorization: `Bearer ${s.bearer}`,
      'x-api-key': s.apiKey,
      cookie: `session=${s.cookie}`,
      'proxy-authorization': s.proxyAuth,
    };
    // 1. a whole SDK session carrying the headers, calling a tool with a secret argument
    const client = new Client({ name: 'gatehouse-logging', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(`${g.url}?access_token=${s.query}`), {
      requestInit: { headers: secretHeaders },
    });
    await client.connect(transport);
    try {
      const r = await client.callTool({ name: 'echo', arguments: { message: s.argument } });
      assert.match(r.content[0].text, new RegExp(s.argument), 'the call itself went through');
    } finally {
      await client.close();
    }
    // 2. requests the gateway refuses, each with the secrets on it; each refusal is logged
    const raw = (headers, body = initializeBody()) =>
      rawRequest(`${g.url}?access_token=${s.query}`, {
        headers: { ...postHeaders(), ...secretHeaders, ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
    assert.equal((await raw({ origin: 'https://evil.example' })).status, 403);
    assert.equal((await raw({ host: 'evil.example.com' })).status, 403);
    const unknown = await raw({ 'mcp-session-id': s.sessionId, 'mcp-protocol-version': '2025-06-18' }, {
      jsonrpc: '2.0', id: 2, method: 'tools/list',
    });
    assert.equal(unknown.status, 404);
    assert.equal((await raw({ 'content-type': 'text/plain' })).status, 415);
    // the refusals above are logged (debug: one line per rejected request): wait for them, so
    // the absence checks below read a log that already holds every event of this test
    await waitFor('the Host and Origin refusals in the log', () =>
      /rejected: Origin not allowed/.test(g.err()) && /rejected: Host header/.test(g.err()), { timeoutMs: 10000, proc: g.proc });
    const log = g.err();
    for (const [what, value] of Object.entries(s)) {
      assert.ok(!log.includes(value), `${what} (${value}) appears in the log`);
    }
    // nor the distinctive part of any of them (a log that cut or re-encoded them)
    for (const value of Object.values(s)) assert.ok(!log.includes(value.slice(-16)), 'a secret tail appears in the log');
    assertWellFormed(g);
  });
});

describe('tokens and the authentication refusal log (gatehouse dev)', { skip }, () => {
  let g;
  let token;
  before(async () => {
    const port = await freePort();
    g = await startGatehouse('gatehouse-logging-dev', ['dev', '--listen', `127.0.0.1:${port}`, '--log-level', 'debug']);
    await waitFor('the dev token on stdout', () => /GATEHOUSE_TOKEN \S+/.test(g.out()), { timeoutMs: 10000, proc: g.proc });
    token = /GATEHOUSE_TOKEN (\S+)/.exec(g.out())[1];
  }, { timeout: 60000 });
  after(async () => stop(g?.proc));

  test('a valid token and a forged one are used, refused ones logged, and neither token is in the log', T, async () => {
    // the valid token works (a whole session)
    const client = new Client({ name: 'gatehouse-logging', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(g.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }),
    );
    await client.listTools();
    await client.close();
    // a forged token: the dev token with its signature replaced
    const [h, p] = token.split('.');
    const forged = `${h}.${p}.${randomBytes(64).toString('base64url')}`;
    const r = await rawRequest(g.url, {
      headers: { ...postHeaders(), authorization: `Bearer ${forged}` },
      body: initializeBody(),
    });
    assert.equal(r.status, 401);
    await waitFor('the refusal in the log', () => / debug auth: refused 401/.test(g.err()), { timeoutMs: 10000, proc: g.proc });
    const log = g.err();
    assert.ok(!log.includes(token), 'the valid token appears in the log');
    assert.ok(!log.includes(forged.split('.')[2]), 'the forged signature appears in the log');
    assert.ok(!log.includes(p), 'the token payload appears in the log');
    assertWellFormed(g);
  });
});

describe('a hostile peer cannot forge log lines (control characters escaped)', { skip }, () => {
  let g;
  before(async () => {
    const port = await freePort();
    g = await startGatehouse('gatehouse-logging-stdio', [
      'serve', '--listen', `127.0.0.1:${port}`,
      '--upstream-stdio', `${process.execPath} ${path.join(HERE, 'stdio-fixture.mjs')}`,
      '--insecure-no-auth', '--log-level', 'info',
    ]);
  }, { timeout: 60000 });
  after(async () => stop(g?.proc));

  test('stderr of a stdio upstream with ESC, BEL, CR, DEL and a fake log line is escaped, one line per line', T, async () => {
    const client = new Client({ name: 'gatehouse-logging', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(g.url)));
    const fake = '2026-01-01T00:00:00.000Z error cli: forged';
    const hostile = `hostile\x1b[2J\x1b]0;title\x07bell\r${fake}-by-cr\x7fdel\x08bs\tend\n${fake}-by-lf\n`;
    try {
      const r = await client.callTool({ name: 'stderr', arguments: { text: hostile } });
      assert.equal(r.content[0].text, 'written');
    } finally {
      await client.close();
    }
    await waitFor('both hostile lines in the log', () => /forged-by-lf/.test(g.err()), { timeoutMs: 15000, proc: g.proc });
    const lines = g.lines();
    const first = lines.find((l) => l.includes('hostile'));
    assert.equal(
      first.slice(first.indexOf(' warn ')),
      ` warn upstream: stdio: hostile\\x1b[2J\\x1b]0;title\\x07bell\\x0d${fake}-by-cr\\x7fdel\\x08bs\\x09end`,
    );
    // the line after the child's newline is its own event, attributed to the upstream, not a forgery
    const second = lines.find((l) => l.endsWith(`${fake}-by-lf`));
    assert.match(second, new RegExp(` warn upstream: stdio: ${fake}-by-lf$`));
    assert.equal(lines.filter((l) => l.startsWith('2026-01-01T00:00:00.000Z')).length, 0, 'a forged line starts the log line');
    assertWellFormed(g);
  });
});
