#!/usr/bin/env node
// Conformance comparison: runs the official @modelcontextprotocol/conformance
// server suite (on Node 22) once directly against the SDK fixture server, once
// through `gatehouse serve --upstream <fixture>` (HTTP upstream) and once through
// a gateway that spawns `fixture-server.mjs --stdio` per session (stdio upstream),
// then compares each gateway run with the direct one per check, both ways
// (lib/conformance-compare.mjs): a check that passes only direct, one that passes
// only through the gateway, and one that fails or warns on one side only are all
// differences. Exits non-zero on any difference, unless it is in
// STDIO_KNOWN_DIFFERENCES (exact verdict pair, printed with its reason, never silent).
// Last line: `N passed, M failed`, one test per scenario and gateway run
// (passed = same verdict for every check, known differences excepted).
//
// Usage: node conformance.mjs [--scenario NAME]... [--suite all|active|pending] [--only http|stdio]
//          [--markdown]   (also print the per-scenario result table, as in docs/conformance.md)
// Env:   GATEHOUSE_BIN (gateway binary), GH_INTEROP_DIRECT=1 (direct run only)
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  CONFORMANCE_JS,
  DIRECT,
  GATEHOUSE_BIN,
  HERE,
  NODE22,
  OUT_DIR,
  freePort,
  sleep,
  spawnLogged,
  startGateway,
  stop,
  waitForHttp,
  waitForLog,
} from './lib/harness.mjs';
import { NOT_SCORED, compareRuns, markdownTable } from './lib/conformance-compare.mjs';

const RUN_TIMEOUT_MS = Number(process.env.GH_CONFORMANCE_TIMEOUT_MS || 10 * 60 * 1000);

function parseArgs(argv) {
  const opts = { scenarios: [], suite: 'all', only: null, markdown: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--scenario') opts.scenarios.push(argv[++i]);
    else if (argv[i] === '--suite') opts.suite = argv[++i];
    else if (argv[i] === '--only') opts.only = argv[++i];
    else if (argv[i] === '--markdown') opts.markdown = true;
    else if (argv[i] === '--help' || argv[i] === '-h') {
      console.log('usage: node conformance.mjs [--scenario NAME]... [--suite all|active|pending] [--only http|stdio] [--markdown]');
      process.exit(0);
    } else throw new Error(`unknown argument ${argv[i]}`);
  }
  return opts;
}

async function startFixture() {
  const port = await freePort();
  const proc = spawnLogged('conformance-fixture', process.execPath, [path.join(HERE, 'fixture-server.mjs'), '--port', String(port)]);
  try {
    await waitForLog(proc, /fixture listening on/, { timeoutMs: 15000 });
  } catch (err) {
    await stop(proc);
    throw err;
  }
  return { proc, port, url: `http://127.0.0.1:${port}/mcp` };
}

/** Runs the conformance CLI once; resolves its exit code (null on timeout). */
async function runCli(label, url, args, outDir) {
  const proc = spawnLogged(label, NODE22, [CONFORMANCE_JS, 'server', '--url', url, ...args, '-o', outDir]);
  const timer = sleep(RUN_TIMEOUT_MS).then(() => 'timeout');
  const r = await Promise.race([proc.exited, timer]);
  if (r === 'timeout') {
    console.error(`${label}: timed out after ${RUN_TIMEOUT_MS} ms, stopping pid ${proc.pid}`);
    await stop(proc);
    return null;
  }
  return r.code;
}

/**
 * Runs the suite (or each named scenario) against url. Resolves
 * Map<scenario, checks[]> read from the checks.json files under outDir.
 */
async function runSuite(label, url, opts) {
  const outDir = path.join(OUT_DIR, label);
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  if (opts.scenarios.length) {
    for (const s of opts.scenarios) await runCli(`${label}-${s}`, url, ['--scenario', s], outDir);
  } else {
    await runCli(label, url, ['--suite', opts.suite], outDir);
  }
  return readResults(outDir);
}

function readResults(outDir) {
  const results = new Map();
  if (!existsSync(outDir)) return results;
  for (const d of readdirSync(outDir)) {
    const m = /^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$/.exec(d);
    const file = path.join(outDir, d, 'checks.json');
    if (!m || !existsSync(file)) continue;
    try {
      results.set(m[1], JSON.parse(readFileSync(file, 'utf8')));
    } catch (err) {
      results.set(m[1], [{ id: 'checks-json-unreadable', status: 'FAILURE', errorMessage: err.message }]);
    }
  }
  return results;
}

