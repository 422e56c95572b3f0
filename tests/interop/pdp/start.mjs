// Starts pdp/authzen-cedar.mjs for a test through the harness (logged to out/<name>.log, stopped
// by pid). The port is chosen by the PDP itself (--port 0) and read from its ready line on the
// child's stdout (not from the log file, which may still hold an earlier run's line).
import path from 'node:path';

import { HERE, spawnLogged, stop } from '../lib/harness.mjs';

export const PDP_JS = path.join(HERE, 'pdp/authzen-cedar.mjs');
export const EXAMPLE_POLICIES = path.join(HERE, 'pdp/policies.cedar');

/** Resolves { proc, port, base, evaluationUrl, evaluate(body), stats(), stop() }. */
export async function startPdp({ policies = EXAMPLE_POLICIES, name = 'pdp', timeoutMs = 20000 } = {}) {
  const proc = spawnLogged(name, process.execPath, [PDP_JS, '--policies', policies, '--port', '0']);
  let port;
  try {
    port = await new Promise((resolve, reject) => {
      let buf = '';
      const timer = setTimeout(() => reject(new Error(`${name}: no PDP_LISTENING line in ${timeoutMs} ms\n${proc.log()}`)), timeoutMs);
      proc.child.stdout.on('data', (c) => {
        buf += c.toString('utf8');
        const m = /^PDP_LISTENING (\d+)$/m.exec(buf);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      proc.exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited (code=${code} signal=${signal}) before it was ready\n${proc.log()}`));
      });
    });
  } catch (err) {
    await stop(proc);
    throw err;
  }
  const base = `http://127.0.0.1:${port}`;
  const evaluationUrl = `${base}/access/v1/evaluation`;
  return {
    proc,
    port,
    base,
    evaluationUrl,
    /** POSTs an evaluation request (an object, or a raw string); resolves { status, body }. */
    async evaluate(body, headers = {}) {
      const res = await fetch(evaluationUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      return { status: res.status, headers: res.headers, body: await res.json() };
    },
    async stats() {
      return (await fetch(`${base}/stats`)).json();
    },
    stop: () => stop(proc),
  };
}
