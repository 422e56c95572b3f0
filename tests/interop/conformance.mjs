#!/usr/bin/env node
// Conformance comparison: runs the official @modelcontextprotocol/conformance
// server suite (on Node 22) once directly against the SDK fixture server and once
// through `gatehouse serve --upstream <fixture>`, then compares per check. Exits
// non-zero if any check that passes direct does not pass through the gateway.
// Last line: `N passed, M failed`, one test per scenario (passed = same-or-better).
//
// Usage: node conformance.mjs [--scenario NAME]... [--suite all|active|pending]
// Env:   GATEHOUSE_BIN (gateway binary), GH_INTEROP_DIRECT=1 (direct run only)
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
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
  waitForLog,
} from './lib/harness.mjs';

const RUN_TIMEOUT_MS = Number(process.env.GH_CONFORMANCE_TIMEOUT_MS || 10 * 60 * 1000);

function parseArgs(argv) {
  const opts = { scenarios: [], suite: 'all' };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--scenario') opts.scenarios.push(argv[++i]);
    else if (argv[i] === '--suite') opts.suite = argv[++i];
    else if (argv[i] === '--help' || argv[i] === '-h') {
      console.log('usage: node conformance.mjs [--scenario NAME]... [--suite all|active|pending]');
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
const passedIds = (checks) => new Set(checks.filter((c) => c.status === 'SUCCESS').map((c) => c.id));

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

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!existsSync(NODE22)) throw new Error(`Node 22 not found at ${NODE22}: run npm ci in tests/interop`);
  let fixture;
  let gw;
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

    let gateway = new Map();
    try {
      gw = await startGateway(fixture.url, 'gatehouse-conformance');
      console.log(`gateway (pid ${gw.proc.pid}, ${GATEHOUSE_BIN}) at ${gw.url}`);
      gateway = await runSuite('conformance-gateway', gw.url, opts);
    } catch (err) {
      console.error(`gateway run impossible: ${err.message}`);
    }
    const gs = score(gateway, scenarios);
    printScore('gateway', gs);

    let passed = 0;
    const regressions = [];
    for (const s of scenarios) {
      const d = direct.get(s) || [];
      const g = gateway.get(s) || [];
      const lost = [...passedIds(d)].filter((id) => !passedIds(g).has(id));
      const worse = scored(g).filter((c) => c.status === 'SUCCESS').length < scored(d).filter((c) => c.status === 'SUCCESS').length;
      if (!gateway.has(s) || lost.length || worse) {
        regressions.push({ s, lost, gfail: failedChecks(g), missing: !gateway.has(s) });
      } else {
        passed++;
      }
    }
    if (regressions.length) {
      console.log('\nchecks passing direct but not through the gateway:');
      for (const r of regressions) {
        console.log(`  ${r.s}: ${r.missing ? 'no gateway result' : r.lost.join(', ') || 'fewer passes'}`);
        for (const f of r.gfail) console.log(`      ${f}`);
      }
    }
    console.log(`logs: ${OUT_DIR}`);
    console.log(`${passed} passed, ${regressions.length} failed`);
    return regressions.length ? 1 : 0;
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