/** Scenario names the CLI will run, from `list --server` (so a crashed scenario still counts). */
function listScenarios(opts) {
  if (opts.scenarios.length) return opts.scenarios;
  const log = readFileSync(path.join(OUT_DIR, 'conformance-direct.log'), 'utf8');
  const names = [...log.matchAll(/=== Running scenario: (\S+) ===/g)].map((m) => m[1]);
  return names;
}

const scored = (checks) => checks.filter((c) => c.status === 'SUCCESS' || c.status === 'FAILURE');

function score(results, scenarios) {
  let passed = 0;
  let total = 0;
  let cleanScenarios = 0;
  for (const s of scenarios) {
    const checks = results.get(s) || [];
    const sc = scored(checks);
    passed += sc.filter((c) => c.status === 'SUCCESS').length;
    total += sc.length;
    if (results.has(s) && !checks.some((c) => c.status === 'FAILURE')) cleanScenarios++;
  }
  return { passed, total, cleanScenarios, scenarios: scenarios.length };
}

function failedChecks(checks) {
  return checks.filter((c) => c.status === 'FAILURE').map((c) => `${c.id}${c.errorMessage ? `: ${c.errorMessage}` : ''}`);
}

function printScore(label, s) {
  console.log(`${label}: ${s.passed}/${s.total} checks passed; ${s.cleanScenarios}/${s.scenarios} scenarios without failures`);
}

/**
 * Checks that legitimately differ through a stdio bridge, because they test the
 * upstream's own HTTP transport, which a stdio upstream does not have. Key:
 * `scenario/check-id`; value: the exact verdicts direct and through the stdio gateway
 * (NOT_SCORED = the CLI recorded it as INFO "not applicable" or not at all) and the
 * reason. Any other verdict pair for a listed check (e.g. it runs and FAILS) is still
 * a difference; a listed check that no longer differs is reported so the list can
 * shrink. The HTTP-upstream run has no known differences. Keep README.md and
 * docs/conformance.md in step.
 */
const STDIO_KNOWN_DIFFERENCES = {
  // SEP-1699 polling: direct, the SDK's HTTP transport opens an SSE stream with a
  // priming event (id, empty data, retry: 500) and test_reconnection closes it
  // mid-call. Over stdio the fixture has no HTTP stream to close (closeSSEStream is
  // an HTTP-transport feature), and the bridge answers a request with SSE only once
  // a message related to it arrives, so this 100 ms call is answered as plain JSON
  // and the CLI records these three checks as INFO "not applicable".
  'server-sse-polling/server-sse-priming-event': {
    direct: 'SUCCESS',
    gateway: NOT_SCORED,
    reason: 'stdio upstream has no SSE stream to prime; the bridge answers this call as application/json (no related message before the result)',
  },
  'server-sse-polling/server-sse-retry-field': {
    direct: 'SUCCESS',
    gateway: NOT_SCORED,
    reason: "no SSE stream, so no retry: field; the fixture's retryInterval belongs to its HTTP transport",
  },
  'server-sse-polling/server-sse-disconnect-resume': {
    direct: 'SUCCESS',
    gateway: NOT_SCORED,
    reason: "the server-side stream close (closeSSEStream) exists only on the upstream's HTTP transport; over stdio the call simply completes in one JSON answer",
  },
  // Direct, every POST answer is SSE (the SDK's event store makes it stream with a
  // priming event); the bridge answers quick requests as JSON, which the spec allows,
  // so the CLI skips the SSE-functional check ("SSE streaming is optional").
  'server-sse-multiple-streams/server-sse-streams-functional': {
    direct: 'SUCCESS',
    gateway: NOT_SCORED,
    reason: 'the bridge answers these 3 concurrent quick requests as application/json (allowed); the check only scores SSE answers',
  },
};

