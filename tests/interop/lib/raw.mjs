// Raw HTTP helpers for spec-enforcement tests: node:http (not fetch) so the tests
// can send headers fetch forbids (Host) and bodies no client library would send.
import http from 'node:http';

export const ACCEPT_BOTH = 'application/json, text/event-stream';

/**
 * One HTTP exchange. Resolves { status, headers, text, messages } where messages
 * are the JSON-RPC objects found in a JSON body or in SSE `data:` lines. The body
 * is read until the server ends it, `untilResponseId` arrives on an SSE stream,
 * or timeoutMs passes (then the socket is destroyed and what arrived is kept).
 */
export function rawRequest(url, { method = 'POST', headers = {}, body, timeoutMs = 5000, untilResponseId } = {}) {
  const u = new URL(url);
  const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body);
  const h = { ...headers };
  if (payload && !Object.keys(h).some((k) => k.toLowerCase() === 'content-length')) {
    h['content-length'] = String(payload.length);
  }
  return new Promise((resolve, reject) => {
    let settled = false;
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers: h, setHost: !hasHeader(h, 'host') },
      (res) => {
        const chunks = [];
        const done = () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode, headers: res.headers, text, messages: parseMessages(res.headers, text) });
          res.destroy();
        };
        res.on('data', (c) => {
          chunks.push(c);
          if (untilResponseId !== undefined) {
            const msgs = parseMessages(res.headers, Buffer.concat(chunks).toString('utf8'));
            if (msgs.some((m) => m.id === untilResponseId && ('result' in m || 'error' in m))) done();
          }
        });
        res.on('end', done);
        res.on('close', done);
        res.on('error', done);
      },
    );
    const timer = setTimeout(() => {
      if (!settled) req.destroy(new Error(`timeout after ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('error', (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(err);
    });
    if (payload) {
      // A server may answer (413) and close before it has read everything: a
      // write error then is not the test's failure, the response decides.
      req.on('socket', (s) => s.on('error', () => {}));
      req.end(payload);
    } else {
      req.end();
    }
  });
}

function hasHeader(h, name) {
  return Object.keys(h).some((k) => k.toLowerCase() === name);
}

function parseMessages(headers, text) {
  const ct = String(headers['content-type'] || '');
  const out = [];
  const push = (s) => {
    try {
      const v = JSON.parse(s);
      if (Array.isArray(v)) out.push(...v);
      else out.push(v);
    } catch {
      /* not JSON */
    }
  };
  if (ct.includes('text/event-stream')) {
    for (const block of text.split(/\r?\n\r?\n/)) {
      const data = block
        .split(/\r?\n/)
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).replace(/^ /, ''))
        .join('\n');
      if (data.trim()) push(data);
    }
  } else if (text.trim()) {
    push(text);
  }
  return out;
}

/** Standard headers of a POST carrying one JSON-RPC message. */
export function postHeaders(extra = {}) {
  return { 'content-type': 'application/json', accept: ACCEPT_BOTH, ...extra };
}

export function initializeBody(id = 1, protocolVersion = '2025-06-18') {
  return JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'initialize',
    params: { protocolVersion, capabilities: {}, clientInfo: { name: 'gh-interop-raw', version: '1.0.0' } },
  });
}

/**
 * Opens a session with raw requests (initialize + notifications/initialized).
 * Resolves { sessionId, protocolVersion, initResponse }.
 */
export async function rawSession(url, protocolVersion = '2025-06-18') {
  const init = await rawRequest(url, { headers: postHeaders(), body: initializeBody(1, protocolVersion), untilResponseId: 1 });
  if (init.status !== 200) throw new Error(`initialize answered ${init.status}: ${init.text.slice(0, 300)}`);
  const sessionId = init.headers['mcp-session-id'];
  if (!sessionId) throw new Error('initialize answer carries no Mcp-Session-Id');
  const notif = await rawRequest(url, {
    headers: postHeaders({ 'mcp-session-id': sessionId, 'mcp-protocol-version': protocolVersion }),
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  });
  if (notif.status !== 202) throw new Error(`notifications/initialized answered ${notif.status}`);
  return { sessionId, protocolVersion, initResponse: init };
}

/**
 * Uploads a large body in `chunk`-sized writes, stopping as soon as the server
 * answers (a server rejecting a body early is expected to answer before it has
 * read everything). With declaredLength a Content-Length is sent and only the
 * first `sendBytes` are written; without it the body is chunked-encoded up to
 * maxBytes. Resolves { status, text, written } or rejects with the socket error
 * and the number of bytes written before it.
 */
export function rawUpload(url, { headers = {}, declaredLength, sendBytes = 1 << 30, maxBytes = 64 << 20, chunk = 64 << 10, timeoutMs = 15000 } = {}) {
  const u = new URL(url);
  const h = { ...headers };
  if (declaredLength !== undefined) h['content-length'] = String(declaredLength);
  return new Promise((resolve, reject) => {
    let answered = false;
    let written = 0;
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: h }, (res) => {
      answered = true;
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      const done = () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8'), written });
        req.destroy();
      };
      res.on('end', done);
      res.on('error', done);
    });
    const timer = setTimeout(() => req.destroy(new Error(`timeout after ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      if (!answered) reject(Object.assign(err, { written }));
    });
    const prefix = Buffer.from('{"jsonrpc":"2.0","id":41,"method":"tools/call","params":{"name":"echo","arguments":{"message":"');
    const filler = Buffer.alloc(chunk, 'x');
    const limit = Math.min(declaredLength ?? maxBytes, sendBytes, maxBytes);
    const pump = () => {
      while (!answered && written < limit) {
        const piece = written === 0 ? prefix : filler.subarray(0, Math.min(chunk, limit - written));
        written += piece.length;
        if (!req.write(piece)) return req.once('drain', pump);
      }
      // Declared-length uploads deliberately stop short and wait for the answer.
      if (!answered && declaredLength === undefined) req.end();
    };
    req.flushHeaders();
    pump();
  });
}