/** Starts a gateway whose /mcp upstream is `fixture-server.mjs --stdio`, spawned per session. */
async function startStdioGateway(name) {
  const port = await freePort();
  const cfg = path.join(OUT_DIR, `${name}.yaml`);
  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(
    cfg,
    [
      'gateway:',
      '  insecure_no_auth: true',
      '  log_level: debug',
      'listeners:',
      `  - address: "127.0.0.1:${port}"`,
      'upstreams:',
      '  - name: fixture',
      `    command: ${JSON.stringify(process.execPath)}`,
      `    args: [${JSON.stringify(path.join(HERE, 'fixture-server.mjs'))}, "--stdio"]`,
      `    cwd: ${JSON.stringify(HERE)}`,
      '    env: {PATH: /usr/bin:/bin}',
      '    path: /mcp',
    ].join('\n') + '\n',
  );
  const proc = spawnLogged(name, GATEHOUSE_BIN, ['serve', '--config', cfg]);
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${base}/healthz`, { okStatus: (st) => st === 200, timeoutMs: 15000, proc });
  } catch (err) {
    await stop(proc);
    throw err;
  }
  return { proc, port, base, url: `${base}/mcp` };
}

/** Runs the suite through one gateway; resolves Map<scenario, checks[]> (empty if it could not start). */
async function runThrough(kind, fixtureUrl, opts) {
  const label = kind === 'http' ? 'conformance-gateway' : 'conformance-gateway-stdio';
  let gw;
  try {
    gw = kind === 'http' ? await startGateway(fixtureUrl, 'gatehouse-conformance') : await startStdioGateway('gatehouse-conformance-stdio');
    console.log(`gateway ${kind} upstream (pid ${gw.proc.pid}, ${GATEHOUSE_BIN}) at ${gw.url}`);
    return await runSuite(label, gw.url, opts);
  } catch (err) {
    console.error(`gateway run (${kind}) impossible: ${err.message}`);
    return new Map();
  } finally {
    await stop(gw?.proc);
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!existsSync(NODE22)) throw new Error(`Node 22 not found at ${NODE22}: run npm ci in tests/interop`);
  let fixture;
  try {
    fixture = await startFixture();
    console.log(`fixture (pid ${fixture.proc.pid}) at ${fixture.url}`);
    const direct = await runSuite('conformance-direct', fixture.url, opts);
    const scenarios = listScenarios(opts);
    if (!scenarios.length) throw new Error('conformance CLI ran no scenario; see out/conformance-direct.log');
    const ds = score(direct, scenarios);
    printScore('direct ', ds);
    for (const s of scenarios) {
      const f = failedChecks(direct.get(s) || [{ id: 'no-results', status: 'FAILURE' }]);
      if (f.length) console.log(`  direct failure in ${s}: ${f.join('; ')}`);
    }

    if (DIRECT) {
      let ok = 0;
      for (const s of scenarios) if (direct.has(s) && !failedChecks(direct.get(s)).length) ok++;
      console.log(`${ok} passed, ${scenarios.length - ok} failed`);
      return ok === scenarios.length ? 0 : 1;
    }

    const kinds = opts.only ? [opts.only] : ['http', 'stdio'];
    const runs = {};
    for (const kind of kinds) runs[kind] = await runThrough(kind, fixture.url, opts);
    for (const kind of kinds) printScore(`gateway (${kind} upstream)`.padEnd(26), score(runs[kind], scenarios));
    let passed = 0;
    let failed = 0;
    const cmps = {};
    for (const kind of kinds) {
      const known = kind === 'stdio' ? STDIO_KNOWN_DIFFERENCES : {};
      const r = (cmps[kind] = compareRuns(`${kind} upstream`, direct, runs[kind], scenarios, known));
      for (const line of r.report) console.log(line);
      passed += r.passed;
      failed += r.failed;
    }
    if (opts.markdown) {
      const cols = [{ label: 'direct', results: direct }];
      for (const kind of kinds) cols.push({ label: `gateway (${kind} upstream)`, results: runs[kind], cmp: cmps[kind] });
      console.log(`\n${markdownTable(scenarios, cols)}\n`);
    }
    console.log(`logs: ${OUT_DIR}`);
    console.log(`${passed} passed, ${failed} failed`);
    return failed ? 1 : 0;
  } finally {
    await stop(fixture?.proc);
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err.stack || String(err));
    console.log('0 passed, 1 failed');
    process.exit(1);
  },
);
